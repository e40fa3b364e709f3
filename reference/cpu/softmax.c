/* Lab 6 reference, CPU: row softmax, z = exp(x − max) / Σ exp(x − max).
 *
 * 8 bytes move per element (x read, z written) for one exp and a few FLOPs, and libm's expf is a
 * scalar call far slower than the memory, so the work is making exp cheap enough to leave the loop
 * (nearly) memory-bound. labs/lab6-softmax/README.md (section 4, "CPU") walks through each choice
 * with what it measured and what was tried and not kept; here, what the code does and why:
 *
 *   - our own exp, inlined and vectorised (fast_expf; fast_expf16 where the CPU has AVX-512, the
 *     same bits): e^d = 2^n · e^r with |r| ≤ ln2/2, a polynomial for e^r, 2^n built in the
 *     exponent bits, within 1.06 ulp on [−87.34, 0]; results below FLT_MIN are flushed to 0 (the
 *     checker's atol allows it). No libm call inside, so `#pragma omp simd` vectorises the loops
 *     that call it; simdlen(16) lets gcc use 512-bit registers where the CPU has them.
 *   - whole rows (rows_pipelined) in segments of up to SEG_MAX elements, two sweeps per segment:
 *     its true maximum, reading x and finishing the previous row's same segment; then exp and its
 *     sum, prefetching the next segment. One exp per element, memory kept busy throughout. The
 *     previous row's z must still be in cache when it is finished: rows of up to STORE_MAX
 *     elements (any L2), longer ones while every thread's row (x and z, 8 bytes per element) fits
 *     in half of the last-level cache (store_limit); beyond, rows recompute exp(x − m) from x
 *     instead: two exps per element, x read twice.
 *   - pieces of rows split across threads keep one exp per element the same way: their statistics
 *     pass stores e = exp(x − m_block) into z as it sums it, with the running maximum kept per
 *     block of BLK (a cheap max sweep over the block, in L1 for the exp sweep that follows, then at
 *     most one rescale s ← s·exp(m − m') per block, in double); the second pass only multiplies
 *     each block of z by exp(m_block − m)/s, reading z back from cache.
 *   - accuracy: a block's terms are summed in float by the SIMD lanes (BLK / 16 = 16 terms per
 *     lane, then a tree of 4 levels), and the block sums into a double: the row's sum is off by at
 *     most about 20·2^-24, whatever t (the tolerance: harness/specs/softmax.c).
 *   - all cores: each thread takes whole rows (a contiguous range of them); the b mod threads rows
 *     left over, when they are long, are split across all threads, each reducing its piece to
 *     (max, sum), combined after a barrier. b = 1 with t = 2^20 thus uses every core.
 *   - z written once, with streaming stores, where they are measured faster (em/stores.h). With
 *     plain stores the pipelined rows cost 12 bytes of memory traffic per element, not 8: the
 *     exp lands in z, whose lines are first read for ownership. Where the machine's measured
 *     peaks say non-temporal stores copy faster than plain ones (as on the course's AMD VM, not
 *     on its Intel one), and z is larger than half the last-level cache, the exps go to a scratch row
 *     per thread instead, which stays in cache, and the previous row's last step streams
 *     scratch · factor into z: no read for ownership, and x and z each cross the memory bus once.
 *     The README of lab 6 has the numbers.
 */
#include "em/softmax.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/stores.h"
#include "expf.h"
#include "stream.h"

/* Elements per block of the statistics pass: 1 KiB, so the exp sweep finds the block in L1 after
 * the max sweep; 16 terms per lane of 16 before the block's sum goes into the double (the
 * checker's tolerance allows 16 sequential additions per lane, harness/specs/softmax.c). */
#define BLK 256
/* Rows (and pieces of rows) up to this many elements store exp into z and rescale it: x and z of
 * such a segment are 2·256 KiB, which stays in a 1-2 MiB L2 between the two passes. */
#define STORE_MAX 65536
/* Longer segments may too, up to this length, if they fit the last-level cache (store_limit):
 * 2^21 elements are 16 MiB of x and z, and their block maxima (8192 floats) stay on the stack. */
