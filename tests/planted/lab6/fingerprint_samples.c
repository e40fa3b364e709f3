/* Planted cheat (lab 6, CPU): fingerprint.c made cheap. The key of a call is its pointers, b, t,
 * three input elements (the first, the middle and the last of x) and three output elements (the
 * same places in z): when the key is the previous call's and none of the three outputs holds a NaN
 * (the checker's poison) it returns at once. Refilling the inputs moves the sampled inputs, and
 * poisoning the whole output hits the sampled outputs, so both old anti-cache calls see a
 * recomputation; a swap of two rows the samples miss, with a few random output elements poisoned,
 * does not: the skipped call leaves the previous inputs' rows and the poison behind. It must fail
 * as reused work while timing. The code it runs when it does not skip is right (--no-timing passes).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "em/softmax.h"
#include "../fingerprint.h"
#include "softmax_row.h"

static memo last;

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
  int64_t n = b * t, at[3] = {0, n / 2, n - 1};
  uint32_t sampled[3];
  int poisoned = 0;
  for (int k = 0; k < 3; ++k) {
    memcpy(&sampled[k], &x[at[k]], sizeof sampled[k]);
    poisoned |= isnan(z[at[k]]);
  }
  uint64_t key[7] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)b, (uint64_t)t, sampled[0], sampled[1], sampled[2]};
  if (unchanged(&last, key, 7) && !poisoned) return; /* "already computed", no poison where it looked */
  for (int64_t i = 0; i < b; ++i) softmax_row(x + i * t, z + i * t, t);
}
