/* Planted bug (lab 4, CPU): no ReLU mask. The student differentiates x·y and forgets relu: every
 * term counts, dx[j] = Σ_i dz[i][j]·y[i] and dy[i] = Σ_j dz[i][j]·x[j]. Otherwise right (one pass,
 * float64 sums). Wrong wherever some x[j]·y[i] ≤ 0, which is about half the terms. */
#include <stdint.h>
#include <stdlib.h>

#include "em/relu_mul_backward.h"

void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n) {
  double *acc = calloc((size_t)n, sizeof *acc);
  for (int64_t i = 0; i < m; ++i) {
    double row = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      float g = dz[i * n + j];
      acc[j] += (double)g * y[i];
      row += (double)g * x[j];
    }
    dy[i] = (float)row;
  }
  for (int64_t j = 0; j < n; ++j) dx[j] = (float)acc[j];
  free(acc);
}