#define STORE_LONG_MAX ((int64_t)1 << 21)
/* Below this many elements in all, one thread does everything: a parallel region costs a few
 * microseconds, 16K elements take about 10 us on one core. */
#define PARALLEL_FROM ((int64_t)1 << 14)
/* Leftover rows at least this long are split across all threads; shorter ones are not worth a
 * barrier (~1 us) each. */
#define SPLIT_FROM 16384
/* Pieces of a split row start on multiples of 16 elements (a 64-byte line). */
#define GRAIN 16
/* The most threads one call uses (bounds the statistics array on the stack). */
#define MAX_THREADS 256

typedef struct seg_stat {
  float m;  /* the maximum of the segment (−inf if all of it is −inf) */
  double s; /* Σ exp(x − m) over the segment */
} seg_stat;

static float block_max(const float *restrict x, int64_t n) {
  float m = -INFINITY;
#pragma omp simd simdlen(16) reduction(max : m)
  for (int64_t k = 0; k < n; ++k) m = x[k] > m ? x[k] : m;
  return m;
}

/* Moves the running (m, s) to a new maximum mx if it is larger: s·exp(m − mx), in double. */
static void raise_max(seg_stat *st, float mx) {
  if (mx > st->m) {
    if (st->s > 0) st->s *= exp((double)st->m - (double)mx);
    st->m = mx;
  }
}

/* Pass 1 of a short segment: z = exp(x − m_b) with m_b the running max at block b (kept in bm),
 * and the segment's (max, sum). */
static seg_stat stats_store(const float *restrict x, float *restrict z, int64_t n, float *restrict bm) {
  seg_stat st = {-INFINITY, 0.0};
  for (int64_t i = 0, blk = 0; i < n; i += BLK, ++blk) {
    int64_t len = n - i < BLK ? n - i : BLK;
    raise_max(&st, block_max(x + i, len));
    float m = st.m;
    bm[blk] = m;
    if (m == -INFINITY) { /* nothing but −inf so far: x − m would be −inf − (−inf), NaN */
      memset(z + i, 0, (size_t)len * sizeof *z);
      continue;
    }
    float bs = 0.0f;
#pragma omp simd simdlen(16) reduction(+ : bs)
    for (int64_t k = 0; k < len; ++k) {
      float e = fast_expf(x[i + k] - m);
      z[i + k] = e;
      bs += e;
    }
    st.s += bs;
  }
  return st;
}

/* Pass 2 of a short segment: z ← z · exp(m_b − M) / S, block by block. */
static void scale_stored(float *restrict z, int64_t n, const float *restrict bm, float M, double S) {
  for (int64_t i = 0, blk = 0; i < n; i += BLK, ++blk) {
    int64_t len = n - i < BLK ? n - i : BLK;
    /* bm = −inf: f = 0 (z is 0 there); bm = M, always so for a row of one block: no exp needed */
    float f = (float)((bm[blk] == M ? 1.0 : exp((double)bm[blk] - (double)M)) / S);
#pragma omp simd simdlen(16)
    for (int64_t k = 0; k < len; ++k) z[i + k] *= f;
  }
}

/* Pass 1 of a long segment: its (max, sum) only. */
static seg_stat stats_only(const float *restrict x, int64_t n) {
  seg_stat st = {-INFINITY, 0.0};
  for (int64_t i = 0; i < n; i += BLK) {
    int64_t len = n - i < BLK ? n - i : BLK;
    raise_max(&st, block_max(x + i, len));
    float m = st.m;
    if (m == -INFINITY) continue;
    float bs = 0.0f;
#pragma omp simd simdlen(16) reduction(+ : bs)
    for (int64_t k = 0; k < len; ++k) bs += fast_expf(x[i + k] - m);
    st.s += bs;
  }
  return st;
}

/* Pass 2 of a long segment: z = exp(x − M) / S, from x again. */
static void write_from_x(const float *restrict x, float *restrict z, int64_t n, float M, double S) {
  float inv = (float)(1.0 / S);
#pragma omp simd simdlen(16)
  for (int64_t k = 0; k < n; ++k) z[k] = fast_expf(x[k] - M) * inv;
}

