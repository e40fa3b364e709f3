/* Lab 7 spec: o = softmax(q·kᵀ·s)·v per (batch, head), s = 1/√d, optional causal mask anchored at
 * the bottom right (include/em/attention.h).
 *
 * ---- The tolerance ------------------------------------------------------------------------------
 * An output row is a weighted average, o_i = Σ_j w_ij·v_j with w_ij = p_ij / Σ_j' p_ij' and
 * p_ij = exp(s_ij − max_j' s_ij'). What float32 arithmetic can do to it, with u = 2^-24 (float32)
 * and every bound taken per element from the case's own float64 numbers (atol_each):
 *
 *  1. The scores. s_ij = s·Σ_k q_ik·k_jk is a sum of d products: in any order its error is at most
 *     E_i = (d + 2)·u·S_i with S_i = s·max_j Σ_k |q_ik·k_jk| (Higham's γ_d, plus the scale and the
 *     subtraction of the maximum). An absolute error ε in an exponent is a relative error ε in
 *     p_ij; the running maximum has the same error, and exp itself (a fast one, of a rounded
 *     argument) adds (4 + |s_ij − max|)·u. A relative error ε_j in the weights moves o_i by
 *     Σ_j w_ij·ε_j·(v_jc − o_ic) (the average shifts toward the values whose weight grew), so
 *         term 1 = Σ_j w_ij·(2·E_i + (4 + |s_ij − max_i|)·u)·|v_jc − o_ic|.
 *     With large logits (|s| in the hundreds) S_i is large and so is this term: that is the
 *     conditioning of softmax, not slack.
 *  2. The sums Σ_j p_ij·v_jc and Σ_j p_ij: m terms in any order (one key at a time, tiles, a tree),
 *     each term passing through at most m + 8 roundings counting the rescalings of the running
 *     sums when the maximum grows (Higham's γ_{m+8}, the worst case of any order):
 *         term 2 = (m + 8)·u·Σ_j w_ij·|v_jc|.
 *  3. The division by the sum and the final rounding: rtol = 4u.
 *  bfloat16 (part c): the inputs are bfloat16 values the oracle sees exactly; the products are
 *     summed in float32 as above; the weights may be rounded to bfloat16 before the product with
 *     v (the tensor cores take bfloat16), a relative 2^-8 each (bfloat16's 8 significant bits)
 *     that the float32 sum of the weights does not share, so term 2 gains 2·2^-8·Σ_j w_ij·|v_jc|
 *     (twice: a weight rounded, and the rescaling factors applied to the rounded products); and
 *     the output is rounded to bfloat16, 2^-8 relative: rtol = 2^-8 + 4u.
 *  atol = FLT_MIN·max|v|: weights that underflow (exp below FLT_MIN) may be flushed to 0.
 *
 * What the tolerance still catches (the planted files, tests/planted/lab7/): a mask off by one or
 * anchored at the top left moves a weight of about 1/m (far more with large logits) to or from a
 * key: an error of about |v − o|/m against term 2's (m + 8)·2^-24·|v| — caught with margin for
 * every m up to about 1000, which is what the mask cases use. A forgotten rescale, scale or key
 * tile changes o by whole percent.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#pragma weak lab7_attention_a
#pragma weak lab7_attention_b
#pragma weak lab7_attention_c
#pragma weak lab7_attention_a_cuda
#pragma weak lab7_attention_b_cuda
#pragma weak lab7_attention_c_cuda

enum { UNIFORM, LARGE, EQUAL, NKINDS };
static const char *const value_kinds[] = {"uniform", "large", "equal"};
static const char *const dim_names[] = {"b", "h", "n", "m", "d", "causal"};
enum { B, H, N, M, D, CAUSAL };

/* Values per kind (q, k, v):
 *   uniform: q, k, v in [−1, 1): scores s·q·k of about ±0.3·√d at most, weights that all count.
 *   large:   q and k in [−30, 30), v in [−1, 1): scores of about ±300 (|q·k|/√d in the hundreds),
 *            so exp overflows without the maximum subtracted and each row is dominated by a few
 *            keys: a mask off by one, or a running output not rescaled when the maximum grows,
 *            changes o by whole units.
 *   equal:   q and v in [−1, 1), every key the same vector: every score of a row is equal, the
 *            weights are all 1/(keys seen) and o is the mean of the values seen (of the first
 *            i + m − n + 1 with the causal mask). A running maximum started at 0 instead of −inf
 *            still passes; a sum not rescaled does not. */
