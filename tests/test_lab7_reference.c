/* Lab 7, the CPU attention functions of libem against its float64 oracle: the reference
 * (em_attention_cpu, em_attention_bf16_cpu) and the naive baseline (em_attention_naive_cpu,
 * em_attention_bf16_naive_cpu), on the shapes where tiled code goes wrong: n ≠ m, n = 1, m = 1,
 * lengths that are no multiple of any tile (1, 7, 63, 65, 129, 1000), every d, one pair and many,
 * the causal mask with n < m and n > m (queries that see no key must give exactly 0), all-equal
 * scores and large logits; EM_EINVAL for what em/attention.h does not support; and the AVX2 copy
 * of the fast exp against the scalar one, bit for bit.
 *
 * The tolerance, per output row i of a pair (u = 2^-24; A_i = s·max_j Σ_c |q_ic·k_jc| over the keys
 * j that query i sees; V = max |v| over the pair's values; T = ⌈m_i/BK⌉ key tiles of BK keys, m_i
 * the keys query i sees; to first order in u):
 *
 *   1. A score s·q·k is a chain of d float FMAs (or products and adds) on s·q, with s and s·q
 *      rounded: off by at most (d + 3)·u·A_i.
 *   2. The weight exp(score − M) is computed with the running maximum M of its tile, then
 *      multiplied by α = exp(M − M') at every later increase of the maximum. Each subtraction is
 *      off by u·|difference|: ≤ 2u·A_i for the score's own, and the α's differences add up to at
 *      most M_last − M_first ≤ 2A_i, so 2u·A_i for all of them together. Each exp (fast_expf:
 *      1.06 ulp, under 2.12u relatively; libm's expf for the naive) adds 2.12u, one for the
 *      weight's own and one per later tile: 2.12u·T. In all, every weight is off relatively by
 *      at most ε_i = u·((d + 7)·A_i + 2.12·T), and a weighted mean Σ w_j·v_j / Σ w_j whose weights
 *      move by a relative ε moves by at most ε·(max v − min v) ≤ 2ε·V.
 *   3. The sums Σ p and Σ p·v in float32: each term passes at most K = min(BK, m_i) + T additions
 *      (inside its key tile, then one per later tile), so both are off by at most K·u relatively
 *      (the weights are positive; |Σ p·v| ≤ V·Σ p), which moves o by at most 2K·u·V; the final
 *      o = O·(1/L) rounds twice, 2u·|o| ≤ 2u·V.
 *
 *   |o − o*| ≤ u·V·( 2·(d + 7)·A_i + 4.24·T + 2·K + 2 )
 *
 * The naive baseline's own bound is smaller in every term (its sums are in double, it has one
 * maximum per row and no α), so the same bound serves both. For d = 64 and q, k, v uniform in
 * [−1, 1), A_i ≈ 2.5, m = 1000: about 700u·V, 4e-5 relative to max|v| — a few hundred ulp. In
 * the cases below the errors measured reach at most 1/40 of it (a worst case needs every rounding
 * to go the same way), and one key left out of 129 is off by over 400 times it (a test below), so
 * the bound still tells right from wrong. With large logits (q, k in [−20, 20): scores of a few
 * hundred, A_i ≈ 800 at d = 64) the first term dominates: that is float32 scores, not slack — a
 * score summed from products of total magnitude 800 is only known to about d·u·800 ≈ 3e-3.
 *
 * bfloat16: q, k and v are bfloat16 values, widened exactly, so the oracle sees the same inputs;
 * everything up to o is the float32 computation above, and the final rounding to bfloat16 adds at
 * most 2^-8 relatively (8 significant bits: half the spacing 2^(e−7) of [2^e, 2^(e+1)); not 2^-9,
 * which -0.0323191583 → -0.0322265625, off by 2^-8.4, already exceeds):
 * |o − o*| ≤ tol + 2^-8·(|o*| + tol).
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "em/em.h"
#include "../reference/cpu/expf.h"

#define U 0x1p-24
/* The reference's key tile, BK in reference/cpu/attention.c: the length of its in-tile sums. */
#define REF_BK 128

TestSuite(lab7_reference, .timeout = 600);