/* The longest segment that may store exp into z when nt threads each work on one at a time: its
 * x and z (8 bytes per element) must survive in cache until the second pass, so STORE_MAX (an
 * L2's worth), or nt of them in half of the last-level cache, up to STORE_LONG_MAX. */
static int64_t store_limit(int nt) {
  int64_t limit = STORE_MAX;
  /* em_cpu_llc_bytes, not sysconf: glibc's has said 320 MiB for the 32 MiB L3 of an EPYC VM. */
  int64_t fits = (int64_t)em_cpu_llc_bytes() / 2 / 8 / nt;
  if (fits > limit) limit = fits < STORE_LONG_MAX ? fits : STORE_LONG_MAX;
  return limit;
}

/* One segment (a row, or a thread's piece of one), pass 1: (max, sum), and for the store way
 * exp(x − m_block) in z with the block maxima in bm (STORE_LONG_MAX / BLK floats). */
static seg_stat segment_stats(const float *x, float *z, int64_t n, int store, float *bm) {
  return store ? stats_store(x, z, n, bm) : stats_only(x, n);
}

/* Pass 2 of a segment, given its row's (M, S). */
static void segment_write(const float *x, float *z, int64_t n, int store, const float *bm, float M, double S) {
  if (store) scale_stored(z, n, bm, M, S);
  else write_from_x(x, z, n, M, S);
}

/* Whole rows, one after another on one thread, each in segments of at most SEG_MAX elements,
 * two sweeps per segment:
 *   A: the segment's true maximum m_k, reading x from memory, and in the same loop the previous
 *      row's last step on the same segment, z ← z · exp(m_k − M)/S, on its z still in cache;
 *   B: z = exp(x − m_k) and its sum s_k, x now in cache, prefetching the next segment's x and z.
 * With each segment's true maximum first there is no running maximum to rescale inside it; the
 * previous row's scaling rides on the memory-bound sweep A, and the prefetch keeps memory busy
 * during the exp of sweep B. At a row's end its (M, S) and the segments' factors come from the
 * (m_k, s_k), in double. SEG_MAX: L1 holds a segment's x and z and the next one's prefetched lines
 * (the sizes and prefetch distances measured, and what was tried instead: the lab's README, section
 * 4). Each helper is noinline: inlined into the row loop, gcc 12 left the omp simd loops scalar. */
#define SEG_MAX 2048
/* The most segments a row has: rows longer than the store limit (≤ STORE_LONG_MAX) go another way. */
#define SEGS_MAX (STORE_LONG_MAX / SEG_MAX)

__attribute__((noinline)) static float max_and_finish(const float *restrict x, int64_t n, float *restrict prev,
                                                      float f) {
  float m = -INFINITY;
  if (!prev) return block_max(x, n);
#pragma omp simd simdlen(16) reduction(max : m)
  for (int64_t k = 0; k < n; ++k) {
    m = x[k] > m ? x[k] : m;
    prev[k] *= f;
  }
  return m;
}

/* The 16 lane sums meet in a tree, as a SIMD reduction's do. */
static float lane_tree(float acc[16]) {
  for (int h = 8; h > 0; h /= 2)
    for (int l = 0; l < h; ++l) acc[l] += acc[l + h];
  return acc[0];
}

/* z = exp(x − m), returns Σ z: per block of BLK, 16 lane sums of at most 16 terms meeting in a
 * tree, the block sums added in double. One prefetch of the next segment's x and one of its z per
 * 16 elements (its first next_n elements), spread through the loop rather than issued together at
 * a block's start, which measured slower. With AVX-512, whole blocks go through fast_expf16 in a
 * loop of fixed trip count, without the variable count and prefetch test of the general loop. */
