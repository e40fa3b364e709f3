/* Planted cheat (lab 3, CPU): a correct plain loop (fused, one pass) behind a cache keyed on the
 * WHOLE input. Each call hashes every element of x and y (64 bits, order-sensitive), and when the
 * pointers, m, n and the hash are those of the previous call it returns at once, leaving z as it
 * was: a timed call on unchanged inputs reads kilobytes where the reference writes m·n floats. A
 * checker whose timed calls never see the inputs of the call before makes it compute every time,
 * one thread of plain loops plus the hash: correct, and slower than the reference.
 * (lab1/fingerprint.c says more.)
 */
#include <stdint.h>
#include <string.h>

#include "em/relu_mul.h"
#include "../fingerprint.h"

static memo last;

void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  uint64_t key[6] = {(uintptr_t)x, (uintptr_t)y, (uintptr_t)z, (uint64_t)m, (uint64_t)n,
                     fingerprint(y, m, fingerprint(x, n, 0))};
  if (unchanged(&last, key, 6)) return; /* "already computed" */
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float p = x[j] * y[i];
      z[i * n + j] = p > 0.0f ? p : 0.0f;
    }
}
