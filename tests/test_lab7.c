/* Lab 7 (flash attention) end to end: the spec's cases, inputs, tolerance and counts; the reference
 * solution, the untouched skeleton and the planted wrong implementations (tests/planted/lab7/)
 * through the real em-check binaries (the scaffold every lab's suite shares: tests/helpers.h).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "helpers.h"

/* ================================================================================================
 * The spec.
 */

T_SPEC_SUITE(7, 120, "attention", "lab7-flash-attention", .parts = "abc", .dims = "b h n m d causal",
             .fresh_mode = EM_FRESH_PERTURB, .fits_table = 1)

Test(lab7_spec, the_edges_are_cases) {
  const em_lab *lab = t_lab(7);
  /* The edges the lab names: n = 1, m = 1, the mask with n < m and n > m, every d. */
  int d_seen[129] = {0}, n_lt_m = 0, n_gt_m = 0, n1 = 0, m1 = 0;
  for (int i = 0; i < lab->ncases; ++i) {
    const int64_t *x = lab->cases[i].dim;
    d_seen[x[4]] = 1;
    n_lt_m |= x[5] && x[2] < x[3];
    n_gt_m |= x[5] && x[2] > x[3];
    n1 |= x[2] == 1;
    m1 |= x[3] == 1;
  }
  cr_expect(d_seen[16] && d_seen[32] && d_seen[64] && d_seen[128], "every supported d has a case");
  cr_expect(n_lt_m && n_gt_m && n1 && m1);
}

Test(lab7_spec, invalid_shapes_say_why) {
  const em_lab *lab = t_lab(7);
  em_case c = {.part = 'b', .dim = {1, 1, 10, 10, 48, 0}};
  cr_expect(strstr(lab->invalid(&c), "16, 32, 64 or 128") != NULL);
  c.dim[4] = 64, c.dim[5] = 2;
  cr_expect(lab->invalid(&c) != NULL);
  c = (em_case){.part = 'a', .dim = {2, 1, 10, 10, 64, 0}};
  cr_expect(strstr(lab->invalid(&c), "one head") != NULL);
  c = (em_case){.part = 'b', .dim = {1, 1, 0, 10, 64, 0}};
  cr_expect(lab->invalid(&c) != NULL);
}

/* FLOPs count only the (query, key) pairs a query sees: with the mask and n = m, n(n+1)/2 of n². */
Test(lab7_spec, flops_count_the_pairs_seen) {
  const em_lab *lab = t_lab(7);
  em_case c = {.part = 'b', .dim = {2, 3, 100, 100, 64, 0}};
  cr_expect_eq(lab->flops(&c), 4.0 * 6 * 100 * 100 * 64);
  cr_expect_eq(lab->bytes(&c), 4.0 * 6 * 64 * 400);
  c.dim[5] = 1;
  cr_expect_eq(lab->flops(&c), 4.0 * 6 * 64 * (100 * 101 / 2));
  c.dim[2] = 300, c.dim[3] = 50; /* queries 0..249 see nothing, 250..299 see 1..50 */
  cr_expect_eq(lab->flops(&c), 4.0 * 6 * 64 * (50 * 51 / 2));
  c.part = 'c';
  cr_expect_eq(lab->bytes(&c), 2.0 * 6 * 64 * 700, "bfloat16: two bytes an element");
}

/* The oracle on a small causal head with n > m: the queries that see no key get exactly 0, a query
 * that sees one key gets that key's value, and the tolerance is there, small and finite. */
Test(lab7_spec, oracle_and_tolerance_on_a_masked_head) {
  const em_lab *lab = t_lab(7);
  em_case c = {.part = 'b', .name = "t", .dim = {1, 1, 5, 2, 16, 1}, .values = 0};
  em_tensor t[EM_MAX_TENSORS];
  int nt = t_case_tensors(lab, &c, t);
  cr_assert_eq(nt, 4);
  const float *v = (const float *)t[2].host;
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 16; ++k) cr_expect_eq(t[3].want[i * 16 + k], 0.0, "query %d sees no key: o = 0", i);
  for (int k = 0; k < 16; ++k) cr_expect_eq(t[3].want[3 * 16 + k], (double)v[k], "query 3 sees key 0 alone");
  cr_assert(t[3].atol_each != NULL);
  for (int64_t i = 0; i < t[3].numel; ++i) cr_expect(isfinite(t[3].atol_each[i]) && t[3].atol_each[i] < 1e-4);
  t_free_tensors(t, nt);
}

/* ================================================================================================
 * The reference solution.
 */

TestSuite(lab7_solution, .timeout = 600);

