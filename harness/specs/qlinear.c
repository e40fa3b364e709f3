/* Lab 8 spec: the int8 quantized linear layer (include/em/qlinear.h): (a) quantise, (b) forward
 * from quantised operands, (c) backward, (d) one step of the layer object.
 *
 * ---- What is exact, and the tolerances -----------------------------------------------------------
 * (a) The quantised values and the scales are defined bit for bit (a float32 division, round half
 *     to even, clamp to ±127, a zero row to 0): compared exactly. So are (b)'s int32 sums.
 * (b) y = (s_x·s_w)·acc + b in float32: the product of the scales rounds once (u = 2^-24), acc
 *     becomes a float exactly below 2^24 and with one rounding above, their product rounds once,
 *     and the bias's addition once, relative to |y|. So
 *         |y − y*| ≤ (3u + u·[|acc| ≥ 2^24])·|s_x·s_w·acc| + u·|y*|:
 *     atol_each = 4u·|s_x·s_w·acc|, rtol = 2u (the addition and the oracle's own float64 rounding
 *     left over). An FMA for the last two steps rounds once instead of twice: inside. What it
 *     rejects: a float accumulator over K products (its error grows with K·u·Σ|products|), scales
 *     applied per tensor, a bias added twice.
 * (c) Every output is a float32 sum of T terms (T = N for dx, M for dW and db), each term a product
 *     of dy, a scale and an int8 (exact as a float): two roundings in the product, at most T − 1
 *     in the sum in any order (Higham's γ): atol_each = (T + 2)·u·Σ|term|, rtol = atol = 0. The
 *     worst case of any order, as a GEMM in float32 sums: tiled, sequential along K, or a tree.
 * (d) The layer quantises exactly as (a), so its y takes (b)'s tolerance on (a)'s values, and its
 *     gradients (c)'s.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#pragma weak lab8_quantize
#pragma weak lab8_forward
#pragma weak lab8_backward
#pragma weak lab8_step
#pragma weak lab8_quantize_cuda
#pragma weak lab8_forward_cuda
#pragma weak lab8_backward_cuda
#pragma weak lab8_step_cuda

enum { UNIFORM, OUTLIER, EQUAL, ZERO_ROWS, HALVES, EXTREMES, NKINDS };
static const char *const value_kinds[] = {"uniform", "outlier", "equal", "zero-rows", "halves", "extremes"};
static const char *const dim_names[] = {"M", "N", "K"};
enum { DM, DN, DK };

#define U 0x1p-24

/* ---- inputs -------------------------------------------------------------------------------------
 * Float matrices (part a's a, part d's W and x), by kind, row by row:
 *   uniform:   [−1, 1).
 *   outlier:   [−1, 1) with one element per row 100 times larger: per-row scales keep the rest of
 *              the row at a few levels, per-tensor ones would flatten every other row to 0.
 *   equal:     every element of row r the same value (± by row): all quantise to ±127.
 *   zero-rows: [−1, 1) with every third row all zeros (s = 0, never 0/0).
 *   halves:    row r's maximum is 127·2^e, the others (k + 1/2)·2^e for random k: every quotient is
 *              exactly k + 1/2, where round half to even, half away from zero and truncation part.
 *   extremes:  rows of very different magnitudes: 1e30, 1e-30, subnormals, ±127-saturating rows.
 * Quantised operands (parts b and c) are random int8 in [−127, 127] with positive scales; zero-rows
 * makes every third row of x and of W zero with scale 0, extremes makes each row all +127 or all
 * −127 (the largest sums there are). */
