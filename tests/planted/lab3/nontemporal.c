/* Planted (lab 3, CPU): an honest, correct student file that writes z with non-temporal
 * (streaming) stores, as issue 9 reported it. Rows in parallel; each long row (n >= 4096 floats) is
 * written with plain stores up to its first 64-byte boundary, then with `_mm512_stream_ps` one
 * whole cache line at a time, then its ragged tail with plain stores; `_mm_sfence()` when a thread
 * is done, because streaming stores are weakly ordered. Short rows, and builds without AVX-512,
 * take the plain loop.
 *
 * On a machine where streaming stores write faster than plain ones (the AMD EPYC course VMs), this
 * beat a reference that used plain stores only by more than 2x at m = n = 8192. It is here to show
 * that the reference now picks its stores by measuring the machine: with the reference streaming
 * where streaming wins, this file must not beat it by more than timing noise (1.2x), and where plain
 * stores win (the Intel Xeon VMs) it is simply slower. */
#include <stdint.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "em/relu_mul.h"

/* Rows shorter than this are written with plain stores: the aligned head and ragged tail would
 * be most of the row, and a short output may still be in the cache for whoever reads it next. */
#define STREAM_ROW 4096

static void row_plain(const float *restrict x, float yi, float *restrict zr, int64_t from, int64_t to) {
#pragma omp simd
  for (int64_t j = from; j < to; ++j) {
    float v = x[j] * yi;
    zr[j] = v > 0.0f ? v : 0.0f;
  }
}

#if defined(__AVX512F__)
static void row_stream(const float *restrict x, float yi, float *restrict zr, int64_t n) {
  /* Plain stores up to the first 64-byte boundary of the row (z is float-aligned, so at most 15). */
  int64_t head = (int64_t)((64 - (uintptr_t)zr % 64) % 64) / (int64_t)sizeof(float);
  if (head > n) head = n;
  row_plain(x, yi, zr, 0, head);
  const __m512 vy = _mm512_set1_ps(yi), zero = _mm512_setzero_ps();
  int64_t j = head;
  for (; j + 16 <= n; j += 16) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + j), vy);
    _mm512_stream_ps(zr + j, _mm512_max_ps(v, zero));
  }
  row_plain(x, yi, zr, j, n);
}
#endif

void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n) {
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      float *zr = z + i * n;
#if defined(__AVX512F__)
      if (n >= STREAM_ROW) {
        row_stream(x, y[i], zr, n);
        continue;
      }
#endif
      row_plain(x, y[i], zr, 0, n);
    }
#if defined(__AVX512F__)
    _mm_sfence(); /* this thread's streaming stores reach memory before the region ends */
#endif
  }
}
