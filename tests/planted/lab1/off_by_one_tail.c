/* Planted bug (lab 1, CPU): the loop stops one short, `i < n - 1`, as when a student mixes up
 * "the last index" with "the count". The last element of z is never written, in both parts; for
 * n = 1 nothing at all is written. */
#include <stdint.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n - 1; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n - 1; ++i) z[i] = x[i] + c;
}
