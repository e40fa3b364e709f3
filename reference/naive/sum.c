/* Lab 5 naive baseline, CPU: the simplest loop that is correct. This file is compiled without
 * auto-vectorisation (see the Makefile), so it shows what one scalar thread with one dependent
 * chain of additions reaches: each addition waits for the previous one (4 cycles of latency on
 * current x86 cores), whatever the memory could deliver.
 *
 * The accumulator is a double. The first attempt most people write, `float s = 0; s += x[j];`,
 * is just as fast and WRONG for this lab: one float accumulator along a row of millions of positive
 * values loses about √t rounding units (and stops growing altogether once s reaches 2^24 times the
 * values), far beyond the tolerance. In a double the same chain loses at most t·2^-53·Σ|x|, and the
 * final rounding to float one more 2^-24: correct, and still one dependent chain. */
#include "em/sum.h"

void em_sum_naive_cpu(const float *x, float *z, int64_t b, int64_t t) {
  for (int64_t i = 0; i < b; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) s += x[i * t + j];
    z[i] = (float)s;
  }
}
