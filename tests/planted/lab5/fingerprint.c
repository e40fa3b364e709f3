/* Planted cheat (lab 5, CPU): a correct plain loop (one float64 accumulator per row, well within
 * the tolerance) behind a cache keyed on the WHOLE input. Each call hashes every element of x
 * (64 bits, order-sensitive), and when the pointers, b, t and the hash are those of the previous
 * call it returns at once, leaving z as it was: a timed call on unchanged inputs costs one read of
 * x at the memory's speed instead of a chain of dependent float64 additions. A checker whose timed
 * calls never see the inputs of the call before makes it compute every time, the slow chain plus
 * the hash: correct, and slower than the reference. (lab1/fingerprint.c says more.)
 */
#include <stdint.h>
#include <string.h>

#include "em/sum.h"
#include "../fingerprint.h"

static memo last;

void lab5_sum(const float *x, float *z, int64_t b, int64_t t) {
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)b, (uint64_t)t, fingerprint(x, b * t, 0)};
  if (unchanged(&last, key, 5)) return; /* "already computed" */
  for (int64_t i = 0; i < b; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) s += x[i * t + j];
    z[i] = (float)s;
  }
}
