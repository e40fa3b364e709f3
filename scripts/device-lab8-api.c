/* Lab 8's CUDA entry points through libem, on a GPU machine, until the lab's spec and suites
 * exist: built and run by scripts/device-lab8.sh (it links build/libem.a).
 *
 * For each small shape (K = 1, 3, 17, K not a multiple of 16 or 64, M = 1, 16 (the decode kernel)
 * and 17 (the tiled one), N = 1, K = 2^17 with every product 127², a zero row, a row of exact .5
 * quotients, huge and denormal rows), against the host in float64 (exact where the contract is):
 *   em_qlinear_quantize_cuda and _naive_cuda, of x and of W: s and q bit for bit;
 *   em_qlinear_forward_cuda (acc given, then acc = NULL) and _naive_cuda, from those operands:
 *     acc exactly, y within 4u·(|s_x·s_w·acc| + |b|) + 1e-35 (u = 2^-24);
 *   em_qlinear_backward_cuda and _naive_cuda: within (J + 3)·u·Σ|terms| + 1e-30 (J the length of
 *     the sum), the worst case of any float32 summation order;
 * outputs poisoned with NaN first; then the same with every device pointer one element off 16-byte
 * alignment. Then the layer object (create, forward, backward, forward with a larger and a smaller
 * M, backward, destroy; a layer without bias), and the argument checks (EM_EINVAL, EM_ENOMEM, a
 * backward before any forward). Prints one line per case and "N passed, N failed"; exits 1 if any
 * fails, 2 if there is no GPU.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "em/em.h"
#include "em/qlinear.h" /* not yet in em/em.h: the lab is being added */

static const double kU = 1.0 / 16777216.0; /* 2^-24 */

typedef struct {
  int64_t M, N, K;
  int ones; /* every input 1: every q 127, every sum 127²·K */
} shape;

