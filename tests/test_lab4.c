/* Lab 4 (relu_mul_backward) in every layer: the oracle on cases worked out by hand, the tolerance
 * (its formula, and that it is tight enough to see one missing term), the reference solution
 * through the checker (several seeds and thread counts), the skeleton, and the planted wrong
 * implementations of tests/planted/lab4/, each failing with the diagnostic its mistake deserves
 * (the scaffold every lab's suite shares: tests/helpers.h).
 */
#include <math.h>
#include <stdint.h>

#include "helpers.h"

static const em_case *spec_case(const char *name) { return t_spec_case(4, 0, name); }

/* ================================================================================================
 * The oracle and the tolerance, called directly.
 */

TestSuite(lab4_oracle, .timeout = 30);

/* x = {1, −2, 0, 3, 1e-30}, y = {2, −1}: in row 0 (y > 0) the mask is on where x > 0 (columns 0, 3
 * and 4: 1e-30·2 is a normal float), in row 1 (y < 0) where x < 0 (column 1); column 2 (x = 0) is
 * off everywhere. */
Test(lab4_oracle, hand_worked_example) {
  const float x[5] = {1.0f, -2.0f, 0.0f, 3.0f, 1e-30f};
  const float y[2] = {2.0f, -1.0f};
  const float dz[10] = {0.5f, 7.0f, 9.0f, -1.0f, 4.0f, /* row 0 */
                        3.0f, 0.25f, 5.0f, 6.0f, 8.0f}; /* row 1 */
  double dx[5], dy[2], ax[5], ay[2];
  em_relu_mul_backward_oracle(x, y, dz, dx, dy, ax, ay, 2, 5);
  /* Row 0 (y = 2): on for x > 0: columns 0, 3, 4. Row 1 (y = −1): on for x < 0: column 1. */
  cr_expect_eq(dx[0], 0.5 * 2);
  cr_expect_eq(dx[1], 0.25 * -1);
  cr_expect_eq(dx[2], 0.0, "x = 0: the mask is off in every row");
  cr_expect_eq(dx[3], -1.0 * 2);
  cr_expect_eq(dx[4], 4.0 * 2);
  cr_expect_eq(dy[0], 0.5 * 1 + -1.0 * 3 + 4.0 * (double)1e-30f);
  cr_expect_eq(dy[1], 0.25 * -2);
  cr_expect_eq(ax[3], 2.0, "Σ|term| is the scale of the rounding error");
  cr_expect_eq(ay[0], 0.5 + 3.0 + 4.0 * (double)1e-30f);
  cr_expect_eq(ay[1], 0.5);
}

/* The forward computed relu(x·y) in float32, where 1e-30 · 1e-20 underflows to 0: relu'(0) = 0, so
 * that term is masked off although x and y are both positive; −0 is no better than +0. */
Test(lab4_oracle, mask_is_the_float32_product) {
  const float x[3] = {1e-30f, -0.0f, 1e-20f};
  const float y[1] = {1e-20f};
  const float dz[3] = {1.0f, 1.0f, 1.0f};
  double dx[3], dy[1];
  em_relu_mul_backward_oracle(x, y, dz, dx, dy, NULL, NULL, 1, 3);
  cr_expect_eq(dx[0], 0.0, "1e-30·1e-20 underflows to 0 in float32: masked off");
  cr_expect_eq(dx[1], 0.0, "−0 times a positive y is −0, not > 0");
  cr_expect_eq(dx[2], (double)1e-20f, "1e-20·1e-20 = 1e-40 is a subnormal float, > 0: on");
  cr_expect_eq(dy[0], (double)1e-20f, "only the third term counts: dz·x = 1e-20");
}

/* A case's tensors on the host, run through the spec's fill and oracle. */
typedef struct spec_run {
  em_tensor t[EM_MAX_TENSORS];
  int nt;
} spec_run;

static void spec_prepare(const em_case *c, uint64_t seed, spec_run *s) {
  const em_lab *lab = t_lab(4);
  memset(s, 0, sizeof *s);
  s->nt = lab->describe(c, s->t);
  cr_assert_eq(s->nt, 5, "x, y, dz, dx, dy");
  for (int i = 0; i < s->nt; ++i) {
    em_tensor *t = &s->t[i];
    t->numel = 1;
    for (int d = 0; d < t->ndim; ++d) t->numel *= t->shape[d];
    t->host = em_host_alloc((size_t)t->numel * 4);
    if (t->is_output) t->want = (double *)em_host_alloc((size_t)t->numel * sizeof(double));
  }
  lab->fill(c, seed, em_rng_name_id(c->name), s->t);
  lab->oracle(c, s->t);
}

