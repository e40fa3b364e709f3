/* Lab 8 (int8 quantized linear) end to end: the spec's cases, exactness and counts; the reference
 * solution, the untouched skeleton and the planted wrong implementations (tests/planted/lab8/)
 * through the real em-check binaries (the scaffold every lab's suite shares: tests/helpers.h).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "helpers.h"

/* ================================================================================================
 * The spec.
 */

T_SPEC_SUITE(8, 120, "qlinear", "lab8-quantized-linear", .parts = "abcd", .dims = "M N K",
             .fresh_mode = EM_FRESH_PERTURB, .fits_table = 1)

Test(lab8_spec, invalid_shapes_say_why) {
  const em_lab *lab = t_lab(8);
  em_case c = {.part = 'b', .dim = {4, 4, EM_QLINEAR_MAX_K + 1}};
  cr_expect(strstr(lab->invalid(&c), "overflow") != NULL);
  c = (em_case){.part = 'a', .dim = {4, 2, 4}};
  cr_expect(strstr(lab->invalid(&c), "N must be 1") != NULL);
  c = (em_case){.part = 'b', .dim = {4, 4, 4}, .values = 4 /* halves: a float input kind */};
  cr_expect(lab->invalid(&c) != NULL);
  c = (em_case){.part = 'c', .dim = {0, 4, 4}};
  cr_expect(lab->invalid(&c) != NULL);
}

/* Part (b)'s small cases ask for the int32 sums, its speed cases do not (the fused product alone). */
Test(lab8_spec, acc_only_where_it_is_checked) {
  const em_lab *lab = t_lab(8);
  em_tensor t[EM_MAX_TENSORS];
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (c->part != 'b') continue;
    memset(t, 0, sizeof t);
    int nt = lab->describe(c, t);
    cr_expect_eq(nt, c->perf_points > 0 ? 6 : 7, "case \"%s\"", c->name);
  }
}

/* The quantiser's value kinds reach their edges: exact halves, zero rows, ±127 rows. */
Test(lab8_spec, kinds_reach_their_edges) {
  const em_lab *lab = t_lab(8);
  em_case c = {.part = 'a', .name = "t", .dim = {50, 1, 129}, .values = 4 /* halves */};
  em_tensor t[EM_MAX_TENSORS];
  int nt = t_case_tensors(lab, &c, t);
  int halves = 0, even = 0;
  const float *a = (const float *)t[0].host;
  for (int64_t r = 0; r < 50; ++r)
    for (int64_t k = 0; k < 129; ++k) {
      double q = (double)a[r * 129 + k] / t[2].want[r];
      if (fabs(q - trunc(q)) == 0.5) {
        halves++;
        even += t[1].want_i32[r * 129 + k] % 2 == 0;
      }
    }
  cr_expect_gt(halves, 1000, "the halves kind has exact k + 1/2 quotients (%d)", halves);
  cr_expect_eq(even, halves, "each rounds to the even neighbour");
  t_free_tensors(t, nt);
}

/* ================================================================================================
 * The reference solution.
 */

TestSuite(lab8_solution, .timeout = 600);

Test(lab8_solution, passes_cpu_track) { json_decref(t_check_solution(8, "cpu", NULL)); }
Test(lab8_solution, cuda_track_skips_or_passes) { json_decref(t_check_solution(8, "cuda", NULL)); }

Test(lab8_solution, passes_other_seeds) {
  static const char *const runs[][4] = {{"--seed", "1"}, {"--seed", "2", "--threads", "1"}};
  t_solution_passes_with(8, runs, T_COUNT(runs));
}

/* make bench's --alternatives: after a speed case, the forward through the AVX2 kernels is timed
 * as one more row of its own ("... via avx2"), checked like the case, worth no points, beside the
 * reference alone (its naive baseline has the case's row). A small speed case from a cases file
 * keeps it quick. */