static float hashed(uint64_t i, uint32_t salt) {
  uint64_t x = i * 0x9e3779b97f4a7c15ull + salt * 0xbf58476d1ce4e5b9ull;
  x ^= x >> 31, x *= 0x94d049bb133111ebull, x ^= x >> 29;
  return (float)((x >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* Row kinds as in bench/qlinear.cu: 1 zeros, 2 exact halves, 3 huge (1e15: two such scales and a
 * full int32 sum multiply to a finite float32, see there), 4 denormal, 5 ones. */
static void fill(float *a, int64_t rows, int64_t cols, uint32_t salt, int ones) {
  for (int64_t r = 0; r < rows; ++r) {
    int kind = ones ? 5 : rows < 3 ? 0 : r == 1 ? 1 : r == 2 ? 2 : rows >= 6 && r == rows - 2 ? 3
             : rows >= 6 && r == rows - 1 ? 4 : 0;
    for (int64_t k = 0; k < cols; ++k) {
      float h = hashed((uint64_t)(r * cols + k), salt), v;
      switch (kind) {
        case 1: v = 0.0f; break;
        case 2: v = k == 0 ? 127.0f : (float)(int)(k % 8) - 3.5f; break;
        case 3: v = 1e15f * h; break;
        case 4: v = 1e-40f * h; break;
        case 5: v = 1.0f; break;
        default: v = h;
      }
      a[r * cols + k] = v;
    }
  }
}

/* ---- the host's answers ---- */

static void ref_quantize(const float *a, int64_t rows, int64_t cols, int8_t *q, float *s) {
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0.0f;
    for (int64_t k = 0; k < cols; ++k) m = fmaxf(m, fabsf(a[r * cols + k]));
    s[r] = (float)((double)m / 127.0);
    for (int64_t k = 0; k < cols; ++k) {
      float quot = s[r] == 0.0f ? 0.0f : (float)((double)a[r * cols + k] / (double)s[r]);
      q[r * cols + k] = (int8_t)fminf(127.0f, fmaxf(-127.0f, nearbyintf(quot)));
    }
  }
}

static void ref_forward(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                        int64_t M, int64_t N, int64_t K, int64_t *acc, double *y, double *mag) {
  for (int64_t r = 0; r < M; ++r)
    for (int64_t o = 0; o < N; ++o) {
      int64_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += (int64_t)xq[r * K + k] * wq[o * K + k];
      double p = (double)sx[r] * (double)sw[o] * (double)s, bo = b ? b[o] : 0.0;
      acc[r * N + o] = s;
      y[r * N + o] = p + bo;
      mag[r * N + o] = fabs(p) + fabs(bo);
    }
}

/* dx, dW, db and their Σ|terms|, one after the other in out and mag (M·K, N·K, N). */
static void ref_backward(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                         int64_t M, int64_t N, int64_t K, double *out, double *mag) {
  double *dx = out, *dw = out + M * K, *db = dw + N * K, *mx = mag, *mw = mag + M * K, *mb = mw + N * K;
  memset(out, 0, (size_t)(M * K + N * K + N) * sizeof *out);
  memset(mag, 0, (size_t)(M * K + N * K + N) * sizeof *mag);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t o = 0; o < N; ++o) {
      const double g = dy[r * N + o], gw = g * sw[o], gx = g * sx[r];
      for (int64_t k = 0; k < K; ++k) {
        const double tx = gw * wq[o * K + k], tw = gx * xq[r * K + k];
        dx[r * K + k] += tx, mx[r * K + k] += fabs(tx);
        dw[o * K + k] += tw, mw[o * K + k] += fabs(tw);
      }
      db[o] += g, mb[o] += fabs(g);
    }
}

/* ---- reporting ---- */

static int failures = 0, passes = 0;

/* e: the worst error in units of its tolerance (NaN: a NaN, an unwritten output, a wrong sum). */
static void report(const char *what, int err, double e) {
  int ok = err == EM_OK && e <= 1.0;
  ok ? ++passes : ++failures;
  if (err != EM_OK) printf(" | %s %s (%s)", what, em_err_name(err), em_error_detail());
  else printf(" | %s %.2g%s", what, e, ok ? "" : " FAIL");
}

/* A count of values that must all agree (the quantisation, bit for bit). */
static void report_count(const char *what, int err, int64_t bad) {
  int ok = err == EM_OK && bad == 0;
  ok ? ++passes : ++failures;
  if (err != EM_OK) printf(" | %s %s (%s)", what, em_err_name(err), em_error_detail());
  else printf(" | %s %lld wrong%s", what, (long long)bad, ok ? "" : " FAIL");
}

static void expect(const char *what, int got, int want) {
  int ok = got == want;
  ok ? ++passes : ++failures;
  printf("%-64s %s (want %s)%s\n", what, em_err_name(got), em_err_name(want), ok ? "" : " FAIL");
}

/* Worst |y − want| in units of its tolerance, NaN for a non-finite y; acc (when given) must match
 * exactly, else NaN too. */
static double worst_forward(const float *y, const int32_t *acc, const double *want, const int64_t *want_acc,
                            const double *mag, int64_t n) {
  double w = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (!isfinite(y[i]) || (acc && acc[i] != want_acc[i])) return NAN;
    double e = fabs(y[i] - want[i]) / (4 * kU * mag[i] + 1e-35);
    if (e > w) w = e;
  }
  return w;
}

static double worst_backward(const float *got, const double *want, const double *mag, int64_t n, int64_t J) {
  double w = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (!isfinite(got[i])) return NAN;
    double e = fabs(got[i] - want[i]) / ((double)(J + 3) * kU * mag[i] + 1e-30);
    if (e > w) w = e;
  }
  return w;
}

/* ---- device buffers: each with 16 spare bytes, so a view one element in still fits ---- */

static void *dalloc(size_t bytes) {
  void *p = NULL;
  if (em_cuda_alloc(&p, bytes + 16) != EM_OK) {
    printf("allocation failed: %s\n", em_error_detail());
    exit(2);
  }
  return p;
}

static void up(void *d, const void *h, size_t bytes) {
  if (em_cuda_copy_to_device(d, h, bytes) != EM_OK) {
    printf("copy failed: %s\n", em_error_detail());
    exit(2);
  }
}

/* Poisons n 32-bit words (NaN for floats, −1 for int32). */
static void poison(void *d, int64_t words) { em_cuda_fill_u32(d, words, 0xffffffffu); }

