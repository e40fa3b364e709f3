/* Planted bug (lab 6, CPU): the online rule applied to every element without thinking of -inf:
 * m' = max(m, x), s = s*exp(m - m') + exp(x - m'), starting from m = -inf, s = 0. While the row
 * has shown nothing but -inf, m' is -inf and x - m' = -inf - (-inf) = NaN, which poisons s for
 * the rest of the row: every row that starts with -inf comes out NaN. Rows without -inf, and rows
 * whose -inf come after a finite entry, are right. */
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * t;
    float m = -INFINITY;
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) {
      float mn = xi[j] > m ? xi[j] : m;
      s = s * exp((double)m - mn) + exp((double)xi[j] - mn);
      m = mn;
    }
    for (int64_t j = 0; j < t; ++j) z[i * t + j] = (float)(expf(xi[j] - m) / s);
  }
}
