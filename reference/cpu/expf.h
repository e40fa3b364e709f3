/* The fast single-precision exp the CPU references share (softmax.c, attention.c): e^d for d ≤ 0,
 * within 1.06 ulp, vectorisable, no libm call. Internal to reference/cpu/.
 *
 *   fast_expf    one float, written so that `#pragma omp simd` loops that call it vectorise;
 *   fast_expf16  16 lanes with AVX-512 intrinsics, where the build has AVX-512;
 *   fast_expf8   8 lanes with AVX2 and FMA intrinsics, where the build has them.
 * The vector copies do the same operations in the same order, so they return the same bits as
 * fast_expf (tests/test_lab6_reference.c checks the AVX-512 copy, tests/test_lab7_reference.c the
 * AVX2 one). */
#ifndef EM_REFERENCE_CPU_EXPF_H
#define EM_REFERENCE_CPU_EXPF_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#if defined(__FMA__)
#define EM__FMAF(a, b, c) fmaf(a, b, c) /* one vfmadd instruction */
#else
#define EM__FMAF(a, b, c) ((a) * (b) + (c)) /* without FMA hardware fmaf would be a slow libm call */
#endif

/* e^d for d ≤ 0 (and −inf), to 1.06 ulp; 0 below ln(FLT_MIN). Written so that gcc vectorises it:
 * no branches (the last line is a select), no libm calls, no float-to-int conversion of values
 * that could be out of range (the integer n comes from the bits of the rounding sum instead). */
static inline float fast_expf(float d) {
  /* n = round(d / ln2): adding 1.5·2^23 pushes the fraction out of a float's 24 bits, so the sum
   * rounds d·log2(e) to an integer, which also sits in the sum's low mantissa bits. */
  const float round_magic = 0x1.8p23f;
  float big = EM__FMAF(d, 0x1.715476p+0f /* log2(e) */, round_magic);
  float n = big - round_magic;
  /* r = d − n·ln2 in two steps (Cody and Waite): ln2_hi has 12 trailing zero bits, so n·ln2_hi is
   * exact for |n| < 2^12 and so is the subtraction (d and n·ln2_hi are close); ln2_lo restores the
   * rest of ln2. |r| ≤ ln2/2 ≈ 0.347. */
  float r = d - n * 0x1.62e400p-1f;
  r = EM__FMAF(n, -0x1.7f7d1cp-20f, r);
  /* e^r = 1 + r + r²·q(r), q interpolating (e^r − 1 − r)/r² at the 5 Chebyshev nodes of
   * [−ln2/2, ln2/2] (fitted in long double, rounded to float). Keeping 1 + r exact makes the
   * result exact at r = 0 and the last rounding the largest one. */
  float q = EM__FMAF(0x1.6d10fcp-10f, r, 0x1.120b62p-7f);
  q = EM__FMAF(q, r, 0x1.55551ap-5f);
  q = EM__FMAF(q, r, 0x1.5554dep-3f);
  q = EM__FMAF(q, r, 0x1p-1f);
  float p = EM__FMAF(r * r, q, r) + 1.0f;
  /* 2^n: n + 127 in the exponent field. The low bits of `big` hold n + 0x400000 (two's
   * complement in 23 bits); unsigned arithmetic, so garbage lanes (d = −inf) wrap harmlessly. */
  uint32_t big_bits, scale_bits;
  memcpy(&big_bits, &big, sizeof big_bits);
  scale_bits = (big_bits - 0x4B400000u + 127u) << 23;
  float scale;
  memcpy(&scale, &scale_bits, sizeof scale);
  /* ln(FLT_MIN): below it e^d is subnormal and 2^n would not be a normal float. */
  return d < -0x1.5d589ep+6f ? 0.0f : p * scale;
}

#if defined(__AVX512F__)
/* fast_expf on 16 lanes at once, the same operations in the same order, so the same bits (checked
 * on every float d ≤ 0, −inf and NaN included, and +0). Why it exists: gcc's vectorisation of
 * fast_expf masks every step with the final select and adds register copies. Written out, in the
 * fixed-trip loop of softmax.c's exp_store, the exp-and-sum sweep is 29 instructions per 16 elements (what
 * that gained: lab 6's README, section 4). */
static inline __m512 fast_expf16(__m512 d) {
  const __m512 round_magic = _mm512_set1_ps(0x1.8p23f);
  __m512 big = _mm512_fmadd_ps(d, _mm512_set1_ps(0x1.715476p+0f), round_magic);
  __m512 n = _mm512_sub_ps(big, round_magic);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e400p-1f), d); /* n·ln2_hi is exact: = d − n·ln2_hi */
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), r);
  __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(0x1.6d10fcp-10f), r, _mm512_set1_ps(0x1.120b62p-7f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0x1.55551ap-5f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0x1.5554dep-3f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0x1p-1f));
  __m512 p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(r, r), q, r), _mm512_set1_ps(1.0f));
  __m512i scale = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_castps_si512(big), _mm512_set1_epi32(0x4B400000 - 127)), 23);
  /* d < ln(FLT_MIN) → 0; "not less than", unordered true, keeps a NaN d a NaN as fast_expf does */
  __mmask16 keep = _mm512_cmp_ps_mask(d, _mm512_set1_ps(-0x1.5d589ep+6f), _CMP_NLT_UQ);
  return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(scale));
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
/* fast_expf on 8 lanes (AVX2 machines without AVX-512), the same operations as fast_expf16. */
static inline __m256 fast_expf8(__m256 d) {
  const __m256 round_magic = _mm256_set1_ps(0x1.8p23f);
  __m256 big = _mm256_fmadd_ps(d, _mm256_set1_ps(0x1.715476p+0f), round_magic);
  __m256 n = _mm256_sub_ps(big, round_magic);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e400p-1f), d);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), r);
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(0x1.6d10fcp-10f), r, _mm256_set1_ps(0x1.120b62p-7f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0x1.55551ap-5f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0x1.5554dep-3f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0x1p-1f));
  __m256 p = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(r, r), q, r), _mm256_set1_ps(1.0f));
  __m256i scale = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_castps_si256(big), _mm256_set1_epi32(0x4B400000 - 127)), 23);
  /* d < ln(FLT_MIN) → 0: an AND with the comparison's all-ones or all-zeros lanes; unordered true,
   * so a NaN d stays NaN */
  __m256 keep = _mm256_cmp_ps(d, _mm256_set1_ps(-0x1.5d589ep+6f), _CMP_NLT_UQ);
  return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(scale)));
}
#endif

#endif
