/* Lab 2 (outer add) end to end: its spec, the reference solution, the untouched skeleton and the
 * planted wrong implementations of tests/planted/lab2/, run as the real em-check binaries and
 * judged by their exit status, their output and results.json.
 *
 * Correctness runs use --no-timing, the peaks cache under build/ and a temporary results file, as
 * in test_checker.c.
 */
#include <math.h>
#include <stdint.h>

#include "checker.h" /* em_case_shape */
#include "helpers.h"

#define L2_SOLUTION EM_BUILD_DIR "/tests/solution/lab2/em-check"
#define L2_SKELETON EM_BUILD_DIR "/tests/skeleton/lab2/em-check"
#define L2_PLANTED(bug) EM_BUILD_DIR "/tests/planted/lab2/" bug "/em-check"
#define L2_SKELETON_C "labs/lab2-outer-add/outer_add.c"

/* ---- what the lab spec says ----------------------------------------------------------------- */

static const em_lab *lab2(void) { return t_lab(2); }
static int runs_on(const em_case *c, const char *track) { return t_runs_on(c, t_track(track)); }
static int spec_cases(const char *track, char part) { return t_spec_count(2, t_track(track), part); }
static const em_case *spec_case(char part, const char *name) { return t_spec_case(2, part, name); }
static int json_ncases(json_t *root) { return t_json_ncases(root); }

static void expect_all_status(json_t *root, const char *track, char part, const char *want) {
  json_t *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    if (strcmp(t_json_str(c, "track"), track) != 0) continue;
    if (part && t_json_str(c, "part")[0] != part) continue;
    cr_expect_str_eq(t_json_str(c, "status"), want, "case (%s) \"%s\" on %s: status %s, want %s (reason: %s)",
                     t_json_str(c, "part"), t_json_str(c, "name"), track, t_json_str(c, "status"), want,
                     t_json_str(c, "reason"));
  }
}

static int todo_lines(const char *path, int *lines, int max) { return t_todo_lines(path, lines, max); }

/* The table's columns are 16 characters for the case and 14 for the shape (harness/report.c): a
 * longer name or shape is cut off, and "m=2097153 n=130" would show as "m=2097153 n=13". */
Test(spec, cases_are_valid_and_fit_the_table) {
  const em_lab *lab = lab2();
  cr_expect_str_eq(lab->name, "outer_add");
  cr_expect_str_eq(lab->folder, "lab2-outer-add");
  cr_expect_eq(lab->ndims, 2);
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    cr_expect(lab->invalid(c) == NULL, "case (%c) \"%s\" is invalid: %s", c->part, c->name, lab->invalid(c));
    cr_expect(strlen(c->name) <= 16, "case name \"%s\" is longer than the table's column", c->name);
    /* The GPU speed case's shape is fixed by the course (16384 x 16384) and is one character too
     * wide; its name says it in full. */
    char shape[64];
    em_case_shape(lab, c, shape, sizeof shape);
    if (strcmp(c->name, "16384x16384") != 0)
      cr_expect(strlen(shape) <= 14, "shape \"%s\" of \"%s\" is longer than the table's column", shape, c->name);
    cr_expect(c->points > 0, "case \"%s\" is worth points", c->name);
    for (int k = 0; k < i; ++k)
      cr_expect(!(lab->cases[k].part == c->part && strcmp(lab->cases[k].name, c->name) == 0),
                "two cases of part (%c) are called \"%s\"", c->part, c->name);
  }
}

/* Swapped axes (x[i] + y[j]) must fail every correctness case: m ≠ n everywhere but the speed
 * cases, which are square on purpose (the shapes the bars are quoted for). */
Test(spec, every_case_but_speed_is_not_square) {
  const em_lab *lab = lab2();
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (c->perf_points > 0) continue;
    cr_expect(c->dim[0] != c->dim[1], "case (%c) \"%s\" is square: swapped axes would pass it", c->part, c->name);
  }
  int perf_cpu = 0, perf_gpu = 0;
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (c->perf_points <= 0) continue;
    perf_cpu += runs_on(c, "cpu");
    perf_gpu += runs_on(c, "cuda");
  }
  cr_expect(perf_cpu == 1 && perf_gpu == 1, "one speed case per track (cpu %d, cuda %d)", perf_cpu, perf_gpu);
  const em_case *g = spec_case('b', "16384x16384");
  cr_expect_eq(g->dim[0] * g->dim[1] * 4, (int64_t)1 << 30, "the GPU speed case writes 1 GiB");
}

