/* Planted (lab 3, CPU): correct results the slow way, unfused: the product into a temporary m×n
 * buffer allocated per call, then the ReLU from it into z, each pass on all cores and vectorised.
 * Three passes over m·n floats instead of one, plus the page faults of a fresh buffer: every case
 * passes, and the speed case must lose performance points. */
#include <stdint.h>
#include <stdlib.h>

#include "em/relu_mul.h"

void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  float *t = malloc((size_t)(m * n) * sizeof *t);
  if (!t) return; /* z stays unwritten: the checker reports it */
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) t[i * n + j] = x[j] * y[i];
#pragma omp parallel for simd schedule(static)
  for (int64_t k = 0; k < m * n; ++k) z[k] = t[k] > 0.0f ? t[k] : 0.0f;
  free(t);
}
