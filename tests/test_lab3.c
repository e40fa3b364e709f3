/* Lab 3 (fused ReLU-multiply) end to end: the spec, the library's reference and naive functions
 * called directly, and the checker binaries (reference solution, untouched skeleton, planted wrong
 * implementations) run as child processes, judged by exit status, output and results.json.
 *
 * The planted tests know exactly where each bug must first show: a run with --dump hands back the
 * inputs the checker generated, a plain C model of the bug computes what the planted code writes,
 * and the closeness rule picks the first element outside the tolerance; the checker must name that
 * element, and the planted code must have written what the model says.
 */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "helpers.h"

#define L3_SOLUTION EM_BUILD_DIR "/tests/solution/lab3/em-check"
#define L3_SKELETON EM_BUILD_DIR "/tests/skeleton/lab3/em-check"
#define L3_PLANTED_DIR EM_BUILD_DIR "/tests/planted/lab3/"
#define L3_C "labs/lab3-relu-mul/relu_mul.c"
#define L3_CU "labs/lab3-relu-mul/relu_mul.cu"

/* ---- the spec ----------------------------------------------------------------------------------- */

static const em_lab *lab3(void) { return t_lab(3); }
static int runs_on(const em_case *c, em_track track) { return t_runs_on(c, track); }
static int spec_cases(em_track track) { return t_spec_count(3, track, 0); }
static const em_case *spec_case(const char *name) { return t_spec_case(3, 0, name); }

Test(spec, identity_and_cases) {
  const em_lab *lab = lab3();
  cr_expect_str_eq(lab->name, "relu_mul");
  cr_expect_str_eq(lab->folder, "lab3-relu-mul");
  cr_expect_eq(lab->nparts, 1);
  cr_expect_eq(lab->parts[0].id, 'a');
  cr_expect_eq(lab->ndims, 2);
  cr_expect_str_eq(lab->dim_names[0], "m");
  cr_expect_str_eq(lab->dim_names[1], "n");
  int perf[EM_NTRACKS] = {0, 0};
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    cr_expect(lab->invalid(c) == NULL, "case \"%s\" is invalid: %s", c->name, lab->invalid(c));
    cr_expect(strlen(c->name) <= 16, "case name \"%s\" is wider than the report's column", c->name);
    cr_expect(c->part == 'a');
    for (int j = 0; j < i; ++j) cr_expect(strcmp(c->name, lab->cases[j].name) != 0, "two cases named \"%s\"", c->name);
    for (int t = 0; t < EM_NTRACKS; ++t) perf[t] += runs_on(c, (em_track)t) && c->perf_points > 0;
  }
  cr_expect_eq(perf[EM_TRACK_CPU], 1, "one speed case per track");
  cr_expect_eq(perf[EM_TRACK_CUDA], 1, "one speed case per track");
  cr_expect_eq(spec_case("m=n=16384")->dim[0], 16384, "the GPU speed case is m = n = 16384");
  cr_expect(runs_on(spec_case("m=n=16384"), EM_TRACK_CUDA) && !runs_on(spec_case("m=n=16384"), EM_TRACK_CPU));
  /* The shapes the brief asks for. */
  cr_expect_eq(spec_case("m=1 n=1000")->dim[0], 1);
  cr_expect_eq(spec_case("m=1000 n=1")->dim[1], 1);
  cr_expect(spec_case("m=65537 n=5")->dim[0] > 65535, "a case beyond gridDim.y's limit");
}

