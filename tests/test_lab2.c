/* Lab 2 (outer add) end to end: its spec, the reference solution, the untouched skeleton and the
 * planted wrong implementations of tests/planted/lab2/, run as the real em-check binaries and
 * judged by their exit status, their output and results.json (the scaffold every lab's suite
 * shares: tests/helpers.h).
 */
#include <math.h>
#include <stdint.h>

#include "helpers.h"

/* ---- the spec ------------------------------------------------------------------------------------ */

T_SPEC_SUITE(2, 30, "outer_add", "lab2-outer-add", .parts = "ab", .dims = "m n",
             .fresh_mode = EM_FRESH_ROWS, .fits_table = 1)

/* The table's columns are 16 characters for the case and 14 for the shape (harness/report.c): a
 * longer shape is cut off, and "m=2097153 n=130" would show as "m=2097153 n=13". */
Test(lab2_spec, case_shapes_fit_the_table) {
  const em_lab *lab = t_lab(2);
  for (int i = 0; i < lab->ncases; ++i) {
    /* The GPU speed case's shape is fixed by the course (16384 x 16384) and is one character too
     * wide; its name says it in full. */
    char shape[64];
    em_case_shape(lab, &lab->cases[i], shape, sizeof shape);
    if (strcmp(lab->cases[i].name, "16384x16384") != 0)
      cr_expect(strlen(shape) <= 14, "shape \"%s\" of \"%s\" is longer than the table's column", shape, lab->cases[i].name);
  }
}

/* Swapped axes (x[i] + y[j]) must fail every correctness case: m ≠ n everywhere but the speed
 * cases, which are square on purpose (the shapes the bars are quoted for). */
Test(lab2_spec, every_case_but_speed_is_not_square) {
  const em_lab *lab = t_lab(2);
  int perf_cpu = 0, perf_gpu = 0;
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (c->perf_points <= 0) {
      cr_expect(c->dim[0] != c->dim[1], "case (%c) \"%s\" is square: swapped axes would pass it", c->part, c->name);
      continue;
    }
    perf_cpu += t_runs_on(c, EM_TRACK_CPU);
    perf_gpu += t_runs_on(c, EM_TRACK_CUDA);
  }
  cr_expect(perf_cpu == 1 && perf_gpu == 1, "one speed case per track (cpu %d, cuda %d)", perf_cpu, perf_gpu);
  const em_case *g = t_spec_case(2, 'b', "16384x16384");
  cr_expect_eq(g->dim[0] * g->dim[1] * 4, (int64_t)1 << 30, "the GPU speed case writes 1 GiB");
}

Test(lab2_spec, byte_and_flop_counts) {
  const em_lab *lab = t_lab(2);
  const em_case *c = t_spec_case(2, 'b', "m=33 n=31");
  cr_expect_eq(lab->flops(c), 33.0 * 31, "one addition per element of z");
  cr_expect_eq(lab->bytes(c), 4.0 * (31 + 33 + 33 * 31), "x and y read once, z written once");
}