Test(lab7_solution, passes_cpu_track) { json_decref(t_check_solution(7, "cpu", NULL)); }
Test(lab7_solution, cuda_track_skips_or_passes) { json_decref(t_check_solution(7, "cuda", NULL)); }

Test(lab7_solution, passes_other_seeds) {
  static const char *const runs[][4] = {{"--seed", "1", "--part", "b"}, {"--seed", "2", "--part", "c"}};
  t_solution_passes_with(7, runs, T_COUNT(runs));
}

Test(lab7_solution, counts_bytes_and_flops) {
  t_check_timed_case(7, 'b', "b=2 h=3 n=m=100", 4.0 * 6 * 64 * 400, 4.0 * 6 * 100 * 100 * 64);
}

/* ================================================================================================
 * The untouched skeleton.
 */

T_SKELETON_SUITE(7)

/* ================================================================================================
 * Planted wrong implementations (tests/planted/lab7/online.h and the one-line files that switch a
 * mistake on), each run on the case its mistake must fail and beside one it gets right; the same
 * online attention with no mistake passes everything.
 */

static t_planted lab7_planted_files[] = {
    {T_FAILS("no_rescale_output", "cpu", "a", "large logits"), .passes = {"=n=1000 m=1"}},
    {T_FAILS("no_rescale_output", "cpu", "a", "n=1000 m=1003")},
    {T_FAILS("no_rescale_sum", "cpu", "a", "n=127 m=257 d=64"), .passes = {"=equal scores"}},
    {T_FAILS("scale_forgotten", "cpu", "a", "n=m=65 d=16"), .passes = {"=n=1000 m=1"}},
    {T_FAILS("scale_twice", "cpu", "a", "n=m=129 d=32"), .passes = {"=equal scores"}},
    {T_FAILS("mask_off_by_one", "cpu", "b", "causal n=m=100"), .passes = {"=b=2 h=3 n=m=100"}},
    {T_FAILS("mask_top_left", "cpu", "b", "causal n<m"), .passes = {"=causal n=m=100"}},
    {T_FAILS("mask_top_left", "cpu", "b", "causal n>m"), .expect = {"at that element: head 0, query"}},
    {T_FAILS("last_tile_dropped", "cpu", "a", "n=1 m=1000"), .passes = {"=n=7 m=5 d=16"}},
    {T_FAILS("last_tile_dropped", "cpu", "c", "d=64 ragged")},
    {T_FAILS("mask_top_left", "cuda", "b", "causal n<m"), .passes = {"=causal n=m=100"}},
    {T_FAILS("no_rescale_output", "cuda", "a", "large logits"), .passes = {"=n=1000 m=1"}},
};

T_PLANTED_SUITE(7)

/* The shared online attention, no mistake switched on: every CPU case passes, so each planted
 * file's failure is its mistake's. */
Test(lab7_planted, the_shared_core_is_right) { t_planted_core_passes(7, "correct_online", "cpu"); }

/* The CUDA kernel the planted files share, no mistake switched on: every CUDA case passes. */
Test(lab7_planted, the_shared_cuda_kernel_is_right) { t_planted_core_passes(7, "correct_online", "cuda"); }

/* A missing barrier between using a key tile and loading the next over it: a race that may leave
 * the numbers right. The file is rejected either way: wrong results, or compute-sanitizer's
 * racecheck naming the hazard on a small case (the tool is part of the CUDA toolkit). */
Test(lab7_planted, missing_barrier_is_caught) {
  t_need_gpu();
  const char *bin = t_planted_bin(7, "missing_barrier", "cuda"), *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 500, bin, json, "--track", "cuda", "--no-timing", "--part", "b", "--case", "=causal n=m=100", NULL);
  int wrong = p.exited && p.code == 1;
  t_proc_free(&p);
  if (wrong) return;
  const char *sanitizer = t_str("%s/bin/compute-sanitizer", getenv("CUDA_HOME") ? getenv("CUDA_HOME") : "/usr/local/cuda");
  if (!t_exists(sanitizer)) cr_skip_test("the race left the numbers right and %s is not here to name it", sanitizer);
  t_run(&p, 600, sanitizer, "--tool", "racecheck", "--error-exitcode", "3", bin, "--peaks", T_PEAKS, "--peaks-under-load",
        "--json", json, "--track", "cuda", "--no-timing", "--part", "b", "--case", "=causal n=m=100");
  cr_expect(p.exited && p.code == 3, "racecheck must report the hazard:\n%s", p.all);
  t_assert_output_has(&p, "hazard");
  t_proc_free(&p);
}
