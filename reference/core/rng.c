#include "em/rng.h"

/* Four words per Philox block: each block fills its four elements (fewer at the ragged end), so
 * that x[i] is always word i of the stream whatever n is. */
#define FILL(x, n, key, convert)                                        \
  _Pragma("omp parallel for schedule(static)")                          \
  for (int64_t b = 0; b < ((n) + 3) / 4; ++b) {                        \
    uint32_t w[4];                                                      \
    em_rng_block((key), (uint64_t)b, w);                                \
    for (int k = 0; k < 4 && 4 * b + k < (n); ++k) (x)[4 * b + k] = convert(w[k]); \
  }

#define AS_WORD(w) (w)
#define AS_UNIFORM(w) em_rng_uniform_f32((w), lo, hi)

void em_rng_fill_u32(uint32_t *x, int64_t n, em_rng_key key) { FILL(x, n, key, AS_WORD) }

void em_rng_fill_uniform_f32(float *x, int64_t n, em_rng_key key, float lo, float hi) {
  FILL(x, n, key, AS_UNIFORM)
}

uint32_t em_rng_name_id(const char *name) {
  uint32_t h = 2166136261u; /* FNV-1a offset basis and prime */
  for (const unsigned char *p = (const unsigned char *)name; *p; ++p) h = (h ^ *p) * 16777619u;
  return h;
}
