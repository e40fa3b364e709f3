/* Lab 3 (fused ReLU-multiply) end to end: the spec, the library's reference and naive functions
 * called directly, and the checker binaries (reference solution, untouched skeleton, planted wrong
 * implementations) run as child processes, judged by exit status, output and results.json.
 *
 * The planted files are checked against models of what they write (section "planted").
 */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "helpers.h"

/* ---- the spec ----------------------------------------------------------------------------------- */

static const em_case *spec_case(const char *name) { return t_spec_case(3, 0, name); }

T_SPEC_SUITE(3, 30, "relu_mul", "lab3-relu-mul", .parts = "a", .dims = "m n",
             .fresh_mode = EM_FRESH_ROWS, .fits_table = 1)

Test(lab3_spec, the_cases_the_brief_names) {
  const em_lab *lab = t_lab(3);
  int perf[EM_NTRACKS] = {0, 0};
  for (int i = 0; i < lab->ncases; ++i)
    for (int t = 0; t < EM_NTRACKS; ++t) perf[t] += t_runs_on(&lab->cases[i], (em_track)t) && lab->cases[i].perf_points > 0;
  cr_expect(perf[EM_TRACK_CPU] == 1 && perf[EM_TRACK_CUDA] == 1, "one speed case per track");
  cr_expect_eq(spec_case("m=n=16384")->dim[0], 16384, "the GPU speed case is m = n = 16384");
  cr_expect(t_runs_on(spec_case("m=n=16384"), EM_TRACK_CUDA) && !t_runs_on(spec_case("m=n=16384"), EM_TRACK_CPU));
  /* The shapes the brief asks for. */
  cr_expect_eq(spec_case("m=1 n=1000")->dim[0], 1);
  cr_expect_eq(spec_case("m=1000 n=1")->dim[1], 1);
  cr_expect(spec_case("m=65537 n=5")->dim[0] > 65535, "a case beyond gridDim.y's limit");
}

Test(lab3_spec, counts_and_tolerance) {
  const em_lab *lab = t_lab(3);
  const em_case *c = spec_case("m=3 n=5");
  cr_expect_eq(lab->flops(c), 2.0 * 15, "a multiply and a max per element");
  cr_expect_eq(lab->bytes(c), 4.0 * (5 + 3 + 15), "x and y read once, z written once");
  em_tensor t[EM_MAX_TENSORS];
  memset(t, 0, sizeof t);
  cr_assert_eq(lab->describe(c, t), 3);
  cr_expect_str_eq(t[0].name, "x");
  cr_expect_eq(t[0].shape[0], 5, "x has n elements");
  cr_expect_str_eq(t[1].name, "y");
  cr_expect_eq(t[1].shape[0], 3, "y has m elements");
  cr_expect(t[2].is_output && t[2].ndim == 2 && t[2].shape[0] == 3 && t[2].shape[1] == 5, "z is m×n");
  cr_expect_eq(t[2].rtol, 0x1p-23, "one rounding (2^-24), times 2");
  cr_expect_eq(t[2].atol, FLT_MIN, "results below FLT_MIN may flush to zero");
  cr_expect(t[2].tol_why && strlen(t[2].tol_why) > 10);
}

Test(lab3_spec, invalid_shapes) {
  const em_lab *lab = t_lab(3);
  em_case c = {.part = 'a', .dim = {0, 5}};
  cr_expect(lab->invalid(&c) != NULL);
  c.dim[0] = 5, c.dim[1] = 0;
  cr_expect(lab->invalid(&c) != NULL);
  c.dim[0] = (int64_t)1 << 30, c.dim[1] = (int64_t)1 << 30;
  cr_expect(lab->invalid(&c) != NULL, "2^60 elements cannot be allocated anywhere");
  c.dim[0] = 7, c.dim[1] = 9;
  cr_expect(lab->invalid(&c) == NULL);
}

/* ---- the library's functions, called directly ------------------------------------------------
 * The checker only ever judges the candidate; the naive baseline's results are never looked at
 * there. These run the spec's inputs through a function and judge every element, and the guard
 * words after z, as the checker would. */

TestSuite(lab3_library, .timeout = 120);

typedef void (*relu_mul_fn)(const float *, const float *, float *, int64_t, int64_t);

