/* Lab 6 (softmax) end to end: the spec's inputs, oracle and tolerances; the reference solution,
 * the untouched skeleton and the planted wrong implementations (tests/planted/lab6/) through the
 * real em-check binaries, judged by exit status, output and results.json.
 *
 * Checker runs use --no-timing (timing is slow and not what they test) and the shared peaks cache.
 * A planted binary runs on the case its mistake must fail and, where there is one, on a case it
 * must pass (so the test shows the checker tells that mistake apart, not that the file is broken
 * everywhere).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "helpers.h"

#define L6_SOLUTION EM_BUILD_DIR "/tests/solution/lab6/em-check"
#define L6_SKELETON EM_BUILD_DIR "/tests/skeleton/lab6/em-check"
#define L6_C "labs/lab6-softmax/softmax.c"
#define L6_CU "labs/lab6-softmax/softmax.cu"
#define U 0x1p-24

static const em_lab *lab6(void) { return t_lab(6); }
static int runs_on(const em_case *c, em_track track) { return t_runs_on(c, track); }
static int spec_cases(em_track track) { return t_spec_count(6, track, 0); }
static const em_case *spec_case(const char *name) { return t_spec_case(6, 0, name); }

static void expect_all_status(json_t *root, const char *track, const char *want) {
  json_t *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    if (strcmp(t_json_str(c, "track"), track) != 0) continue;
    cr_expect_str_eq(t_json_str(c, "status"), want, "case \"%s\" on %s: status %s, want %s (reason: %s)",
                     t_json_str(c, "name"), track, t_json_str(c, "status"), want, t_json_str(c, "reason"));
  }
}

/* The line of the first EM_TODO call in a student file. */
static int first_todo_line(const char *path) {
  char *text = t_read_file(path, NULL);
  cr_assert(text != NULL, "cannot read %s", path);
  int line = 1, found = 0;
  for (char *p = text; *p && !found; ++p) {
    if (*p == '\n') line++;
    else if (strncmp(p, "EM_TODO(", 8) == 0 && (p == text || p[-1] != '_')) found = line;
  }
  free(text);
  cr_assert(found > 0, "%s has no EM_TODO", path);
  return found;
}

/* ================================================================================================
 * The spec: inputs, oracle, tolerances.
 */

/* One case's tensors, filled and with the oracle run, as the checker would have them. */
typedef struct filled {
  em_case c;
  em_tensor t[EM_MAX_TENSORS];
  int nt;
} filled;

static void fill_case(filled *f, int64_t b, int64_t t, int kind, uint64_t seed) {
  const em_lab *lab = lab6();
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

Test(lab6_spec, registered_and_valid) {
  const em_lab *lab = lab6();
  cr_expect_str_eq(lab->name, "softmax");
  cr_expect_str_eq(lab->folder, "lab6-softmax");
  cr_expect_eq(lab->nparts, 1);
  cr_expect_eq(lab->parts[0].id, 'a');
  int perf[EM_NTRACKS] = {0, 0};
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    cr_expect(lab->invalid(c) == NULL, "case \"%s\": %s", c->name, lab->invalid(c));
    for (int j = 0; j < i; ++j) cr_expect(strcmp(c->name, lab->cases[j].name) != 0, "two cases named \"%s\"", c->name);
    for (int k = 0; k < EM_NTRACKS; ++k) perf[k] += c->perf_points > 0 && runs_on(c, (em_track)k);
  }
  cr_expect(perf[EM_TRACK_CPU] > 0 && perf[EM_TRACK_CUDA] > 0, "each track has speed cases");
  /* The edges the brief names are there. */
  spec_case("t=1 (z=1)");
  spec_case("t=32768");
  spec_case("t=32769");
  spec_case("b=1 t=2^20+3");
  cr_expect(spec_case("t=32768")->dim[1] == EM_SOFTMAX_ONCHIP, "the on-chip limit is a case");
}

Test(lab6_spec, tolerance_grows_with_log_t) {
  const em_lab *lab = lab6();
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
    const char *kname = lab6()->value_kinds[*kind];
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

Test(lab6_solution, passes_cpu_track, .timeout = 200) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 180, L6_SOLUTION, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, " 0 failed");
  json_t *root = t_load_json(json);
  cr_expect_eq(json_integer_value(json_object_get(root, "lab")), 6);
  cr_expect_str_eq(t_json_str(root, "name"), "softmax");
  cr_assert_eq((int)json_array_size(json_object_get(root, "cases")), spec_cases(EM_TRACK_CPU), "one result per CPU case");
  expect_all_status(root, "cpu", "pass");
  json_t *c = t_get_case(root, "cpu", 'a', "t=2^20");
  cr_expect_str_eq(t_json_str(c, "shape"), "b=2 t=1048576");
  cr_expect(t_json_num(c, "rtol") == 72 * U, "rtol of t = 2^20: (32 + 2*20)*2^-24");
  json_decref(root);
  t_proc_free(&p);
}

/* The reference passes whatever the seed (the instructor grades with a secret one). Parameters are
 * copied into the test's process, which does not share our addresses: char arrays, not pointers. */
