/* Lab 5 reference, CPU: z[i] = Σ_j x[i][j].
 *
 * 4 bytes read per element for one addition: 0.25 FLOP/byte, far below the machine's balance, so
 * the goal is to run at memory bandwidth, in an order accurate enough for the tolerance. Three
 * things stand in the way, and each has its fix here:
 *
 *   - One dependent chain of additions runs at one add per 4 cycles (the latency of vaddss), about
 *     2.5 GB/s on a 2.5 GHz core: too slow by far. Fix: 8 independent SIMD accumulators of 8 lanes
 *     (64 chains), so a core issues two vector adds per cycle and waits only for memory.
 *   - A long chain, even split 64 ways, is inaccurate: each accumulator's error grows like the
 *     square root of its length (harness/specs/sum.c). Fix: the accumulators only ever see a leaf
 *     of 256 elements (4 vectors each); leaf sums are combined pairwise by a binary counter
 *     (cascade summation), so every element passes through at most ⌈log2 t⌉ + 4 roundings, whatever
 *     t is, at the cost of one horizontal reduction per 1 KiB read.
 *   - Rows may be few and long (b = 1, t = 2^25) or many and short (b = 2^20, t = 7). Fix: the
 *     b·t elements are split into one contiguous range per thread regardless of rows; a thread
 *     writes z[i] for the rows wholly inside its range and leaves a partial sum for the (at most
 *     two) rows it shares with a neighbour, combined pairwise after the parallel region. Every
 *     thread streams one contiguous range, as in lab 1, and the load is balanced for any b and t.
 *
 * Deterministic: the order depends only on b, t and the number of threads.
 *
 * What this reaches beside a copy, with and without the software prefetch below, and in cache:
 * labs/lab5-sum/README.md, section 4, and BENCHMARKS.md.
 */
#include "em/sum.h"

#include <stdint.h>
#include <string.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

/* Below this many elements (128 KiB of input) one core finishes before sleeping threads would
 * have woken up (the same measurement as lab 1's). */
#define PARALLEL_FROM ((int64_t)1 << 15)

/* Thread ranges are multiples of 64 elements (256 bytes): each starts on a cache line when x
 * does, so no line is fetched by two cores. */
#define SLICE_GRAIN 64

/* The leaf: NACC accumulators × 8 lanes × 4 vectors deep = 256 elements. Four deep keeps the
 * sequential part of every chain at 4 additions; 8 accumulators are enough independent chains
 * to hide the add latency (4 cycles × 2 adds per cycle) with 8 of the 16 vector registers. */
#define NACC 8
#define LEAF (NACC * 8 * 4)

/* Software prefetch of x, 2 KiB ahead of the leaf being summed, into L1 (hint 3). A core keeps
 * only about a dozen demand misses in flight, too few to fill its share of the memory bandwidth
 * with reads alone; the prefetches add more (what they gained, and the distances and hints tried:
 * labs/lab5-sum/README.md, section 4). */
#define PREFETCH_AHEAD 512
#define LINE_FLOATS 16

/* Rows this short are summed with one scalar chain: at most 7 additions, within the tolerance's
 * slack whatever the values, and far cheaper per row than a leaf (b = 2^20 rows of t = 7). */
#define SHORT_ROW 8

/* The most threads one call uses: the partials of split rows live on the stack. */
#define MAX_THREADS 256

/* These vector types travel only between this file's static inline helpers, never across an
 * external function's boundary: GCC's note that passing them changes the ABI where the machine
 * lacks the registers (-Wpsabi, an error under -Werror with -march=native on such a CPU) is moot. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
/* 8 floats; GCC and Clang map it to one AVX register (two SSE or NEON registers elsewhere). */
typedef float v8 __attribute__((vector_size(32)));

static inline v8 load8(const float *p) {
  v8 v;
  memcpy(&v, p, sizeof v); /* an unaligned load (vmovups): rows start anywhere when t % 8 != 0 */
  return v;
}

/* Σ x[0..n), 1 ≤ n ≤ LEAF: NACC vector chains of at most 4 additions, then a tree over the
 * accumulators (3 levels) and over the 8 lanes (3 levels). */