/* What the inputs look like. */
enum kind {
  RANDOM,       /* q, k, v uniform in [−1, 1) */
  EQUAL_SCORES, /* every key of a pair the same row: each query's scores all equal */
  LARGE_LOGITS, /* q and k uniform in [−20, 20): scores s·q·k of a few hundred */
};

typedef struct problem {
  int64_t b, h, n, m, d;
  int causal, bf16;
  float *q, *k, *v;          /* the inputs as the oracle sees them (bf16 values, widened, for bf16) */
  em_bf16 *qh, *kh, *vh;     /* the bf16 inputs */
  double *want;              /* the oracle's o */
  double *tol;               /* the float32 bound above, per output row (0: a row that sees no key) */
} problem;

static float *fill(int64_t count, uint32_t case_id, uint32_t tensor, float lo, float hi) {
  float *x = malloc((size_t)count * sizeof *x);
  cr_assert(x != NULL);
  em_rng_fill_uniform_f32(x, count, (em_rng_key){.seed = 7, .case_id = case_id, .tensor_id = tensor}, lo, hi);
  return x;
}

/* The keys query i sees: 0 .. seen − 1. */
static int64_t seen(const problem *p, int64_t i) {
  if (!p->causal) return p->m;
  int64_t s = i + p->m - p->n + 1;
  return s < 0 ? 0 : s;
}

static void make(problem *p, int64_t b, int64_t h, int64_t n, int64_t m, int64_t d, int causal, enum kind kind,
                 int bf16) {
  *p = (problem){.b = b, .h = h, .n = n, .m = m, .d = d, .causal = causal, .bf16 = bf16};
  char name[128];
  snprintf(name, sizeof name, "%lld %lld %lld %lld %lld %d %d %d", (long long)b, (long long)h, (long long)n,
           (long long)m, (long long)d, causal, (int)kind, bf16);
  const uint32_t id = em_rng_name_id(name);
  const int64_t nq = b * h * n * d, nk = b * h * m * d;
  const float big = kind == LARGE_LOGITS ? 20.0f : 1.0f;
  p->q = fill(nq, id, 0, -big, big);
  p->k = fill(nk, id, 1, -big, big);
  p->v = fill(nk, id, 2, -1.0f, 1.0f);
  if (kind == EQUAL_SCORES)
    for (int64_t pair = 0; pair < b * h; ++pair)
      for (int64_t j = 1; j < m; ++j) memcpy(p->k + (pair * m + j) * d, p->k + pair * m * d, (size_t)d * sizeof(float));
  if (bf16) {
    p->qh = malloc((size_t)nq * sizeof *p->qh);
    p->kh = malloc((size_t)nk * sizeof *p->kh);
    p->vh = malloc((size_t)nk * sizeof *p->vh);
    cr_assert(p->qh && p->kh && p->vh);
    float *f[3] = {p->q, p->k, p->v};
    em_bf16 *hf[3] = {p->qh, p->kh, p->vh};
    int64_t len[3] = {nq, nk, nk};
    for (int t = 0; t < 3; ++t)
      for (int64_t e = 0; e < len[t]; ++e) {
        hf[t][e] = em_f32_to_bf16(f[t][e]);
        f[t][e] = em_bf16_to_f32(hf[t][e]); /* the oracle sees exactly the bf16 values */
      }
  }
  p->want = malloc((size_t)nq * sizeof *p->want);
  cr_assert(p->want != NULL);
  int err = em_attention_oracle(p->q, p->k, p->v, p->want, b, h, n, m, d, causal);
  cr_assert_eq(err, EM_OK, "oracle: %s (%s)", em_strerror(err), em_error_detail());

  p->tol = malloc((size_t)(b * h * n) * sizeof *p->tol);
  cr_assert(p->tol != NULL);
  const double s = 1.0 / sqrt((double)d);
  for (int64_t pair = 0; pair < b * h; ++pair) {
    double V = 0.0;
    for (int64_t e = 0; e < m * d; ++e) V = fmax(V, fabs((double)p->v[pair * m * d + e]));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t mi = seen(p, i);
      double A = 0.0;
      for (int64_t j = 0; j < mi; ++j) {
        double a = 0.0;
        for (int64_t c = 0; c < d; ++c)
          a += fabs((double)p->q[(pair * n + i) * d + c] * (double)p->k[(pair * m + j) * d + c]);
        A = fmax(A, s * a);
      }
      const double T = (double)((mi + REF_BK - 1) / REF_BK), K = (double)(mi < REF_BK ? mi : REF_BK) + T;
      p->tol[pair * n + i] = mi == 0 ? 0.0 : U * V * (2.0 * (double)(d + 7) * A + 4.24 * T + 2.0 * K + 2.0);
    }
  }
}

