/* Lab 8's CPU quantised linear layer, timed: the int8 forward (x quantised inside, as the layer
 * object runs it; and from already quantised operands), beside a float32 GEMM of the same shape
 * (y = x·Wᵀ + b, written below for the comparison: packed, register-blocked AVX-512, OpenMP), the
 * backward, and the naive baseline; rates against this machine's FMA rate as em_peaks measures it
 * (what the checker's roofline divides by).
 *
 *   make -j2 lib
 *   gcc -std=c11 -O3 -march=native -fopenmp -Iinclude bench/qlinear_cpu.c build/libem.a -ljansson -lm \
 *       -o build/qlinear_cpu              (where libem.a has CUDA objects: add -L/usr/local/cuda/lib64
 *                                          -lcudart_static -lrt -lpthread -ldl -lstdc++)
 *   build/qlinear_cpu                     the default table: M = N = K = 2048, then decode-like M = 16
 *   build/qlinear_cpu M N K [WHAT] [REPS] [LEVEL]   WHAT: all (default), layer, int8, f32, backward, naive,
 *                                         amx (the AMX variant, bench/qlinear_amx.h, checked first);
 *                                         LEVEL: avx512-vnni, avx512, avx2, portable (the library's kernels,
 *                                         reference/cpu/qlinear_isa.h; default the best this CPU has)
 *   build/qlinear_cpu amx-check          the AMX variant against the library's forward on ragged shapes:
 *                                         the int32 sums and y must be the same bits (exit 1 if not)
 *   EM_BENCH_FMA=234.5 build/qlinear_cpu ...   divide by this FMA rate (else build/peaks.json's, else
 *                                         one measured now; run from the project root)
 *
 * Each line is REPS (default 3) repetitions, each the median of the calls that fit in about half a
 * second after a warm-up call, so the spread between repetitions shows the machine's noise; then
 * the lowest and highest as a share of the FMA rate; then the same calls' operations per CPU second
 * times the threads, which on a machine shared with other programs is close to what the wall
 * clock would say if it were not. Operations: 2·M·N·K for a forward (int8 multiply-adds for the
 * quantised one), 4·M·N·K for the backward. "GB/s W" is the int8 weights (N·K bytes) per second,
 * the number that matters for decode-like shapes.
 */
