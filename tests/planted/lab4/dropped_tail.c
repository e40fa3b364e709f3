/* Planted bug (lab 4, CPU): columns in groups of 8 (hand-unrolled for SIMD) and no loop for the
 * rest: the last n % 8 columns are never reduced. dx is zeroed first, so those dx[j] are written,
 * as 0; every dy[i] misses those columns' terms. Right when n is a multiple of 8; for n < 8 nothing
 * is reduced at all. */
#include <stdint.h>
#include <stdlib.h>

#include "em/relu_mul_backward.h"

void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n) {
  double *acc = calloc((size_t)n, sizeof *acc);
  for (int64_t i = 0; i < m; ++i) {
    double row = 0.0;
    for (int64_t j = 0; j + 8 <= n; j += 8) {
      for (int k = 0; k < 8; ++k) {
        float t = x[j + k] * y[i] > 0.0f ? dz[i * n + j + k] : 0.0f;
        acc[j + k] += (double)t * y[i];
        row += (double)t * x[j + k];
      }
    }
    dy[i] = (float)row;
  }
  for (int64_t j = 0; j < n; ++j) dx[j] = (float)acc[j];
  free(acc);
}