static void drop(problem *p) {
  free(p->q), free(p->k), free(p->v), free(p->qh), free(p->kh), free(p->vh), free(p->want), free(p->tol);
}

/* got (float32, or bf16 bits when p->bf16) against the oracle; returns the worst error / bound. */
static double compare(const problem *p, const char *who, const void *got) {
  const int64_t rows = p->b * p->h * p->n, d = p->d;
  double worst = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < d; ++c) {
      const int64_t e = r * d + c;
      const double g = p->bf16 ? em_bf16_to_f32(((const em_bf16 *)got)[e]) : ((const float *)got)[e];
      const double w = p->want[e], t = p->tol[r];
      const double bound = p->bf16 ? t + 0x1p-8 * (fabs(w) + t) : t;
      const double err = fabs(g - w);
      cr_assert(err <= bound, /* NaN fails here too */
                "%s b=%lld h=%lld n=%lld m=%lld d=%lld causal=%d: o[pair %lld][query %lld][%lld] = %.9g, the "
                "oracle says %.9g: off by %.3g, bound %.3g%s",
                who, (long long)p->b, (long long)p->h, (long long)p->n, (long long)p->m, (long long)d, p->causal,
                (long long)(r / p->n), (long long)(r % p->n), (long long)c, g, w, err, bound,
                t == 0.0 ? " (this query sees no key: o must be exactly 0)" : "");
      if (bound > 0.0) worst = fmax(worst, err / bound);
    }
  return worst;
}

/* Runs the two CPU functions of p's type on p (outputs poisoned with NaN first) and compares. */
static void run_both(const problem *p) {
  const int64_t count = p->b * p->h * p->n * p->d;
  const char *names[2];
  double worst[2];
  for (int which = 0; which < 2; ++which) {
    int err;
    if (p->bf16) {
      em_bf16 *o = malloc((size_t)count * sizeof *o);
      cr_assert(o != NULL);
      for (int64_t e = 0; e < count; ++e) o[e] = 0x7fc0; /* NaN */
      names[which] = which ? "em_attention_bf16_naive_cpu" : "em_attention_bf16_cpu";
      err = (which ? em_attention_bf16_naive_cpu : em_attention_bf16_cpu)(p->qh, p->kh, p->vh, o, p->b, p->h, p->n,
                                                                          p->m, p->d, p->causal);
      cr_assert_eq(err, EM_OK, "%s: %s (%s)", names[which], em_strerror(err), em_error_detail());
      worst[which] = compare(p, names[which], o);
      free(o);
    } else {
      float *o = malloc((size_t)count * sizeof *o);
      cr_assert(o != NULL);
      for (int64_t e = 0; e < count; ++e) o[e] = NAN;
      names[which] = which ? "em_attention_naive_cpu" : "em_attention_cpu";
      err = (which ? em_attention_naive_cpu : em_attention_cpu)(p->q, p->k, p->v, o, p->b, p->h, p->n, p->m, p->d,
                                                                p->causal);
      cr_assert_eq(err, EM_OK, "%s: %s (%s)", names[which], em_strerror(err), em_error_detail());
      worst[which] = compare(p, names[which], o);
      free(o);
    }
  }
  cr_log_info("b=%lld h=%lld n=%lld m=%lld d=%lld causal=%d bf16=%d: worst error / bound %.3f (reference), %.3f "
              "(naive)",
              (long long)p->b, (long long)p->h, (long long)p->n, (long long)p->m, (long long)p->d, p->causal, p->bf16,
              worst[0], worst[1]);
}

static void check(int64_t b, int64_t h, int64_t n, int64_t m, int64_t d, int causal, enum kind kind, int bf16) {
  problem p;
  make(&p, b, h, n, m, d, causal, kind, bf16);
  run_both(&p);
  drop(&p);
}

static const int64_t DS[] = {16, 32, 64, 128};

