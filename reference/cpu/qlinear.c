/* Lab 8 reference, CPU: the int8 quantised linear layer of em/qlinear.h (quantise, forward,
 * backward, and the layer object built on them).
 *
 * Kernels are chosen when called, from what the CPU has (qlinear_isa.h): each SIMD function carries
 * its own target attribute, so this file compiles under any -march and runs at full speed on the
 * course's Zen 4 and correctly on any x86-64 (CI's Xeons) or elsewhere (plain C).
 *
 * Quantise (per row, rows spread over the threads): max|a| by vector max (exact in any order),
 * s = max/127 as one scalar float division, then q = a/s with a true vector division (vdivps is
 * correctly rounded, like the scalar one: a·(1/s) is not), clamped to ±127 and rounded to nearest
 * even by the conversion to int32 (cvtps2dq in the default MXCSR mode; rintf in the scalar tails:
 * the same rounding). Clamping before rounding gives what rounding before clamping does, ±127 being
 * integers. Every level therefore gives the oracle's bits. s = 0 (a zero row, or one whose max/127
 * underflows) gives q = 0. NaN and Inf inputs are out of the contract.
 *
 * Forward, AVX-512 VNNI: the tile is 16 rows × 16 outputs, with the ROWS in the vector lanes:
 *   - x is packed once per call into panels of 16 rows: for each group of 4 k, 64 bytes holding
 *     the 4 bytes of each of the 16 rows, each byte xq + 128 (an unsigned byte: vpdpbusd multiplies
 *     unsigned bytes of one operand by signed bytes of the other), pads 0. M·K bytes, a 16×16
 *     transposition of dwords per 64 k of a panel.
 *   - W is read where it lies, no packing: its 4 bytes w[o][4g..4g+3] are the signed operand,
 *     broadcast from memory (vpbroadcastd) to the 16 lanes. One vpdpbusd: 64 products, 4 per lane.
 *   - Σ_k (x + 128)·w = Σ_k x·w + 128·Σ_k w[o][k]: the second sum is subtracted per output, computed
 *     (with vpdpbusd against bytes of 1) from the 16 rows of W just before the tile loop reads them:
 *     1/16 of the tile loop's instructions at M = 16, 1/256 at M ≥ 256. vpdpbusd wraps (no
 *     saturation), so the biased sum may pass 2^31 (255·128·K does for large K): the arithmetic is
 *     modulo 2^32 throughout and the true sum fits int32, so the result is exact.
 *   - vpdpwssd on int16-widened values would need no bias, but does 32 products per instruction
 *     where vpdpbusd does 64, at the same rate on Zen 4 (both one 512-bit instruction per cycle,
 *     measured in registers).
 *   - Epilogue: the 16 accumulators (one per output, rows in lanes) are transposed in registers
 *     (64 shuffles against 16·K/4 vpdpbusd), then per row: − bias term, (s_x·s_w)·float(acc) + b
 *     (three roundings in this order, never fused: the same bits on every level), one masked store
 *     of y (and of acc when asked). No int32 matrix is written and read back; the accumulators only
 *     pass through 1 KiB of L1 between the loop's function and the epilogue's (vnni_tile says why).
 *   - Why rows in lanes rather than the usual outputs in lanes: W would then be repacked (read and
 *     written, N·K bytes) every call, as much memory traffic again as a decode-like forward (M = 16)
 *     needs in all; x is the small operand there, and at M = N = K its packing is 1/N of the work.
 *     The price: one broadcast per vpdpbusd (the usual layout broadcasts one per 4 with 6 × 4
 *     tiles); the tile loop runs at 0.28 ns per vpdpbusd on the course VM, against 0.22 for
 *     vpdpbusd alone in registers.
 * AVX2: the same tile with 8 rows in a 256-bit vector and exact vpmaddwd on int16 values: x packed
 * as int16 pairs (k, k + 1) per row, W's 8 rows of a tile widened to int16 once per work item into
 * a per-thread buffer and broadcast from there; vpmaddwd's two products of int16-widened bytes and
 * their sum (at most 2·128²) never saturate, where vpmaddubsw's int16 sums of two u8·s8 products
 * would (255·127·2 > 32767), and the sign trick (|x| times w with x's sign) fails for −128.
 * Portable: int32 dot products in plain C (uint32 arithmetic, which wraps instead of overflowing).
 * Work items: 256 rows × 128 outputs of y, OpenMP dynamic; within one, a W tile (16 rows of W)
 * meets every x panel of the item's rows while those sit in L2 (256·K bytes).
 *
 * Backward: dx = (dy·diag(s_w))·Wq and dW = (dyᵀ·diag(s_x))·xq are one float32 GEMM C = A·B with
 * A(i, j) = dy·s[j] (read as dy[i][j] or dy[j][i]) and B an int8 matrix (Wq, or xq) row-major,
 * blocked as GotoBLAS does: C in tiles of 192 rows × 384 columns (OpenMP dynamic); per tile and per
 * 128 of the reduction (j), A's block is packed scaled (dy·s rounded once) and B's block converted
 * from int8 to float as it is packed (once per tile and block, not per use), then a register-blocked
 * kernel: AVX-512 4 rows × 48 columns (12 accumulators, twice: see below), AVX2 3 × 16, plain C
 * 4 × 16. Accuracy: each kernel accumulator sums 16 terms (an FMA chain), then adds into a running
 * sum (8 blocks of 16 per 128), which adds into C once per 128: a term meets at most 1 (dy·s) + 16
 * + 7 + ⌈J/128⌉ − 1 roundings, 23 + ⌈J/128⌉ (tests/test_lab8_reference.c derives its tolerance
 * from this), not the J of one long float chain. The running sums take 12 more registers, so the
 * AVX-512 block is 4 × 48 rather than the 8 × 48 a one-level kernel could hold. db: column sums in
 * double, rows in order. The order of every operation is fixed by the code, not by the thread
 * count: the same inputs give the same bits.
 *
 * Its rates on the course's Zen 4 VM, beside a float32 GEMM of the same shape and PyTorch's:
 * BENCHMARKS.md, lab 8 on the CPU.
 */
#include "em/qlinear.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#define QL_X86 1
#include <immintrin.h>
#else
#define QL_X86 0
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/error.h"
#include "em/memory.h"
#include "qlinear_isa.h"
#if QL_X86
#include "qlinear_transpose.h"
#endif

#if QL_X86
#define T_AVX512 __attribute__((target("avx512f,avx512bw")))
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define T_AVX2 __attribute__((target("avx2,fma")))
/* Helpers inlined into their callers, so that arrays of vectors stay in registers. */
#define INL static inline __attribute__((always_inline))
#endif

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
/* Four bytes as one int32, from any address. */
static inline int32_t load4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- which kernels ------------------------------------------------------------------------------ */

static int forced_isa; /* EM__QLINEAR_AUTO unless a test or benchmark forced a level */

int em__qlinear_isa_best(void) {
#if QL_X86
  __builtin_cpu_init();
  /* libgcc's and compiler-rt's checks also ask the OS (XCR0) whether it saves the vector state */
  const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  if (avx512 && __builtin_cpu_supports("avx512vnni")) return EM__QLINEAR_AVX512_VNNI;
  if (avx512) return EM__QLINEAR_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return EM__QLINEAR_AVX2;
#endif
  return EM__QLINEAR_PORTABLE;
}

int em__qlinear_isa(void) { return forced_isa ? forced_isa : em__qlinear_isa_best(); }

int em__qlinear_force_isa(int isa) {
  if (isa < EM__QLINEAR_AUTO || isa > EM__QLINEAR_AVX512_VNNI)
    return em__fail(EM_EINVAL, "em__qlinear_force_isa: %d is no level (0 to %d)", isa, EM__QLINEAR_AVX512_VNNI);
  if (isa > em__qlinear_isa_best())
    return em__fail(EM_ENOTSUP, "em__qlinear_force_isa: this CPU has no %s (its best is %s)", em__qlinear_isa_name(isa),
                    em__qlinear_isa_name(em__qlinear_isa_best()));
  forced_isa = isa;
  return EM_OK;
}