static void spec_free(spec_run *s) {
  for (int i = 0; i < s->nt; ++i) {
    em_host_free(s->t[i].host);
    em_host_free(s->t[i].want);
    em_host_free(s->t[i].atol_each);
  }
}

/* atol_each is (γ_D + 2k·2^-53)·Σ|term| with D = ⌈log2 k⌉ + 32, k the length of the sum. */
TestSuite(lab4_tolerance, .timeout = 60);

Test(lab4_tolerance, follows_the_formula) {
  const em_case *c = spec_case("m=129 n=257");
  spec_run s;
  spec_prepare(c, 5, &s);
  int64_t m = c->dim[0], n = c->dim[1];
  const float *x = (const float *)s.t[0].host, *y = (const float *)s.t[1].host, *dz = (const float *)s.t[2].host;
  cr_assert(s.t[3].atol_each && s.t[4].atol_each, "the oracle fills both outputs' tolerances");
  cr_expect_eq(s.t[3].rtol, 0.0);
  cr_expect_eq(s.t[3].atol, 0.0);
  double u = 0x1p-24, dxg = (8 + 32) * u / (1 - (8 + 32) * u) + 2.0 * 129 * 0x1p-53; /* ⌈log2 129⌉ = 8 */
  double dyg = (9 + 32) * u / (1 - (9 + 32) * u) + 2.0 * 257 * 0x1p-53;              /* ⌈log2 257⌉ = 9 */
  for (int64_t j = 0; j < n; ++j) {
    double a = 0;
    for (int64_t i = 0; i < m; ++i)
      if (x[j] * y[i] > 0.0f) a += fabs((double)dz[i * n + j] * y[i]);
    cr_expect(fabs(s.t[3].atol_each[j] - dxg * a) <= 1e-12 * dxg * a, "dx[%lld]: tol %g, want %g", (long long)j,
              s.t[3].atol_each[j], dxg * a);
  }
  for (int64_t i = 0; i < m; ++i) {
    double a = 0;
    for (int64_t j = 0; j < n; ++j)
      if (x[j] * y[i] > 0.0f) a += fabs((double)dz[i * n + j] * x[j]);
    cr_expect(fabs(s.t[4].atol_each[i] - dyg * a) <= 1e-12 * dyg * a, "dy[%lld]: tol %g, want %g", (long long)i,
              s.t[4].atol_each[i], dyg * a);
  }
  spec_free(&s);
}

/* Tight enough to see one term go missing (a dropped row or column, one wrong mask bit): in the
 * 2048 × 2048 case, leaving out any one masked-on term moves its sums by more than their
 * tolerance for nearly every term (all but those within ~1e-3 of zero). */
Test(lab4_tolerance, one_missing_term_is_seen) {
  const em_case *c = spec_case("m=2048 n=2048");
  spec_run s;
  spec_prepare(c, 20260101, &s);
  int64_t m = c->dim[0], n = c->dim[1];
  const float *x = (const float *)s.t[0].host, *y = (const float *)s.t[1].host, *dz = (const float *)s.t[2].host;
  int64_t on = 0, seen_dx = 0, seen_dy = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (!(x[j] * y[i] > 0.0f)) continue;
      on++;
      seen_dx += fabs((double)dz[i * n + j] * y[i]) > s.t[3].atol_each[j];
      seen_dy += fabs((double)dz[i * n + j] * x[j]) > s.t[4].atol_each[i];
    }
  cr_expect(on > m * n / 3, "about half the mask is on (%lld of %lld)", (long long)on, (long long)(m * n));
  cr_expect(seen_dx >= 0.98 * (double)on, "one missing term shows in dx for only %lld of %lld terms",
            (long long)seen_dx, (long long)on);
  cr_expect(seen_dy >= 0.98 * (double)on, "one missing term shows in dy for only %lld of %lld terms",
            (long long)seen_dy, (long long)on);
  spec_free(&s);
}

/* The value kinds do what the spec says: zeros are ±0, tiny products underflow for about a
 * quarter of the pairs, positive values are positive. */
T_SPEC_SUITE(4, 30, "relu_mul_backward", "lab4-relu-mul-backward", .parts = "a", .dims = "m n",
             .fresh_mode = EM_FRESH_ROWS, .fits_table = 0)

