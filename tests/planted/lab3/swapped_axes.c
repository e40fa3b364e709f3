/* Planted bug (lab 3, CPU): z is written as if it were n×m, z[j][i] (column-major): every value
 * is right but lands in the wrong place. A row (m = 1) or a column (n = 1) is stored the same way
 * either way, so those cases pass; every other shape fails. */
#include <stdint.h>

#include "em/relu_mul.h"

void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float v = x[j] * y[i];
      z[j * m + i] = v > 0.0f ? v : 0.0f;
    }
}