#define GUARD 64 /* floats after z that must survive */

typedef struct direct {
  em_tensor t[EM_MAX_TENSORS];
  int64_t m, n;
} direct;

static void direct_setup(direct *d, const em_case *c, uint64_t seed) {
  const em_lab *lab = t_lab(3);
  memset(d, 0, sizeof *d);
  cr_assert_eq(lab->describe(c, d->t), 3);
  d->m = c->dim[0];
  d->n = c->dim[1];
  for (int i = 0; i < 3; ++i) {
    em_tensor *t = &d->t[i];
    t->numel = 1;
    for (int k = 0; k < t->ndim; ++k) t->numel *= t->shape[k];
    t->host = em_host_alloc((size_t)(t->numel + GUARD) * sizeof(float));
    cr_assert(t->host != NULL);
  }
  d->t[2].want = em_host_alloc((size_t)d->t[2].numel * sizeof(double));
  cr_assert(d->t[2].want != NULL);
  lab->fill(c, seed, em_rng_name_id(c->name), d->t);
  lab->oracle(c, d->t);
}

static void direct_free(direct *d) {
  for (int i = 0; i < 3; ++i) {
    em_host_free(d->t[i].host);
    em_host_free(d->t[i].want);
  }
}

/* Runs fn on the case and returns 1 if every element is within the tolerance, no element was left
 * unwritten and the guard is intact; rep gets the closeness report. */
static int direct_run(relu_mul_fn fn, const em_case *c, uint64_t seed, em_close_report *rep) {
  direct d;
  direct_setup(&d, c, seed);
  float *z = (float *)d.t[2].host;
  em_fill_u32(z, d.t[2].numel + GUARD, EM_POISON_U32 ^ 1); /* the guard's pattern must differ from the poison... */
  em_fill_u32(z, d.t[2].numel, EM_POISON_U32);             /* ...which z itself holds */
  fn((const float *)d.t[0].host, (const float *)d.t[1].host, z, d.m, d.n);
  int ok = em_allclose_f32(z, d.t[2].want, d.t[2].numel, d.t[2].rtol, d.t[2].atol, rep);
  const uint32_t *g = (const uint32_t *)(z + d.t[2].numel);
  for (int k = 0; k < GUARD; ++k) {
    cr_expect_eq(g[k], EM_POISON_U32 ^ 1, "case \"%s\": a write past the end of z, at [%lld]", c->name,
                 (long long)(d.t[2].numel + k));
    if (g[k] != (EM_POISON_U32 ^ 1)) ok = 0;
  }
  direct_free(&d);
  return ok;
}

static void expect_right_on_every_case(relu_mul_fn fn, const char *what) {
  const em_lab *lab = t_lab(3);
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (c->perf_points > 0) continue; /* the speed cases: the same code as m=n=4096, only bigger */
    em_close_report rep;
    cr_expect(direct_run(fn, c, 7, &rep), "%s is wrong on \"%s\": %lld mismatches, first at [%lld]: got %.9g, want %.9g",
              what, c->name, (long long)rep.mismatches, (long long)rep.first_index, rep.first_got, rep.first_want);
  }
}

Test(lab3_library, reference_cpu_is_right) { expect_right_on_every_case(em_relu_mul_cpu, "em_relu_mul_cpu"); }

Test(lab3_library, naive_cpu_is_right) {
  expect_right_on_every_case(em_relu_mul_naive_cpu, "em_relu_mul_naive_cpu");
}

/* Shapes around the reference's slices and lines: rows shorter and longer than a line (16), a
 * total just around the parallel threshold (2^15), row ends inside and outside a thread's slice. */
Test(lab3_library, reference_cpu_odd_shapes) {
  static const int64_t shapes[][2] = {{2, 16},  {2, 17},   {1, 15},     {181, 181}, {128, 256}, {129, 255},
                                      {1, 32767}, {1, 32769}, {32769, 1}, {3, 65536}, {7, 70001}, {4097, 9}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    em_case c = {.part = 'a', .dim = {shapes[s][0], shapes[s][1]}, .values = 0};
    snprintf(c.name, sizeof c.name, "odd %zu", s);
    em_close_report rep;
    cr_expect(direct_run(em_relu_mul_cpu, &c, 3, &rep), "m=%lld n=%lld: %lld mismatches, first at [%lld]",
              (long long)c.dim[0], (long long)c.dim[1], (long long)rep.mismatches, (long long)rep.first_index);
  }
}

