/* Planted bug (lab 1, CPU): the loop runs one too far, `i <= n`, as when "the last index" and "the
 * count" are mixed up the other way. Every element of z is right, and z[n] is written as well:
 * memory that belongs to somebody else. The guard after each output must catch it. */
#include <stdint.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i <= n; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i <= n; ++i) z[i] = x[i] + c;
}
