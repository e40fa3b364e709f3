/* Lab 8's CPU forward on AMX, the tile unit of Intel's Xeons since Sapphire Rapids: a variant of
 * bench/qlinear_cpu.c, not in libem. On that CPU PyTorch's `torch._int_mm` (oneDNN on AMX) ran at
 * 2.75 times the library's AVX-512 VNNI forward (BENCHMARKS.md, labs 7 and 8 on an Intel Xeon);
 * this is the same instruction, to be measured there before the library takes it.
 *
 * One `tdpbssd` multiplies a 16 × 64 tile of int8 (A) by a 64 × 16 one (B, stored as 16 rows of 16
 * groups of 4 bytes) into a 16 × 16 tile of int32 sums, signed × signed: 16 384 products, where one
 * `vpdpbusd` does 64. The operands:
 *   - A = 16 rows of W (16 outputs) × 64 of k, loaded where W lies (row stride K) when K is a
 *     multiple of 64 and all 32 rows of a pair of tiles exist; otherwise from a zero-padded copy;
 *   - B = 16 rows of x × 64 of k in B's layout: row g holds k = 4g .. 4g + 3 of each of the 16 rows,
 *     which is the library's VNNI panel without its + 128 (the tile unit multiplies signed by
 *     signed), packed once per call in blocks of 1 KiB, zeros past K and past M;
 *   - C = the 16 × 16 sums for outputs (rows) by x's rows (columns): the library's VNNI tile, the
 *     same transposition and the same epilogue, so y has the library's bits.
 * Two A by two B tiles into four C tiles (the 8 tile registers): per 64 of k, 4 loads and 4 products.
 * Work items as the library's (256 rows × 128 outputs, OpenMP dynamic): the item's packed x
 * (256·K bytes) stays in L2 while its W tiles pass.
 *
 * The tile instructions are written here as inline assembly with a memory clobber: GCC 12's
 * intrinsics (amxtileintrin.h) tell the compiler neither that a load reads memory nor that a store
 * writes it, and its _tile_loadconfig names only the first 8 bytes of the 64-byte configuration.
 * Linux hands a process the tile state only when asked (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16
 * and later): amx_unavailable() asks once.
 */
#ifndef EM_BENCH_QLINEAR_AMX_H
#define EM_BENCH_QLINEAR_AMX_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../reference/cpu/qlinear_transpose.h"
#define AMX_X86 1
#else
#define AMX_X86 0
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/em.h"

/* NULL where the tile unit can run here, else why not. Asks the kernel for the tile state once. */
static const char *amx_unavailable(void) {
#if AMX_X86
  static int state; /* 0 not asked yet, 1 usable, −1 no AMX-INT8 or AVX-512 BW, −2 refused by the OS */
  if (!state) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    __builtin_cpu_init();
    const int has = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 1) && (d >> 25 & 1) &&
                    __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    /* 0x1023: ARCH_REQ_XCOMP_PERM; 18: XFEATURE_XTILEDATA */
    state = !has ? -1 : syscall(SYS_arch_prctl, 0x1023, 18) == 0 ? 1 : -2;
  }
  return state == 1    ? NULL
         : state == -1 ? "this CPU has no AMX-INT8 (with AVX-512 BW)"
                       : "Linux did not grant the tile state (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16 on)";
#else
  return "not an x86-64 build";
#endif
}

#if AMX_X86
#define T_AMX512 __attribute__((target("avx512f,avx512bw")))

/* Palette 1, every tile 16 rows of 64 bytes. */
typedef struct __attribute__((aligned(64))) amx_config {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} amx_config;

static void amx_begin(void) {
  amx_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  __asm__ volatile("ldtilecfg %0" ::"m"(cfg) : "memory");
}
static void amx_end(void) { __asm__ volatile("tilerelease" ::: "memory"); }

#define AMX_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::: "memory")
#define AMX_LOAD(t, base, stride) \
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"((const void *)(base)), "r"((long)(stride)) : "memory")
#define AMX_STORE(t, base, stride) \
  __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"((void *)(base)), "r"((long)(stride)) : "memory")
/* c += a·b, in AT&T order (b, a, c) */
#define AMX_DP(c, a, b) __asm__ volatile("tdpbssd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::: "memory")

/* Rows 16p .. 16p + 15 of xq as B tiles: per 64 of k, 1 KiB, row g the 4 bytes of k = 4g .. 4g + 3
 * of each row; zeros past K and past M. */
