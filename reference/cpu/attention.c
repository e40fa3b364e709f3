/* Lab 7 reference, CPU: flash attention, o = softmax(s·q·kᵀ)·v per (batch, head), never storing
 * the n×m score matrix.
 *
 * 4·n·m·d FLOPs per pair against (2n + 2m)·d elements moved: compute-bound, so the goal is to keep
 * the FMA units busy, with the softmax's exp and bookkeeping a small share beside the two products.
 *
 *   - Work items: (pair, query tile of BQ queries), spread over the threads by OpenMP (dynamic
 *     schedule: with the causal mask later tiles see more keys). Each item walks the pair's keys in
 *     tiles of BK and keeps, per query, the running maximum M, the running sum L and the running
 *     output row O in a per-thread workspace (allocated once per call, EM_ENOMEM if it cannot be).
 *   - Scores transposed: the item's queries are packed once as Qᵀ (d × BQ, scaled by s), so a key
 *     tile's scores come out as Sᵀ (BK × BQ): S_R keys × S_NC vectors of queries in registers, each
 *     step one broadcast key element times S_NC vectors of Qᵀ. k is read where it lies (no packing
 *     per key tile, which every query tile would redo), and the softmax then runs down the columns
 *     of Sᵀ: one query per SIMD lane, its maximum and sum plain vertical max and add, no horizontal
 *     reductions. The tile's maxima come out of the score kernel's stores.
 *   - Online softmax per key tile: M' = max(M, tile max), α = exp(M − M'), P = exp(Sᵀ − M') in
 *     place, L ← α·L + ΣP. Then O ← α·O + P·v_tile by a second register-blocked kernel: PV_ACC / CV
 *     output rows × CV vectors of columns in registers, each step one v row (CV loads, read where
 *     it lies) and a broadcast weight per row. The rescale by α rides on that kernel's last FMA,
 *     once per key tile. Each key tile's products start from zero, so every sum in o is a sum of at
 *     most BK terms added into a sum of at most ⌈m/BK⌉ tiles: the rounding error grows with
 *     BK + m/BK, not with m (tests/test_lab7_reference.c derives its bound from this).
 *   - exp: fast_expf (expf.h, 1.06 ulp, the softmax reference's), 16 or 8 lanes per call.
 *   - Causal: keys past what the item's last query sees are never visited; the tiles the diagonal
 *     crosses get −inf where the mask hides a key (exp gives 0) and their maxima recomputed. A
 *     query that sees no key keeps L = 0 and gets o = 0. Each pair's query tiles run from the last,
 *     so the biggest items start first.
 *   - SIMD chosen at compile time from the build's -march: AVX-512 (32 registers: 8 keys × 3
 *     vectors, 24 accumulators, in the score kernel; 24 in the P·v kernel), AVX2 with FMA (16
 *     registers: 12 accumulators in each), else plain C on one float at a time (correct everywhere,
 *     slow).
 *   - bfloat16: q, k and v are widened to float32 as they are loaded (Qᵀ when it is packed, k and v
 *     a key tile at a time into the workspace), everything else is the float32 path, and o is
 *     rounded to bfloat16 once at the end (em_f32_to_bf16). em/attention.h allows the CPU track to
 *     convert; the widening costs 2·BK·d loads per key tile against 4·BQ·BK·d FLOPs.
 *
 * Tiles. BQ = 48 queries: three AVX-512 vectors, so the score kernel's 8 × 3 block covers a key
 * group's whole row of Sᵀ, and a multiple of every P·v row group (24, 12 and 6 rows for d = 16, 32,
 * 64 and up). BK = 128 keys: Sᵀ is 24 KiB, Qᵀ and O 12 KiB each at d = 64, the key and value tiles
 * 32 KiB each: the working set of an item sits in L2 (1 MiB per core on the course's Zen 4 VM)
 * with Qᵀ hot in L1, and the per-tile costs (maxima, α, the rescale) are spread over 128 keys.
 * Other sizes measured alike on that VM (BK 64 to 256, BQ 48 to 144: BENCHMARKS.md, lab 7 on the
 * CPU, with the rates at every d).
 */
