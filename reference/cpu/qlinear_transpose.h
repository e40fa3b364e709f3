/* Lab 8, CPU (internal to libem and its benchmarks): the 16 × 16 transposition of 32-bit elements in
 * AVX-512 registers with which the VNNI forward packs x and turns its accumulators around
 * (reference/cpu/qlinear.c), and bench/qlinear_amx.h's variant does the same. x86-64 only; the
 * caller's function needs AVX-512 F and BW too (inlined into it). */
#ifndef EM_REFERENCE_CPU_QLINEAR_TRANSPOSE_H
#define EM_REFERENCE_CPU_QLINEAR_TRANSPOSE_H

#include <immintrin.h>

/* v[i] lane j becomes v[j] lane i. */
static inline __attribute__((always_inline, target("avx512f,avx512bw"))) void em__transpose16(__m512i v[16]) {
  __m512i t[16], u[16];
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
  }
  /* u[4m + c], in each 128-bit lane L: rows 4m..4m+3 of column 4L + c */
#pragma GCC unroll 4
  for (int m = 0; m < 16; m += 4) {
    u[m] = _mm512_unpacklo_epi64(t[m], t[m + 2]);
    u[m + 1] = _mm512_unpackhi_epi64(t[m], t[m + 2]);
    u[m + 2] = _mm512_unpacklo_epi64(t[m + 1], t[m + 3]);
    u[m + 3] = _mm512_unpackhi_epi64(t[m + 1], t[m + 3]);
  }
  /* column 4L + c is lane L of u[c], u[4 + c], u[8 + c], u[12 + c]: transpose those 128-bit lanes */
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512i a01 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44), a23 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
    const __m512i b01 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
    const __m512i b23 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
    v[c] = _mm512_shuffle_i32x4(a01, b01, 0x88);
    v[4 + c] = _mm512_shuffle_i32x4(a01, b01, 0xDD);
    v[8 + c] = _mm512_shuffle_i32x4(a23, b23, 0x88);
    v[12 + c] = _mm512_shuffle_i32x4(a23, b23, 0xDD);
  }
}

#endif /* EM_REFERENCE_CPU_QLINEAR_TRANSPOSE_H */