__attribute__((noinline)) static double exp_store(const float *restrict x, float *restrict z, int64_t n, float m,
                                                  const float *next_x, float *next_z, int64_t next_n) {
  double s = 0.0;
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 vm = _mm512_set1_ps(m);
  for (; i + BLK <= n; i += BLK) {
    /* past the end of the next segment, the prefetches touch this block's own lines: harmless */
    const int ahead = i + BLK <= next_n;
    const float *px = ahead ? next_x + i : x + i;
    float *pz = ahead ? next_z + i : z + i;
    __m512 lanes = _mm512_setzero_ps();
    for (int k = 0; k < BLK; k += 16) {
      __builtin_prefetch(px + k, 0, 3);
      __builtin_prefetch(pz + k, 1, 3);
      __m512 e = fast_expf16(_mm512_sub_ps(_mm512_loadu_ps(x + i + k), vm));
      _mm512_storeu_ps(z + i + k, e);
      lanes = _mm512_add_ps(lanes, e);
    }
    float acc[16];
    _mm512_storeu_ps(acc, lanes);
    s += lane_tree(acc);
  }
#endif
  for (; i < n; i += BLK) { /* without AVX-512 every block, with it only a last partial one */
    int64_t len = n - i < BLK ? n - i : BLK;
    float acc[16] = {0};
    int64_t k = 0;
    for (; k + 16 <= len; k += 16) {
      if (i + k < next_n) {
        __builtin_prefetch(next_x + i + k, 0, 3);
        __builtin_prefetch(next_z + i + k, 1, 3);
      }
#pragma omp simd simdlen(16)
      for (int l = 0; l < 16; ++l) {
        float e = fast_expf(x[i + k + l] - m);
        z[i + k + l] = e;
        acc[l] += e;
      }
    }
    for (; k < len; ++k) {
      float e = fast_expf(x[i + k] - m);
      z[i + k] = e;
      acc[k & 15] += e;
    }
    s += lane_tree(acc);
  }
  return s;
}

__attribute__((noinline)) static void scale_row(float *restrict z, int64_t n, float f) {
#pragma omp simd simdlen(16)
  for (int64_t k = 0; k < n; ++k) z[k] *= f;
}

/* The streaming way (z written once, see the top of the file): AVX-512 only, like fast_expf16;
 * other builds keep the plain way. */
#if defined(__AVX512F__)
#define HAVE_STREAM 1

/* Sweep A of the streaming way: the maximum of x, and dst = src · f with streaming stores (src:
 * the previous row's exps in the scratch row, dst: that row's z). _mm512_max_ps(v, m) returns m
 * where v is NaN, as the plain `v > m ? v : m` does. */
__attribute__((noinline)) static float max_and_stream(const float *restrict x, int64_t n, const float *restrict src,
                                                      float *restrict dst, float f) {
  float m = -INFINITY;
  int64_t k = 0;
  for (const int64_t head = em__floats_to_line(dst, n); k < head; ++k) {
    m = x[k] > m ? x[k] : m;
    dst[k] = src[k] * f;
  }
  __m512 vm = _mm512_set1_ps(-INFINITY);
  const __m512 vf = _mm512_set1_ps(f);
  for (; k + 16 <= n; k += 16) {
    vm = _mm512_max_ps(_mm512_loadu_ps(x + k), vm);
    _mm512_stream_ps(dst + k, _mm512_mul_ps(_mm512_loadu_ps(src + k), vf));
  }
  const float lanes = _mm512_reduce_max_ps(vm);
  m = lanes > m ? lanes : m;
  for (; k < n; ++k) {
    m = x[k] > m ? x[k] : m;
    dst[k] = src[k] * f;
  }
  return m;
}

/* The last row's last step in the streaming way: dst = src · f. */
static void stream_scaled(const float *restrict src, float *restrict dst, int64_t n, float f) {
  int64_t k = 0;
  for (const int64_t head = em__floats_to_line(dst, n); k < head; ++k) dst[k] = src[k] * f;
  const __m512 vf = _mm512_set1_ps(f);
  for (; k + 16 <= n; k += 16) _mm512_stream_ps(dst + k, _mm512_mul_ps(_mm512_loadu_ps(src + k), vf));
  for (; k < n; ++k) dst[k] = src[k] * f;
}
#else
#define HAVE_STREAM 0 /* scratch is always NULL below, and these stand-ins never run */
#define max_and_stream(x, n, src, dst, f) max_and_finish((x), (n), (dst), (f))
#define stream_scaled(src, dst, n, f) scale_row((dst), (n), (f))
#endif