static void fill_row(float *a, int64_t cols, int kind, int64_t r, em_rng_key key) {
  em_rng_fill_uniform_f32(a, cols, key, -1.0f, 1.0f);
  uint32_t w0 = em_rng_u32(key, (uint64_t)cols), w1 = em_rng_u32(key, (uint64_t)cols + 1);
  switch (kind) {
  case OUTLIER: a[w0 % (uint64_t)cols] *= 100.0f; break;
  case EQUAL:
    for (int64_t k = 0; k < cols; ++k) a[k] = (r % 2 ? -1.0f : 1.0f) * (0.25f + (float)(r % 7));
    break;
  case ZERO_ROWS:
    if (r % 3 == 0) memset(a, 0, (size_t)cols * sizeof *a);
    break;
  case HALVES: {
    float step = ldexpf(1.0f, (int)(w0 % 40) - 20);
    for (int64_t k = 0; k < cols; ++k) {
      uint32_t u = em_rng_u32(key, (uint64_t)(2 * cols + k));
      float v = ((float)(u % 126) + 0.5f) * step; /* k + 1/2 for k in 0..125 */
      a[k] = u & 0x80000000u ? -v : v;
    }
    a[w1 % (uint64_t)cols] = (w1 & 1 ? -127.0f : 127.0f) * step;
    break;
  }
  case EXTREMES: {
    static const float mag[] = {1e30f, 1e-30f, 1e-42f, 3.0e38f, 1.0f};
    for (int64_t k = 0; k < cols; ++k) a[k] *= mag[r % 5];
    break;
  }
  default: break;
  }
}

static void fill_float(em_tensor *t, int kind, em_rng_key key) {
  int64_t rows = t->ndim == 2 ? t->shape[0] : 1, cols = t->ndim == 2 ? t->shape[1] : t->shape[0];
  float *a = (float *)t->host;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    em_rng_key k = key;
    k.tensor_id = key.tensor_id * 1000003u + (uint32_t)r; /* a stream per row: rows fill in any order */
    fill_row(a + r * cols, cols, kind, r, k);
  }
}

static void fill_int8(em_tensor *q, em_tensor *s, int kind, em_rng_key key) {
  int64_t rows = q->shape[0], cols = q->shape[1];
  int8_t *v = (int8_t *)q->host;
  float *sc = (float *)s->host;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int zero = kind == ZERO_ROWS && r % 3 == 0;
    for (int64_t k = 0; k < cols; ++k) {
      uint32_t u = em_rng_u32(key, (uint64_t)(r * cols + k));
      /* extremes: the row all +127 or all −127, so a row of x against a row of W sums K products of
       * one sign, 16129·K: past 2^24 (where a float sum stops being exact) from K = 1041, and past
       * int16 at once */
      int val = kind == EXTREMES ? (r / 2 % 2 ? -127 : 127) : (int)(u % 255) - 127;
      v[r * cols + k] = zero ? 0 : (int8_t)val;
    }
    em_rng_key ks = key;
    ks.tensor_id += 7;
    sc[r] = zero ? 0.0f : em_rng_uniform_f32(em_rng_u32(ks, (uint64_t)r), 1e-3f, 1e-2f);
  }
}

/* ---- tensors ------------------------------------------------------------------------------------ */

/* Part (b) wants acc on its small cases only: the speed cases time the fused product alone. */
static int wants_acc(const em_case *c) { return c->part == 'b' && !(c->perf_points > 0); }

static em_tensor mat(const char *name, em_dtype dt, int64_t r, int64_t cols) {
  return (em_tensor){.name = name, .dtype = dt, .ndim = 2, .shape = {r, cols}};
}
static em_tensor vec(const char *name, em_dtype dt, int64_t n) {
  return (em_tensor){.name = name, .dtype = dt, .ndim = 1, .shape = {n}};
}
static em_tensor out(em_tensor t, double rtol, const char *why) {
  t.is_output = 1;
  t.rtol = rtol;
  t.tol_why = why;
  return t;
}

static const char *const why_exact = "exact: the contract defines every bit";
static const char *const why_y = "4u*|s_x*s_w*acc| + 2u*|y|: the scales' product, acc as a float, the product, the bias";
static const char *const why_grad = "(T+2)u*sum|terms| per element, T the terms summed (N for dx, M for dW and db): any order";

