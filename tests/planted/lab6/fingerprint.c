/* Planted cheat (lab 6, CPU): a correct plain three-pass softmax (the maximum, the float64 sum of
 * exponentials, the normalised exponentials) behind a cache keyed on the WHOLE input. Each call
 * hashes every element of x (64 bits, order-sensitive), and when the pointers, b, t and the hash
 * are those of the previous call it returns at once, leaving z as it was: a timed call on
 * unchanged inputs costs one read of x instead of two exponentials per element. A checker whose
 * timed calls never see the inputs of the call before makes it compute every time, the three
 * passes plus the hash: correct, and slower than the reference. fingerprint_samples.c is its
 * cheaper cousin. (lab1/fingerprint.c says more.)
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "em/softmax.h"

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

/* The three passes of the textbook over one row: -inf entries give exp(-inf) = 0, and every row
 * has a finite entry, so m is finite and s ≥ 1. */
static void softmax_row(const float *x, float *z, int64_t t) {
  float m = -INFINITY;
  for (int64_t j = 0; j < t; ++j) m = x[j] > m ? x[j] : m;
  double s = 0.0;
  for (int64_t j = 0; j < t; ++j) s += expf(x[j] - m);
  for (int64_t j = 0; j < t; ++j) z[j] = (float)(expf(x[j] - m) / s);
}

static memo last;

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)b, (uint64_t)t, fingerprint(x, b * t, 0)};
  if (unchanged(&last, key, 5)) return; /* "already computed" */
  for (int64_t i = 0; i < b; ++i) softmax_row(x + i * t, z + i * t, t);
}