/* The reference rounds once: its worst error is at most 2^-24 relative (half the tolerance), the
 * bound the tolerance was derived from, on every case. */
Test(lab3_library, reference_error_is_one_rounding) {
  const em_lab *lab = t_lab(3);
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (c->perf_points > 0 || c->values == 4 /* tiny: absolute errors below FLT_MIN */) continue;
    em_close_report rep;
    cr_assert(direct_run(em_relu_mul_cpu, c, 11, &rep));
    cr_expect(rep.max_rel_err <= 0x1p-24, "\"%s\": relative error %g above 2^-24", c->name, rep.max_rel_err);
  }
}

/* The value kinds do what the spec says they do. */
Test(lab3_library, value_kinds_reach_their_edges) {
  direct d;
  /* tiny: some products below FLT_MIN (subnormal), none of the inputs. */
  direct_setup(&d, spec_case("tiny values"), 7);
  int64_t below = 0, nz = 0, N = d.t[2].numel;
  for (int64_t k = 0; k < N; ++k) {
    double w = d.t[2].want[k];
    if (w > 0) nz++;
    if (w > 0 && w < FLT_MIN) below++;
  }
  for (int i = 0; i < 2; ++i)
    for (int64_t k = 0; k < d.t[i].numel; ++k) {
      float v = ((float *)d.t[i].host)[k];
      cr_assert(v == 0.0f || fabsf(v) >= FLT_MIN, "tiny values: input %s[%lld] = %g is subnormal", d.t[i].name, (long long)k, v);
    }
  /* Half the products are positive, and 2^-6·(1 + 6 ln 2) ≈ 8% of those below FLT_MIN. */
  cr_expect(below > nz / 25 && below < nz / 6, "tiny values: %lld of %lld positive products below FLT_MIN", (long long)below,
            (long long)nz);
  direct_free(&d);

  /* large: products above 1e38, all finite in float32. */
  direct_setup(&d, spec_case("large values"), 7);
  double top = 0;
  for (int64_t k = 0; k < d.t[2].numel; ++k) top = fmax(top, d.t[2].want[k]);
  cr_expect(top > 1e38 && top < FLT_MAX, "large values: the largest product is %g", top);
  direct_free(&d);

  /* zeros: +0 and -0 among both inputs. */
  direct_setup(&d, spec_case("zeros"), 7);
  for (int i = 0; i < 2; ++i) {
    int pos = 0, neg = 0;
    for (int64_t k = 0; k < d.t[i].numel; ++k) {
      float v = ((float *)d.t[i].host)[k];
      if (v == 0.0f && signbit(v)) neg++;
      else if (v == 0.0f) pos++;
    }
    cr_expect(pos > 0 && neg > 0, "zeros: %s has %d +0 and %d -0", d.t[i].name, pos, neg);
  }
  direct_free(&d);
}

/* The tolerance lets a kernel flush subnormal results to zero (atol = FLT_MIN), and no more: results
 * two ulps above the correctly rounded ones (1.5 to 2.5 ulps from the exact product, up to 2^-22
 * relative against the 2^-23 allowed) fail on some element, and so do bfloat16's 8 significant
 * bits. */
static void flush_to_zero(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  em_relu_mul_cpu(x, y, z, m, n);
  for (int64_t k = 0; k < m * n; ++k)
    if (fabsf(z[k]) < FLT_MIN) z[k] = 0.0f;
}

static void one_ulp_high(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  em_relu_mul_cpu(x, y, z, m, n);
  for (int64_t k = 0; k < m * n; ++k)
    if (z[k] > 0.0f) z[k] = nextafterf(nextafterf(z[k], INFINITY), INFINITY);
}

static float bf16(float v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  b &= 0xFFFF0000u; /* truncate to bfloat16 */
  memcpy(&v, &b, 4);
  return v;
}

static void bfloat16(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float v = bf16(bf16(x[j]) * bf16(y[i]));
      z[i * n + j] = v > 0.0f ? v : 0.0f;
    }
}

