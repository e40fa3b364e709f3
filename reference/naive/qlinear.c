/* Lab 8 naive baseline: the formulas of em/qlinear.h as plain loops, one thread, one element at a
 * time (this file is compiled without auto-vectorisation: see the Makefile). The floor a solution
 * should clear.
 *
 * Quantisation is the contract's exact arithmetic (a float division, rintf: round half to even in
 * the default rounding mode), so it gives the oracle's bits. The forward sums each dot product in
 * an int32 (uint32 arithmetic, which wraps instead of overflowing: the true sum fits int32, so the
 * wrapped one is it), then the epilogue in float32 in the contract's order. The backward sums in
 * double, one output row at a time (a careful first attempt: a float running sum over thousands
 * of terms would lose bits), walking W and xq along their rows, never down a column.
 */
#include "em/qlinear.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "em/error.h"

static int sizes_ok(const char *fn, int64_t M, int64_t N, int64_t K) {
  if (M < 1 || N < 1 || K < 1 || K > EM_QLINEAR_MAX_K)
    return em__fail(EM_EINVAL, "%s: M = %lld, N = %lld, K = %lld (each must be at least 1, K at most %lld)", fn,
                    (long long)M, (long long)N, (long long)K, (long long)EM_QLINEAR_MAX_K);
  return EM_OK;
}

int em_qlinear_quantize_naive_cpu(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  if (rows < 1 || cols < 1)
    return em__fail(EM_EINVAL, "em_qlinear_quantize_naive_cpu: rows = %lld, cols = %lld (each must be at least 1)",
                    (long long)rows, (long long)cols);
  if (!a || !aq || !scale) return em__fail(EM_EINVAL, "em_qlinear_quantize_naive_cpu: a NULL pointer");
  for (int64_t r = 0; r < rows; ++r) {
    const float *ar = a + r * cols;
    float m = 0.0f;
    for (int64_t k = 0; k < cols; ++k) m = fmaxf(m, fabsf(ar[k]));
    const float s = m / 127.0f;
    scale[r] = s;
    for (int64_t k = 0; k < cols; ++k) {
      /* s = 0: a zero row, or one so tiny that max/127 underflows to 0 (em/qlinear.h) */
      float q = s == 0.0f ? 0.0f : rintf(ar[k] / s);
      q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
      aq[r * cols + k] = (int8_t)q;
    }
  }
  return EM_OK;
}

int em_qlinear_forward_naive_cpu(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                                 int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
  int err = sizes_ok("em_qlinear_forward_naive_cpu", M, N, K);
  if (err) return err;
  if (!xq || !sx || !wq || !sw || !b || !y) return em__fail(EM_EINVAL, "em_qlinear_forward_naive_cpu: a NULL pointer");
  for (int64_t r = 0; r < M; ++r)
    for (int64_t o = 0; o < N; ++o) {
      uint32_t sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += (uint32_t)((int32_t)xq[r * K + k] * (int32_t)wq[o * K + k]);
      const int32_t a = (int32_t)sum;
      if (acc) acc[r * N + o] = a;
      const float scale = sx[r] * sw[o];
      const float prod = scale * (float)a;
      y[r * N + o] = prod + b[o];
    }
  return EM_OK;
}

int em_qlinear_backward_naive_cpu(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq,
                                  const float *sw, float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K) {
  int err = sizes_ok("em_qlinear_backward_naive_cpu", M, N, K);
  if (err) return err;
  if (!dy || !xq || !sx || !wq || !sw || !dx || !dw || !db)
    return em__fail(EM_EINVAL, "em_qlinear_backward_naive_cpu: a NULL pointer");
  double *row = malloc((size_t)K * sizeof *row);
  if (!row) return em__fail(EM_ENOMEM, "em_qlinear_backward_naive_cpu: no memory for a row of %lld doubles", (long long)K);
  /* dx[r][:] = Σ_o (dy[r][o]·s_w[o])·wq[o][:] */
  for (int64_t r = 0; r < M; ++r) {
    for (int64_t k = 0; k < K; ++k) row[k] = 0.0;
    for (int64_t o = 0; o < N; ++o) {
      const double g = (double)dy[r * N + o] * (double)sw[o];
      for (int64_t k = 0; k < K; ++k) row[k] += g * (double)wq[o * K + k];
    }
    for (int64_t k = 0; k < K; ++k) dx[r * K + k] = (float)row[k];
  }
  /* dW[o][:] = Σ_r (dy[r][o]·s_x[r])·xq[r][:], db[o] = Σ_r dy[r][o] */
  for (int64_t o = 0; o < N; ++o) {
    double sum = 0.0;
    for (int64_t k = 0; k < K; ++k) row[k] = 0.0;
    for (int64_t r = 0; r < M; ++r) {
      sum += (double)dy[r * N + o];
      const double g = (double)dy[r * N + o] * (double)sx[r];
      for (int64_t k = 0; k < K; ++k) row[k] += g * (double)xq[r * K + k];
    }
    for (int64_t k = 0; k < K; ++k) dw[o * K + k] = (float)row[k];
    db[o] = (float)sum;
  }
  free(row);
  return EM_OK;
}
