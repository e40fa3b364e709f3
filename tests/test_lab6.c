/* Lab 6 (softmax) end to end: the spec's inputs, oracle and tolerances; the reference solution,
 * the untouched skeleton and the planted wrong implementations (tests/planted/lab6/) through the
 * real em-check binaries, judged by exit status, output and results.json (the scaffold every lab's
 * suite shares: tests/helpers.h).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "helpers.h"

#define U 0x1p-24

static const em_case *spec_case(const char *name) { return t_spec_case(6, 0, name); }

/* ================================================================================================
 * The spec: inputs, oracle, tolerances.
 */

T_SPEC_SUITE(6, 60, "softmax", "lab6-softmax", .parts = "a", .dims = "b t",
             .fresh_mode = EM_FRESH_ROWS, .fits_table = 0)

/* One case's tensors, filled and with the oracle run, as the checker would have them. */
typedef struct filled {
  em_case c;
  em_tensor t[EM_MAX_TENSORS];
  int nt;
} filled;

static void fill_case(filled *f, int64_t b, int64_t t, int kind, uint64_t seed) {
  const em_lab *lab = t_lab(6);
  memset(f, 0, sizeof *f);
  f->c = (em_case){.part = 'a', .dim = {b, t}, .values = kind};
  snprintf(f->c.name, sizeof f->c.name, "test b=%lld t=%lld", (long long)b, (long long)t);
  cr_assert(lab->invalid(&f->c) == NULL, "b=%lld t=%lld is a valid case", (long long)b, (long long)t);
  f->nt = lab->describe(&f->c, f->t);
  cr_assert_eq(f->nt, 2, "softmax has x and z");
  for (int i = 0; i < f->nt; ++i) {
    f->t[i].numel = b * t;
    f->t[i].host = em_host_alloc((size_t)(b * t) * 4);
    cr_assert(f->t[i].host != NULL);
  }
  f->t[1].want = em_host_alloc((size_t)(b * t) * sizeof(double));
  lab->fill(&f->c, seed, em_rng_name_id(f->c.name), f->t);
  lab->oracle(&f->c, f->t);
  cr_assert(f->t[1].atol_each != NULL, "the oracle fills the per-element tolerance");
}

static void free_case(filled *f) {
  for (int i = 0; i < f->nt; ++i) {
    em_host_free(f->t[i].host);
    em_host_free(f->t[i].want);
    em_host_free(f->t[i].atol_each);
  }
}

Test(lab6_spec, the_edges_are_cases) {
  /* The edges the brief names are there. */
  spec_case("t=1 (z=1)");
  spec_case("t=32768");
  spec_case("t=32769");
  spec_case("b=1 t=2^20+3");
  cr_expect(spec_case("t=32768")->dim[1] == EM_SOFTMAX_ONCHIP, "the on-chip limit is a case");
}

Test(lab6_spec, tolerance_grows_with_log_t) {
  const em_lab *lab = t_lab(6);
  em_tensor t[EM_MAX_TENSORS];
  int64_t ts[] = {1, 2, 3, 1024, 1025, (int64_t)1 << 20};
  double want[] = {32, 34, 36, 52, 54, 72};
  for (size_t k = 0; k < sizeof ts / sizeof ts[0]; ++k) {
    em_case c = {.part = 'a', .dim = {3, ts[k]}};
    memset(t, 0, sizeof t);
    lab->describe(&c, t);
    cr_expect_eq(t[1].rtol, want[k] * U, "t=%lld: rtol %g, want (32 + 2*ceil(log2 t))*2^-24 = %g", (long long)ts[k],
                 t[1].rtol, want[k] * U);
    cr_expect_eq(t[1].atol, 2 * FLT_MIN);
    cr_expect(t[1].tol_why && strlen(t[1].tol_why) > 20, "the tolerance says why");
  }
}

/* Every value kind: each row has a finite entry and sums to 1; −inf entries have z = 0 exactly;
 * the per-element tolerance is finite, non-negative and 0 where z is 0 (a NaN there, from
 * 0·|−inf| say, would fail that element whatever the code computed). */
