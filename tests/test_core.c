/* libem's core: the random streams, the closeness check, statistics and interleaved timing,
 * errors, memory, the TODO marker, .npy files and the peaks cache. */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>

#include "checker.h" /* harness/checker.h: em_npy_write */
#include "helpers.h"

/* ================================================================================================
 * Philox-4x32-10 known answers: Random123's kat_vectors (philox4x32 R=10). If one of these fails,
 * the generator is not Philox, and every input of every case changes with it.
 */

typedef struct kat {
  uint32_t ctr[4];
  uint32_t key[2];
  uint32_t want[4];
} kat;

ParameterizedTestParameters(philox, known_answers) {
  static kat vectors[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  return cr_make_param_array(kat, vectors, sizeof vectors / sizeof vectors[0]);
}

ParameterizedTest(kat *v, philox, known_answers, .timeout = 10) {
  /* em_philox4x32_10 takes the key as one 64-bit word whose low half is key word 0. */
  uint64_t key = (uint64_t)v->key[0] | (uint64_t)v->key[1] << 32;
  uint32_t out[4];
  em_philox4x32_10(v->ctr, key, out);
  for (int k = 0; k < 4; ++k)
    cr_expect_eq(out[k], v->want[k], "word %d: got 0x%08x, want 0x%08x (counter 0x%08x..., key 0x%016llx)", k,
                 out[k], v->want[k], v->ctr[0], (unsigned long long)key);
}

/* ================================================================================================
 * The random streams.
 */

static const em_rng_key key_a = {20260101u, 0x12345678u, 0};

Test(rng, fill_is_reproducible, .timeout = 30) {
  const int64_t n = 1000003;
  uint32_t *a = em_host_alloc(n * sizeof *a), *b = em_host_alloc(n * sizeof *b);
  em_rng_fill_u32(a, n, key_a);
  em_rng_fill_u32(b, n, key_a);
  cr_assert(memcmp(a, b, n * sizeof *a) == 0, "two fills of the same stream differ at [%lld]",
            (long long)em_first_difference(a, b, n, 4));
  float *x = (float *)a, *y = (float *)b;
  em_rng_fill_uniform_f32(x, n, key_a, -1.0f, 1.0f);
  em_rng_fill_uniform_f32(y, n, key_a, -1.0f, 1.0f);
  cr_assert(memcmp(x, y, n * sizeof *x) == 0, "two uniform fills of the same stream differ");
  em_host_free(a);
  em_host_free(b);
}

/* Word i of a fill is word i of the stream whatever n is: the ragged ends (n not a multiple of a
 * Philox block of 4) are where a fill would go wrong, and nothing past n may be written. */
ParameterizedTestParameters(rng, fill_matches_word_by_word) {
  static int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 1023, 1024, 1025, 65537};
  return cr_make_param_array(int64_t, sizes, sizeof sizes / sizeof sizes[0]);
}

ParameterizedTest(int64_t *np, rng, fill_matches_word_by_word, .timeout = 10) {
  const int64_t n = *np;
  const uint32_t guard = 0xA5A5A5A5u;
  uint32_t *w = malloc((n + 4) * sizeof *w);
  float *f = malloc((n + 4) * sizeof *f);
  em_fill_u32(w, n + 4, guard);
  em_fill_u32(f, n + 4, guard);
  em_rng_fill_u32(w, n, key_a);
  em_rng_fill_uniform_f32(f, n, key_a, -3.0f, 5.0f);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t want = em_rng_u32(key_a, (uint64_t)i);
    cr_assert_eq(w[i], want, "n=%lld: fill[%lld] = 0x%08x, em_rng_u32 gives 0x%08x", (long long)n, (long long)i,
                 w[i], want);
    float fw = em_rng_uniform_f32(want, -3.0f, 5.0f);
    cr_assert(memcmp(&f[i], &fw, sizeof fw) == 0, "n=%lld: uniform fill[%lld] = %a, want %a", (long long)n,
              (long long)i, f[i], fw);
  }
  uint32_t tail[4];
  memcpy(tail, f + n, sizeof tail);
  for (int k = 0; k < 4; ++k) {
    cr_assert_eq(w[n + k], guard, "n=%lld: em_rng_fill_u32 wrote past the end, at [%lld]", (long long)n,
                 (long long)(n + k));
    cr_assert_eq(tail[k], guard, "n=%lld: em_rng_fill_uniform_f32 wrote past the end, at [%lld]", (long long)n,
                 (long long)(n + k));
  }
  free(w);
  free(f);
}

/* Far into a stream (past 2^32 words, where a 32-bit counter would wrap): word i is word i mod 4
 * of the Philox block whose 128-bit counter holds the block number i / 4 (64 bits, low word
 * first), then the case and the tensor. A fill that long is 16 GiB, so this is a spot check
 * against that definition. */
Test(rng, words_beyond_2_to_the_32, .timeout = 10) {
  static const uint64_t idx[] = {(1ull << 32) - 1, 1ull << 32, (1ull << 32) + 1, (1ull << 34) + 7,
                                 (1ull << 40) + 2, (1ull << 62) + 3, UINT64_MAX};
  for (size_t k = 0; k < sizeof idx / sizeof idx[0]; ++k) {
    uint64_t i = idx[k], block = i / 4;
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), key_a.case_id, key_a.tensor_id};
    uint32_t out[4];
    em_philox4x32_10(ctr, key_a.seed, out);
    cr_expect_eq(em_rng_u32(key_a, i), out[i % 4], "word %llu of the stream is not word %llu of block %llu",
                 (unsigned long long)i, (unsigned long long)(i % 4), (unsigned long long)block);
  }
  /* No wrap-around: the stream 2^32 and 2^34 words on is not the start again. */
  int same32 = 0, same34 = 0;
  for (uint64_t i = 0; i < 64; ++i) {
    same32 += em_rng_u32(key_a, i) == em_rng_u32(key_a, i + (1ull << 32));
    same34 += em_rng_u32(key_a, i) == em_rng_u32(key_a, i + (1ull << 34));
  }
  cr_expect(same32 <= 1 && same34 <= 1, "the stream repeats itself: %d / %d of 64 words equal 2^32 / 2^34 words on",
            same32, same34);
}

/* Seed, case and tensor each name a different stream. */
Test(rng, keys_name_different_streams, .timeout = 10) {
  em_rng_key keys[4] = {key_a, key_a, key_a, key_a};
  keys[1].seed += 1;
  keys[2].case_id += 1;
  keys[3].tensor_id += 1;
  static const char *const what[4] = {"base", "seed + 1", "case + 1", "tensor + 1"};
  uint32_t w[4][256];
  for (int k = 0; k < 4; ++k) em_rng_fill_u32(w[k], 256, keys[k]);
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b) {
      int same = 0;
      for (int i = 0; i < 256; ++i) same += w[a][i] == w[b][i];
      cr_expect(same <= 1, "streams %s and %s share %d of 256 words", what[a], what[b], same);
    }
}

/* Uniform fills stay inside [lo, hi) and use the whole range. */
typedef struct range {
  float lo, hi;
} range;

ParameterizedTestParameters(rng, uniform_fill_in_range) {
  static range ranges[] = {{-1.0f, 1.0f}, {0.0f, 1.0f}, {-1e38f, 1e38f}, {-2e-38f, 2e-38f}, {-5.0f, 3.0f}};
  return cr_make_param_array(range, ranges, sizeof ranges / sizeof ranges[0]);
}