#define _DEFAULT_SOURCE /* syscall(), which asks Linux for AMX's tile state (qlinear_amx.h) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/em.h"
#include "common_cpu.h"
#include "qlinear_amx.h"
#include "../reference/cpu/qlinear_isa.h"

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of all the process's threads (threads waiting at a barrier spin, and count too). */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ---- the float32 GEMM of the comparison: y = x·Wᵀ + b -------------------------------------------
 * x (M × K) and W (N × K) are packed once per call, both along k: x in panels of GM = 8 rows
 * (per k, the panel's 8 values), W in panels of GN = 48 outputs (per k, 48 values: three vectors).
 * The kernel holds an 8 × 48 block of y in 24 AVX-512 accumulators; per k, three vector loads of
 * W's panel and 8 broadcasts of x feed 24 FMAs. y is cut into tiles of 96 rows × 192 outputs
 * (OpenMP dynamic); k runs in blocks of GK = 512, y's block loaded and stored once per block.
 * Measured at 2048³ on the course VM (CPU-time rates, GFLOP/s): 8 × 48 with GK = 128, 188; 256,
 * 196; 512, 203; 2048, 205; 6 × 64 and 12 × 32 within the noise of 8 × 48: 86-91% of the FMA
 * rate by the wall clock, the packing (2.8 ms, scalar) included. -DGM=, -DGNV=, -DGK=, -DGTM=, -DGTN=
 * try others. */
#ifndef GM
#define GM 8
#endif
#ifndef GNV
#define GNV 3
#endif
#define GN (16 * GNV)
#ifndef GK
#define GK 512
#endif
#ifndef GTM
#define GTM (GM * 12)
#endif
#ifndef GTN
#define GTN (GN * 4)
#endif

#if defined(__AVX512F__)
static void f32_kernel(const float *ap, const float *bp, int64_t kn, float *y, int64_t ldy, int64_t rows,
                       int64_t cols, int first, const float *bias) {
  __m512 c[GM][GNV];
#pragma GCC unroll 16
  for (int i = 0; i < GM; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < GNV; ++v) c[i][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kn; ++k) {
    __m512 bv[GNV];
#pragma GCC unroll 4
    for (int v = 0; v < GNV; ++v) bv[v] = _mm512_load_ps(bp + k * GN + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < GM; ++i) {
      const __m512 a = _mm512_set1_ps(ap[k * GM + i]);
#pragma GCC unroll 4
      for (int v = 0; v < GNV; ++v) c[i][v] = _mm512_fmadd_ps(a, bv[v], c[i][v]);
    }
  }
  for (int64_t i = 0; i < rows; ++i)
    for (int v = 0; v < GNV; ++v) {
      const int64_t n = cols - 16 * v;
      if (n <= 0) break;
      const __mmask16 live = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
      float *yv = y + i * ldy + 16 * v;
      __m512 s = first ? c[i][v] : _mm512_add_ps(_mm512_maskz_loadu_ps(live, yv), c[i][v]);
      if (bias) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(live, bias + 16 * v));
      _mm512_mask_storeu_ps(yv, live, s);
    }
}
#else
static void f32_kernel(const float *ap, const float *bp, int64_t kn, float *y, int64_t ldy, int64_t rows,
                       int64_t cols, int first, const float *bias) {
  float c[GM][GN] = {{0}};
  for (int64_t k = 0; k < kn; ++k)
    for (int i = 0; i < GM; ++i)
      for (int v = 0; v < GN; ++v) c[i][v] += ap[k * GM + i] * bp[k * GN + v];
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t v = 0; v < cols; ++v) {
      float s = first ? c[i][v] : y[i * ldy + v] + c[i][v];
      y[i * ldy + v] = bias ? s + bias[v] : s;
    }
}
#endif

typedef struct f32_gemm {
  float *ap, *bp; /* packed x and W, allocated once for the shape */
} f32_gemm;

static void f32_forward(f32_gemm *g, const float *x, const float *w, const float *b, float *y, int64_t M, int64_t N,
                        int64_t K) {
  const int64_t pm = (M + GM - 1) / GM, pn = (N + GN - 1) / GN;
#pragma omp parallel
  {
#pragma omp for schedule(static) nowait
    for (int64_t p = 0; p < pm; ++p)
      for (int64_t k = 0; k < K; ++k)
        for (int i = 0; i < GM; ++i) g->ap[(p * K + k) * GM + i] = p * GM + i < M ? x[(p * GM + i) * K + k] : 0.0f;
#pragma omp for schedule(static)
    for (int64_t q = 0; q < pn; ++q)
      for (int v = 0; v < GN; ++v) {
        const float *row = w + (q * GN + v) * K;
        float *dst = g->bp + q * K * GN + v;
        if (q * GN + v < N)
          for (int64_t k = 0; k < K; ++k) dst[k * GN] = row[k];
        else
          for (int64_t k = 0; k < K; ++k) dst[k * GN] = 0.0f;
      }
    const int64_t tm = (M + GTM - 1) / GTM, tn = (N + GTN - 1) / GTN;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tm * tn; ++t) {
      const int64_t m0 = t / tn * GTM, n0 = t % tn * GTN;
      for (int64_t k0 = 0; k0 < K; k0 += GK) {
        const int64_t kn = K - k0 < GK ? K - k0 : GK;
        for (int64_t n = n0; n < n0 + GTN && n < N; n += GN)
          for (int64_t m = m0; m < m0 + GTM && m < M; m += GM)
            f32_kernel(g->ap + (m / GM * K + k0) * GM, g->bp + (n / GN * K + k0) * GN, kn, y + m * N + n, N,
                       M - m < GM ? M - m : GM, N - n < GN ? N - n : GN, k0 == 0, k0 + kn == K ? b + n : NULL);
      }
    }
  }
}

