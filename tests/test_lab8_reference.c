/* Lab 8, the CPU functions of libem for the int8 quantised linear layer against its oracle: the
 * reference (em_qlinear_*_cpu, every kernel level this machine has, forced in turn through
 * reference/cpu/qlinear_isa.h) and the naive baseline (em_qlinear_*_naive_cpu).
 *
 *   - quantise: bit for bit (scales and int8 values) on rows built to break it: quotients exactly
 *     k + 0.5 (s a power of two, so a/s is exact and round-half-even decides), values one ulp either
 *     side of (k + 0.5)·s, huge and tiny rows, subnormal scales, rows whose max/127 underflows to 0,
 *     rows of ±0, one outlier, all-equal rows, ±max extremes, random rows of every length around
 *     the vector widths;
 *   - forward: acc equal to the oracle's int32 sums exactly, y within the bound below, and y the
 *     same bits on every level (the epilogue is the same three roundings everywhere); K not a
 *     multiple of any tile (1, 3, 17, 63, 65, 1000), M = 1, 16, 17, large M, N = 1, N < 16, zero
 *     rows in x and W, ±127 everywhere (sums past 2^24, where acc → float rounds, and at K =
 *     EM_QLINEAR_MAX_K near 2^31), and −128 values (which quantisation never gives) summed exactly;
 *   - backward: dx, dW, db within the bounds below;
 *   - the layer object end to end; EM_EINVAL for sizes out of range.
 *
 * ---- forward tolerance ------------------------------------------------------------------------
 * The reference computes y = fl(fl(fl(s_x·s_w)·fl(A)) + b), A the exact int32 sum. With
 * u = 2^-24, p = s_x·s_w: fl(p) = p(1 + δ1) (+ an absolute 2^-150 if it underflows), fl(A) = A
 * exactly when |A| ≤ 2^24 (else one more rounding, A(1 + δ2)), the product rounds once more (δ3),
 * so t = p·A·(1 + θ_k) with |θ_k| ≤ γ_k = k·u/(1 − k·u), k = 2 (or 3 past 2^24); then
 * y = (t + b)(1 + δ4), and
 *     |y − (p·A + b)| ≤ γ_k·|pA|·(1 + u) + u·|pA + b| ≤ γ_(k+1)·|pA| + u·|b|
 * (γ_k·(1 + u) + u = (k + 1)u/(1 − ku) ≤ γ_(k+1)). Underflow of fl(p) adds at most 2^-150·|A|
 * (times 1 + u twice), of the product 2^-150: 2^-149·(|A| + 1) covers both. The oracle's own y is
 * off by two double roundings, 2^-52·(|pA| + |b|): 2^-51 covers that. In all, per element,
 *     tol = γ_(k+1)·|pA| + u·|b| + 2^-51·(|pA| + |b|) + 2^-149·(|A| + 1).
 * The naive baseline computes the same expression, so the same bound holds for it.
 *
 * ---- backward tolerance -------------------------------------------------------------------------
 * Each output is a sum of J terms t_j = dy_j·s_j·q_j (J = N for dx, M for dW). In the reference
 * (reference/cpu/qlinear.c) a term meets these float32 roundings: dy·s when A is packed (1); its
 * accumulator's chain of 16 terms (16: the product inside an FMA, or a product and at most 15
 * additions after one into 0.0, which is exact); the running sum of the 8 chains of a 128-term
 * block (7: the first addition is into 0.0); C's sum over the ⌈J/128⌉ blocks (⌈J/128⌉ − 1: the
 * first block is stored). So D = 23 + ⌈J/128⌉ roundings, each a factor (1 + δ), |δ| ≤ u, and
 *     |computed − exact| ≤ γ_D·Σ_j |t_j|      (Higham, Accuracy and Stability, §3.1 and §4.2).
 * Underflow: fl(dy·s) may lose up to 2^-150 absolutely, times |q| ≤ 127: J·2^-143 in all (the
 * products and sums after it are multiples of 2^-149, exact where subnormal). The oracle's double
 * sums are off by at most (J + 1)·2^-53·Σ|t_j|; 2(J + 1)·2^-53 covers that and Σ|t| itself. So
 *     tol = (γ_D + 2(J + 1)·2^-53)·Σ_j |t_j| + J·2^-143,    D = 23 + ⌈J/128⌉.
 * db sums in double and rounds once: tol = (u + 2(M + 1)·2^-53)·Σ_r |dy[r][o]|. The naive baseline
 * sums in double (D = 2), within the same bounds. At J = 2048, D = 39: 2.3e-6·Σ|t|, where one term
 * left out costs about Σ|t|/J = 4.9e-4·Σ|t|; a test below checks that the bound catches that.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "em/em.h"
#include "../reference/cpu/qlinear_isa.h"

#define U 0x1p-24
/* BW_JC of reference/cpu/qlinear.c: the reduction block whose count enters D. */
#define REF_JC 128

TestSuite(lab8_reference, .timeout = 600);

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  cr_assert(p != NULL, "out of memory (%zu bytes)", bytes);
  return p;
}

static float *fill(int64_t count, const char *name, uint32_t tensor, float lo, float hi) {
  float *x = xmalloc((size_t)count * sizeof *x);
  em_rng_fill_uniform_f32(x, count, (em_rng_key){.seed = 8, .case_id = em_rng_name_id(name), .tensor_id = tensor}, lo,
                          hi);
  return x;
}

static uint32_t bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* The levels to run: every one this machine has, PORTABLE first. */
static int levels(int out[4]) {
  int n = 0;
  for (int l = EM__QLINEAR_PORTABLE; l <= em__qlinear_isa_best(); ++l) out[n++] = l;
  return n;
}

static void force(int level) {
  int err = em__qlinear_force_isa(level);
  cr_assert_eq(err, EM_OK, "forcing %s: %s (%s)", em__qlinear_isa_name(level), em_strerror(err), em_error_detail());
}

/* ---- quantise ------------------------------------------------------------------------------------ */