static float leaf_sum(const float *restrict x, int n) {
  v8 acc[NACC] = {{0}};
  int nv = n / 8, k = 0;
  for (; k + NACC <= nv; k += NACC)
    for (int a = 0; a < NACC; ++a) acc[a] += load8(x + 8 * (k + a));
  for (int a = 0; k < nv; ++k, ++a) acc[a] += load8(x + 8 * k);
  int rest = n - 8 * nv;
  if (rest > 0) { /* the ragged end, zero-padded into the next accumulator in turn */
    float pad[8] = {0};
    memcpy(pad, x + 8 * nv, (size_t)rest * sizeof(float));
    acc[nv % NACC] += load8(pad);
  }
  for (int h = NACC / 2; h > 0; h /= 2)
    for (int a = 0; a < h; ++a) acc[a] += acc[a + h];
  float l[8];
  memcpy(l, &acc[0], sizeof l);
  return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

/* Σ x[0..n), n ≥ 1: leaves combined pairwise by a binary counter. stack[k] holds the sum of 2^k
 * leaves while bit k of `count` (the leaves done so far) is set; a new leaf merges with every full
 * level below the first empty one, as in incrementing a binary number. The leftovers are added
 * smallest first at the end. Depth: a leaf's 9, plus at most ⌈log2(n / LEAF)⌉ + 1. */
static float cascade_sum(const float *restrict x, int64_t n) {
  if (n <= LEAF) return leaf_sum(x, (int)n);
  float stack[64];
  uint64_t count = 0;
  for (int64_t i = 0; i < n; i += LEAF) {
    /* The leaf PREFETCH_AHEAD elements on, one prefetch per line (kept inside the segment: a
     * pointer past the end of an array is undefined behaviour in C, prefetch or not). */
    for (int64_t k = i + PREFETCH_AHEAD; k < i + PREFETCH_AHEAD + LEAF && k < n; k += LINE_FLOATS)
      __builtin_prefetch(x + k, 0, 3);
    float v = leaf_sum(x + i, n - i < LEAF ? (int)(n - i) : LEAF);
    int lv = 0;
    for (uint64_t c = count; c & 1; c >>= 1, ++lv) v = stack[lv] + v;
    stack[lv] = v;
    count++;
  }
  float s = 0.0f;
  int first = 1;
  for (int lv = 0; count; ++lv, count >>= 1)
    if (count & 1) {
      s = first ? stack[lv] : s + stack[lv];
      first = 0;
    }
  return s;
}

static float segment_sum(const float *restrict x, int64_t n) {
  if (n <= SHORT_ROW) {
    float s = x[0];
    for (int64_t j = 1; j < n; ++j) s += x[j];
    return s;
  }
  return cascade_sum(x, n);
}

/* Pairwise sum of a few floats (the partials of one split row, in row order). */
static float pairwise(const float *v, int n) {
  if (n == 1) return v[0];
  return pairwise(v, n / 2) + pairwise(v + n / 2, n - n / 2);
}

/* What one thread leaves for a row it shares with a neighbour. */
typedef struct partial {
  int64_t row; /* -1: none */
  float sum;
} partial;

void em_sum_cpu(const float *x, float *z, int64_t b, int64_t t) {
  if (b <= 0) return;
  if (t <= 0) {
    memset(z, 0, (size_t)b * sizeof *z);
    return;
  }
  int64_t n = b * t;
  if (n < PARALLEL_FROM) {
    for (int64_t i = 0; i < b; ++i) z[i] = segment_sum(x + i * t, t);
    return;
  }
  int nt = 1;
#if defined(_OPENMP)
  nt = omp_get_max_threads();
  if (nt > MAX_THREADS) nt = MAX_THREADS;
#endif
  (void)nt; /* only the pragmas read it: a build without OpenMP must not call it unused */
  /* [2k]: thread k's first row, if it starts inside it; [2k + 1]: its last, if it ends inside it. */
  partial parts[2 * MAX_THREADS];
  int used = 1;
#pragma omp parallel num_threads(nt)
  {
    int k = 0, nk = 1;
#if defined(_OPENMP)
    k = omp_get_thread_num();
    nk = omp_get_num_threads();
#pragma omp single nowait
    used = nk;
#endif
    int64_t grains = (n + SLICE_GRAIN - 1) / SLICE_GRAIN;
    int64_t lo = grains * k / nk * SLICE_GRAIN, hi = grains * (k + 1) / nk * SLICE_GRAIN;
    if (hi > n) hi = n;
    parts[2 * k].row = parts[2 * k + 1].row = -1;
    int64_t r = lo / t;
    if (lo < hi && (lo > r * t || hi < (r + 1) * t)) { /* starts (or ends) inside row r */
      int64_t e = (r + 1) * t < hi ? (r + 1) * t : hi;
      parts[2 * k] = (partial){r, segment_sum(x + lo, e - lo)};
      r++;
    }
    for (; (r + 1) * t <= hi; ++r) z[r] = segment_sum(x + r * t, t); /* whole rows */
    if (r * t < hi && r * t >= lo) parts[2 * k + 1] = (partial){r, segment_sum(x + r * t, hi - r * t)};
  }
  /* Rows shared by threads: their partials are in thread order, which is row order and, within a
   * row, position order. Combine each row's run pairwise. */
  float run[2 * MAX_THREADS];
  int len = 0;
  int64_t row = -1;
  for (int p = 0; p <= 2 * used; ++p) {
    int64_t r = p < 2 * used ? parts[p].row : -2;
    if (r == -1) continue;
    if (r != row && len > 0) {
      z[row] = pairwise(run, len);
      len = 0;
    }
    if (r == -2) break;
    row = r;
    run[len++] = parts[p].sum;
  }
}
