/* Lab 4 (relu_mul_backward) in every layer: the oracle on cases worked out by hand, the tolerance
 * (its formula, and that it is tight enough to see one missing term), the reference solution
 * through the checker (several seeds and thread counts), the skeleton, and the planted wrong
 * implementations of tests/planted/lab4/, each failing with the diagnostic its mistake deserves.
 */
#include <math.h>
#include <stdint.h>

#include "helpers.h"

#define L4_SOLUTION EM_BUILD_DIR "/tests/solution/lab4/em-check"
#define L4_SKELETON EM_BUILD_DIR "/tests/skeleton/lab4/em-check"
#define L4_DIR "labs/lab4-relu-mul-backward"

static const em_lab *lab4(void) { return t_lab(4); }
static int runs_on(const em_case *c, const char *track) { return t_runs_on(c, t_track(track)); }
static int spec_cases(const char *track) { return t_spec_count(4, t_track(track), 0); }
static const em_case *spec_case(const char *name) { return t_spec_case(4, 0, name); }

/* Every case of results.json on this track has status want, except those named `except` and
 * `except2` (NULL or "": none). */
static void expect_all_status(json_t *root, const char *track, const char *want, const char *except,
                              const char *except2) {
  json_t *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    if (strcmp(t_json_str(c, "track"), track) != 0) continue;
    if (except && strcmp(t_json_str(c, "name"), except) == 0) continue;
    if (except2 && strcmp(t_json_str(c, "name"), except2) == 0) continue;
    cr_expect_str_eq(t_json_str(c, "status"), want, "case \"%s\" on %s: status %s, want %s (reason: %s)",
                     t_json_str(c, "name"), track, t_json_str(c, "status"), want, t_json_str(c, "reason"));
  }
}

static int todo_count(const char *path) {
  char *text = t_read_file(path, NULL);
  cr_assert(text != NULL, "cannot read %s", path);
  int n = 0;
  for (char *p = text; (p = strstr(p, "EM_TODO(")) != NULL; ++p) n += p == text || p[-1] != '_';
  free(text);
  return n;
}

static int todo_line(const char *path) {
  char *text = t_read_file(path, NULL);
  cr_assert(text != NULL, "cannot read %s", path);
  char *p = strstr(text, "  EM_TODO(");
  cr_assert(p != NULL, "%s has no EM_TODO", path);
  int line = 1;
  for (char *q = text; q < p; ++q) line += *q == '\n';
  free(text);
  return line;
}

/* ================================================================================================
 * The oracle and the tolerance, called directly.
 */

/* x = {1, −2, 0, 3, 1e-30}, y = {2, −1}: in row 0 (y > 0) the mask is on where x > 0 (columns 0, 3
 * and 4: 1e-30·2 is a normal float), in row 1 (y < 0) where x < 0 (column 1); column 2 (x = 0) is
 * off everywhere. */
