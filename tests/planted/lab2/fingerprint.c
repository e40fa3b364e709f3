/* Planted cheat (lab 2, CPU): a correct plain double loop behind a cache keyed on the WHOLE input.
 * Each call hashes every element of x and y (64 bits, order-sensitive), and when the pointers, m,
 * n and the hash are those of the previous call it returns at once, leaving z as it was. Timed
 * calls on unchanged inputs then cost a read of x and y (kilobytes) instead of writing z: far
 * faster than the reference. A checker whose timed calls never see the inputs of the call before
 * makes it compute every time, plain loops on one thread plus the hash: correct, and slower than
 * the reference. Both parts. (lab1/fingerprint.c says more.)
 */
#include <stdint.h>
#include <string.h>

#include "em/outer_add.h"
#include "../fingerprint.h"

static void outer_add(memo *memo, const float *x, const float *y, float *z, int64_t m, int64_t n) {
  uint64_t key[6] = {(uintptr_t)x, (uintptr_t)y, (uintptr_t)z, (uint64_t)m, (uint64_t)n,
                     fingerprint(y, m, fingerprint(x, n, 0))};
  if (unchanged(memo, key, 6)) return; /* "already computed" */
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] + y[i];
}

static memo memo_a, memo_b;

void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add(&memo_a, x, y, z, m, n);
}
void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add(&memo_b, x, y, z, m, n);
}
