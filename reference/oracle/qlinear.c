/* Lab 8 oracle: the int8 quantised linear layer of em/qlinear.h, written to be obviously right.
 *
 * Quantisation is exact float32 arithmetic, so the oracle must give its bits, not an approximation:
 *   - max|a| is exact in any order;
 *   - s = max/127 is computed in double and rounded to float. A quotient of two floats rounded to
 *     double (53 bits) and then to float (24 bits) equals the correctly rounded float quotient,
 *     since 53 ≥ 2·24 + 2 (double rounding is innocuous for +, −, ×, ÷ then: Figueroa, "When is
 *     double rounding innocuous?", 1995). For a subnormal result the float grid is 2^-149 and
 *     max/127 = M·2^-149/127 with M an integer is never within 2^-53 relatively of a midpoint
 *     (it is (2M)/254 units, at least 1/254 of a unit from one), so it holds there too;
 *   - a/s the same way (where the quotient is subnormal the argument above may not hold, but
 *     such a quotient rounds to 0 whatever its last bit), then rint on the float quotient: round
 *     half to even in the default rounding mode, which the whole library assumes;
 *   - s = 0 gives q = 0. That is a row of zeros, and also a row whose max is below 63.5·2^-149
 *     (so tiny that max/127 rounds to 0 in float32): a/0 would be ±inf or NaN, and with s = 0 the
 *     dequantised row s·q is 0 whatever q is, so q = 0 is the only choice that keeps it finite.
 * NaN and Inf inputs are out of the contract (em/qlinear.h quantises finite tensors).
 *
 * Forward: acc in int64, checked to fit int32 (EM_ERANGE otherwise: only int8 values of −128,
 * which quantisation never produces, can overflow it at K ≤ EM_QLINEAR_MAX_K); y in double:
 * s_x·s_w is exact in double (two 24-bit significands), ·acc and +b round at 2^-53.
 *
 * Backward: every sum in double, one term at a time. dy·s is exact in double (24 + 24 bits), its
 * product with q rounds once, so a sum of k terms is off by at most (k + 1)·2^-53·Σ|term|: for
 * the checker, exact.
 * Rows are independent, so OpenMP spreads them over the cores (the checker runs the oracle on its
 * large cases too, and blocks them for the caches: below).
 */
#include "em/qlinear.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "em/error.h"

#if FLT_EVAL_METHOD != 0
#error "the oracle needs float arithmetic evaluated in float (FLT_EVAL_METHOD 0): build with SSE, not x87"
#endif

static int sizes_ok(const char *fn, int64_t M, int64_t N, int64_t K) {
  if (M < 1 || N < 1 || K < 1 || K > EM_QLINEAR_MAX_K)
    return em__fail(EM_EINVAL, "%s: M = %lld, N = %lld, K = %lld (each must be at least 1, K at most %lld)", fn,
                    (long long)M, (long long)N, (long long)K, (long long)EM_QLINEAR_MAX_K);
  return EM_OK;
}

int em_qlinear_quantize_oracle(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  if (rows < 1 || cols < 1)
    return em__fail(EM_EINVAL, "em_qlinear_quantize_oracle: rows = %lld, cols = %lld (each must be at least 1)",
                    (long long)rows, (long long)cols);
  if (!a || !aq || !scale) return em__fail(EM_EINVAL, "em_qlinear_quantize_oracle: a NULL pointer");
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float *ar = a + r * cols;
    int8_t *qr = aq + r * cols;
    double m = 0.0;
    for (int64_t k = 0; k < cols; ++k) m = fmax(m, fabs((double)ar[k]));
    const float s = (float)(m / 127.0);
    scale[r] = s;
    for (int64_t k = 0; k < cols; ++k) {
      if (s == 0.0f) {
        qr[k] = 0;
        continue;
      }
      const float quotient = (float)((double)ar[k] / (double)s);
      double q = rint((double)quotient);
      q = q > 127.0 ? 127.0 : q < -127.0 ? -127.0 : q;
      qr[k] = (int8_t)q;
    }
  }
  return EM_OK;
}

/* The checker runs the oracle three times on every case it times (the case and its two anti-cache
 * variants), so at 8192³ its speed is much of the checker's: rows go in blocks of kRows, so that a
 * row of W (or, for dW, of x) fetched once serves kRows rows, where every row fetched all of W (64 MB
 * at 8192², past the last-level cache) before; each element is still summed over the same terms in
 * the same order, and the outputs are the same bits. On the course's 2-core Zen 4 VM at
 * M = 256, N = K = 8192: forward 0.96 → 0.53 s (mostly dot_i8), backward 2.90 → 2.74 s. */
enum { kRows = 4 };