Test(spec, byte_and_flop_counts) {
  const em_lab *lab = lab2();
  const em_case *c = spec_case('b', "m=33 n=31");
  cr_expect_eq(lab->flops(c), 33.0 * 31, "one addition per element of z");
  cr_expect_eq(lab->bytes(c), 4.0 * (31 + 33 + 33 * 31), "x and y read once, z written once");
}

Test(spec, part_a_is_one_block) {
  const em_lab *lab = lab2();
  em_case c = {.part = 'a', .dim = {32, 32}};
  cr_expect(lab->invalid(&c) == NULL, "32 x 32 is one block");
  c.dim[0] = 33;
  cr_expect(lab->invalid(&c) != NULL, "m = 33 is more than one block");
  c.dim[0] = 1, c.dim[1] = 33;
  cr_expect(lab->invalid(&c) != NULL, "n = 33 is more than one block");
  c.part = 'b';
  cr_expect(lab->invalid(&c) == NULL, "part (b) takes any size");
  c.dim[1] = 0;
  cr_expect(lab->invalid(&c) != NULL, "n = 0 is refused");
  c.dim[0] = (int64_t)1 << 30, c.dim[1] = (int64_t)1 << 30;
  cr_expect(lab->invalid(&c) != NULL, "m·n = 2^60 is refused");
}

/* ================================================================================================
 * The reference solution.
 */

Test(solution, passes_cpu_track, .timeout = 120) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, L2_SOLUTION, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, " 0 failed");
  json_t *root = t_load_json(json);
  cr_expect(json_integer_value(json_object_get(root, "lab")) == 2, "\"lab\" must be 2");
  cr_expect_str_eq(t_json_str(root, "name"), "outer_add");
  cr_assert_eq(json_ncases(root), spec_cases("cpu", 0), "one result per CPU case of the spec");
  const em_lab *lab = lab2();
  double total = 0;
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *sc = &lab->cases[i];
    if (!runs_on(sc, "cpu")) continue;
    json_t *c = t_get_case(root, "cpu", sc->part, sc->name);
    cr_expect_str_eq(t_json_str(c, "status"), "pass", "case (%c) \"%s\": %s", sc->part, sc->name, t_json_str(c, "reason"));
    cr_expect_str_eq(t_json_str(c, "shape"), t_str("m=%lld n=%lld", (long long)sc->dim[0], (long long)sc->dim[1]));
    cr_expect_eq(t_json_num(c, "rtol"), 0x1p-23);
    cr_expect(t_json_num(c, "atol") > 0);
    cr_expect_eq(t_json_num(json_object_get(c, "score"), "points"), sc->points);
    total += sc->points;
  }
  cr_expect_eq(t_json_num(json_object_get(root, "score"), "points"), total);
  json_decref(root);
  t_proc_free(&p);
}

/* Other thread counts split z differently (slices that start mid-row, more threads than rows). */
Test(solution, passes_with_odd_thread_counts, .timeout = 120) {
  static const char *const threads[] = {"1", "3", "7"};
  for (size_t k = 0; k < sizeof threads / sizeof threads[0]; ++k) {
    const char *json = t_str("%s/results.json", t_tmpdir());
    t_proc p;
    t_checker(&p, 100, L2_SOLUTION, json, "--track", "cpu", "--no-timing", "--threads", threads[k], NULL);
    t_assert_exit(&p, 0);
    t_proc_free(&p);
  }
}

/* The tolerance is derived, not tuned to one set of inputs: the reference passes at every seed. */
ParameterizedTestParameters(solution, passes_at_every_seed) {
  static int seeds[20];
  for (int i = 0; i < 20; ++i) seeds[i] = i + 1;
  return cr_make_param_array(int, seeds, 20);
}

ParameterizedTest(int *seed, solution, passes_at_every_seed, .timeout = 120) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, L2_SOLUTION, json, "--track", "cpu", "--no-timing", "--seed", t_str("%d", *seed), NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