typedef struct seed_param {
  char seed[8];
} seed_param;

ParameterizedTestParameters(lab6_solution, passes_other_seeds) {
  static seed_param seeds[] = {{"1"}, {"2"}, {"3"}};
  return cr_make_param_array(seed_param, seeds, sizeof seeds / sizeof seeds[0]);
}

ParameterizedTest(seed_param *s, lab6_solution, passes_other_seeds, .timeout = 200) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 180, L6_SOLUTION, json, "--track", "cpu", "--no-timing", "--seed", s->seed, NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

Test(lab6_solution, counts_bytes_and_flops, .timeout = 120) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, L6_SOLUTION, json, "--track", "cpu", "--case", "t=4099 prime", "--budget", "0.02", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, "cpu", 'a', "t=4099 prime");
  cr_expect_eq(t_json_num(c, "bytes"), 8.0 * 7 * 4099, "x read once, z written once");
  cr_expect_eq(t_json_num(c, "flops"), 5.0 * 7 * 4099);
  cr_expect(t_json_num(c, "time_ms") > 0 && t_json_num(c, "speedup_vs_naive") > 0);
  json_decref(root);
  t_proc_free(&p);
}

Test(lab6_solution, cuda_track_skips_or_passes, .timeout = 300) {
  em_cuda_device dev;
  int have_gpu = em_cuda_probe(&dev) == EM_OK;
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L6_SOLUTION, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  cr_assert_eq((int)json_array_size(json_object_get(root, "cases")), spec_cases(EM_TRACK_CUDA));
  expect_all_status(root, "cuda", have_gpu ? "pass" : "skip");
  json_decref(root);
  t_proc_free(&p);
}

/* ================================================================================================
 * The untouched skeleton: fails every case, pointing at the first TODO on the way.
 */

Test(lab6_skeleton, cpu_fails_pointing_at_the_todo, .timeout = 200) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 180, L6_SKELETON, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "TODO not done yet");
  t_assert_output_has(&p, t_str(L6_C ":%d:", first_todo_line(L6_C)));
  t_assert_output_has(&p, t_str("0 passed, %d failed", spec_cases(EM_TRACK_CPU)));
  json_t *root = t_load_json(json);
  expect_all_status(root, "cpu", "fail");
  json_t *c = t_get_case(root, "cpu", 'a', "t=1025");
  cr_expect(strstr(t_json_str(c, "hint"), t_str("softmax.c:%d", first_todo_line(L6_C))) != NULL, "hint: %s",
            t_json_str(c, "hint"));
  cr_expect_eq(t_json_num(json_object_get(c, "score"), "points"), 0.0);
  json_decref(root);
  t_proc_free(&p);
}

Test(lab6_skeleton, cuda_fails_pointing_at_the_todo, .timeout = 300) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L6_SKELETON, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "TODO not done yet");
  t_assert_output_has(&p, t_str(L6_CU ":%d:", first_todo_line(L6_CU)));
  json_t *root = t_load_json(json);
  expect_all_status(root, "cuda", "fail");
  json_decref(root);
  t_proc_free(&p);
}

/* ================================================================================================
 * Planted wrong implementations: each fails its case with the diagnostic its mistake deserves,
 * and passes the case it gets right.
 */

typedef struct planted {
  char bug[32];        /* tests/planted/lab6/<bug>.c or .cu */
  char track[8];       /* "cpu" or "cuda" */
  char fails[32];      /* a case it must fail */
  long long first;     /* its first mismatching index; -2: any */
  int unwritten;       /* 1: some elements never written; 0: none */
  int all_wrong;       /* 1: every element of the case is wrong */
  char passes[32];     /* a case it must pass ("" for none) */
  char expect[2][64];  /* in the output of the failing run */
} planted;

static const char *planted_bin(const planted *t) {
  return t_str(EM_BUILD_DIR "/tests/planted/lab6/%s%s/em-check", t->bug, strcmp(t->track, "cuda") == 0 ? ".cu" : "");
}

static void check_planted(const planted *t) {
  const char *bin = planted_bin(t), *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, bin, json, "--track", t->track, "--no-timing", "--case", t->fails, NULL);
  t_assert_exit(&p, 1);
  for (int k = 0; k < 2; ++k)
    if (t->expect[k][0]) t_assert_output_has(&p, t->expect[k]);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, t->track, 'a', t->fails);
  cr_expect_str_eq(t_json_str(c, "status"), "fail", "%s: case \"%s\"", t->bug, t->fails);
  json_t *fm = json_object_get(c, "first_mismatch");
  cr_assert(json_is_object(fm), "%s: no first_mismatch (reason: %s)", t->bug, t_json_str(c, "reason"));
  if (t->first >= 0)
    cr_expect_eq(json_integer_value(json_object_get(fm, "index")), t->first, "%s: first mismatch at %lld, want %lld", t->bug,
                 (long long)json_integer_value(json_object_get(fm, "index")), t->first);
  long long unwritten = json_integer_value(json_object_get(c, "unwritten"));
  cr_expect(t->unwritten ? unwritten > 0 : unwritten == 0, "%s: %lld elements unwritten", t->bug, unwritten);
  if (t->all_wrong) {
    const em_case *sc = spec_case(t->fails);
    cr_expect_eq(json_integer_value(json_object_get(c, "mismatches")), sc->dim[0] * sc->dim[1],
                 "%s: every element of \"%s\" is wrong", t->bug, t->fails);
  }
  json_decref(root);
  t_proc_free(&p);

  if (t->passes[0]) {
    t_checker(&p, 280, bin, json, "--track", t->track, "--no-timing", "--case", t->passes, NULL);
    t_assert_exit(&p, 0);
    t_proc_free(&p);
  }
}

