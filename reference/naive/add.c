/* Lab 1 naive baseline: the loop a first attempt writes. This file is compiled without
 * auto-vectorisation (see the Makefile), so it shows what one scalar thread reaches. */
#include "em/add.h"

void em_add_naive_cpu(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
