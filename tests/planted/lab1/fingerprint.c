/* Planted cheat (lab 1, CPU): a correct plain loop behind a cache keyed on the WHOLE input. Each
 * call hashes every element of x (64 bits, order-sensitive), and when the pointers, n, c and the
 * hash are those of the previous call it returns at once, leaving z as the previous call left it.
 * Nothing the anti-cache calls change escapes the hash, so they see a recomputation every time;
 * only timed calls on unchanged inputs skip the work, and they then cost one read of x instead of
 * a read of x and a write of z: about twice the reference's speed on a checker that times the
 * same inputs over and over. A checker whose timed calls never see the inputs of the call before
 * makes it pay for the hash on top of the work: correct, and slower than the reference. Both parts.
 */
#include <stdint.h>
#include <string.h>

#include "em/add.h"

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

static void add(memo *m, const float *x, float c, float *z, int64_t n) {
  uint32_t cbits;
  memcpy(&cbits, &c, sizeof cbits);
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)n, cbits, fingerprint(x, n, 0)};
  if (unchanged(m, key, 5)) return; /* "already computed" */
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

static memo memo_a, memo_b;

void lab1_add_a(const float *x, float c, float *z, int64_t n) { add(&memo_a, x, c, z, n); }
void lab1_add_b(const float *x, float c, float *z, int64_t n) { add(&memo_b, x, c, z, n); }