ParameterizedTestParameters(lab6_planted, cpu) {
  static planted table[] = {
      {"no_max_subtraction", "cpu", "large logits", -2, 0, 0, "t=4099 prime",
       {"NaN or Inf where the exact value is finite", "got -nan"}},
      {"dropped_tail", "cpu", "t=1023", 0, 0, 1, "t=1024", {"(error ", ", allowed "}},
      {"dropped_tail", "cpu", "t=1 (z=1)", 0, 0, 1, "", {"got inf, want 1", "NaN or Inf"}},
      {"wrong_normaliser", "cpu", "t=1025", 0, 0, 1, "", {"13325 of 13325 elements of z wrong", "(error "}},
      {"neg_inf_as_number", "cpu", "masked rows", -2, 0, 0, "t=4099 prime", {"NaN or Inf where the exact value is finite", ""}},
      {"neg_inf_as_number", "cpu", "sparse -inf", -2, 0, 0, "ramp rows", {"got -nan", ""}},
      {"max_starts_at_zero", "cpu", "constant rows", -2, 0, 0, "masked rows", {"NaN or Inf", ""}},
      {"float_running_sum", "cpu", "t=2^20", 0, 0, 1, "t=1025", {"(error ", ", allowed "}},
  };
  return cr_make_param_array(planted, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(planted *t, lab6_planted, cpu, .timeout = 300) { check_planted(t); }

ParameterizedTestParameters(lab6_planted, cuda) {
  static planted table[] = {
      /* Its pass case is t = 1 (e/e = 1 exactly): __expf(x) without the max subtraction has an
       * error growing with |x| itself, which the tolerance (built on |x - max|) need not cover. */
      {"no_max_subtraction", "cuda", "large logits", -2, 0, 0, "t=1 (z=1)", {"NaN or Inf where the exact value is finite", ""}},
      {"dropped_tail", "cuda", "t=1025", -2, 1, 0, "t=1024", {"never written", ""}},
      {"first_block_sum", "cuda", "t=1025", 0, 0, 1, "t=255", {"(error ", ", allowed "}},
      /* "=masked rows": exactly the short masked case; the long one (t=32769) fails as it should. */
      {"neg_inf_as_number", "cuda", "masked long rows", -2, 0, 0, "=masked rows", {"NaN or Inf where the exact value is finite", ""}},
  };
  return cr_make_param_array(planted, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(planted *t, lab6_planted, cuda, .timeout = 300) {
  t_need_gpu();
  check_planted(t);
}

/* The CUDA planted files define only the CUDA function: the CPU one is reported by name. */
Test(lab6_planted, missing_function_is_named, .timeout = 60) {
  const char *bin = EM_BUILD_DIR "/tests/planted/lab6/first_block_sum.cu/em-check";
  if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, bin, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "lab6_softmax is not defined in labs/lab6-softmax/softmax.c");
  json_t *root = t_load_json(json);
  expect_all_status(root, "cpu", "fail");
  json_decref(root);
  t_proc_free(&p);
}

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass slower than the reference (plain
 * loops, and the input read once more for the hash). */
Test(lab6_planted, fingerprint_gains_nothing, .timeout = 300) {
  t_expect_no_gain_from_reuse(6, EM_BUILD_DIR "/tests/planted/lab6/fingerprint/em-check", "cpu", T_REUSE_SLOWER);
}

Test(lab6_planted, fingerprint_gains_nothing_cuda, .timeout = 300) {
  t_need_gpu();
  const char *bin = EM_BUILD_DIR "/tests/planted/lab6/fingerprint.cu/em-check";
  if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  t_expect_no_gain_from_reuse(6, bin, "cuda", T_REUSE_SLOWER);
}

/* fingerprint_samples.c keys on three input and three output elements (skipping while those hold no
 * poison): a swap of two rows elsewhere, with a few other outputs poisoned, gets past it, and the
 * skipped call is caught as reused work. On "perf t=4096" (4096 rows) nearly every swap misses the
 * three sampled rows, so it skips at once and fails. "perf t=2^20" has 16 rows: the three swaps
 * between two of its calls (its own, the reference's, the baseline's) touch a sampled row 73% of
 * the time, so it may do the work in every one of its few timed calls and pass, slowly; that is
 * allowed, a skipped call passing is not. */
Test(lab6_planted, sampled_fingerprint_fails_as_reused_work, .timeout = 300) {
  t_expect_no_gain_from_reuse(6, EM_BUILD_DIR "/tests/planted/lab6/fingerprint_samples/em-check", "cpu", T_REUSE_CAUGHT);
}
