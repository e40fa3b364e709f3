/* Planted bug (lab 6, CPU): z = exp(x) / sum exp(x), without subtracting the row's maximum. The
 * same function mathematically, and right for small logits; but exp overflows to inf above 88.7,
 * so the "large logits" rows (up to 1e4) give inf/inf = NaN, and the constant rows of 1e4 too. */
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * t;
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) s += expf(xi[j]);
    for (int64_t j = 0; j < t; ++j) z[i * t + j] = (float)(expf(xi[j]) / s);
  }
}
