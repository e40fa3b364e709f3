/* Lab 2 naive baseline: the double loop a first attempt writes, rows outside, columns inside (the
 * order in which z lies in memory). This file is compiled without auto-vectorisation (see the
 * Makefile), so it shows what one scalar thread reaches. */
#include "em/outer_add.h"

void em_outer_add_naive_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] + y[i];
}