Test(spec, counts_and_tolerance) {
  const em_lab *lab = lab3();
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

Test(spec, invalid_shapes) {
  const em_lab *lab = lab3();
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

typedef void (*relu_mul_fn)(const float *, const float *, float *, int64_t, int64_t);

#define GUARD 64 /* floats after z that must survive */

typedef struct direct {
  em_tensor t[EM_MAX_TENSORS];
  int64_t m, n;
} direct;

static void direct_setup(direct *d, const em_case *c, uint64_t seed) {
  const em_lab *lab = lab3();
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
  const em_lab *lab = lab3();
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (c->perf_points > 0) continue; /* the speed cases: the same code as m=n=4096, only bigger */
    em_close_report rep;
    cr_expect(direct_run(fn, c, 7, &rep), "%s is wrong on \"%s\": %lld mismatches, first at [%lld]: got %.9g, want %.9g",
              what, c->name, (long long)rep.mismatches, (long long)rep.first_index, rep.first_got, rep.first_want);
  }
}

Test(library, reference_cpu_is_right, .timeout = 120) { expect_right_on_every_case(em_relu_mul_cpu, "em_relu_mul_cpu"); }

Test(library, naive_cpu_is_right, .timeout = 120) {
  expect_right_on_every_case(em_relu_mul_naive_cpu, "em_relu_mul_naive_cpu");
}

/* Shapes around the reference's slices and lines: rows shorter and longer than a line (16), a
 * total just around the parallel threshold (2^15), row ends inside and outside a thread's slice. */
Test(library, reference_cpu_odd_shapes, .timeout = 120) {
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
Test(library, reference_error_is_one_rounding, .timeout = 120) {
  const em_lab *lab = lab3();
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (c->perf_points > 0 || c->values == 4 /* tiny: absolute errors below FLT_MIN */) continue;
    em_close_report rep;
    cr_assert(direct_run(em_relu_mul_cpu, c, 11, &rep));
    cr_expect(rep.max_rel_err <= 0x1p-24, "\"%s\": relative error %g above 2^-24", c->name, rep.max_rel_err);
  }
}

/* The value kinds do what the spec says they do. */
Test(library, value_kinds_reach_their_edges, .timeout = 60) {
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

Test(library, tolerance_allows_flush_and_nothing_more, .timeout = 60) {
  em_close_report rep;
  cr_expect(direct_run(flush_to_zero, spec_case("tiny values"), 7, &rep), "flushing subnormal results must pass: %lld mismatches",
            (long long)rep.mismatches);
  cr_expect(!direct_run(one_ulp_high, spec_case("m=31 n=33"), 7, &rep), "two ulps off must fail (one rounding is the budget)");
  cr_expect(!direct_run(bfloat16, spec_case("m=31 n=33"), 7, &rep), "bfloat16 arithmetic must fail");
}

/* ---- the checker: the reference solution -------------------------------------------------------- */

Test(solution, passes_cpu_track_at_several_seeds, .timeout = 200) {
  static const char *const seeds[] = {"7", "1", "20"};
  for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; ++s) {
    const char *json = t_str("%s/results.json", t_tmpdir());
    t_proc p;
    t_checker(&p, 60, L3_SOLUTION, json, "--track", "cpu", "--no-timing", "--seed", seeds[s], NULL);
    t_assert_exit(&p, 0);
    t_assert_output_has(&p, " 0 failed");
    json_t *root = t_load_json(json);
    cr_expect_eq(json_integer_value(json_object_get(root, "lab")), 3);
    cr_expect_str_eq(t_json_str(root, "name"), "relu_mul");
    json_t *cases = json_object_get(root, "cases");
    cr_assert_eq((int)json_array_size(cases), spec_cases(EM_TRACK_CPU), "one result per CPU case");
    const em_lab *lab = lab3();
    for (int i = 0; i < lab->ncases; ++i) {
      const em_case *sc = &lab->cases[i];
      if (!runs_on(sc, EM_TRACK_CPU)) continue;
      json_t *c = t_get_case(root, "cpu", 'a', sc->name);
      cr_expect_str_eq(t_json_str(c, "status"), "pass", "seed %s, case \"%s\": %s", seeds[s], sc->name, t_json_str(c, "reason"));
      cr_expect_str_eq(t_json_str(c, "shape"), t_str("m=%lld n=%lld", (long long)sc->dim[0], (long long)sc->dim[1]));
      cr_expect_eq(t_json_num(c, "rtol"), 0x1p-23);
      cr_expect_eq(t_json_num(c, "atol"), FLT_MIN);
    }
    json_decref(root);
    t_proc_free(&p);
  }
}

/* One timed case: the byte and FLOP counts reach results.json. */
Test(solution, timed_case_counts, .timeout = 120) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, L3_SOLUTION, json, "--track", "cpu", "--case", "m=31 n=33", "--budget", "0.02", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, "cpu", 'a', "m=31 n=33");
  cr_expect_eq(t_json_num(c, "bytes"), 4.0 * (33 + 31 + 31 * 33));
  cr_expect_eq(t_json_num(c, "flops"), 2.0 * 31 * 33);
  cr_expect(t_json_num(c, "time_ms") > 0 && t_json_num(c, "speedup_vs_naive") > 0);
  json_decref(root);
  t_proc_free(&p);
}