static int describe(const em_case *c, em_tensor *t) {
  int64_t M = c->dim[DM], N = c->dim[DN], K = c->dim[DK];
  switch (c->part) {
  case 'a':
    t[0] = mat("a", EM_F32, M, K);
    t[1] = out(mat("aq", EM_I8, M, K), 0, why_exact);
    t[2] = out(vec("scale", EM_F32, M), 0, why_exact);
    return 3;
  case 'b': {
    t[0] = mat("xq", EM_I8, M, K);
    t[1] = vec("sx", EM_F32, M);
    t[2] = mat("wq", EM_I8, N, K);
    t[3] = vec("sw", EM_F32, N);
    t[4] = vec("b", EM_F32, N);
    t[5] = out(mat("y", EM_F32, M, N), 2 * U, why_y);
    if (!wants_acc(c)) return 6;
    t[6] = out(mat("acc", EM_I32, M, N), 0, why_exact);
    return 7;
  }
  case 'c':
    t[0] = mat("dy", EM_F32, M, N);
    t[1] = mat("xq", EM_I8, M, K);
    t[2] = vec("sx", EM_F32, M);
    t[3] = mat("wq", EM_I8, N, K);
    t[4] = vec("sw", EM_F32, N);
    t[5] = out(mat("dx", EM_F32, M, K), 0, why_grad);
    t[6] = out(mat("dw", EM_F32, N, K), 0, why_grad);
    t[7] = out(vec("db", EM_F32, N), 0, why_grad);
    return 8;
  default:
    t[0] = mat("w", EM_F32, N, K);
    t[1] = vec("b", EM_F32, N);
    t[2] = mat("x", EM_F32, M, K);
    t[3] = mat("dy", EM_F32, M, N);
    t[4] = out(mat("y", EM_F32, M, N), 2 * U, why_y);
    t[5] = out(mat("dx", EM_F32, M, K), 0, why_grad);
    t[6] = out(mat("dw", EM_F32, N, K), 0, why_grad);
    t[7] = out(vec("db", EM_F32, N), 0, why_grad);
    return 8;
  }
}

static void fill(const em_case *c, uint64_t seed, uint32_t id, em_tensor *t) {
  int kind = c->values;
  em_rng_key k0 = {seed, id, 0}, k1 = {seed, id, 1}, k2 = {seed, id, 2}, k3 = {seed, id, 3};
  switch (c->part) {
  case 'a': fill_float(&t[0], kind, k0); break;
  case 'b':
    fill_int8(&t[0], &t[1], kind, k0);
    fill_int8(&t[2], &t[3], kind, k1);
    em_rng_fill_uniform_f32((float *)t[4].host, t[4].numel, k2, -1.0f, 1.0f);
    break;
  case 'c':
    em_rng_fill_uniform_f32((float *)t[0].host, t[0].numel, k0, -1.0f, 1.0f);
    fill_int8(&t[1], &t[2], kind, k1);
    fill_int8(&t[3], &t[4], kind, k2);
    break;
  default:
    fill_float(&t[0], kind, k0);
    em_rng_fill_uniform_f32((float *)t[1].host, t[1].numel, k1, -1.0f, 1.0f);
    fill_float(&t[2], kind, k2);
    em_rng_fill_uniform_f32((float *)t[3].host, t[3].numel, k3, -1.0f, 1.0f);
    break;
  }
}

/* ---- the oracle and the per-element tolerances ---------------------------------------------------- */

static void set_nan(em_tensor *t) {
  if (t->want)
    for (int64_t i = 0; i < t->numel; ++i) t->want[i] = NAN;
}

/* y's tolerance, 4u·|s_x·s_w·acc| per element (the top of the file), from exact acc. */
static void y_tolerance(em_tensor *y, const int32_t *acc, const float *sx, const float *sw, int64_t M, int64_t N) {
  double *each = (double *)em_host_alloc((size_t)(M * N) * sizeof(double));
  if (!each) return; /* only stricter */
  for (int64_t r = 0; r < M; ++r)
    for (int64_t o = 0; o < N; ++o) each[r * N + o] = 4 * U * fabs((double)sx[r] * sw[o] * acc[r * N + o]);
  y->atol_each = each;
}

/* The gradients' tolerance, (T + 2)·u·Σ|term| (the top of the file). Σ|term| is a GEMM of
 * absolute values, as large as the oracle's own work, and the checker computes it for every case
 * it times and for both anti-cache variants: it runs in the oracle's order (reference/oracle/
 * qlinear.c), TOL_ROWS rows of the output at a time, each term added to its row as a row of W (or
 * of x) streams past, so that memory is read in rows. Taken down the columns instead (a sum per
 * element, W's column stride K apart) it missed the cache on every term: on the GPU machine's 16
 * cores part (c) at 8192³ ran past 170 s, 2705 s of CPU time, most of it here. Each element still
 * sums the same terms in the same order, |dy·s|·|q| being |dy·s·q| bit for bit (the product of two
 * floats is exact in double, and rounding is symmetric in the sign). */
