/* Lab 1 oracle: z[i] = x[i] + c in float64, where the sum of two floats is exact. */
#include "em/add.h"

void em_add_oracle(const float *x, float c, double *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = (double)x[i] + (double)c;
}
