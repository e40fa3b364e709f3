/* A counter-based random number generator: Philox-4x32-10 (Salmon et al., SC 2011).
 *
 * Why counter-based: element i of a tensor is a pure function of (seed, case, tensor, i), so a
 * case is reproducible from its seed alone, any element can be generated on its own (by any
 * thread, CPU or GPU, in any order), and the CPU and the GPU produce the same bits. The functions
 * here are inline and compile for both host and device; em_rng_fill_* run them over a buffer.
 *
 * Uniform floats are built from the top 24 bits of a word, k·2^-24 with k in [0, 2^24), and scaled
 * with one correctly rounded fmaf: every step is exact or correctly rounded, so host and device
 * agree to the bit (no library log/sin/cos is involved).
 */
#ifndef EM_RNG_H
#define EM_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>

#if defined(__CUDACC__)
#define EM_HD static __host__ __device__ __forceinline__
#else
#define EM_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The three numbers that name a stream: the run's seed, the case and the tensor within the case. */
typedef struct em_rng_key {
  uint64_t seed;
  uint32_t case_id;
  uint32_t tensor_id;
} em_rng_key;

EM_HD uint32_t em__mulhilo32(uint32_t a, uint32_t b, uint32_t *hi) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

/* One Philox-4x32-10 block: 4 words from a 128-bit counter and a 64-bit key. */
EM_HD void em_philox4x32_10(const uint32_t ctr_in[4], uint64_t key64, uint32_t out[4]) {
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  uint32_t k0 = (uint32_t)key64, k1 = (uint32_t)(key64 >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = em__mulhilo32(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = em__mulhilo32(0xCD9E8D57u, c2, &hi1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u; /* the Weyl key schedule of the paper */
    k1 += 0xBB67AE85u;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* Block b of the stream: its words 4b .. 4b+3. Buffers are filled a block at a time. */
EM_HD void em_rng_block(em_rng_key key, uint64_t b, uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), key.case_id, key.tensor_id};
  em_philox4x32_10(ctr, key.seed, out);
}

/* Word i of the stream named by key. Four consecutive words share one Philox block, so filling a
 * buffer goes four at a time (em_rng_fill_*); this one-at-a-time form is for tests and oracles. */
EM_HD uint32_t em_rng_u32(em_rng_key key, uint64_t i) {
  uint32_t out[4];
  em_rng_block(key, i >> 2, out);
  return out[i & 3];
}

/* A word to a float in [0, 1): exactly k·2^-24 for the word's top 24 bits k. */
EM_HD float em_rng_unit_f32(uint32_t word) { return (float)(word >> 8) * 0x1p-24f; }

/* A word to a float in [lo, hi): lo + (hi − lo)·u rounded once (fmaf), identical on host and device.
 * Rounding can carry the largest words up to hi itself when |lo| is large against hi − lo (for
 * [0.5, 1) the top word gives 1.0): those become the float just below hi, so the range holds. */
EM_HD float em_rng_uniform_f32(uint32_t word, float lo, float hi) {
  float r = fmaf(em_rng_unit_f32(word), hi - lo, lo);
  return r < hi ? r : nextafterf(hi, lo);
}

/* Fills x[0..n) with uniform floats in [lo, hi) from the stream of key (OpenMP-parallel). */
void em_rng_fill_uniform_f32(float *x, int64_t n, em_rng_key key, float lo, float hi);

/* Fills x[0..n) with raw stream words. */
void em_rng_fill_u32(uint32_t *x, int64_t n, em_rng_key key);

/* The same two on the GPU, into device memory; they return EM_OK, EM_ENOCUDA, EM_ENODEV or
 * EM_ECUDA (with em_error_detail()). They finish before returning. */
int em_cuda_rng_fill_uniform_f32(float *dev_x, int64_t n, em_rng_key key, float lo, float hi);
int em_cuda_rng_fill_u32(uint32_t *dev_x, int64_t n, em_rng_key key);

/* A stable 32-bit id for a name (FNV-1a), so a case's stream follows its name, not its position in
 * a table: adding a case never changes the inputs of the others. */
uint32_t em_rng_name_id(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* EM_RNG_H */