ParameterizedTest(range *r, rng, uniform_fill_in_range, .timeout = 30) {
  const int64_t n = 1 << 20;
  float *x = em_host_alloc(n * sizeof *x);
  em_rng_fill_uniform_f32(x, n, key_a, r->lo, r->hi);
  float mn = INFINITY, mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    cr_assert(x[i] >= r->lo && x[i] < r->hi, "[%g, %g): x[%lld] = %a is outside", r->lo, r->hi, (long long)i, x[i]);
    mn = fminf(mn, x[i]);
    mx = fmaxf(mx, x[i]);
  }
  /* 2^20 draws come within 0.1% of both ends (a scaling bug would not). */
  float span = r->hi - r->lo;
  cr_expect(mn < r->lo + 1e-3f * span && mx > r->hi - 1e-3f * span, "[%g, %g): values span only [%g, %g]", r->lo,
            r->hi, mn, mx);
  em_host_free(x);
}

/* rng.h promises em_rng_uniform_f32 lands in [lo, hi) for every word. The largest words are where
 * one rounding of lo + (hi − lo)·u can reach hi: whenever |lo| or |hi| is large against hi − lo,
 * the top few u round up to hi itself. */
ParameterizedTestParameters(rng, uniform_top_word_below_hi) {
  static range ranges[] = {{-1.0f, 1.0f}, {0.0f, 1.0f}, {-1e38f, 1e38f}, {0.5f, 1.0f}, {2.0f, 3.0f}, {100.0f, 101.0f}};
  return cr_make_param_array(range, ranges, sizeof ranges / sizeof ranges[0]);
}

ParameterizedTest(range *r, rng, uniform_top_word_below_hi, .timeout = 10) {
  static const uint32_t words[] = {0xFFFFFFFFu, 0xFFFFFF00u, 0xFFFFFE00u, 0xFFFFF000u, 0x00000000u};
  for (size_t k = 0; k < sizeof words / sizeof words[0]; ++k) {
    float v = em_rng_uniform_f32(words[k], r->lo, r->hi);
    cr_expect(v >= r->lo && v < r->hi, "em_rng_uniform_f32(0x%08x, %g, %g) = %a (%.9g): not in [lo, hi)", words[k],
              r->lo, r->hi, v, v);
  }
}

/* FNV-1a 32-bit: the published test vectors, and the definition written out once more. */
Test(rng, name_id_is_fnv1a, .timeout = 10) {
  cr_expect_eq(em_rng_name_id(""), 0x811c9dc5u);
  cr_expect_eq(em_rng_name_id("a"), 0xe40c292cu);
  cr_expect_eq(em_rng_name_id("foobar"), 0xbf9cf968u);
  const char *names[] = {"n=1025", "large values", "n=2^26", "h1"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; ++k) {
    uint32_t h = 2166136261u;
    for (const char *p = names[k]; *p; ++p) h = (h ^ (uint8_t)*p) * 16777619u;
    cr_expect_eq(em_rng_name_id(names[k]), h, "em_rng_name_id(\"%s\") = 0x%08x, FNV-1a gives 0x%08x", names[k],
                 em_rng_name_id(names[k]), h);
  }
}

/* The GPU fills produce the host's bits: inputs generated on either side are the same case. */
Test(rng_gpu, device_fills_match_host, .timeout = 60) {
  t_need_gpu();
  static const int64_t sizes[] = {1, 3, 5, 1023, 1000003};
  const int64_t nmax = 1000003;
  uint32_t *host = em_host_alloc(nmax * 4), *back = em_host_alloc(nmax * 4);
  void *dev = NULL;
  cr_assert_eq(em_cuda_alloc(&dev, nmax * 4), EM_OK, "%s", em_error_detail());
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; ++k) {
    int64_t n = sizes[k];
    em_rng_fill_u32(host, n, key_a);
    cr_assert_eq(em_cuda_rng_fill_u32(dev, n, key_a), EM_OK, "%s", em_error_detail());
    cr_assert_eq(em_cuda_copy_to_host(back, dev, n * 4), EM_OK, "%s", em_error_detail());
    cr_expect(memcmp(host, back, n * 4) == 0, "n=%lld: em_cuda_rng_fill_u32 differs from the host at [%lld]",
              (long long)n, (long long)em_first_difference(host, back, n, 4));

    em_rng_fill_uniform_f32((float *)host, n, key_a, -1e38f, 1e38f);
    cr_assert_eq(em_cuda_rng_fill_uniform_f32(dev, n, key_a, -1e38f, 1e38f), EM_OK, "%s", em_error_detail());
    cr_assert_eq(em_cuda_copy_to_host(back, dev, n * 4), EM_OK, "%s", em_error_detail());
    cr_expect(memcmp(host, back, n * 4) == 0, "n=%lld: em_cuda_rng_fill_uniform_f32 differs from the host at [%lld]",
              (long long)n, (long long)em_first_difference(host, back, n, 4));
  }
  /* The poison fill too: the checker poisons device outputs with it. */
  cr_assert_eq(em_cuda_fill_u32(dev, 1001, EM_POISON_U32), EM_OK, "%s", em_error_detail());
  cr_assert_eq(em_cuda_copy_to_host(back, dev, 1001 * 4), EM_OK, "%s", em_error_detail());
  for (int i = 0; i < 1001; ++i) cr_assert_eq(back[i], EM_POISON_U32, "em_cuda_fill_u32 missed [%d]", i);
  em_cuda_free(dev);
  em_host_free(host);
  em_host_free(back);
}

/* Without a GPU the CUDA entry points say why instead of crashing: the CUDA track is skipped with
 * that reason. (With a GPU, this test has nothing to check.) */
Test(rng_gpu, without_gpu_cuda_calls_fail_cleanly, .timeout = 30) {
  em_cuda_device dev;
  if (em_cuda_probe(&dev) == EM_OK) cr_skip_test("a GPU is present: nothing to check");
  cr_expect(strlen(em_error_detail()) > 0, "em_cuda_probe failed without a reason");
  void *p = (void *)1;
  int err = em_cuda_alloc(&p, 16);
  cr_expect(err != EM_OK && p == NULL, "em_cuda_alloc without a GPU: err %d, pointer %p", err, p);
  cr_expect_neq(em_cuda_rng_fill_u32(NULL, 16, key_a), EM_OK);
}

/* ================================================================================================
 * The closeness check.
 */

