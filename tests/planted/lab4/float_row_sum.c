/* Planted (lab 4, CPU): right in exact arithmetic, and one float accumulator along each row for
 * dy: a chain of n − 1 roundings. The compiler may not reorder a float sum (it would change the
 * result), so this stays one scalar chain. With random signs the partial sums random-walk and the
 * error stays near the float64 answer; with the 65536 positive terms of "positive, long rows" it
 * grows like √n (tens of 2^-24·Σ|term| against the 48 allowed) and fails that case alone.
 * dx is summed in float64, as it should be. */
#include <stdint.h>
#include <stdlib.h>

#include "em/relu_mul_backward.h"

void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n) {
  double *acc = calloc((size_t)n, sizeof *acc);
  for (int64_t i = 0; i < m; ++i) {
    float row = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      float t = x[j] * y[i] > 0.0f ? dz[i * n + j] : 0.0f;
      acc[j] += (double)t * y[i];
      row += t * x[j];
    }
    dy[i] = row;
  }
  for (int64_t j = 0; j < n; ++j) dx[j] = (float)acc[j];
  free(acc);
}