const char *em__qlinear_isa_name(int isa) {
  switch (isa) {
  case EM__QLINEAR_AUTO: return "auto";
  case EM__QLINEAR_PORTABLE: return "portable";
  case EM__QLINEAR_AVX2: return "avx2";
  case EM__QLINEAR_AVX512: return "avx512";
  case EM__QLINEAR_AVX512_VNNI: return "avx512-vnni";
  default: return "unknown";
  }
}

static int sizes_ok(const char *fn, int64_t M, int64_t N, int64_t K) {
  if (M < 1 || N < 1 || K < 1 || K > EM_QLINEAR_MAX_K)
    return em__fail(EM_EINVAL, "%s: M = %lld, N = %lld, K = %lld (each must be at least 1, K at most %lld)", fn,
                    (long long)M, (long long)N, (long long)K, (long long)EM_QLINEAR_MAX_K);
  return EM_OK;
}

/* Below this many multiply-adds (or quantised elements), one thread: waking the team costs a few
 * microseconds, which is what this much work takes on one core. */
#define PARALLEL_FROM ((double)(1 << 20))
#define QUANT_PARALLEL_FROM ((double)(1 << 16))

/* ---- quantise --------------------------------------------------------------------------------- */

/* One element, given its row's s > 0: the float quotient, rounded half to even (rintf in the default
 * rounding mode), clamped. The vector paths' tails use it, so their bits are the vectors'. */
static int8_t quantize_one(float a, float s) {
  float q = rintf(a / s);
  q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
  return (int8_t)q;
}

static void quantize_row_portable(const float *a, int64_t cols, int8_t *q, float *scale) {
  float m = 0.0f;
  for (int64_t k = 0; k < cols; ++k) {
    const float v = fabsf(a[k]);
    m = v > m ? v : m;
  }
  const float s = m / 127.0f;
  *scale = s;
  if (s == 0.0f) {
    memset(q, 0, (size_t)cols);
    return;
  }
  for (int64_t k = 0; k < cols; ++k) q[k] = quantize_one(a[k], s);
}

#if QL_X86
T_AVX512 static void quantize_row_avx512(const float *a, int64_t cols, int8_t *q, float *scale) {
  __m512 m0 = _mm512_setzero_ps(), m1 = m0, m2 = m0, m3 = m0; /* four chains: max has latency */
  int64_t k = 0;
  for (; k + 64 <= cols; k += 64) {
    m0 = _mm512_max_ps(m0, _mm512_abs_ps(_mm512_loadu_ps(a + k)));
    m1 = _mm512_max_ps(m1, _mm512_abs_ps(_mm512_loadu_ps(a + k + 16)));
    m2 = _mm512_max_ps(m2, _mm512_abs_ps(_mm512_loadu_ps(a + k + 32)));
    m3 = _mm512_max_ps(m3, _mm512_abs_ps(_mm512_loadu_ps(a + k + 48)));
  }
  for (; k < cols; k += 16) {
    const __mmask16 live = cols - k >= 16 ? 0xffff : (__mmask16)((1u << (cols - k)) - 1);
    m0 = _mm512_max_ps(m0, _mm512_abs_ps(_mm512_maskz_loadu_ps(live, a + k)));
  }
  const float m = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
  const float s = m / 127.0f;
  *scale = s;
  if (s == 0.0f) {
    memset(q, 0, (size_t)cols);
    return;
  }
  const __m512 sv = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (k = 0; k < cols; k += 16) {
    const __mmask16 live = cols - k >= 16 ? 0xffff : (__mmask16)((1u << (cols - k)) - 1);
    __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(live, a + k), sv);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    /* cvtps2dq rounds by MXCSR: to nearest, ties to even, in the default mode */
    _mm512_mask_cvtsepi32_storeu_epi8(q + k, live, _mm512_cvtps_epi32(v));
  }
}

T_AVX2 static void quantize_row_avx2(const float *a, int64_t cols, int8_t *q, float *scale) {
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 m0 = _mm256_setzero_ps(), m1 = m0, m2 = m0, m3 = m0;
  int64_t k = 0;
  for (; k + 32 <= cols; k += 32) {
    m0 = _mm256_max_ps(m0, _mm256_and_ps(_mm256_loadu_ps(a + k), magnitude));
    m1 = _mm256_max_ps(m1, _mm256_and_ps(_mm256_loadu_ps(a + k + 8), magnitude));
    m2 = _mm256_max_ps(m2, _mm256_and_ps(_mm256_loadu_ps(a + k + 16), magnitude));
    m3 = _mm256_max_ps(m3, _mm256_and_ps(_mm256_loadu_ps(a + k + 24), magnitude));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
  float m = 0.0f;
  for (int l = 0; l < 8; ++l) m = lanes[l] > m ? lanes[l] : m;
  for (; k < cols; ++k) {
    const float v = fabsf(a[k]);
    m = v > m ? v : m;
  }
  const float s = m / 127.0f;
  *scale = s;
  if (s == 0.0f) {
    memset(q, 0, (size_t)cols);
    return;
  }
  const __m256 sv = _mm256_set1_ps(s), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (k = 0; k + 8 <= cols; k += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(a + k), sv);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    const __m256i i32 = _mm256_cvtps_epi32(v); /* MXCSR rounding: nearest, ties to even */
    const __m256i i16 = _mm256_packs_epi32(i32, i32);
    const __m256i i8 = _mm256_packs_epi16(i16, i16); /* bytes 0-3: lanes 0-3; bytes 16-19: lanes 4-7 */
    const int32_t lo4 = _mm_cvtsi128_si32(_mm256_castsi256_si128(i8));
    const int32_t hi4 = _mm_cvtsi128_si32(_mm256_extracti128_si256(i8, 1));
    memcpy(q + k, &lo4, 4);
    memcpy(q + k + 4, &hi4, 4);
  }
  for (; k < cols; ++k) q[k] = quantize_one(a[k], s);
}
#endif

int em_qlinear_quantize_cpu(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  if (rows < 1 || cols < 1)
    return em__fail(EM_EINVAL, "em_qlinear_quantize_cpu: rows = %lld, cols = %lld (each must be at least 1)",
                    (long long)rows, (long long)cols);
  if (!a || !aq || !scale) return em__fail(EM_EINVAL, "em_qlinear_quantize_cpu: a NULL pointer");
  const int isa = em__qlinear_isa();
#pragma omp parallel for schedule(static) if ((double)rows * (double)cols >= QUANT_PARALLEL_FROM && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float *ar = a + r * cols;
    int8_t *qr = aq + r * cols;
#if QL_X86
    if (isa >= EM__QLINEAR_AVX512)
      quantize_row_avx512(ar, cols, qr, scale + r);
    else if (isa == EM__QLINEAR_AVX2)
      quantize_row_avx2(ar, cols, qr, scale + r);
    else
#endif
      quantize_row_portable(ar, cols, qr, scale + r);
  }
  (void)isa;
  return EM_OK;
}

/* ---- forward ------------------------------------------------------------------------------------ */

typedef struct fw_args {
  const int8_t *xq, *wq;
  const float *sx, *sw, *b;
  int32_t *acc; /* NULL: not asked for */
  float *y;
  int64_t M, N, K;
} fw_args;

/* A work item: FW_MC rows × FW_NC outputs of y. FW_MC·K bytes of packed x (512 KiB at K = 2048)
 * stay in L2 (1 MiB per core on the course VM) while the item's W tiles pass over them; 128
 * outputs make 128 items at M = N = 2048 and 16 at decode-like M = 16, enough for dynamic
 * scheduling to even out two or more threads. */
#define FW_MC 256
#define FW_NC 128

/* The epilogue of one output element, shared by the portable path (the vector ones do the same
 * three roundings in the same order). */
