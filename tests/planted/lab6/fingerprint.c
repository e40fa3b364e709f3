/* Planted cheat (lab 6, CPU): a correct plain three-pass softmax (the maximum, the float64 sum of
 * exponentials, the normalised exponentials) behind a cache keyed on the WHOLE input. Each call
 * hashes every element of x (64 bits, order-sensitive), and when the pointers, b, t and the hash
 * are those of the previous call it returns at once, leaving z as it was: a timed call on
 * unchanged inputs costs one read of x instead of two exponentials per element. A checker whose
 * timed calls never see the inputs of the call before makes it compute every time, the three
 * passes plus the hash: correct, and slower than the reference. fingerprint_samples.c is its
 * cheaper cousin. (lab1/fingerprint.c says more.)
 */
#include <stdint.h>
#include <string.h>

#include "em/softmax.h"
#include "../fingerprint.h"
#include "softmax_row.h"

static memo last;

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)b, (uint64_t)t, fingerprint(x, b * t, 0)};
  if (unchanged(&last, key, 5)) return; /* "already computed" */
  for (int64_t i = 0; i < b; ++i) softmax_row(x + i * t, z + i * t, t);
}