static float f32_from_bits(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

Test(allclose, exact_equality_passes, .timeout = 10) {
  float got[] = {1.0f, -2.5f, 0.0f, 3e38f, 1e-45f};
  double want[] = {1.0, -2.5, 0.0, (double)3e38f, (double)1e-45f};
  em_close_report r;
  cr_assert_eq(em_allclose_f32(got, want, 5, 0.0, 0.0, &r), 1, "equal values with zero tolerance must pass");
  cr_expect_eq(r.n, 5);
  cr_expect_eq(r.mismatches, 0);
  cr_expect_eq(r.first_index, -1);
  cr_expect_eq(r.unwritten, 0);
  cr_expect_eq(r.max_abs_err, 0.0);
  cr_expect_eq(r.max_rel_err, 0.0);
}

/* The bound is atol + rtol·|want|, inclusive. Powers of two keep every number exact, so "on the
 * bound" and "one float ulp past it" are exactly that. */
Test(allclose, tolerance_bound_is_inclusive, .timeout = 10) {
  const double rtol = 0x1p-11, atol = 0x1p-11; /* at want = 1: 2^-10 allowed */
  em_close_report r;
  float on[] = {1.0f + 0x1p-10f}, past[] = {1.0f + 0x1p-10f + 0x1p-22f};
  float below[] = {1.0f - 0x1p-10f}, below_past[] = {1.0f - 0x1p-10f - 0x1p-23f};
  double one[] = {1.0};
  cr_expect_eq(em_allclose_f32(on, one, 1, rtol, atol, &r), 1, "error == atol + rtol|want| must pass");
  cr_expect_float_eq(r.worst_tol_ratio, 1.0, 1e-12);
  cr_expect_eq(em_allclose_f32(past, one, 1, rtol, atol, &r), 0, "just past the bound must fail");
  cr_expect_eq(r.mismatches, 1);
  cr_expect_eq(r.unwritten, 0);
  cr_expect_eq(r.nonfinite, 0);
  cr_expect(r.worst_tol_ratio > 1.0);
  cr_expect_eq(em_allclose_f32(below, one, 1, rtol, atol, &r), 1, "the bound holds on both sides");
  cr_expect_eq(em_allclose_f32(below_past, one, 1, rtol, atol, &r), 0);

  /* |want|, not want: a negative want has the same tolerance (3·2^-11 at -2). */
  double m2[] = {-2.0};
  float in2[] = {-2.0f - 0x1p-10f}, out2[] = {-2.0f - 0x1p-9f};
  cr_expect_eq(em_allclose_f32(in2, m2, 1, rtol, atol, &r), 1, "a negative want must get atol + rtol*|want|");
  cr_expect_eq(em_allclose_f32(out2, m2, 1, rtol, atol, &r), 0);
  cr_expect_eq(r.rtol, rtol);
  cr_expect_eq(r.atol, atol);
}

Test(allclose, nan_where_finite_fails, .timeout = 10) {
  float got[] = {1.0f, NAN, 3.0f};
  double want[] = {1.0, 2.0, 3.0};
  em_close_report r;
  cr_assert_eq(em_allclose_f32(got, want, 3, 1.0, 1.0, &r), 0, "NaN where the oracle is finite must fail, whatever the tolerance");
  cr_expect_eq(r.mismatches, 1);
  cr_expect_eq(r.nonfinite, 1);
  cr_expect_eq(r.unwritten, 0, "a computed NaN is not the poison");
  cr_expect_eq(r.first_index, 1);
  cr_expect_eq(r.first_unwritten, 0);
  cr_expect(isnan(r.first_got));
  cr_expect_eq(r.max_abs_err, 0.0, "max_abs_err is over finite pairs only");
}

Test(allclose, nan_and_infinity_rules, .timeout = 10) {
  em_close_report r;
  float nan_got[] = {NAN}, one_got[] = {1.0f}, pinf[] = {INFINITY}, ninf[] = {-INFINITY}, big[] = {FLT_MAX};
  double nan_want[] = {NAN}, pinf_want[] = {INFINITY}, one_want[] = {1.0};
  cr_expect_eq(em_allclose_f32(nan_got, nan_want, 1, 0, 0, &r), 1, "want NaN, got NaN: passes");
  cr_expect_eq(em_allclose_f32(one_got, nan_want, 1, 1, 1, &r), 0, "want NaN, got a number: fails");
  cr_expect_eq(em_allclose_f32(pinf, pinf_want, 1, 0, 0, &r), 1, "+Inf vs +Inf passes");
  cr_expect_eq(em_allclose_f32(ninf, pinf_want, 1, 1, 1, &r), 0, "-Inf vs +Inf fails");
  cr_expect_eq(em_allclose_f32(big, pinf_want, 1, 1, 1, &r), 0, "FLT_MAX vs +Inf fails");
  cr_expect_eq(em_allclose_f32(pinf, one_want, 1, 1, 1, &r), 0, "+Inf where the oracle is finite fails");
  cr_expect_eq(r.nonfinite, 1);
  cr_expect_eq(em_allclose_f32(ninf, one_want, 1, 1, 1, &r), 0, "-Inf where the oracle is finite fails");
}

Test(allclose, signed_zeros_are_equal, .timeout = 10) {
  float got[] = {-0.0f, 0.0f};
  double want[] = {0.0, -0.0};
  em_close_report r;
  cr_expect_eq(em_allclose_f32(got, want, 2, 0.0, 0.0, &r), 1, "-0 and +0 are equal values, even at zero tolerance");
}

Test(allclose, poison_counts_as_unwritten, .timeout = 10) {
  float got[] = {1.0f, f32_from_bits(EM_POISON_U32), f32_from_bits(0x7FC00000u), f32_from_bits(EM_POISON_U32)};
  double want[] = {1.0, 2.0, 3.0, NAN};
  em_close_report r;
  cr_assert_eq(em_allclose_f32(got, want, 4, 1.0, 1.0, &r), 0);
  cr_expect_eq(r.mismatches, 3, "poison at [1], a computed NaN at [2], poison where the oracle is NaN at [3]");
  cr_expect_eq(r.unwritten, 2, "only the poison bit pattern counts as unwritten");
  cr_expect_eq(r.first_index, 1);
  cr_expect_eq(r.first_unwritten, 1);
  cr_expect(isinf(r.worst_tol_ratio), "an unwritten element is infinitely far off");

  /* Everything unwritten: the skeleton's case. */
  float all[3];
  em_fill_u32(all, 3, EM_POISON_U32);
  cr_expect_eq(em_allclose_f32(all, want, 3, 1.0, 1.0, &r), 0);
  cr_expect_eq(r.unwritten, 3);
  cr_expect_eq(r.first_index, 0);
}

/* Every field of the report on a small example worked out by hand. */
Test(allclose, report_fields_by_hand, .timeout = 10) {
  /* atol 0.1, rtol 0: errors 0, 0.5, 0, 0.05, 1.0 -> ratios 0, 5, 0, 0.5, 10 */
  float got[] = {1.0f, 2.5f, 3.0f, 4.05f, 6.5f};
  double want[] = {1.0, 2.0, 3.0, 4.0, 5.5};
  em_close_report r;
  cr_assert_eq(em_allclose_f32(got, want, 5, 0.0, 0.1, &r), 0);
  cr_expect_eq(r.n, 5);
  cr_expect_eq(r.mismatches, 2);
  cr_expect_eq(r.unwritten, 0);
  cr_expect_eq(r.nonfinite, 0);
  cr_expect_eq(r.first_index, 1);
  cr_expect_eq(r.first_got, 2.5);
  cr_expect_eq(r.first_want, 2.0);
  cr_expect_eq(r.first_unwritten, 0);
  cr_expect_eq(r.worst_index, 4);
  cr_expect_eq(r.worst_got, 6.5);
  cr_expect_eq(r.worst_want, 5.5);
  cr_expect_float_eq(r.worst_tol_ratio, 10.0, 1e-9);
  cr_expect_float_eq(r.max_abs_err, 1.0, 1e-12);
  cr_expect_float_eq(r.max_rel_err, 0.25, 1e-12, "0.5 / 2 at [1] beats 1 / 5.5 at [4]");
  cr_expect_eq(r.atol, 0.1);
  cr_expect_eq(r.rtol, 0.0);

  /* A passing run still names its worst element (the table prints it). */
  float close[] = {1.0f, 2.05f, 3.0f};
  cr_assert_eq(em_allclose_f32(close, want, 3, 0.0, 0.1, &r), 1);
  cr_expect_eq(r.worst_index, 1);
  cr_expect_eq(r.first_index, -1);
  cr_expect_float_eq(r.worst_tol_ratio, 0.5, 1e-5);
}

Test(allclose, empty_input, .timeout = 10) {
  em_close_report r;
  memset(&r, 0x5A, sizeof r); /* garbage: every field must be set */
  cr_assert_eq(em_allclose_f32(NULL, NULL, 0, 1e-6, 1e-6, &r), 1, "nothing to compare passes");
  cr_expect_eq(r.n, 0);
  cr_expect_eq(r.mismatches, 0);
  cr_expect_eq(r.unwritten, 0);
  cr_expect_eq(r.first_index, -1);
  cr_expect_eq(r.worst_index, -1);
  cr_expect_eq(r.max_abs_err, 0.0);
}

Test(equal_i32, exact_comparison, .timeout = 10) {
  int32_t want[] = {0, -7, INT32_MAX, INT32_MIN, 42};
  int32_t same[] = {0, -7, INT32_MAX, INT32_MIN, 42};
  int32_t off[] = {0, -7, INT32_MAX - 1, INT32_MIN, 43};
  em_close_report r;
  cr_expect_eq(em_equal_i32(same, want, 5, &r), 1);
  cr_expect_eq(r.first_index, -1);
  cr_expect_eq(em_equal_i32(off, want, 5, &r), 0, "off by one at INT32_MAX must fail: no tolerance for integers");
  cr_expect_eq(r.mismatches, 2);
  cr_expect_eq(r.first_index, 2);
  cr_expect_eq(r.first_got, (double)(INT32_MAX - 1));
  cr_expect_eq(r.first_want, (double)INT32_MAX);
  cr_expect_eq(r.rtol, 0.0);
  cr_expect_eq(r.atol, 0.0);
  int32_t poisoned[] = {0, (int32_t)EM_POISON_U32, INT32_MAX, INT32_MIN, 42};
  cr_expect_eq(em_equal_i32(poisoned, want, 5, &r), 0);
  cr_expect_eq(r.unwritten, 1);
  cr_expect_eq(r.first_unwritten, 1);
}

/* em_first_difference compares in 64 Ki-element blocks first: differences at the block edges. */
typedef struct diff_case {
  int64_t n;
  int64_t at; /* -1: none */
  size_t elem;
} diff_case;

ParameterizedTestParameters(first_difference, finds_the_first) {
  static diff_case cases[] = {
      {0, -1, 4},      {1, -1, 4},      {1, 0, 4},           {1000, -1, 4},        {1000, 0, 4},
      {1000, 999, 4},  {65535, 65534, 4}, {200000, 65535, 4}, {200000, 65536, 4},  {200000, 65537, 4},
      {200000, 199999, 4}, {196613, 196612, 1}, {70000, 65536, 8}, {70000, 3, 8},
  };
  return cr_make_param_array(diff_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(diff_case *d, first_difference, finds_the_first, .timeout = 10) {
  size_t bytes = (size_t)(d->n ? d->n : 1) * d->elem;
  unsigned char *a = malloc(bytes), *b = malloc(bytes);
  for (size_t i = 0; i < bytes; ++i) a[i] = b[i] = (unsigned char)(i * 31 + 7);
  if (d->at >= 0) {
    /* Only the element's last byte differs: a comparison of whole elements must still see it. */
    b[(size_t)d->at * d->elem + d->elem - 1] ^= 0x80;
    /* A later difference too, which must not be the one reported. */
    if (d->at + 1 < d->n) b[(size_t)(d->n - 1) * d->elem] ^= 1;
  }
  int64_t got = em_first_difference(a, b, d->n, d->elem);
  cr_expect_eq(got, d->at, "n=%lld elem=%zu: got %lld, want %lld", (long long)d->n, d->elem, (long long)got,
               (long long)d->at);
  free(a);
  free(b);
}

/* ================================================================================================
 * Statistics and interleaved timing.
 */

Test(stats, median, .timeout = 10) {
  double odd[] = {5, 1, 4, 2, 3}, even[] = {4, 1, 3, 2}, one[] = {7};
  cr_expect_eq(em_median(odd, 5), 3.0);
  cr_expect_eq(em_median(even, 4), 2.5, "even n averages the middle two");
  cr_expect_eq(em_median(one, 1), 7.0);
  cr_expect_eq(em_median(NULL, 0), 0.0);
  for (int i = 0; i < 4; ++i) cr_expect_eq(even[i], (double)(i + 1), "v is left sorted");
}

Test(stats, summary_of_a_small_set, .timeout = 10) {
  /* Sorted: 1 2 3 4 100. Median 3; deviations 2 1 0 1 97 -> MAD 1; p10 at position 0.4 -> 1.4;
   * p90 at 3.6 -> 4 + 0.6·96 = 61.6; mean 22. */
  double v[] = {4, 100, 1, 3, 2};
  em_stats s;
  em_stats_of(v, 5, &s);
  cr_expect_eq(s.n, 5);
  cr_expect_eq(s.min, 1.0);
  cr_expect_eq(s.max, 100.0);
  cr_expect_eq(s.median, 3.0);
  cr_expect_float_eq(s.mean, 22.0, 1e-12);
  cr_expect_eq(s.mad, 1.0, "the MAD ignores the outlier");
  cr_expect_float_eq(s.p10, 1.4, 1e-12);
  cr_expect_float_eq(s.p90, 61.6, 1e-12);
  em_stats z;
  memset(&z, 0x5A, sizeof z);
  em_stats_of(NULL, 0, &z);
  cr_expect(z.n == 0 && z.median == 0 && z.min == 0 && z.max == 0 && z.mad == 0, "n == 0 gives all zeros");
  double sorted[] = {10, 20, 30};
  cr_expect_eq(em_quantile_sorted(sorted, 3, 0.0), 10.0);
  cr_expect_eq(em_quantile_sorted(sorted, 3, 1.0), 30.0);
  cr_expect_eq(em_quantile_sorted(sorted, 3, 0.25), 15.0);
}

/* A timed function that reports a fixed duration instead of measuring one, counts its calls,
 * logs who ran in which order, and fails on a chosen call. */
typedef struct fake {
  int id;
  double seconds;
  int calls;
  int fail_on; /* 0: never */
  int *log, *nlog;
} fake;

static int fake_timed(void *arg, double *seconds) {
  fake *f = arg;
  f->calls++;
  if (f->log) f->log[(*f->nlog)++] = f->id;
  if (f->fail_on && f->calls == f->fail_on) return EM_EIO;
  *seconds = f->seconds;
  return EM_OK;
}

static const em_timed_fn fake_fns[EM_BENCH_MAX_FNS] = {fake_timed, fake_timed, fake_timed, fake_timed};

Test(bench, ratio_of_fake_durations, .timeout = 10) {
  fake a = {.id = 0, .seconds = 1e-3}, b = {.id = 1, .seconds = 2e-3};
  void *args[] = {&a, &b};
  em_bench_opts o = {.warmup_s = 0, .budget_s = 0, .min_rounds = 5, .max_rounds = 100};
  em_bench_result res;
  int failed = 99;
  cr_assert_eq(em_bench_interleaved(2, fake_fns, args, &o, &res, &failed), EM_OK, "%s", em_error_detail());
  cr_expect_eq(failed, -1, "*failed is -1 when nothing failed");
  cr_expect_eq(res.nfns, 2);
  cr_expect_float_eq(res.ratio[1][0], 2.0, 1e-12, "time_1 / time_0 = 2 ms / 1 ms");
  cr_expect_float_eq(res.ratio[0][1], 0.5, 1e-12);
  cr_expect_float_eq(res.ratio[0][0], 1.0, 1e-12);
  cr_expect_float_eq(res.time[0].median, 1e-3, 1e-15);
  cr_expect_float_eq(res.time[1].median, 2e-3, 1e-15);
  cr_expect_eq(res.time[0].n, (size_t)res.rounds);
}

/* Within the timed rounds every function runs right after each other one at least twice in six
 * rounds of three: a predecessor that evicts or warms the cache cannot always precede one side. */
Test(bench, every_function_follows_every_other, .timeout = 10) {
  int log[64], nlog = 0;
  fake f[3] = {{.id = 0, .seconds = 1e-3, .log = log, .nlog = &nlog},
               {.id = 1, .seconds = 1e-3, .log = log, .nlog = &nlog},
               {.id = 2, .seconds = 1e-3, .log = log, .nlog = &nlog}};
  void *args[] = {&f[0], &f[1], &f[2]};
  em_bench_opts o = {.warmup_s = 0, .budget_s = 0, .min_rounds = 6, .max_rounds = 6};
  em_bench_result res;
  cr_assert_eq(em_bench_interleaved(3, fake_fns, args, &o, &res, NULL), EM_OK, "%s", em_error_detail());
  cr_assert_eq(nlog, 3 + 18, "one warm-up call each, then 6 rounds of 3");
  int follows[3][3] = {{0}};
  for (int i = 3 + 1; i < nlog; ++i) follows[log[i]][log[i - 1]]++;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      if (a != b) cr_expect_geq(follows[a][b], 2, "function %d ran right after %d only %d times", a, b, follows[a][b]);
}

Test(bench, min_and_max_rounds, .timeout = 10) {
  fake a = {.id = 0, .seconds = 1e-3}, b = {.id = 1, .seconds = 1e-3};
  void *args[] = {&a, &b};
  em_bench_result res;
  /* The budget is spent at once: min_rounds still run. */
  em_bench_opts o = {.warmup_s = 0, .budget_s = 0, .min_rounds = 7, .max_rounds = 1000};
  cr_assert_eq(em_bench_interleaved(2, fake_fns, args, &o, &res, NULL), EM_OK);
  cr_expect_eq(res.rounds, 7);
  cr_expect_eq(a.calls, 1 + 7, "one warm-up call plus one per round");
  cr_expect_eq(b.calls, 1 + 7);
  /* A budget of a minute is never reached: max_rounds stops it. */
  a.calls = b.calls = 0;
  o = (em_bench_opts){.warmup_s = 0, .budget_s = 60, .min_rounds = 1, .max_rounds = 9};
  cr_assert_eq(em_bench_interleaved(2, fake_fns, args, &o, &res, NULL), EM_OK);
  cr_expect_eq(res.rounds, 9);
  cr_expect_eq(a.calls, 1 + 9);
}

Test(bench, rotates_who_goes_first, .timeout = 10) {
  int log[64], nlog = 0;
  fake a = {.id = 0, .seconds = 1e-3, .log = log, .nlog = &nlog}, b = {.id = 1, .seconds = 1e-3, .log = log, .nlog = &nlog};
  void *args[] = {&a, &b};
  em_bench_opts o = {.warmup_s = 0, .budget_s = 0, .min_rounds = 4, .max_rounds = 4};
  em_bench_result res;
  cr_assert_eq(em_bench_interleaved(2, fake_fns, args, &o, &res, NULL), EM_OK);
  cr_assert_eq(nlog, 2 + 8);
  int first[2] = {0, 0};
  for (int r = 0; r < 4; ++r) {
    const int *round = log + 2 + 2 * r;
    cr_expect_neq(round[0], round[1], "round %d runs one function twice", r);
    first[round[0]]++;
  }
  cr_expect(first[0] > 0 && first[1] > 0, "one function always ran first (%d / %d rounds)", first[0], first[1]);
}

Test(bench, error_names_the_function, .timeout = 10) {
  fake a = {.id = 0, .seconds = 1e-3}, b = {.id = 1, .seconds = 2e-3, .fail_on = 3}, c = {.id = 2, .seconds = 1e-3};
  void *args[] = {&a, &b, &c};
  em_bench_opts o = {.warmup_s = 0, .budget_s = 0, .min_rounds = 5, .max_rounds = 10};
  em_bench_result res;
  int failed = -7;
  cr_expect_eq(em_bench_interleaved(3, fake_fns, args, &o, &res, &failed), EM_EIO, "the function's error is returned");
  cr_expect_eq(failed, 1, "in a timed round");
  /* In the warm-up. */
  fake d = {.id = 0, .seconds = 1e-3, .fail_on = 1}, e = {.id = 1, .seconds = 1e-3};
  void *args2[] = {&d, &e};
  failed = -7;
  cr_expect_eq(em_bench_interleaved(2, fake_fns, args2, &o, &res, &failed), EM_EIO);
  cr_expect_eq(failed, 0, "in the warm-up");
  /* Bad arguments. */
  failed = -7;
  cr_expect_eq(em_bench_interleaved(0, fake_fns, args2, &o, &res, &failed), EM_EINVAL);
  cr_expect_eq(em_bench_interleaved(EM_BENCH_MAX_FNS + 1, fake_fns, args2, &o, &res, &failed), EM_EINVAL);
  cr_expect_eq(failed, -1);
}

Test(stats, clock_is_monotonic, .timeout = 10) {
  uint64_t a = em_now_ns();
  struct timespec nap = {0, 2 * 1000 * 1000};
  nanosleep(&nap, NULL);
  uint64_t b = em_now_ns();
  cr_expect(b - a >= 2 * 1000 * 1000, "a 2 ms sleep took %llu ns by em_now_ns", (unsigned long long)(b - a));
}

/* ================================================================================================
 * Errors.
 */

typedef struct err_row {
  int code;
  char name[16];
  char message[96];
} err_row;

ParameterizedTestParameters(errors, every_code_named) {
  static err_row rows[] = {
      {EM_OK, "EM_OK", "success"},
      {EM_EINVAL, "EM_EINVAL", "invalid argument"},
      {EM_ENOMEM, "EM_ENOMEM", "out of memory"},
      {EM_EIO, "EM_EIO", "input/output error"},
      {EM_ENOENT, "EM_ENOENT", "no such file or entry"},
      {EM_EPARSE, "EM_EPARSE", "malformed input"},
      {EM_ENOCUDA, "EM_ENOCUDA", "this build has no CUDA support (nvcc was not found when it was built)"},
      {EM_ENODEV, "EM_ENODEV", "no usable CUDA device"},
      {EM_ECUDA, "EM_ECUDA", "a CUDA call failed"},
      {EM_ENOTSUP, "EM_ENOTSUP", "not supported on this machine"},
      {EM_ERANGE, "EM_ERANGE", "value out of range"},
      {EM_EREUSED, "EM_EREUSED", "a result was reused instead of computed from the call's inputs"},
      {1, "EM_UNKNOWN", "unknown error"},
      {-12, "EM_UNKNOWN", "unknown error"},
      {-100000, "EM_UNKNOWN", "unknown error"},
  };
  return cr_make_param_array(err_row, rows, sizeof rows / sizeof rows[0]);
}

ParameterizedTest(err_row *r, errors, every_code_named, .timeout = 10) {
  cr_expect_str_eq(em_err_name(r->code), r->name);
  cr_expect_str_eq(em_strerror(r->code), r->message);
}

Test(errors, codes_are_distinct_and_negative, .timeout = 10) {
  const int codes[] = {EM_EINVAL, EM_ENOMEM, EM_EIO,     EM_ENOENT, EM_EPARSE, EM_ENOCUDA,
                       EM_ENODEV, EM_ECUDA,  EM_ENOTSUP, EM_ERANGE, EM_EREUSED};
  const int n = (int)(sizeof codes / sizeof codes[0]);
  cr_expect_eq(EM_OK, 0);
  for (int i = 0; i < n; ++i) {
    cr_expect(codes[i] < 0, "%s is %d, not negative", em_err_name(codes[i]), codes[i]);
    for (int j = i + 1; j < n; ++j) {
      cr_expect_neq(codes[i], codes[j]);
      cr_expect_str_neq(em_strerror(codes[i]), em_strerror(codes[j]));
    }
  }
}

static void *fail_in_thread(void *arg) {
  (void)arg;
  em__fail(EM_EIO, "detail from another thread");
  return NULL;
}

Test(errors, fail_records_the_detail, .timeout = 10) {
  cr_expect_eq(em__fail(EM_ENOMEM, "cudaMalloc(%d bytes): %s", 1024, "out of memory"), EM_ENOMEM, "returns its code");
  cr_expect_str_eq(em_error_detail(), "cudaMalloc(1024 bytes): out of memory");
  /* The detail is per thread: another thread's failure leaves ours alone. */
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, fail_in_thread, NULL), 0);
  pthread_join(t, NULL);
  cr_expect_str_eq(em_error_detail(), "cudaMalloc(1024 bytes): out of memory");
  /* Too long for the buffer: cut, still a string. */
  char longer[2000];
  memset(longer, 'x', sizeof longer - 1);
  longer[sizeof longer - 1] = 0;
  em__fail(EM_EINVAL, "%s", longer);
  size_t len = strlen(em_error_detail());
  cr_expect(len > 100 && len < sizeof longer - 1, "a detail of %zu chars from 1999", len);
}

/* ================================================================================================
 * Memory.
 */

Test(memory, host_alloc_alignment, .timeout = 10) {
  static const size_t sizes[] = {1, 63, 64, 65, 4096, 100000, ((size_t)4 << 20) - 1};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; ++k) {
    unsigned char *p = em_host_alloc(sizes[k]);
    cr_assert(p != NULL, "em_host_alloc(%zu) failed: %s", sizes[k], em_error_detail());
    cr_expect_eq((uintptr_t)p % EM_HOST_ALIGN, 0, "em_host_alloc(%zu) = %p is not 64-byte aligned", sizes[k], (void *)p);
    memset(p, 0xAB, sizes[k]); /* all of it is ours */
    em_host_free(p);
  }
  static const size_t huge[] = {(size_t)4 << 20, ((size_t)4 << 20) + 1, (size_t)9 << 20};
  for (size_t k = 0; k < sizeof huge / sizeof huge[0]; ++k) {
    unsigned char *p = em_host_alloc(huge[k]);
    cr_assert(p != NULL);
    cr_expect_eq((uintptr_t)p % ((size_t)2 << 20), 0, "em_host_alloc(%zu) = %p is not 2 MiB aligned", huge[k], (void *)p);
    p[0] = p[huge[k] - 1] = 1;
    em_host_free(p);
  }
}

