/* Lab 4, CPU track: the backward of z[i][j] = relu(x[j]·y[i]).   Read README.md in this folder first.
 *
 *   dx[j] = Σ_i dz[i][j]·y[i]·[x[j]·y[i] > 0]      (n values: a sum down each column)
 *   dy[i] = Σ_j dz[i][j]·x[j]·[x[j]·y[i] > 0]      (m values: a sum along each row)
 *
 * Build and check:   make lab4 && make check TRACK=cpu
 * The checker calls your function with host pointers: x (n), y (m), dz (m × n, row-major: element
 * (i, j) is dz[i * n + j]); you write dx (n) and dy (m). Inputs are read-only.
 */
#include <stdint.h>

#include "em/lab.h"
#include "em/relu_mul_backward.h"

/* TODO(lab4): compute dx and dy reading dz ONCE, row after row:
 *   for every row i and column j:  float t = x[j] * y[i] > 0.0f ? dz[i * n + j] : 0.0f;
 *                                  then t * y[i] goes into dx[j] and t * x[j] into dy[i].
 * The mask is exactly `x[j] * y[i] > 0.0f`, a float product (not the signs of x and y: see the
 * "tiny products" case in README.md).
 * 1. Right first: one thread; dy[i] summed along row i, dx[j] in an array of n sums that every row
 *    adds to. Sum in double (a double array of n from malloc for dx): a float accumulator over
 *    thousands of terms loses bits, and the "positive, long rows" case will tell.
 * 2. Then fast (README.md, "What fast looks like"): `#pragma omp simd` along the row, rows split
 *    among OpenMP threads, each thread with its own dx partial sums added up at the end. */
void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n) {
  (void)x, (void)y, (void)dz, (void)dx, (void)dy, (void)m, (void)n;
  EM_TODO("lab4: compute dx and dy from one pass over dz (one loop nest over rows, then columns)");
}