Test(lab3_library, tolerance_allows_flush_and_nothing_more) {
  em_close_report rep;
  cr_expect(direct_run(flush_to_zero, spec_case("tiny values"), 7, &rep), "flushing subnormal results must pass: %lld mismatches",
            (long long)rep.mismatches);
  cr_expect(!direct_run(one_ulp_high, spec_case("m=31 n=33"), 7, &rep), "two ulps off must fail (one rounding is the budget)");
  cr_expect(!direct_run(bfloat16, spec_case("m=31 n=33"), 7, &rep), "bfloat16 arithmetic must fail");
}

/* ---- the reference solution through the checker ------------------------------------------------ */

TestSuite(lab3_solution, .timeout = 300);

Test(lab3_solution, passes_cpu_track) {
  json_t *root = t_check_solution(3, "cpu", "--seed", "7", NULL);
  json_t *c = t_get_case(root, "cpu", 'a', "m=31 n=33");
  cr_expect_eq(t_json_num(c, "rtol"), 0x1p-23);
  cr_expect_eq(t_json_num(c, "atol"), FLT_MIN);
  json_decref(root);
}

Test(lab3_solution, passes_at_other_seeds) {
  static const char *const runs[][4] = {{"--seed", "1"}, {"--seed", "20"}};
  t_solution_passes_with(3, runs, T_COUNT(runs));
}

/* One timed case: the byte and FLOP counts reach results.json. */
Test(lab3_solution, timed_case_counts) { t_check_timed_case(3, 'a', "m=31 n=33", 4.0 * (33 + 31 + 31 * 33), 2.0 * 31 * 33); }

Test(lab3_solution, cuda_track_skips_or_passes) { json_decref(t_check_solution(3, "cuda", NULL)); }

/* ---- an instructor's hidden cases for lab 3: two dims and a value kind by name ------------------- */

TestSuite(lab3_hidden, .timeout = 120);

Test(lab3_hidden, cases_run_hidden_and_follow_the_rules) {
  t_check_hidden_passes(3,
                        "{\"cases\": [{\"lab\": 3, \"part\": \"a\", \"name\": \"h\", \"dims\": [37, 1031], \"values\": \"tiny\"},"
                        " {\"lab\": 3, \"part\": \"a\", \"name\": \"h2\", \"dims\": [2, 3], \"values\": \"x_negative\"}]}",
                        "1031");
  t_check_hidden_refused(3, "{\"cases\": [{\"lab\": 3, \"part\": \"a\", \"name\": \"h\", \"dims\": [5]}]}", "dims");
  t_check_hidden_refused(3, "{\"cases\": [{\"lab\": 3, \"part\": \"a\", \"name\": \"h\", \"dims\": [0, 5]}]}", "at least 1");
}

/* ---- the untouched skeleton ---------------------------------------------------------------------- */

TestSuite(lab3_skeleton, .timeout = 300);

Test(lab3_skeleton, fails_pointing_at_the_todo) { json_decref(t_check_skeleton(3, "cpu", NULL)); }
Test(lab3_skeleton, cuda_track_points_at_the_todo) { json_decref(t_check_skeleton(3, "cuda", NULL)); }

/* ---- planted wrong implementations ------------------------------------------------------------
 * The planted tests know exactly where each bug must first show: a run with --dump hands back the
 * inputs the checker generated, a plain C model of the bug computes what the planted code writes,
 * and the closeness rule picks the first element outside the tolerance; the checker must name that
 * element, and the planted code must have written what the model says. Each model writes what its
 * planted file writes (leaving unwritten elements alone). */

TestSuite(lab3_planted, .timeout = 300);

typedef void (*model_fn)(const float *x, const float *y, float *z, int64_t m, int64_t n);

static float relu(float v) { return v > 0.0f ? v : 0.0f; }

static void model_relu_inputs(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = relu(x[j]) * relu(y[i]);
}

static void model_missing_relu(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[i * n + j] = x[j] * y[i];
}

static void model_swapped_axes(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) z[j * m + i] = relu(x[j] * y[i]);
}

/* Only the first n - n % group columns of each row. */
static void model_tail(const float *x, const float *y, float *z, int64_t m, int64_t n, int64_t group) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n - n % group; ++j) z[i * n + j] = relu(x[j] * y[i]);
}
static void model_tail8(const float *x, const float *y, float *z, int64_t m, int64_t n) { model_tail(x, y, z, m, n, 8); }
static void model_tail4(const float *x, const float *y, float *z, int64_t m, int64_t n) { model_tail(x, y, z, m, n, 4); }

