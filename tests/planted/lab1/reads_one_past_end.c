/* Planted bug (lab 1, CPU): part (b) loads the next element one step ahead, to have it in hand when
 * the loop gets there, and so at the last element loads x[n], one past the end of x. The value is
 * never used: every element of z is right and nothing is written out of place, so the ordinary
 * checker passes it (the read lands in the zeros after x). `make check SANITIZE=1` builds x to end
 * where it ends, and AddressSanitizer names this line. Part (a) is right, and split among OpenMP
 * threads: its cases pass under the sanitizer first, the finding belongs to part (b)'s first case. */
#include <stdint.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  float next = x[0];
  for (int64_t i = 0; i < n; ++i) {
    float cur = next;
    next = x[i + 1]; /* the bug: at i = n - 1 this reads x[n] */
    z[i] = cur + c;
  }
}