enum { TOL_ROWS = 4 };

/* e[i][k] = (T + 2)·u·Σ_t |dy_it·s[t]|·|q[t][k]| over the T terms t in order, for the rows i of one
 * gradient (rows × K): dy_it = dy[i·dy_row + t·dy_term], and term t scales row t of q (K int8). */
static void sum_abs_terms(double *e, int64_t rows, int64_t T, int64_t K, const float *dy, int64_t dy_row,
                          int64_t dy_term, const float *s, const int8_t *q) {
#pragma omp parallel for schedule(static)
  for (int64_t i0 = 0; i0 < rows; i0 += TOL_ROWS) {
    const int64_t i1 = rows - i0 < TOL_ROWS ? rows : i0 + TOL_ROWS;
    for (int64_t j = i0 * K; j < i1 * K; ++j) e[j] = 0.0;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = i0; i < i1; ++i) {
        const double g = fabs((double)dy[i * dy_row + t * dy_term] * s[t]);
        double *ei = e + i * K;
        const int8_t *qt = q + t * K;
        for (int64_t k = 0; k < K; ++k) ei[k] += g * fabs((double)qt[k]);
      }
    for (int64_t j = i0 * K; j < i1 * K; ++j) e[j] *= (double)(T + 2) * U;
  }
}

static void grad_tolerance(em_tensor *dx, em_tensor *dw, em_tensor *db, const float *dy, const int8_t *xq,
                           const float *sx, const int8_t *wq, const float *sw, int64_t M, int64_t N, int64_t K) {
  double *ex = (double *)em_host_alloc((size_t)(M * K) * sizeof(double));
  double *ew = (double *)em_host_alloc((size_t)(N * K) * sizeof(double));
  double *eb = (double *)em_host_alloc((size_t)N * sizeof(double));
  if (ex) { /* row r of dx: terms o, |dy[r][o]·s_w[o]|·|wq[o][·]| */
    sum_abs_terms(ex, M, N, K, dy, N, 1, sw, wq);
    dx->atol_each = ex;
  }
  if (ew) { /* row o of dW: terms r, |dy[r][o]·s_x[r]|·|xq[r][·]| */
    sum_abs_terms(ew, N, M, K, dy, 1, N, sx, xq);
    dw->atol_each = ew;
  }
  if (eb) { /* db: Σ over r of |dy[r][o]|, in order of r, dy read along its rows */
    for (int64_t o = 0; o < N; ++o) eb[o] = 0.0;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t o = 0; o < N; ++o) eb[o] += fabs((double)dy[r * N + o]);
    for (int64_t o = 0; o < N; ++o) eb[o] *= (double)(M + 2) * U;
    db->atol_each = eb;
  }
}

