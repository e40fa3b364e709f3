/* Planted bug (lab 5, CPU): the loop everybody writes first, one float accumulator per row,
 * `s += x[j]` along the whole row (rows in parallel, otherwise right). Each addition rounds
 * relative to the running sum, so on long rows of positive values the error grows like √t: it
 * fails "positive t=4099", "positive long" and "one long row", and passes the mean-zero cases,
 * where the running sum stays small. */
#include <stdint.h>

#include "em/sum.h"

void lab5_sum(const float *x, float *z, int64_t b, int64_t t) {
#pragma omp parallel for
  for (int64_t i = 0; i < b; ++i) {
    float s = 0.0f;
    for (int64_t j = 0; j < t; ++j) s += x[i * t + j];
    z[i] = s;
  }
}
