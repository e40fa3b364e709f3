/* Planted cheat (lab 1, CPU): a correct plain loop behind a cache keyed on the WHOLE input. Each
 * call hashes every element of x (64 bits, order-sensitive), and when the pointers, n, c and the
 * hash are those of the previous call it returns at once, leaving z as the previous call left it.
 * Nothing the anti-cache calls change escapes the hash, so they see a recomputation every time;
 * only timed calls on unchanged inputs skip the work, and they then cost one read of x instead of
 * a read of x and a write of z: about twice the reference's speed on a checker that times the
 * same inputs over and over. A checker whose timed calls never see the inputs of the call before
 * makes it pay for the hash on top of the work: correct, and slower than the reference. Both parts.
 */
#include <stdint.h>
#include <string.h>

#include "em/add.h"
#include "../fingerprint.h"

static void add(memo *m, const float *x, float c, float *z, int64_t n) {
  uint32_t cbits;
  memcpy(&cbits, &c, sizeof cbits);
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)n, cbits, fingerprint(x, n, 0)};
  if (unchanged(m, key, 5)) return; /* "already computed" */
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

static memo memo_a, memo_b;

void lab1_add_a(const float *x, float c, float *z, int64_t n) { add(&memo_a, x, c, z, n); }
void lab1_add_b(const float *x, float c, float *z, int64_t n) { add(&memo_b, x, c, z, n); }