static float epilogue_one(int32_t acc, float sx, float sw, float b) {
  const float scale = sx * sw;
  const float prod = scale * (float)acc;
  return prod + b;
}

#if QL_X86
/* Packs rows 16p .. 16p + 15 of xq into vpdpbusd's unsigned operand: group g (k = 4g .. 4g + 3)
 * is 64 bytes, 4 per row, each xq + 128 (XOR 0x80); rows past M and k past K are 0, so they add
 * nothing whatever W holds there. */
T_VNNI static void vnni_pack_panel(const int8_t *xq, int64_t M, int64_t K, int64_t p, uint8_t *dst) {
  const __m512i bias = _mm512_set1_epi8((char)0x80);
  for (int64_t k0 = 0; k0 < K; k0 += 64) {
    const int64_t len = min64(64, K - k0);
    const __mmask64 live = len == 64 ? ~(__mmask64)0 : (((__mmask64)1 << len) - 1);
    __m512i v[16];
#pragma GCC unroll 16
    for (int l = 0; l < 16; ++l) {
      const int64_t r = 16 * p + l;
      v[l] = r < M ? _mm512_maskz_mov_epi8(live, _mm512_xor_si512(_mm512_maskz_loadu_epi8(live, xq + r * K + k0), bias))
                   : _mm512_setzero_si512();
    }
    em__transpose16(v);
    const int64_t groups = cdiv(len, 4);
    for (int64_t g = 0; g < groups; ++g) _mm512_store_si512((void *)(dst + (k0 / 4 + g) * 64), v[g]);
  }
}

/* The row stride of a tile's copy of W: K rounded up to 64 bytes, plus 64. Rows K apart in W
 * itself, with K a multiple of 4096, fall into one set of the 8-way L1 cache, and the tile loop's
 * 16 rows then evict each other at every step: at K = 4096 and 8192 a decode-like forward ran at
 * half the speed of K = 2048 when it read W where it lies. One line more per row gives each row its
 * own set. Other K read W directly (vnni_item): at K = 2048 (two sets of 8 rows) the copy cost 15%
 * of a decode-like forward and gained nothing. */
static int64_t vnni_stride(int64_t K) { return cdiv(K, 64) * 64 + 64; }

/* The tile reads its 16 rows of W where they lie: all 16 exist, whole groups of 4 bytes, and the
 * rows do not share one L1 set. Otherwise it reads a padded copy. */
static int vnni_direct(int64_t outs, int64_t K) { return outs == 16 && K % 4 == 0 && K % 4096 != 0; }

/* Copies the tile's rows of W (rows, at most 16, from w, stride K) into dst (16 rows of stride
 * vnni_stride(K), zeros past K and past the last row, so the tile loop reads whole groups of 4 and
 * whole tiles; dst NULL: no copy), and returns 128·Σ_k w[o][k] per row (lane o; modulo 2^32, as
 * vpdpbusd sums: bytes of 1 against the row's bytes add 64 of them into 16 lanes). The 16 rows go
 * side by side, 16 independent sums: a row at a time, each sum a chain of dependent vpdpbusd (or
 * two), the latency cost 15-30% of a decode-like (M = 16) forward. */
T_VNNI static __m512i vnni_copy_rows(const int8_t *w, int64_t rows, int64_t K, int8_t *dst) {
  const __m512i ones = _mm512_set1_epi8(1);
  const int64_t stride = vnni_stride(K), end = dst ? stride : K;
  __m512i s[16];
#pragma GCC unroll 16
  for (int o = 0; o < 16; ++o) s[o] = _mm512_setzero_si512();
  for (int64_t k0 = 0; k0 < end; k0 += 64) {
    const int64_t len = K - k0;
    const __mmask64 live = len >= 64 ? ~(__mmask64)0 : len <= 0 ? 0 : (((__mmask64)1 << len) - 1);
#pragma GCC unroll 16
    for (int o = 0; o < 16; ++o) {
      /* past the last row, or past K: zeros (a load under an empty mask touches no memory) */
      const __m512i v = _mm512_maskz_loadu_epi8(o < rows ? live : 0, w + (o < rows ? o * K : 0) + (live ? k0 : 0));
      s[o] = _mm512_dpbusd_epi32(s[o], ones, v);
      if (dst) _mm512_store_si512(dst + o * stride + k0, v);
    }
  }
  uint32_t term[16];
#pragma GCC unroll 16
  for (int o = 0; o < 16; ++o) term[o] = (uint32_t)_mm512_reduce_add_epi32(s[o]) << 7;
  return _mm512_loadu_si512(term);
}

/* One tile's products: acc[o] lane l = Σ_k (xq[l][k] + 128)·w[o][k] over the panel's 16 rows l,
 * for the 16 rows of the tile's copy of W at w (stride apart, `groups` groups of 4 bytes each,
 * zeros past K). The accumulators leave through acc (1 KiB of L1): with the loop alone in its
 * function GCC keeps all 16 in registers; with the transposition and the epilogue inlined after
 * it, it spilled and copied them inside the loop. The row pointers are six bases plus multiples
 * of the stride that x86 addressing scales (×1, 2, 4, 8), so the loop needs few general registers. */
T_VNNI __attribute__((noinline)) static void vnni_tile(const uint8_t *xp, const int8_t *w, int64_t stride,
                                                       int64_t groups, __m512i *acc) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
          a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
  const int64_t S = stride;
  const int8_t *p0 = w, *p3 = w + 3 * S, *p6 = w + 6 * S, *p9 = w + 9 * S, *p12 = w + 12 * S, *p15 = w + 15 * S;
  const int8_t *const end = w + 4 * groups;
#define BCAST4(p) _mm512_set1_epi32(load4(p))
  for (; p0 < end; p0 += 4, p3 += 4, p6 += 4, p9 += 4, p12 += 4, p15 += 4, xp += 64) {
    const __m512i x = _mm512_load_si512((const void *)xp);
    a0 = _mm512_dpbusd_epi32(a0, x, BCAST4(p0)), a1 = _mm512_dpbusd_epi32(a1, x, BCAST4(p0 + S));
    a2 = _mm512_dpbusd_epi32(a2, x, BCAST4(p0 + 2 * S)), a3 = _mm512_dpbusd_epi32(a3, x, BCAST4(p3));
    a4 = _mm512_dpbusd_epi32(a4, x, BCAST4(p0 + 4 * S)), a5 = _mm512_dpbusd_epi32(a5, x, BCAST4(p3 + 2 * S));
    a6 = _mm512_dpbusd_epi32(a6, x, BCAST4(p6)), a7 = _mm512_dpbusd_epi32(a7, x, BCAST4(p3 + 4 * S));
    a8 = _mm512_dpbusd_epi32(a8, x, BCAST4(p0 + 8 * S)), a9 = _mm512_dpbusd_epi32(a9, x, BCAST4(p9));
    a10 = _mm512_dpbusd_epi32(a10, x, BCAST4(p6 + 4 * S)), a11 = _mm512_dpbusd_epi32(a11, x, BCAST4(p3 + 8 * S));
    a12 = _mm512_dpbusd_epi32(a12, x, BCAST4(p12)), a13 = _mm512_dpbusd_epi32(a13, x, BCAST4(p9 + 4 * S));
    a14 = _mm512_dpbusd_epi32(a14, x, BCAST4(p6 + 8 * S)), a15 = _mm512_dpbusd_epi32(a15, x, BCAST4(p15));
  }
#undef BCAST4
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
  acc[8] = a8, acc[9] = a9, acc[10] = a10, acc[11] = a11, acc[12] = a12, acc[13] = a13, acc[14] = a14, acc[15] = a15;
}

/* acc[o] (rows in lanes) → per row: minus the bias term, then y = (s_x·s_w)·acc + b, one masked
 * store of y (and of acc). Lane j is output o_first + j; only the lanes in `live` are real. */