Test(lab4_spec, value_kinds) {
  spec_run s;
  spec_prepare(spec_case("zeros in x and y"), 1, &s);
  const float *x = (const float *)s.t[0].host;
  int zeros = 0, neg_zeros = 0;
  for (int64_t j = 0; j < s.t[0].numel; ++j) {
    zeros += x[j] == 0.0f;
    neg_zeros += x[j] == 0.0f && signbit(x[j]);
  }
  cr_expect(zeros > s.t[0].numel / 6 && zeros < s.t[0].numel / 3, "%d zeros of %lld", zeros, (long long)s.t[0].numel);
  cr_expect(neg_zeros > zeros / 4, "−0 among them (%d of %d)", neg_zeros, zeros);
  spec_free(&s);

  spec_prepare(spec_case("tiny products"), 1, &s);
  x = (const float *)s.t[0].host;
  const float *y = (const float *)s.t[1].host;
  int64_t under = 0, pairs = 0;
  for (int64_t i = 0; i < s.t[1].numel; ++i)
    for (int64_t j = 0; j < s.t[0].numel; ++j) {
      pairs++;
      under += x[j] != 0.0f && y[i] != 0.0f && x[j] * y[i] == 0.0f;
    }
  cr_expect(under > pairs / 6 && under < pairs / 2, "%lld of %lld products underflow", (long long)under, (long long)pairs);
  spec_free(&s);

  spec_prepare(spec_case("positive, long rows"), 1, &s);
  for (int k = 0; k < 3; ++k) {
    const float *v = (const float *)s.t[k].host;
    for (int64_t e = 0; e < s.t[k].numel; ++e)
      if (!(v[e] >= 0.0f)) cr_assert_fail("%s[%lld] = %g is negative", s.t[k].name, (long long)e, v[e]);
  }
  spec_free(&s);
}

/* The naive baseline passes the checker's tolerance too (the checker only times it, so this is
 * where that is checked): on the long positive rows, the tall case and the value cases. */
TestSuite(lab4_naive, .timeout = 60);

Test(lab4_naive, meets_the_tolerance) {
  static const char *const names[] = {"positive, long rows", "tall m=100003 n=7", "m=129 n=257", "zeros in x and y",
                                      "tiny products", "large values"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; ++k) {
    const em_case *c = spec_case(names[k]);
    spec_run s;
    spec_prepare(c, 3, &s);
    int64_t m = c->dim[0], n = c->dim[1];
    float *dx = (float *)em_host_alloc((size_t)n * 4), *dy = (float *)em_host_alloc((size_t)m * 4);
    em_relu_mul_backward_naive_cpu((const float *)s.t[0].host, (const float *)s.t[1].host, (const float *)s.t[2].host,
                                   dx, dy, m, n);
    em_close_report r;
    cr_expect(em_allclose_f32_each(dx, s.t[3].want, s.t[3].atol_each, n, 0, 0, &r), "%s: dx[%lld] = %g, want %g",
              names[k], (long long)r.first_index, r.first_got, r.first_want);
    cr_expect(em_allclose_f32_each(dy, s.t[4].want, s.t[4].atol_each, m, 0, 0, &r), "%s: dy[%lld] = %g, want %g",
              names[k], (long long)r.first_index, r.first_got, r.first_want);
    em_host_free(dx);
    em_host_free(dy);
    spec_free(&s);
  }
}

Test(lab4_spec, counts_and_validity) {
  const em_lab *lab = t_lab(4);
  const em_case *c = spec_case("m=n=4096");
  cr_expect_eq(lab->bytes(c), 4.0 * (4096.0 * 4096 + 2 * 4096 + 2 * 4096));
  cr_expect_eq(lab->flops(c), 4.0 * 4096 * 4096);
  em_case bad = *c;
  bad.dim[0] = 0;
  cr_expect(lab->invalid(&bad) != NULL, "m = 0 is refused");
  bad.dim[0] = (int64_t)1 << 20, bad.dim[1] = (int64_t)1 << 20;
  cr_expect(lab->invalid(&bad) != NULL, "2^40 elements are refused");
}

/* ================================================================================================
 * The reference solution through the checker.
 */

TestSuite(lab4_solution, .timeout = 400);

Test(lab4_solution, passes_cpu_track) { json_decref(t_check_solution(4, "cpu", NULL)); }

/* Other seeds, and other thread counts (the CPU reference splits rows or columns among them). */
Test(lab4_solution, passes_other_seeds_and_threads) {
  static const char *const runs[][4] = {{"--seed", "7", "--threads", "1"}, {"--seed", "11", "--threads", "3"},
                                        {"--seed", "123456789", "--threads", "2"}};
  t_solution_passes_with(4, runs, T_COUNT(runs));
}

