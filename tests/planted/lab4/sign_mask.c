/* Planted bug (lab 4, CPU): the mask from the signs, (x[j] > 0) == (y[i] > 0), "the product is
 * positive when the signs agree", to save a multiplication. Wrong where x or y is ±0 (0 > 0 is
 * false on both sides, so a zero "agrees" with every negative number) and where the float32
 * product underflows to 0, which the forward's relu cut: it fails "zeros in x and y" and "tiny
 * products", and passes every other case. Otherwise right (one pass, float64 sums). */
#include <stdint.h>
#include <stdlib.h>

#include "em/relu_mul_backward.h"

void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n) {
  double *acc = calloc((size_t)n, sizeof *acc);
  for (int64_t i = 0; i < m; ++i) {
    double row = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      float t = (x[j] > 0.0f) == (y[i] > 0.0f) ? dz[i * n + j] : 0.0f;
      acc[j] += (double)t * y[i];
      row += (double)t * x[j];
    }
    dy[i] = (float)row;
  }
  for (int64_t j = 0; j < n; ++j) dx[j] = (float)acc[j];
  free(acc);
}