Test(solution, timed_case_counts_bytes, .timeout = 120) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, L2_SOLUTION, json, "--track", "cpu", "--case", "m=33 n=31", "--budget", "0.02", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  cr_assert_eq(json_ncases(root), 1);
  json_t *c = t_get_case(root, "cpu", 'b', "m=33 n=31");
  double t = t_json_num(c, "time_ms"), bytes = t_json_num(c, "bytes"), gbps = t_json_num(c, "gbps");
  cr_expect_eq(bytes, 4.0 * (31 + 33 + 33 * 31));
  cr_expect_eq(t_json_num(c, "flops"), 33.0 * 31);
  cr_expect(t > 0 && gbps > 0 && fabs(gbps - bytes / (t * 1e-3) * 1e-9) <= 1e-9 * gbps, "gbps %g is not bytes / time", gbps);
  cr_expect(t_json_num(c, "speedup_vs_naive") > 0);
  json_decref(root);
  t_proc_free(&p);
}

Test(solution, cuda_track_skips_or_passes, .timeout = 300) {
  em_cuda_device dev;
  int have_gpu = em_cuda_probe(&dev) == EM_OK;
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L2_SOLUTION, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  cr_assert_eq(json_ncases(root), spec_cases("cuda", 0));
  expect_all_status(root, "cuda", 0, have_gpu ? "pass" : "skip");
  json_decref(root);
  t_proc_free(&p);
}

/* z is dumped as the 2-D array it is: shape (m, n), row-major, z[i][j] = x[j] + y[i]. */
Test(solution, dump_is_two_dimensional, .timeout = 60) {
  const char *tmp = t_tmpdir(), *dump = t_str("%s/dump", tmp);
  t_proc p;
  t_checker(&p, 50, L2_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--part", "a", "--case",
            "m=2 n=3", "--dump", dump, NULL);
  t_assert_exit(&p, 0);
  const char *dir = t_str("%s/lab2-cpu-a-m_2_n_3", dump);
  size_t len;
  const unsigned char *data[4];
  char header[4][512];
  char *buf[4];
  static const char *const names[] = {"x", "y", "z", "z_want"};
  for (int k = 0; k < 4; ++k) buf[k] = t_read_npy(t_str("%s/%s.npy", dir, names[k]), &len, &data[k], header[k], sizeof header[k]);
  cr_expect(strstr(header[0], "'shape': (3,)") != NULL, "x.npy: %s", header[0]);
  cr_expect(strstr(header[1], "'shape': (2,)") != NULL, "y.npy: %s", header[1]);
  cr_expect(strstr(header[2], "'shape': (2, 3)") != NULL, "z.npy: %s", header[2]);
  cr_expect(strstr(header[3], "'shape': (2, 3)") != NULL && strstr(header[3], "<f8") != NULL, "z_want.npy: %s", header[3]);
  float x[3], y[2], z[6];
  double want[6];
  memcpy(x, data[0], sizeof x), memcpy(y, data[1], sizeof y), memcpy(z, data[2], sizeof z), memcpy(want, data[3], sizeof want);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      cr_expect_eq(z[i * 3 + j], x[j] + y[i], "z[%d][%d] is not x[%d] + y[%d]", i, j, j, i);
      cr_expect_eq(want[i * 3 + j], (double)x[j] + (double)y[i], "z_want[%d][%d]", i, j);
    }
  for (int k = 0; k < 4; ++k) free(buf[k]);
  t_proc_free(&p);
}

/* ================================================================================================
 * The untouched skeleton: fails, and says where the work is.
 */

Test(skeleton, fails_pointing_at_the_todos, .timeout = 120) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, L2_SKELETON, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "TODO not done yet");
  int lines[4];
  cr_assert_eq(todo_lines(L2_SKELETON_C, lines, 4), 2, "the skeleton has one EM_TODO per part");
  t_assert_output_has(&p, t_str(L2_SKELETON_C ":%d:", lines[0]));
  t_assert_output_has(&p, t_str(L2_SKELETON_C ":%d:", lines[1]));
  t_assert_output_has(&p, t_str("0 passed, %d failed", spec_cases("cpu", 0)));
  json_t *root = t_load_json(json);
  expect_all_status(root, "cpu", 0, "fail");
  json_t *c = t_get_case(root, "cpu", 'b', "primes wide");
  cr_expect(strstr(t_json_str(c, "hint"), t_str("outer_add.c:%d", lines[1])) != NULL, "hint: %s", t_json_str(c, "hint"));
  cr_expect_eq(json_integer_value(json_object_get(c, "mismatches")), 257 * 4099);
  json_decref(root);
  t_proc_free(&p);
}