T_VNNI static void vnni_epilogue(const fw_args *a, __m512i acc[16], __m512i bias_term, int64_t r0, int64_t rows,
                                 int64_t o_first, __mmask16 live) {
  em__transpose16(acc);
  const __m512 sw = _mm512_maskz_loadu_ps(live, a->sw + o_first), b = _mm512_maskz_loadu_ps(live, a->b + o_first);
  for (int64_t l = 0; l < rows; ++l) {
    const int64_t at = (r0 + l) * a->N + o_first;
    const __m512i sum = _mm512_sub_epi32(acc[l], bias_term);
    if (a->acc) _mm512_mask_storeu_epi32(a->acc + at, live, sum);
    const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(a->sx[r0 + l]), sw);
    _mm512_mask_storeu_ps(a->y + at, live, _mm512_add_ps(_mm512_mul_ps(scale, _mm512_cvtepi32_ps(sum)), b));
  }
}

T_VNNI static void vnni_item(const fw_args *a, const uint8_t *xpack, int8_t *wcopy, int64_t rb, int64_t ob) {
  const int64_t M = a->M, N = a->N, K = a->K, groups = cdiv(K, 4), panel = groups * 64;
  const int64_t p0 = rb * (FW_MC / 16), p1 = min64(p0 + FW_MC / 16, cdiv(M, 16));
  for (int64_t o0 = ob * FW_NC; o0 < min64(ob * FW_NC + FW_NC, N); o0 += 16) {
    const int64_t outs = min64(16, N - o0); /* past N the copy has zero rows, whose outputs are not stored */
    const int direct = vnni_direct(outs, K);
    const __m512i bias_term = vnni_copy_rows(a->wq + o0 * K, outs, K, direct ? NULL : wcopy);
    const int8_t *w = direct ? a->wq + o0 * K : wcopy;
    const int64_t stride = direct ? K : vnni_stride(K);
    const __mmask16 live = outs == 16 ? 0xffff : (__mmask16)((1u << outs) - 1);
    for (int64_t p = p0; p < p1; ++p) {
      __m512i acc[16];
      vnni_tile(xpack + p * panel, w, stride, groups, acc);
      vnni_epilogue(a, acc, bias_term, 16 * p, min64(16, M - 16 * p), o0, live);
    }
  }
}

/* 8×8 transposition of 32-bit elements: v[i] lane j becomes v[j] lane i. */
INL T_AVX2 void transpose8(__m256i v[8]) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);
  }
  /* u[4m + c], in each 128-bit half H: rows 4m..4m+3 of column 4H + c */
#pragma GCC unroll 2
  for (int m = 0; m < 8; m += 4) {
    u[m] = _mm256_unpacklo_epi64(t[m], t[m + 2]);
    u[m + 1] = _mm256_unpackhi_epi64(t[m], t[m + 2]);
    u[m + 2] = _mm256_unpacklo_epi64(t[m + 1], t[m + 3]);
    u[m + 3] = _mm256_unpackhi_epi64(t[m + 1], t[m + 3]);
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    v[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
    v[4 + c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
  }
}

/* 16 bytes of row at k0 (fewer at the row's end: zeros past it) sign-extended to 16 int16. */
INL T_AVX2 __m256i widen16(const int8_t *row, int64_t k0, int64_t K) {
  if (K - k0 >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(row + k0)));
  int8_t tail[16] = {0};
  memcpy(tail, row + k0, (size_t)(K - k0));
  return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)tail));
}

/* Packs rows 8p .. 8p + 7 of xq for vpmaddwd: pair j (k = 2j, 2j + 1) is 32 bytes, the two int16
 * of each row; pads 0. */
T_AVX2 static void avx2_pack_panel(const int8_t *xq, int64_t M, int64_t K, int64_t p, int16_t *dst) {
  for (int64_t k0 = 0; k0 < K; k0 += 16) {
    __m256i v[8];
#pragma GCC unroll 8
    for (int l = 0; l < 8; ++l) {
      const int64_t r = 8 * p + l;
      v[l] = r < M ? widen16(xq + r * K, k0, K) : _mm256_setzero_si256();
    }
    transpose8(v);
    const int64_t pairs = cdiv(min64(16, K - k0), 2);
    for (int64_t j = 0; j < pairs; ++j) _mm256_store_si256((__m256i *)(dst + (k0 + 2 * j) * 8), v[j]);
  }
}

/* The row stride (int16) of a tile's widened copy of W: K rounded up to 2, plus 32 (64 bytes), so
 * that rows 2K bytes apart do not share one L1 set when K is a multiple of 1024 (vnni_stride). */
static int64_t avx2_stride(int64_t K) { return cdiv(K, 2) * 2 + 32; }

/* W's rows of a tile, widened to int16 (a row padded with a 0 to an even length). */
T_AVX2 static void avx2_widen_rows(const int8_t *const wr[8], int64_t K, int16_t *dst, int64_t stride) {
  for (int o = 0; o < 8; ++o)
    for (int64_t k0 = 0; k0 < K; k0 += 16) {
      const __m256i v = widen16(wr[o], k0, K);
      if (K - k0 >= 16)
        _mm256_storeu_si256((__m256i *)(dst + o * stride + k0), v);
      else {
        int16_t tail[16];
        _mm256_storeu_si256((__m256i *)tail, v);
        memcpy(dst + o * stride + k0, tail, (size_t)(cdiv(K, 2) * 2 - k0) * sizeof(int16_t)); /* to the pad 0 */
      }
    }
}

/* One tile's products: acc[o] lane l = Σ_k xq[l][k]·w[o][k] over the panel's 8 rows l, from the
 * tile's 8 widened rows of W (stride int16 apart). Alone in its function for the registers' sake,
 * as vnni_tile. */
T_AVX2 __attribute__((noinline)) static void avx2_tile(const int16_t *xp, const int16_t *wide, int64_t stride,
                                                       int64_t pairs, __m256i *acc) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  const int16_t *w0 = wide, *w3 = wide + 3 * stride, *w6 = wide + 6 * stride;
#define PAIR(p) _mm256_set1_epi32(load4((const int8_t *)(const void *)(p)))
  for (int64_t j = 0; j < pairs; ++j, xp += 16, w0 += 2, w3 += 2, w6 += 2) {
    const __m256i x = _mm256_load_si256((const __m256i *)xp);
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x, PAIR(w0)));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(x, PAIR(w0 + stride)));
    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(x, PAIR(w0 + 2 * stride)));
    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(x, PAIR(w3)));
    a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(x, PAIR(w0 + 4 * stride)));
    a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(x, PAIR(w3 + 2 * stride)));
    a6 = _mm256_add_epi32(a6, _mm256_madd_epi16(x, PAIR(w6)));
    a7 = _mm256_add_epi32(a7, _mm256_madd_epi16(x, PAIR(w3 + 4 * stride)));
  }
#undef PAIR
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

T_AVX2 static void avx2_epilogue(const fw_args *a, __m256i acc[8], int64_t r0, int64_t rows, int64_t o0, int64_t outs) {
  transpose8(acc);
  const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)outs), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 sw = _mm256_maskload_ps(a->sw + o0, live), b = _mm256_maskload_ps(a->b + o0, live);
  for (int64_t l = 0; l < rows; ++l) {
    const int64_t at = (r0 + l) * a->N + o0;
    if (a->acc) _mm256_maskstore_epi32(a->acc + at, live, acc[l]);
    const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(a->sx[r0 + l]), sw);
    _mm256_maskstore_ps(a->y + at, live, _mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(acc[l])), b));
  }
}