/* dz, x and y read, dx and dy written; a multiply, a compare and two multiply-adds per element. */
Test(lab4_solution, timed_case_reports_speed) {
  t_check_timed_case(4, 'a', "m=129 n=257", 4.0 * (129 * 257 + 2 * 129 + 2 * 257), 4.0 * 129 * 257);
}

Test(lab4_solution, cuda_track_skips_or_passes) { json_decref(t_check_solution(4, "cuda", NULL)); }

/* ================================================================================================
 * The untouched skeleton: fails every case, pointing at its TODO.
 */

TestSuite(lab4_skeleton, .timeout = 300);

Test(lab4_skeleton, fails_pointing_at_the_todo) {
  int lines[4];
  cr_expect_eq(t_todo_lines(t_student_file(4, "cpu"), lines, 4), 1, "one EM_TODO in the C skeleton");
  cr_expect_eq(t_todo_lines(t_student_file(4, "cuda"), lines, 4), 1, "one EM_TODO in the CUDA skeleton");
  json_decref(t_check_skeleton(4, "cpu", NULL));
}

Test(lab4_skeleton, cuda_track_points_at_the_todo) { json_decref(t_check_skeleton(4, "cuda", NULL)); }

/* ================================================================================================
 * Planted wrong implementations (tests/planted/lab4/).
 */

static t_planted lab4_planted_files[] = {
    /* Positive data turns the whole mask on, where a missing mask or one from x alone is right. */
    {.bug = "missing_mask", .track = "cpu", .fails = "m=1025 n=1023", .reason = "elements of dx wrong", .first = T_ANY,
     .unwritten = -1, .passes = {"positive"}, .expect = {"(error ", ", allowed "}},
    {.bug = "mask_x_only", .track = "cpu", .fails = "m=1025 n=1023", .reason = "elements of dx wrong", .first = T_ANY,
     .unwritten = -1, .passes = {"positive"}},
    /* Signs instead of the product: only zeros and underflowing products tell. */
    {.bug = "sign_mask", .track = "cpu", .fails = "zeros in x and y", .fails2 = "tiny products",
     .reason = "elements of dx wrong", .first = T_ANY, .unwritten = -1, .passes = {"*"}},
    {.bug = "swapped", .track = "cpu", .fails = "m=1025 n=1023", .reason = "elements of dx wrong", .first = T_ANY,
     .unwritten = -1},
    /* 257 = 32·8 + 1: only the last column is dropped; dx[256] is 0. n = 2048 has no tail. */
    {.bug = "dropped_tail", .track = "cpu", .fails = "m=129 n=257", .reason = "elements of dx wrong", .first = 256,
     .unwritten = -1, .passes = {"m=2048 n=2048"}, .expect = {"1 of 257 elements of dx wrong", "got 0,"}},
    /* One float accumulator along each row: only the long positive rows show it. */
    {.bug = "float_row_sum", .track = "cpu", .fails = "positive, long rows", .reason = "elements of dy wrong",
     .first = T_ANY, .unwritten = -1, .passes = {"*"}},
    {.bug = "missing_mask", .track = "cuda", .fails = "m=1025 n=1023", .reason = "elements of dx wrong", .first = T_ANY,
     .unwritten = -1, .passes = {"positive"}},
    {.bug = "mask_x_only", .track = "cuda", .fails = "m=1025 n=1023", .reason = "elements of dx wrong", .first = T_ANY,
     .unwritten = -1, .passes = {"positive"}},
    {.bug = "swapped", .track = "cuda", .fails = "m=1025 n=1023", .reason = "elements of dx wrong", .first = T_ANY,
     .unwritten = -1},
    /* Tile rows rounded down: row 128 of 129 is never reduced; for m < 128 the grid is empty,
     * which CUDA refuses ("invalid argument" in CUDA 13, "invalid configuration argument"
     * before). 2048 rows are a whole number of tiles. */
    {.bug = "dropped_tail", .track = "cuda", .fails = "m=129 n=257", .reason = "elements of dx wrong", .first = T_ANY,
     .unwritten = -1, .passes = {"m=2048 n=2048"}, .expect = {"lab4_relu_mul_backward_cuda: invalid", "check the launch"}},
};

T_PLANTED_SUITE(4)

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass slower than the reference (plain
 * loops, and the input read once more for the hash). */
Test(lab4_planted, fingerprint_gains_nothing) { t_check_fingerprint(4, "cpu", T_REUSE_SLOWER); }
Test(lab4_planted, fingerprint_gains_nothing_cuda) { t_check_fingerprint(4, "cuda", T_REUSE_SLOWER); }