ParameterizedTestParameters(lab6_spec, every_kind_fills_sane_rows) {
  static int kinds[] = {0, 1, 2, 3, 4, 5, 6};
  return cr_make_param_array(int, kinds, sizeof kinds / sizeof kinds[0]);
}

ParameterizedTest(int *kind, lab6_spec, every_kind_fills_sane_rows) {
  int64_t shapes[][2] = {{8, 1}, {12, 7}, {16, 1000}, {4, 40000}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    int64_t b = shapes[s][0], t = shapes[s][1];
    filled f;
    fill_case(&f, b, t, *kind, 7);
    const float *x = f.t[0].host;
    const double *z = f.t[1].want, *each = f.t[1].atol_each;
    const char *kname = t_lab(6)->value_kinds[*kind];
    for (int64_t i = 0; i < b; ++i) {
      int finite = 0;
      double sum = 0;
      for (int64_t j = 0; j < t; ++j) {
        float v = x[i * t + j];
        double w = z[i * t + j], a = each[i * t + j];
        cr_assert(!isnan(v) && v != INFINITY, "%s: x[%lld][%lld] = %g", kname, (long long)i, (long long)j, v);
        finite += isfinite(v);
        cr_assert(isfinite(w) && w >= 0 && w <= 1, "%s: z_want[%lld][%lld] = %g", kname, (long long)i, (long long)j, w);
        if (v == -INFINITY) cr_assert_eq(w, 0.0, "%s: z of a -inf entry must be 0", kname);
        cr_assert(isfinite(a) && a >= 0, "%s: atol_each[%lld][%lld] = %g", kname, (long long)i, (long long)j, a);
        if (w == 0) cr_assert_eq(a, 0.0, "%s: no per-element slack where z is 0", kname);
        sum += w;
      }
      cr_assert(finite >= 1, "%s b=%lld t=%lld: row %lld is all -inf", kname, (long long)b, (long long)t, (long long)i);
      /* Two double sums of t terms, each off by at most t*2^-53. */
      cr_assert(fabs(sum - 1.0) <= 2 * (double)t * 0x1p-53, "%s: row %lld of the oracle sums to %.17g", kname, (long long)i, sum);
    }
    free_case(&f);
  }
}

/* What the kinds promise (see the spec's comment). */
Test(lab6_spec, kinds_are_what_they_say) {
  const int64_t b = 12, t = 3001;
  filled f;
  fill_case(&f, b, t, 5 /* constant */, 3);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < t; ++j) {
      cr_assert_eq(((float *)f.t[0].host)[i * t + j], ((float *)f.t[0].host)[i * t], "constant rows are constant");
      cr_assert(fabs(f.t[1].want[i * t + j] - 1.0 / t) <= 1e-15, "a constant row's softmax is 1/t");
    }
  free_case(&f);

  fill_case(&f, b, t, 3 /* masked */, 3);
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = (const float *)f.t[0].host + i * t;
    int64_t finite = 0, first = -1, last = -1;
    for (int64_t j = 0; j < t; ++j)
      if (isfinite(xi[j])) finite++, last = j, first = first < 0 ? j : first;
    cr_expect_eq(last - first + 1, finite, "masked row %lld: the finite entries are one window", (long long)i);
    if (i % 4 == 0) cr_expect_eq(first, 0, "masked row %lld is a prefix", (long long)i);
    if (i % 4 == 1) cr_expect_eq(last, t - 1, "masked row %lld is a suffix", (long long)i);
    if (i % 4 == 3) cr_expect_eq(finite, 1, "masked row %lld has exactly one finite entry", (long long)i);
  }
  free_case(&f);

  fill_case(&f, 4, t, 6 /* ramp */, 3);
  const float *x = f.t[0].host;
  for (int64_t j = 1; j < t; ++j) {
    cr_assert(x[j] > x[j - 1], "row 0 of a ramp ascends");
    cr_assert(x[t + j] < x[t + j - 1], "row 1 of a ramp descends");
  }
  free_case(&f);

  fill_case(&f, 4, 4096, 2 /* large */, 3);
  float lo = INFINITY, hi = -INFINITY;
  for (int64_t j = 0; j < 4 * 4096; ++j) {
    float v = ((float *)f.t[0].host)[j];
    lo = v < lo ? v : lo, hi = v > hi ? v : hi;
  }
  cr_expect(hi > 9000 && lo < -9000 && hi < 1e4f && lo >= -1e4f, "large logits span +-1e4: [%g, %g]", lo, hi);
  free_case(&f);
}

