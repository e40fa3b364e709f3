/* What the hand-built CPU bench programs (bench/attention_cpu.c, bench/qlinear_cpu.c) share: the FMA rate their percentages
 * divide by. One copy, so that every CPU bench divides by the same number the checker uses. */
#ifndef EM_BENCH_COMMON_CPU_H
#define EM_BENCH_COMMON_CPU_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/em.h"

/* EM_BENCH_FMA (GFLOP/s) if set, else the checker's own figure, from build/peaks.json where a quiet
 * measurement was cached (by make check, or an earlier bench), else measured now: a machine busy
 * with other programs measures low then, and the percentages come out high (the line says so).
 * Prints where the rate came from; returns it (and in *threads the threads it is for), or −1 after
 * saying why it could not be had. */
static inline double bench_fma_rate(int *threads) {
  em_peaks p;
  memset(&p, 0, sizeof p);
  const char *env = getenv("EM_BENCH_FMA");
  double fma = env ? atof(env) : 0.0;
  if (fma > 0.0) {
    em_cpu_name(p.cpu_name, sizeof p.cpu_name);
#if defined(_OPENMP)
    p.cpu_threads = omp_get_max_threads();
#else
    p.cpu_threads = 1;
#endif
    printf("%s, %d threads: FMA rate %.1f GFLOP/s (EM_BENCH_FMA)\n", p.cpu_name, p.cpu_threads, fma);
    *threads = p.cpu_threads;
    return fma;
  }
  int err = em_peaks_get("build/peaks.json", 0, 0, &p);
  if (err) {
    fprintf(stderr, "em_peaks_get: %s (%s): run from the project root after make, or set EM_BENCH_FMA\n",
            em_strerror(err), em_error_detail());
    return -1.0;
  }
  printf("%s, %d threads: FMA rate %.1f GFLOP/s (%s)\n", p.cpu_name, p.cpu_threads, p.cpu_fma_gflops,
         p.from_cache      ? "build/peaks.json"
         : p.cpu_contended ? "measured now, while other programs held the cores: low, the percentages high"
                           : "measured now");
  *threads = p.cpu_threads;
  return p.cpu_fma_gflops;
}

#endif /* EM_BENCH_COMMON_CPU_H */