static int is_bf16(const em_case *c) { return c->part == 'c'; }

static int describe(const em_case *c, em_tensor *t) {
  int64_t b = c->dim[B], h = c->dim[H], n = c->dim[N], m = c->dim[M], d = c->dim[D];
  em_dtype dt = is_bf16(c) ? EM_BF16 : EM_F32;
  /* Part (a) is one head: plain matrices, as its student function takes them. */
  int four = c->part != 'a';
  t[0] = (em_tensor){.name = "q", .dtype = dt, .ndim = four ? 4 : 2, .shape = {b, h, n, d}};
  t[1] = (em_tensor){.name = "k", .dtype = dt, .ndim = four ? 4 : 2, .shape = {b, h, m, d}};
  t[2] = (em_tensor){.name = "v", .dtype = dt, .ndim = four ? 4 : 2, .shape = {b, h, m, d}};
  t[3] = (em_tensor){.name = "o", .dtype = dt, .is_output = 1, .ndim = four ? 4 : 2, .shape = {b, h, n, d},
                     .rtol = is_bf16(c) ? 0x1p-8 + 4 * 0x1p-24 : 4 * 0x1p-24, .atol = FLT_MIN,
                     .tol_why = is_bf16(c)
                                    ? "per element: (2(d+2)S + 4 + |s-max|)u weighted by |v-o| (the scores' error "
                                      "through exp) + ((m+8)u + 2^-7) weighted by |v| (the sums, the weights rounded "
                                      "to bf16), u = 2^-24, S = largest |score| terms; rtol 2^-8 + 4u: the bf16 output"
                                    : "per element: (2(d+2)S + 4 + |s-max|)u weighted by |v-o| (the scores' error "
                                      "through exp) + (m+8)u weighted by |v| (the sums, any order), u = 2^-24, S = "
                                      "largest |score| terms; rtol 4u: the division"};
  if (!four) {
    for (int i = 0; i < 4; ++i) {
      t[i].shape[0] = i == 0 || i == 3 ? n : m;
      t[i].shape[1] = d;
    }
  }
  return 4;
}

/* Uniform floats of the stream (seed, case, tensor) into a float32 or bfloat16 buffer. */
static void fill_uniform(em_tensor *t, em_rng_key key, float lo, float hi) {
  if (t->dtype == EM_F32) {
    em_rng_fill_uniform_f32((float *)t->host, t->numel, key, lo, hi);
    return;
  }
  em_bf16 *x = (em_bf16 *)t->host;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < t->numel; ++i) x[i] = em_f32_to_bf16(em_rng_uniform_f32(em_rng_u32(key, (uint64_t)i), lo, hi));
}

static void fill(const em_case *c, uint64_t seed, uint32_t case_id, em_tensor *t) {
  float r = c->values == LARGE ? 30.0f : 1.0f;
  fill_uniform(&t[0], (em_rng_key){seed, case_id, 0}, -r, r);
  fill_uniform(&t[1], (em_rng_key){seed, case_id, 1}, -r, r);
  fill_uniform(&t[2], (em_rng_key){seed, case_id, 2}, -1.0f, 1.0f);
  if (c->values == EQUAL) { /* every key of a head is its first key */
    int64_t heads = c->dim[B] * c->dim[H], m = c->dim[M], d = c->dim[D];
    size_t row = (size_t)d * (is_bf16(c) ? 2 : 4);
    char *k = (char *)t[1].host;
    for (int64_t g = 0; g < heads; ++g)
      for (int64_t j = 1; j < m; ++j) memcpy(k + (size_t)(g * m + j) * row, k + (size_t)(g * m) * row, row);
  }
}

/* A tensor's values as float32: the buffer itself, or a widened copy of a bfloat16 one (*owned set
 * to free). NULL when the copy cannot be allocated. */
static const float *as_f32(const em_tensor *t, float **owned) {
  *owned = NULL;
  if (t->dtype == EM_F32) return (const float *)t->host;
  float *x = (float *)em_host_alloc((size_t)t->numel * sizeof(float));
  if (!x) return NULL;
  const em_bf16 *h = (const em_bf16 *)t->host;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < t->numel; ++i) x[i] = em_bf16_to_f32(h[i]);
  return *owned = x;
}

