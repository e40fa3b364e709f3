/* Planted bug (lab 3, CPU): the inner loop is unrolled by hand, eight columns at a time, and the
 * remainder loop is forgotten: the last n % 8 columns of every row are never written (the whole
 * row when n < 8). Shapes whose n is a multiple of 8 pass. */
#include <stdint.h>

#include "em/relu_mul.h"

void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i) {
    float *row = z + i * n;
    for (int64_t j = 0; j + 8 <= n; j += 8)
      for (int k = 0; k < 8; ++k) {
        float v = x[j + k] * y[i];
        row[j + k] = v > 0.0f ? v : 0.0f;
      }
  }
}