T_AVX2 static void avx2_item(const fw_args *a, const int16_t *xpack, int16_t *wide, int64_t rb, int64_t ob) {
  const int64_t M = a->M, N = a->N, K = a->K, pairs = cdiv(K, 2), panel = pairs * 16;
  const int64_t p0 = rb * (FW_MC / 8), p1 = min64(p0 + FW_MC / 8, cdiv(M, 8));
  for (int64_t o0 = ob * FW_NC; o0 < min64(ob * FW_NC + FW_NC, N); o0 += 8) {
    const int64_t outs = min64(8, N - o0);
    const int8_t *wr[8];
    for (int o = 0; o < 8; ++o) wr[o] = a->wq + (o0 + min64(o, outs - 1)) * K;
    avx2_widen_rows(wr, K, wide, avx2_stride(K));
    for (int64_t p = p0; p < p1; ++p) {
      __m256i acc[8];
      avx2_tile(xpack + p * panel, wide, avx2_stride(K), pairs, acc);
      avx2_epilogue(a, acc, 8 * p, min64(8, M - 8 * p), o0, outs);
    }
  }
}
#endif

static void portable_item(const fw_args *a, int64_t rb, int64_t ob) {
  const int64_t K = a->K;
  for (int64_t r = rb * FW_MC; r < min64(rb * FW_MC + FW_MC, a->M); ++r)
    for (int64_t o = ob * FW_NC; o < min64(ob * FW_NC + FW_NC, a->N); ++o) {
      const int8_t *x = a->xq + r * K, *w = a->wq + o * K;
      uint32_t sum = 0; /* wraps rather than overflows; the true sum fits int32 */
      for (int64_t k = 0; k < K; ++k) sum += (uint32_t)((int32_t)x[k] * (int32_t)w[k]);
      const int32_t acc = (int32_t)sum;
      if (a->acc) a->acc[r * a->N + o] = acc;
      a->y[r * a->N + o] = epilogue_one(acc, a->sx[r], a->sw[o], a->b[o]);
    }
}

/* Runs the work items (and, first, the packing of x's panels) on the threads. kind: 2 VNNI, 1 AVX2,
 * 0 portable. One allocation holds the packed x, then each thread's copy of a tile's rows of W. */
static int forward_run(const fw_args *a, int kind) {
  const int64_t M = a->M, N = a->N, K = a->K;
  int threads = 1;
#if defined(_OPENMP)
  if ((double)M * (double)N * (double)K >= PARALLEL_FROM) threads = omp_get_max_threads();
#endif
  const int64_t lanes = kind == 2 ? 16 : 8, panels = cdiv(M, lanes);
  const int64_t panel_bytes = kind == 2 ? cdiv(K, 4) * 64 : kind == 1 ? cdiv(K, 2) * 32 : 0;
  /* a thread's copy of a tile's rows of W: VNNI 16 rows of bytes, AVX2 8 rows of int16 */
  const int64_t copy_bytes = kind == 2 ? 16 * vnni_stride(K) : kind == 1 ? 8 * 2 * avx2_stride(K) : 0;
  const double pack_bytes = (double)panels * (double)panel_bytes, all = pack_bytes + (double)threads * copy_bytes;
  if (all > (double)SIZE_MAX / 4)
    return em__fail(EM_ENOMEM, "em_qlinear_forward_cpu: M = %lld, K = %lld: the packed x does not fit in memory",
                    (long long)M, (long long)K);
  uint8_t *pack = NULL;
  if (kind) {
    pack = em_host_alloc((size_t)all);
    if (!pack) return em__fail(EM_ENOMEM, "em_qlinear_forward_cpu: no memory for the packed x (%.0f bytes)", all);
  }
  const int64_t row_blocks = cdiv(M, FW_MC), out_blocks = cdiv(N, FW_NC);
#pragma omp parallel num_threads(threads)
  {
    int tid = 0;
#if defined(_OPENMP)
    tid = omp_get_thread_num();
#endif
    uint8_t *copy = kind ? pack + (size_t)pack_bytes + (size_t)(tid * copy_bytes) : NULL;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < (kind ? panels : 0); ++p) {
#if QL_X86
      if (kind == 2)
        vnni_pack_panel(a->xq, M, K, p, pack + p * panel_bytes);
      else
        avx2_pack_panel(a->xq, M, K, p, (int16_t *)(void *)(pack + p * panel_bytes));
#endif
    }
    /* the barrier at the end of the loop above: every panel is packed before any item reads one */
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < row_blocks * out_blocks; ++t) {
      const int64_t rb = t / out_blocks, ob = t % out_blocks;
#if QL_X86
      if (kind == 2)
        vnni_item(a, pack, (int8_t *)copy, rb, ob);
      else if (kind == 1)
        avx2_item(a, (const int16_t *)(const void *)pack, (int16_t *)(void *)copy, rb, ob);
      else
#endif
        portable_item(a, rb, ob);
    }
    (void)copy;
  }
  em_host_free(pack);
  return EM_OK;
}

int em_qlinear_forward_cpu(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                           int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
  int err = sizes_ok("em_qlinear_forward_cpu", M, N, K);
  if (err) return err;
  if (!xq || !sx || !wq || !sw || !b || !y) return em__fail(EM_EINVAL, "em_qlinear_forward_cpu: a NULL pointer");
  const fw_args a = {.xq = xq, .wq = wq, .sx = sx, .sw = sw, .b = b, .acc = acc, .y = y, .M = M, .N = N, .K = K};
  const int isa = em__qlinear_isa();
  return forward_run(&a, isa == EM__QLINEAR_AVX512_VNNI ? 2 : isa >= EM__QLINEAR_AVX2 ? 1 : 0);
}

const char *em_qlinear_avx2_unavailable(void) {
  return em__qlinear_isa_best() >= EM__QLINEAR_AVX2 ? NULL : "this CPU has no AVX2 with FMA";
}

int em_qlinear_forward_avx2_cpu(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                                int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
  int err = sizes_ok("em_qlinear_forward_avx2_cpu", M, N, K);
  if (err) return err;
  if (!xq || !sx || !wq || !sw || !b || !y) return em__fail(EM_EINVAL, "em_qlinear_forward_avx2_cpu: a NULL pointer");
  if (em__qlinear_isa_best() < EM__QLINEAR_AVX2)
    return em__fail(EM_ENOTSUP, "em_qlinear_forward_avx2_cpu: this CPU has no AVX2 with FMA (its best is %s)",
                    em__qlinear_isa_name(em__qlinear_isa_best()));
  const fw_args a = {.xq = xq, .wq = wq, .sx = sx, .sw = sw, .b = b, .acc = acc, .y = y, .M = M, .N = N, .K = K};
  return forward_run(&a, 1);
}

/* ---- backward ----------------------------------------------------------------------------------- */

/* C (I × K, row-major, ldc K) = A·B, A(i, j) = dy[i·si + j·sj]·s[j], B int8 (J × K, row-major). */
typedef struct bw_gemm {
  const float *dy;
  int64_t si, sj;
  const float *s;
  const int8_t *b;
  float *c;
  int64_t I, J, K;
} bw_gemm;

/* C tiles of BW_IC rows × BW_KC columns; the reduction in blocks of BW_JC, each kernel accumulator
 * summing BW_JB terms before it adds into the running sum. BW_JC = 128: a B micro-panel (128 × 48
 * floats, 24 KiB) stays in L1 while the tile's A micro-panels (2 KiB each) pass; the B block
 * (128 × 384 floats, 192 KiB) and the A block (192 × 128, 96 KiB) sit in L2. B's block is packed
 * once per tile and 128-row block and serves 48 A micro-panels (96 rows: about 5% slower, the
 * packing's share twice as large). BW_IC is a multiple of every kernel's rows (4, 3), BW_KC of
 * every kernel's columns (48, 16). The counts of roundings at the top of the file (and the test's
 * tolerance) rest on BW_JB = 16 and BW_JC = 128. */
#define BW_IC 192
#define BW_KC 384
#define BW_JC 128
#define BW_JB 16

/* A kernel adds the rows × cols corner of a (mr × nr) block of A·B over jlen ≤ BW_JC terms into C,
 * or stores it there when first (C's previous contents ignored). ap: jlen groups of mr floats;
 * bp: jlen rows of nr floats. */
