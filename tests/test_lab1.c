/* Lab 1 (add a constant) end to end: its spec, the reference solution, the untouched skeleton and
 * the planted wrong implementations of tests/planted/lab1/, run as the real em-check binaries and
 * judged by their exit status, their output and results.json (tests/helpers.h, the scaffold every
 * lab's suite shares). What the checker does for every lab is tested in test_checker.c and
 * test_verify.c, mostly on lab 1's binaries.
 */
#include <float.h>

#include "helpers.h"

/* ---- the spec ------------------------------------------------------------------------------------ */

T_SPEC_SUITE(1, 30, "add", "lab1-add", .parts = "ab", .dims = "n", .fresh_mode = EM_FRESH_ROWS, .fits_table = 1)

/* Part (a) is one block (EM_ADD_BLOCK elements at most); part (b) any n from 1. */
Test(lab1_spec, part_a_is_one_block) {
  const em_lab *lab = t_lab(1);
  em_case c = {.part = 'a', .dim = {EM_ADD_BLOCK}};
  cr_expect(lab->invalid(&c) == NULL, "n = %d is one block", EM_ADD_BLOCK);
  c.dim[0] = EM_ADD_BLOCK + 1;
  cr_expect(lab->invalid(&c) != NULL, "n = %d is more than one block", EM_ADD_BLOCK + 1);
  c.part = 'b';
  cr_expect(lab->invalid(&c) == NULL, "part (b) takes any n");
  c.dim[0] = 0;
  cr_expect(lab->invalid(&c) != NULL, "n = 0 is refused");
}

/* z = x + c: one addition per element, x read and z written once; one float32 rounding, twice. */
Test(lab1_spec, counts_and_tolerance) {
  const em_lab *lab = t_lab(1);
  const em_case *c = t_spec_case(1, 'b', "n=1025");
  cr_expect_eq(lab->flops(c), 1025.0);
  cr_expect_eq(lab->bytes(c), 8.0 * 1025, "4 bytes read and 4 written per element");
  em_tensor t[EM_MAX_TENSORS];
  memset(t, 0, sizeof t);
  cr_assert_eq(lab->describe(c, t), 3, "x, c and z");
  cr_expect(t[1].is_scalar, "c is passed by value");
  cr_expect(t[2].is_output && t[2].rtol == 0x1p-23 && t[2].atol == 2 * FLT_MIN, "z: rtol 2^-23, atol 2·FLT_MIN");
}

/* ---- the reference solution ---------------------------------------------------------------------- */

TestSuite(lab1_solution, .timeout = 300);

Test(lab1_solution, passes_cpu_track) {
  json_t *root = t_check_solution(1, "cpu", NULL);
  cr_expect_eq(t_json_num(t_get_case(root, "cpu", 'a', "n=1024"), "rtol"), 0x1p-23);
  json_decref(root);
}

Test(lab1_solution, passes_at_other_seeds_and_thread_counts) {
  static const char *const runs[][4] = {{"--seed", "7"}, {"--seed", "11", "--threads", "3"}, {"--threads", "1"}};
  t_solution_passes_with(1, runs, T_COUNT(runs));
}

Test(lab1_solution, cuda_track_skips_or_passes) { json_decref(t_check_solution(1, "cuda", NULL)); }

/* ---- the untouched skeleton: fails, and says where the work is ------------------------------------ */

TestSuite(lab1_skeleton, .timeout = 300);

/* One TODO per part, each case pointing at its own; the table explains them once per part. */
Test(lab1_skeleton, fails_pointing_at_the_todos) {
  json_t *root = t_check_skeleton(1, "cpu", NULL);
  json_t *c = t_get_case(root, "cpu", 'b', "n=4099 prime");
  cr_expect_str_eq(t_json_str(json_object_get(c, "first_mismatch"), "got"), "unwritten");
  cr_expect_eq(json_integer_value(json_object_get(json_object_get(c, "first_mismatch"), "index")), 0);
  cr_expect_str_eq(t_json_str(c, "kind"), "unwritten");
  json_decref(root);
}

Test(lab1_skeleton, cuda_track_points_at_the_todos) { json_decref(t_check_skeleton(1, "cuda", NULL)); }

/* ---- planted wrong implementations: each fails with the diagnostic its mistake deserves ---------- */