#include "em/attention.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/error.h"
#include "expf.h"

/* ---- the SIMD layer --------------------------------------------------------------------------- */

#if defined(__AVX512F__)
#define W 16 /* floats per vector */
typedef __m512 vf;
#define VLOAD(p) _mm512_load_ps(p) /* 64-byte aligned: the workspace's tiles */
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTORE(p, x) _mm512_store_ps((p), (x))
#define VSTOREU(p, x) _mm512_storeu_ps((p), (x))
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VSUB(a, b) _mm512_sub_ps((a), (b))
#define VMAX(a, b) _mm512_max_ps((a), (b))
#define VEXP(x) fast_expf16(x)
/* 32 registers: 8 keys × 3 query vectors = 24 accumulators, 3 for Qᵀ, 1 broadcast */
#define S_R 8
#define S_NC 3
#define PV_ACC 24 /* accumulators of the P·v kernel */
#define PV_CV_MAX 4
#elif defined(__AVX2__) && defined(__FMA__)
#define W 8
typedef __m256 vf;
#define VLOAD(p) _mm256_load_ps(p)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTORE(p, x) _mm256_store_ps((p), (x))
#define VSTOREU(p, x) _mm256_storeu_ps((p), (x))
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VSUB(a, b) _mm256_sub_ps((a), (b))
#define VMAX(a, b) _mm256_max_ps((a), (b))
#define VEXP(x) fast_expf8(x)
/* 16 registers: 4 keys × 3 query vectors = 12 accumulators, 3 for Qᵀ, 1 broadcast */
#define S_R 4
#define S_NC 3
#define PV_ACC 12
#define PV_CV_MAX 2
#else
/* Portable: one float per "vector". Correct on any C11 compiler; not the course's speed. */
#define W 1
typedef float vf;
#define VLOAD(p) (*(p))
#define VLOADU(p) (*(p))
#define VSTORE(p, x) (*(p) = (x))
#define VSTOREU(p, x) (*(p) = (x))
#define VSET1(x) (x)
#define VFMA(a, b, c) EM__FMAF((a), (b), (c))
#define VMUL(a, b) ((a) * (b))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VEXP(x) fast_expf(x)
#define S_R 4
#define S_NC 4
#define PV_ACC 16
#define PV_CV_MAX 4
#endif

/* ---- tiles --------------------------------------------------------------------------------- */

/* Queries per work item: a multiple of the score kernel's S_NC·W queries and of every P·v row
 * group (PV_ACC / CV rows: 24, 12 and 6 with AVX-512), so neither kernel has a ragged edge inside
 * a tile, and of 16, so every row of Qᵀ and Sᵀ starts on a 64-byte line; n's last tile is padded
 * with zero queries whose outputs are never written. Keys per tile: see the top of the file.
 * -DBQ=... and -DBK=... try other sizes (as the measurements at the top did); the bound of
 * tests/test_lab7_reference.c counts BK = 128 (its REF_BK). */
#ifndef BQ
#define BQ 48
#endif
#ifndef BK
#define BK 128
#endif
_Static_assert(BQ % (S_NC * W) == 0 && BQ % PV_ACC == 0 && BQ % 16 == 0, "BQ must fit both kernels' blocks");
/* The score kernel computes whole groups of S_R keys; Sᵀ has room for the last group's padding. */
#define BK_PAD ((BK + S_R - 1) / S_R * S_R)
/* Below this many FLOPs in all, one thread: a parallel region costs microseconds. */
#define PARALLEL_FROM 2000000.0

#define ALIGNED(p) ((float *)__builtin_assume_aligned((p), 64))