typedef void (*bw_kernel_fn)(const float *ap, const float *bp, int64_t jlen, float *c, int64_t ldc, int64_t rows,
                             int64_t cols, int first);
/* Converts B[j0 .. j0 + jlen)[k0 .. k0 + klen) to float in micro-panels of nr columns (each jlen
 * rows of nr floats, columns past klen 0). */
typedef void (*bw_pack_fn)(const int8_t *b, int64_t K, int64_t j0, int64_t jlen, int64_t k0, int64_t klen, float *bp);

typedef struct bw_isa {
  int mr, nr;
  bw_kernel_fn kernel;
  bw_pack_fn pack_b;
  int avx512; /* A's packing may use AVX-512 */
} bw_isa;

#if QL_X86
/* Four full rows of A = dy·s, along j (dx's case): 16 j at a time, the four rows' products
 * interleaved in registers into the packed order (j-major, 4 rows each). */
T_AVX512 static void bw_pack_a4_avx512(const float *dy, int64_t ld, const float *s, int64_t jlen, float *dst) {
  int64_t j = 0;
  for (; j + 16 <= jlen; j += 16, dst += 64) {
    const __m512 sv = _mm512_loadu_ps(s + j);
    const __m512 r0 = _mm512_mul_ps(_mm512_loadu_ps(dy + j), sv), r1 = _mm512_mul_ps(_mm512_loadu_ps(dy + ld + j), sv);
    const __m512 r2 = _mm512_mul_ps(_mm512_loadu_ps(dy + 2 * ld + j), sv);
    const __m512 r3 = _mm512_mul_ps(_mm512_loadu_ps(dy + 3 * ld + j), sv);
    /* in each 128-bit lane L: e, f, g, h hold j = 4L, 4L + 1, 4L + 2, 4L + 3, rows 0-3 */
    const __m512d a = _mm512_castps_pd(_mm512_unpacklo_ps(r0, r1)), b = _mm512_castps_pd(_mm512_unpackhi_ps(r0, r1));
    const __m512d c = _mm512_castps_pd(_mm512_unpacklo_ps(r2, r3)), d = _mm512_castps_pd(_mm512_unpackhi_ps(r2, r3));
    const __m512 e = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c)), f = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    const __m512 g = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d)), h = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    /* j = 4q .. 4q + 3 is lane q of e, f, g, h */
    const __m512 ef01 = _mm512_shuffle_f32x4(e, f, 0x44), ef23 = _mm512_shuffle_f32x4(e, f, 0xEE);
    const __m512 gh01 = _mm512_shuffle_f32x4(g, h, 0x44), gh23 = _mm512_shuffle_f32x4(g, h, 0xEE);
    _mm512_storeu_ps(dst, _mm512_shuffle_f32x4(ef01, gh01, 0x88));
    _mm512_storeu_ps(dst + 16, _mm512_shuffle_f32x4(ef01, gh01, 0xDD));
    _mm512_storeu_ps(dst + 32, _mm512_shuffle_f32x4(ef23, gh23, 0x88));
    _mm512_storeu_ps(dst + 48, _mm512_shuffle_f32x4(ef23, gh23, 0xDD));
  }
  for (; j < jlen; ++j, dst += 4)
    for (int i = 0; i < 4; ++i) dst[i] = dy[i * ld + j] * s[j];
}
#endif

/* A's block, scaled (dy·s, rounded once, as every level does): micro-panels of mr rows, each jlen
 * groups of mr floats, rows past I 0. */
static void bw_pack_a(const bw_gemm *g, int64_t i0, int64_t ilen, int64_t j0, int64_t jlen, int mr, int avx512,
                      float *ap) {
  const float *s = g->s + j0;
  for (int64_t p = 0; p < ilen; p += mr) {
    float *dst = ap + p * jlen;
    const int64_t rows = min64(mr, ilen - p);
    if (g->sj == 1) { /* A(i, j) = dy[i][j]: along j within a row of dy */
      const float *src = g->dy + (i0 + p) * g->si + j0;
#if QL_X86
      if (avx512 && mr == 4 && rows == 4) {
        bw_pack_a4_avx512(src, g->si, s, jlen, dst);
        continue;
      }
#endif
      for (int64_t i = 0; i < mr; ++i)
        for (int64_t j = 0; j < jlen; ++j) dst[j * mr + i] = i < rows ? src[i * g->si + j] * s[j] : 0.0f;
    } else if (rows == 4 && mr == 4) /* A(i, j) = dy[j][i]: 4 consecutive floats of a row of dy per j */
      for (int64_t j = 0; j < jlen; ++j) {
        const float *src = g->dy + (j0 + j) * g->sj + i0 + p;
        for (int64_t i = 0; i < 4; ++i) dst[j * 4 + i] = src[i] * s[j]; /* one SSE multiply */
      }
    else
      for (int64_t j = 0; j < jlen; ++j) {
        const float *src = g->dy + (j0 + j) * g->sj + i0 + p;
        for (int64_t i = 0; i < mr; ++i) dst[j * mr + i] = i < rows ? src[i] * s[j] : 0.0f;
      }
  }
  (void)avx512;
}

#define PORT_MR 4
#define PORT_NR 16

static void bw_kernel_portable(const float *ap, const float *bp, int64_t jlen, float *c, int64_t ldc, int64_t rows,
                               int64_t cols, int first) {
  float run[PORT_MR][PORT_NR] = {{0}};
  for (int64_t j0 = 0; j0 < jlen; j0 += BW_JB) {
    float blk[PORT_MR][PORT_NR] = {{0}};
    for (int64_t j = j0; j < min64(j0 + BW_JB, jlen); ++j)
      for (int i = 0; i < PORT_MR; ++i)
        for (int v = 0; v < PORT_NR; ++v) blk[i][v] += ap[j * PORT_MR + i] * bp[j * PORT_NR + v];
    for (int i = 0; i < PORT_MR; ++i)
      for (int v = 0; v < PORT_NR; ++v) run[i][v] += blk[i][v];
  }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t v = 0; v < cols; ++v) c[i * ldc + v] = first ? run[i][v] : c[i * ldc + v] + run[i][v];
}

static void bw_pack_b_portable(const int8_t *b, int64_t K, int64_t j0, int64_t jlen, int64_t k0, int64_t klen,
                               float *bp) {
  for (int64_t q = 0; q < klen; q += PORT_NR)
    for (int64_t j = 0; j < jlen; ++j)
      for (int64_t v = 0; v < PORT_NR; ++v)
        bp[q * jlen + j * PORT_NR + v] = q + v < klen ? (float)b[(j0 + j) * K + k0 + q + v] : 0.0f;
}

#if QL_X86
#define AVX512_MR 4
#define AVX512_NV 3 /* vectors of 16 columns: nr = 48 */