/* Query i of a head sees keys [0, last_key(i)) : all of them, or j ≤ i + m − n with the mask. */
static int64_t keys_seen(int64_t i, int64_t n, int64_t m, int causal) {
  if (!causal) return m;
  int64_t last = i + m - n; /* the last key it sees; < 0: none */
  return last < 0 ? 0 : last + 1 < m ? last + 1 : m;
}

/* The per-element tolerance of the comment at the top, for one query row of one head. */
static void row_tolerance(const float *q, const float *k, const float *v, const double *o, int64_t seen, int64_t m,
                          int64_t d, int bf16, double *each, double *w) {
  const double u = 0x1p-24, s = 1.0 / sqrt((double)d);
  if (seen == 0) { /* o = 0 exactly, nothing to allow */
    for (int64_t c = 0; c < d; ++c) each[c] = 0;
    return;
  }
  double mx = -INFINITY, big = 0, sum = 0;
  for (int64_t j = 0; j < seen; ++j) {
    double dot = 0, mag = 0;
#pragma omp simd reduction(+ : dot, mag)
    for (int64_t c = 0; c < d; ++c) dot += (double)q[c] * k[j * d + c], mag += fabs((double)q[c] * k[j * d + c]);
    w[j] = s * dot;
    mx = fmax(mx, w[j]);
    big = fmax(big, s * mag);
  }
  for (int64_t j = 0; j < seen; ++j) sum += exp(w[j] - mx);
  double e_score = (double)(d + 2) * u * big, sums = (double)(m + 8) * u + (bf16 ? 2 * 0x1p-8 : 0.0);
  for (int64_t c = 0; c < d; ++c) each[c] = 0;
  for (int64_t j = 0; j < seen; ++j) {
    double wj = exp(w[j] - mx) / sum, g = wj * (2 * e_score + (4 + (mx - w[j])) * u), a = wj * sums;
#pragma omp simd
    for (int64_t c = 0; c < d; ++c) each[c] += g * fabs(v[j * d + c] - o[c]) + a * fabs((double)v[j * d + c]);
  }
}

static void oracle(const em_case *c, em_tensor *t) {
  int64_t b = c->dim[B], h = c->dim[H], n = c->dim[N], m = c->dim[M], d = c->dim[D];
  int causal = (int)c->dim[CAUSAL], bf16 = is_bf16(c);
  float *own[3];
  const float *q = as_f32(&t[0], &own[0]), *k = as_f32(&t[1], &own[1]), *v = as_f32(&t[2], &own[2]);
  double *o = t[3].want, *each = NULL;
  int err = q && k && v ? em_attention_oracle(q, k, v, o, b, h, n, m, d, causal) : EM_ENOMEM;
  if (err != EM_OK) { /* no ground truth: every element fails, and the reason shows NaN wanted */
    for (int64_t i = 0; i < t[3].numel; ++i) o[i] = NAN;
  } else if ((each = (double *)em_host_alloc((size_t)t[3].numel * sizeof(double)))) {
    t[3].atol_each = each;
    int64_t rows = b * h * n;
#pragma omp parallel
    {
      double *w = (double *)malloc((size_t)m * sizeof(double));
#pragma omp for schedule(dynamic, 16)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t head = r / n, i = r % n;
        if (!w) { /* without scratch the element's tolerance is only stricter */
          for (int64_t cc = 0; cc < d; ++cc) each[r * d + cc] = 0;
          continue;
        }
        row_tolerance(q + r * d, k + head * m * d, v + head * m * d, o + r * d, keys_seen(i, n, m, causal), m, d, bf16,
                      each + r * d, w);
      }
      free(w);
    }
  }
  for (int i = 0; i < 3; ++i) em_host_free(own[i]);
}

typedef void (*a_fn)(const float *, const float *, const float *, float *, int64_t, int64_t, int64_t);
typedef void (*b_fn)(const float *, const float *, const float *, float *, int64_t, int64_t, int64_t, int64_t,
                     int64_t, int);
typedef void (*c_fn)(const em_bf16 *, const em_bf16 *, const em_bf16 *, em_bf16 *, int64_t, int64_t, int64_t,
                     int64_t, int64_t, int);
typedef int (*lib_fn)(const float *, const float *, const float *, float *, int64_t, int64_t, int64_t, int64_t,
                      int64_t, int);