Test(solution, cuda_track_skips_or_passes, .timeout = 300) {
  em_cuda_device dev;
  int have_gpu = em_cuda_probe(&dev) == EM_OK;
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L3_SOLUTION, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  json_t *cases = json_object_get(root, "cases"), *c;
  cr_assert_eq((int)json_array_size(cases), spec_cases(EM_TRACK_CUDA));
  size_t i;
  json_array_foreach(cases, i, c)
      cr_expect_str_eq(t_json_str(c, "status"), have_gpu ? "pass" : "skip", "case \"%s\": %s", t_json_str(c, "name"),
                       t_json_str(c, "reason"));
  json_decref(root);
  t_proc_free(&p);
}

/* An instructor's hidden case for lab 3: two dims and a value kind by name. */
Test(solution, hidden_case, .timeout = 60) {
  const char *cases = t_str("%s/cases.json", t_tmpdir());
  t_write_file(cases, "{\"cases\": [{\"lab\": 3, \"part\": \"a\", \"name\": \"h\", \"dims\": [37, 1031], \"values\": \"tiny\"},"
                      " {\"lab\": 3, \"part\": \"a\", \"name\": \"h2\", \"dims\": [2, 3], \"values\": \"x_negative\"}]}");
  const char *json = t_str("%s/r.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, L3_SOLUTION, json, "--track", "cpu", "--no-timing", "--cases", cases, "--hidden-only", NULL);
  t_assert_exit(&p, 0);
  cr_expect(strstr(p.out, "1031") == NULL, "a hidden shape is not printed:\n%s", p.out);
  t_proc_free(&p);

  t_write_file(cases, "{\"cases\": [{\"lab\": 3, \"part\": \"a\", \"name\": \"h\", \"dims\": [5]}]}");
  t_checker(&p, 50, L3_SOLUTION, json, "--track", "cpu", "--no-timing", "--cases", cases, NULL);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "dims");
  t_proc_free(&p);

  t_write_file(cases, "{\"cases\": [{\"lab\": 3, \"part\": \"a\", \"name\": \"h\", \"dims\": [0, 5]}]}");
  t_checker(&p, 50, L3_SOLUTION, json, "--track", "cpu", "--no-timing", "--cases", cases, NULL);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "at least 1");
  t_proc_free(&p);
}

/* ---- the untouched skeleton ---------------------------------------------------------------------- */

/* The line of the n-th EM_TODO call in a file (1-based), or 0. */
static int todo_line(const char *path, int nth) {
  char *text = t_read_file(path, NULL);
  cr_assert(text != NULL, "cannot read %s", path);
  int line = 1, seen = 0, found = 0;
  for (char *p = text; *p && !found; ++p) {
    if (*p == '\n') line++;
    else if (strncmp(p, "EM_TODO(", 8) == 0 && (p == text || p[-1] != '_') && ++seen == nth) found = line;
  }
  free(text);
  return found;
}

