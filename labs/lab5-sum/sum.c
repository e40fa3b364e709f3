/* Lab 5, CPU track: z[i] = sum over j of x[i][j], x is b rows of t floats.   Read README.md first.
 *
 * Build and check:   make lab5 && make check          (both tracks; TRACK=cpu for this one only)
 * Your function is called by the checker with host pointers; row i starts at x + i*t.
 */
#include <stdint.h>

#include "em/lab.h"
#include "em/sum.h"

/* The sum of one stretch of a row, x[0..n): where the accuracy is decided.
 * TODO(lab5-order): return the sum of x[0..n). Start with the obvious loop, check, and read what
 * the positive cases say (README section 3 explains it). Replace the three lines below. */
static inline float sum_stretch(const float *x, int64_t n) {
  (void)x, (void)n;
  EM_TODO("lab5: return the sum of x[0..n) from sum_stretch()");
  return 0.0f;
}

/* TODO(lab5-rows): write z[i] = sum_stretch(x + i*t, t) for every row 0 <= i < b, and delete the
 * (void) line and the EM_TODO line. Then: accurate, fast, all cores; hints, one at a time:
 * `make hint LAB=5`. */
void lab5_sum(const float *x, float *z, int64_t b, int64_t t) {
  (void)x, (void)z, (void)b, (void)t;
  EM_TODO("lab5: write z[i] = the sum of row i for every i < b");
}
