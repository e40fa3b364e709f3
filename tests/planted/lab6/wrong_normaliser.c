/* Planted bug (lab 6, CPU): the sum forgets the exp, s = sum of (x - m) instead of
 * sum of exp(x - m): every z is wrong (mostly negative, since x - m <= 0), and for t = 1 the sum
 * is 0, so z = 1/0 = inf. */
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * t;
    float m = -INFINITY;
    for (int64_t j = 0; j < t; ++j) m = xi[j] > m ? xi[j] : m;
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) s += xi[j] - m;
    for (int64_t j = 0; j < t; ++j) z[i * t + j] = (float)(expf(xi[j] - m) / s);
  }
}