T_AVX512 static void bw_kernel_avx512(const float *ap, const float *bp, int64_t jlen, float *c, int64_t ldc,
                                      int64_t rows, int64_t cols, int first) {
  __m512 run[AVX512_MR][AVX512_NV];
#pragma GCC unroll 4
  for (int i = 0; i < AVX512_MR; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < AVX512_NV; ++v) run[i][v] = _mm512_setzero_ps();
  for (int64_t j0 = 0; j0 < jlen; j0 += BW_JB) {
    __m512 blk[AVX512_MR][AVX512_NV];
#pragma GCC unroll 4
    for (int i = 0; i < AVX512_MR; ++i)
#pragma GCC unroll 3
      for (int v = 0; v < AVX512_NV; ++v) blk[i][v] = _mm512_setzero_ps();
    const int64_t j1 = min64(j0 + BW_JB, jlen);
    for (int64_t j = j0; j < j1; ++j) {
      const float *bj = bp + j * 16 * AVX512_NV;
      __m512 b0 = _mm512_load_ps(bj), b1 = _mm512_load_ps(bj + 16), b2 = _mm512_load_ps(bj + 32);
      /* keeps the three vectors in registers: GCC otherwise reloads them as a memory operand of each
       * FMA, 12 vector loads per 12 FMAs, and the loads, not the FMAs, set the pace on Zen 4 */
      __asm__("" : "+v"(b0), "+v"(b1), "+v"(b2));
#pragma GCC unroll 4
      for (int i = 0; i < AVX512_MR; ++i) {
        const __m512 av = _mm512_set1_ps(ap[j * AVX512_MR + i]);
        blk[i][0] = _mm512_fmadd_ps(av, b0, blk[i][0]);
        blk[i][1] = _mm512_fmadd_ps(av, b1, blk[i][1]);
        blk[i][2] = _mm512_fmadd_ps(av, b2, blk[i][2]);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < AVX512_MR; ++i)
#pragma GCC unroll 3
      for (int v = 0; v < AVX512_NV; ++v) run[i][v] = _mm512_add_ps(run[i][v], blk[i][v]);
  }
  for (int64_t i = 0; i < rows; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < AVX512_NV; ++v) {
      const int64_t n = cols - 16 * v;
      if (n <= 0) break;
      const __mmask16 live = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
      float *cv = c + i * ldc + 16 * v;
      const __m512 sum = first ? run[i][v] : _mm512_add_ps(_mm512_maskz_loadu_ps(live, cv), run[i][v]);
      _mm512_mask_storeu_ps(cv, live, sum);
    }
}

T_AVX512 static void bw_pack_b_avx512(const int8_t *b, int64_t K, int64_t j0, int64_t jlen, int64_t k0, int64_t klen,
                                      float *bp) {
  for (int64_t q = 0; q < klen; q += 48) {
    const int64_t n = min64(48, klen - q);
    const __mmask64 live = ((__mmask64)1 << n) - 1;
    for (int64_t j = 0; j < jlen; ++j) {
      const __m512i bytes = _mm512_maskz_loadu_epi8(live, b + (j0 + j) * K + k0 + q);
      float *dst = bp + q * jlen + j * 48;
      _mm512_store_ps(dst, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_castsi512_si128(bytes))));
      _mm512_store_ps(dst + 16, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(bytes, 1))));
      _mm512_store_ps(dst + 32, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(bytes, 2))));
    }
  }
}

#define AVX2_MR 3
#define AVX2_NV 2 /* vectors of 8 columns: nr = 16 */

T_AVX2 static void bw_kernel_avx2(const float *ap, const float *bp, int64_t jlen, float *c, int64_t ldc, int64_t rows,
                                  int64_t cols, int first) {
  __m256 run[AVX2_MR][AVX2_NV];
#pragma GCC unroll 3
  for (int i = 0; i < AVX2_MR; ++i) run[i][0] = run[i][1] = _mm256_setzero_ps();
  for (int64_t j0 = 0; j0 < jlen; j0 += BW_JB) {
    __m256 blk[AVX2_MR][AVX2_NV];
#pragma GCC unroll 3
    for (int i = 0; i < AVX2_MR; ++i) blk[i][0] = blk[i][1] = _mm256_setzero_ps();
    const int64_t j1 = min64(j0 + BW_JB, jlen);
    for (int64_t j = j0; j < j1; ++j) {
      __m256 b0 = _mm256_load_ps(bp + j * 16), b1 = _mm256_load_ps(bp + j * 16 + 8);
      __asm__("" : "+x"(b0), "+x"(b1)); /* in registers, as in bw_kernel_avx512 */
#pragma GCC unroll 3
      for (int i = 0; i < AVX2_MR; ++i) {
        const __m256 av = _mm256_broadcast_ss(ap + j * AVX2_MR + i);
        blk[i][0] = _mm256_fmadd_ps(av, b0, blk[i][0]);
        blk[i][1] = _mm256_fmadd_ps(av, b1, blk[i][1]);
      }
    }
#pragma GCC unroll 3
    for (int i = 0; i < AVX2_MR; ++i) {
      run[i][0] = _mm256_add_ps(run[i][0], blk[i][0]);
      run[i][1] = _mm256_add_ps(run[i][1], blk[i][1]);
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    float sum[16];
    _mm256_storeu_ps(sum, run[i][0]);
    _mm256_storeu_ps(sum + 8, run[i][1]);
    float *ci = c + i * ldc;
    if (cols == 16 && !first) {
      _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), run[i][0]));
      _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), run[i][1]));
    } else
      for (int64_t v = 0; v < cols; ++v) ci[v] = first ? sum[v] : ci[v] + sum[v];
  }
}

T_AVX2 static void bw_pack_b_avx2(const int8_t *b, int64_t K, int64_t j0, int64_t jlen, int64_t k0, int64_t klen,
                                  float *bp) {
  for (int64_t q = 0; q < klen; q += 16) {
    const int64_t n = min64(16, klen - q);
    for (int64_t j = 0; j < jlen; ++j) {
      const int8_t *src = b + (j0 + j) * K + k0 + q;
      int8_t tail[16] = {0};
      if (n < 16) memcpy(tail, src, (size_t)n), src = tail;
      const __m128i bytes = _mm_loadu_si128((const __m128i *)src);
      float *dst = bp + q * jlen + j * 16;
      _mm256_store_ps(dst, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)));
      _mm256_store_ps(dst + 8, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(bytes, 8))));
    }
  }
}
#endif

static int bw_gemm_run(const bw_gemm *g, const bw_isa *isa) {
  const int64_t tiles_i = cdiv(g->I, BW_IC), tiles_k = cdiv(g->K, BW_KC);
  int threads = 1;
#if defined(_OPENMP)
  if ((double)g->I * (double)g->J * (double)g->K >= PARALLEL_FROM) threads = omp_get_max_threads();
#endif
  const size_t per_thread = (size_t)BW_IC * BW_JC + (size_t)BW_JC * BW_KC; /* floats: A block, B block */
  float *buf = em_host_alloc((size_t)threads * per_thread * sizeof(float));
  if (!buf) return em__fail(EM_ENOMEM, "em_qlinear_backward_cpu: no memory for %d threads' packed blocks", threads);
#pragma omp parallel num_threads(threads)
  {
    int tid = 0;
#if defined(_OPENMP)
    tid = omp_get_thread_num();
#endif
    float *ap = buf + (size_t)tid * per_thread, *bp = ap + (size_t)BW_IC * BW_JC;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles_i * tiles_k; ++t) {
      const int64_t i0 = t / tiles_k * BW_IC, k0 = t % tiles_k * BW_KC;
      const int64_t ilen = min64(BW_IC, g->I - i0), klen = min64(BW_KC, g->K - k0);
      for (int64_t j0 = 0; j0 < g->J; j0 += BW_JC) {
        const int64_t jlen = min64(BW_JC, g->J - j0);
        bw_pack_a(g, i0, ilen, j0, jlen, isa->mr, isa->avx512, ap);
        isa->pack_b(g->b, g->K, j0, jlen, k0, klen, bp);
        for (int64_t q = 0; q < klen; q += isa->nr)
          for (int64_t p = 0; p < ilen; p += isa->mr)
            isa->kernel(ap + p * jlen, bp + q * jlen, jlen, g->c + (i0 + p) * g->K + k0 + q, g->K,
                        min64(isa->mr, ilen - p), min64(isa->nr, klen - q), j0 == 0);
      }
    }
  }
  em_host_free(buf);
  return EM_OK;
}

/* db[o] = Σ_r dy[r][o]: double sums, rows in order, columns in chunks over the threads. */
static int column_sums(const float *dy, float *db, int64_t M, int64_t N) {
  enum { CHUNK = 512 }; /* 4 KiB of double sums per chunk, in L1 while the rows stream by */
#pragma omp parallel for schedule(dynamic, 1) if ((double)M * (double)N >= QUANT_PARALLEL_FROM)
  for (int64_t o0 = 0; o0 < N; o0 += CHUNK) {
    const int64_t n = min64(CHUNK, N - o0);
    double sum[CHUNK];
    for (int64_t o = 0; o < n; ++o) sum[o] = 0.0;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t o = 0; o < n; ++o) sum[o] += (double)dy[r * N + o0 + o];
    for (int64_t o = 0; o < n; ++o) db[o0 + o] = (float)sum[o];
  }
  return EM_OK;
}