static void oracle(const em_case *c, em_tensor *t) {
  int64_t M = c->dim[DM], N = c->dim[DN], K = c->dim[DK];
  switch (c->part) {
  case 'a': {
    int8_t *aq = (int8_t *)em_host_alloc((size_t)(M * K));
    float *s = (float *)em_host_alloc((size_t)M * sizeof(float));
    if (aq && s && em_qlinear_quantize_oracle((const float *)t[0].host, M, K, aq, s) == EM_OK) {
      for (int64_t i = 0; i < M * K; ++i) t[1].want_i32[i] = aq[i];
      for (int64_t i = 0; i < M; ++i) t[2].want[i] = s[i];
    } else {
      for (int64_t i = 0; i < M * K; ++i) t[1].want_i32[i] = EM_POISON_I8; /* nothing can match */
      set_nan(&t[2]);
    }
    em_host_free(aq), em_host_free(s);
    break;
  }
  case 'b': {
    int32_t *acc = t[6].want_i32 && wants_acc(c) ? t[6].want_i32 : (int32_t *)em_host_alloc((size_t)(M * N) * 4);
    const float *sx = (const float *)t[1].host, *sw = (const float *)t[3].host;
    if (acc && em_qlinear_forward_oracle((const int8_t *)t[0].host, sx, (const int8_t *)t[2].host, sw,
                                         (const float *)t[4].host, acc, t[5].want, M, N, K) == EM_OK)
      y_tolerance(&t[5], acc, sx, sw, M, N);
    else
      set_nan(&t[5]);
    if (!wants_acc(c)) em_host_free(acc);
    break;
  }
  case 'c': {
    const float *dy = (const float *)t[0].host, *sx = (const float *)t[2].host, *sw = (const float *)t[4].host;
    const int8_t *xq = (const int8_t *)t[1].host, *wq = (const int8_t *)t[3].host;
    if (em_qlinear_backward_oracle(dy, xq, sx, wq, sw, t[5].want, t[6].want, t[7].want, M, N, K) == EM_OK)
      grad_tolerance(&t[5], &t[6], &t[7], dy, xq, sx, wq, sw, M, N, K);
    else
      set_nan(&t[5]), set_nan(&t[6]), set_nan(&t[7]);
    break;
  }
  default: { /* the layer: quantise W and x exactly, then (b) and (c) */
    int8_t *wq = (int8_t *)em_host_alloc((size_t)(N * K)), *xq = (int8_t *)em_host_alloc((size_t)(M * K));
    float *sw = (float *)em_host_alloc((size_t)N * 4), *sx = (float *)em_host_alloc((size_t)M * 4);
    int32_t *acc = (int32_t *)em_host_alloc((size_t)(M * N) * 4);
    const float *dy = (const float *)t[3].host;
    int ok = wq && xq && sw && sx && acc &&
             em_qlinear_quantize_oracle((const float *)t[0].host, N, K, wq, sw) == EM_OK &&
             em_qlinear_quantize_oracle((const float *)t[2].host, M, K, xq, sx) == EM_OK &&
             em_qlinear_forward_oracle(xq, sx, wq, sw, (const float *)t[1].host, acc, t[4].want, M, N, K) == EM_OK &&
             em_qlinear_backward_oracle(dy, xq, sx, wq, sw, t[5].want, t[6].want, t[7].want, M, N, K) == EM_OK;
    if (ok) {
      y_tolerance(&t[4], acc, sx, sw, M, N);
      grad_tolerance(&t[5], &t[6], &t[7], dy, xq, sx, wq, sw, M, N, K);
    } else {
      for (int i = 4; i < 8; ++i) set_nan(&t[i]);
    }
    em_host_free(wq), em_host_free(xq), em_host_free(sw), em_host_free(sx), em_host_free(acc);
    break;
  }
  }
}

/* ---- calls -------------------------------------------------------------------------------------- */

typedef void (*qa_fn)(const float *, int64_t, int64_t, int8_t *, float *);
typedef int (*qa_lib)(const float *, int64_t, int64_t, int8_t *, float *);
typedef void (*fw_fn)(const int8_t *, const float *, const int8_t *, const float *, const float *, int32_t *, float *,
                      int64_t, int64_t, int64_t);
typedef int (*fw_lib)(const int8_t *, const float *, const int8_t *, const float *, const float *, int32_t *, float *,
                      int64_t, int64_t, int64_t);
typedef void (*bw_fn)(const float *, const int8_t *, const float *, const int8_t *, const float *, float *, float *,
                      float *, int64_t, int64_t, int64_t);
typedef int (*bw_lib)(const float *, const int8_t *, const float *, const int8_t *, const float *, float *, float *,
                      float *, int64_t, int64_t, int64_t);
typedef void (*st_fn)(const float *, const float *, const float *, const float *, float *, float *, float *, float *,
                      int64_t, int64_t, int64_t);
typedef int (*st_lib)(const float *, const float *, const float *, const float *, float *, float *, float *, float *,
                      int64_t, int64_t, int64_t);

#define A(i) em_call_arg(k, (i))