Test(memory, zero_bytes, .timeout = 10) {
  void *p = em_host_alloc(0);
  cr_expect(p != NULL, "em_host_alloc(0) must return a freeable pointer");
  cr_expect_eq((uintptr_t)p % EM_HOST_ALIGN, 0);
  em_host_free(p);
  em_host_free(NULL); /* like free(NULL) */
}

Test(memory, absurd_size_fails_cleanly, .timeout = 10) {
  void *p = em_host_alloc(SIZE_MAX - 10);
  cr_expect(p == NULL, "a size that overflows must fail, not wrap around to a small buffer");
  cr_expect(strlen(em_error_detail()) > 0, "with a detail");
}

Test(memory, fill_u32, .timeout = 10) {
  uint32_t buf[1003];
  for (int i = 0; i < 1003; ++i) buf[i] = 7;
  em_fill_u32(buf, 0, 0xDEADBEEFu);
  cr_expect_eq(buf[0], 7u, "n == 0 writes nothing");
  em_fill_u32(buf + 1, 1001, EM_POISON_U32);
  cr_expect_eq(buf[0], 7u, "wrote before the start");
  cr_expect_eq(buf[1002], 7u, "wrote past the end");
  for (int i = 1; i <= 1001; ++i) cr_assert_eq(buf[i], EM_POISON_U32, "missed [%d]", i);
}