typedef int (*lib16_fn)(const em_bf16 *, const em_bf16 *, const em_bf16 *, em_bf16 *, int64_t, int64_t, int64_t,
                        int64_t, int64_t, int);

static int invoke(const em_call *k) {
  const void *q = em_call_arg(k, 0), *kk = em_call_arg(k, 1), *v = em_call_arg(k, 2);
  void *o = em_call_arg(k, 3);
  const int64_t *x = k->c->dim;
  int causal = (int)x[CAUSAL];
  if (!k->student_code) { /* the library's: one signature per dtype, returning an error code */
    if (is_bf16(k->c)) return ((lib16_fn)k->fn)(q, kk, v, o, x[B], x[H], x[N], x[M], x[D], causal);
    return ((lib_fn)k->fn)(q, kk, v, o, x[B], x[H], x[N], x[M], x[D], causal);
  }
  switch (k->c->part) {
  case 'a': ((a_fn)k->fn)(q, kk, v, o, x[N], x[M], x[D]); break;
  case 'b': ((b_fn)k->fn)(q, kk, v, o, x[B], x[H], x[N], x[M], x[D], causal); break;
  default: ((c_fn)k->fn)(q, kk, v, o, x[B], x[H], x[N], x[M], x[D], causal); break;
  }
  return EM_OK;
}

/* 4·b·h·n·m·d: q·kᵀ and p·v, two FLOPs per multiply-add, over the (query, key) pairs computed.
 * With the mask only the pairs a query sees count: query i sees keys_seen(i), so about half when
 * n = m (the exact count, so that a kernel that skips masked tiles is not credited with work it
 * rightly did not do). */
static double pairs(const em_case *c) {
  int64_t n = c->dim[N], m = c->dim[M];
  if (!c->dim[CAUSAL]) return (double)n * (double)m;
  double p = 0;
  for (int64_t i = 0; i < n; ++i) p += (double)keys_seen(i, n, m, 1);
  return p;
}
static double flops(const em_case *c) { return 4.0 * (double)(c->dim[B] * c->dim[H]) * (double)c->dim[D] * pairs(c); }
/* q, k, v read once and o written once: (2n + 2m)·d elements per head. */
static double bytes(const em_case *c) {
  double elem = is_bf16(c) ? 2.0 : 4.0;
  return elem * (double)(c->dim[B] * c->dim[H]) * (double)c->dim[D] * (2.0 * (double)c->dim[N] + 2.0 * (double)c->dim[M]);
}

static const char *invalid(const em_case *c) {
  const int64_t *x = c->dim;
  if (x[B] < 1 || x[H] < 1 || x[N] < 1 || x[M] < 1) return "b, h, n and m must be at least 1";
  if (!em_attention_d_ok(x[D])) return "d must be 16, 32, 64 or 128";
  if (x[CAUSAL] != 0 && x[CAUSAL] != 1) return "causal must be 0 or 1";
  if (c->part == 'a' && (x[B] != 1 || x[H] != 1 || x[CAUSAL])) return "part (a) is one head, no mask: b = h = 1, causal = 0";
  if (x[B] * x[H] > ((int64_t)1 << 20)) return "b·h must be at most 2^20";
  if ((x[N] > x[M] ? x[N] : x[M]) > ((int64_t)1 << 31) / x[D] / x[B] / x[H]) return "each tensor must hold at most 2^31 elements";
  if (c->values < 0 || c->values >= NKINDS) return "unknown values";
  return NULL;
}

/* o[β][η][i][c] comes from row i of q and every key and value its query sees: the row's largest
 * score, how many keys it sees (the mask's doing) and its q row's first elements. */
static void inputs_at(const em_case *c, const em_tensor *t, int out, int64_t at, char *buf, size_t len) {
  (void)out;
  int64_t n = c->dim[N], m = c->dim[M], d = c->dim[D], row = at / d, head = row / n, i = row % n;
  int64_t seen = keys_seen(i, n, m, (int)c->dim[CAUSAL]);
  int bf = t[0].dtype == EM_BF16;
  double q0 = bf ? em_bf16_to_f32(((const em_bf16 *)t[0].host)[row * d]) : ((const float *)t[0].host)[row * d];
  snprintf(buf, len, "head %lld, query %lld (q[..][0] = %.6g) sees %lld of the %lld keys%s", (long long)head,
           (long long)i, q0, (long long)seen, (long long)m,
           seen == 0 ? ": none, so o is 0" : c->dim[CAUSAL] ? " (the mask: keys j <= i + m - n)" : "");
}