/* ---- what is timed ------------------------------------------------------------------------------- */

typedef struct bench {
  int64_t M, N, K;
  float *x, *w, *b, *y, *dy, *dx, *dw, *db;
  int8_t *xq, *wq;
  float *sx, *sw;
  em_qlinear *layer;
  f32_gemm g;
} bench;

static int call(const char *what, bench *s) {
  if (!strcmp(what, "layer")) return em_qlinear_forward(s->layer, s->x, s->y, s->M);
  if (!strcmp(what, "int8"))
    return em_qlinear_forward_cpu(s->xq, s->sx, s->wq, s->sw, s->b, NULL, s->y, s->M, s->N, s->K);
  if (!strcmp(what, "quantize")) return em_qlinear_quantize_cpu(s->x, s->M, s->K, s->xq, s->sx);
  if (!strcmp(what, "backward"))
    return em_qlinear_backward_cpu(s->dy, s->xq, s->sx, s->wq, s->sw, s->dx, s->dw, s->db, s->M, s->N, s->K);
  if (!strcmp(what, "naive"))
    return em_qlinear_forward_naive_cpu(s->xq, s->sx, s->wq, s->sw, s->b, NULL, s->y, s->M, s->N, s->K);
  if (!strcmp(what, "amx")) return amx_forward(s->xq, s->sx, s->wq, s->sw, s->b, NULL, s->y, s->M, s->N, s->K);
  f32_forward(&s->g, s->x, s->w, s->b, s->y, s->M, s->N, s->K);
  return EM_OK;
}

static const char *label(const char *what) {
  if (!strcmp(what, "layer")) return "int8 fwd, x quantised inside";
  if (!strcmp(what, "int8")) return "int8 fwd, quantised operands";
  if (!strcmp(what, "quantize")) return "quantise x alone";
  if (!strcmp(what, "backward")) return "backward (float32)";
  if (!strcmp(what, "naive")) return "naive int8 fwd, one thread";
  if (!strcmp(what, "amx")) return "int8 fwd on AMX tiles (variant)";
  return "float32 GEMM x.W^T + b";
}

/* Runs `what` REPS times; returns the median of the best repetition's time (for ratios), 0 on error. */
static double run(const char *what, bench *s, int reps, double fma, int threads) {
  const double ops = (!strcmp(what, "backward") ? 4.0 : !strcmp(what, "quantize") ? 0.0 : 2.0) * (double)s->M *
                     (double)s->N * (double)s->K;
  int err = call(what, s); /* warm-up: page faults, the thread pool */
  if (err) {
    fprintf(stderr, "%s: %s (%s)\n", what, em_strerror(err), em_error_detail());
    return 0.0;
  }
  const int one = !strcmp(what, "naive");
  double wall[16], busy[16], best = 1e300;
  if (reps > 16) reps = 16;
  printf("%-30s", label(what));
  for (int r = 0; r < reps; ++r) {
    double t[256], c[256];
    int calls = 0;
    const double start = now();
    while (calls < 256 && (calls < 3 || now() - start < 0.5)) {
      const double t0 = now(), c0 = cpu_now();
      call(what, s);
      t[calls] = now() - t0;
      c[calls++] = cpu_now() - c0;
    }
    qsort(t, (size_t)calls, sizeof t[0], cmp_double);
    qsort(c, (size_t)calls, sizeof c[0], cmp_double);
    wall[r] = t[calls / 2];
    busy[r] = c[calls / 2] / (one ? 1 : threads);
    best = wall[r] < best ? wall[r] : best;
  }
  double lo = 1e300, hi = 0.0;
  for (int r = 0; r < reps; ++r) {
    printf(" %8.3f", wall[r] * 1e3);
    lo = wall[r] < lo ? wall[r] : lo;
    hi = wall[r] > hi ? wall[r] : hi;
  }
  printf(" ms");
  if (ops > 0) {
    const double roof = one ? fma / threads : fma;
    printf(" | %6.1f .. %6.1f G/s (%4.0f%% .. %4.0f%% of FMA) | per CPU-s x threads:", ops / hi * 1e-9, ops / lo * 1e-9,
           100.0 * ops / hi * 1e-9 / roof, 100.0 * ops / lo * 1e-9 / roof);
    for (int r = 0; r < reps; ++r) printf(" %6.1f", ops / busy[r] * 1e-9);
  }
  if (!strcmp(what, "layer") || !strcmp(what, "int8") || !strcmp(what, "amx"))
    printf(" | GB/s W %.1f .. %.1f", (double)(s->N * s->K) / hi * 1e-9, (double)(s->N * s->K) / lo * 1e-9);
  printf("\n");
  return best;
}

