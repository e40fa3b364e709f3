/* Planted cheat (lab 4, CPU): correct plain loops (float64 sums, dy then dx, as the formulas read)
 * behind a cache keyed on the WHOLE input. Each call hashes every element of x, y and dz (64 bits,
 * order-sensitive), and when the pointers, m, n and the hash are those of the previous call it
 * returns at once, leaving dx and dy as they were: a timed call on unchanged inputs costs one fast
 * read of dz. A checker whose timed calls never see the inputs of the call before makes it compute
 * every time, one thread of plain loops plus the hash: correct, and slower than the reference.
 * (lab1/fingerprint.c says more.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "em/relu_mul_backward.h"
#include "../fingerprint.h"

static memo last;

void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n) {
  uint64_t key[8] = {(uintptr_t)x, (uintptr_t)y, (uintptr_t)dz, (uintptr_t)dx, (uintptr_t)dy, (uint64_t)m,
                     (uint64_t)n, fingerprint(dz, m * n, fingerprint(y, m, fingerprint(x, n, 0)))};
  if (unchanged(&last, key, 8)) return; /* "already computed" */
  /* dy: a sum along each row. */
  for (int64_t i = 0; i < m; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < n; ++j)
      if (x[j] * y[i] > 0.0f) s += (double)dz[i * n + j] * x[j];
    dy[i] = (float)s;
  }
  /* dx: a sum down each column, accumulated row by row in float64. */
  double *acc = calloc((size_t)n, sizeof *acc);
  if (!acc) {
    last.valid = 0; /* dx not computed: the next call must not skip */
    return;
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (x[j] * y[i] > 0.0f) acc[j] += (double)dz[i * n + j] * y[i];
  for (int64_t j = 0; j < n; ++j) dx[j] = (float)acc[j];
  free(acc);
}
