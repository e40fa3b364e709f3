/* Planted cheat (lab 1, CPU): keeps a copy of its last result, keyed on n, c and three sampled
 * inputs (the first, the middle and the last element), and copies it out when the key matches.
 * Refilling every input changes the samples, so it recomputes there; the checker's second
 * anti-cache call swaps two elements of x elsewhere, which the samples miss: it must fail with the
 * stale-output reason. Part (b) only; part (a) is right. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "em/add.h"

static float *cache;
static int64_t cache_n = -1;
static float key[4];

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  float k[4] = {c, x[0], x[n / 2], x[n - 1]};
  if (n == cache_n && memcmp(k, key, sizeof k) == 0) {
    memcpy(z, cache, (size_t)n * sizeof *z);
    return;
  }
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
  free(cache);
  cache = malloc((size_t)n * sizeof *cache);
  if (!cache) {
    cache_n = -1;
    return;
  }
  memcpy(cache, z, (size_t)n * sizeof *z);
  memcpy(key, k, sizeof k);
  cache_n = n;
}