/* The CPU reference at every level, and the naive baseline, against the oracle, bit for bit. */
static void expect_quantize_exact(const float *a, int64_t rows, int64_t cols, const char *what) {
  const size_t n = (size_t)(rows * cols);
  int8_t *q0 = xmalloc(n), *q1 = xmalloc(n);
  float *s0 = xmalloc((size_t)rows * sizeof(float)), *s1 = xmalloc((size_t)rows * sizeof(float));
  int err = em_qlinear_quantize_oracle(a, rows, cols, q0, s0);
  cr_assert_eq(err, EM_OK, "oracle: %s (%s)", em_strerror(err), em_error_detail());
  int lv[4];
  const int nl = levels(lv);
  for (int i = 0; i <= nl; ++i) {
    const int naive = i == nl;
    const char *who = naive ? "naive" : em__qlinear_isa_name(lv[i]);
    memset(q1, 0x55, n);
    for (int64_t r = 0; r < rows; ++r) s1[r] = NAN;
    if (naive)
      err = em_qlinear_quantize_naive_cpu(a, rows, cols, q1, s1);
    else {
      force(lv[i]);
      err = em_qlinear_quantize_cpu(a, rows, cols, q1, s1);
    }
    cr_assert_eq(err, EM_OK, "%s: %s (%s)", who, em_strerror(err), em_error_detail());
    for (int64_t r = 0; r < rows; ++r) {
      cr_assert_eq(bits(s1[r]), bits(s0[r]), "%s, %s (%lld × %lld): scale of row %lld is %a, the oracle's %a", what, who,
                   (long long)rows, (long long)cols, (long long)r, (double)s1[r], (double)s0[r]);
      for (int64_t k = 0; k < cols; ++k) {
        const int64_t e = r * cols + k;
        cr_assert_eq(q1[e], q0[e],
                     "%s, %s (%lld × %lld): q[%lld][%lld] = %d, the oracle's %d (a = %a, s = %a, a/s = %a in float)",
                     what, who, (long long)rows, (long long)cols, (long long)r, (long long)k, q1[e], q0[e],
                     (double)a[e], (double)s0[r], (double)(a[e] / s0[r]));
      }
    }
  }
  em__qlinear_force_isa(EM__QLINEAR_AUTO);
  free(q0), free(q1), free(s0), free(s1);
}

enum {
  HALVES_0, HALVES_M20, HALVES_P40, HALVES_P100, HALVES_SUB140, HALVES_SUB133, /* s = 2^e: quotients k + 0.5 */
  NEAR_HALF_1, NEAR_HALF_33,   /* (k + 0.5)·s and its float neighbours, s = max/127 not a power of two */
  HUGE_ROW,                    /* FLT_MAX in the row */
  UNDERFLOW_10, SUB_64, SUB_200, SUB_189, /* max = n·2^-149: s = 0, 2^-149, 2^-148, 2^-149 (quotients to 189) */
  SIGNED_ZEROS, OUTLIER, EQUAL_POS, EQUAL_NEG_TINY, EXTREMES, RANDOM, RANDOM_TINY, WIDE_RANGE,
  NKINDS
};

/* Row `kind` of cols elements (cols ≥ 1; the first element is the row's max where it matters). */
static void adversarial_row(int kind, int64_t cols, float *row) {
  static const int half_exp[] = {0, -20, 40, 100, -140, -133};
  float rnd[4096];
  cr_assert(cols <= 4096);
  em_rng_fill_uniform_f32(rnd, cols, (em_rng_key){.seed = 8, .case_id = 1000 + (uint32_t)kind, .tensor_id = 0}, -1.0f,
                          1.0f);
  for (int64_t k = 0; k < cols; ++k) {
    const int sign = k % 2 ? -1 : 1;
    float v;
    switch (kind) {
    case HALVES_0: case HALVES_M20: case HALVES_P40: case HALVES_P100: case HALVES_SUB140: case HALVES_SUB133: {
      const float s = ldexpf(1.0f, half_exp[kind]);
      v = k == 0 ? 127.0f * s : (float)sign * ((float)((k - 1) % 127) + 0.5f) * s; /* exact: ≤ 9 bits times 2^e */
      break;
    }
    case NEAR_HALF_1: case NEAR_HALF_33: {
      const float max = kind == NEAR_HALF_1 ? 1.0f : 3.3f, s = max / 127.0f;
      const float mid = ((float)((k - 1) / 3 % 127) + 0.5f) * s;
      v = k == 0 ? max : (float)sign * (k % 3 == 0 ? mid : k % 3 == 1 ? nextafterf(mid, 0.0f) : nextafterf(mid, 1e30f));
      if (fabsf(v) > max) v = max;
      break;
    }
    case HUGE_ROW: v = k == 0 ? FLT_MAX : rnd[k] * 1e38f; break;
    case UNDERFLOW_10: v = (float)(k % 11) * 0x1p-149f * (float)sign; break;
    case SUB_64: v = (float)(k % 65) * 0x1p-149f * (float)sign; break;
    case SUB_200: v = (float)(k % 201) * 0x1p-149f * (float)sign; break;
    case SUB_189: v = k == 0 ? 189.0f * 0x1p-149f : (float)(k % 190) * 0x1p-149f * (float)sign; break;
    case SIGNED_ZEROS: v = k % 2 ? -0.0f : 0.0f; break;
    case OUTLIER: v = k == cols / 2 ? 1e3f : rnd[k] * 1e-3f; break;
    case EQUAL_POS: v = 3.7f; break;
    case EQUAL_NEG_TINY: v = -2.5e-30f; break;
    case EXTREMES: v = 5.5f * (float)sign; break;
    case RANDOM: v = rnd[k]; break;
    case RANDOM_TINY: v = rnd[k] * 1e-38f; break; /* normal and subnormal inputs, a subnormal scale */
    default: v = ldexpf(rnd[k] < 0 ? -1.0f : 1.0f, (int)((rnd[k] + 1.0f) * 138.0f) - 149); break; /* WIDE_RANGE */
    }
    row[k] = v;
  }
}

