/* Planted bug (lab 2, CPU): part (b) unrolls the inner loop by hand, eight columns per step (as a
 * student writing 8-wide AVX code would), and forgets the tail: the last n % 8 columns of every row
 * are never written, and nothing at all when n < 8. Part (a) is right. */
#include <stdint.h>

#include "em/outer_add.h"

void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] + y[i];
}

void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i) {
    float *zr = z + i * n, yi = y[i];
    for (int64_t j = 0; j + 8 <= n; j += 8) {
      zr[j + 0] = x[j + 0] + yi;
      zr[j + 1] = x[j + 1] + yi;
      zr[j + 2] = x[j + 2] + yi;
      zr[j + 3] = x[j + 3] + yi;
      zr[j + 4] = x[j + 4] + yi;
      zr[j + 5] = x[j + 5] + yi;
      zr[j + 6] = x[j + 6] + yi;
      zr[j + 7] = x[j + 7] + yi;
    }
  }
}
