/* Planted bug (lab 2, CPU): part (a) steps from row to row by m instead of n, z[i * m + j], the
 * classic slip of a row-major index (the row length is the number of COLUMNS). Rows overlap or
 * leave gaps, and when m > n the last rows land past the end of z. Right only when m = n, or m = 1.
 * Part (b) is right. */
#include <stdint.h>

#include "em/outer_add.h"

void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * m + j] = x[j] + y[i];
}

void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] + y[i];
}