static const em_part parts[] = {
    {'a', "one head, float32", {"lab7_attention_a", "lab7_attention_a_cuda"},
     {EM_FN(lab7_attention_a), EM_FN(lab7_attention_a_cuda)},
     {EM_FN(em_attention_cpu), EM_CUDA_FN(em_attention_cuda)},
     {EM_FN(em_attention_naive_cpu), EM_CUDA_FN(em_attention_naive_cuda)}},
    {'b', "batched heads, causal option, float32", {"lab7_attention_b", "lab7_attention_b_cuda"},
     {EM_FN(lab7_attention_b), EM_FN(lab7_attention_b_cuda)},
     {EM_FN(em_attention_cpu), EM_CUDA_FN(em_attention_cuda)},
     {EM_FN(em_attention_naive_cpu), EM_CUDA_FN(em_attention_naive_cuda)}},
    {'c', "bfloat16 in and out, float32 sums (tensor cores on the GPU)", {"lab7_attention_c", "lab7_attention_c_cuda"},
     {EM_FN(lab7_attention_c), EM_FN(lab7_attention_c_cuda)},
     {EM_FN(em_attention_bf16_cpu), EM_CUDA_FN(em_attention_bf16_cuda)},
     {EM_FN(em_attention_bf16_naive_cpu), EM_CUDA_FN(em_attention_bf16_naive_cuda)}},
};

/* Sizes: n = m = 1, one query or one key, lengths that are no tile's multiple (7, 63, 65, 127, 129,
 * 257, 1003), every d, b·h from 1 to 128; the mask with n < m, n > m (queries that see nothing)
 * and n = m; equal scores and large logits, with and without the mask. The mask cases keep m
 * about 1000 or less, where a key too many or too few is far beyond the tolerance (above).
 * Speed: the course's bars. CPU: b·h = 8, n = m = 2048, d = 64 (about 8.6 GFLOP a call). GPU:
 * b = 4, h = 16, n = m = 4096, d = 128 (550 GFLOP a call, half with the mask). */
