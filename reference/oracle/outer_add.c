/* Lab 2 oracle: z[i][j] = x[j] + y[i] in float64. The sum of two floats is exact in float64 unless
 * their exponents are more than 28 apart, and then it is off by at most 2^-53 relatively: either
 * way far below the float32 rounding the lab's tolerance allows. */
#include "em/outer_add.h"

void em_outer_add_oracle(const float *x, const float *y, double *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = (double)x[j] + (double)y[i];
}
