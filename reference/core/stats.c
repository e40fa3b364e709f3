#include "em/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "em/error.h"

uint64_t em_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double em_now_s(void) { return (double)em_now_ns() * 1e-9; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double em_quantile_sorted(const double *v, size_t n, double q) {
  if (n == 0) return 0.0;
  if (q <= 0.0) return v[0];
  if (q >= 1.0) return v[n - 1];
  double pos = q * (double)(n - 1);
  size_t lo = (size_t)pos;
  double frac = pos - (double)lo;
  return lo + 1 < n ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[lo];
}

double em_median(double *v, size_t n) {
  if (n == 0) return 0.0;
  qsort(v, n, sizeof *v, cmp_double);
  return em_quantile_sorted(v, n, 0.5);
}

void em_stats_of(double *v, size_t n, em_stats *out) {
  memset(out, 0, sizeof *out);
  if (n == 0) return;
  out->n = n;
  out->median = em_median(v, n);
  out->min = v[0];
  out->max = v[n - 1];
  out->p10 = em_quantile_sorted(v, n, 0.10);
  out->p90 = em_quantile_sorted(v, n, 0.90);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += v[i];
  out->mean = sum / (double)n;
  double *dev = (double *)malloc(n * sizeof *dev);
  if (dev) {
    for (size_t i = 0; i < n; ++i) dev[i] = fabs(v[i] - out->median);
    out->mad = em_median(dev, n);
    free(dev);
  } else {
    out->mad = NAN; /* spread unknown rather than a wrong number */
  }
}

int em_bench_interleaved(int nfns, em_timed_fn const *fns, void *const *args,
                         const em_bench_opts *opts, em_bench_result *out, int *failed) {
  memset(out, 0, sizeof *out);
  if (failed) *failed = -1;
  if (nfns < 1 || nfns > EM_BENCH_MAX_FNS || !opts || opts->max_rounds < 1)
    return em__fail(EM_EINVAL, "em_bench_interleaved: %d functions (1 to %d allowed)", nfns,
                    EM_BENCH_MAX_FNS);
  out->nfns = nfns;
  double dummy;
  int err;

  /* Warm-up: every function at least once (first-touch, module load, caches), then until each
   * has had its share of the warm-up time. */
  for (int f = 0; f < nfns; ++f) {
    double t0 = em_now_s();
    do {
      if ((err = fns[f](args[f], &dummy)) != EM_OK) {
        if (failed) *failed = f;
        return err;
      }
    } while (em_now_s() - t0 < opts->warmup_s / nfns);
  }

  size_t cap = (size_t)opts->max_rounds;
  double *times = (double *)malloc(cap * (size_t)nfns * sizeof *times);
  double *ratios = (double *)malloc(cap * sizeof *ratios);
  if (!times || !ratios) {
    free(times);
    free(ratios);
    return em__fail(EM_ENOMEM, "em_bench_interleaved: no memory for %d rounds", opts->max_rounds);
  }

  int rounds = 0;
  double start = em_now_s();
  while (rounds < opts->max_rounds &&
         (rounds < opts->min_rounds || em_now_s() - start < opts->budget_s)) {
    for (int k = 0; k < nfns; ++k) {
      /* Rotate who goes first, and every nfns rounds reverse the order: then each function follows
       * each other one equally often, so a predecessor that evicts the cache (or warms it) cannot
       * favour one side of a ratio. */
      int f = (rounds / nfns) % 2 ? (nfns - 1 - k + rounds) % nfns : (k + rounds) % nfns;
      double t;
      if ((err = fns[f](args[f], &t)) != EM_OK) {
        if (failed) *failed = f;
        free(times);
        free(ratios);
        return err;
      }
      times[(size_t)rounds * nfns + f] = t;
    }
    rounds++;
  }
  out->rounds = rounds;

  for (int i = 0; i < nfns; ++i)
    for (int j = 0; j < nfns; ++j) {
      for (int r = 0; r < rounds; ++r) {
        double tj = times[(size_t)r * nfns + j];
        ratios[r] = tj > 0 ? times[(size_t)r * nfns + i] / tj : NAN;
      }
      out->ratio[i][j] = em_median(ratios, (size_t)rounds);
    }
  for (int f = 0; f < nfns; ++f) {
    for (int r = 0; r < rounds; ++r) ratios[r] = times[(size_t)r * nfns + f];
    em_stats_of(ratios, (size_t)rounds, &out->time[f]);
  }
  free(times);
  free(ratios);
  return EM_OK;
}
