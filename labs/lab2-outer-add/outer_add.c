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
 * TODO(lab2a): a double loop, rows i outside and columns j inside (the order z lies in memory),
 * writing z[i * n + j] = x[j] + y[i]. `#pragma omp simd` above the inner loop lets the compiler
 * use SIMD: check with `objdump -d build/lab2/student/outer_add.o | grep -c vaddps`. */
void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab2 part (a): write z[i * n + j] = x[j] + y[i] for every i < m, j < n (a double loop)");
}

/* Part (b): any m, n ≥ 1, all cores.
 * TODO(lab2b): split the rows among OpenMP threads (`#pragma omp parallel for schedule(static)`
 * above the loop over i) and keep the inner loop over j SIMD. Make sure it works when m is smaller
 * than the number of threads (m = 1, n = 65537: one long row) and that every last column is written
 * (n = 1, primes). Then see "What fast looks like" in README.md: at 4096 × 4096 the plain version
 * reaches about 70% of the copy bandwidth on the course VM, and one line more comes close to all. */
void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab2 part (b): split the rows among OpenMP threads (omp parallel for), SIMD over each row");
}
