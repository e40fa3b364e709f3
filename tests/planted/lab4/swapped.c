/* Planted bug (lab 4, CPU): dx and dy swapped in the chain rule: each gradient multiplied by its
 * own input, dx[j] = Σ_i dz[i][j]·x[j]·mask and dy[i] = Σ_j dz[i][j]·y[i]·mask (the derivative of
 * x·y with respect to x is y, not x). The mask and the sums are right. */
#include <stdint.h>
#include <stdlib.h>

#include "em/relu_mul_backward.h"

void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n) {
  double *acc = calloc((size_t)n, sizeof *acc);
  for (int64_t i = 0; i < m; ++i) {
    double row = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      float t = x[j] * y[i] > 0.0f ? dz[i * n + j] : 0.0f;
      acc[j] += (double)t * x[j];
      row += (double)t * y[i];
    }
    dy[i] = (float)row;
  }
  for (int64_t j = 0; j < n; ++j) dx[j] = (float)acc[j];
  free(acc);
}
