/* Planted bug (lab 5, CPU): row i read from x + i instead of x + i*t (the row stride forgotten).
 * Row 0 is right, every other row sums the wrong elements. The sum itself is pairwise. */
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
#pragma omp parallel for
  for (int64_t i = 0; i < b; ++i) z[i] = pairwise(x + i, t);
}
