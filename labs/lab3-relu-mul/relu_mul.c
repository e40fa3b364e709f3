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
 * TODO(lab3): for every row i < m and column j < n, write z[i * n + j] = max(x[j] * y[i], 0):
 *   - the ReLU of the product, not of the inputs (relu(x) * relu(y) is wrong where both are < 0);
 *   - straight into z, in one pass: no temporary m×n buffer for the product (that is the naive
 *     baseline, three times the memory traffic);
 *   - rows in parallel with `#pragma omp parallel for schedule(static)` over i, and the inner loop
 *     over j under `#pragma omp simd`, with the max written as `v > 0.0f ? v : 0.0f`; check that
 *     the compiler vectorised it: `objdump -d build/lab3/student/relu_mul.o | grep -c vmulps`
 *     counts the SIMD multiplies (0 means scalar code);
 *   - every column of every row, whatever n is (n = 1, primes, n = 999983).
 * Then see "What fast looks like" in README.md (shapes with few rows, and a write-prefetch). */
void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab3: write z[i*n + j] = max(x[j] * y[i], 0) for every i < m, j < n (one pass)");
}