/* The tolerance has teeth: the float32 rounding of the exact answer passes, and moving each row's
 * largest z (where the per-element slack is smallest) by twice its allowance fails, by half of it
 * passes. */
Test(lab6_spec, tolerance_passes_rounding_and_rejects_twice_the_allowance) {
  const int64_t b = 6, t = 5003;
  for (int kind = 0; kind < 7; ++kind) {
    filled f;
    fill_case(&f, b, t, kind, 11);
    em_tensor *z = &f.t[1];
    float *got = (float *)z->host;
    for (int64_t i = 0; i < b * t; ++i) got[i] = (float)z->want[i];
    em_close_report rep;
    cr_expect(em_allclose_f32_each(got, z->want, z->atol_each, b * t, z->rtol, z->atol, &rep),
              "kind %d: the rounded oracle fails: %lld mismatches", kind, (long long)rep.mismatches);
    for (int64_t i = 0; i < b; ++i) {
      int64_t top = i * t;
      for (int64_t j = i * t; j < (i + 1) * t; ++j) top = z->want[j] > z->want[top] ? j : top;
      double allowed = z->atol + z->atol_each[top] + z->rtol * z->want[top];
      float keep = got[top];
      got[top] = (float)(z->want[top] + 2 * allowed);
      cr_expect(!em_allclose_f32_each(got, z->want, z->atol_each, b * t, z->rtol, z->atol, &rep),
                "kind %d row %lld: z off by twice the allowance passes", kind, (long long)i);
      got[top] = (float)(z->want[top] + 0.5 * allowed);
      cr_expect(em_allclose_f32_each(got, z->want, z->atol_each, b * t, z->rtol, z->atol, &rep),
                "kind %d row %lld: z off by half the allowance fails", kind, (long long)i);
      got[top] = keep;
    }
    free_case(&f);
  }
}

/* ================================================================================================
 * The reference solution.
 */

TestSuite(lab6_solution, .timeout = 400);

Test(lab6_solution, passes_cpu_track) {
  json_t *root = t_check_solution(6, "cpu", NULL);
  cr_expect(t_json_num(t_get_case(root, "cpu", 'a', "t=2^20"), "rtol") == 72 * U, "rtol of t = 2^20: (32 + 2*20)*2^-24");
  json_decref(root);
}

/* The reference passes whatever the seed (the instructor grades with a secret one). */
Test(lab6_solution, passes_other_seeds) {
  static const char *const runs[][4] = {{"--seed", "1"}, {"--seed", "2"}, {"--seed", "3"}};
  t_solution_passes_with(6, runs, T_COUNT(runs));
}

/* x read once, z written once; max, subtraction, exp, addition and multiplication per element. */
Test(lab6_solution, counts_bytes_and_flops) { t_check_timed_case(6, 'a', "t=4099 prime", 8.0 * 7 * 4099, 5.0 * 7 * 4099); }

Test(lab6_solution, cuda_track_skips_or_passes) { json_decref(t_check_solution(6, "cuda", NULL)); }

/* ================================================================================================
 * The untouched skeleton: fails every case, pointing at the first TODO on the way.
 */

T_SKELETON_SUITE(6)

/* ================================================================================================
 * Planted wrong implementations: each fails its case with the diagnostic its mistake deserves,
 * and passes the case it gets right. Each runs on the case its mistake must fail alone and, where
 * there is one, on a case it must pass (so the test shows the checker tells that mistake apart,
 * not that the file is broken everywhere).
 */

#define ONLY(name) .args = {"--case", name}, .fails = name