/* ================================================================================================
 * The TODO marker.
 */

Test(todo, first_wins_and_reset, .timeout = 10) {
  const char *file = NULL, *what = NULL;
  int line = 0;
  em_todo_reset();
  cr_expect_eq(em_todo_reached(&file, &line, &what), 0, "nothing reached after a reset");
  em_todo("labs/lab1-add/add.c", 17, "first");
  em_todo("labs/lab1-add/add.c", 27, "second");
  cr_assert_eq(em_todo_reached(&file, &line, &what), 1);
  cr_expect_str_eq(file, "labs/lab1-add/add.c");
  cr_expect_eq(line, 17, "the first TODO wins");
  cr_expect_str_eq(what, "first");
  cr_expect_eq(em_todo_reached(NULL, NULL, NULL), 1, "out-parameters may be NULL");
  em_todo_reset();
  cr_expect_eq(em_todo_reached(&file, &line, &what), 0);
  EM_TODO("via the macro");
  cr_assert_eq(em_todo_reached(&file, &line, &what), 1);
  cr_expect(strstr(file, "test_core.c") != NULL, "EM_TODO records __FILE__, got %s", file);
  cr_expect_str_eq(what, "via the macro");
  em_todo_reset();
}

/* Many threads reach a TODO at once (a skeleton's part (b) under OpenMP): exactly one is recorded,
 * whole (file, line and text from the same call). */
