/* Planted bug (lab 1, CPU): part (a) writes through a NULL pointer (a student who writes into a
 * pointer never set). The checker must survive long enough to say which case crashed. The pointer
 * is read from a volatile and the stores are volatile, so the compiler can neither drop them nor
 * turn them into a trap instruction: this is a real segmentation fault. */
#include <stddef.h>
#include <stdint.h>

#include "em/add.h"

static float *volatile never_set; /* NULL */

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  volatile float *out = never_set;
  (void)z;
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
