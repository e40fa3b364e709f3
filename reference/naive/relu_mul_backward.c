/* Lab 4 naive baseline: each output computed on its own, as the formulas read, one plain loop nest
 * per output, one thread. It reads dz twice (once per output), and this file is compiled without
 * auto-vectorisation (see the Makefile): the floor a solution should clear. The sums are float64
 * (a careful first attempt), so the baseline meets the checker's tolerance at every size. */
#include <stdlib.h>

#include "em/relu_mul_backward.h"

void em_relu_mul_backward_naive_cpu(const float *x, const float *y, const float *dz, float *dx, float *dy,
                                    int64_t m, int64_t n) {
  /* dy: a sum along each row. */
  for (int64_t i = 0; i < m; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < n; ++j)
      if (x[j] * y[i] > 0.0f) s += dz[i * n + j] * x[j];
    dy[i] = (float)s;
  }
  /* dx: a sum down each column, accumulated row by row (walking down a column directly would
   * touch a new cache line, and for wide dz a new page, at every step). */
  double *acc = (double *)calloc((size_t)n, sizeof *acc);
  if (!acc) { /* no memory for n doubles: the same sums, a column at a time */
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t i = 0; i < m; ++i)
        if (x[j] * y[i] > 0.0f) s += dz[i * n + j] * y[i];
      dx[j] = (float)s;
    }
    return;
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (x[j] * y[i] > 0.0f) acc[j] += dz[i * n + j] * y[i];
  for (int64_t j = 0; j < n; ++j) dx[j] = (float)acc[j];
  free(acc);
}
