/* Planted cheat (lab 2, CPU): a correct plain double loop behind a cache keyed on the WHOLE input.
 * Each call hashes every element of x and y (64 bits, order-sensitive), and when the pointers, m,
 * n and the hash are those of the previous call it returns at once, leaving z as it was. Timed
 * calls on unchanged inputs then cost a read of x and y (kilobytes) instead of writing z: far
 * faster than the reference. A checker whose timed calls never see the inputs of the call before
 * makes it compute every time, plain loops on one thread plus the hash: correct, and slower than
 * the reference. Both parts. (lab1/fingerprint.c says more.)
 */
#include <stdint.h>
#include <string.h>

#include "em/outer_add.h"

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

static void outer_add(memo *memo, const float *x, const float *y, float *z, int64_t m, int64_t n) {
  uint64_t key[6] = {(uintptr_t)x, (uintptr_t)y, (uintptr_t)z, (uint64_t)m, (uint64_t)n,
                     fingerprint(y, m, fingerprint(x, n, 0))};
  if (unchanged(memo, key, 6)) return; /* "already computed" */
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] + y[i];
}

static memo memo_a, memo_b;

void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add(&memo_a, x, y, z, m, n);
}
void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add(&memo_b, x, y, z, m, n);
}
