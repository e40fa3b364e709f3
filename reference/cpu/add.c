/* Lab 1 reference, CPU: z[i] = x[i] + c.
 *
 * 8 bytes move per element (4 read, 4 written) for one FLOP: 0.125 FLOP/byte, far below any CPU's
 * balance point, so the only goal is to run at memory bandwidth:
 *   - every core streams its own contiguous slice (OpenMP static schedule: the same threads touch
 *     the same pages every call, and each hardware prefetcher sees one long sequential stream);
 *   - SIMD loads and stores (the compiler vectorises the plain loop under `omp simd`);
 *   - small n on one core: waking the other threads costs more than the whole loop;
 *   - the stores picked by measuring the machine. A plain store to a line that is not in the cache
 *     first reads the line (read for ownership), so a plain copy moves z's bytes twice. A
 *     non-temporal (streaming) store skips that read and writes whole lines to memory through the
 *     core's write-combining buffers; but a core has only a handful of those, and whether they
 *     drain faster than plain stores depends on the memory system: faster on some machines,
 *     slower on others (the README has the numbers of the course's Intel and AMD VMs). So the
 *     reference asks em_cpu_stream_stores (em/stores.h), which answers from the machine's measured
 *     peaks, and streams only where that was faster for a copy and z is larger than half the
 *     last-level cache (a smaller z is still in the cache for whoever reads it next: plain stores
 *     win there).
 */
#include "em/add.h"

#include <stdint.h>
#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/stores.h"
#include "stream.h"

/* Below this many elements (128 KiB of input) one core finishes before sleeping threads would
 * have woken up: starting a parallel region costs microseconds, the whole loop less. */
#define PARALLEL_FROM ((int64_t)1 << 15)

/* Slices are multiples of 64 elements (256 bytes), so only the last slice has a ragged end and
 * every slice starts on a cache line when z does: no line is written by two cores. */
#define SLICE_GRAIN 64

/* One 64-byte cache line of floats: the unit a streaming store should write whole. */
#define LINE_FLOATS 16

/* Lab 1 moves 4 bytes in and 4 out per element: half of its traffic is writes (a copy, for
 * em_cpu_stream_stores). */
#define WRITE_SHARE 0.5

static void add_simd(const float *restrict x, float c, float *restrict z, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

#if defined(__AVX512F__) || defined(__AVX__)
#define HAVE_STREAM 1
/* The same loop with non-temporal stores of whole cache lines: plain stores up to z's first
 * 64-byte boundary (a streaming store needs an aligned address, and a line written half by each
 * kind would be read for ownership anyway), then one line per step, then the ragged tail plainly.
 * x is loaded unaligned: its alignment relative to z's is the caller's. Each thread calls this once
 * for its whole slice, so the fence at the end closes the thread's work. */
static void add_stream(const float *restrict x, float c, float *restrict z, int64_t n) {
  int64_t head = em__floats_to_line(z, n);
  add_simd(x, c, z, head);
  int64_t i = head;
#if defined(__AVX512F__)
  const __m512 vc = _mm512_set1_ps(c);
  for (; i + LINE_FLOATS <= n; i += LINE_FLOATS)
    _mm512_stream_ps(z + i, _mm512_add_ps(_mm512_loadu_ps(x + i), vc));
#else /* AVX: two 8-float stores fill one line */
  const __m256 vc = _mm256_set1_ps(c);
  for (; i + LINE_FLOATS <= n; i += LINE_FLOATS) {
    _mm256_stream_ps(z + i, _mm256_add_ps(_mm256_loadu_ps(x + i), vc));
    _mm256_stream_ps(z + i + 8, _mm256_add_ps(_mm256_loadu_ps(x + i + 8), vc));
  }
#endif
  add_simd(x + i, c, z + i, n - i);
  /* Streaming stores are weakly ordered: they must reach memory before the parallel region ends
   * and the caller (or another thread) reads z. */
  _mm_sfence();
}
#else
/* No streaming stores in this build: `stream` below is always 0, and this stand-in never runs. */
#define HAVE_STREAM 0
#define add_stream add_simd
#endif

void em_add_a_cpu(const float *x, float c, float *z, int64_t n) { add_simd(x, c, z, n); }

void em_add_b_cpu(const float *x, float c, float *z, int64_t n) {
  /* Not `omp parallel if (...)`: even a team of one costs libgomp half a microsecond. */
  if (n < PARALLEL_FROM) {
    add_simd(x, c, z, n);
    return;
  }
  /* Decided once per call, before the threads start: every thread stores the same way. */
  const int stream = HAVE_STREAM && em_cpu_stream_stores((size_t)n * sizeof *z, WRITE_SHARE);
#pragma omp parallel
  {
    int nt = 1, t = 0;
#if defined(_OPENMP)
    nt = omp_get_num_threads();
    t = omp_get_thread_num();
#endif
    int64_t grains = (n + SLICE_GRAIN - 1) / SLICE_GRAIN;
    int64_t lo = grains * t / nt * SLICE_GRAIN, hi = grains * (t + 1) / nt * SLICE_GRAIN;
    if (hi > n) hi = n;
    if (lo < hi) {
      if (stream)
        add_stream(x + lo, c, z + lo, hi - lo);
      else
        add_simd(x + lo, c, z + lo, hi - lo);
    }
  }
}
