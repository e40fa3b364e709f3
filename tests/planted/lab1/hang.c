/* Planted bug (lab 1, CPU): part (a) never finishes (a while loop whose condition never changes,
 * as with `while (i < n)` and a forgotten ++i). The checker's --timeout must stop it and name it. */
#include <stdint.h>

#include "em/add.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  volatile int64_t i = 0; /* volatile: the compiler keeps the loop exactly as written */
  while (i < n) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