T_AMX512 static void amx_pack_panel(const int8_t *xq, int64_t M, int64_t K, int64_t p, int8_t *dst) {
  for (int64_t k0 = 0; k0 < K; k0 += 64, dst += 1024) {
    const int64_t len = K - k0 < 64 ? K - k0 : 64;
    const __mmask64 live = len == 64 ? ~(__mmask64)0 : (((__mmask64)1 << len) - 1);
    __m512i v[16];
    for (int l = 0; l < 16; ++l) {
      const int64_t r = 16 * p + l;
      v[l] = r < M ? _mm512_maskz_loadu_epi8(live, xq + r * K + k0) : _mm512_setzero_si512();
    }
    em__transpose16(v);
    for (int g = 0; g < 16; ++g) _mm512_storeu_si512((void *)(dst + 64 * g), v[g]);
  }
}

/* Two W tiles (w0, w1: rows ws bytes apart) by two x tiles (x0, x1: packed panels) over kb blocks of
 * 64 of k; c gets the four 16 × 16 sums (w0·x0, w0·x1, w1·x0, w1·x1), 1 KiB each, row = output. */
static void amx_pair(const int8_t *w0, const int8_t *w1, int64_t ws, const int8_t *x0, const int8_t *x1, int64_t kb,
                     int32_t *c) {
  AMX_ZERO(0);
  AMX_ZERO(1);
  AMX_ZERO(2);
  AMX_ZERO(3);
  for (int64_t i = 0; i < kb; ++i) {
    AMX_LOAD(4, w0 + 64 * i, ws);
    AMX_LOAD(5, w1 + 64 * i, ws);
    AMX_LOAD(6, x0 + 1024 * i, 64);
    AMX_LOAD(7, x1 + 1024 * i, 64);
    AMX_DP(0, 4, 6);
    AMX_DP(1, 4, 7);
    AMX_DP(2, 5, 6);
    AMX_DP(3, 5, 7);
  }
  AMX_STORE(0, c, 64);
  AMX_STORE(1, c + 256, 64);
  AMX_STORE(2, c + 512, 64);
  AMX_STORE(3, c + 768, 64);
}

/* One C tile (c[o·16 + l]: output o0 + o, row r0 + l) → y (and acc), as the library's VNNI
 * epilogue: (s_x·s_w)·float(acc) + b, three roundings in that order. */
T_AMX512 static void amx_epilogue(const int32_t *c, const float *sx, const float *sw, const float *b, int32_t *acc,
                                  float *y, int64_t N, int64_t r0, int64_t rows, int64_t o0, int64_t outs) {
  __m512i v[16];
  for (int o = 0; o < 16; ++o) v[o] = _mm512_loadu_si512((const void *)(c + 16 * o));
  em__transpose16(v);
  const __mmask16 live = outs >= 16 ? 0xffff : (__mmask16)((1u << outs) - 1);
  const __m512 swv = _mm512_maskz_loadu_ps(live, sw + o0), bv = _mm512_maskz_loadu_ps(live, b + o0);
  for (int64_t l = 0; l < rows; ++l) {
    const int64_t at = (r0 + l) * N + o0;
    if (acc) _mm512_mask_storeu_epi32(acc + at, live, v[l]);
    const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(sx[r0 + l]), swv);
    _mm512_mask_storeu_ps(y + at, live, _mm512_add_ps(_mm512_mul_ps(scale, _mm512_cvtepi32_ps(v[l])), bv));
  }
}
#endif

/* The tile unit's int8 rate on `threads` threads, in G operations per second (2 per product, as the
 * checker counts): six independent chains of tdpbssd (C += A·B, 32 768 operations each) in the tile
 * registers, no memory traffic, the best of three timings of about 0.1 s. What the variant's time
 * is held to, as the checker holds the VNNI kernel to its chains of vpdpbusd. 0 without AMX. */
static double amx_rate(int threads) {
  if (amx_unavailable()) return 0.0;
#if AMX_X86
  double best = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    const long iters = 1L << 14;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
#pragma omp parallel num_threads(threads)
    {
      int8_t ab[2048];
      memset(ab, 1, sizeof ab);
      amx_begin();
      AMX_LOAD(6, ab, 64);
      AMX_LOAD(7, ab + 1024, 64);
      AMX_ZERO(0);
      AMX_ZERO(1);
      AMX_ZERO(2);
      AMX_ZERO(3);
      AMX_ZERO(4);
      AMX_ZERO(5);
      for (long i = 0; i < iters; ++i) {
        AMX_DP(0, 6, 7);
        AMX_DP(1, 6, 7);
        AMX_DP(2, 6, 7);
        AMX_DP(3, 6, 7);
        AMX_DP(4, 6, 7);
        AMX_DP(5, 6, 7);
      }
      int32_t c[256];
      AMX_STORE(0, c, 64); /* the sums leave the unit, so that none of the work is dead */
      if (c[0] != (int32_t)(64 * iters)) fprintf(stderr, "amx_rate: a sum came out %d, not %ld\n", c[0], 64 * iters);
      amx_end();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const double gops = (double)threads * (double)iters * 6.0 * 32768.0 / s * 1e-9;
    best = gops > best ? gops : best;
  }
  return best;
#else
  (void)threads;
  return 0.0;
#endif
}