Test(todo, concurrent_first_is_consistent, .timeout = 30) {
  static const char *const texts[8] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"};
  for (int rep = 0; rep < 200; ++rep) {
    em_todo_reset();
#pragma omp parallel for num_threads(8)
    for (int i = 0; i < 64; ++i) em_todo(texts[i % 8], i % 8, texts[i % 8]);
    const char *file, *what;
    int line;
    cr_assert_eq(em_todo_reached(&file, &line, &what), 1);
    cr_assert(line >= 0 && line < 8 && file == texts[line] && what == texts[line],
              "a torn record: file %s, line %d, what %s", file, line, what);
  }
  em_todo_reset();
}

/* ================================================================================================
 * .npy files (numpy's format 1.0): what --dump writes.
 */

Test(npy, float32_matrix, .timeout = 10) {
  const char *dir = t_tmpdir(), *path = t_str("%s/m.npy", dir);
  float m[3][4];
  for (int i = 0; i < 12; ++i) m[i / 4][i % 4] = (float)i * 0.5f - 1.0f;
  int64_t shape[2] = {3, 4};
  cr_assert_eq(em_npy_write(path, "<f4", 4, m, 2, shape), EM_OK, "%s", em_error_detail());
  size_t len;
  const unsigned char *data;
  char header[512];
  char *buf = t_read_npy(path, &len, &data, header, sizeof header);
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  cr_expect(strncmp(header, dict, strlen(dict)) == 0, "header is \"%s\", want it to start with \"%s\"", header, dict);
  for (size_t i = strlen(dict); header[i + 1]; ++i) cr_expect_eq(header[i], ' ', "padding must be spaces");
  cr_expect_eq(len - (size_t)(data - (const unsigned char *)buf), sizeof m, "data is %zu bytes, want %zu",
               len - (size_t)(data - (const unsigned char *)buf), sizeof m);
  cr_expect(memcmp(data, m, sizeof m) == 0, "the data differs");
  free(buf);
}

Test(npy, vector_and_scalar_shapes, .timeout = 10) {
  const char *dir = t_tmpdir();
  double v[5] = {1, 2, 3, 4, 5};
  int64_t shape[1] = {5};
  cr_assert_eq(em_npy_write(t_str("%s/v.npy", dir), "<f8", 8, v, 1, shape), EM_OK);
  float s = 2.5f;
  cr_assert_eq(em_npy_write(t_str("%s/s.npy", dir), "<f4", 4, &s, 0, NULL), EM_OK);
  size_t len;
  const unsigned char *data;
  char header[512];
  char *buf = t_read_npy(t_str("%s/v.npy", dir), &len, &data, header, sizeof header);
  cr_expect(strstr(header, "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }") == header, "header: %s", header);
  cr_expect(memcmp(data, v, sizeof v) == 0);
  free(buf);
  buf = t_read_npy(t_str("%s/s.npy", dir), &len, &data, header, sizeof header);
  cr_expect(strstr(header, "'shape': (), }") != NULL, "a 0-d array has shape (): %s", header);
  cr_expect(memcmp(data, &s, sizeof s) == 0);
  free(buf);
  cr_expect_neq(em_npy_write(t_str("%s/no/such/dir/x.npy", dir), "<f4", 4, &s, 0, NULL), EM_OK,
                "an unwritable path is an error");
}

/* ================================================================================================
 * The peaks cache. A measurement takes about a second here (two 256 MiB buffers): these tests
 * measure as few times as they can.
 */