Test(lab2_spec, part_a_is_one_block) {
  const em_lab *lab = t_lab(2);
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

/* ---- the reference solution ---------------------------------------------------------------------- */

TestSuite(lab2_solution, .timeout = 400);

Test(lab2_solution, passes_cpu_track) {
  json_t *root = t_check_solution(2, "cpu", NULL);
  json_t *c = t_get_case(root, "cpu", 'b', "m=33 n=31");
  cr_expect_eq(t_json_num(c, "rtol"), 0x1p-23);
  cr_expect(t_json_num(c, "atol") > 0);
  json_decref(root);
}

/* Other thread counts split z differently (slices that start mid-row, more threads than rows), and
 * the tolerance is derived, not tuned to one set of inputs: the reference passes at every seed. */
Test(lab2_solution, passes_at_other_seeds_and_thread_counts) {
  static const char *const runs[][4] = {
      {"--threads", "1"}, {"--threads", "3"}, {"--threads", "7"}, {"--seed", "1"}, {"--seed", "2"}, {"--seed", "3"},
      {"--seed", "4"}, {"--seed", "5"}, {"--seed", "6"}, {"--seed", "7"}, {"--seed", "8"}, {"--seed", "9"},
      {"--seed", "10"}, {"--seed", "11"}, {"--seed", "12"}, {"--seed", "13"}, {"--seed", "14"}, {"--seed", "15"},
      {"--seed", "16"}, {"--seed", "17"}, {"--seed", "18"}, {"--seed", "19"}, {"--seed", "20"}};
  t_solution_passes_with(2, runs, T_COUNT(runs));
}

Test(lab2_solution, timed_case_counts_bytes) { t_check_timed_case(2, 'b', "m=33 n=31", 4.0 * (31 + 33 + 33 * 31), 33.0 * 31); }

Test(lab2_solution, cuda_track_skips_or_passes) { json_decref(t_check_solution(2, "cuda", NULL)); }

/* z is dumped as the 2-D array it is: shape (m, n), row-major, z[i][j] = x[j] + y[i]. */
Test(lab2_solution, dump_is_two_dimensional) {
  const char *tmp = t_tmpdir(), *dump = t_str("%s/dump", tmp);
  t_proc p;
  t_checker(&p, 50, t_solution_bin(2), t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--part", "a", "--case",
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

/* ---- the untouched skeleton: fails, and says where the work is ----------------------------------- */

TestSuite(lab2_skeleton, .timeout = 300);

Test(lab2_skeleton, fails_pointing_at_the_todos) {
  json_t *root = t_check_skeleton(2, "cpu", NULL);
  cr_expect_eq(json_integer_value(json_object_get(t_get_case(root, "cpu", 'b', "primes wide"), "mismatches")), 257 * 4099);
  json_decref(root);
}

Test(lab2_skeleton, cuda_track_points_at_the_todos) { json_decref(t_check_skeleton(2, "cuda", NULL)); }

/* ---- planted wrong implementations (tests/planted/lab2/) ----------------------------------------- */

/* Indices are flat, row-major: [i * n + j]. For m = 2, n = 3 swapped axes first differ at [1]
 * (z[0][0] = x[0] + y[0] either way), and z[1][1] is right too: 4 of 6 wrong. first_block_only
 * writes 32 rows and 32 columns: m = 33, n = 31 first misses row 32, [32 * 31] = [992], and
 * m = 31, n = 33 column 32, [32]; dropped_tail writes 24 of 31 columns; row_stride puts row 1 of
 * m = 2 at [2], over row 0's last element, and never writes [5]. The first failing case of a run
 * is the one printed in full, the others of the same kind only named. Some runs take one part or
 * one case: the others would read or write beyond the checker's guards. */
static t_planted lab2_planted_files[] = {
    {.bug = "swapped_axes", .track = "cpu", .args = {"--part", "a"}, .fails = "m=2 n=3", .first = 1, .all_fail = 1,
     .expect = {"4 of 6 elements of z wrong; first at [1]", "(error ", ", allowed "}},
    {.bug = "swapped_axes", .track = "cpu", .args = {"--part", "b", "--case", "m=33 n=31"}, .part = 'b',
     .fails = "m=33 n=31", .first = 1, .all_fail = 1, .expect = {"first at [1]"}},
    {.bug = "first_block_only", .track = "cpu", .part = 'b', .fails = "m=33 n=31", .first = 992, .unwritten = 1,
     .good_part = 'a', .expect = {"first at [992]", "never written", "the first elements were written, later ones not"}},
    {.bug = "first_block_only", .track = "cpu", .args = {"--part", "b", "--case", "m=31 n=33"}, .part = 'b',
     .fails = "m=31 n=33", .first = 32, .unwritten = 1, .expect = {"first at [32]"}},
    {.bug = "dropped_tail", .track = "cpu", .part = 'b', .fails = "m=33 n=31", .first = 24, .unwritten = 1,
     .good_part = 'a', .expect = {"first at [24]", "no element of z was written"}},
    {.bug = "row_stride", .track = "cpu", .fails = "m=2 n=3", .first = 2, .unwritten = 1, .good_part = 'b',
     .expect = {"wrote past the end of z (", "guard every store"}},
    {.bug = "swapped_axes", .track = "cuda", .args = {"--part", "a"}, .fails = "m=2 n=3", .first = 1, .all_fail = 1,
     .expect = {"4 of 6 elements of z wrong; first at [1]"}},
    {.bug = "first_block_only", .track = "cuda", .part = 'b', .fails = "m=33 n=31", .first = 992, .unwritten = 1,
     .good_part = 'a', .expect = {"first at [992]", "never written"}},
    {.bug = "first_block_only", .track = "cuda", .args = {"--part", "b", "--case", "m=31 n=33"}, .part = 'b',
     .fails = "m=31 n=33", .first = 32, .unwritten = 1, .expect = {"first at [32]"}},
    /* m = 1 (and m = 2^21 + 1: 262144 rows of blocks) is a launch CUDA refuses ("invalid argument"
     * in CUDA 13, "invalid configuration argument" before). */
    {.bug = "grid_no_roundup", .track = "cuda", .part = 'b', .fails = "m=33 n=31", .first = 992, .unwritten = 1,
     .good_part = 'a', .expect = {"first at [992]", "lab2_outer_add_b_cuda: invalid", "check the launch"}},
    {.bug = "no_row_guard", .track = "cuda", .args = {"--part", "a"}, .fails = "m=2 n=3", .first = T_NO_MISMATCH,
     .reason = "wrote past the end of z", .kind = "past_end", .expect = {"wrote past the end of z (", "guard every store"}},
};

T_PLANTED_SUITE(2)

/* A float4 store to a row that does not start 16-byte aligned is a CUDA error, which leaves the
 * context unusable: that case is an error naming it, the later CUDA cases are skipped saying why. */
Test(lab2_planted, cuda_misaligned_float4) {
  static const char *const passes[3] = {"m=1 n=3", "", ""}; /* n < 4: no float4 at all */
  t_check_cuda_error(2, "vec4_unaligned", 'b', "m=33 n=31", "lab2_outer_add_b_cuda: misaligned address", "m=31 n=33", 'a',
                     passes);
}

Test(lab2_planted, missing_function_is_named) { t_check_missing_function(2, "first_block_only"); }

/* Correct but with the loops in the wrong order for the memory: it passes, with a speedup far below
 * 1 and only part of the performance points. The margin: the planted code runs about twenty times
 * the reference's time on the course VM; the test asks for less than half. */
Test(lab2_planted, column_order_loses_performance_points) {
  t_check_loses_perf_points(2, "column_order", 'b', "4096x4096", 0.5);
}

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass at the speed of the work. Here the
 * work is memory-bound and the hash of x and y costs nothing beside writing z, so a plain loop may
 * earn full points; a skipped call would run thousands of times the reference's speed. */
Test(lab2_planted, fingerprint_gains_nothing) { t_check_fingerprint(2, "cpu", T_REUSE_NO_SKIP); }
Test(lab2_planted, fingerprint_gains_nothing_cuda) { t_check_fingerprint(2, "cuda", T_REUSE_NO_SKIP); }

/* ---- hidden cases: validated against the lab's rules, with a message that says which ------------- */

TestSuite(lab2_hidden, .timeout = 120);

Test(lab2_hidden, rules_apply) {
  t_check_hidden_refused(2, "{\"cases\": [{\"lab\": 2, \"part\": \"a\", \"name\": \"h\", \"dims\": [33, 4]}]}",
                         "m ≤ 32 and n ≤ 32");
  t_check_hidden_refused(2, "{\"cases\": [{\"lab\": 2, \"part\": \"b\", \"name\": \"h\", \"dims\": [5]}]}", "dims");
  t_check_hidden_passes(
      2, "{\"cases\": [{\"lab\": 2, \"part\": \"b\", \"name\": \"h\", \"dims\": [12345, 7], \"hidden\": true}]}", "12345");
}
