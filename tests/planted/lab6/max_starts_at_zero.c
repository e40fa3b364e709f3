/* Planted bug (lab 6, CPU): the running maximum starts at 0 instead of -INFINITY. Harmless while
 * a row has a positive entry, and even when it has none the result is mathematically the same
 * (any constant may be subtracted); but a row of nothing but very negative logits (the constant
 * rows of -1e4, or -87.5 where exp underflows part way) then has exp(x - 0) = 0 for every entry:
 * the sum is 0 and z = 0/0 = NaN. */
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * t;
    float m = 0.0f;
    for (int64_t j = 0; j < t; ++j) m = xi[j] > m ? xi[j] : m;
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) s += expf(xi[j] - m);
    for (int64_t j = 0; j < t; ++j) z[i * t + j] = (float)(expf(xi[j] - m) / s);
  }
}