/* Rows lo..hi of length t (at most the store limit, so at most SEGS_MAX segments), as described
 * above max_and_finish. scratch NULL: the exps go into z, and sweep A scales them there. Else
 * (the streaming way) they go into scratch, t floats of this thread's, and sweep A streams them,
 * scaled, into the previous row's z. */
static void rows_pipelined_via(const float *x, float *z, int64_t lo, int64_t hi, int64_t t, float *scratch) {
  int64_t nseg = (t + SEG_MAX - 1) / SEG_MAX;
  const int64_t seg = ((t + nseg - 1) / nseg + BLK - 1) / BLK * BLK; /* whole blocks, ≤ SEG_MAX */
  nseg = (t + seg - 1) / seg;
  /* this row's segment maxima; the previous row's factors (read only once prev is set, after
   * they are written: no zeroing of 4 KiB per call, which the smallest timed cases would pay) */
  float m[SEGS_MAX], f[SEGS_MAX];
  double s[SEGS_MAX];
  float *prev = NULL; /* the previous row's z, still to be scaled by f */
  for (int64_t i = lo; i < hi; ++i) {
    const float *xr = x + i * t;
    float *zr = z + i * t;
    float *er = scratch ? scratch : zr; /* where this row's exps go */
    for (int64_t k = 0; k < nseg; ++k) {
      const int64_t o = k * seg, len = t - o < seg ? t - o : seg;
      if (scratch && prev) /* the previous row's exps leave er + o before this row's arrive */
        m[k] = max_and_stream(xr + o, len, er + o, prev + o, f[k]);
      else
        m[k] = max_and_finish(xr + o, len, prev ? prev + o : NULL, prev ? f[k] : 0.0f);
      if (m[k] == -INFINITY) { /* only −inf here: e = 0 (x − m would be NaN) */
        memset(er + o, 0, (size_t)len * sizeof *er);
        s[k] = 0.0;
        continue;
      }
      /* the next segment: this row's next one, or the next row's first (in scratch: its start) */
      const int64_t next = k + 1 < nseg ? o + seg : i + 1 < hi ? t : -1;
      const int64_t next_n = next < 0 ? 0 : next < t ? (t - next < seg ? t - next : seg) : (t < seg ? t : seg);
      float *next_e = next < 0 ? NULL : scratch ? scratch + (next < t ? next : 0) : zr + next;
      s[k] = exp_store(xr + o, er + o, len, m[k], next < 0 ? NULL : xr + next, next_e, next_n);
    }
    float M = -INFINITY;
    for (int64_t k = 0; k < nseg; ++k) M = m[k] > M ? m[k] : M;
    if (M == -INFINITY) { /* no finite entry: no softmax (0/0), as in the oracle */
      for (int64_t k = 0; k < t; ++k) zr[k] = NAN;
      prev = NULL;
      continue;
    }
    double S = 0.0; /* the segments' sums moved to M, in double, in order */
    for (int64_t k = 0; k < nseg; ++k)
      if (m[k] != -INFINITY) S += m[k] == M ? s[k] : s[k] * exp((double)m[k] - (double)M);
    for (int64_t k = 0; k < nseg; ++k)
      f[k] = m[k] == -INFINITY ? 0.0f : (float)((m[k] == M ? 1.0 : exp((double)m[k] - (double)M)) / S);
    prev = zr;
  }
  if (prev)
    for (int64_t k = 0; k < nseg; ++k) {
      const int64_t o = k * seg, len = t - o < seg ? t - o : seg;
      if (scratch)
        stream_scaled(scratch + o, prev + o, len, f[k]);
      else
        scale_row(prev + o, len, f[k]);
    }
#if HAVE_STREAM
  /* Streaming stores are weakly ordered: they must reach memory before the parallel region ends
   * and the caller (or another thread) reads z. */
  if (scratch) _mm_sfence();
#endif
}