static int down(void *h, const void *d, size_t bytes, int err) {
  if (err == EM_OK) err = em_cuda_sync();
  if (err == EM_OK) err = em_cuda_copy_to_host(h, d, bytes);
  return err;
}

typedef int (*quant_fn)(const float *, int64_t, int64_t, int8_t *, float *);
typedef int (*fwd_fn)(const int8_t *, const float *, const int8_t *, const float *, const float *, int32_t *, float *,
                      int64_t, int64_t, int64_t);
typedef int (*bwd_fn)(const float *, const int8_t *, const float *, const int8_t *, const float *, float *, float *,
                      float *, int64_t, int64_t, int64_t);

/* One shape, every function; off = 1 moves every device pointer one element (off 16 bytes). */
static void run(const shape *s, int off) {
  const int64_t M = s->M, N = s->N, K = s->K;
  float *x = malloc(M * K * 4), *w = malloc(N * K * 4), *b = malloc(N * 4), *dy = malloc(M * N * 4);
  float *sx = malloc(M * 4), *sw = malloc(N * 4), *gs = malloc((M > N ? M : N) * 4);
  int8_t *xq = malloc(M * K), *wq = malloc(N * K), *gq = malloc((M > N ? M : N) * K);
  int64_t *acc = malloc(M * N * sizeof *acc);
  int32_t *gacc = malloc(M * N * 4);
  double *y = malloc(M * N * sizeof *y), *ymag = malloc(M * N * sizeof *ymag);
  const int64_t nb = M * K + N * K + N;
  double *bw = malloc(nb * sizeof *bw), *bmag = malloc(nb * sizeof *bmag);
  float *got = malloc((nb > M * N ? nb : M * N) * 4); /* the gradients, then y */
  fill(x, M, K, 1, s->ones);
  fill(w, N, K, 2, s->ones);
  fill(b, 1, N, 3, 0);
  fill(dy, M, N, 4, 0);
  ref_quantize(x, M, K, xq, sx);
  ref_quantize(w, N, K, wq, sw);
  ref_forward(xq, sx, wq, sw, b, M, N, K, acc, y, ymag);
  ref_backward(dy, xq, sx, wq, sw, M, N, K, bw, bmag);

  char *base[12];
  const size_t bytes[12] = {M * K * 4, N * K * 4, N * 4, M * N * 4, M * 4, N * 4, M * K, N * K, M * N * 4, M * N * 4,
                            M * K * 4, N * K * 4 + N * 4 + 16};
  for (int i = 0; i < 12; ++i) base[i] = dalloc(bytes[i]);
  float *dxf = (float *)base[0] + off, *dwf = (float *)base[1] + off, *db_ = (float *)base[2] + off;
  float *ddy = (float *)base[3] + off, *dsx = (float *)base[4] + off, *dsw = (float *)base[5] + off;
  int8_t *dxq = (int8_t *)base[6] + off, *dwq = (int8_t *)base[7] + off;
  float *dyo = (float *)base[8] + off;
  int32_t *dacc = (int32_t *)base[9] + off;
  float *ddx = (float *)base[10] + off, *ddw = (float *)base[11] + off, *ddb = ddw + N * K + 1;
  up(dxf, x, M * K * 4), up(dwf, w, N * K * 4), up(db_, b, N * 4), up(ddy, dy, M * N * 4);

  printf("M=%-3lld N=%-3lld K=%-6lld%s%s", (long long)M, (long long)N, (long long)K, s->ones ? " ones" : "",
         off ? " misaligned" : "");

  const char *qnames[] = {"quant", "quant-naive"};
  quant_fn qf[] = {em_qlinear_quantize_cuda, em_qlinear_quantize_naive_cuda};
  for (int f = 0; f < 2; ++f) {
    int64_t bad = 0;
    int err = EM_OK;
    for (int t = 0; t < 2 && err == EM_OK; ++t) {
      const int64_t rows = t ? N : M;
      poison(t ? (void *)dsw : (void *)dsx, rows);
      err = qf[f](t ? dwf : dxf, rows, K, t ? dwq : dxq, t ? dsw : dsx);
      err = down(gs, t ? (void *)dsw : (void *)dsx, rows * 4, err);
      err = down(gq, t ? (void *)dwq : (void *)dxq, rows * K, err);
      if (err == EM_OK) {
        bad += memcmp(gs, t ? sw : sx, rows * 4) != 0;
        for (int64_t i = 0; i < rows * K; ++i) bad += gq[i] != (t ? wq : xq)[i];
      }
    }
    report_count(qnames[f], err, bad);
  }
  /* The products from the host's quantised operands (already checked equal to the device's). */
  up(dxq, xq, M * K), up(dwq, wq, N * K), up(dsx, sx, M * 4), up(dsw, sw, N * 4);

  const char *fnames[] = {"fwd", "fwd-noacc", "fwd-naive"};
  fwd_fn ff[] = {em_qlinear_forward_cuda, em_qlinear_forward_cuda, em_qlinear_forward_naive_cuda};
  for (int f = 0; f < 3; ++f) {
    const int with_acc = f != 1;
    poison(dyo, M * N);
    poison(dacc, M * N);
    int err = ff[f](dxq, dsx, dwq, dsw, db_, with_acc ? dacc : NULL, dyo, M, N, K);
    err = down(got, dyo, M * N * 4, err);
    if (with_acc) err = down(gacc, dacc, M * N * 4, err);
    report(fnames[f], err, err == EM_OK ? worst_forward(got, with_acc ? gacc : NULL, y, acc, ymag, M * N) : 0.0);
  }

  const char *bnames[] = {"bwd", "bwd-naive"};
  bwd_fn bf[] = {em_qlinear_backward_cuda, em_qlinear_backward_naive_cuda};
  for (int f = 0; f < 2; ++f) {
    poison(ddx, M * K);
    poison(ddw, N * K + N + 1);
    int err = bf[f](ddy, dxq, dsx, dwq, dsw, ddx, ddw, ddb, M, N, K);
    err = down(got, ddx, M * K * 4, err);
    err = down(got + M * K, ddw, N * K * 4, err);
    err = down(got + M * K + N * K, ddb, N * 4, err);
    double e = 0.0;
    if (err == EM_OK) {
      double ex = worst_backward(got, bw, bmag, M * K, N);
      double ew = worst_backward(got + M * K, bw + M * K, bmag + M * K, N * K, M);
      double eb = worst_backward(got + M * K + N * K, bw + M * K + N * K, bmag + M * K + N * K, N, M);
      e = isnan(ex) || isnan(ew) || isnan(eb) ? NAN : fmax(ex, fmax(ew, eb));
    }
    report(bnames[f], err, e);
  }
  printf("\n");
  for (int i = 0; i < 12; ++i) em_cuda_free(base[i]);
  free(x), free(w), free(b), free(dy), free(sx), free(sw), free(gs), free(xq), free(wq), free(gq);
  free(acc), free(gacc), free(y), free(ymag), free(bw), free(bmag), free(got);
}