int em_qlinear_backward_cpu(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                            float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K) {
  int err = sizes_ok("em_qlinear_backward_cpu", M, N, K);
  if (err) return err;
  if (!dy || !xq || !sx || !wq || !sw || !dx || !dw || !db)
    return em__fail(EM_EINVAL, "em_qlinear_backward_cpu: a NULL pointer");
  bw_isa isa = {PORT_MR, PORT_NR, bw_kernel_portable, bw_pack_b_portable, 0};
#if QL_X86
  const int level = em__qlinear_isa();
  if (level >= EM__QLINEAR_AVX512)
    isa = (bw_isa){AVX512_MR, 16 * AVX512_NV, bw_kernel_avx512, bw_pack_b_avx512, 1};
  else if (level == EM__QLINEAR_AVX2)
    isa = (bw_isa){AVX2_MR, 8 * AVX2_NV, bw_kernel_avx2, bw_pack_b_avx2, 0};
#endif
  /* dx[r][k] = Σ_o (dy[r][o]·s_w[o])·wq[o][k] */
  const bw_gemm gx = {.dy = dy, .si = N, .sj = 1, .s = sw, .b = wq, .c = dx, .I = M, .J = N, .K = K};
  /* dW[o][k] = Σ_r (dy[r][o]·s_x[r])·xq[r][k] */
  const bw_gemm gw = {.dy = dy, .si = 1, .sj = N, .s = sx, .b = xq, .c = dw, .I = N, .J = M, .K = K};
  err = bw_gemm_run(&gx, &isa);
  if (!err) err = bw_gemm_run(&gw, &isa);
  if (!err) err = column_sums(dy, db, M, N);
  return err;
}

/* ---- the layer object ------------------------------------------------------------------------------ */

/* em_qlinear names the CUDA layer too (em_qlinear_create_cuda), whose struct lives in another
 * file: a layer of one kind handed to the other kind's functions would compile and then read
 * pointers of the wrong memory. The first member marks a host layer, so that those calls fail
 * with EM_EINVAL instead (for every CUDA layer whose struct does not begin with this value). */
#define QL_HOST_MAGIC 0x51484f53u /* "QHOS" */

struct em_qlinear {
  uint32_t magic; /* QL_HOST_MAGIC */
  int64_t N, K;
  int8_t *wq; /* N × K, quantised once at creation */
  float *sw, *b;
  int8_t *xq; /* the last forward's quantised x (M × K), kept for backward */
  float *sx;
  int64_t cap; /* rows xq and sx have room for */
  int64_t M;   /* rows of the last forward; 0: none yet (or it failed) */
};

void em_qlinear_destroy(em_qlinear *layer) {
  if (!layer || layer->magic != QL_HOST_MAGIC) return; /* NULL, or not a host layer: nothing to free here */
  layer->magic = 0;
  em_host_free(layer->wq), em_host_free(layer->sw), em_host_free(layer->b);
  em_host_free(layer->xq), em_host_free(layer->sx);
  free(layer);
}

int em_qlinear_create(em_qlinear **layer, const float *w, const float *b, int64_t N, int64_t K) {
  if (!layer) return em__fail(EM_EINVAL, "em_qlinear_create: layer is NULL");
  *layer = NULL;
  int err;
  if (N < 1 || K < 1 || K > EM_QLINEAR_MAX_K)
    return em__fail(EM_EINVAL, "em_qlinear_create: N = %lld, K = %lld (each must be at least 1, K at most %lld)",
                    (long long)N, (long long)K, (long long)EM_QLINEAR_MAX_K);
  if (!w || !b) return em__fail(EM_EINVAL, "em_qlinear_create: w or b is NULL");
  if ((double)N * (double)K > (double)SIZE_MAX / 8)
    return em__fail(EM_ENOMEM, "em_qlinear_create: N = %lld, K = %lld: W does not fit in memory", (long long)N,
                    (long long)K);
  em_qlinear *l = calloc(1, sizeof *l);
  if (!l) return em__fail(EM_ENOMEM, "em_qlinear_create: no memory for the layer");
  l->magic = QL_HOST_MAGIC, l->N = N, l->K = K;
  l->wq = em_host_alloc((size_t)(N * K));
  l->sw = em_host_alloc((size_t)N * sizeof(float));
  l->b = em_host_alloc((size_t)N * sizeof(float));
  if (!l->wq || !l->sw || !l->b) {
    em_qlinear_destroy(l);
    return em__fail(EM_ENOMEM, "em_qlinear_create: no memory for W (%lld × %lld int8) and its scales", (long long)N,
                    (long long)K);
  }
  err = em_qlinear_quantize_cpu(w, N, K, l->wq, l->sw);
  if (err) {
    em_qlinear_destroy(l);
    return err;
  }
  memcpy(l->b, b, (size_t)N * sizeof(float));
  *layer = l;
  return EM_OK;
}

int em_qlinear_forward(em_qlinear *layer, const float *x, float *y, int64_t M) {
  if (!layer || !x || !y) return em__fail(EM_EINVAL, "em_qlinear_forward: layer, x or y is NULL");
  if (layer->magic != QL_HOST_MAGIC)
    return em__fail(EM_EINVAL, "em_qlinear_forward: not a host layer (one from em_qlinear_create_cuda goes to "
                               "em_qlinear_forward_cuda_layer)");
  int err = sizes_ok("em_qlinear_forward", M, layer->N, layer->K);
  if (err) return err;
  if (M > layer->cap) { /* grow: the old buffers stay until the new ones exist */
    if ((double)M * (double)layer->K > (double)SIZE_MAX / 8)
      return em__fail(EM_ENOMEM, "em_qlinear_forward: M = %lld rows of K = %lld do not fit in memory", (long long)M,
                      (long long)layer->K);
    int8_t *xq = em_host_alloc((size_t)(M * layer->K));
    float *sx = em_host_alloc((size_t)M * sizeof(float));
    if (!xq || !sx) {
      em_host_free(xq), em_host_free(sx);
      return em__fail(EM_ENOMEM, "em_qlinear_forward: no memory to keep x quantised (%lld × %lld)", (long long)M,
                      (long long)layer->K);
    }
    em_host_free(layer->xq), em_host_free(layer->sx);
    layer->xq = xq, layer->sx = sx, layer->cap = M;
  }
  layer->M = 0; /* until the new xq and s_x are complete, backward has nothing to use */
  err = em_qlinear_quantize_cpu(x, M, layer->K, layer->xq, layer->sx);
  if (!err)
    err = em_qlinear_forward_cpu(layer->xq, layer->sx, layer->wq, layer->sw, layer->b, NULL, y, M, layer->N, layer->K);
  if (!err) layer->M = M;
  return err;
}

int em_qlinear_backward(em_qlinear *layer, const float *dy, float *dx, float *dw, float *db) {
  if (!layer || !dy || !dx || !dw || !db)
    return em__fail(EM_EINVAL, "em_qlinear_backward: layer, dy, dx, dw or db is NULL");
  if (layer->magic != QL_HOST_MAGIC)
    return em__fail(EM_EINVAL, "em_qlinear_backward: not a host layer (one from em_qlinear_create_cuda goes to "
                               "em_qlinear_backward_cuda_layer)");
  if (layer->M == 0)
    return em__fail(EM_EINVAL, "em_qlinear_backward: no forward to go back through (call em_qlinear_forward first)");
  return em_qlinear_backward_cpu(dy, layer->xq, layer->sx, layer->wq, layer->sw, dx, dw, db, layer->M, layer->N,
                                 layer->K);
}