Test(oracle, hand_worked_example) {
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
Test(oracle, mask_is_the_float32_product) {
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
  const em_lab *lab = lab4();
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
Test(tolerance, follows_the_formula) {
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
Test(tolerance, one_missing_term_is_seen) {
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
Test(spec, value_kinds) {
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
Test(naive, meets_the_tolerance, .timeout = 60) {
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

Test(spec, counts_and_validity) {
  const em_lab *lab = lab4();
  cr_expect_str_eq(lab->name, "relu_mul_backward");
  cr_expect_str_eq(lab->folder, "lab4-relu-mul-backward");
  const em_case *c = spec_case("m=n=4096");
  cr_expect_eq(lab->bytes(c), 4.0 * (4096.0 * 4096 + 2 * 4096 + 2 * 4096));
  cr_expect_eq(lab->flops(c), 4.0 * 4096 * 4096);
  em_case bad = *c;
  bad.dim[0] = 0;
  cr_expect(lab->invalid(&bad) != NULL, "m = 0 is refused");
  bad.dim[0] = (int64_t)1 << 20, bad.dim[1] = (int64_t)1 << 20;
  cr_expect(lab->invalid(&bad) != NULL, "2^40 elements are refused");
  for (int i = 0; i < lab->ncases; ++i)
    cr_expect(lab->invalid(&lab->cases[i]) == NULL, "case \"%s\" is invalid: %s", lab->cases[i].name,
              lab->invalid(&lab->cases[i]));
  int perf[2] = {0, 0};
  for (int i = 0; i < lab->ncases; ++i)
    for (int t = 0; t < 2; ++t) perf[t] += lab->cases[i].perf_points > 0 && runs_on(&lab->cases[i], t ? "cuda" : "cpu");
  cr_expect(perf[0] >= 1 && perf[1] >= 1, "each track has a speed case");
}

/* ================================================================================================
 * The reference solution through the checker.
 */

Test(solution, passes_cpu_track, .timeout = 200) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 180, L4_SOLUTION, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, " 0 failed");
  json_t *root = t_load_json(json);
  cr_expect_str_eq(t_json_str(root, "name"), "relu_mul_backward");
  cr_expect_eq(json_integer_value(json_object_get(root, "lab")), 4);
  cr_assert_eq((int)json_array_size(json_object_get(root, "cases")), spec_cases("cpu"));
  expect_all_status(root, "cpu", "pass", NULL, NULL);
  json_t *c = t_get_case(root, "cpu", 'a', "m=1009 n=997 primes");
  cr_expect_str_eq(t_json_str(c, "shape"), "m=1009 n=997");
  json_decref(root);
  t_proc_free(&p);
}

/* Other seeds, and other thread counts (the CPU reference splits rows or columns among them). */
Test(solution, passes_other_seeds_and_threads, .timeout = 400) {
  static const char *const runs[][2] = {{"7", "1"}, {"11", "3"}, {"123456789", "2"}};
  for (size_t r = 0; r < sizeof runs / sizeof runs[0]; ++r) {
    const char *json = t_str("%s/results.json", t_tmpdir());
    t_proc p;
    t_checker(&p, 120, L4_SOLUTION, json, "--track", "cpu", "--no-timing", "--seed", runs[r][0], "--threads",
              runs[r][1], NULL);
    t_assert_exit(&p, 0);
    t_proc_free(&p);
  }
}

Test(solution, timed_case_reports_speed, .timeout = 120) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, L4_SOLUTION, json, "--track", "cpu", "--case", "m=129 n=257", "--budget", "0.02", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, "cpu", 'a', "m=129 n=257");
  cr_expect_eq(t_json_num(c, "bytes"), 4.0 * (129 * 257 + 2 * 129 + 2 * 257), "dz, x, y read, dx, dy written");
  cr_expect_eq(t_json_num(c, "flops"), 4.0 * 129 * 257);
  cr_expect(t_json_num(c, "time_ms") > 0 && t_json_num(c, "speedup_vs_naive") > 0);
  json_decref(root);
  t_proc_free(&p);
}

Test(solution, cuda_track_skips_or_passes, .timeout = 300) {
  em_cuda_device dev;
  int have_gpu = em_cuda_probe(&dev) == EM_OK;
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L4_SOLUTION, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  cr_assert_eq((int)json_array_size(json_object_get(root, "cases")), spec_cases("cuda"));
  expect_all_status(root, "cuda", have_gpu ? "pass" : "skip", NULL, NULL);
  json_decref(root);
  t_proc_free(&p);
}

/* ================================================================================================
 * The untouched skeleton: fails every case, pointing at its TODO.
 */

Test(skeleton, fails_pointing_at_the_todo, .timeout = 200) {
  cr_assert_eq(todo_count(L4_DIR "/relu_mul_backward.c"), 1, "one EM_TODO in the C skeleton");
  cr_assert_eq(todo_count(L4_DIR "/relu_mul_backward.cu"), 1, "one EM_TODO in the CUDA skeleton");
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 180, L4_SKELETON, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "TODO not done yet");
  t_assert_output_has(&p, t_str(L4_DIR "/relu_mul_backward.c:%d:", todo_line(L4_DIR "/relu_mul_backward.c")));
  t_assert_output_has(&p, t_str("0 passed, %d failed", spec_cases("cpu")));
  json_t *root = t_load_json(json);
  expect_all_status(root, "cpu", "fail", NULL, NULL);
  json_t *c = t_get_case(root, "cpu", 'a', "m=31 n=33");
  cr_expect_str_eq(t_json_str(json_object_get(c, "first_mismatch"), "got"), "unwritten");
  cr_expect_eq(t_json_num(json_object_get(c, "score"), "points"), 0.0);
  json_decref(root);
  t_proc_free(&p);
}

Test(skeleton, cuda_track_points_at_the_todo, .timeout = 300) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L4_SKELETON, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "TODO not done yet");
  t_assert_output_has(&p, t_str(L4_DIR "/relu_mul_backward.cu:%d:", todo_line(L4_DIR "/relu_mul_backward.cu")));
  json_t *root = t_load_json(json);
  expect_all_status(root, "cuda", "fail", NULL, NULL);
  json_decref(root);
  t_proc_free(&p);
}

/* ================================================================================================
 * Planted wrong implementations (tests/planted/lab4/).
 */

typedef struct planted4 {
  char bug[24];      /* tests/planted/lab4/<bug>.c or .cu */
  char track[8];
  char name[32];     /* a case that must fail */
  char name2[32];    /* another one ("": none) */
  char output[4];    /* the output its reason names: "dx" or "dy" */
  long long first;   /* its first mismatching index, −1: any */
  char passes[32];   /* a case that must pass ("": none; "*": every other case) */
  char expect[2][96];
} planted4;

