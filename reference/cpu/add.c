/* Lab 1 reference, CPU: z[i] = x[i] + c.
 *
 * 8 bytes move per element (4 read, 4 written) for one FLOP: 0.125 FLOP/byte, far below any CPU's
 * balance point, so the only goal is to run at memory bandwidth:
 *   - every core streams its own contiguous slice (OpenMP static schedule: the same threads touch
 *     the same pages every call, and each hardware prefetcher sees one long sequential stream);
 *   - SIMD loads and stores (the compiler vectorises the plain loop under `omp simd`);
 *   - small n on one core: waking the other threads costs more than the whole loop.
 * Streaming (non-temporal) stores, which skip the read-for-ownership of each destination line, were
 * measured and dropped: on the course machine (a 2-vCPU Xeon VM) they ran at 19.7 GB/s against
 * 22.4 GB/s for plain stores at n = 2^26. The lab's README shows how to try them on yours.
 */
#include "em/add.h"

#include <stdint.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

/* Below this many elements (128 KiB of input) one core finishes before sleeping threads would
 * have woken up: starting a parallel region costs microseconds, the whole loop less. */
#define PARALLEL_FROM ((int64_t)1 << 15)

/* Slices are multiples of 64 elements (256 bytes), so only the last slice has a ragged end and
 * every slice starts on a cache line when z does: no line is written by two cores. */
#define SLICE_GRAIN 64

static void add_simd(const float *restrict x, float c, float *restrict z, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

void em_add_a_cpu(const float *x, float c, float *z, int64_t n) { add_simd(x, c, z, n); }

void em_add_b_cpu(const float *x, float c, float *z, int64_t n) {
  /* Not `omp parallel if (...)`: even a team of one costs libgomp half a microsecond. */
  if (n < PARALLEL_FROM) {
    add_simd(x, c, z, n);
    return;
  }
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
    if (lo < hi) add_simd(x + lo, c, z + lo, hi - lo);
  }
}