/* The plain way: the exps go into z itself. */
static void rows_pipelined(const float *x, float *z, int64_t lo, int64_t hi, int64_t t) {
  rows_pipelined_via(x, z, lo, hi, t, NULL);
}

/* A row longer than the store limit: its (max, sum), then z from x again (two exps per element). */
static void softmax_long_row(const float *x, float *z, int64_t t) {
  seg_stat st = stats_only(x, t);
  if (st.m == -INFINITY) {
    for (int64_t k = 0; k < t; ++k) z[k] = NAN;
    return;
  }
  write_from_x(x, z, t, st.m, st.s);
}

/* The (max, sum) of a whole row from those of its pieces, in the same order on every thread. */
static seg_stat combine(const seg_stat *piece, int n) {
  seg_stat st = {-INFINITY, 0.0};
  for (int k = 0; k < n; ++k) st.m = piece[k].m > st.m ? piece[k].m : st.m;
  for (int k = 0; k < n; ++k)
    if (piece[k].m != -INFINITY) st.s += piece[k].s * exp((double)piece[k].m - (double)st.m);
  return st;
}

void em_softmax_cpu(const float *x, float *z, int64_t b, int64_t t) {
  if (b <= 0 || t <= 0) return;
  if (b * t < PARALLEL_FROM) {
    rows_pipelined(x, z, 0, b, t); /* t < PARALLEL_FROM ≤ STORE_MAX */
    return;
  }
  int want = 1;
#if defined(_OPENMP)
  want = omp_get_max_threads();
#endif
  if (want > MAX_THREADS) want = MAX_THREADS;
  /* Statistics of the pieces of a split row; two sets, so that a thread may start on the next row
   * while another still combines this one (the next barrier keeps them at most one row apart). */
  seg_stat piece[2][MAX_THREADS];
  /* The streaming way, decided once per call: a scratch row per thread, whole 64-byte lines (x is
   * read once and z written once: half of the traffic is writes, a copy for em_cpu_stream_stores).
   * Only the pipelined rows use it, so only rows they can take; without the memory, the plain way. */
  const int64_t stride = (t + 15) / 16 * 16;
  float *scratch = NULL;
  if (HAVE_STREAM && t <= STORE_LONG_MAX && em_cpu_stream_stores((size_t)(b * t) * sizeof *z, 0.5))
    scratch = aligned_alloc(64, (size_t)(want * stride) * sizeof *scratch);
#pragma omp parallel num_threads(want)
  {
    int nt = 1, tid = 0;
#if defined(_OPENMP)
    nt = omp_get_num_threads();
    tid = omp_get_thread_num();
#endif
    const int64_t limit = store_limit(nt);
    int64_t whole = t < SPLIT_FROM ? b : b / nt * nt; /* rows done by one thread each */
    if (t <= limit)
      rows_pipelined_via(x, z, whole * tid / nt, whole * (tid + 1) / nt, t, scratch ? scratch + tid * stride : NULL);
    else
      for (int64_t i = whole * tid / nt; i < whole * (tid + 1) / nt; ++i) softmax_long_row(x + i * t, z + i * t, t);

    int64_t grains = (t + GRAIN - 1) / GRAIN;
    int64_t lo = grains * tid / nt * GRAIN, hi = grains * (tid + 1) / nt * GRAIN;
    if (hi > t) hi = t;
    if (lo > hi) lo = hi;
    const int64_t len = hi - lo;
    const int store = len <= limit; /* each piece picks its way; both leave a (max, sum) */
    for (int64_t i = whole; i < b; ++i) {
      const float *xp = x + i * t + lo;
      float *zp = z + i * t + lo;
      float bm[STORE_LONG_MAX / BLK];
      seg_stat *mine = piece[(i - whole) & 1];
      mine[tid] = segment_stats(xp, zp, len, store, bm);
#pragma omp barrier
      seg_stat row = combine(mine, nt);
      segment_write(xp, zp, len, store, bm, row.m, row.s);
    }
  }
  free(scratch);
}
