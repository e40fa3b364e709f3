/* Planted bug (lab 1, CPU): part (b) is part (a) copied over, so it handles only the first
 * EM_ADD_BLOCK (1024) elements, as a student who reused the one-block code would. Part (a) is right,
 * and so is part (b) for n ≤ 1024. */
#include <stdint.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  int64_t m = n < EM_ADD_BLOCK ? n : EM_ADD_BLOCK;
  for (int64_t i = 0; i < m; ++i) z[i] = x[i] + c;
}