static int invoke(const em_call *k) {
  int64_t M = k->c->dim[DM], N = k->c->dim[DN], K = k->c->dim[DK];
  int lib = !k->student_code; /* the library's return an error code; the student's return nothing */
  switch (k->c->part) {
  case 'a':
    if (lib) return ((qa_lib)k->fn)(A(0), M, K, A(1), A(2));
    ((qa_fn)k->fn)(A(0), M, K, A(1), A(2));
    return EM_OK;
  case 'b': {
    int32_t *acc = k->nt > 6 ? (int32_t *)A(6) : NULL;
    if (lib) return ((fw_lib)k->fn)(A(0), A(1), A(2), A(3), A(4), acc, A(5), M, N, K);
    ((fw_fn)k->fn)(A(0), A(1), A(2), A(3), A(4), acc, A(5), M, N, K);
    return EM_OK;
  }
  case 'c':
    if (lib) return ((bw_lib)k->fn)(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), M, N, K);
    ((bw_fn)k->fn)(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), M, N, K);
    return EM_OK;
  default:
    if (lib) return ((st_lib)k->fn)(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), M, N, K);
    ((st_fn)k->fn)(A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), M, N, K);
    return EM_OK;
  }
}

/* Operations: (a) a max, a division, a rounding per element (3); (b) 2·M·N·K integer operations
 * plus 3 per output for the epilogue; (c) 4·M·N·K plus the M·N additions of db; (d) the quantising
 * of W and x, (b) and (c). */
static double flops(const em_case *c) {
  double M = (double)c->dim[DM], N = (double)c->dim[DN], K = (double)c->dim[DK];
  switch (c->part) {
  case 'a': return 3 * M * K;
  case 'b': return 2 * M * N * K + 3 * M * N;
  case 'c': return 4 * M * N * K + M * N;
  default: return 3 * (M + N) * K + 2 * M * N * K + 3 * M * N + 4 * M * N * K + M * N;
  }
}

/* The forward's 2·M·N·K int8 operations, alone in (b) and beside the float32 backward in (d);
 * (a) quantises and (c) multiplies in float32. */
static double int8_ops(const em_case *c) {
  if (c->part != 'b' && c->part != 'd') return 0;
  return 2.0 * (double)c->dim[DM] * (double)c->dim[DN] * (double)c->dim[DK];
}

/* Each input read once, each output written once (acc only where it is asked for). */
static double bytes(const em_case *c) {
  double M = (double)c->dim[DM], N = (double)c->dim[DN], K = (double)c->dim[DK];
  switch (c->part) {
  case 'a': return 5 * M * K + 4 * M;
  case 'b': return M * K + N * K + 4 * (M + 2 * N) + 4 * M * N * (wants_acc(c) ? 2 : 1);
  case 'c': return 4 * M * N + M * K + N * K + 4 * (M + N) + 4 * (M * K + N * K + N);
  default: return 4 * (N * K + N + M * K + M * N) + 4 * (M * N + M * K + N * K + N);
  }
}

static const char *invalid(const em_case *c) {
  const int64_t *x = c->dim;
  if (x[DM] < 1 || x[DN] < 1 || x[DK] < 1) return "M, N and K must be at least 1";
  if (x[DK] > EM_QLINEAR_MAX_K) return "K must be at most 2^17: beyond it an int32 sum of 127·127 products may overflow";
  if (c->part == 'a' && x[DN] != 1) return "part (a) quantises an M×K matrix: N must be 1";
  if (x[DM] * x[DK] > ((int64_t)1 << 31) || x[DN] * x[DK] > ((int64_t)1 << 31) || x[DM] * x[DN] > ((int64_t)1 << 31))
    return "each matrix must hold at most 2^31 elements";
  if (c->values < 0 || c->values >= NKINDS) return "unknown values";
  if (c->part != 'a' && c->part != 'd' && (c->values == OUTLIER || c->values == EQUAL || c->values == HALVES))
    return "parts (b) and (c) take quantised operands: uniform, zero-rows or extremes";
  return NULL;
}

