/* Planted bug (lab 2, CPU): part (b) is part (a) copied over, loops bounded by EM_OUTER_ADD_BLOCK,
 * so it writes only the top-left 32 × 32 tile of z, as a student who reused the one-block code
 * would. Part (a) is right, and so is part (b) when m ≤ 32 and n ≤ 32. */
#include <stdint.h>

#include "em/outer_add.h"

void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] + y[i];
}

void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t rows = m < EM_OUTER_ADD_BLOCK ? m : EM_OUTER_ADD_BLOCK;
  int64_t cols = n < EM_OUTER_ADD_BLOCK ? n : EM_OUTER_ADD_BLOCK;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) z[i * n + j] = x[j] + y[i];
}
