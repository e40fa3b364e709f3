/* Planted bug (lab 1, CPU): every element is written, with the wrong value: part (a) adds c twice
 * (a copy-paste slip), part (b) adds 1.0f instead of c (a leftover from a first test). */
#include <stdint.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  (void)c;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + 1.0f;
}
