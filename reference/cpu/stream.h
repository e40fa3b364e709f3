/* What the CPU references that stream their outputs share (add.c, outer_add.c, relu_mul.c,
 * softmax.c; em/stores.h says when they stream). Internal to reference/cpu/. */
#ifndef EM_REFERENCE_CPU_STREAM_H
#define EM_REFERENCE_CPU_STREAM_H

#include <stdint.h>

/* How many of the n floats at p come before p's first 64-byte boundary: they take plain stores,
 * since a streaming store needs an aligned address, and a line written half by each kind would be
 * read for ownership anyway. */
static inline int64_t em__floats_to_line(const float *p, int64_t n) {
  int64_t head = (int64_t)((64 - (uintptr_t)p % 64) % 64 / sizeof(float));
  return head < n ? head : n;
}

#endif
