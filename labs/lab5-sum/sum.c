/* Lab 5, CPU track: z[i] = sum over j of x[i][j], x is b rows of t floats.   Read README.md first.
 *
 * Build and check:   make lab5 && make check          (both tracks; TRACK=cpu for this one only)
 * Your function is called by the checker with host pointers; row i starts at x + i*t.
 */
#include <stdint.h>

#include "em/lab.h"
#include "em/sum.h"

/* The sum of one stretch of a row, x[0..n).
 * TODO(lab5-order): make it CORRECT first. One `float s` running along the row fails the long
 * positive cases (README section 3: its error grows like sqrt(n)). Sum short blocks (say 256
 * elements) and combine the block sums pairwise: a recursive pairwise sum with a plain loop
 * for n <= 256 is enough, or see the binary-counter cascade in README section 4.
 * Then make it FAST: inside a block, several independent accumulators (an array `float acc[64]`
 * with acc[j % 64] += x[j], or 8 SIMD vectors) so that additions do not wait for each other. */
static inline float sum_stretch(const float *x, int64_t n) {
  (void)x, (void)n;
  EM_TODO("lab5: sum x[0..n) in sum_stretch() as blocks combined pairwise (see README)");
  return 0.0f;
}

/* TODO(lab5-rows): write z[i] = sum_stretch(x + i*t, t) for every row 0 <= i < b. Then use all
 * cores: with many rows, `#pragma omp parallel for` over the rows; with fewer rows than threads
 * (b = 1, one row of 2^25), the threads must share a row: give each thread one part of the row,
 * and add the parts' sums when all are done. Delete the (void) line and the EM_TODO line. */
void lab5_sum(const float *x, float *z, int64_t b, int64_t t) {
  (void)x, (void)z, (void)b, (void)t;
  EM_TODO("lab5: write z[i] = the sum of row i for every i < b, rows split among OpenMP threads");
}