static void expect_peaks_sane(const em_peaks *p) {
  cr_expect(p->cpu_copy_gbps > 0 && isfinite(p->cpu_copy_gbps), "copy bandwidth %g", p->cpu_copy_gbps);
  cr_expect(p->cpu_fma_gflops > 0 && isfinite(p->cpu_fma_gflops), "FMA rate %g", p->cpu_fma_gflops);
  cr_expect(p->cpu_int8_gops > 0 && isfinite(p->cpu_int8_gops), "int8 rate %g", p->cpu_int8_gops);
  cr_expect(p->cpu_threads >= 1);
  char name[128];
  em_cpu_name(name, sizeof name);
  cr_expect_str_eq(p->cpu_name, name);
}

Test(peaks, measured_then_cached, .timeout = 60) {
  /* The cache's folder does not exist yet, as build/ on a fresh checkout. */
  const char *dir = t_tmpdir(), *path = t_str("%s/build/peaks.json", dir);
  em_peaks p1, p2, p3;
  /* CACHE_UNDER_LOAD: the suites run side by side, so this measurement may well be contended */
  cr_assert_eq(em_peaks_get(path, 0, EM_PEAKS_CACHE_UNDER_LOAD, &p1), EM_OK, "%s", em_error_detail());
  cr_expect_eq(p1.from_cache, 0, "nothing cached yet: measured");
  cr_expect(p1.cpu_share > 0.0 && p1.cpu_share <= 1.0, "share of the cores %g", p1.cpu_share);
  expect_peaks_sane(&p1);
  cr_expect_eq(p1.have_gpu, 0, "the GPU was not asked for");

  json_t *root = t_load_json(path);
  cr_expect_str_eq(t_json_str(root, "schema"), "em-peaks/4");
  json_t *cpu = json_object_get(root, "cpu");
  cr_assert(json_is_object(cpu), "no \"cpu\" object in the cache");
  cr_expect_str_eq(t_json_str(cpu, "name"), p1.cpu_name);
  cr_expect_eq(json_integer_value(json_object_get(cpu, "threads")), p1.cpu_threads);
  double file_copy = t_json_num(cpu, "copy_gbps"), file_fma = t_json_num(cpu, "fma_gflops");
  json_decref(root);

  cr_assert_eq(em_peaks_get(path, 0, 0, &p2), EM_OK, "%s", em_error_detail());
  cr_expect_eq(p2.from_cache, 1, "the second call reads the cache");
  cr_expect(p2.cpu_share == 0.0 && !p2.cpu_contended, "from the cache: no share, not contended");
  cr_expect_eq(p2.cpu_threads, p1.cpu_threads);
  cr_expect_str_eq(p2.cpu_name, p1.cpu_name);
  /* The file keeps six significant digits: the same numbers, to that precision. */
  cr_expect(fabs(p2.cpu_copy_gbps - p1.cpu_copy_gbps) <= 1e-5 * p1.cpu_copy_gbps, "cached copy %.9g, measured %.9g",
            p2.cpu_copy_gbps, p1.cpu_copy_gbps);
  cr_expect(fabs(p2.cpu_fma_gflops - p1.cpu_fma_gflops) <= 1e-5 * p1.cpu_fma_gflops, "cached FMA %.9g, measured %.9g",
            p2.cpu_fma_gflops, p1.cpu_fma_gflops);
  cr_expect(fabs(p2.cpu_int8_gops - p1.cpu_int8_gops) <= 1e-5 * p1.cpu_int8_gops, "cached int8 %.9g, measured %.9g",
            p2.cpu_int8_gops, p1.cpu_int8_gops);
  /* (the copy bandwidth is the better of the file's plain and non-temporal copies, back through the
   * times they stand for: the file's number to the last bits of a double) */
  cr_expect(fabs(p2.cpu_copy_gbps - file_copy) <= 1e-12 * file_copy, "the cached number is the file's");
  cr_expect_eq(p2.cpu_fma_gflops, file_fma);

  cr_assert_eq(em_peaks_get(path, 0, 0, &p3), EM_OK);
  cr_expect_eq(p3.from_cache, 1);
  cr_expect(p3.cpu_copy_gbps == p2.cpu_copy_gbps && p3.cpu_fma_gflops == p2.cpu_fma_gflops, "a cache read is stable");
}

Test(peaks, corrupt_cache_is_remeasured, .timeout = 60) {
  const char *dir = t_tmpdir(), *path = t_str("%s/peaks.json", dir);
  t_write_file(path, "{\"schema\": \"em-peaks/1\", \"cpu\": {\"name\": ");
  em_peaks p;
  cr_assert_eq(em_peaks_get(path, 0, EM_PEAKS_CACHE_UNDER_LOAD, &p), EM_OK, "a corrupt cache is not an error: %s",
               em_error_detail());
  cr_expect_eq(p.from_cache, 0);
  expect_peaks_sane(&p);
  json_t *root = t_load_json(path); /* rewritten, valid again */
  cr_expect_str_eq(t_json_str(root, "schema"), "em-peaks/4");
  json_decref(root);
}

/* A cache as em_peaks_get writes it (schema em-peaks/4), for this CPU at a thread count: copy 12.5
 * GB/s (plain stores; no non-temporal ones), FMA 100.25 GFLOP/s, int8 400.5 GOP/s, and a GPU part. */
static json_t *hand_written_cache(const char *cpu_name, int threads) {
  return json_pack("{s:s, s:{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}, s:{s:s, s:f, s:f, s:f, s:f}}", "schema",
                   "em-peaks/4", "cpu", "name", cpu_name, "threads", threads, "copy_gbps", 12.5, "fma_gflops", 100.25,
                   "int8_gops", 400.5,
                   "read_gbps", 14.0, "write_plain_gbps", 9.0, "write_nt_gbps", 0.0, "copy_plain_gbps", 12.5,
                   "copy_nt_gbps", 0.0, "gpu", "name", "Imaginary GPU", "copy_gbps", 3000.0, "fma_gflops", 60000.0,
                   "read_gbps", 3500.0, "write_gbps", 3200.0);
}

/* A cache written for this CPU and thread count is taken as it is: no measurement (fast). */
Test(peaks, hand_written_cache_is_used, .timeout = 30) {
  const char *dir = t_tmpdir(), *path = t_str("%s/peaks.json", dir);
  char name[128];
  em_cpu_name(name, sizeof name);
  json_t *doc = hand_written_cache(name, 3);
  cr_assert(json_dump_file(doc, path, 0) == 0);
  json_decref(doc);
  em_peaks p;
  cr_assert_eq(em_peaks_get(path, 3, 0, &p), EM_OK, "%s", em_error_detail());
  cr_expect_eq(p.from_cache, 1);
  cr_expect_eq(p.cpu_threads, 3);
  cr_expect(fabs(p.cpu_copy_gbps - 12.5) <= 1e-9, "copy %.12g GB/s, the file says 12.5", p.cpu_copy_gbps);
  cr_expect_eq(p.cpu_fma_gflops, 100.25);
  cr_expect_eq(p.cpu_int8_gops, 400.5);
  cr_expect_eq(p.have_gpu, 0, "the GPU part is not used when the GPU was not asked for");
}

/* A cache from another thread count (or another machine) is re-measured for this one, and a GPU
 * part measured earlier survives a CPU-only run. */