/* (b, h, n, m): ragged lengths, n ≠ m both ways, single queries and single keys, one pair and many. */
static const int64_t SHAPES[][4] = {
    {1, 1, 1, 1},   {1, 1, 1, 1000}, {1, 1, 1000, 1}, {1, 1, 7, 65},  {1, 1, 65, 7},   {1, 2, 63, 129},
    {2, 1, 129, 63}, {1, 1, 49, 257}, {3, 5, 17, 33}, {4, 16, 9, 40}, {1, 1, 1000, 1000},
};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

Test(lab7_reference, float32_every_shape_and_d) {
  for (size_t s = 0; s < NSHAPES; ++s)
    for (int i = 0; i < 4; ++i) check(SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], SHAPES[s][3], DS[i], 0, RANDOM, 0);
}

/* Bottom-right mask: n < m (every query sees m − n + 1 keys or more), n > m (the first n − m see
 * none: o = 0 exactly), n = m, and the extremes n = 1 (sees everything) and m = 1. */
static const int64_t CAUSAL_SHAPES[][4] = {
    {1, 1, 63, 129}, {1, 1, 129, 63}, {2, 3, 129, 129}, {1, 1, 1, 65}, {1, 1, 65, 1},
    {1, 2, 1000, 7}, {1, 1, 7, 1000}, {1, 1, 300, 300}, {4, 16, 9, 40}, {2, 2, 65, 17},
};
#define NCAUSAL (sizeof CAUSAL_SHAPES / sizeof CAUSAL_SHAPES[0])

Test(lab7_reference, float32_causal) {
  for (size_t s = 0; s < NCAUSAL; ++s)
    for (int i = 0; i < 4; ++i)
      check(CAUSAL_SHAPES[s][0], CAUSAL_SHAPES[s][1], CAUSAL_SHAPES[s][2], CAUSAL_SHAPES[s][3], DS[i], 1, RANDOM, 0);
}

Test(lab7_reference, float32_equal_scores) {
  for (int i = 0; i < 4; ++i) {
    check(1, 2, 65, 129, DS[i], 0, EQUAL_SCORES, 0);
    check(1, 1, 129, 300, DS[i], 1, EQUAL_SCORES, 0);
  }
}

Test(lab7_reference, float32_large_logits) {
  for (int i = 0; i < 4; ++i) {
    check(1, 2, 65, 129, DS[i], 0, LARGE_LOGITS, 0);
    check(1, 1, 300, 257, DS[i], 1, LARGE_LOGITS, 0);
    check(1, 1, 1, 1000, DS[i], 0, LARGE_LOGITS, 0);
  }
}

Test(lab7_reference, bf16) {
  const int64_t shapes[][4] = {{1, 1, 1, 1}, {1, 1, 7, 65}, {1, 1, 65, 7}, {1, 2, 63, 129}, {3, 5, 17, 33}, {1, 1, 300, 1000}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
    for (int i = 0; i < 4; ++i) {
      check(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], DS[i], 0, RANDOM, 1);
      check(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], DS[i], 1, RANDOM, 1);
    }
  for (int i = 0; i < 4; ++i) {
    check(1, 1, 129, 63, DS[i], 1, RANDOM, 1);
    check(1, 2, 65, 129, DS[i], 1, EQUAL_SCORES, 1);
    check(1, 2, 65, 129, DS[i], 0, LARGE_LOGITS, 1);
  }
}

/* The bound is no blanket: one key left out of 129 (the reference run on the first 128 keys) is off
 * by far more than it allows. */
Test(lab7_reference, bound_catches_a_missing_key) {
  problem p;
  make(&p, 1, 1, 129, 129, 64, 0, RANDOM, 0);
  float *o = malloc((size_t)(129 * 64) * sizeof *o);
  cr_assert(o != NULL);
  cr_assert_eq(em_attention_cpu(p.q, p.k, p.v, o, 1, 1, 129, 128, 64, 0), EM_OK);
  double worst = 0.0;
  for (int64_t e = 0; e < 129 * 64; ++e) worst = fmax(worst, fabs(o[e] - p.want[e]) / p.tol[e / 64]);
  cr_expect(worst > 10.0, "leaving a key out moved o by only %.2f times the bound", worst);
  cr_log_info("one key of 129 left out: %.1f times the bound", worst);
  free(o);
  drop(&p);
}