/* The table holds indices, not function pointers: Criterion may hand a parameter to a test in a
 * freshly started process, where the parent's code addresses mean nothing. */
enum { RELU_INPUTS, MISSING_RELU, SWAPPED_AXES, TAIL8, TAIL4 };
static const model_fn models[] = {model_relu_inputs, model_missing_relu, model_swapped_axes, model_tail8, model_tail4};

/* A planted file and the model of what it writes. */
typedef struct planted3 {
  t_planted file; /* the whole track at seed 7: what the checker says */
  int model;      /* an index into models[] */
} planted3;

/* A dumped array's data, checked for its length. */
static void *npy_data(const char *path, size_t bytes) {
  size_t len;
  const unsigned char *data;
  char header[512];
  char *buf = t_read_npy(path, &len, &data, header, sizeof header);
  size_t have = len - (size_t)(data - (const unsigned char *)buf);
  cr_assert_eq(have, bytes, "%s holds %zu bytes, want %zu", path, have, bytes);
  void *out = malloc(bytes);
  memcpy(out, data, bytes);
  free(buf);
  return out;
}

/* The case t fails, again, dumped: the planted code wrote what the model says, and the first element
 * the tolerance rejects is the one the checker named (first). */
static void expect_the_model(const planted3 *t, long long first) {
  const char *tmp = t_tmpdir(), *dump = t_str("%s/dump", tmp), *name = t->file.fails, *bug = t->file.bug;
  t_proc p;
  t_checker(&p, 100, t_planted_bin(3, bug, t->file.track), t_str("%s/r2.json", tmp), "--track", t->file.track,
            "--no-timing", "--seed", "7", "--case", t_str("=%s", name), "--dump", dump, NULL);
  t_assert_exit(&p, 1);
  t_proc_free(&p);
  const em_case *sc = spec_case(name);
  int64_t m = sc->dim[0], n = sc->dim[1], N = m * n;
  const char *dir = t_only_subdir(dump);
  float *x = npy_data(t_str("%s/x.npy", dir), (size_t)n * 4), *y = npy_data(t_str("%s/y.npy", dir), (size_t)m * 4);
  float *got = npy_data(t_str("%s/z.npy", dir), (size_t)N * 4);
  double *want = npy_data(t_str("%s/z_want.npy", dir), (size_t)N * 8);
  float *model = malloc((size_t)N * 4);
  em_fill_u32(model, N, EM_POISON_U32);
  models[t->model](x, y, model, m, n);
  for (int64_t k = 0; k < N; ++k) {
    uint32_t a, b;
    memcpy(&a, &got[k], 4);
    memcpy(&b, &model[k], 4);
    int same = (a == EM_POISON_U32 && b == EM_POISON_U32) || (a != EM_POISON_U32 && b != EM_POISON_U32 && got[k] == model[k]);
    cr_assert(same, "%s on \"%s\": z[%lld] = %.9g (0x%08x), the model says %.9g (0x%08x)", bug, name, (long long)k, got[k], a,
              model[k], b);
  }
  em_close_report rep;
  cr_assert(!em_allclose_f32(model, want, N, 0x1p-23, FLT_MIN, &rep), "the model of %s passes \"%s\"", bug, name);
  cr_expect_eq(first, rep.first_index, "%s: the checker named [%lld], the first element outside the tolerance is [%lld]", bug,
               first, (long long)rep.first_index);
  free(x), free(y), free(got), free(want), free(model);
}

#define SEED7 .args = {"--seed", "7"}