Test(lab8_reference, quantize_oracle_rounds_half_to_even) {
  /* s = 1: the quotients are the values; half to even, clamped to ±127, zero rows to 0 */
  const float a[] = {127.0f, 0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 126.5f, -125.5f, 3.5f, -0.0f};
  const int8_t want[] = {127, 0, 2, 2, -2, 0, 126, -126, 4, 0};
  int8_t q[10];
  float s;
  cr_assert_eq(em_qlinear_quantize_oracle(a, 1, 10, q, &s), EM_OK);
  cr_assert_eq(s, 1.0f);
  for (int k = 0; k < 10; ++k) cr_expect_eq(q[k], want[k], "%g → %d, want %d", (double)a[k], q[k], want[k]);
  /* 189·2^-149: s = 2^-149 (189/127 rounds to 1), the max quantises to 189, clamped to 127 */
  const float tiny[] = {189.0f * 0x1p-149f, -189.0f * 0x1p-149f, 64.0f * 0x1p-149f};
  cr_assert_eq(em_qlinear_quantize_oracle(tiny, 1, 3, q, &s), EM_OK);
  cr_expect(s == 0x1p-149f && q[0] == 127 && q[1] == -127 && q[2] == 64, "s = %a, q = %d %d %d", (double)s, q[0], q[1],
            q[2]);
  /* max/127 underflows to 0: s = 0, q = 0 */
  const float under[] = {10.0f * 0x1p-149f, -0x1p-149f};
  cr_assert_eq(em_qlinear_quantize_oracle(under, 1, 2, q, &s), EM_OK);
  cr_expect(s == 0.0f && q[0] == 0 && q[1] == 0, "s = %a, q = %d %d", (double)s, q[0], q[1]);
}

Test(lab8_reference, quantize_adversarial_rows_bit_for_bit) {
  const int64_t widths[] = {1, 5, 16, 17, 131, 1000};
  for (size_t w = 0; w < sizeof widths / sizeof widths[0]; ++w) {
    const int64_t cols = widths[w];
    float *a = xmalloc((size_t)(NKINDS * cols) * sizeof *a);
    for (int kind = 0; kind < NKINDS; ++kind) adversarial_row(kind, cols, a + kind * cols);
    char what[64];
    snprintf(what, sizeof what, "adversarial rows, cols = %lld", (long long)cols);
    expect_quantize_exact(a, NKINDS, cols, what);
    /* each row on its own too: one row is the single-thread path */
    for (int kind = 0; kind < NKINDS; ++kind) expect_quantize_exact(a + kind * cols, 1, cols, what);
    free(a);
  }
}

/* The rows whose quotients are exactly k + 0.5 give what the contract says (checked against the
 * rule, not only against the oracle). */
Test(lab8_reference, quantize_halves_go_to_even) {
  const int64_t cols = 131;
  float row[131];
  int8_t q[131];
  float s;
  for (int kind = HALVES_0; kind <= HALVES_SUB133; ++kind) {
    adversarial_row(kind, cols, row);
    cr_assert_eq(em_qlinear_quantize_cpu(row, 1, cols, q, &s), EM_OK);
    cr_expect_eq(q[0], 127);
    for (int64_t k = 1; k < cols; ++k) {
      const int half = (int)((k - 1) % 127); /* the value is ±(half + 0.5)·s */
      const int even = half % 2 ? half + 1 : half;
      cr_expect_eq(q[k], (k % 2 ? -1 : 1) * even, "kind %d, k = %lld: %a / %a → %d, want %d", kind, (long long)k,
                   (double)row[k], (double)s, q[k], (k % 2 ? -1 : 1) * even);
    }
  }
}

Test(lab8_reference, quantize_random_every_length) {
  const int64_t shapes[][2] = {{1, 1}, {3, 3}, {7, 17}, {5, 63}, {4, 64}, {9, 65}, {33, 1000}, {300, 200}, {2, 4099}};
  for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; ++t) {
    const int64_t rows = shapes[t][0], cols = shapes[t][1];
    char name[64];
    snprintf(name, sizeof name, "quantize %lld %lld", (long long)rows, (long long)cols);
    float *a = fill(rows * cols, name, 0, -3.0f, 3.0f);
    expect_quantize_exact(a, rows, cols, "random rows");
    free(a);
  }
}

/* ---- forward ------------------------------------------------------------------------------------- */

typedef struct fwd {
  int64_t M, N, K;
  int8_t *xq, *wq;
  float *sx, *sw, *b;
} fwd;

static double y_tolerance(int32_t A, float sx, float sw, float b) {
  const double pA = fabs((double)sx * (double)sw * (double)A), k = fabs((double)A) > 0x1p24 ? 4.0 : 3.0;
  return k * U / (1.0 - k * U) * pA + U * fabs((double)b) + 0x1p-51 * (pA + fabs((double)b)) +
         0x1p-149 * (fabs((double)A) + 1.0);
}

/* The oracle's acc and y, then every level and the naive baseline: acc exactly, y within the bound
 * (NaN fails), y the same bits on every level, and the same y without acc. */