/* Every function says EM_EINVAL, with a detail, for what the header does not support. */
Test(lab7_reference, einval) {
  float f[128 * 2] = {0};
  double o64[128 * 2];
  em_bf16 hb[128 * 2] = {0};
  const int64_t bad[][5] = {{1, 1, 1, 1, 48}, {1, 1, 1, 1, 0},  {1, 1, 1, 1, 256}, {1, 1, 1, 1, 8},
                            {1, 1, 0, 1, 16}, {1, 1, 1, 0, 16}, {0, 1, 1, 1, 16},  {1, 0, 1, 1, 16},
                            {1, 1, -1, 1, 16}};
  for (size_t t = 0; t < sizeof bad / sizeof bad[0]; ++t) {
    const int64_t b = bad[t][0], h = bad[t][1], n = bad[t][2], m = bad[t][3], d = bad[t][4];
    int err[5] = {
        em_attention_oracle(f, f, f, o64, b, h, n, m, d, 0),
        em_attention_cpu(f, f, f, f + 128, b, h, n, m, d, 0),
        em_attention_naive_cpu(f, f, f, f + 128, b, h, n, m, d, 0),
        em_attention_bf16_cpu(hb, hb, hb, hb + 128, b, h, n, m, d, 1),
        em_attention_bf16_naive_cpu(hb, hb, hb, hb + 128, b, h, n, m, d, 1),
    };
    for (int w = 0; w < 5; ++w)
      cr_expect_eq(err[w], EM_EINVAL, "function %d, b=%lld h=%lld n=%lld m=%lld d=%lld: %s, not EM_EINVAL", w,
                   (long long)b, (long long)h, (long long)n, (long long)m, (long long)d, em_err_name(err[w]));
  }
  cr_expect_eq(em_attention_cpu(f, f, f, f + 128, 1, 1, 1, 1, 48, 0), EM_EINVAL);
  cr_expect(strstr(em_error_detail(), "d = 48") != NULL, "the detail names d: \"%s\"", em_error_detail());
}

/* reference/cpu/expf.h's AVX2 copy, which attention.c uses on AVX2 machines without AVX-512, gives
 * fast_expf's bits (tests/test_lab6_reference.c checks the AVX-512 one): every 13th float ≤ 0, −inf
 * and NaN included, and the edges. */
#if defined(__AVX2__) && defined(__FMA__)
static void expect_same_bits8(const float *d, int n) {
  for (int i = 0; i < n; i += 8) {
    float in[8] = {0}, vec[8];
    for (int l = 0; l < 8 && i + l < n; ++l) in[l] = d[i + l];
    _mm256_storeu_ps(vec, fast_expf8(_mm256_loadu_ps(in)));
    for (int l = 0; l < 8 && i + l < n; ++l) {
      float one = fast_expf(in[l]);
      cr_assert(memcmp(&one, &vec[l], sizeof one) == 0, "d = %a: fast_expf %a, fast_expf8 %a", (double)in[l],
                (double)one, (double)vec[l]);
    }
  }
}
#endif

Test(lab7_reference, avx2_exp_gives_the_same_bits) {
#if defined(__AVX2__) && defined(__FMA__)
  const float edges[] = {0.0f, -0.0f, -INFINITY, NAN, -0x1.5d589ep+6f, nextafterf(-0x1.5d589ep+6f, -INFINITY),
                         nextafterf(-0x1.5d589ep+6f, 0.0f), -0x1p-149f, -FLT_MIN, -0.5f * 0x1.62e430p-1f,
                         -104.0f, -FLT_MAX};
  expect_same_bits8(edges, (int)(sizeof edges / sizeof edges[0]));
  enum { CHUNK = 4096 };
  static float d[CHUNK];
  int n = 0;
  for (uint64_t u = 0x80000000u; u <= 0xFFFFFFFFu; u += 13) {
    const uint32_t bits = (uint32_t)u;
    memcpy(&d[n++], &bits, sizeof bits);
    if (n == CHUNK) expect_same_bits8(d, n), n = 0;
  }
  expect_same_bits8(d, n);
#else
  cr_skip_test("this build has no AVX2 with FMA: fast_expf8 is not compiled");
#endif
}