/* One thread's workspace, in floats, each part a multiple of 16 floats (64 bytes). */
enum {
  WS_QT = 0,                                     /* Qᵀ: d × BQ */
  WS_S = WS_QT + EM_ATTENTION_MAX_D * BQ,        /* Sᵀ, then P in place: BK_PAD × BQ */
  WS_O = WS_S + BK_PAD * BQ,                     /* O: BQ × d */
  WS_M = WS_O + BQ * EM_ATTENTION_MAX_D,         /* running maximum, per query */
  WS_L = WS_M + BQ,                              /* running sum */
  WS_ALPHA = WS_L + BQ,                          /* this key tile's rescale factor */
  WS_TMAX = WS_ALPHA + BQ,                       /* this key tile's maximum */
  WS_K = WS_TMAX + BQ,                           /* bf16 only: the key tile in float32, BK × d */
  WS_V = WS_K + BK * EM_ATTENTION_MAX_D,         /* bf16 only: the value tile in float32 */
  WS_FLOATS = WS_V + BK * EM_ATTENTION_MAX_D,
};

/* Sᵀ[r][0..S_NC·W) for the S_R keys whose rows are krow[0..S_R): Σ_c krow[r][c]·Qᵀ[c][·], with
 * Qᵀ's rows BQ floats apart; stored at S (rows BQ apart), and tmax (S_NC·W floats) raised to the
 * keys' maxima. */
