/* Lab 5 oracle: z[i] = Σ_j x[i][j] in float64, added in order.
 *
 * Why plain sequential float64 is enough: every float32 input is exact in float64, and the error
 * of a sequential float64 sum is at most (t − 1)·2^-53·Σ|x|, below 2^-28·Σ|x| for t ≤ 2^25 — a
 * sixteenth of the smallest float32 rounding the tolerance counts (2^-24·Σ|x|), and covered by its
 * slack (harness/specs/sum.c). */
#include "em/sum.h"

void em_sum_oracle(const float *x, double *z, int64_t b, int64_t t) {
  for (int64_t i = 0; i < b; ++i) {
    const float *row = x + i * t;
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) s += (double)row[j];
    z[i] = s;
  }
}
