/* Planted bug (lab 3, CPU): the ReLU goes on the inputs instead of the product,
 * relu(x[j]) * relu(y[i]), as when "relu then multiply" is read as "clip both, then multiply".
 * It agrees with relu(x[j] * y[i]) except where both are negative: the product is positive there,
 * and this writes 0. */
#include <stdint.h>

#include "em/relu_mul.h"

static float relu(float v) { return v > 0.0f ? v : 0.0f; }

void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = relu(x[j]) * relu(y[i]);
}