static void check_forward(const fwd *f, const char *what) {
  const int64_t M = f->M, N = f->N, K = f->K, n = M * N;
  int32_t *acc0 = xmalloc((size_t)n * sizeof *acc0), *acc = xmalloc((size_t)n * sizeof *acc);
  double *y0 = xmalloc((size_t)n * sizeof *y0);
  float *y = xmalloc((size_t)n * sizeof *y), *yref = xmalloc((size_t)n * sizeof *yref);
  int err = em_qlinear_forward_oracle(f->xq, f->sx, f->wq, f->sw, f->b, acc0, y0, M, N, K);
  cr_assert_eq(err, EM_OK, "%s: oracle: %s (%s)", what, em_strerror(err), em_error_detail());
  int lv[4];
  const int nl = levels(lv);
  double worst = 0.0;
  for (int i = 0; i <= nl; ++i) {
    const int naive = i == nl;
    const char *who = naive ? "naive" : em__qlinear_isa_name(lv[i]);
    for (int64_t e = 0; e < n; ++e) acc[e] = (int32_t)0x7eadbeef, y[e] = NAN;
    if (naive)
      err = em_qlinear_forward_naive_cpu(f->xq, f->sx, f->wq, f->sw, f->b, acc, y, M, N, K);
    else {
      force(lv[i]);
      err = em_qlinear_forward_cpu(f->xq, f->sx, f->wq, f->sw, f->b, acc, y, M, N, K);
    }
    cr_assert_eq(err, EM_OK, "%s, %s: %s (%s)", what, who, em_strerror(err), em_error_detail());
    for (int64_t e = 0; e < n; ++e) {
      cr_assert_eq(acc[e], acc0[e], "%s, %s (M=%lld N=%lld K=%lld): acc[%lld][%lld] = %d, the exact sum is %d", what, who,
                   (long long)M, (long long)N, (long long)K, (long long)(e / N), (long long)(e % N), acc[e], acc0[e]);
      const int64_t r = e / N, o = e % N;
      const double tol = y_tolerance(acc0[e], f->sx[r], f->sw[o], f->b[o]), err_e = fabs((double)y[e] - y0[e]);
      cr_assert(err_e <= tol, "%s, %s (M=%lld N=%lld K=%lld): y[%lld][%lld] = %.9g, the oracle's %.9g: off by %.3g, bound %.3g",
                what, who, (long long)M, (long long)N, (long long)K, (long long)r, (long long)o, (double)y[e], y0[e],
                err_e, tol);
      if (tol > 0) worst = fmax(worst, err_e / tol);
    }
    if (naive) continue;
    if (i == 0)
      memcpy(yref, y, (size_t)n * sizeof *y);
    else
      for (int64_t e = 0; e < n; ++e)
        cr_assert_eq(bits(y[e]), bits(yref[e]), "%s: y[%lld] is %a with %s, %a with %s", what, (long long)e,
                     (double)y[e], who, (double)yref[e], em__qlinear_isa_name(lv[0]));
    /* acc == NULL: the same y, nothing else written */
    for (int64_t e = 0; e < n; ++e) y[e] = NAN;
    err = em_qlinear_forward_cpu(f->xq, f->sx, f->wq, f->sw, f->b, NULL, y, M, N, K);
    cr_assert_eq(err, EM_OK);
    for (int64_t e = 0; e < n; ++e)
      cr_assert_eq(bits(y[e]), bits(yref[e]), "%s, %s: y[%lld] without acc is %a, with it %a", what, who, (long long)e,
                   (double)y[e], (double)yref[e]);
  }
  em__qlinear_force_isa(EM__QLINEAR_AUTO);
  cr_log_info("forward %s M=%lld N=%lld K=%lld: worst y error / bound %.3f", what, (long long)M, (long long)N,
              (long long)K, worst);
  free(acc0), free(acc), free(y0), free(y), free(yref);
}

enum { F_RANDOM, F_ZERO_ROWS };

/* x and W random (kind F_ZERO_ROWS: every third row of x and every fifth of W zero), quantised by
 * the oracle; b random. */
static void make_forward(fwd *f, int64_t M, int64_t N, int64_t K, int kind) {
  char name[64];
  snprintf(name, sizeof name, "forward %lld %lld %lld %d", (long long)M, (long long)N, (long long)K, kind);
  *f = (fwd){.M = M, .N = N, .K = K};
  float *x = fill(M * K, name, 0, -2.0f, 2.0f), *w = fill(N * K, name, 1, -0.1f, 0.1f);
  f->b = fill(N, name, 2, -1.0f, 1.0f);
  if (kind == F_ZERO_ROWS) {
    for (int64_t r = 0; r < M; r += 3) memset(x + r * K, 0, (size_t)K * sizeof(float));
    for (int64_t o = 0; o < N; o += 5) memset(w + o * K, 0, (size_t)K * sizeof(float));
  }
  f->xq = xmalloc((size_t)(M * K)), f->wq = xmalloc((size_t)(N * K));
  f->sx = xmalloc((size_t)M * sizeof(float)), f->sw = xmalloc((size_t)N * sizeof(float));
  cr_assert_eq(em_qlinear_quantize_oracle(x, M, K, f->xq, f->sx), EM_OK);
  cr_assert_eq(em_qlinear_quantize_oracle(w, N, K, f->wq, f->sw), EM_OK);
  free(x), free(w);
}

static void drop_forward(fwd *f) { free(f->xq), free(f->wq), free(f->sx), free(f->sw), free(f->b); }

static const int64_t KS[] = {1, 3, 17, 63, 65, 1000};
#define NKS (sizeof KS / sizeof KS[0])

Test(lab8_reference, forward_ragged_shapes) {
  const int64_t mn[][2] = {{1, 1}, {1, 17}, {16, 33}, {17, 16}, {37, 5}, {2, 31}};
  for (size_t s = 0; s < sizeof mn / sizeof mn[0]; ++s)
    for (size_t k = 0; k < NKS; ++k) {
      fwd f;
      make_forward(&f, mn[s][0], mn[s][1], KS[k], F_RANDOM);
      check_forward(&f, "random");
      drop_forward(&f);
    }
}

Test(lab8_reference, forward_large_and_decode_shapes) {
  /* several row blocks (256 rows) and output blocks (128) with tails; decode-like M = 16 */
  const int64_t shapes[][3] = {{600, 40, 100}, {300, 270, 65}, {16, 2048, 256}, {16, 300, 1000}, {513, 1, 33},
                               {16, 40, 4096}, {33, 17, 8192}}; /* K a multiple of 4096: W's tile is copied */
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    fwd f;
    make_forward(&f, shapes[s][0], shapes[s][1], shapes[s][2], F_RANDOM);
    check_forward(&f, "random");
    drop_forward(&f);
  }
}