/* Σ_k a[k]·b[k] exactly: chunks of 2^16 products summed in int32 (each |product| ≤ 128·128 = 2^14,
 * so a chunk stays within 2^30), the chunks in int64. The same sum as one int64 accumulator, in a
 * loop that vectorises on int32 lanes (1.8x the int64 loop on one Zen 4 core at K = 1024). */
static int64_t dot_i8(const int8_t *a, const int8_t *b, int64_t n) {
  int64_t sum = 0;
  for (int64_t k0 = 0; k0 < n; k0 += (int64_t)1 << 16) {
    const int64_t k1 = n - k0 < ((int64_t)1 << 16) ? n : k0 + ((int64_t)1 << 16);
    int32_t part = 0;
    for (int64_t k = k0; k < k1; ++k) part += (int32_t)a[k] * (int32_t)b[k];
    sum += part;
  }
  return sum;
}

int em_qlinear_forward_oracle(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                              int32_t *acc, double *y, int64_t M, int64_t N, int64_t K) {
  int err = sizes_ok("em_qlinear_forward_oracle", M, N, K);
  if (err) return err;
  if (!xq || !sx || !wq || !sw || !b || !y) return em__fail(EM_EINVAL, "em_qlinear_forward_oracle: a NULL pointer");
  int overflow = 0;
  const int64_t blocks = (M + kRows - 1) / kRows;
  /* Over (block of rows, output) pairs: enough of them for every core even at M = 1. */
#pragma omp parallel for collapse(2) schedule(static) reduction(| : overflow)
  for (int64_t rb = 0; rb < blocks; ++rb)
    for (int64_t o = 0; o < N; ++o)
      for (int64_t r = rb * kRows; r < M && r < (rb + 1) * kRows; ++r) {
        const int64_t sum = dot_i8(xq + r * K, wq + o * K, K);
        if (sum > INT32_MAX || sum < INT32_MIN) overflow = 1;
        if (acc) acc[r * N + o] = (int32_t)(sum > INT32_MAX ? INT32_MAX : sum < INT32_MIN ? INT32_MIN : sum);
        y[r * N + o] = (double)sx[r] * (double)sw[o] * (double)sum + (double)b[o];
      }
  if (overflow)
    return em__fail(EM_ERANGE, "em_qlinear_forward_oracle: a sum of int8 products does not fit int32 (K = %lld; "
                    "only values of -128, which quantisation never gives, can get there)", (long long)K);
  return EM_OK;
}

int em_qlinear_backward_oracle(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                               double *dx, double *dw, double *db, int64_t M, int64_t N, int64_t K) {
  int err = sizes_ok("em_qlinear_backward_oracle", M, N, K);
  if (err) return err;
  if (!dy || !xq || !sx || !wq || !sw || !dx || !dw || !db)
    return em__fail(EM_EINVAL, "em_qlinear_backward_oracle: a NULL pointer");
  /* dx[r][k] = Σ_o dy[r][o]·ŵ[o][k], ŵ = s_w[o]·wq[o][k]: row r of dx is a combination of W's rows,
   * added in order of o; each row of W serves a block of rows of dx. */
#pragma omp parallel for schedule(static)
  for (int64_t r0 = 0; r0 < M; r0 += kRows) {
    const int64_t r1 = M - r0 < kRows ? M : r0 + kRows;
    for (int64_t k = 0; k < (r1 - r0) * K; ++k) dx[r0 * K + k] = 0.0;
    for (int64_t o = 0; o < N; ++o)
      for (int64_t r = r0; r < r1; ++r) {
        const double g = (double)dy[r * N + o] * (double)sw[o];
        double *dxr = dx + r * K;
        for (int64_t k = 0; k < K; ++k) dxr[k] += g * (double)wq[o * K + k];
      }
  }
  /* dW[o][k] = Σ_r dy[r][o]·x̂[r][k], x̂ = s_x[r]·xq[r][k], added in order of r; db[o] = Σ_r dy[r][o].
   * Each row of x serves a block of rows of dW. */
#pragma omp parallel for schedule(static)
  for (int64_t o0 = 0; o0 < N; o0 += kRows) {
    const int64_t o1 = N - o0 < kRows ? N : o0 + kRows;
    for (int64_t k = 0; k < (o1 - o0) * K; ++k) dw[o0 * K + k] = 0.0;
    for (int64_t o = o0; o < o1; ++o) db[o] = 0.0;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t o = o0; o < o1; ++o) {
        const double g = (double)dy[r * N + o];
        db[o] += g;
        const double gs = g * (double)sx[r];
        double *dwo = dw + o * K;
        for (int64_t k = 0; k < K; ++k) dwo[k] += gs * (double)xq[r * K + k];
      }
  }
  return EM_OK;
}