Test(skeleton, fails_pointing_at_the_todo, .timeout = 120) {
  int line = todo_line(L3_C, 1);
  cr_assert(line > 0 && todo_line(L3_C, 2) == 0, "the CPU skeleton has one EM_TODO");
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, L3_SKELETON, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, t_str("%s:%d: TODO not done yet", L3_C, line));
  t_assert_output_has(&p, t_str("0 passed, %d failed", spec_cases(EM_TRACK_CPU)));
  json_t *root = t_load_json(json);
  json_t *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    cr_expect_str_eq(t_json_str(c, "status"), "fail", "case \"%s\"", t_json_str(c, "name"));
    cr_expect(strstr(t_json_str(c, "hint"), t_str("relu_mul.c:%d", line)) != NULL, "hint: %s", t_json_str(c, "hint"));
    cr_expect_eq(json_integer_value(json_object_get(c, "unwritten")), json_integer_value(json_object_get(c, "mismatches")),
                 "nothing written");
  }
  json_decref(root);
  t_proc_free(&p);
}

Test(skeleton, cuda_track_points_at_the_todo, .timeout = 300) {
  t_need_gpu();
  int line = todo_line(L3_CU, 1);
  cr_assert(line > 0);
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L3_SKELETON, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, t_str("%s:%d: TODO not done yet", L3_CU, line));
  t_assert_output_has(&p, t_str("0 passed, %d failed", spec_cases(EM_TRACK_CUDA)));
  t_proc_free(&p);
}

/* ---- planted wrong implementations ------------------------------------------------------------
 * Each model writes what its planted file writes (leaving unwritten elements alone). */

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

typedef struct planted {
  char bug[32];       /* tests/planted/lab3/<bug>.c or .cu */
  char track[8];      /* "cpu" or "cuda" */
  char name[24];      /* the case to look at closely (it must fail) */
  int model;          /* what the planted code writes: an index into models[] */
  int unwritten;      /* 1: that case has unwritten elements */
  char good[4][24];   /* cases it gets right: they must pass */
  char expect[3][96]; /* in the output of the full run */
} planted;

/* The one folder --dump made for a one-case run. */

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

static void check_planted(const planted *t) {
  int cuda = strcmp(t->track, "cuda") == 0;
  const char *bin = t_str(L3_PLANTED_DIR "%s%s/em-check", t->bug, cuda ? ".cu" : "");
  const char *tmp = t_tmpdir(), *json = t_str("%s/results.json", tmp);
  t_proc p;

  /* The whole track: it fails, with the diagnostics its mistake deserves. */
  t_checker(&p, 280, bin, json, "--track", t->track, "--no-timing", "--seed", "7", NULL);
  t_assert_exit(&p, 1);
  for (int k = 0; k < 3; ++k)
    if (t->expect[k][0]) t_assert_output_has(&p, t->expect[k]);
  json_t *root = t_load_json(json);
  for (int k = 0; k < 4 && t->good[k][0]; ++k) {
    json_t *c = t_get_case(root, t->track, 'a', t->good[k]);
    cr_expect_str_eq(t_json_str(c, "status"), "pass", "%s gets \"%s\" right: %s", t->bug, t->good[k], t_json_str(c, "reason"));
  }
  json_t *c = t_get_case(root, t->track, 'a', t->name);
  cr_assert_str_eq(t_json_str(c, "status"), "fail", "%s: case \"%s\": %s", t->bug, t->name, t_json_str(c, "reason"));
  long long unwritten = json_integer_value(json_object_get(c, "unwritten"));
  cr_expect(t->unwritten ? unwritten > 0 : unwritten == 0, "%s: %lld elements unwritten", t->bug, unwritten);
  json_t *fm = json_object_get(c, "first_mismatch");
  cr_assert(json_is_object(fm), "%s: no first_mismatch (reason: %s)", t->bug, t_json_str(c, "reason"));
  long long first = json_integer_value(json_object_get(fm, "index"));
  const char *reason = t_json_str(c, "reason");
  cr_expect(strstr(reason, t_str("first at [%lld]", first)) != NULL, "reason: %s", reason);
  json_decref(root);
  t_proc_free(&p);

  /* The case again, dumped: the planted code wrote what the model says, and the first element the
   * tolerance rejects is the one the checker named. */
  const char *dump = t_str("%s/dump", tmp);
  t_checker(&p, 100, bin, t_str("%s/r2.json", tmp), "--track", t->track, "--no-timing", "--seed", "7", "--case", t->name,
            "--dump", dump, NULL);
  t_assert_exit(&p, 1);
  t_proc_free(&p);
  const em_case *sc = spec_case(t->name);
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
    cr_assert(same, "%s on \"%s\": z[%lld] = %.9g (0x%08x), the model says %.9g (0x%08x)", t->bug, t->name, (long long)k,
              got[k], a, model[k], b);
  }
  em_close_report rep;
  cr_assert(!em_allclose_f32(model, want, N, 0x1p-23, FLT_MIN, &rep), "the model of %s passes \"%s\"", t->bug, t->name);
  cr_expect_eq(first, rep.first_index, "%s: the checker named [%lld], the first element outside the tolerance is [%lld]",
               t->bug, first, (long long)rep.first_index);
  free(x), free(y), free(got), free(want), free(model);
}

