/* Lab 3 oracle: z[i][j] = max(x[j] · y[i], 0) in float64, where the product of two floats is exact.
 * The test is p > 0, so a product of −0 (or any negative one) gives +0. */
#include "em/relu_mul.h"

void em_relu_mul_oracle(const float *x, const float *y, double *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double p = (double)x[j] * (double)y[i];
      z[i * n + j] = p > 0.0 ? p : 0.0;
    }
}
