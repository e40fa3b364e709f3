/* Lab 7's CPU attention, timed: GFLOP/s of the reference (float32 and bfloat16) and of the naive
 * baseline, beside this machine's FMA rate as em_peaks measures it (what the checker's roofline
 * divides by).
 *
 *   make -j2 lib
 *   gcc -std=c11 -O3 -march=native -fopenmp -Iinclude bench/attention_cpu.c build/libem.a -ljansson -lm \
 *       -o build/attention_cpu            (where libem.a has CUDA objects: add -L/usr/local/cuda/lib64
 *                                          -lcudart_static -lrt -lpthread -ldl -lstdc++)
 *   build/attention_cpu                   the default table: b·h = 8, n = m = 2048, every d, causal too
 *   build/attention_cpu B H N M D CAUSAL [cpu|bf16|naive] [REPS]
 *   EM_BENCH_FMA=234.5 build/attention_cpu ...   divide by this FMA rate (else build/peaks.json's,
 *                                                 else one measured now; run from the project root)
 *
 * Each line is REPS (default 3) repetitions, each the median of the calls that fit in about half a
 * second after a warm-up call, so the spread between repetitions shows the machine's noise; then
 * the lowest and highest as a share of the FMA rate (of one core's share of it for the naive
 * baseline, which runs on one thread); then the same calls' FLOPs per CPU second times the threads,
 * which on a machine shared with other programs is close to what the wall clock would say if it
 * were not. FLOPs count 4·d per (query, visible key) pair: 4·b·h·n·m·d without the mask, about half
 * with it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/em.h"
#include "common_cpu.h"

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of all the process's threads: on a machine shared with other programs, FLOPs per CPU
 * second times the thread count is the rate the call would have had with its cores to itself (a
 * lower bound: threads waiting at a barrier spin, and that counts as CPU time too). */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* FLOPs of one call: 4·d per visible (query, key) pair. */
static double flops(int64_t b, int64_t h, int64_t n, int64_t m, int64_t d, int causal) {
  double pairs = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t seen = causal ? i + m - n + 1 : m;
    pairs += seen < 0 ? 0 : seen > m ? m : seen;
  }
  return 4.0 * (double)(b * h * d) * pairs;
}

typedef struct bufs {
  float *q, *k, *v, *o;
  em_bf16 *qh, *kh, *vh, *oh;
} bufs;

static int call(const char *which, bufs *x, int64_t b, int64_t h, int64_t n, int64_t m, int64_t d, int causal) {
  if (!strcmp(which, "bf16")) return em_attention_bf16_cpu(x->qh, x->kh, x->vh, x->oh, b, h, n, m, d, causal);
  if (!strcmp(which, "naive")) return em_attention_naive_cpu(x->q, x->k, x->v, x->o, b, h, n, m, d, causal);
  return em_attention_cpu(x->q, x->k, x->v, x->o, b, h, n, m, d, causal);
}

static int run(const char *which, int64_t b, int64_t h, int64_t n, int64_t m, int64_t d, int causal, int reps,
               double fma_gflops, int threads) {
  const size_t nq = (size_t)(b * h * n * d), nk = (size_t)(b * h * m * d);
  bufs x = {malloc(nq * 4), malloc(nk * 4), malloc(nk * 4), malloc(nq * 4),
            malloc(nq * 2), malloc(nk * 2), malloc(nk * 2), malloc(nq * 2)};
  if (!x.q || !x.k || !x.v || !x.o || !x.qh || !x.kh || !x.vh || !x.oh) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  uint64_t state = 12345;
  float *in[3] = {x.q, x.k, x.v};
  em_bf16 *inh[3] = {x.qh, x.kh, x.vh};
  size_t len[3] = {nq, nk, nk};
  for (int t = 0; t < 3; ++t)
    for (size_t e = 0; e < len[t]; ++e) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      float r = (float)((double)(state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f; /* [−1, 1) */
      inh[t][e] = em_f32_to_bf16(r);
      in[t][e] = r;
    }
  const double f = flops(b, h, n, m, d, causal);
  int err = call(which, &x, b, h, n, m, d, causal); /* warm-up: page faults, the thread pool */
  if (err) {
    fprintf(stderr, "%s: %s (%s)\n", which, em_strerror(err), em_error_detail());
    return 1;
  }
  printf("%-5s b*h=%-3lld n=%-5lld m=%-5lld d=%-3lld %-6s", which, (long long)(b * h), (long long)n, (long long)m,
         (long long)d, causal ? "causal" : "full");
  double wall[16], busy[16];
  if (reps > 16) reps = 16;
  for (int r = 0; r < reps; ++r) {
    double t[64], c[64];
    int calls = 0;
    const double start = now();
    while (calls < 64 && (calls < 3 || now() - start < 0.5)) {
      const double t0 = now(), c0 = cpu_now();
      call(which, &x, b, h, n, m, d, causal);
      t[calls] = now() - t0;
      c[calls++] = cpu_now() - c0;
    }
    qsort(t, (size_t)calls, sizeof t[0], cmp_double);
    qsort(c, (size_t)calls, sizeof c[0], cmp_double);
    wall[r] = f / t[calls / 2] * 1e-9;
    /* the naive baseline runs on one thread */
    busy[r] = f / c[calls / 2] * 1e-9 * (strcmp(which, "naive") ? threads : 1);
  }
  double lo = 1e300, hi = 0.0;
  for (int r = 0; r < reps; ++r) {
    printf(" %6.1f", wall[r]);
    lo = wall[r] < lo ? wall[r] : lo;
    hi = wall[r] > hi ? wall[r] : hi;
  }
  /* the naive baseline has one core's share of the FMA rate */
  const double roof = strcmp(which, "naive") ? fma_gflops : fma_gflops / threads;
  printf("  | %5.1f%% .. %5.1f%% |", 100.0 * lo / roof, 100.0 * hi / roof);
  for (int r = 0; r < reps; ++r) printf(" %6.1f", busy[r]);
  printf("\n");
  free(x.q), free(x.k), free(x.v), free(x.o), free(x.qh), free(x.kh), free(x.vh), free(x.oh);
  return 0;
}

int main(int argc, char **argv) {
  /* The FMA rate the percentages divide by: EM_BENCH_FMA (GFLOP/s) if set, else the checker's own
   * figure, from build/peaks.json where a quiet measurement was cached (by make check, or an
   * earlier run of this program), else measured now: a machine busy with other programs measures
   * low then, and the percentages come out high (the line says so). */
  int threads = 1;
  double fma = bench_fma_rate(&threads);
  if (fma < 0) return 1;
  printf("GFLOP/s by the wall clock (median of each repetition) | their %% of the FMA rate | GFLOP per CPU "
         "second x threads (the rate with the cores to itself)\n");
  if (argc >= 7) {
    const char *which = argc >= 8 ? argv[7] : "cpu";
    int reps = argc >= 9 ? atoi(argv[8]) : 3;
    return run(which, atoll(argv[1]), atoll(argv[2]), atoll(argv[3]), atoll(argv[4]), atoll(argv[5]), atoi(argv[6]),
               reps, fma, threads);
  }
  int status = 0;
  const int64_t ds[] = {16, 32, 64, 128};
  for (int causal = 0; causal < 2; ++causal)
    for (int i = 0; i < 4; ++i) status |= run("cpu", 2, 4, 2048, 2048, ds[i], causal, 3, fma, threads);
  status |= run("bf16", 2, 4, 2048, 2048, 64, 0, 3, fma, threads);
  status |= run("naive", 1, 1, 512, 512, 64, 0, 3, fma, threads);
  return status;
}