/* The element's row: what quantising or summing it saw. */
static void inputs_at(const em_case *c, const em_tensor *t, int out, int64_t at, char *buf, size_t len) {
  int64_t N = c->dim[DN], K = c->dim[DK];
  if (c->part == 'a') {
    int64_t r = out == 1 ? at / K : at;
    const float *a = (const float *)t[0].host + r * K;
    float mx = 0;
    for (int64_t k = 0; k < K; ++k) mx = fabsf(a[k]) > mx ? fabsf(a[k]) : mx;
    if (out == 1)
      snprintf(buf, len, "a[%lld][%lld] = %.9g; row %lld: max |a| = %.9g, so s = max/127 = %.9g and a/s = %.9g",
               (long long)r, (long long)(at % K), (double)a[at % K], (long long)r, (double)mx,
               (double)(mx / 127.0f), mx > 0 ? (double)(a[at % K] / (mx / 127.0f)) : 0.0);
    else
      snprintf(buf, len, "row %lld: max |a| = %.9g over %lld values", (long long)r, (double)mx, (long long)K);
  } else if (c->part == 'b') {
    int64_t r = at / N, o = at % N;
    snprintf(buf, len, "row %lld of x (s_x = %.9g), row %lld of W (s_w = %.9g), b = %.9g", (long long)r,
             (double)((const float *)t[1].host)[r], (long long)o, (double)((const float *)t[3].host)[o],
             (double)((const float *)t[4].host)[o]);
  } else {
    snprintf(buf, len, "element %lld of %s", (long long)at, t[out].name);
  }
}

static const em_part parts[] = {
    {'a', "quantise rows: int8 values and a scale per row", {"lab8_quantize", "lab8_quantize_cuda"},
     {EM_FN(lab8_quantize), EM_FN(lab8_quantize_cuda)},
     {EM_FN(em_qlinear_quantize_cpu), EM_CUDA_FN(em_qlinear_quantize_cuda)},
     {EM_FN(em_qlinear_quantize_naive_cpu), EM_CUDA_FN(em_qlinear_quantize_naive_cuda)}},
    {'b', "forward: int8 product, int32 sums, dequantised in the epilogue", {"lab8_forward", "lab8_forward_cuda"},
     {EM_FN(lab8_forward), EM_FN(lab8_forward_cuda)},
     {EM_FN(em_qlinear_forward_cpu), EM_CUDA_FN(em_qlinear_forward_cuda)},
     {EM_FN(em_qlinear_forward_naive_cpu), EM_CUDA_FN(em_qlinear_forward_naive_cuda)}},
    {'c', "backward: dx, dW, db (straight-through)", {"lab8_backward", "lab8_backward_cuda"},
     {EM_FN(lab8_backward), EM_FN(lab8_backward_cuda)},
     {EM_FN(em_qlinear_backward_cpu), EM_CUDA_FN(em_qlinear_backward_cuda)},
     {EM_FN(em_qlinear_backward_naive_cpu), EM_CUDA_FN(em_qlinear_backward_naive_cuda)}},
    {'d', "the layer object: create, forward, backward, destroy", {"lab8_step", "lab8_step_cuda"},
     {EM_FN(lab8_step), EM_FN(lab8_step_cuda)},
     {EM_FN(em_qlinear_step_cpu), EM_CUDA_FN(em_qlinear_step_cuda)},
     {EM_FN(em_qlinear_step_cpu), EM_CUDA_FN(em_qlinear_step_cuda)}},
};

/* Shapes: K no tile divides (1, 3, 17, 63, 65, 1000), M = 1 and 16 (decode-like), N = 1, large M;
 * every value kind of the quantiser; zero rows and columns and saturated operands for the product.
 * Speed: CPU M = N = K = 2048 for the forward (the course's bar), 1024 for the backward and the
 * layer; GPU 8192³ and the decode-like M = 16, N = K = 8192. The naive baseline of (d) is the
 * reference itself: no naive layer exists beside (a)-(c)'s. */