static inline __attribute__((always_inline)) void score_block(const float *restrict qt, const float *const krow[S_R],
                                                              int64_t d, float *restrict S, float *restrict tmax) {
  vf acc[S_R][S_NC];
#pragma GCC unroll 16
  for (int r = 0; r < S_R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < S_NC; ++v) acc[r][v] = VSET1(0.0f);
  for (int64_t c = 0; c < d; ++c) {
    vf qq[S_NC];
#pragma GCC unroll 16
    for (int v = 0; v < S_NC; ++v) qq[v] = VLOAD(qt + c * BQ + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < S_R; ++r) {
      const vf kk = VSET1(krow[r][c]);
#pragma GCC unroll 16
      for (int v = 0; v < S_NC; ++v) acc[r][v] = VFMA(kk, qq[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int v = 0; v < S_NC; ++v) {
    vf mx = VLOAD(tmax + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < S_R; ++r) {
      VSTORE(S + r * BQ + v * W, acc[r][v]);
      mx = VMAX(mx, acc[r][v]);
    }
    VSTORE(tmax + v * W, mx);
  }
}

/* O[r][0..CV·W) ← alpha[r]·O[r][·] + Σ_j P[j][r]·V[j][·] for R rows, over nk keys: P's rows BQ
 * apart (Pᵀ as the score kernel left it), V's and O's rows ldv and d apart. */
static inline __attribute__((always_inline)) void pv_block(const int R, const int CV, const float *restrict P,
                                                           const float *restrict V, int64_t ldv, int64_t nk,
                                                           float *restrict O, int64_t d,
                                                           const float *restrict alpha) {
  vf acc[PV_ACC][PV_CV_MAX];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int c = 0; c < CV; ++c) acc[r][c] = VSET1(0.0f);
  for (int64_t j = 0; j < nk; ++j) {
    vf vv[PV_CV_MAX];
#pragma GCC unroll 16
    for (int c = 0; c < CV; ++c) vv[c] = VLOADU(V + j * ldv + c * W);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const vf p = VSET1(P[j * BQ + r]);
#pragma GCC unroll 16
      for (int c = 0; c < CV; ++c) acc[r][c] = VFMA(p, vv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) {
    const vf a = VSET1(alpha[r]);
#pragma GCC unroll 16
    for (int c = 0; c < CV; ++c) VSTORE(O + r * d + c * W, VFMA(a, VLOAD(O + r * d + c * W), acc[r][c]));
  }
}

/* With AVX-512 at d = 64 and 128: 6 rows × 4 vectors of columns (PV_CV_WIDE 4, the default), or
 * -DPV_CV_WIDE=2 for 12 rows × 2 (half the loads of v per FMA, twice the broadcasts of P), for
 * measuring the two against each other on a CPU (scripts/device-cpu.sh tiles). */
#ifndef PV_CV_WIDE
#define PV_CV_WIDE 4
#endif

/* The P·v kernel for one d, with its register blocking fixed at compile time: CV vectors of
 * columns (at most PV_CV_MAX), PV_ACC / CV rows. Rows come in whole groups (BQ is a multiple of
 * every group), up to the tile's nq queries; columns in chunks of CV·W. */
#define PV_FOR(CV)                                                                                          \
  static void pv_cv##CV(const float *P, const float *V, int64_t ldv, int64_t nk, float *O, int64_t d,        \
                        const float *alpha, int64_t nq) {                                                   \
    enum { R = PV_ACC / (CV) };                                                                             \
    for (int64_t c0 = 0; c0 < d; c0 += (CV) * W)                                                            \
      for (int64_t r0 = 0; r0 < nq; r0 += R)                                                                \
        pv_block(R, (CV), P + r0, V + c0, ldv, nk, O + r0 * d + c0, d, alpha + r0);                        \
  }
#if W == 16
PV_FOR(1)
PV_FOR(2)
#if PV_CV_WIDE == 4
PV_FOR(4)
#endif
#elif W == 8
PV_FOR(2)
#else
PV_FOR(4)
#endif

#define PV_CALL(CV) PV_CALL_(CV)
#define PV_CALL_(CV) pv_cv##CV

/* O ← α·O + P·v_tile, with the blocking that suits d (every d is a multiple of 16). */
static void pv_tile(const float *P, const float *V, int64_t ldv, int64_t nk, float *O, int64_t d,
                    const float *alpha, int64_t nq) {
#if W == 16
  if (d == 16)
    pv_cv1(P, V, ldv, nk, O, d, alpha, nq);
  else if (d == 32)
    pv_cv2(P, V, ldv, nk, O, d, alpha, nq);
  else
    PV_CALL(PV_CV_WIDE)(P, V, ldv, nk, O, d, alpha, nq);
#elif W == 8
  pv_cv2(P, V, ldv, nk, O, d, alpha, nq);
#else
  pv_cv4(P, V, ldv, nk, O, d, alpha, nq);
#endif
}

/* Where an item's inputs are: float32 (the tiles are read in place) or bfloat16 (widened into the
 * workspace as they are needed). */
typedef struct src {
  const float *q, *k, *v;       /* float32 inputs, or NULL */
  const em_bf16 *qh, *kh, *vh;  /* bfloat16 inputs, or NULL */
  float *o;                     /* float32 output, or NULL */
  em_bf16 *oh;                  /* bfloat16 output, or NULL */
  int64_t n, m, d;
  int causal;
  float scale;                  /* s = 1/√d */
} src;

/* A key tile the diagonal crosses: Sᵀ's entries that the mask hides (key j0 + j from query i0 + i
 * when j0 + j > i0 + i + m − n) become −inf, and the tile's maxima are recomputed over the rest
 * (the score kernel's counted the hidden scores too, and a hidden score far above the visible ones
 * would make every visible exp underflow to 0). */
static void mask_tile(float *restrict S, float *restrict tmax, int64_t nk, int64_t j0, int64_t i0, const src *a) {
  for (int64_t j = 0; j < nk; ++j) {
    /* queries i < j0 + j − (m − n) − i0 do not see this key */
    int64_t hide = j0 + j - (a->m - a->n) - i0;
    if (hide > BQ) hide = BQ;
    for (int64_t i = 0; i < hide; ++i) S[j * BQ + i] = -INFINITY;
  }
  for (int64_t v = 0; v < BQ; v += W) {
    vf mx = VSET1(-INFINITY);
    for (int64_t j = 0; j < nk; ++j) mx = VMAX(mx, VLOAD(S + j * BQ + v));
    VSTORE(tmax + v, mx);
  }
}

/* One work item: queries i0 .. i0 + nq − 1 (nq ≤ BQ) of one pair, whose inputs start at q, k, v
 * (element offsets qo, ko into a's arrays) and whose output rows start at element qo of o. */
static void attention_item(const src *a, int64_t qo, int64_t ko, int64_t i0, int64_t nq, float *ws) {
  const int64_t n = a->n, m = a->m, d = a->d;
  float *qt = ALIGNED(ws + WS_QT), *S = ALIGNED(ws + WS_S), *O = ALIGNED(ws + WS_O);
  float *M = ALIGNED(ws + WS_M), *L = ALIGNED(ws + WS_L), *alpha = ALIGNED(ws + WS_ALPHA);
  float *tmax = ALIGNED(ws + WS_TMAX);

  /* keys 0 .. jend − 1 are seen by some query of the item (the last one sees the most) */
  int64_t jend = m;
  if (a->causal && i0 + nq + m - n < jend) jend = i0 + nq + m - n;
  if (jend <= 0) { /* no query of the item sees a key: o = 0 */
    for (int64_t e = 0; e < nq * d; ++e) {
      if (a->o) a->o[qo + i0 * d + e] = 0.0f;
      else a->oh[qo + i0 * d + e] = em_f32_to_bf16(0.0f);
    }
    return;
  }

  /* Qᵀ = s·q of the item's queries, transposed; zero columns for the padding queries */
  for (int64_t i = 0; i < BQ; ++i)
    for (int64_t c = 0; c < d; ++c) {
      float x = 0.0f;
      if (i < nq) x = a->q ? a->q[qo + (i0 + i) * d + c] : em_bf16_to_f32(a->qh[qo + (i0 + i) * d + c]);
      qt[c * BQ + i] = x * a->scale;
    }
  for (int64_t i = 0; i < BQ; ++i) M[i] = -INFINITY, L[i] = 0.0f;
  memset(O, 0, (size_t)(BQ * d) * sizeof *O);

  for (int64_t j0 = 0; j0 < jend; j0 += BK) {
    const int64_t nk = jend - j0 < BK ? jend - j0 : BK;
    const float *kt, *vt; /* the tile's key and value rows, d floats apart */
    if (a->k) {
      kt = a->k + ko + j0 * d;
      vt = a->v + ko + j0 * d;
    } else { /* bf16: the workspace has the two tiles (attention_run) */
      float *kbuf = ALIGNED(ws + WS_K), *vbuf = ALIGNED(ws + WS_V);
      for (int64_t e = 0; e < nk * d; ++e) kbuf[e] = em_bf16_to_f32(a->kh[ko + j0 * d + e]);
      for (int64_t e = 0; e < nk * d; ++e) vbuf[e] = em_bf16_to_f32(a->vh[ko + j0 * d + e]);
      kt = kbuf;
      vt = vbuf;
    }

    /* Sᵀ and its maxima; the last group's missing keys repeat the tile's last key, which leaves
     * the maxima as they are (their rows of Sᵀ are past nk, never read) */
    for (int64_t v = 0; v < BQ; ++v) tmax[v] = -INFINITY;
    for (int64_t j = 0; j < nk; j += S_R) {
      const float *krow[S_R];
      for (int r = 0; r < S_R; ++r) krow[r] = kt + (j + r < nk ? j + r : nk - 1) * d;
      for (int64_t v = 0; v < BQ; v += S_NC * W) score_block(qt + v, krow, d, S + j * BQ + v, tmax + v);
    }
    /* the mask crosses the tile when its last key is hidden from the item's first query */
    if (a->causal && j0 + nk - 1 > i0 + m - n) mask_tile(S, tmax, nk, j0, i0, a);

    /* online softmax, W queries at a time: new maximum, α, P = exp(Sᵀ − M') in place, L.
     * max(M', −FLT_MAX) stands in for M' where it is −inf (no key seen yet): −inf − (−FLT_MAX) is
     * −inf, whose exp is 0, where −inf − (−inf) would be NaN. */
    for (int64_t v = 0; v < BQ; v += W) {
      const vf mold = VLOAD(M + v), mnew = VMAX(mold, VLOAD(tmax + v));
      const vf msafe = VMAX(mnew, VSET1(-FLT_MAX));
      const vf al = VEXP(VSUB(mold, msafe));
      vf sum = VSET1(0.0f);
      for (int64_t j = 0; j < nk; ++j) {
        const vf p = VEXP(VSUB(VLOAD(S + j * BQ + v), msafe));
        VSTORE(S + j * BQ + v, p);
        sum = VADD(sum, p);
      }
      VSTORE(L + v, VFMA(al, VLOAD(L + v), sum));
      VSTORE(M + v, mnew);
      VSTORE(alpha + v, al);
    }
    pv_tile(S, vt, d, nk, O, d, alpha, nq);
  }

  /* o = O / L; L = 0 where a query saw no key, and its O is 0 too */
  for (int64_t i = 0; i < nq; ++i) {
    const float inv = L[i] > 0.0f ? 1.0f / L[i] : 0.0f;
    const int64_t at = qo + (i0 + i) * d;
    if (a->o) {
      const vf vinv = VSET1(inv);
      for (int64_t c = 0; c < d; c += W) VSTOREU(a->o + at + c, VMUL(VLOAD(O + i * d + c), vinv));
    } else {
      for (int64_t c = 0; c < d; ++c) a->oh[at + c] = em_f32_to_bf16(O[i * d + c] * inv);
    }
  }
}

static int check_args(const char *fn, int64_t b, int64_t h, int64_t n, int64_t m, int64_t d) {
  if (!em_attention_d_ok(d)) return em__fail(EM_EINVAL, "%s: d = %lld (supported: 16, 32, 64, 128)", fn, (long long)d);
  if (b < 1 || h < 1 || n < 1 || m < 1)
    return em__fail(EM_EINVAL, "%s: b = %lld, h = %lld, n = %lld, m = %lld (each must be at least 1)", fn,
                    (long long)b, (long long)h, (long long)n, (long long)m);
  return EM_OK;
}

/* Every item of b·h pairs × ⌈n/BQ⌉ query tiles, over the threads. */
static int attention_run(const char *fn, const src *a, int64_t pairs) {
  const int64_t n = a->n, m = a->m, d = a->d;
  const int64_t tiles = (n + BQ - 1) / BQ, items = pairs * tiles;
  int nt = 1;
#if defined(_OPENMP)
  nt = omp_get_max_threads();
#endif
  if ((double)pairs * (double)n * (double)m * (double)d * 4.0 < PARALLEL_FROM) nt = 1;
  if (items < nt) nt = (int)items;
  /* float32 inputs are read in place: no key and value tiles in their workspace */
  const size_t per_thread = a->k ? WS_K : WS_FLOATS;
  float *ws = aligned_alloc(64, (size_t)nt * per_thread * sizeof *ws);
  if (!ws)
    return em__fail(EM_ENOMEM, "%s: no memory for %d workspaces of %zu bytes", fn, nt, per_thread * sizeof *ws);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int64_t it = 0; it < items; ++it) {
    int tid = 0;
#if defined(_OPENMP)
    tid = omp_get_thread_num();
#endif
    /* each pair's query tiles from the last: with the mask the last see the most keys, so the
     * biggest items go first and the smallest end the loop, where a thread would otherwise wait
     * for the other's big one (pairs stay whole: their k and v stay in cache across their items) */
    const int64_t pair = it / tiles, i0 = (tiles - 1 - it % tiles) * BQ;
    attention_item(a, pair * n * d, pair * m * d, i0, n - i0 < BQ ? n - i0 : BQ, ws + (size_t)tid * per_thread);
  }
  free(ws);
  return EM_OK;
}

int em_attention_cpu(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h, int64_t n,
                     int64_t m, int64_t d, int causal) {
  int err = check_args("em_attention_cpu", b, h, n, m, d);
  if (err) return err;
  const src a = {.q = q, .k = k, .v = v, .o = o, .n = n, .m = m, .d = d, .causal = causal,
                 .scale = (float)(1.0 / sqrt((double)d))};
  return attention_run("em_attention_cpu", &a, b * h);
}

int em_attention_bf16_cpu(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b,
                          int64_t h, int64_t n, int64_t m, int64_t d, int causal) {
  int err = check_args("em_attention_bf16_cpu", b, h, n, m, d);
  if (err) return err;
  const src a = {.qh = q, .kh = k, .vh = v, .oh = o, .n = n, .m = m, .d = d, .causal = causal,
                 .scale = (float)(1.0 / sqrt((double)d))};
  return attention_run("em_attention_bf16_cpu", &a, b * h);
}