static int setup(bench *s, int64_t M, int64_t N, int64_t K) {
  memset(s, 0, sizeof *s);
  s->M = M, s->N = N, s->K = K;
  const int64_t pm = (M + GM - 1) / GM * GM, pn = (N + GN - 1) / GN * GN;
  s->x = em_host_alloc((size_t)(M * K) * 4), s->w = em_host_alloc((size_t)(N * K) * 4);
  s->b = em_host_alloc((size_t)N * 4), s->y = em_host_alloc((size_t)(M * N) * 4);
  s->dy = em_host_alloc((size_t)(M * N) * 4), s->dx = em_host_alloc((size_t)(M * K) * 4);
  s->dw = em_host_alloc((size_t)(N * K) * 4), s->db = em_host_alloc((size_t)N * 4);
  s->xq = em_host_alloc((size_t)(M * K)), s->wq = em_host_alloc((size_t)(N * K));
  s->sx = em_host_alloc((size_t)M * 4), s->sw = em_host_alloc((size_t)N * 4);
  s->g.ap = em_host_alloc((size_t)(pm * K) * 4), s->g.bp = em_host_alloc((size_t)(pn * K) * 4);
  if (!s->x || !s->w || !s->b || !s->y || !s->dy || !s->dx || !s->dw || !s->db || !s->xq || !s->wq || !s->sx ||
      !s->sw || !s->g.ap || !s->g.bp) {
    fprintf(stderr, "out of memory for M=%lld N=%lld K=%lld\n", (long long)M, (long long)N, (long long)K);
    return 1;
  }
  em_rng_fill_uniform_f32(s->x, M * K, (em_rng_key){.seed = 1, .case_id = 8, .tensor_id = 0}, -2.0f, 2.0f);
  em_rng_fill_uniform_f32(s->w, N * K, (em_rng_key){.seed = 1, .case_id = 8, .tensor_id = 1}, -0.1f, 0.1f);
  em_rng_fill_uniform_f32(s->b, N, (em_rng_key){.seed = 1, .case_id = 8, .tensor_id = 2}, -1.0f, 1.0f);
  em_rng_fill_uniform_f32(s->dy, M * N, (em_rng_key){.seed = 1, .case_id = 8, .tensor_id = 3}, -1.0f, 1.0f);
  int err = em_qlinear_quantize_cpu(s->x, M, K, s->xq, s->sx);
  if (!err) err = em_qlinear_quantize_cpu(s->w, N, K, s->wq, s->sw);
  if (!err) err = em_qlinear_create(&s->layer, s->w, s->b, N, K);
  if (err) {
    fprintf(stderr, "setup: %s (%s)\n", em_strerror(err), em_error_detail());
    return 1;
  }
  return 0;
}

static void teardown(bench *s) {
  float *f[] = {s->x, s->w, s->b, s->y, s->dy, s->dx, s->dw, s->db, s->sx, s->sw, s->g.ap, s->g.bp};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; ++i) em_host_free(f[i]);
  em_host_free(s->xq), em_host_free(s->wq);
  em_qlinear_destroy(s->layer);
}

/* The AMX variant against the library's forward on the same operands: the int32 sums and y, bit for
 * bit (the library's levels agree with each other so; tests/test_lab8_reference.c). Says which. */
