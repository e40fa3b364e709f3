/* Lab 3 naive baseline, CPU: the classic first attempt, unfused, as `relu(y[:, None] * x[None, :])`
 * is in an array library: the product into a temporary m×n buffer, then a ReLU pass from the
 * temporary into z. Both passes are parallel (lab 1 taught that much) and correct; what this costs
 * is traffic: the product writes m·n floats, the ReLU pass reads them back and writes z, three
 * passes over m·n floats where the fused kernel makes one, plus a fresh allocation per call whose
 * pages the kernel must fault in and zero. This file is compiled without auto-vectorisation (see the
 * Makefile), like every naive baseline. */
#include <stdlib.h>

#include "em/relu_mul.h"

static void product(const float *x, const float *y, float *t, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) t[i * n + j] = x[j] * y[i];
}

static void relu(const float *t, float *z, int64_t count) {
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < count; ++k) z[k] = t[k] > 0.0f ? t[k] : 0.0f;
}

void em_relu_mul_naive_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return;
  float *t = (float *)malloc((size_t)m * (size_t)n * sizeof *t);
  if (!t) {
    /* No memory for the temporary: the same two passes with z as the temporary (the function
     * returns nothing, and a baseline must still be right). */
    product(x, y, z, m, n);
    relu(z, z, m * n);
    return;
  }
  product(x, y, t, m, n);
  relu(t, z, m * n);
  free(t);
}