Test(lab8_reference, forward_zero_rows) {
  const int64_t shapes[][3] = {{1, 1, 7}, {10, 11, 17}, {40, 37, 65}, {33, 20, 1000}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    fwd f;
    make_forward(&f, shapes[s][0], shapes[s][1], shapes[s][2], F_ZERO_ROWS);
    check_forward(&f, "zero rows");
    drop_forward(&f);
  }
}

/* int8 operands set directly: ±127 everywhere (value v), or −128 included (quantisation never gives
 * −128, but the forward's arithmetic is exact for every int8 as long as the sums fit int32). */
static void check_extreme(int64_t M, int64_t N, int64_t K, int pattern, const char *what) {
  fwd f = {.M = M, .N = N, .K = K};
  f.xq = xmalloc((size_t)(M * K)), f.wq = xmalloc((size_t)(N * K));
  f.sx = xmalloc((size_t)M * sizeof(float)), f.sw = xmalloc((size_t)N * sizeof(float));
  f.b = xmalloc((size_t)N * sizeof(float));
  for (int64_t e = 0; e < M * K; ++e)
    f.xq[e] = (int8_t)(pattern == 0 ? 127 : pattern == 1 ? ((e / K) % 2 ? -127 : 127) : (e % 3 ? -128 : 127));
  for (int64_t e = 0; e < N * K; ++e)
    f.wq[e] = (int8_t)(pattern == 0 ? 127 : pattern == 1 ? ((e / K) % 3 ? 127 : -127) : (e % 5 ? -128 : 100));
  for (int64_t r = 0; r < M; ++r) f.sx[r] = 1e-3f * (float)(r + 1);
  for (int64_t o = 0; o < N; ++o) f.sw[o] = 3e-4f / (float)(o + 1), f.b[o] = (float)o - 0.5f;
  check_forward(&f, what);
  drop_forward(&f);
}

Test(lab8_reference, forward_extremes) {
  check_extreme(3, 5, 1100, 0, "all 127: sums past 2^24");        /* 127²·1100 = 17.7M > 2^24 */
  check_extreme(17, 18, 4099, 1, "rows of ±127");
  check_extreme(2, 3, EM_QLINEAR_MAX_K, 0, "all 127 at the longest K"); /* 2,114,060,288 < 2^31 */
  check_extreme(2, 17, EM_QLINEAR_MAX_K - 1, 1, "±127 at K = MAX_K - 1");
  check_extreme(19, 21, 999, 2, "with -128");
}

/* The oracle's own sums (it sums in int32 chunks of 2^16 products): exact up to the last value
 * int32 holds, EM_ERANGE one past it. Only −128s get there (the checker never feeds them). */
static int oracle_one_sum(int8_t v, int64_t K, int32_t *acc) {
  int8_t *a = xmalloc((size_t)K), *w = xmalloc((size_t)K);
  for (int64_t k = 0; k < K; ++k) a[k] = v, w[k] = v;
  const float one = 1.0f, zero = 0.0f;
  double y = 0.0;
  *acc = 0;
  const int err = em_qlinear_forward_oracle(a, &one, w, &one, &zero, acc, &y, 1, 1, K);
  if (err == EM_OK) cr_expect_eq(y, (double)*acc, "y = 1·1·acc + 0");
  free(a), free(w);
  return err;
}

Test(lab8_reference, forward_oracle_sums_exactly_and_refuses_int32_overflow) {
  int32_t acc;
  cr_expect_eq(oracle_one_sum(127, EM_QLINEAR_MAX_K, &acc), EM_OK);
  const int32_t want = 127 * 127 * (int32_t)EM_QLINEAR_MAX_K;
  cr_expect_eq(acc, want, "127²·2^17 = %d, got %d", want, acc);
  cr_expect_eq(oracle_one_sum(-128, EM_QLINEAR_MAX_K - 1, &acc), EM_OK);
  cr_expect_eq(acc, 16384 * (int32_t)(EM_QLINEAR_MAX_K - 1), "2^14·(2^17 − 1) = 2^31 − 2^14, got %d", acc);
  cr_expect_eq(oracle_one_sum(-128, EM_QLINEAR_MAX_K, &acc), EM_ERANGE, "2^14·2^17 = 2^31 does not fit int32");
}

/* ---- backward ------------------------------------------------------------------------------------ */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static double gamma_d(int64_t d) { return (double)d * U / (1.0 - (double)d * U); }

typedef struct bwd {
  int64_t M, N, K;
  float *dy, *sx, *sw;
  int8_t *xq, *wq;
  double *dx, *dw, *db;      /* the oracle's */
  double *tdx, *tdw, *tdb;   /* the bounds above, per element */
} bwd;

/* Σ|t| per element from p's inputs, then the bounds at the top of the file. */
static void backward_bounds(bwd *p) {
  const int64_t M = p->M, N = p->N, K = p->K;
  /* Σ|t| per element, then the bound */
  p->tdx = calloc((size_t)(M * K), sizeof(double)), p->tdw = calloc((size_t)(N * K), sizeof(double));
  p->tdb = calloc((size_t)N, sizeof(double));
  cr_assert(p->tdx && p->tdw && p->tdb);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t o = 0; o < N; ++o) {
      const double g = fabs((double)p->dy[r * N + o]), gw = g * (double)p->sw[o], gx = g * (double)p->sx[r];
      p->tdb[o] += g;
      for (int64_t k = 0; k < K; ++k) {
        p->tdx[r * K + k] += gw * fabs((double)p->wq[o * K + k]);
        p->tdw[o * K + k] += gx * fabs((double)p->xq[r * K + k]);
      }
    }
  const double cx = gamma_d(23 + ceil_div(N, REF_JC)) + 2.0 * (double)(N + 1) * 0x1p-53;
  const double cw = gamma_d(23 + ceil_div(M, REF_JC)) + 2.0 * (double)(M + 1) * 0x1p-53;
  for (int64_t e = 0; e < M * K; ++e) p->tdx[e] = cx * p->tdx[e] + (double)N * 0x1p-143;
  for (int64_t e = 0; e < N * K; ++e) p->tdw[e] = cw * p->tdw[e] + (double)M * 0x1p-143;
  for (int64_t o = 0; o < N; ++o) p->tdb[o] *= U + 2.0 * (double)(M + 1) * 0x1p-53;
}