ParameterizedTestParameters(planted, cpu) {
  static planted table[] = {
      {"relu_inputs", "cpu", "m=31 n=33", RELU_INPUTS, 0, {""}, {"elements of z wrong", "(error ", ", allowed "}},
      {"relu_inputs", "cpu", "x negative", RELU_INPUTS, 0, {""}, {"elements of z wrong", "", ""}},
      {"missing_relu", "cpu", "m=31 n=33", MISSING_RELU, 0, {""}, {"elements of z wrong", "(error ", ""}},
      {"missing_relu", "cpu", "tiny values", MISSING_RELU, 0, {""}, {"", "", ""}},
      {"swapped_axes", "cpu", "m=3 n=5", SWAPPED_AXES, 0, {"m=1 n=1", "m=1 n=1000", "m=1000 n=1"}, {"elements of z wrong", "", ""}},
      {"swapped_axes", "cpu", "m=32 n=32", SWAPPED_AXES, 0, {""}, {"", "", ""}},
      {"tail_not_written", "cpu", "m=31 n=33", TAIL8, 1, {"m=32 n=32", "m=1 n=1000", "m=1025 n=1024", "m=n=4096"},
       {"got never written", "check the loop bound", "no element of z was written"}},
  };
  return cr_make_param_array(planted, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(planted *t, planted, cpu, .timeout = 300) { check_planted(t); }

ParameterizedTestParameters(planted, cuda) {
  static planted table[] = {
      {"relu_inputs", "cuda", "m=31 n=33", RELU_INPUTS, 0, {""}, {"elements of z wrong", "(error ", ""}},
      {"missing_relu", "cuda", "m=31 n=33", MISSING_RELU, 0, {""}, {"elements of z wrong", "(error ", ""}},
      {"swapped_axes", "cuda", "m=3 n=5", SWAPPED_AXES, 0, {"m=1 n=1", "m=1 n=1000", "m=1000 n=1"}, {"elements of z wrong", "", ""}},
      {"tail_not_written", "cuda", "m=31 n=33", TAIL4, 1, {"m=32 n=32", "m=1 n=1000", "m=1025 n=1024", "m=n=16384"},
       {"got never written", "no element of z was written", ""}},
  };
  return cr_make_param_array(planted, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(planted *t, planted, cuda, .timeout = 300) {
  t_need_gpu();
  check_planted(t);
}

/* gridDim.y = m: refused for every m > 65535 (an error of the launch, with its hint), and a launch
 * error is not sticky: the other cases still run and pass. */
Test(planted, cuda_grid_y_beyond_limit, .timeout = 300) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L3_PLANTED_DIR "grid_y_rows.cu/em-check", json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "lab3_relu_mul_cuda: invalid");
  t_assert_output_has(&p, "check the launch");
  json_t *root = t_load_json(json);
  const em_lab *lab = lab3();
  int beyond = 0;
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *sc = &lab->cases[i];
    if (!runs_on(sc, EM_TRACK_CUDA)) continue;
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
Test(planted, cuda_misaligned_float4, .timeout = 300) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L3_PLANTED_DIR "misaligned_float4.cu/em-check", json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "misaligned address");
  json_t *root = t_load_json(json);
  cr_expect_str_eq(t_json_str(t_get_case(root, "cuda", 'a', "m=1 n=1000"), "status"), "pass");
  cr_expect_str_eq(t_json_str(t_get_case(root, "cuda", 'a', "m=1000 n=1"), "status"), "pass");
  cr_expect_str_eq(t_json_str(t_get_case(root, "cuda", 'a', "m=3 n=5"), "status"), "error");
  json_t *later = t_get_case(root, "cuda", 'a', "m=31 n=33");
  cr_expect_str_eq(t_json_str(later, "status"), "skip");
  cr_expect(strstr(t_json_str(later, "reason"), "earlier CUDA error") != NULL, "reason: %s", t_json_str(later, "reason"));
  json_decref(root);
  t_proc_free(&p);
}

/* The CUDA planted files define only the CUDA function: the CPU one is reported missing, by name. */
Test(planted, missing_function_is_named, .timeout = 60) {
  const char *bin = L3_PLANTED_DIR "missing_relu.cu/em-check";
  if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  t_proc p;
  t_checker(&p, 50, bin, t_str("%s/r.json", t_tmpdir()), "--track", "cpu", "--no-timing", "--case", "m=3 n=5", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "lab3_relu_mul is not defined in labs/lab3-relu-mul/relu_mul.c");
  t_proc_free(&p);
}

/* Unfused (a temporary and two passes): right everywhere, and slower than the reference at the
 * speed case, where it moves three times the bytes and faults in a fresh buffer: only part of the
 * performance points. The margin is wide (the model says 3x or more; the test asks for 1.5x), as
 * this machine may be busy. */
Test(planted, unfused_loses_performance_points, .timeout = 300) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L3_PLANTED_DIR "unfused/em-check", json, "--track", "cpu", "--case", "m=n=8192", "--budget", "0.05", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  const em_case *sc = spec_case("m=n=8192");
  json_t *c = t_get_case(root, "cpu", 'a', "m=n=8192");
  cr_assert_str_eq(t_json_str(c, "status"), "pass", "correct results pass: %s", t_json_str(c, "reason"));
  double s = t_json_num(c, "speedup_vs_ref");
  cr_expect(s > 0 && s < 1.0 / 1.5, "three passes and a fresh buffer, yet speedup_vs_ref %g", s);
  double perf = t_json_num(json_object_get(c, "score"), "points") - sc->points;
  cr_expect(perf < sc->perf_points && perf > 0, "performance points %g of %g", perf, sc->perf_points);
  json_decref(root);
  t_proc_free(&p);

  /* And it is right on every case. */
  t_checker(&p, 280, L3_PLANTED_DIR "unfused/em-check", json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass at the speed of the work. Here the
 * work is memory-bound and the hash of x and y costs nothing beside writing z, so a plain loop may
 * earn full points; a skipped call would run thousands of times the reference's speed. */
Test(planted, fingerprint_gains_nothing, .timeout = 300) {
  t_expect_no_gain_from_reuse(3, L3_PLANTED_DIR "fingerprint/em-check", "cpu", T_REUSE_NO_SKIP);
}

Test(planted, fingerprint_gains_nothing_cuda, .timeout = 300) {
  t_need_gpu();
  const char *bin = L3_PLANTED_DIR "fingerprint.cu/em-check";
  if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  t_expect_no_gain_from_reuse(3, bin, "cuda", T_REUSE_NO_SKIP);
}