Test(lab8_solution, alternatives_are_rows_of_their_own) {
  const char *cases = t_str("%s/cases.json", t_tmpdir());
  t_write_file(cases, "{\"seed\": 5, \"cases\": [{\"lab\": 8, \"part\": \"b\", \"name\": \"small perf\", "
                      "\"dims\": [64, 96, 160], \"values\": \"uniform\", \"tracks\": \"cpu\", \"points\": 1, "
                      "\"perf_points\": 2, \"hidden\": false}]}");
  const char *json = t_str("%s/r.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 300, t_solution_bin(8), json, "--track", "cpu", "--cases", cases, "--hidden-only", "--alternatives",
            "--budget", "0.02", NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "via avx2");
  json_t *root = t_load_json(json);
  cr_assert_eq(t_json_ncases(root), 2, "the case, then its alternative");
  json_t *c = t_get_case(root, "cpu", 'b', "small perf"), *a = t_get_case(root, "cpu", 'b', "small perf via avx2");
  cr_expect(json_object_get(c, "alternative") == NULL, "the case's own row names no alternative");
  cr_expect_str_eq(t_json_str(a, "alternative"), "avx2");
  json_t *score = json_object_get(a, "score");
  cr_expect_eq(t_json_num(score, "max"), 0.0, "an alternative earns nothing");
  cr_expect_eq(t_json_num(json_object_get(root, "score"), "max"), 3.0, "the case's points alone");
  if (strcmp(t_json_str(a, "status"), "skip") == 0) {
    cr_expect(strstr(t_json_str(a, "reason"), "AVX2") != NULL, "a CPU without AVX2 says so");
  } else {
    cr_expect_str_eq(t_json_str(a, "status"), "pass");
    cr_expect(t_json_num(a, "time_ms") > 0 && t_json_num(a, "speedup_vs_ref") > 0);
    cr_expect(json_is_null(json_object_get(a, "speedup_vs_naive")), "no naive baseline in an alternative's row");
    cr_expect(t_json_num(c, "speedup_vs_naive") > 0, "the case's row keeps its baseline");
  }
  json_decref(root);
  t_proc_free(&p);

  /* Nothing to time them with: said, exit 2. */
  t_checker(&p, 60, t_solution_bin(8), json, "--track", "cpu", "--cases", cases, "--hidden-only", "--alternatives",
            "--no-timing", NULL);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "--alternatives");
  t_assert_output_has(&p, "--no-timing");
  t_proc_free(&p);
}

/* ================================================================================================
 * The untouched skeleton.
 */

T_SKELETON_SUITE(8)

/* ================================================================================================
 * Planted wrong implementations (tests/planted/lab8/core.h and its one-line files), each on the case
 * its mistake must fail and beside one it gets right; the core with no mistake passes everything.
 */

static t_planted lab8_planted_files[] = {
    {T_FAILS("round_away", "cpu", "a", "halves"), .expect = {"at that element: a["}},
    {T_FAILS("truncate", "cpu", "a", "33x1000")},
    {T_FAILS("per_tensor_scale", "cpu", "a", "extremes"), .passes = {"=1x1"}},
    {.bug = "clamp_128", .track = "cpu", T_ONLY("a", "33x1000"), .first = T_ANY, .unwritten = -1,
     .expect = {"clamp to -127, not -128"}},
    {T_FAILS("int16_sums", "cpu", "b", "saturated"), .passes = {"=1x1x1"}},
    {T_FAILS("float_sums", "cpu", "b", "saturated"), .passes = {"=M=16 K=17"}},
    {T_FAILS("dequantise_first", "cpu", "b", "saturated")},
    {T_FAILS("bias_twice", "cpu", "b", "63x65x129")},
    {T_FAILS("transposed_w", "cpu", "b", "63x65x129"), .passes = {"=1x1x1"}},
    {T_FAILS("dw_without_sx", "cpu", "c", "63x65x129")},
    {T_FAILS("round_away", "cpu", "d", "halves")},
};

T_PLANTED_SUITE(8)

Test(lab8_planted, the_shared_core_is_right) { t_planted_core_passes(8, "correct_core", "cpu"); }
