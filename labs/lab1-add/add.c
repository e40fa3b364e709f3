/* Lab 1, CPU track: z[i] = x[i] + c.   Read README.md in this folder first.
 *
 * Build and check:   make lab1 && make check          (both tracks; TRACK=cpu for this one only)
 * Your functions are called by the checker with host pointers; x and z never overlap.
 */
#include <stdint.h>

#include "em/add.h"
#include "em/lab.h"

/* Part (a): 1 ≤ n ≤ 1024 (EM_ADD_BLOCK), one thread.
 * TODO(lab1a): write z[i] = x[i] + c for every 0 ≤ i < n, in one loop over i.
 * Passing? `make hint LAB=1` shows the next step, one hint at a time. */
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  (void)x, (void)c, (void)z, (void)n;
  EM_TODO("lab1 part (a): write z[i] = x[i] + c for every i < n (one loop)");
}

/* Part (b): any n ≥ 1, on all cores.
 * TODO(lab1b): the same z[i] = x[i] + c, for every n (n = 1, primes), the loop split among the
 * OpenMP threads. Hints, one at a time: `make hint LAB=1 PART=b`. */
void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  (void)x, (void)c, (void)z, (void)n;
  EM_TODO("lab1 part (b): z[i] = x[i] + c for every i < n, the loop split among OpenMP threads");
}
