/* Lab 3 reference, CPU: z[i][j] = max(x[j] · y[i], 0), fused.
 *
 * Per element of z: one multiply, one max and a 4-byte store; x (n floats) is re-read for every row
 * but stays in L1/L2 (32 KiB for n = 8192), so memory sees almost nothing but the write stream of z.
 * 0.5 FLOP/byte: memory-bound, and the only goal is to write z at the machine's write bandwidth.
 *   - One pass, no temporary: the naive baseline's temporary triples the traffic.
 *   - Every thread writes one contiguous slice of z (whole 64-byte lines, so no line is shared
 *     between cores), walking it row segment by row segment: one stream per core for the hardware,
 *     and any shape (m = 1, n = 1, ragged) splits evenly.
 *   - SIMD: the inner loop is 16 floats (one cache line) under `omp simd`: two 8-wide multiplies
 *     and maxes per line.
 *   - A software write-prefetch (PREFETCHW, via __builtin_prefetch(p, 1, ...)) of the line 4 KiB
 *     ahead. A plain store that misses the cache first reads the line (read-for-ownership), and on
 *     a write-only stream the core's few outstanding misses, not DRAM, set the pace; asking for the
 *     lines early keeps more of them in flight. Measured on the course VM (2 vCPU Xeon, m = n = 8192,
 *     2 threads): 16.2 GB/s without the prefetch, 19.4-20.2 GB/s with it 1 to 4 KiB ahead,
 *     against a copy bandwidth of 22 GB/s.
 *   - Streaming (non-temporal) stores, which skip the read-for-ownership altogether, where they are
 *     measured faster. Each one holds a write-combining buffer until memory takes its line, and a
 *     core has only ten or so: on the course's Intel VM that made them the slowest option measured,
 *     on its AMD VM the fastest. So the reference asks em_cpu_stream_stores (em/stores.h), which
 *     answers from the machine's measured peaks, and streams only where that was faster for writing
 *     and z is larger than half the last-level cache (a smaller z is still in the cache for whoever
 *     reads it next: plain stores win there). The README has the numbers of both machines.
 *   - Small outputs on one core: waking the other thread costs more than the whole loop.
 */
#include "em/relu_mul.h"

#include <stdint.h>
#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/stores.h"
#include "stream.h"

/* Below this many elements of z (128 KiB) one core finishes before a sleeping thread would have
 * woken up (the threshold lab 1 measured for the same machine). */
#define PARALLEL_FROM ((int64_t)1 << 15)

/* One cache line of floats: the unit of the inner loop, of the prefetch and of the slices. */
#define LINE 16

/* How far ahead the write-prefetch runs, in floats: 1024 floats = 4 KiB, about two microseconds of
 * one core's writing at 10 GB/s, several times a DRAM round trip, so a line asked for is in the cache
 * before the store reaches it. 1 KiB and 4 KiB measured alike; 8 KiB and beyond a little slower. */
#define AHEAD 1024

/* Row i's columns [j, j + len): x starts at x[j], out at z[i*n + j], whose flat index is e; hi ends
 * the calling thread's slice, which the prefetches stay inside (the slice is contiguous across row
 * ends, so `out + AHEAD` may lie in a later row: that is the line the thread will write then). */
static void row_segment(const float *restrict x, float yi, float *restrict out, int64_t len, int64_t e,
                        int64_t hi) {
  int64_t c = 0;
  for (; c + LINE <= len; c += LINE) {
    if (e + c + AHEAD < hi) __builtin_prefetch(out + c + AHEAD, 1, 3);
#pragma omp simd
    for (int k = 0; k < LINE; ++k) {
      float v = x[c + k] * yi;
      out[c + k] = v > 0.0f ? v : 0.0f;
    }
  }
  for (; c < len; ++c) {
    float v = x[c] * yi;
    out[c] = v > 0.0f ? v : 0.0f;
  }
}

/* The flat range [lo, hi) of z, row segment by row segment. A column (n = 1) is one plain SIMD loop
 * over y instead: a loop per one-element row costs several times the element. */
static void relu_mul_range(const float *restrict x, const float *restrict y, float *restrict z, int64_t n,
                           int64_t lo, int64_t hi) {
  if (n == 1) {
    row_segment(y + lo, x[0], z + lo, hi - lo, lo, hi);
    return;
  }
  int64_t i = lo / n, j = lo - i * n;
  for (int64_t e = lo; e < hi; ++i, j = 0) {
    int64_t len = n - j < hi - e ? n - j : hi - e;
    row_segment(x + j, y[i], z + e, len, e, hi);
    e += len;
  }
}

/* ---- streaming stores (where the machine writes faster with them) ---------------------------- */