static t_planted lab6_planted_files[] = {
    {.bug = "no_max_subtraction", .track = "cpu", ONLY("large logits"), .first = T_ANY, .passes = {"t=4099 prime"},
     .expect = {"NaN or Inf where the exact value is finite", "got -nan"}},
    {.bug = "dropped_tail", .track = "cpu", ONLY("t=1023"), .first = 0, .all_wrong = 1, .passes = {"t=1024"},
     .expect = {"(error ", ", allowed "}},
    {.bug = "dropped_tail", .track = "cpu", ONLY("t=1 (z=1)"), .first = 0, .all_wrong = 1,
     .expect = {"got inf, want 1", "NaN or Inf"}},
    {.bug = "wrong_normaliser", .track = "cpu", ONLY("t=1025"), .first = 0, .all_wrong = 1,
     .expect = {"13325 of 13325 elements of z wrong", "(error "}},
    {.bug = "neg_inf_as_number", .track = "cpu", ONLY("masked rows"), .first = T_ANY, .passes = {"t=4099 prime"},
     .expect = {"NaN or Inf where the exact value is finite"}},
    {.bug = "neg_inf_as_number", .track = "cpu", ONLY("sparse -inf"), .first = T_ANY, .passes = {"ramp rows"},
     .expect = {"got -nan"}},
    {.bug = "max_starts_at_zero", .track = "cpu", ONLY("constant rows"), .first = T_ANY, .passes = {"masked rows"},
     .expect = {"NaN or Inf"}},
    {.bug = "float_running_sum", .track = "cpu", ONLY("t=2^20"), .first = 0, .all_wrong = 1, .passes = {"t=1025"},
     .expect = {"(error ", ", allowed "}},
    /* Its pass case is t = 1 (e/e = 1 exactly): __expf(x) without the max subtraction has an
     * error growing with |x| itself, which the tolerance (built on |x - max|) need not cover. */
    {.bug = "no_max_subtraction", .track = "cuda", ONLY("large logits"), .first = T_ANY, .passes = {"t=1 (z=1)"},
     .expect = {"NaN or Inf where the exact value is finite"}},
    {.bug = "dropped_tail", .track = "cuda", ONLY("t=1025"), .first = T_ANY, .unwritten = 1, .passes = {"t=1024"},
     .expect = {"never written"}},
    {.bug = "first_block_sum", .track = "cuda", ONLY("t=1025"), .first = 0, .all_wrong = 1, .passes = {"t=255"},
     .expect = {"(error ", ", allowed "}},
    /* "=masked rows": exactly the short masked case; the long one (t=32769) fails as it should. */
    {.bug = "neg_inf_as_number", .track = "cuda", ONLY("masked long rows"), .first = T_ANY, .passes = {"=masked rows"},
     .expect = {"NaN or Inf where the exact value is finite"}},
};

T_PLANTED_SUITE(6)

Test(lab6_planted, missing_function_is_named) { t_check_missing_function(6, "first_block_sum"); }

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass slower than the reference (plain
 * loops, and the input read once more for the hash). */
Test(lab6_planted, fingerprint_gains_nothing) { t_check_fingerprint(6, "cpu", T_REUSE_SLOWER); }
Test(lab6_planted, fingerprint_gains_nothing_cuda) { t_check_fingerprint(6, "cuda", T_REUSE_SLOWER); }

/* fingerprint_samples.c keys on three input and three output elements (skipping while those hold no
 * poison): a swap of two rows elsewhere, with a few other outputs poisoned, gets past it, and the
 * skipped call is caught as reused work. On "perf t=4096" (4096 rows) nearly every swap misses the
 * three sampled rows, so it skips at once and fails. "perf t=2^20" has 16 rows: the three swaps
 * between two of its calls (its own, the reference's, the baseline's) touch a sampled row 73% of
 * the time, so it may do the work in every one of its few timed calls and pass, slowly; that is
 * allowed, a skipped call passing is not. */
Test(lab6_planted, sampled_fingerprint_fails_as_reused_work) {
  t_expect_no_gain_from_reuse(6, t_planted_bin(6, "fingerprint_samples", "cpu"), "cpu", T_REUSE_CAUGHT);
}