static planted3 lab3_planted_files[] = {
    {{.bug = "relu_inputs", .track = "cpu", SEED7, .fails = "m=31 n=33", .first = T_ANY,
      .expect = {"elements of z wrong", "(error ", ", allowed "}}, RELU_INPUTS},
    {{.bug = "relu_inputs", .track = "cpu", SEED7, .fails = "x negative", .first = T_ANY, .expect = {"elements of z wrong"}},
     RELU_INPUTS},
    {{.bug = "missing_relu", .track = "cpu", SEED7, .fails = "m=31 n=33", .first = T_ANY,
      .expect = {"elements of z wrong", "(error "}}, MISSING_RELU},
    {{.bug = "missing_relu", .track = "cpu", SEED7, .fails = "tiny values", .first = T_ANY}, MISSING_RELU},
    {{.bug = "swapped_axes", .track = "cpu", SEED7, .fails = "m=3 n=5", .first = T_ANY,
      .passes = {"m=1 n=1", "m=1 n=1000", "m=1000 n=1"}, .expect = {"elements of z wrong"}}, SWAPPED_AXES},
    {{.bug = "swapped_axes", .track = "cpu", SEED7, .fails = "m=32 n=32", .first = T_ANY}, SWAPPED_AXES},
    {{.bug = "tail_not_written", .track = "cpu", SEED7, .fails = "m=31 n=33", .first = T_ANY, .unwritten = 1,
      .passes = {"m=32 n=32", "m=1 n=1000", "m=1025 n=1024", "m=n=4096"},
      .expect = {"got never written", "check the loop bound", "no element of z was written"}}, TAIL8},
    {{.bug = "relu_inputs", .track = "cuda", SEED7, .fails = "m=31 n=33", .first = T_ANY,
      .expect = {"elements of z wrong", "(error "}}, RELU_INPUTS},
    {{.bug = "missing_relu", .track = "cuda", SEED7, .fails = "m=31 n=33", .first = T_ANY,
      .expect = {"elements of z wrong", "(error "}}, MISSING_RELU},
    {{.bug = "swapped_axes", .track = "cuda", SEED7, .fails = "m=3 n=5", .first = T_ANY,
      .passes = {"m=1 n=1", "m=1 n=1000", "m=1000 n=1"}, .expect = {"elements of z wrong"}}, SWAPPED_AXES},
    {{.bug = "tail_not_written", .track = "cuda", SEED7, .fails = "m=31 n=33", .first = T_ANY, .unwritten = 1,
      .passes = {"m=32 n=32", "m=1 n=1000", "m=1025 n=1024", "m=n=16384"},
      .expect = {"got never written", "no element of z was written"}}, TAIL4},
};

ParameterizedTestParameters(lab3_planted, fails_where_its_model_says) {
  return cr_make_param_array(planted3, lab3_planted_files, T_COUNT(lab3_planted_files));
}

ParameterizedTest(planted3 *t, lab3_planted, fails_where_its_model_says) { expect_the_model(t, t_check_planted(3, &t->file)); }

/* gridDim.y = m: refused for every m > 65535 (an error of the launch, with its hint), and a launch
 * error is not sticky: the other cases still run and pass. */
Test(lab3_planted, cuda_grid_y_beyond_limit) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, t_planted_bin(3, "grid_y_rows", "cuda"), json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "lab3_relu_mul_cuda: invalid");
  t_assert_output_has(&p, "check the launch");
  json_t *root = t_load_json(json);
  const em_lab *lab = t_lab(3);
  int beyond = 0;
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *sc = &lab->cases[i];
    if (!t_runs_on(sc, EM_TRACK_CUDA)) continue;
    json_t *c = t_get_case(root, "cuda", 'a', sc->name);
    beyond += sc->dim[0] > 65535;
    cr_expect_str_eq(t_json_str(c, "status"), sc->dim[0] > 65535 ? "error" : "pass", "case \"%s\": %s", sc->name,
                     t_json_str(c, "reason"));
  }
  cr_expect(beyond > 0, "some case has m > 65535");
  json_decref(root);
  t_proc_free(&p);
}

/* float4 stores into rows that are not 16-byte aligned: the first case with n % 4 != 0 and a
 * second row (m=3 n=5) dies with "misaligned address"; the context is gone, the rest is skipped. */
Test(lab3_planted, cuda_misaligned_float4) {
  static const char *const passes[3] = {"m=1 n=1000", "m=1000 n=1", ""};
  t_check_cuda_error(3, "misaligned_float4", 'a', "m=3 n=5", "misaligned address", "m=31 n=33", 0, passes);
}

Test(lab3_planted, missing_function_is_named) { t_check_missing_function(3, "missing_relu"); }