/* Rows shorter than this (1 KiB) keep the plain path even where streaming wins: each row segment's
 * unaligned head and ragged tail are written with plain stores, and in a row of fewer than 16
 * lines they would be a large share of it. A column (n = 1) is one long segment, so it streams. */
#define STREAM_ROW 256

#if defined(__AVX512F__) || defined(__AVX__)
#define HAVE_STREAM 1
static void segment_plain(const float *restrict x, float yi, float *restrict out, int64_t from, int64_t to) {
#pragma omp simd
  for (int64_t c = from; c < to; ++c) {
    float v = x[c] * yi;
    out[c] = v > 0.0f ? v : 0.0f;
  }
}

/* row_segment with non-temporal stores of whole cache lines: plain stores up to out's first 64-byte
 * boundary (a streaming store needs an aligned address, and a line written half by each kind would
 * be read for ownership anyway), one line per step, the ragged tail plainly. No prefetch: nothing
 * is read for ownership. max(v, 0) is the same ReLU as `v > 0 ? v : 0` (0 for -0 and for NaN). */
static void segment_stream(const float *restrict x, float yi, float *restrict out, int64_t len) {
  int64_t head = em__floats_to_line(out, len);
  segment_plain(x, yi, out, 0, head);
  int64_t c = head;
#if defined(__AVX512F__)
  const __m512 vy = _mm512_set1_ps(yi), zero = _mm512_setzero_ps();
  for (; c + LINE <= len; c += LINE)
    _mm512_stream_ps(out + c, _mm512_max_ps(_mm512_mul_ps(_mm512_loadu_ps(x + c), vy), zero));
#else /* AVX: two 8-float stores fill one line */
  const __m256 vy = _mm256_set1_ps(yi), zero = _mm256_setzero_ps();
  for (; c + LINE <= len; c += LINE) {
    _mm256_stream_ps(out + c, _mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c), vy), zero));
    _mm256_stream_ps(out + c + 8, _mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c + 8), vy), zero));
  }
#endif
  segment_plain(x, yi, out, c, len);
}

/* relu_mul_range with streaming stores: the same walk. Each thread calls it once for its slice, so
 * the fence at the end closes the thread's work. */
static void relu_mul_range_stream(const float *restrict x, const float *restrict y, float *restrict z, int64_t n,
                                  int64_t lo, int64_t hi) {
  if (n == 1) {
    segment_stream(y + lo, x[0], z + lo, hi - lo);
  } else {
    int64_t i = lo / n, j = lo - i * n;
    for (int64_t e = lo; e < hi; ++i, j = 0) {
      int64_t len = n - j < hi - e ? n - j : hi - e;
      segment_stream(x + j, y[i], z + e, len);
      e += len;
    }
  }
  /* Streaming stores are weakly ordered: they must reach memory before the parallel region ends
   * and the caller (or another thread) reads z. */
  _mm_sfence();
}
#else
/* No streaming stores in this build: `stream` below is always 0, and this stand-in never runs. */
#define HAVE_STREAM 0
#define relu_mul_range_stream relu_mul_range
#endif

/* Whether this call streams. z (m·n floats) is nearly all the traffic: x and y are read once from
 * memory, so the written share is m·n / (m·n + m + n), about 1: a write-only loop. */
static int use_stream(int64_t m, int64_t n) {
  if (!HAVE_STREAM || (n != 1 && n < STREAM_ROW)) return 0;
  double out = (double)m * (double)n;
  return em_cpu_stream_stores((size_t)(m * n) * sizeof(float), out / (out + (double)m + (double)n));
}

/* ---- the entry point ------------------------------------------------------------------------ */

void em_relu_mul_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return;
  int64_t total = m * n;
  /* A plain `if`, not `omp parallel if (...)`: even a team of one costs libgomp half a microsecond. */
  if (total < PARALLEL_FROM) {
    relu_mul_range(x, y, z, n, 0, total);
    return;
  }
  /* Decided once per call, before the threads start: every thread stores the same way. */
  const int stream = use_stream(m, n);
#pragma omp parallel
  {
    int nt = 1, t = 0;
#if defined(_OPENMP)
    nt = omp_get_num_threads();
    t = omp_get_thread_num();
#endif
    /* Slices of whole lines: only the last one has a ragged end. */
    int64_t lines = (total + LINE - 1) / LINE;
    int64_t lo = lines * t / nt * LINE, hi = lines * (t + 1) / nt * LINE;
    if (hi > total) hi = total;
    if (lo < hi) {
      if (stream)
        relu_mul_range_stream(x, y, z, n, lo, hi);
      else
        relu_mul_range(x, y, z, n, lo, hi);
    }
  }
}
