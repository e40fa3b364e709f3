/* Lab 2 reference, CPU: z[i][j] = x[j] + y[i].
 *
 * 4 bytes are written per element of z for one FLOP, and x and y (n + m floats) are read once
 * from memory and then from cache: 0.25 FLOP/byte, far below any CPU's balance point. The only goal
 * is to write z at memory bandwidth:
 *   - z is split as one flat array of m·n elements, one contiguous slice per thread (rows would
 *     leave a core idle when m is small: m = 3, n = 10^6 has three rows for two cores); a thread
 *     walks its slice row segment by row segment, and within a row the loop is SIMD over x;
 *   - software prefetch of z, 2 KiB ahead of the stores. A store to a line that is not in cache
 *     first reads the line (read-for-ownership); on the course VM a core keeps too few of those
 *     reads in flight to saturate memory, and the hardware prefetchers do little for a stream of
 *     stores. Prefetching the lines (with write intent where the CPU has PREFETCHW) keeps more in
 *     flight. Measured on the course VM (2 vCPU Xeon, 2 threads, m = n = 4096, best of 8):
 *     plain stores 16.4-17.2 GB/s, with the prefetch 21-22 GB/s, against 21.7-22.7 GB/s of copy;
 *   - streaming (non-temporal) stores, which skip the read-for-ownership altogether, where they are
 *     measured faster. On the course's Intel VM they were slower than plain stores (a core holds
 *     only a dozen of them in flight, in its write-combining buffers, and each waits for memory);
 *     on its AMD VM they were faster than plain stores with the prefetch. So the reference asks
 *     em_cpu_stream_stores (em/stores.h), which answers from the machine's measured peaks, and
 *     streams only where that was faster for writing and z is larger than half the last-level
 *     cache (a smaller z is still in the cache for whoever reads it next: plain stores win there);
 *   - small outputs on one core: waking the other threads costs more than the whole loop;
 *   - rows of 1 to 3 floats in one flat scalar loop, without a SIMD loop's set-up per row.
 * The lab's README shows how to repeat these measurements.
 */
#include "em/outer_add.h"

#include <stdint.h>
#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/stores.h"
#include "stream.h"

/* Below this many elements of z (128 KiB) one core finishes before sleeping threads would have
 * woken up: starting a parallel region costs microseconds, the whole loop less. */
#define PARALLEL_FROM ((int64_t)1 << 15)

/* Slices are multiples of 64 elements (256 bytes), so every slice starts on a cache line when z
 * does and no line is written by two cores. */
#define SLICE_GRAIN 64

/* One prefetch per 64-byte cache line of z (16 floats)... */
#define LINE_FLOATS 16
/* ...512 floats (2 KiB, 32 lines) ahead of the stores: far enough to cover the memory latency at
 * this store rate, near enough that the lines are still in L1/L2 when the stores arrive. 1 KiB to
 * 4 KiB measured alike on the course VM; 256 bytes was too short. */
#define PREFETCH_AHEAD 512

/* Rows shorter than one 16-byte vector are written by one flat scalar loop over z: a SIMD loop
 * per row would be all set-up and scalar remainder. Measured on the course VM, one thread: m = 32,
 * n = 1 takes 32 ns this way against 76-119 ns row by row; 100000 x 3, 0.39 ms against 0.47-0.83;
 * from n = 7 on, the row loop wins (114-162 ns against 171 ns for 32 x 7). */
#define SHORT_ROW 4

/* z[k] for k in [lo, hi), walking (i, j) along without a division per element. */
static void outer_range_short(const float *restrict x, const float *restrict y, float *restrict z, int64_t n,
                              int64_t lo, int64_t hi) {
  int64_t i = lo / n, j = lo % n;
  float yi = y[i];
  for (int64_t k = lo; k < hi; ++k) {
    z[k] = x[j] + yi;
    if (++j == n) {
      j = 0;
      if (k + 1 < hi) yi = y[++i];
    }
  }
}

/* Writes z[k] for k in [lo, hi) of the flat m×n array. Prefetches stay inside [lo, hi): a
 * prefetch never faults, but a pointer past the end of an array is undefined behaviour in C. */
static void outer_range(const float *restrict x, const float *restrict y, float *restrict z, int64_t n,
                        int64_t lo, int64_t hi) {
  if (n < SHORT_ROW) {
    outer_range_short(x, y, z, n, lo, hi);
    return;
  }
  int64_t i = lo / n, j = lo % n;
  for (int64_t k = lo; k < hi; ++i, j = 0) {
    int64_t len = n - j < hi - k ? n - j : hi - k; /* the rest of row i, or of the slice */
    const float yi = y[i];
    const float *restrict xr = x + j;
    float *restrict zr = z + k;
    /* Whole lines in a loop of a fixed 16 iterations, which gcc turns into one vector store with
     * no remainder code; the row's last partial line after it. Clamping each line's end to the
     * row instead (one loop for all) cost 15-25% here: the variable trip count made gcc emit a
     * masked loop with its set-up for every line. */
    int64_t c = 0;
    for (; c + LINE_FLOATS <= len; c += LINE_FLOATS) {
      if (k + c + PREFETCH_AHEAD < hi) __builtin_prefetch(zr + c + PREFETCH_AHEAD, 1, 3);
#pragma omp simd
      for (int64_t t = 0; t < LINE_FLOATS; ++t) zr[c + t] = xr[c + t] + yi;
    }
#pragma omp simd
    for (int64_t t = c; t < len; ++t) zr[t] = xr[t] + yi;
    k += len;
  }
}

