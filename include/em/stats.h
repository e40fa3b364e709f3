/* Clocks, robust statistics and interleaved benchmarking.
 *
 * Timing rules (DESIGN.md, "Timing and efficiency"): warm up first; repeat until a time budget;
 * report the median, which one descheduled repetition cannot move; when comparing A with B, run
 * them interleaved (A B A B …) and take the median of the per-round ratios, so that drift of the
 * machine (frequency, a neighbour's load) hits both sides of the ratio alike.
 */
#ifndef EM_STATS_H
#define EM_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Nanoseconds from CLOCK_MONOTONIC. */
uint64_t em_now_ns(void);
double em_now_s(void);

typedef struct em_stats {
  size_t n;
  double median, mean, min, max;
  double mad;  /* median absolute deviation from the median: the spread that ignores outliers */
  double p10, p90;
} em_stats;

/* Summarises v[0..n) (v is left sorted); n == 0 gives all zeros. */
void em_stats_of(double *v, size_t n, em_stats *out);

/* The median of v[0..n) (v is left sorted); 0 for n == 0. Even n averages the middle two. */
double em_median(double *v, size_t n);

/* Quantile q in [0, 1] of sorted v by linear interpolation. */
double em_quantile_sorted(const double *v, size_t n, double q);

/* One timed run: runs the code once and stores its duration in seconds in *seconds. A timed
 * function measures itself because only it knows how: a CPU run reads the monotonic clock, a GPU
 * run records CUDA events and checks that no work outlived them. Returns EM_OK or an error. */
typedef int (*em_timed_fn)(void *arg, double *seconds);

typedef struct em_bench_opts {
  double warmup_s;   /* time spent in untimed runs of each function first (at least one run) */
  double budget_s;   /* wall-clock budget for the timed rounds, all functions together */
  int min_rounds;    /* rounds run even past the budget */
  int max_rounds;    /* hard stop */
} em_bench_opts;

#define EM_BENCH_MAX_FNS 4

typedef struct em_bench_result {
  int nfns;
  int rounds;
  em_stats time[EM_BENCH_MAX_FNS];          /* seconds per call */
  /* ratio[i][j] = median over rounds of time_i / time_j, the drift-cancelling comparison */
  double ratio[EM_BENCH_MAX_FNS][EM_BENCH_MAX_FNS];
} em_bench_result;

/* Runs fns[0..nfns) interleaved, each round in a rotated order (reversed every nfns rounds) so that
 * none always runs first or after the same neighbour (warm caches, turbo), until the budget and
 * min_rounds are both met. Stops at the first error and
 * returns it, with fns index in *failed (if not NULL). nfns ≤ EM_BENCH_MAX_FNS. */
int em_bench_interleaved(int nfns, em_timed_fn const *fns, void *const *args,
                         const em_bench_opts *opts, em_bench_result *out, int *failed);

#ifdef __cplusplus
}
#endif
#endif /* EM_STATS_H */
