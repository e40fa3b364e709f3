/* What the planted CPU cheats that keep work from call to call share (tests/planted/labN/
 * fingerprint.c and lab6/fingerprint_samples.c, each telling what it does and why it must be
 * caught): a 64-bit hash of whole inputs and the memo of the previous call's key. Included by a
 * relative path ("../fingerprint.h") into the one student file each checker is built from, so all
 * of it is static inline: every planted binary holds its own copy, and a file that leaves a part
 * unused is not warned about it. fingerprint.cuh is the same for the CUDA ones.
 */
#ifndef EM_PLANTED_FINGERPRINT_H
#define EM_PLANTED_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- the fingerprint ---------------------------------------------------------------------------
 * 32 lanes of 32-bit FNV-1a over the words, then folded into 64 bits: the lanes are independent, so
 * the loop vectorises and runs near the memory's speed. One changed word changes its lane's final
 * state (each step is a bijection of the state), so a swap of two different elements never goes
 * unseen within a lane, and across lanes only by a 2^-64 accident of the fold. h chains the inputs
 * of one call: fingerprint(y, m, fingerprint(x, n, 0)). */
enum { LANES = 32 };

static inline uint64_t fingerprint(const void *data, int64_t nwords, uint64_t h) {
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

/* ---- the memo ------------------------------------------------------------------------------------
 * The key of a call: its pointers, sizes and scalars, then the hash of its inputs (or whatever of
 * them it samples), at most 8 words. */
typedef struct memo {
  uint64_t key[8];
  int valid;
} memo;

/* Whether key is the key of the previous call through m; remembers it either way. */
static inline int unchanged(memo *m, const uint64_t *key, size_t nkey) {
  int same = m->valid && memcmp(m->key, key, nkey * sizeof *key) == 0;
  memcpy(m->key, key, nkey * sizeof *key);
  m->valid = 1;
  return same;
}

#endif