Test(skeleton, cuda_track_points_at_the_todos, .timeout = 300) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L2_SKELETON, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "TODO not done yet");
  t_assert_output_has(&p, "labs/lab2-outer-add/outer_add.cu:");
  json_t *root = t_load_json(json);
  expect_all_status(root, "cuda", 0, "fail");
  json_decref(root);
  t_proc_free(&p);
}

/* ================================================================================================
 * Planted wrong implementations (tests/planted/lab2/).
 */

typedef struct planted {
  char bug[32];       /* tests/planted/lab2/<bug>.c or .cu */
  char track[8];      /* "cpu" or "cuda" */
  char only[2][24];   /* --part and --case filters ("" for none): cases whose wrong reads would leave
                       * the checker's guards, or whose stray writes would */
  char part;          /* the case to look at */
  char name[24];
  long long first;    /* its first mismatching index; -2: any; -3: none (z right, written past its end) */
  int unwritten;      /* 1: some elements never written; 0: none */
  char good_part;     /* a part the file gets right: all its cases pass (0: none) */
  int all_fail;       /* every case run must fail */
  char expect[3][96]; /* in the output */
} planted;

static void check_planted(const planted *t) {
  int cuda = strcmp(t->track, "cuda") == 0;
  char bin[256];
  snprintf(bin, sizeof bin, EM_BUILD_DIR "/tests/planted/lab2/%s%s/em-check", t->bug, cuda ? ".cu" : "");
  const char *json = t_str("%s/results.json", t_tmpdir());
  const char *args[8] = {NULL};
  int na = 0;
  if (t->only[0][0]) args[na++] = "--part", args[na++] = t->only[0];
  if (t->only[1][0]) args[na++] = "--case", args[na++] = t->only[1];
  t_proc p;
  t_checker(&p, 280, bin, json, "--track", t->track, "--no-timing", args[0], args[1], args[2], args[3], NULL);
  t_assert_exit(&p, 1);
  for (int k = 0; k < 3; ++k)
    if (t->expect[k][0]) t_assert_output_has(&p, t->expect[k]);

  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, t->track, t->part, t->name);
  cr_expect_str_eq(t_json_str(c, "status"), "fail", "%s: case (%c) \"%s\": %s", t->bug, t->part, t->name,
                   t_json_str(c, "reason"));
  json_t *fm = json_object_get(c, "first_mismatch");
  if (t->first == -3) {
    cr_expect(strstr(t_json_str(c, "reason"), "wrote past the end of z") != NULL, "reason: %s", t_json_str(c, "reason"));
    cr_expect_eq(json_integer_value(json_object_get(c, "mismatches")), 0, "z itself is right");
  } else {
    cr_assert(json_is_object(fm), "%s: no first_mismatch (reason: %s)", t->bug, t_json_str(c, "reason"));
    long long at = json_integer_value(json_object_get(fm, "index"));
    if (t->first >= 0) cr_expect_eq(at, t->first, "%s: first mismatch at %lld, want %lld", t->bug, at, t->first);
    long long unwritten = json_integer_value(json_object_get(c, "unwritten"));
    cr_expect(t->unwritten ? unwritten > 0 : unwritten == 0, "%s: %lld elements unwritten", t->bug, unwritten);
    cr_expect(strstr(t_json_str(c, "reason"), t_str("first at [%lld]", at)) != NULL, "reason: %s", t_json_str(c, "reason"));
  }
  if (t->good_part) expect_all_status(root, t->track, t->good_part, "pass");
  if (t->all_fail) expect_all_status(root, t->track, 0, "fail");
  json_decref(root);
  t_proc_free(&p);
}

