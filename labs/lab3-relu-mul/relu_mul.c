/* Lab 3, CPU track: z[i][j] = relu(x[j] * y[i]), fused.   Read README.md in this folder first.
 *
 * Build and check:   make lab3 && make check          (both tracks; TRACK=cpu for this one only)
 * Your function is called by the checker with host pointers; x, y and z never overlap.
 * x has n floats, y has m, z is m×n, row-major: z[i][j] is z[i * n + j].
 */
#include <stdint.h>

#include "em/lab.h"
#include "em/relu_mul.h"

/* Any m ≥ 1, n ≥ 1: all cores, one pass.
 * TODO(lab3): for every row i < m and column j < n, write z[i * n + j] = max(x[j] * y[i], 0), the
 * ReLU of the product (not of the inputs), straight into z: no m×n temporary for the product (that
 * is the naive baseline, three times the memory traffic). A double loop is the first step; then
 * spread it over the cores. Hints, one at a time: `make hint LAB=3`. */
void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab3: write z[i*n + j] = max(x[j] * y[i], 0) for every i < m, j < n (one pass)");
}