static const em_case cases[] = {
    CASE('a', "n=m=1", (1, 1, 1, 1, 64, 0), UNIFORM, ALL),
    CASE('a', "n=1 m=1000", (1, 1, 1, 1000, 64, 0), UNIFORM, ALL),
    CASE('a', "n=1000 m=1", (1, 1, 1000, 1, 64, 0), UNIFORM, ALL),
    CASE('a', "n=7 m=5 d=16", (1, 1, 7, 5, 16, 0), UNIFORM, ALL),
    CASE('a', "n=m=65 d=16", (1, 1, 65, 65, 16, 0), UNIFORM, ALL),
    CASE('a', "n=m=129 d=32", (1, 1, 129, 129, 32, 0), UNIFORM, ALL),
    CASE('a', "n=127 m=257 d=64", (1, 1, 127, 257, 64, 0), UNIFORM, ALL),
    CASE('a', "n=m=63 d=128", (1, 1, 63, 63, 128, 0), UNIFORM, ALL),
    CASE('a', "n=1000 m=1003", (1, 1, 1000, 1003, 64, 0), UNIFORM, ALL),
    CASE('a', "equal scores", (1, 1, 100, 300, 64, 0), EQUAL, ALL),
    CASE('a', "large logits", (1, 1, 200, 500, 64, 0), LARGE, ALL),
    CASE('a', "large d=128", (1, 1, 130, 260, 128, 0), LARGE, ALL),
    PERF('a', "perf n=m=2048", (1, 1, 2048, 2048, 64, 0), UNIFORM, CPU, 2),
    PERF('a', "perf n=8192", (1, 1, 8192, 8192, 128, 0), UNIFORM, GPU, 2),

    CASE('b', "b=2 h=3 n=m=100", (2, 3, 100, 100, 64, 0), UNIFORM, ALL),
    CASE('b', "causal n=m=100", (2, 3, 100, 100, 64, 1), UNIFORM, ALL),
    CASE('b', "causal n=m=1", (1, 2, 1, 1, 32, 1), UNIFORM, ALL),
    CASE('b', "causal n=1 m=77", (1, 2, 1, 77, 32, 1), UNIFORM, ALL),
    CASE('b', "causal n<m", (1, 2, 50, 300, 64, 1), UNIFORM, ALL),
    CASE('b', "causal n>m", (1, 2, 300, 50, 64, 1), UNIFORM, ALL),
    CASE('b', "causal d=16 77", (3, 5, 77, 77, 16, 1), UNIFORM, ALL),
    CASE('b', "causal d=128", (2, 2, 129, 200, 128, 1), UNIFORM, ALL),
    CASE('b', "many heads", (8, 16, 33, 65, 32, 0), UNIFORM, ALL),
    CASE('b', "many causal", (8, 16, 65, 33, 32, 1), UNIFORM, ALL),
    CASE('b', "one head long", (1, 1, 3, 2000, 128, 1), UNIFORM, ALL),
    CASE('b', "causal equal", (2, 2, 150, 150, 64, 1), EQUAL, ALL),
    CASE('b', "causal large", (1, 4, 200, 200, 64, 1), LARGE, ALL),
    CASE('b', "causal large n<m", (1, 2, 64, 700, 128, 1), LARGE, ALL),
    CASE('b', "causal large n>m", (1, 2, 700, 64, 16, 1), LARGE, ALL),
    PERF('b', "perf bh8 2048", (2, 4, 2048, 2048, 64, 0), UNIFORM, CPU, 3),
    PERF('b', "perf causal bh=8", (2, 4, 2048, 2048, 64, 1), UNIFORM, CPU, 3),
    PERF('b', "perf b4h16 4096", (4, 16, 4096, 4096, 128, 0), UNIFORM, GPU, 3),
    PERF('b', "perf causal 4096", (4, 16, 4096, 4096, 128, 1), UNIFORM, GPU, 3),

    CASE('c', "n=m=1", (1, 1, 1, 1, 64, 0), UNIFORM, ALL),
    CASE('c', "n=7 m=5 d=16", (1, 1, 7, 5, 16, 0), UNIFORM, ALL),
    CASE('c', "d=32 ragged", (2, 3, 129, 65, 32, 0), UNIFORM, ALL),
    CASE('c', "d=64 ragged", (1, 2, 127, 257, 64, 0), UNIFORM, ALL),
    CASE('c', "d=128 ragged", (1, 2, 63, 191, 128, 0), UNIFORM, ALL),
    CASE('c', "causal n<m", (1, 2, 50, 300, 64, 1), UNIFORM, ALL),
    CASE('c', "causal n>m", (1, 2, 300, 50, 64, 1), UNIFORM, ALL),
    CASE('c', "causal equal", (2, 2, 150, 150, 64, 1), EQUAL, ALL),
    CASE('c', "large logits", (1, 2, 200, 500, 64, 0), LARGE, ALL),
    CASE('c', "causal large", (1, 4, 200, 200, 128, 1), LARGE, ALL),
    CASE('c', "many heads", (8, 16, 33, 65, 64, 1), UNIFORM, ALL),
    PERF('c', "perf causal 1024", (2, 4, 1024, 1024, 64, 1), UNIFORM, CPU, 2),
    PERF('c', "perf b4h16 4096", (4, 16, 4096, 4096, 128, 0), UNIFORM, GPU, 3),
    PERF('c', "perf causal 4096", (4, 16, 4096, 4096, 128, 1), UNIFORM, GPU, 3),
};

/* make bench's other rows (em-check --alternatives): float32 attention on the tensor cores with
 * error-compensated TF32 (within the same float32 tolerance) beside the FMA kernel that is parts
 * (a) and (b)'s reference, the one the students write. The course's float32 bar against PyTorch's
 * efficient backend is this row's. */
static const em_alternative alternatives[] = {
    {'a', "3xTF32", {NULL, EM_CUDA_FN(em_attention_tf32x3_cuda)}, NULL},
    {'b', "3xTF32", {NULL, EM_CUDA_FN(em_attention_tf32x3_cuda)}, NULL},
};

const em_lab em_lab_attention = {
    .number = 7,
    .name = "attention",
    .folder = "lab7-flash-attention",
    .title = "flash attention: o = softmax(q k^T / sqrt(d)) v per head, tiled, never the n x m scores",
    .student_file = {"attention.c", "attention.cu"},
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
};