/* y = s_x·s_w·(xq·Wqᵀ) + b (and the int32 sums in acc, when not NULL), as em_qlinear_forward_cpu.
 * EM_ENOTSUP where amx_unavailable() says why, EM_ENOMEM without memory for the packed x. */
static int amx_forward(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                       int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
  if (amx_unavailable()) return EM_ENOTSUP;
#if AMX_X86
  enum { MC = 256, NC = 128 };
  const int64_t kb = (K + 63) / 64, kp = 64 * kb, panel = 1024 * kb, panels = (M + 15) / 16;
  int threads = 1;
#if defined(_OPENMP)
  if ((double)M * (double)N * (double)K >= (double)(1 << 20)) threads = omp_get_max_threads();
#endif
  /* the packed x, a zero panel (the second B tile of an odd last panel), then per thread a padded
   * copy of 32 rows of W and the four C tiles */
  const int64_t per_thread = 32 * kp + 4096;
  int8_t *mem = em_host_alloc((size_t)((panels + 1) * panel + threads * per_thread));
  if (!mem) return EM_ENOMEM;
  int8_t *zero = mem + panels * panel;
  memset(zero, 0, (size_t)panel);
  const int64_t row_blocks = (M + MC - 1) / MC, out_blocks = (N + NC - 1) / NC;
#pragma omp parallel num_threads(threads)
  {
    int tid = 0;
#if defined(_OPENMP)
    tid = omp_get_thread_num();
#endif
    int8_t *wpad = mem + (panels + 1) * panel + tid * per_thread;
    int32_t *c = (int32_t *)(void *)(wpad + 32 * kp);
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) amx_pack_panel(xq, M, K, p, mem + p * panel);
    amx_begin();
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < row_blocks * out_blocks; ++t) {
      const int64_t rb = t / out_blocks, ob = t % out_blocks;
      const int64_t p0 = rb * (MC / 16), p1 = p0 + MC / 16 < panels ? p0 + MC / 16 : panels;
      const int64_t oend = ob * NC + NC < N ? ob * NC + NC : N;
      for (int64_t o0 = ob * NC; o0 < oend; o0 += 32) {
        const int64_t outs0 = N - o0 < 16 ? N - o0 : 16, outs1 = N - o0 - 16 < 16 ? N - o0 - 16 : 16;
        const int direct = K % 64 == 0 && o0 + 32 <= N;
        const int8_t *w0 = wq + o0 * K;
        int64_t ws = K;
        if (!direct) {
          for (int64_t r = 0; r < 32; ++r) {
            int8_t *dst = wpad + r * kp;
            const int64_t have = o0 + r < N ? K : 0;
            if (have) memcpy(dst, wq + (o0 + r) * K, (size_t)K);
            memset(dst + have, 0, (size_t)(kp - have));
          }
          w0 = wpad, ws = kp;
        }
        for (int64_t p = p0; p < p1; p += 2) {
          const int two = p + 1 < p1;
          amx_pair(w0, w0 + 16 * ws, ws, mem + p * panel, two ? mem + (p + 1) * panel : zero, kb, c);
          for (int h = 0; h < 2; ++h) {
            const int64_t outs = h ? outs1 : outs0;
            if (outs <= 0) continue;
            for (int v = 0; v < 1 + two; ++v) {
              const int64_t r0 = 16 * (p + v), rows = M - r0 < 16 ? M - r0 : 16;
              amx_epilogue(c + 256 * (2 * h + v), sx, sw, b, acc, y, N, r0, rows, o0 + 16 * h, outs);
            }
          }
        }
      }
    }
    amx_end();
  }
  em_host_free(mem);
  return EM_OK;
#else
  (void)xq, (void)sx, (void)wq, (void)sw, (void)b, (void)acc, (void)y, (void)M, (void)N, (void)K;
  return EM_ENOTSUP;
#endif
}

#endif /* EM_BENCH_QLINEAR_AMX_H */
