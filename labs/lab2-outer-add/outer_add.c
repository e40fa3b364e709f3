/* Lab 2, CPU track: z[i][j] = x[j] + y[i].   Read README.md in this folder first.
 *
 * Build and check:   make lab2 && make check          (both tracks; TRACK=cpu for this one only)
 * Your functions are called by the checker with host pointers. x has n floats, y has m, z is m × n
 * row-major (z[i][j] is z[i * n + j]); z overlaps neither x nor y.
 */
#include <stdint.h>

#include "em/lab.h"
#include "em/outer_add.h"

/* Part (a): 1 ≤ m ≤ 32 and 1 ≤ n ≤ 32 (EM_OUTER_ADD_BLOCK), one thread.
 * TODO(lab2a): write z[i * n + j] = x[j] + y[i] for every row i < m and column j < n: a double
 * loop. Passing? `make hint LAB=2` shows the next step, one hint at a time. */
void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab2 part (a): write z[i * n + j] = x[j] + y[i] for every i < m, j < n (a double loop)");
}

/* Part (b): any m, n ≥ 1, on all cores.
 * TODO(lab2b): the same z, for every shape (m = 1, n = 1, primes), the work split among the OpenMP
 * threads. Hints, one at a time: `make hint LAB=2 PART=b`. */
void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab2 part (b): z[i * n + j] = x[j] + y[i] for every i < m, j < n, split among OpenMP threads");
}
