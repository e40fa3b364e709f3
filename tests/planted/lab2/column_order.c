/* Planted (lab 2, CPU): correct results, the loops in the wrong order for the memory: part (b)
 * splits the COLUMNS among threads and walks down each column, so consecutive stores are n floats
 * (16 KiB at n = 4096) apart, each in another cache line (and another page). About twenty times the
 * reference's time at 4096 × 4096 on the course VM: only the performance points of the speed case
 * must suffer. Part (a) is right. */
#include <stdint.h>

#include "em/outer_add.h"

void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] + y[i];
}

void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) z[i * n + j] = x[j] + y[i];
}