/* The layer: create from W and b, forward at M1, backward, forward at M2 > M1 (the kept buffers
 * grow) and M3 < M2, backward after each; every result against the host. */
static void run_layer(int64_t N, int64_t K, int with_bias) {
  const int64_t Ms[3] = {5, 40, 3}, Mmax = 40;
  float *w = malloc(N * K * 4), *b = malloc(N * 4), *x = malloc(Mmax * K * 4), *dy = malloc(Mmax * N * 4);
  float *sx = malloc(Mmax * 4), *sw = malloc(N * 4), *got = malloc((Mmax * K + N * K + N + Mmax * N) * 4);
  int8_t *xq = malloc(Mmax * K), *wq = malloc(N * K);
  int64_t *acc = malloc(Mmax * N * sizeof *acc);
  const int64_t nb = Mmax * K + N * K + N;
  double *y = malloc(Mmax * N * sizeof *y), *ymag = malloc(Mmax * N * sizeof *ymag), *bw = malloc(nb * sizeof *bw),
         *bmag = malloc(nb * sizeof *bmag);
  fill(w, N, K, 5, 0);
  fill(b, 1, N, 6, 0);
  ref_quantize(w, N, K, wq, sw);
  float *dw_ = dalloc(N * K * 4), *db_ = dalloc(N * 4), *dx_ = dalloc(Mmax * K * 4), *ddy = dalloc(Mmax * N * 4);
  float *dy_out = dalloc(Mmax * N * 4), *dgx = dalloc(Mmax * K * 4), *dgw = dalloc(N * K * 4), *dgb = dalloc(N * 4);
  up(dw_, w, N * K * 4), up(db_, b, N * 4);

  printf("layer N=%lld K=%lld%s", (long long)N, (long long)K, with_bias ? "" : " (no bias)");
  em_qlinear *layer = NULL;
  int err = em_qlinear_create_cuda(&layer, dw_, with_bias ? db_ : NULL, N, K);
  report("create", err, 0.0);
  for (int step = 0; step < 3 && err == EM_OK; ++step) {
    const int64_t M = Ms[step];
    fill(x, M, K, 7 + (uint32_t)step, 0);
    fill(dy, M, N, 10 + (uint32_t)step, 0);
    ref_quantize(x, M, K, xq, sx);
    ref_forward(xq, sx, wq, sw, with_bias ? b : NULL, M, N, K, acc, y, ymag);
    ref_backward(dy, xq, sx, wq, sw, M, N, K, bw, bmag);
    up(dx_, x, M * K * 4), up(ddy, dy, M * N * 4);
    poison(dy_out, M * N);
    int e1 = em_qlinear_forward_cuda_layer(layer, dx_, dy_out, M);
    e1 = down(got, dy_out, M * N * 4, e1);
    char what[32];
    snprintf(what, sizeof what, "fwd M=%lld", (long long)M);
    report(what, e1, e1 == EM_OK ? worst_forward(got, NULL, y, acc, ymag, M * N) : 0.0);
    poison(dgx, M * K), poison(dgw, N * K), poison(dgb, N);
    int e2 = em_qlinear_backward_cuda_layer(layer, ddy, dgx, dgw, dgb);
    e2 = down(got, dgx, M * K * 4, e2);
    e2 = down(got + M * K, dgw, N * K * 4, e2);
    e2 = down(got + M * K + N * K, dgb, N * 4, e2);
    double e = 0.0;
    if (e2 == EM_OK) {
      double ex = worst_backward(got, bw, bmag, M * K, N);
      double ew = worst_backward(got + M * K, bw + M * K, bmag + M * K, N * K, M);
      double eb = worst_backward(got + M * K + N * K, bw + M * K + N * K, bmag + M * K + N * K, N, M);
      e = isnan(ex) || isnan(ew) || isnan(eb) ? NAN : fmax(ex, fmax(ew, eb));
    }
    snprintf(what, sizeof what, "bwd M=%lld", (long long)M);
    report(what, e2, e);
  }
  printf("\n");
  em_qlinear_destroy_cuda(layer);
  em_cuda_free(dw_), em_cuda_free(db_), em_cuda_free(dx_), em_cuda_free(ddy), em_cuda_free(dy_out);
  em_cuda_free(dgx), em_cuda_free(dgw), em_cuda_free(dgb);
  free(w), free(b), free(x), free(dy), free(sx), free(sw), free(got), free(xq), free(wq), free(acc);
  free(y), free(ymag), free(bw), free(bmag);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* a crash keeps the lines before it */
  if (em_cuda_probe(NULL) != EM_OK) {
    printf("no GPU: %s\n", em_error_detail());
    return 2;
  }
  const shape shapes[] = {
      {1, 1, 1, 0},     {1, 1, 3, 0},      {1, 5, 17, 0},      {2, 3, 64, 0},      {16, 33, 64, 0},
      {16, 300, 1040, 0}, {6, 7, 1025, 0}, {3, 130, 17, 0},    {17, 129, 200, 0},  {130, 257, 1000, 0},
      {64, 1, 4096, 0}, {200, 300, 1040, 0}, {2, 3, 131072, 1}, {20, 24, 131072, 1},
      {4100, 8190, 80, 0}, /* 33 x 32 tiles of 128 x 256: the Hopper forward's wide tile, ragged */
  };
  const int n = (int)(sizeof shapes / sizeof *shapes);
  for (int i = 0; i < n; ++i) run(&shapes[i], 0);
  for (int i = 0; i < n; ++i)
    if (!shapes[i].ones) run(&shapes[i], 1);
  run_layer(48, 100, 1);
  run_layer(300, 1040, 1);
  run_layer(33, 17, 0);

  float *p = NULL;
  em_cuda_alloc((void **)&p, 1 << 20);
  em_cuda_fill_u32(p, 1 << 18, 0u); /* zeros: the calls below read defined memory */
  const float *cp = p;
  const int8_t *q8 = (const int8_t *)p;
  int8_t *w8 = (int8_t *)p;
  expect("em_qlinear_quantize_cuda cols = 0", em_qlinear_quantize_cuda(cp, 4, 0, w8, p), EM_EINVAL);
  expect("em_qlinear_quantize_cuda cols = 2^17 + 1",
         em_qlinear_quantize_cuda(cp, 1, EM_QLINEAR_MAX_K + 1, w8, p), EM_EINVAL);
  expect("em_qlinear_forward_cuda M = 0", em_qlinear_forward_cuda(q8, cp, q8, cp, cp, NULL, p, 0, 4, 4), EM_EINVAL);
  expect("em_qlinear_forward_cuda K = 2^17 + 1",
         em_qlinear_forward_cuda(q8, cp, q8, cp, cp, NULL, p, 1, 1, EM_QLINEAR_MAX_K + 1), EM_EINVAL);
  expect("em_qlinear_forward_naive_cuda N = -1",
         em_qlinear_forward_naive_cuda(q8, cp, q8, cp, cp, NULL, p, 1, -1, 4), EM_EINVAL);
  expect("em_qlinear_backward_cuda K = 0", em_qlinear_backward_cuda(cp, q8, cp, q8, cp, p, p, p, 2, 2, 0), EM_EINVAL);
  expect("em_qlinear_backward_naive_cuda M = -3",
         em_qlinear_backward_naive_cuda(cp, q8, cp, q8, cp, p, p, p, -3, 2, 2), EM_EINVAL);
  em_qlinear *layer = (em_qlinear *)p; /* anything not made by create_cuda */
  expect("em_qlinear_create_cuda K = 0", em_qlinear_create_cuda(&layer, cp, cp, 4, 0), EM_EINVAL);
  expect("  and *layer is NULL after it", layer == NULL ? EM_OK : EM_EINVAL, EM_OK);
  expect("em_qlinear_forward_cuda_layer(NULL)", em_qlinear_forward_cuda_layer(NULL, cp, p, 1), EM_EINVAL);
  em_qlinear_destroy_cuda(NULL);
  int err = em_qlinear_create_cuda(&layer, cp, cp, 4, 8);
  expect("em_qlinear_create_cuda N = 4, K = 8", err, EM_OK);
  if (err == EM_OK) {
    expect("backward before any forward", em_qlinear_backward_cuda_layer(layer, cp, p, p, p), EM_EINVAL);
    expect("forward M = 0", em_qlinear_forward_cuda_layer(layer, cp, p, 0), EM_EINVAL);
    expect("  backward after that failed forward", em_qlinear_backward_cuda_layer(layer, cp, p, p, p), EM_EINVAL);
    expect("forward M = 2", em_qlinear_forward_cuda_layer(layer, cp, p + 4096, 2), EM_OK);
    expect("  backward after it", em_qlinear_backward_cuda_layer(layer, cp, p + 8192, p + 16384, p + 32768), EM_OK);
    em_qlinear_destroy_cuda(layer);
  }
  layer = NULL;
  expect("em_qlinear_create_cuda N = 2^22, K = 2^17 (512 GiB: no memory)",
         em_qlinear_create_cuda(&layer, cp, cp, (int64_t)1 << 22, EM_QLINEAR_MAX_K), EM_ENOMEM);
  expect("then a normal call still works", em_qlinear_forward_cuda(q8, cp, q8, cp, cp, NULL, p + 4096, 3, 5, 64), EM_OK);
  expect("and the device is clean", em_cuda_sync(), EM_OK);
  em_cuda_free(p);

  printf("%d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}
