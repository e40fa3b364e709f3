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
 * positive cases (README section 3: its error grows like sqrt(n)). Sum blocks of at most 1024
 * elements, and combine the block sums pairwise: for n > 1024, split at h, a multiple of 1024
 * near n / 2 (and at least 1024), and return sum_stretch(x, h) + sum_stretch(x + h, n - h).
 * Then make it FAST: inside a block, 64 independent accumulators so that additions do not wait
 * for each other, written so that the compiler vectorises them:
 *     for (j = 0; j + 64 <= n; j += 64) for (k = 0; k < 64; ++k) acc[k] += x[j + k];
 * (then the last n % 64 elements, then add acc[0..63] pairwise). Replace the three lines below. */
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
