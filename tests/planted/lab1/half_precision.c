/* Planted bug (lab 1, CPU): "half precision is faster": the sum is computed in _Float16. About 11
 * significant bits instead of 24 (an error of ~2^-12 relative, far above the 2^-23 allowed), and
 * the "large values" cases overflow float16's range (65504) to infinity. Both parts. */
#include <stdint.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = (float)((_Float16)x[i] + (_Float16)c);
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = (float)((_Float16)x[i] + (_Float16)c);
}