/* ---- streaming stores (where the machine writes faster with them) ---------------------------- */

/* Rows shorter than this (1 KiB) keep the plain path even where streaming wins: each row segment's
 * unaligned head and ragged tail are written with plain stores, and in a row of fewer than 16
 * lines they would be a large share of it. */
#define STREAM_ROW 256

#if defined(__AVX512F__) || defined(__AVX__)
#define HAVE_STREAM 1
static void row_plain(const float *restrict xr, float yi, float *restrict zr, int64_t from, int64_t to) {
#pragma omp simd
  for (int64_t t = from; t < to; ++t) zr[t] = xr[t] + yi;
}

/* zr[t] = xr[t] + yi for t in [0, len) with non-temporal stores of whole cache lines: plain stores
 * up to zr's first 64-byte boundary (a streaming store needs an aligned address, and a line written
 * half by each kind would be read for ownership anyway), one line per step, the tail plainly. */
static void row_stream(const float *restrict xr, float yi, float *restrict zr, int64_t len) {
  int64_t head = em__floats_to_line(zr, len);
  row_plain(xr, yi, zr, 0, head);
  int64_t c = head;
#if defined(__AVX512F__)
  const __m512 vy = _mm512_set1_ps(yi);
  for (; c + LINE_FLOATS <= len; c += LINE_FLOATS) _mm512_stream_ps(zr + c, _mm512_add_ps(_mm512_loadu_ps(xr + c), vy));
#else /* AVX: two 8-float stores fill one line */
  const __m256 vy = _mm256_set1_ps(yi);
  for (; c + LINE_FLOATS <= len; c += LINE_FLOATS) {
    _mm256_stream_ps(zr + c, _mm256_add_ps(_mm256_loadu_ps(xr + c), vy));
    _mm256_stream_ps(zr + c + 8, _mm256_add_ps(_mm256_loadu_ps(xr + c + 8), vy));
  }
#endif
  row_plain(xr, yi, zr, c, len);
}

/* outer_range with streaming stores (n >= STREAM_ROW): the same walk, no prefetch (nothing is read
 * for ownership). Each thread calls it once for its slice, so the fence closes the thread's work. */
static void outer_range_stream(const float *restrict x, const float *restrict y, float *restrict z, int64_t n,
                               int64_t lo, int64_t hi) {
  int64_t i = lo / n, j = lo % n;
  for (int64_t k = lo; k < hi; ++i, j = 0) {
    int64_t len = n - j < hi - k ? n - j : hi - k;
    row_stream(x + j, y[i], z + k, len);
    k += len;
  }
  /* Streaming stores are weakly ordered: they must reach memory before the parallel region ends
   * and the caller (or another thread) reads z. */
  _mm_sfence();
}
#else
/* No streaming stores in this build: `stream` below is always 0, and this stand-in never runs. */
#define HAVE_STREAM 0
#define outer_range_stream outer_range
#endif

/* Whether this call streams: z (m·n floats) is written once, and x and y (n + m floats) read once
 * from memory, so the written share of the traffic is m·n / (m·n + m + n): about 1, a write. */
static int use_stream(int64_t m, int64_t n) {
  if (!HAVE_STREAM || n < STREAM_ROW) return 0;
  double out = (double)m * (double)n;
  return em_cpu_stream_stores((size_t)(m * n) * sizeof(float), out / (out + (double)m + (double)n));
}

/* ---- the entry points ----------------------------------------------------------------------- */

/* Part (a): a plain double loop, SIMD over each row (or the flat loop for rows of 1-3). */
void em_outer_add_a_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  if (n < SHORT_ROW) {
    outer_range_short(x, y, z, n, 0, m * n);
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    const float yi = y[i];
    float *restrict zr = z + i * n;
    const float *restrict xr = x;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) zr[j] = xr[j] + yi;
  }
}

void em_outer_add_b_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t total = m * n;
  if (total <= 0) return;
  /* Not `omp parallel if (...)`: even a team of one costs libgomp half a microsecond. */
  if (total < PARALLEL_FROM) {
    outer_range(x, y, z, n, 0, total);
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
    int64_t grains = (total + SLICE_GRAIN - 1) / SLICE_GRAIN;
    int64_t lo = grains * t / nt * SLICE_GRAIN, hi = grains * (t + 1) / nt * SLICE_GRAIN;
    if (hi > total) hi = total;
    if (lo < hi) {
      if (stream)
        outer_range_stream(x, y, z, n, lo, hi);
      else
        outer_range(x, y, z, n, lo, hi);
    }
  }
}