static void make_backward(bwd *p, int64_t M, int64_t N, int64_t K, int zero_lines) {
  char name[64];
  snprintf(name, sizeof name, "backward %lld %lld %lld %d", (long long)M, (long long)N, (long long)K, zero_lines);
  *p = (bwd){.M = M, .N = N, .K = K};
  float *x = fill(M * K, name, 0, -2.0f, 2.0f), *w = fill(N * K, name, 1, -0.1f, 0.1f);
  p->dy = fill(M * N, name, 2, -1.0f, 1.0f);
  if (zero_lines) { /* a zero row and a zero column of dy, and zero rows of x and W */
    memset(p->dy + (M / 2) * N, 0, (size_t)N * sizeof(float));
    for (int64_t r = 0; r < M; ++r) p->dy[r * N + N / 3] = 0.0f;
    memset(x, 0, (size_t)K * sizeof(float));
    memset(w + (N - 1) * K, 0, (size_t)K * sizeof(float));
  }
  p->xq = xmalloc((size_t)(M * K)), p->wq = xmalloc((size_t)(N * K));
  p->sx = xmalloc((size_t)M * sizeof(float)), p->sw = xmalloc((size_t)N * sizeof(float));
  cr_assert_eq(em_qlinear_quantize_oracle(x, M, K, p->xq, p->sx), EM_OK);
  cr_assert_eq(em_qlinear_quantize_oracle(w, N, K, p->wq, p->sw), EM_OK);
  free(x), free(w);
  p->dx = xmalloc((size_t)(M * K) * sizeof(double)), p->dw = xmalloc((size_t)(N * K) * sizeof(double));
  p->db = xmalloc((size_t)N * sizeof(double));
  int err = em_qlinear_backward_oracle(p->dy, p->xq, p->sx, p->wq, p->sw, p->dx, p->dw, p->db, M, N, K);
  cr_assert_eq(err, EM_OK, "oracle: %s (%s)", em_strerror(err), em_error_detail());
  backward_bounds(p);
}

static void drop_backward(bwd *p) {
  free(p->dy), free(p->sx), free(p->sw), free(p->xq), free(p->wq), free(p->dx), free(p->dw), free(p->db);
  free(p->tdx), free(p->tdw), free(p->tdb);
}

/* got against want within tol, element by element (NaN fails); the worst error / bound. */
static double compare(const char *who, const char *name, const float *got, const double *want, const double *tol,
                      int64_t rows, int64_t cols, const bwd *p) {
  double worst = 0.0;
  for (int64_t e = 0; e < rows * cols; ++e) {
    const double err = fabs((double)got[e] - want[e]);
    cr_assert(err <= tol[e], "%s (M=%lld N=%lld K=%lld): %s[%lld][%lld] = %.9g, the oracle's %.9g: off by %.3g, bound %.3g",
              who, (long long)p->M, (long long)p->N, (long long)p->K, name, (long long)(e / cols), (long long)(e % cols),
              (double)got[e], want[e], err, tol[e]);
    if (tol[e] > 0) worst = fmax(worst, err / tol[e]);
  }
  return worst;
}

static void check_backward(int64_t M, int64_t N, int64_t K, int zero_lines) {
  bwd p;
  make_backward(&p, M, N, K, zero_lines);
  float *dx = xmalloc((size_t)(M * K) * sizeof(float)), *dw = xmalloc((size_t)(N * K) * sizeof(float));
  float *db = xmalloc((size_t)N * sizeof(float));
  int lv[4];
  const int nl = levels(lv);
  for (int i = 0; i <= nl; ++i) {
    const int naive = i == nl;
    const char *who = naive ? "naive" : em__qlinear_isa_name(lv[i]);
    for (int64_t e = 0; e < M * K; ++e) dx[e] = NAN;
    for (int64_t e = 0; e < N * K; ++e) dw[e] = NAN;
    for (int64_t e = 0; e < N; ++e) db[e] = NAN;
    int err;
    if (naive)
      err = em_qlinear_backward_naive_cpu(p.dy, p.xq, p.sx, p.wq, p.sw, dx, dw, db, M, N, K);
    else {
      force(lv[i]);
      err = em_qlinear_backward_cpu(p.dy, p.xq, p.sx, p.wq, p.sw, dx, dw, db, M, N, K);
    }
    cr_assert_eq(err, EM_OK, "%s: %s (%s)", who, em_strerror(err), em_error_detail());
    const double wx = compare(who, "dx", dx, p.dx, p.tdx, M, K, &p);
    const double ww = compare(who, "dW", dw, p.dw, p.tdw, N, K, &p);
    const double wb = compare(who, "db", db, p.db, p.tdb, 1, N, &p);
    cr_log_info("backward %s M=%lld N=%lld K=%lld: worst error / bound dx %.3f dW %.3f db %.3f", who, (long long)M,
                (long long)N, (long long)K, wx, ww, wb);
  }
  em__qlinear_force_isa(EM__QLINEAR_AUTO);
  free(dx), free(dw), free(db);
  drop_backward(&p);
}

Test(lab8_reference, backward_ragged_shapes) {
  const int64_t mn[][2] = {{1, 1}, {1, 17}, {16, 33}, {37, 5}, {5, 130}};
  for (size_t s = 0; s < sizeof mn / sizeof mn[0]; ++s)
    for (size_t k = 0; k < NKS; ++k) check_backward(mn[s][0], mn[s][1], KS[k], 0);
}

Test(lab8_reference, backward_large_and_zero_lines) {
  const int64_t shapes[][3] = {{300, 129, 65}, {16, 300, 97}, {129, 1, 50}, {1, 300, 49}, {257, 260, 400}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) check_backward(shapes[s][0], shapes[s][1], shapes[s][2], 0);
  check_backward(9, 10, 33, 1);
  check_backward(200, 150, 70, 1);
}

