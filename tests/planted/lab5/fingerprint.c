/* Planted cheat (lab 5, CPU): a correct plain loop (one float64 accumulator per row, well within
 * the tolerance) behind a cache keyed on the WHOLE input. Each call hashes every element of x
 * (64 bits, order-sensitive), and when the pointers, b, t and the hash are those of the previous
 * call it returns at once, leaving z as it was: a timed call on unchanged inputs costs one read of
 * x at the memory's speed instead of a chain of dependent float64 additions. A checker whose timed
 * calls never see the inputs of the call before makes it compute every time, the slow chain plus
 * the hash: correct, and slower than the reference. (lab1/fingerprint.c says more.)
 */
#include <stdint.h>
#include <string.h>

#include "em/sum.h"

/* ---- the fingerprint ---------------------------------------------------------------------------
 * 32 lanes of 32-bit FNV-1a over the words, then folded into 64 bits: the lanes are independent, so
 * the loop vectorises and runs near the memory's speed. One changed word changes its lane's final
 * state (each step is a bijection of the state), so a swap of two different elements never goes
 * unseen within a lane, and across lanes only by a 2^-64 accident of the fold. */
enum { LANES = 32 };

static uint64_t fingerprint(const void *data, int64_t nwords, uint64_t h) {
  const uint32_t *w = (const uint32_t *)data;
  uint32_t lane[LANES];
  for (int l = 0; l < LANES; ++l) lane[l] = 2166136261u + (uint32_t)l;
  int64_t i = 0;
  for (; i + LANES <= nwords; i += LANES)
    for (int l = 0; l < LANES; ++l) lane[l] = (lane[l] ^ w[i + l]) * 16777619u;
  for (int l = 0; i < nwords; ++i, ++l) lane[l] = (lane[l] ^ w[i]) * 16777619u;
  for (int l = 0; l < LANES; ++l) h = (h ^ lane[l]) * 0x100000001b3ull;
  return (h ^ (uint64_t)nwords) * 0x100000001b3ull;
}

/* The key of a call: its pointers, sizes and scalars, then the hash of its inputs. */
typedef struct memo {
  uint64_t key[8];
  int valid;
} memo;

/* Whether key is the key of the previous call through m; remembers it either way. */
static int unchanged(memo *m, const uint64_t *key, size_t nkey) {
  int same = m->valid && memcmp(m->key, key, nkey * sizeof *key) == 0;
  memcpy(m->key, key, nkey * sizeof *key);
  m->valid = 1;
  return same;
}

static memo last;

void lab5_sum(const float *x, float *z, int64_t b, int64_t t) {
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)b, (uint64_t)t, fingerprint(x, b * t, 0)};
  if (unchanged(&last, key, 5)) return; /* "already computed" */
  for (int64_t i = 0; i < b; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < t; ++j) s += x[i * t + j];
    z[i] = (float)s;
  }
}