static int amx_same(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b, int64_t M,
                    int64_t N, int64_t K) {
  int32_t *acc0 = em_host_alloc((size_t)(M * N) * 4), *acc1 = em_host_alloc((size_t)(M * N) * 4);
  float *y0 = em_host_alloc((size_t)(M * N) * 4), *y1 = em_host_alloc((size_t)(M * N) * 4);
  int err = !acc0 || !acc1 || !y0 || !y1 ? EM_ENOMEM : EM_OK;
  if (!err) err = em_qlinear_forward_cpu(xq, sx, wq, sw, b, acc0, y0, M, N, K);
  if (!err) {
    memset(acc1, 0x5a, (size_t)(M * N) * 4), memset(y1, 0xff, (size_t)(M * N) * 4); /* unwritten: differs */
    err = amx_forward(xq, sx, wq, sw, b, acc1, y1, M, N, K);
  }
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; !err && i < M * N; ++i)
    if (acc0[i] != acc1[i] || memcmp(&y0[i], &y1[i], 4) != 0) bad += 1, first = first < 0 ? i : first;
  if (err)
    printf("AMX check M=%lld N=%lld K=%lld: %s\n", (long long)M, (long long)N, (long long)K, em_strerror(err));
  else if (bad)
    printf("AMX check M=%lld N=%lld K=%lld: %lld of %lld outputs differ from the library's, first [%lld][%lld]: "
           "acc %d against %d\n", (long long)M, (long long)N, (long long)K, (long long)bad, (long long)(M * N),
           (long long)(first / N), (long long)(first % N), acc1[first], acc0[first]);
  else
    printf("AMX check M=%lld N=%lld K=%lld: the library's bits (%s)\n", (long long)M, (long long)N, (long long)K,
           em__qlinear_isa_name(em__qlinear_isa()));
  em_host_free(acc0), em_host_free(acc1), em_host_free(y0), em_host_free(y1);
  return !err && !bad;
}

/* amx-check: ragged and edge shapes (one row, one output, K past a block of 64 by 1, an odd last
 * pair of panels or of W tiles, decode-like), extreme values among them. Exit 1 if any differs. */
static int amx_check(void) {
  const char *why = amx_unavailable();
  if (why) {
    printf("AMX check not run: %s\n", why);
    return 2;
  }
  static const int64_t shapes[][3] = {{1, 1, 1},       {1, 16, 64},     {16, 16, 64},      {17, 33, 65},
                                      {31, 47, 130},   {48, 40, 4},     {300, 200, 1000},  {257, 129, 2048},
                                      {16, 8192, 8192}, {1, 4100, 8190}, {2048, 2048, 2048}};
  int ok = 1;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    const int64_t M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
    float *x = em_host_alloc((size_t)(M * K) * 4), *w = em_host_alloc((size_t)(N * K) * 4);
    float *b = em_host_alloc((size_t)N * 4), *sx = em_host_alloc((size_t)M * 4), *sw = em_host_alloc((size_t)N * 4);
    int8_t *xq = em_host_alloc((size_t)(M * K)), *wq = em_host_alloc((size_t)(N * K));
    int err = !x || !w || !b || !sx || !sw || !xq || !wq ? EM_ENOMEM : EM_OK;
    if (err) {
      printf("AMX check M=%lld N=%lld K=%lld: no memory for the operands\n", (long long)M, (long long)N, (long long)K);
      ok = 0;
    } else {
      em_rng_fill_uniform_f32(x, M * K, (em_rng_key){.seed = 3, .case_id = (uint32_t)i, .tensor_id = 0}, -2.0f, 2.0f);
      em_rng_fill_uniform_f32(w, N * K, (em_rng_key){.seed = 3, .case_id = (uint32_t)i, .tensor_id = 1}, -0.1f, 0.1f);
      em_rng_fill_uniform_f32(b, N, (em_rng_key){.seed = 3, .case_id = (uint32_t)i, .tensor_id = 2}, -1.0f, 1.0f);
      /* an outlier in every fourth row of x: ±127 there and small values around it */
      for (int64_t r = 0; r < M; r += 4) x[r * K + (r * 7) % K] = r % 8 ? 1e3f : -1e3f;
      err = em_qlinear_quantize_cpu(x, M, K, xq, sx);
      if (!err) err = em_qlinear_quantize_cpu(w, N, K, wq, sw);
      ok &= !err && amx_same(xq, sx, wq, sw, b, M, N, K);
    }
    em_host_free(x), em_host_free(w), em_host_free(b), em_host_free(sx), em_host_free(sw);
    em_host_free(xq), em_host_free(wq);
  }
  printf("AMX check: %s\n", ok ? "every shape gave the library's bits" : "FAILED");
  return ok ? 0 : 1;
}