/* Unfused (a temporary and two passes): right everywhere, and slower than the reference at the
 * speed case, where it moves three times the bytes and faults in a fresh buffer: only part of the
 * performance points. The margin is wide (the model says 3x or more; the test asks for 1.5x), as
 * this machine may be busy. */
Test(lab3_planted, unfused_loses_performance_points) {
  t_check_loses_perf_points(3, "unfused", 'a', "m=n=8192", 1.0 / 1.5);
  t_proc p; /* and it is right on every case */
  t_checker(&p, 280, t_planted_bin(3, "unfused", "cpu"), t_str("%s/r.json", t_tmpdir()), "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass at the speed of the work. Here the
 * work is memory-bound and the hash of x and y costs nothing beside writing z, so a plain loop may
 * earn full points; a skipped call would run thousands of times the reference's speed. */
Test(lab3_planted, fingerprint_gains_nothing) { t_check_fingerprint(3, "cpu", T_REUSE_NO_SKIP); }
Test(lab3_planted, fingerprint_gains_nothing_cuda) { t_check_fingerprint(3, "cuda", T_REUSE_NO_SKIP); }

/* ---- an honest file with streaming stores (issue 9) -------------------------------------------------
 * nontemporal.c writes whole lines with _mm512_stream_ps. On the AMD VMs it ran 2.1-2.35x the old
 * reference, which kept plain stores; a reference that streams where streaming wins leaves it no
 * more than noise (1.01-1.08x measured there). Both stream here (EM_STORES=stream), so the ratio does
 * not hang on this machine's measurement; the bound is wide (the machine may be busy) and the budget
 * long (2 s, some twenty rounds: a few rounds of the same code read 0.54-1.54x under load), and the
 * case is never flagged. */
Test(lab3_planted, streaming_file_does_not_beat_a_streaming_reference) {
  const char *bin = t_planted_bin(3, "nontemporal", "cpu"), *json = t_str("%s/results.json", t_tmpdir());
  setenv("EM_STORES", "stream", 1); /* this test's own process: its children inherit it */
  t_proc p;
  t_checker(&p, 280, bin, json, "--track", "cpu", "--case", "=m=n=8192", "--budget", "0.4", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json), *c = t_get_case(root, "cpu", 'a', "m=n=8192");
  double s = t_json_num(c, "speedup_vs_ref");
  cr_expect(s > 0 && s < 1.5, "a streaming student file ran %.2fx a streaming reference", s);
  cr_expect(!json_is_true(json_object_get(c, "impossible_speed")), "an honest file flagged: %s", t_json_str(c, "speed_note"));
  json_decref(root);
  t_proc_free(&p);
}

/* What a student sees for a wrong file: the first wrong element's inputs (x[j] and y[i], which
 * show the ReLU of an input instead of the product), once for the kind; the tolerance's
 * derivation once, not after each of twenty failures; and a --no-timing score that says its speed
 * points were not measured. */
Test(lab3_planted, failures_show_the_inputs_once_and_the_tolerance_once) {
  const char *json = t_str("%s/r.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 300, EM_BUILD_DIR "/tests/planted/lab3/relu_inputs/em-check", json, "--track", "cpu", "--no-timing",
            "--seed", "7", "--color", "never", NULL);
  t_assert_exit(&p, 1);
  cr_assert_eq(t_count(p.out, "at that element: x["), 1, "the inputs once, for the first wrong case:\n%s", p.out);
  cr_assert(strstr(p.out, "at that element: x[") && strstr(p.out, "(x*y = "), "%s", p.out);
  cr_assert_eq(t_count(p.out, "-> the tolerance of z"), 1, "the tolerance line once:\n%s", p.out);
  cr_assert_gt(t_count(p.out, "  fail (a) "), 10, "%s", p.out);
  json_t *root = t_load_json(json), *c = t_get_case(root, "cpu", 'a', "m=31 n=33");
  cr_assert(strstr(t_json_str(c, "inputs_at_first_mismatch"), "y["), "every failing case keeps its inputs in the JSON");
  json_decref(root);
  t_proc_free(&p);

  t_checker(&p, 300, t_solution_bin(3), json, "--track", "cpu", "--no-timing", "--part", "a", "--color", "never", NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "speed points not measured: timing was off in this run");
  t_proc_free(&p);
}
