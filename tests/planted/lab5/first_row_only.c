/* Planted bug (lab 5, CPU): written and tried with one row, never with more. The sum itself is
 * right (pairwise), but only row 0 is summed, into z[0]: every case with b = 1 passes, every other
 * one leaves z[1..b) unwritten. */
#include <stdint.h>

#include "em/sum.h"

static float pairwise(const float *x, int64_t n) {
  if (n <= 64) {
    float s = 0.0f;
    for (int64_t j = 0; j < n; ++j) s += x[j];
    return s;
  }
  return pairwise(x, n / 2) + pairwise(x + n / 2, n - n / 2);
}

void lab5_sum(const float *x, float *z, int64_t b, int64_t t) {
  (void)b;
  z[0] = pairwise(x, t);
}
