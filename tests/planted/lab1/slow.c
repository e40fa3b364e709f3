/* Planted (lab 1, CPU): correct results, about ten times the reference's time: part (b) does its
 * whole loop ten times over (on all cores, like the reference). Only the performance points of the
 * speed case must suffer. The empty asm with a "memory" clobber stops the compiler from merging
 * the ten identical passes into one. */
#include <stdint.h>

#include "em/add.h"

#define PASSES 10

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  for (int pass = 0; pass < PASSES; ++pass) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
    __asm__ volatile("" ::: "memory");
  }
}
