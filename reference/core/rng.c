#include "em/rng.h"

/* Four words per Philox block: fill block-aligned groups of four from one call, and the ragged
 * ends word by word, so that x[i] is always word i of the stream whatever n is. */
void em_rng_fill_u32(uint32_t *x, int64_t n, em_rng_key key) {
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < (n + 3) / 4; ++b) {
    uint64_t i = (uint64_t)b * 4;
    uint32_t ctr[4] = {(uint32_t)(i >> 2), (uint32_t)(i >> 34), key.case_id, key.tensor_id};
    uint32_t w[4];
    em_philox4x32_10(ctr, key.seed, w);
    for (int k = 0; k < 4 && (int64_t)i + k < n; ++k) x[i + k] = w[k];
  }
}

void em_rng_fill_uniform_f32(float *x, int64_t n, em_rng_key key, float lo, float hi) {
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < (n + 3) / 4; ++b) {
    uint64_t i = (uint64_t)b * 4;
    uint32_t ctr[4] = {(uint32_t)(i >> 2), (uint32_t)(i >> 34), key.case_id, key.tensor_id};
    uint32_t w[4];
    em_philox4x32_10(ctr, key.seed, w);
    for (int k = 0; k < 4 && (int64_t)i + k < n; ++k) x[i + k] = em_rng_uniform_f32(w[k], lo, hi);
  }
}

uint32_t em_rng_name_id(const char *name) {
  uint32_t h = 2166136261u; /* FNV-1a offset basis and prime */
  for (const unsigned char *p = (const unsigned char *)name; *p; ++p) h = (h ^ *p) * 16777619u;
  return h;
}