Test(peaks, foreign_cache_is_remeasured_keeping_gpu, .timeout = 60) {
  const char *dir = t_tmpdir(), *path = t_str("%s/peaks.json", dir);
  char name[128];
  em_cpu_name(name, sizeof name);
  json_t *doc = hand_written_cache(name, 977);
  cr_assert(json_dump_file(doc, path, 0) == 0);
  json_decref(doc);
  em_peaks p;
  cr_assert_eq(em_peaks_get(path, 2, EM_PEAKS_CACHE_UNDER_LOAD, &p), EM_OK, "%s", em_error_detail());
  cr_expect_eq(p.from_cache, 0, "measured with 977 threads is not measured with 2");
  cr_expect_eq(p.cpu_threads, 2);
  cr_expect_neq(p.cpu_copy_gbps, 12.5);
  json_t *root = t_load_json(path);
  json_t *cpu = json_object_get(root, "cpu"), *gpu = json_object_get(root, "gpu");
  cr_expect_eq(json_integer_value(json_object_get(cpu, "threads")), 2);
  cr_assert(json_is_object(gpu), "the GPU part measured earlier was dropped");
  cr_expect_str_eq(t_json_str(gpu, "name"), "Imaginary GPU");
  cr_expect_eq(t_json_num(gpu, "copy_gbps"), 3000.0);
  json_decref(root);
}

/* Peaks measured while other programs hold the cores are low, and would make every later roofline
 * fraction look good: they serve the run that measured them, flagged, and are not cached, unless
 * the caller says to (EM_PEAKS_CACHE_UNDER_LOAD, for runs that time nothing). */
Test(peaks, contended_measurement_is_flagged_and_not_cached, .timeout = 60) {
  const char *dir = t_tmpdir(), *path = t_str("%s/peaks.json", dir);
  t_load load;
  t_load_start(&load);
  em_peaks p, q;
  int rc = em_peaks_get(path, 0, 0, &p);
  int exists = t_exists(path);
  int rc2 = em_peaks_get(path, 0, EM_PEAKS_CACHE_UNDER_LOAD, &q);
  t_load_stop(&load);
  cr_assert_eq(rc, EM_OK, "%s", em_error_detail());
  cr_expect(p.cpu_contended, "two busy programs per core, yet the measurement got %.0f%% of the cores",
            100.0 * p.cpu_share);
  cr_expect(p.cpu_share < EM_PEAKS_QUIET_SHARE);
  cr_expect_eq(p.from_cache, 0);
  cr_expect(!exists, "a contended measurement was cached in %s", path);
  cr_assert_eq(rc2, EM_OK, "%s", em_error_detail());
  cr_expect(q.cpu_contended);
  cr_expect(t_exists(path), "EM_PEAKS_CACHE_UNDER_LOAD: cached anyway");
}

Test(peaks, bad_arguments, .timeout = 10) {
  em_peaks p;
  cr_expect_eq(em_peaks_get("/nonexistent/peaks.json", -1, 0, &p), EM_EINVAL);
  cr_expect_eq(em_peaks_get("/nonexistent/peaks.json", 0, 0, NULL), EM_EINVAL);
  char name[8];
  em_cpu_name(name, sizeof name);
  cr_expect(strlen(name) > 0 && strlen(name) < sizeof name, "em_cpu_name truncates to the buffer");
}

/* ================================================================================================
 * Energy meters: a reading where a counter exists, else EM_ENOTSUP with the reason (reports then
 * say "n/a"), never a made-up number.
 */

ParameterizedTestParameters(energy, meter_or_reason) {
  static int domains[] = {EM_ENERGY_CPU, EM_ENERGY_GPU};
  return cr_make_param_array(int, domains, 2);
}

ParameterizedTest(int *domain, energy, meter_or_reason, .timeout = 30) {
  em_energy_meter *m = NULL;
  int err = em_energy_open(&m, (em_energy_domain)*domain);
  if (err != EM_OK) {
    cr_expect_eq(err, EM_ENOTSUP, "%s: %s", em_err_name(err), em_error_detail());
    cr_expect(strlen(em_error_detail()) > 0, "no counter, and no reason why");
    return;
  }
  double e0, e1;
  cr_assert_eq(em_energy_read(m, &e0), EM_OK, "%s", em_error_detail());
  struct timespec nap = {0, 20 * 1000 * 1000};
  nanosleep(&nap, NULL);
  cr_assert_eq(em_energy_read(m, &e1), EM_OK, "%s", em_error_detail());
  cr_expect(e1 >= e0 && isfinite(e1), "the counter went from %g to %g J", e0, e1);
  cr_expect_str_eq(em_energy_source(m), *domain == EM_ENERGY_CPU ? "RAPL" : "NVML");
  em_energy_close(m);
}

Test(energy, bad_arguments, .timeout = 10) {
  em_energy_meter *m = NULL;
  cr_expect_eq(em_energy_open(NULL, EM_ENERGY_CPU), EM_EINVAL);
  cr_expect_eq(em_energy_open(&m, (em_energy_domain)7), EM_EINVAL);
  double j;
  cr_expect_eq(em_energy_read(NULL, &j), EM_EINVAL);
  em_energy_close(NULL); /* the checker closes meters it may not have: must be a no-op */
}

/* em/load.h: a quiet window reads (nearly) nobody else; programs spinning on every core read as a
 * large share; marks that are not ok or no time give NAN. */
Test(core_load, others_share_sees_spinning_programs) {
  em_load_mark a = em_load_now();
  if (!a.ok) cr_skip_test("no /proc/stat here: the load is not known (NAN), which the report says nothing about");
  struct timespec ts = {0, 600 * 1000 * 1000};
  t_load l;
  t_load_start(&l);
  em_load_mark b = em_load_now();
  nanosleep(&ts, NULL);
  em_load_mark c = em_load_now();
  t_load_stop(&l);
  double busy = em_load_others(b, c);
  cr_assert_gt(busy, 0.5, "two spinners per CPU held the cores, yet others' share reads %.2f", busy);
  cr_assert(isnan(em_load_others(c, c)), "no time passed: not known");
  em_load_mark bad = c;
  bad.ok = 0;
  cr_assert(isnan(em_load_others(b, bad)));
  cr_assert_leq(em_load_others(a, c), 1.0);
}

/* bfloat16 outputs: compared after exact widening, the bfloat16 poison counts as never written,
 * the float32 one's halves do not pose as it. */
Test(core_check, allclose_bf16) {
  double want[4] = {1.0, -2.5, 3.0e-3, 100.0};
  uint16_t got[4];
  for (int i = 0; i < 4; ++i) got[i] = em_f32_to_bf16((float)want[i]);
  em_close_report r;
  cr_assert(em_allclose_bf16_each(got, want, NULL, 4, 0x1p-8, 0, &r), "values rounded to bfloat16 are within 2^-8");
  cr_assert_not(em_allclose_bf16_each(got, want, NULL, 4, 0, 0, &r), "3e-3 is not a bfloat16: off by its rounding");
  got[1] = EM_POISON_BF16;
  got[3] = em_f32_to_bf16(NAN);
  cr_assert_not(em_allclose_bf16_each(got, want, NULL, 4, 0x1p-8, 0, &r));
  cr_assert_eq(r.unwritten, 1);
  cr_assert_eq(r.first_index, 1);
  cr_assert_eq(r.nonfinite, 1);
  cr_assert_eq(em_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80, "a tie rounds to even");
  cr_assert_eq(em_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-9f), 0x3f81);
  cr_assert(isnan(em_bf16_to_f32(em_f32_to_bf16(NAN))));
}

/* int8 outputs: exact, and the int8 poison (−128, which quantisation never makes) counts as never
 * written. */
Test(core_check, equal_i8) {
  int32_t want[4] = {0, -127, 127, 5};
  int8_t got[4] = {0, -127, 127, 5};
  em_close_report r;
  cr_assert(em_equal_i8(got, want, 4, &r));
  got[2] = EM_POISON_I8;
  got[3] = 6;
  cr_assert_not(em_equal_i8(got, want, 4, &r));
  cr_assert_eq(r.mismatches, 2);
  cr_assert_eq(r.unwritten, 1);
  cr_assert_eq(r.first_index, 2);
}
