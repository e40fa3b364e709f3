/* Lab 6 oracle: softmax of each row in float64, the three textbook steps.
 *
 * Every step is double: the difference x − m of two floats is off by at most 2^-53 relatively
 * (exact whenever the two are within a factor 2^28 of each other), exp is libm's (under 1 ulp of
 * double), and a sum of t ≤ 2^31 positive terms in double is off by at most t·2^-53, far below
 * float32's 2^-24. For the checker this is the exact answer. −inf entries give exp(−inf) = 0. */
#include "em/softmax.h"

#include <math.h>

void em_softmax_oracle(const float *x, double *z, int64_t b, int64_t t) {
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * t;
    double *zi = z + i * t;
    double m = -INFINITY;
    for (int64_t j = 0; j < t; ++j)
      if (xi[j] > m) m = xi[j];
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) {
      zi[j] = exp((double)xi[j] - m);
      s += zi[j];
    }
    for (int64_t j = 0; j < t; ++j) zi[j] /= s;
  }
}
