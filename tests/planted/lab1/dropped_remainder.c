/* Planted bug (lab 1, CPU): part (b) splits [0, n) by hand into equal chunks of n / threads and
 * forgets the remainder, so the last n % threads elements are never written (all of them when
 * n < threads). Which elements depends on the thread count: the tests fix it with --threads 4.
 * Part (a) is right. */
#include <stdint.h>
#include <omp.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel
  {
    int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = n / nt;
    for (int64_t i = t * chunk; i < (t + 1) * chunk; ++i) z[i] = x[i] + c;
  }
}