/* The bound is no blanket: dx with one column of dy left out (one term of every sum) is off by far
 * more than it allows. */
Test(lab8_reference, backward_bound_catches_a_missing_term) {
  bwd p;
  make_backward(&p, 8, 300, 64, 0);
  float *dy = xmalloc((size_t)(8 * 300) * sizeof(float));
  memcpy(dy, p.dy, (size_t)(8 * 300) * sizeof(float));
  for (int r = 0; r < 8; ++r) dy[r * 300 + 7] = 0.0f;
  float *dx = xmalloc((size_t)(8 * 64) * sizeof(float)), *dw = xmalloc((size_t)(300 * 64) * sizeof(float));
  float db[300];
  cr_assert_eq(em_qlinear_backward_cpu(dy, p.xq, p.sx, p.wq, p.sw, dx, dw, db, 8, 300, 64), EM_OK);
  double worst = 0.0;
  for (int64_t e = 0; e < 8 * 64; ++e) worst = fmax(worst, fabs(dx[e] - p.dx[e]) / p.tdx[e]);
  cr_expect(worst > 10.0, "leaving a term out moved dx by only %.2f times the bound", worst);
  cr_log_info("one term of 300 left out: %.1f times the bound", worst);
  free(dy), free(dx), free(dw);
  drop_backward(&p);
}

/* ---- the layer object ---------------------------------------------------------------------------- */

/* create, forward, backward at one M, then a larger M (the kept buffers grow) and a smaller one,
 * against the oracles step by step: the kept xq and s_x are the oracle's quantisation of x, y is
 * the forward of those within the forward bound, the gradients within the backward bounds. */
static void layer_round(em_qlinear *layer, const float *w, const float *b, int64_t M, int64_t N, int64_t K) {
  char name[64];
  snprintf(name, sizeof name, "layer %lld %lld %lld", (long long)M, (long long)N, (long long)K);
  float *x = fill(M * K, name, 0, -4.0f, 4.0f), *dy = fill(M * N, name, 1, -1.0f, 1.0f);
  float *y = xmalloc((size_t)(M * N) * sizeof(float));
  for (int64_t e = 0; e < M * N; ++e) y[e] = NAN;
  int err = em_qlinear_forward(layer, x, y, M);
  cr_assert_eq(err, EM_OK, "em_qlinear_forward: %s (%s)", em_strerror(err), em_error_detail());
  /* the oracle's pipeline */
  fwd f = {.M = M, .N = N, .K = K};
  f.xq = xmalloc((size_t)(M * K)), f.wq = xmalloc((size_t)(N * K));
  f.sx = xmalloc((size_t)M * sizeof(float)), f.sw = xmalloc((size_t)N * sizeof(float));
  f.b = xmalloc((size_t)N * sizeof(float));
  memcpy(f.b, b, (size_t)N * sizeof(float));
  cr_assert_eq(em_qlinear_quantize_oracle(x, M, K, f.xq, f.sx), EM_OK);
  cr_assert_eq(em_qlinear_quantize_oracle(w, N, K, f.wq, f.sw), EM_OK);
  int32_t *acc = xmalloc((size_t)(M * N) * sizeof(int32_t));
  double *y0 = xmalloc((size_t)(M * N) * sizeof(double));
  cr_assert_eq(em_qlinear_forward_oracle(f.xq, f.sx, f.wq, f.sw, f.b, acc, y0, M, N, K), EM_OK);
  for (int64_t e = 0; e < M * N; ++e) {
    const double tol = y_tolerance(acc[e], f.sx[e / N], f.sw[e % N], f.b[e % N]);
    cr_assert(fabs((double)y[e] - y0[e]) <= tol, "layer M=%lld N=%lld K=%lld: y[%lld] = %.9g, the oracle's %.9g, bound %.3g",
              (long long)M, (long long)N, (long long)K, (long long)e, (double)y[e], y0[e], tol);
  }
  /* backward against the oracle's, from the oracle's quantised operands */
  bwd p = {.M = M, .N = N, .K = K, .dy = dy, .sx = f.sx, .sw = f.sw, .xq = f.xq, .wq = f.wq};
  p.dx = xmalloc((size_t)(M * K) * sizeof(double)), p.dw = xmalloc((size_t)(N * K) * sizeof(double));
  p.db = xmalloc((size_t)N * sizeof(double));
  cr_assert_eq(em_qlinear_backward_oracle(dy, f.xq, f.sx, f.wq, f.sw, p.dx, p.dw, p.db, M, N, K), EM_OK);
  backward_bounds(&p);
  float *dx = xmalloc((size_t)(M * K) * sizeof(float)), *dw = xmalloc((size_t)(N * K) * sizeof(float));
  float *db = xmalloc((size_t)N * sizeof(float));
  err = em_qlinear_backward(layer, dy, dx, dw, db);
  cr_assert_eq(err, EM_OK, "em_qlinear_backward: %s (%s)", em_strerror(err), em_error_detail());
  compare("layer", "dx", dx, p.dx, p.tdx, M, K, &p);
  compare("layer", "dW", dw, p.dw, p.tdw, N, K, &p);
  compare("layer", "db", db, p.db, p.tdb, 1, N, &p);
  free(p.dx), free(p.dw), free(p.db), free(p.tdx), free(p.tdw), free(p.tdb);
  free(dx), free(dw), free(db), free(acc), free(y0), free(x), free(dy), free(y);
  drop_forward(&f);
}

