/* Planted cheat (lab 1, CPU): remembers the pointers, size and constant of its last call and, when
 * they come again, returns at once: the timing loop calls it on the same buffers over and over, so
 * it looks infinitely fast. The first call of a case is right, so only the checker's anti-cache
 * call (inputs refilled in place after the timing) can see it: it must fail with the stale-output
 * reason. Both parts. */
#include <stdint.h>

#include "em/add.h"

static const float *last_x;
static float *last_z;
static int64_t last_n = -1;
static float last_c;

static void add(const float *x, float c, float *z, int64_t n) {
  if (x == last_x && z == last_z && n == last_n && c == last_c) return; /* "already computed" */
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
  last_x = x, last_z = z, last_n = n, last_c = c;
}

void lab1_add_a(const float *x, float c, float *z, int64_t n) { add(x, c, z, n); }
void lab1_add_b(const float *x, float c, float *z, int64_t n) { add(x, c, z, n); }
