/* Lab 1, CPU track: z[i] = x[i] + c.   Read README.md in this folder first.
 *
 * Build and check:   make lab1 && make check          (both tracks; TRACK=cpu for this one only)
 * Your functions are called by the checker with host pointers; x and z never overlap.
 */
#include <stdint.h>

#include "em/add.h"
#include "em/lab.h"

/* Part (a): 1 ≤ n ≤ 1024 (EM_ADD_BLOCK), one thread.
 * TODO(lab1a): write z[i] = x[i] + c for every 0 ≤ i < n, in one simple loop over i. Writing it
 * plainly, with `#pragma omp simd` above the loop, lets the compiler use SIMD: look at what the
 * compiler made of it with `objdump -d build/lab1/student/add.o | grep -c vaddps`. */
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  (void)x, (void)c, (void)z, (void)n;
  EM_TODO("lab1 part (a): write z[i] = x[i] + c for every i < n (one loop)");
}

/* Part (b): any n ≥ 1, all cores.
 * TODO(lab1b): split [0, n) among OpenMP threads: `#pragma omp parallel for simd
 * schedule(static)` above the same loop does it; each thread then streams one contiguous slice.
 * Make sure the last elements are written when n is not a multiple of anything (n = 1, primes).
 * Then see "What fast looks like" in README.md (small n, and an experiment with streaming stores). */
void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  (void)x, (void)c, (void)z, (void)n;
  EM_TODO("lab1 part (b): split the loop over [0, n) among OpenMP threads (omp parallel for)");
}