Test(lab8_reference, layer_end_to_end) {
  const int64_t N = 70, K = 65;
  float *w = fill(N * K, "layer w", 0, -0.5f, 0.5f), *b = fill(N, "layer b", 1, -1.0f, 1.0f);
  em_qlinear *layer = NULL;
  int err = em_qlinear_create(&layer, w, b, N, K);
  cr_assert_eq(err, EM_OK, "em_qlinear_create: %s (%s)", em_strerror(err), em_error_detail());
  float dx[4], dw[70 * 65], db[70], dy[70] = {0};
  cr_expect_eq(em_qlinear_backward(layer, dy, dx, dw, db), EM_EINVAL, "a backward before any forward");
  layer_round(layer, w, b, 3, N, K);
  layer_round(layer, w, b, 300, N, K); /* the kept buffers grow */
  layer_round(layer, w, b, 1, N, K);
  em_qlinear_destroy(layer);
  em_qlinear_destroy(NULL);
  free(w), free(b);
}

Test(lab8_reference, layer_decode_shape_and_bad_arguments) {
  const int64_t N = 17, K = 1000;
  float *w = fill(N * K, "layer2 w", 0, -0.5f, 0.5f), *b = fill(N, "layer2 b", 1, -1.0f, 1.0f);
  em_qlinear *layer = (em_qlinear *)(uintptr_t)1;
  cr_expect_eq(em_qlinear_create(&layer, w, b, 0, K), EM_EINVAL);
  cr_expect(layer == NULL, "a failed create leaves *layer NULL");
  cr_expect_eq(em_qlinear_create(&layer, w, b, N, EM_QLINEAR_MAX_K + 1), EM_EINVAL);
  cr_expect_eq(em_qlinear_create(&layer, NULL, b, N, K), EM_EINVAL);
  cr_expect_eq(em_qlinear_create(NULL, w, b, N, K), EM_EINVAL);
  cr_assert_eq(em_qlinear_create(&layer, w, b, N, K), EM_OK);
  float x[1000] = {0}, y[17];
  cr_expect_eq(em_qlinear_forward(layer, x, y, 0), EM_EINVAL);
  cr_expect_eq(em_qlinear_forward(NULL, x, y, 1), EM_EINVAL);
  layer_round(layer, w, b, 16, N, K);
  em_qlinear_destroy(layer);
  /* something that is no host layer (a CUDA layer's struct, say) is refused, not dereferenced */
  em_qlinear *other = calloc(1, 4096);
  cr_assert(other != NULL);
  cr_expect_eq(em_qlinear_forward(other, x, y, 1), EM_EINVAL);
  cr_expect_eq(em_qlinear_backward(other, y, x, x, y), EM_EINVAL);
  em_qlinear_destroy(other); /* leaves it alone */
  free(other);
  free(w), free(b);
}

/* ---- arguments ------------------------------------------------------------------------------------- */

Test(lab8_reference, einval_for_sizes_out_of_range) {
  static int8_t q8[64];
  static float f[64];
  static double d[64];
  static int32_t acc[64];
  const int64_t bad[][3] = {{0, 1, 1}, {-1, 1, 1}, {1, 0, 1}, {1, 1, 0}, {1, 1, -5}, {1, 1, EM_QLINEAR_MAX_K + 1}};
  for (size_t t = 0; t < sizeof bad / sizeof bad[0]; ++t) {
    const int64_t M = bad[t][0], N = bad[t][1], K = bad[t][2];
    const int err[6] = {
        em_qlinear_forward_oracle(q8, f, q8, f, f, acc, d, M, N, K),
        em_qlinear_forward_cpu(q8, f, q8, f, f, acc, f + 32, M, N, K),
        em_qlinear_forward_naive_cpu(q8, f, q8, f, f, acc, f + 32, M, N, K),
        em_qlinear_backward_oracle(f, q8, f, q8, f, d, d, d, M, N, K),
        em_qlinear_backward_cpu(f, q8, f, q8, f, f + 32, f + 32, f + 32, M, N, K),
        em_qlinear_backward_naive_cpu(f, q8, f, q8, f, f + 32, f + 32, f + 32, M, N, K),
    };
    for (int w = 0; w < 6; ++w)
      cr_expect_eq(err[w], EM_EINVAL, "function %d, M=%lld N=%lld K=%lld: %s, not EM_EINVAL", w, (long long)M,
                   (long long)N, (long long)K, em_err_name(err[w]));
  }
  cr_expect_eq(em_qlinear_forward_cpu(q8, f, q8, f, f, NULL, f, 0, 1, 1), EM_EINVAL);
  cr_expect(strstr(em_error_detail(), "M = 0") != NULL, "the detail names M: \"%s\"", em_error_detail());
  const int64_t qbad[][2] = {{0, 1}, {1, 0}, {-3, 4}};
  for (size_t t = 0; t < sizeof qbad / sizeof qbad[0]; ++t) {
    cr_expect_eq(em_qlinear_quantize_oracle(f, qbad[t][0], qbad[t][1], q8, f + 32), EM_EINVAL);
    cr_expect_eq(em_qlinear_quantize_cpu(f, qbad[t][0], qbad[t][1], q8, f + 32), EM_EINVAL);
    cr_expect_eq(em_qlinear_quantize_naive_cpu(f, qbad[t][0], qbad[t][1], q8, f + 32), EM_EINVAL);
  }
  cr_expect_eq(em_qlinear_forward_cpu(NULL, f, q8, f, f, NULL, f, 1, 1, 1), EM_EINVAL);
  cr_expect_eq(em__qlinear_force_isa(99), EM_EINVAL);
  if (em__qlinear_isa_best() < EM__QLINEAR_AVX512_VNNI)
    cr_expect_eq(em__qlinear_force_isa(EM__QLINEAR_AVX512_VNNI), EM_ENOTSUP);
}

/* The machine's levels, named in the log (what the tests above forced). */
Test(lab8_reference, levels_this_machine_runs) {
  int lv[4];
  const int nl = levels(lv);
  char list[128] = "";
  for (int i = 0; i < nl; ++i) {
    strcat(list, " ");
    strcat(list, em__qlinear_isa_name(lv[i]));
  }
  cr_log_info("kernel levels tested on this CPU:%s (best: %s)", list, em__qlinear_isa_name(em__qlinear_isa_best()));
  cr_expect(nl >= 1);
}