/* Indices are flat, row-major: [i * n + j]. For m = 2, n = 3 swapped axes first differ at [1]
 * (z[0][0] = x[0] + y[0] either way), and z[1][1] is right too: 4 of 6 wrong. first_block_only
 * writes 32 rows and 32 columns: m = 33, n = 31 first misses row 32, [32 * 31] = [992], and
 * m = 31, n = 33 column 32, [32]; dropped_tail writes 24 of 31 columns; row_stride puts row 1 of
 * m = 2 at [2], over row 0's last element, and never writes [5]. The first failing case of a run
 * is the one printed in full, the others of the same kind only named. */
ParameterizedTestParameters(planted, cpu) {
  static planted table[] = {
      {"swapped_axes", "cpu", {"a", ""}, 'a', "m=2 n=3", 1, 0, 0, 1,
       {"4 of 6 elements of z wrong; first at [1]", "(error ", ", allowed "}},
      {"swapped_axes", "cpu", {"b", "m=33 n=31"}, 'b', "m=33 n=31", 1, 0, 0, 1, {"first at [1]", "", ""}},
      {"first_block_only", "cpu", {"", ""}, 'b', "m=33 n=31", 992, 1, 'a', 0,
       {"first at [992]", "never written", "the first elements were written, later ones not"}},
      {"first_block_only", "cpu", {"b", "m=31 n=33"}, 'b', "m=31 n=33", 32, 1, 0, 0, {"first at [32]", "", ""}},
      {"dropped_tail", "cpu", {"", ""}, 'b', "m=33 n=31", 24, 1, 'a', 0,
       {"first at [24]", "no element of z was written", ""}},
      {"row_stride", "cpu", {"", ""}, 'a', "m=2 n=3", 2, 1, 'b', 0,
       {"wrote past the end of z (", "guard every store", ""}},
  };
  return cr_make_param_array(planted, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(planted *t, planted, cpu, .timeout = 300) { check_planted(t); }

ParameterizedTestParameters(planted, cuda) {
  static planted table[] = {
      {"swapped_axes", "cuda", {"a", ""}, 'a', "m=2 n=3", 1, 0, 0, 1, {"4 of 6 elements of z wrong; first at [1]", "", ""}},
      {"first_block_only", "cuda", {"", ""}, 'b', "m=33 n=31", 992, 1, 'a', 0, {"first at [992]", "never written", ""}},
      {"first_block_only", "cuda", {"b", "m=31 n=33"}, 'b', "m=31 n=33", 32, 1, 0, 0, {"first at [32]", "", ""}},
      /* m = 1 (and m = 2^21 + 1: 262144 rows of blocks) is a launch CUDA refuses ("invalid argument"
       * in CUDA 13, "invalid configuration argument" before). */
      {"grid_no_roundup", "cuda", {"", ""}, 'b', "m=33 n=31", 992, 1, 'a', 0,
       {"first at [992]", "lab2_outer_add_b_cuda: invalid", "check the launch"}},
      {"no_row_guard", "cuda", {"a", ""}, 'a', "m=2 n=3", -3, 0, 0, 0,
       {"wrote past the end of z (", "guard every store", ""}},
  };
  return cr_make_param_array(planted, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(planted *t, planted, cuda, .timeout = 300) {
  t_need_gpu();
  check_planted(t);
}

/* A float4 store to a row that does not start 16-byte aligned is a CUDA error, which leaves the
 * context unusable: that case is an error naming it, the later CUDA cases are skipped saying why. */
Test(planted, cuda_misaligned_float4, .timeout = 300) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L2_PLANTED("vec4_unaligned.cu"), json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "misaligned address");
  json_t *root = t_load_json(json);
  expect_all_status(root, "cuda", 'a', "pass");
  cr_expect_str_eq(t_json_str(t_get_case(root, "cuda", 'b', "m=1 n=3"), "status"), "pass", "n < 4: no float4 at all");
  json_t *c = t_get_case(root, "cuda", 'b', "m=33 n=31");
  cr_expect_str_eq(t_json_str(c, "status"), "error");
  cr_expect(strstr(t_json_str(c, "reason"), "lab2_outer_add_b_cuda: misaligned address") != NULL, "reason: %s",
            t_json_str(c, "reason"));
  json_t *later = t_get_case(root, "cuda", 'b', "m=31 n=33");
  cr_expect_str_eq(t_json_str(later, "status"), "skip");
  cr_expect(strstr(t_json_str(later, "reason"), "earlier CUDA error") != NULL, "reason: %s", t_json_str(later, "reason"));
  json_decref(root);
  t_proc_free(&p);
}

/* The CUDA planted files define only the CUDA functions: their checkers lack the CPU ones, which
 * are reported by name. */
Test(planted, missing_function_is_named, .timeout = 60) {
  const char *bin = L2_PLANTED("first_block_only.cu");
  if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, bin, json, "--track", "cpu", "--no-timing", "--part", "b", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "lab2_outer_add_b is not defined in labs/lab2-outer-add/outer_add.c");
  t_proc_free(&p);
}

/* Correct but with the loops in the wrong order for the memory: it passes, with a speedup far below
 * 1 and only part of the performance points. The margin: the planted code runs about twenty times
 * the reference's time on the course VM; the test asks for less than half. */
Test(planted, column_order_loses_performance_points, .timeout = 300) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, L2_PLANTED("column_order"), json, "--track", "cpu", "--case", "4096x4096", "--budget", "0.05", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  const em_case *sc = spec_case('b', "4096x4096");
  cr_assert(sc->perf_points > 0, "the speed case has performance points");
  json_t *c = t_get_case(root, "cpu", 'b', "4096x4096");
  cr_assert_str_eq(t_json_str(c, "status"), "pass", "correct results pass: %s", t_json_str(c, "reason"));
  double s = t_json_num(c, "speedup_vs_ref");
  cr_expect(s < 0.5 && s > 0, "column order, speedup_vs_ref %g", s);
  double perf = t_json_num(json_object_get(c, "score"), "points") - sc->points;
  cr_expect(perf < sc->perf_points && perf > 0, "performance points %g of %g", perf, sc->perf_points);
  json_decref(root);
  t_proc_free(&p);
}

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass at the speed of the work. Here the
 * work is memory-bound and the hash of x and y costs nothing beside writing z, so a plain loop may
 * earn full points; a skipped call would run thousands of times the reference's speed. */
