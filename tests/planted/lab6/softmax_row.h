/* The right work of the planted lab 6 cheats that skip it (fingerprint.c, fingerprint_samples.c):
 * the three passes of the textbook over one row. Included by a relative path ("softmax_row.h")
 * into the one student file each checker is built from, static inline as ../fingerprint.h is.
 */
#ifndef EM_PLANTED_LAB6_SOFTMAX_ROW_H
#define EM_PLANTED_LAB6_SOFTMAX_ROW_H

#include <math.h>
#include <stdint.h>

/* -inf entries give exp(-inf) = 0, and every row has a finite entry, so m is finite and s ≥ 1. */
static inline void softmax_row(const float *x, float *z, int64_t t) {
  float m = -INFINITY;
  for (int64_t j = 0; j < t; ++j) m = x[j] > m ? x[j] : m;
  double s = 0.0;
  for (int64_t j = 0; j < t; ++j) s += expf(x[j] - m);
  for (int64_t j = 0; j < t; ++j) z[j] = (float)(expf(x[j] - m) / s);
}

#endif