static const em_case cases[] = {
    CASE('a', "1x1", (1, 1, 1), UNIFORM, ALL),
    CASE('a', "7x3", (7, 1, 3), UNIFORM, ALL),
    CASE('a', "33x1000", (33, 1, 1000), UNIFORM, ALL),
    CASE('a', "outlier", (64, 1, 257), OUTLIER, ALL),
    CASE('a', "equal rows", (20, 1, 65), EQUAL, ALL),
    CASE('a', "zero rows", (30, 1, 63), ZERO_ROWS, ALL),
    CASE('a', "halves", (50, 1, 129), HALVES, ALL),
    CASE('a', "extremes", (25, 1, 17), EXTREMES, ALL),
    CASE('a', "long rows", (3, 1, 100003), UNIFORM, ALL),
    PERF('a', "perf 4096x4096", (4096, 1, 4096), UNIFORM, CPU, 1),
    PERF('a', "perf 16384^2", (16384, 1, 16384), UNIFORM, GPU, 1),

    CASE('b', "1x1x1", (1, 1, 1), UNIFORM, ALL),
    CASE('b', "M=1 K=1000", (1, 65, 1000), UNIFORM, ALL),
    CASE('b', "M=16 K=17", (16, 33, 17), UNIFORM, ALL),
    CASE('b', "N=1 K=3", (100, 1, 3), UNIFORM, ALL),
    CASE('b', "63x65x129", (63, 65, 129), UNIFORM, ALL),
    CASE('b', "zero rows", (48, 40, 64), ZERO_ROWS, ALL),
    CASE('b', "saturated", (40, 48, 4096), EXTREMES, ALL),
    CASE('b', "large M", (3000, 64, 96), UNIFORM, ALL),
    PERF('b', "perf 2048^3", (2048, 2048, 2048), UNIFORM, CPU, 4),
    PERF('b', "perf 8192^3", (8192, 8192, 8192), UNIFORM, GPU, 3),
    PERF('b', "perf M=16", (16, 8192, 8192), UNIFORM, GPU, 2),

    CASE('c', "1x1x1", (1, 1, 1), UNIFORM, ALL),
    CASE('c', "M=1", (1, 65, 100), UNIFORM, ALL),
    CASE('c', "M=16 K=17", (16, 33, 17), UNIFORM, ALL),
    CASE('c', "63x65x129", (63, 65, 129), UNIFORM, ALL),
    CASE('c', "zero rows", (48, 40, 64), ZERO_ROWS, ALL),
    CASE('c', "saturated", (40, 48, 1000), EXTREMES, ALL),
    PERF('c', "perf 1024^3", (1024, 1024, 1024), UNIFORM, CPU, 3),
    PERF('c', "perf 8192^3", (8192, 8192, 8192), UNIFORM, GPU, 3),

    CASE('d', "1x1x1", (1, 1, 1), UNIFORM, ALL),
    CASE('d', "M=16 K=17", (16, 33, 17), UNIFORM, ALL),
    CASE('d', "63x65x129", (63, 65, 129), UNIFORM, ALL),
    CASE('d', "outlier", (32, 48, 100), OUTLIER, ALL),
    CASE('d', "halves", (20, 24, 65), HALVES, ALL),
    CASE('d', "zero rows", (30, 33, 40), ZERO_ROWS, ALL),
    PERF('d', "perf 1024^3", (1024, 1024, 1024), UNIFORM, CPU, 2),
    PERF('d', "perf 4096^3", (4096, 4096, 4096), UNIFORM, GPU, 2),
};

/* make bench's other rows (em-check --alternatives): the forward through the AVX2 kernels beside
 * the VNNI ones the reference picks where the CPU has them. */
static const char *avx2_unavailable(em_track track) {
  (void)track;
  return em_qlinear_avx2_unavailable();
}

static const em_alternative alternatives[] = {
    {'b', "avx2", {EM_FN(em_qlinear_forward_avx2_cpu), NULL}, avx2_unavailable},
};

const em_lab em_lab_qlinear = {
    .number = 8,
    .name = "qlinear",
    .folder = "lab8-quantized-linear",
    .title = "int8 quantized linear: quantise, int8 product with the dequantisation fused, backward, the layer",
    .student_file = {"qlinear.c", "qlinear.cu"},
    .parts = parts,
    .nparts = EM_COUNT(parts),
    .cases = cases,
    .ncases = EM_COUNT(cases),
    .value_kinds = value_kinds,
    .nvalue_kinds = EM_COUNT(value_kinds),
    .ndims = EM_COUNT(dim_names),
    .dim_names = dim_names,
    .describe = describe,
    .fill = fill,
    .oracle = oracle,
    .invoke = invoke,
    .flops = flops,
    .bytes = bytes,
    .invalid = invalid,
    .inputs_at = inputs_at,
    .alternatives = alternatives,
    .nalternatives = EM_COUNT(alternatives),
    .fresh_mode = EM_FRESH_PERTURB,
    .int8_ops = int8_ops,
};