/* One shape: every variant asked for, then int8 against float32. */
static int shape(int64_t M, int64_t N, int64_t K, const char *what, int reps, double fma, int threads) {
  bench s;
  int status = 0;
  if (setup(&s, M, N, K)) return 1;
  printf("M=%lld N=%lld K=%lld, kernels %s: wall ms per call (median of each repetition) | rate | rate by CPU time\n",
         (long long)M, (long long)N, (long long)K, em__qlinear_isa_name(em__qlinear_isa()));
  const int all = !strcmp(what, "all");
  double t_layer = 0.0, t_f32 = 0.0;
  if (all || !strcmp(what, "layer")) t_layer = run("layer", &s, reps, fma, threads);
  if (all || !strcmp(what, "int8")) run("int8", &s, reps, fma, threads);
  if (all) run("quantize", &s, reps, fma, threads);
  if (all || !strcmp(what, "f32")) t_f32 = run("f32", &s, reps, fma, threads);
  if (all || !strcmp(what, "backward")) run("backward", &s, reps, fma, threads);
  if (!strcmp(what, "naive")) run("naive", &s, reps, fma, threads);
  if (all || !strcmp(what, "amx")) {
    const char *why = amx_unavailable();
    if (why)
      printf("%-30s not run: %s\n", label("amx"), why);
    else if (amx_same(s.xq, s.sx, s.wq, s.sw, s.b, M, N, K)) {
      const double t = run("amx", &s, reps, fma, threads), rate = amx_rate(threads);
      if (t > 0 && rate > 0)
        printf("AMX int8 rate on %d threads (tdpbssd chains): %.0f GOP/s; the variant's best repetition %.0f%% of it\n",
               threads, rate, 100.0 * 2.0 * (double)M * (double)N * (double)K / t * 1e-9 / rate);
    }
    else
      status = 1;
  }
  if (t_layer > 0 && t_f32 > 0)
    printf("int8 forward (x quantised inside) is %.2fx the float32 GEMM (best repetitions)\n", t_f32 / t_layer);
  teardown(&s);
  return status;
}

static const int LEVELS[] = {EM__QLINEAR_PORTABLE, EM__QLINEAR_AVX2, EM__QLINEAR_AVX512, EM__QLINEAR_AVX512_VNNI};

int main(int argc, char **argv) {
  int threads = 1;
  double fma = bench_fma_rate(&threads);
  if (fma < 0) return 1;
  if (argc == 2 && !strcmp(argv[1], "amx-check")) return amx_check();
  if (argc >= 4) {
    const char *what = argc >= 5 ? argv[4] : "all";
    const int reps = argc >= 6 ? atoi(argv[5]) : 3;
    if (argc >= 7) {
      int level = -1;
      for (int i = 0; i < 4; ++i)
        if (!strcmp(argv[6], em__qlinear_isa_name(LEVELS[i]))) level = LEVELS[i];
      if (level < 0 || em__qlinear_force_isa(level)) {
        fprintf(stderr, "level %s: not one of portable, avx2, avx512, avx512-vnni this CPU has\n", argv[6]);
        return 2;
      }
    }
    return shape(atoll(argv[1]), atoll(argv[2]), atoll(argv[3]), what, reps, fma, threads);
  }
  int status = shape(2048, 2048, 2048, "all", 3, fma, threads);
  status |= shape(16, 2048, 2048, "all", 3, fma, threads);
  return status;
}
