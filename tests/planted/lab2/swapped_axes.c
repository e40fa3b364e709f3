/* Planted bug (lab 2, CPU): the axes swapped in the values, z[i][j] = x[i] + y[j] (x is indexed by
 * the row and y by the column, the other way round from the math), in both parts. Every element is
 * written; z[0][0] happens to be right, and so is everything when m = n and x = y. When m ≠ n it also
 * reads x and y past their ends (x[i] for i up to m - 1, but x has n elements): the tests run only
 * the cases where those reads stay within the checker's zeroed guard after each input. */
#include <stdint.h>

#include "em/outer_add.h"

void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[i] + y[j];
}

void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[i] + y[j];
}