static t_planted lab1_planted_files[] = {
    {.bug = "off_by_one_tail", .track = "cpu", .fails = "n=1000", .first = 999, .unwritten = 1, .kind = "unwritten",
     .expect = {"never written", "got never written", "check the loop bound"}},
    {.bug = "first_block_only", .track = "cpu", .part = 'b', .fails = "n=1025", .first = 1024, .unwritten = 1,
     .good_part = 'a', .expect = {"first at [1024]", "never written"}},
    {.bug = "wrong_constant", .track = "cpu", .part = 'b', .fails = "n=1025", .first = 0, .kind = "wrong",
     .all_wrong = 1, .expect = {"1025 of 1025 elements of z wrong", "(error ", "the tolerance of z: one float32 rounding"}},
    {.bug = "writes_input", .track = "cpu", .part = 'b', .fails = "n=1025", .first = T_NO_MISMATCH,
     .reason = "changed its input x", .kind = "input_changed", .good_part = 'a',
     .expect = {"changed its input x (first at [0])"}},
    {.bug = "half_precision", .track = "cpu", .fails = "n=1000", .first = T_ANY,
     .expect = {"(error ", ", allowed ", "NaN or Inf where the exact value is finite"}},
    {.bug = "dropped_remainder", .track = "cpu", .args = {"--threads", "4"}, .part = 'b', .fails = "n=1025",
     .first = 1024, .unwritten = 1, .good_part = 'a', .expect = {"first at [1024]", "no element of z was written"}},
    {.bug = "past_end", .track = "cpu", .part = 'b', .fails = "n=1025", .first = T_NO_MISMATCH, .kind = "past_end",
     .reason = "wrote past the end of z", .expect = {"wrote past the end of z (", "guard every store with i < n"}},
    {.bug = "off_by_one_tail", .track = "cuda", .fails = "n=1000", .first = 999, .unwritten = 1,
     .expect = {"never written", "check the loop bound"}},
    {.bug = "first_block_only", .track = "cuda", .part = 'b', .fails = "n=1025", .first = 1024, .unwritten = 1,
     .good_part = 'a', .expect = {"first at [1024]", "never written"}},
    {.bug = "wrong_constant", .track = "cuda", .part = 'b', .fails = "n=1025", .first = 0,
     .expect = {"1025 of 1025 elements of z wrong", "(error ", "the tolerance of z"}},
    {.bug = "writes_input", .track = "cuda", .part = 'b', .fails = "n=1025", .first = T_NO_MISMATCH,
     .reason = "changed its input x", .good_part = 'a', .expect = {"changed its input x (first at [0])"}},
    /* n = 1: an empty grid, which CUDA refuses ("invalid argument" in CUDA 13, "invalid
     * configuration argument" before): an error of the launch, with the hint to check it. */
    {.bug = "grid_no_roundup", .track = "cuda", .part = 'b', .fails = "n=1025", .first = 1024, .unwritten = 1,
     .good_part = 'a', .expect = {"first at [1024]", "lab1_add_b_cuda: invalid", "check the launch"}},
    {.bug = "no_guard", .track = "cuda", .part = 'b', .fails = "n=1025", .first = T_NO_MISMATCH,
     .reason = "wrote past the end of z", .expect = {"wrote past the end of z (", "guard every store with i < n"}},
};

T_PLANTED_SUITE(1)

Test(lab1_planted, missing_function_is_named) { t_check_missing_function(1, "wrong_constant"); }

/* The timing rule: correct but ten times the reference's work passes, with a speedup far below 1
 * and only part of the performance points. A margin of 5x: the one assertion on speed here. */
Test(lab1_planted, slow_loses_performance_points) { t_check_loses_perf_points(1, "slow", 'b', "n=2^26", 0.5); }

/* Keyed on a hash of the whole input (issue 9): the anti-cache calls change the input, so it
 * recomputes there; the timed calls are where it skips (it ran 2.9x the reference's speed when the
 * timed calls saw the same inputs). With inputs changed before every timed call it gains nothing:
 * it fails as reused work, or passes slower than the reference (it reads x once more to hash it). */
Test(lab1_planted, fingerprint_gains_nothing) { t_check_fingerprint(1, "cpu", T_REUSE_SLOWER); }
Test(lab1_planted, fingerprint_gains_nothing_cuda) { t_check_fingerprint(1, "cuda", T_REUSE_SLOWER); }
