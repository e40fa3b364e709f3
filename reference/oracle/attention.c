/* Lab 7 oracle: attention in float64, one query row at a time, the textbook steps.
 *
 * For query i of a (batch, head) pair: its scores against every key it sees, in a row of m doubles;
 * their maximum; exp(score − max) and their sum; the weighted sum of the value rows; the division.
 * Every step is double: a product of two floats is exact in double (24 + 24 significant bits), a
 * dot product of d ≤ 128 of them is off by at most d·2^-53 of the sum of their magnitudes, exp is
 * libm's (under 1 ulp of double), and the sums over m keys are off by at most m·2^-53 relatively:
 * for m below 2^20 that is 2^-33, far below float32's 2^-24. For the checker this is the exact
 * answer. The mask is em/attention.h's (query i sees keys j ≤ i + m − n); a query that sees no key
 * gets o = 0.
 *
 * Rows are independent, so OpenMP spreads them over the cores (the checker runs the oracle on the
 * large cases too); each thread has its own row of m doubles, taken from one allocation. */
#include "em/attention.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/error.h"

int em_attention_oracle(const float *q, const float *k, const float *v, double *o, int64_t b, int64_t h,
                        int64_t n, int64_t m, int64_t d, int causal) {
  if (!em_attention_d_ok(d))
    return em__fail(EM_EINVAL, "em_attention_oracle: d = %lld (supported: 16, 32, 64, 128)", (long long)d);
  if (b < 1 || h < 1 || n < 1 || m < 1)
    return em__fail(EM_EINVAL, "em_attention_oracle: b = %lld, h = %lld, n = %lld, m = %lld (each must be at least 1)",
                    (long long)b, (long long)h, (long long)n, (long long)m);
  int nt = 1;
#if defined(_OPENMP)
  nt = omp_get_max_threads();
#endif
  if ((uint64_t)m > SIZE_MAX / sizeof(double) / (uint64_t)nt)
    return em__fail(EM_ENOMEM, "em_attention_oracle: %d rows of m = %lld doubles do not fit in memory", nt,
                    (long long)m);
  double *rows = malloc((size_t)nt * (size_t)m * sizeof *rows);
  if (!rows)
    return em__fail(EM_ENOMEM, "em_attention_oracle: no memory for %d rows of m = %lld doubles", nt, (long long)m);
  const double s = 1.0 / sqrt((double)d);
  const int64_t total = b * h * n; /* query rows in all */

#pragma omp parallel for schedule(dynamic, 8) num_threads(nt)
  for (int64_t r = 0; r < total; ++r) {
    int tid = 0;
#if defined(_OPENMP)
    tid = omp_get_thread_num();
#endif
    double *p = rows + (size_t)tid * (size_t)m;
    const int64_t pair = r / n, i = r % n; /* (batch, head) pair and query index */
    const float *qi = q + r * d, *kp = k + pair * m * d, *vp = v + pair * m * d;
    double *oi = o + r * d;
    /* keys 0..last are visible; with the mask, i + m − n ≤ m − 1 always, and < 0 for the first
     * n − m queries when n > m */
    const int64_t last = causal ? i + m - n : m - 1;
    for (int64_t c = 0; c < d; ++c) oi[c] = 0.0;
    if (last < 0) continue; /* no key: o = 0 */

    double mx = -INFINITY;
    for (int64_t j = 0; j <= last; ++j) {
      double dot = 0.0;
      /* In SIMD lanes: the order of a float64 sum of d ≤ 128 terms moves it by ~2^-46 relatively,
       * nothing beside float32's 2^-24, and the checker's large speed cases need the speed. */
#pragma omp simd reduction(+ : dot)
      for (int64_t c = 0; c < d; ++c) dot += (double)qi[c] * (double)kp[j * d + c];
      p[j] = s * dot;
      if (p[j] > mx) mx = p[j];
    }
    double sum = 0.0;
    for (int64_t j = 0; j <= last; ++j) {
      p[j] = exp(p[j] - mx);
      sum += p[j];
    }
    for (int64_t j = 0; j <= last; ++j)
      for (int64_t c = 0; c < d; ++c) oi[c] += p[j] * (double)vp[j * d + c];
    for (int64_t c = 0; c < d; ++c) oi[c] /= sum;
  }
  free(rows);
  return EM_OK;
}