static void check_planted4(const planted4 *t) {
  int cuda = strcmp(t->track, "cuda") == 0;
  const char *bin = t_str(EM_BUILD_DIR "/tests/planted/lab4/%s%s/em-check", t->bug, cuda ? ".cu" : "");
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, bin, json, "--track", t->track, "--no-timing", NULL);
  t_assert_exit(&p, 1);
  for (int k = 0; k < 2; ++k)
    if (t->expect[k][0]) t_assert_output_has(&p, t->expect[k]);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, t->track, 'a', t->name);
  const char *reason = t_json_str(c, "reason");
  cr_expect_str_eq(t_json_str(c, "status"), "fail", "%s: case \"%s\": %s", t->bug, t->name, reason);
  cr_expect(strstr(reason, t_str("elements of %s wrong", t->output)) != NULL, "%s: reason: %s", t->bug, reason);
  if (t->first >= 0)
    cr_expect(strstr(reason, t_str("first at [%lld]", t->first)) != NULL, "%s: reason: %s", t->bug, reason);
  if (t->name2[0]) {
    json_t *c2 = t_get_case(root, t->track, 'a', t->name2);
    cr_expect_str_eq(t_json_str(c2, "status"), "fail", "%s: case \"%s\": %s", t->bug, t->name2, t_json_str(c2, "reason"));
  }
  if (strcmp(t->passes, "*") == 0) expect_all_status(root, t->track, "pass", t->name, t->name2);
  else if (t->passes[0])
    cr_expect_str_eq(t_json_str(t_get_case(root, t->track, 'a', t->passes), "status"), "pass", "%s: \"%s\"", t->bug,
                     t->passes);
  json_decref(root);
  t_proc_free(&p);
}

ParameterizedTestParameters(planted4, cpu) {
  static planted4 table[] = {
      /* Positive data turns the whole mask on, where a missing mask or one from x alone is right. */
      {"missing_mask", "cpu", "m=1025 n=1023", "", "dx", -1, "positive", {"(error ", ", allowed "}},
      {"mask_x_only", "cpu", "m=1025 n=1023", "", "dx", -1, "positive", {"", ""}},
      /* Signs instead of the product: only zeros and underflowing products tell. */
      {"sign_mask", "cpu", "zeros in x and y", "tiny products", "dx", -1, "*", {"", ""}},
      {"swapped", "cpu", "m=1025 n=1023", "", "dx", -1, "", {"", ""}},
      /* 257 = 32·8 + 1: only the last column is dropped; dx[256] is 0. n = 2048 has no tail. */
      {"dropped_tail", "cpu", "m=129 n=257", "", "dx", 256, "m=2048 n=2048",
       {"1 of 257 elements of dx wrong", "got 0,"}},
      /* One float accumulator along each row: only the long positive rows show it. */
      {"float_row_sum", "cpu", "positive, long rows", "", "dy", -1, "*", {"", ""}},
  };
  return cr_make_param_array(planted4, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(planted4 *t, planted4, cpu, .timeout = 300) { check_planted4(t); }

ParameterizedTestParameters(planted4, cuda) {
  static planted4 table[] = {
      {"missing_mask", "cuda", "m=1025 n=1023", "", "dx", -1, "positive", {"", ""}},
      {"mask_x_only", "cuda", "m=1025 n=1023", "", "dx", -1, "positive", {"", ""}},
      {"swapped", "cuda", "m=1025 n=1023", "", "dx", -1, "", {"", ""}},
      /* Tile rows rounded down: row 128 of 129 is never reduced; for m < 128 the grid is empty,
       * which CUDA refuses ("invalid argument" in CUDA 13, "invalid configuration argument"
       * before). 2048 rows are a whole number of tiles. */
      {"dropped_tail", "cuda", "m=129 n=257", "", "dx", -1, "m=2048 n=2048",
       {"lab4_relu_mul_backward_cuda: invalid", "check the launch"}},
  };
  return cr_make_param_array(planted4, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(planted4 *t, planted4, cuda, .timeout = 300) {
  t_need_gpu();
  check_planted4(t);
}

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass slower than the reference (plain
 * loops, and the input read once more for the hash). */
Test(planted4, fingerprint_gains_nothing, .timeout = 300) {
  t_expect_no_gain_from_reuse(4, EM_BUILD_DIR "/tests/planted/lab4/fingerprint/em-check", "cpu", T_REUSE_SLOWER);
}

Test(planted4, fingerprint_gains_nothing_cuda, .timeout = 300) {
  t_need_gpu();
  const char *bin = EM_BUILD_DIR "/tests/planted/lab4/fingerprint.cu/em-check";
  if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  t_expect_no_gain_from_reuse(4, bin, "cuda", T_REUSE_SLOWER);
}
