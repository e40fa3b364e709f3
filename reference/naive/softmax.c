/* Lab 6 naive baseline: the three passes of the textbook, one row after another, on one thread.
 * This file is compiled without auto-vectorisation (see the Makefile), and every exp is a call of
 * libm's scalar expf, made twice per element (once for the sum, once for the output). The sum is
 * accumulated in double: a plain float running sum over a row of a million terms would lose about
 * sqrt(t)·2^-24 ≈ 6e-5 relatively and fail the checker (README.md, "The tolerance"). */
#include "em/softmax.h"

#include <math.h>

void em_softmax_naive_cpu(const float *x, float *z, int64_t b, int64_t t) {
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * t;
    float *zi = z + i * t;
    float m = -INFINITY;
    for (int64_t j = 0; j < t; ++j)
      if (xi[j] > m) m = xi[j];
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) s += expf(xi[j] - m);
    for (int64_t j = 0; j < t; ++j) zi[j] = (float)(expf(xi[j] - m) / s);
  }
}
