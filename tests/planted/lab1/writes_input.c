/* Planted bug (lab 1, CPU): part (b) updates x in place and then copies it to z, casting the const
 * away: z is right, but the input is destroyed, which the checker must report. Part (a) is right. */
#include <stdint.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  float *xw = (float *)x;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    xw[i] = xw[i] + c;
    z[i] = xw[i];
  }
}
