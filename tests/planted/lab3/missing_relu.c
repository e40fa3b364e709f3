/* Planted bug (lab 3, CPU): the ReLU is forgotten, z = x[j] * y[i]: every negative product is
 * written as it is instead of 0. */
#include <stdint.h>

#include "em/relu_mul.h"

void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] * y[i];
}