Test(planted, fingerprint_gains_nothing, .timeout = 300) {
  t_expect_no_gain_from_reuse(2, L2_PLANTED("fingerprint"), "cpu", T_REUSE_NO_SKIP);
}

Test(planted, fingerprint_gains_nothing_cuda, .timeout = 300) {
  t_need_gpu();
  const char *bin = L2_PLANTED("fingerprint.cu");
  if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  t_expect_no_gain_from_reuse(2, bin, "cuda", T_REUSE_NO_SKIP);
}

/* Hidden cases are validated against the lab's rules, with a message that says which. */
Test(hidden, lab2_rules_apply, .timeout = 60) {
  const char *tmp = t_tmpdir(), *cases = t_str("%s/cases.json", tmp);
  t_write_file(cases, "{\"cases\": [{\"lab\": 2, \"part\": \"a\", \"name\": \"h\", \"dims\": [33, 4]}]}");
  t_proc p;
  t_checker(&p, 50, L2_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--cases", cases, NULL);
  t_assert_exit(&p, 2);
  cr_expect(strstr(p.err, "m ≤ 32 and n ≤ 32") != NULL, "stderr: %s", p.err);
  t_proc_free(&p);
  t_write_file(cases, "{\"cases\": [{\"lab\": 2, \"part\": \"b\", \"name\": \"h\", \"dims\": [5]}]}");
  t_checker(&p, 50, L2_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--cases", cases, NULL);
  t_assert_exit(&p, 2);
  cr_expect(strstr(p.err, "dims") != NULL, "stderr: %s", p.err);
  t_proc_free(&p);
  /* A valid hidden case runs, and its shape stays hidden. */
  t_write_file(cases, "{\"cases\": [{\"lab\": 2, \"part\": \"b\", \"name\": \"h\", \"dims\": [12345, 7], \"hidden\": true}]}");
  t_checker(&p, 50, L2_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--cases", cases,
            "--hidden-only", NULL);
  t_assert_exit(&p, 0);
  cr_expect(strstr(p.all, "12345") == NULL, "the output gives the hidden shape away:\n%s", p.all);
  t_proc_free(&p);
}
