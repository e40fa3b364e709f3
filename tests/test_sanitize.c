/* `make check SANITIZE=1`: scripts/sanitize.py over the sanitizer build (the CPU track with
 * AddressSanitizer and UBSan, $(BUILD)/sanitize/, tests.mk's sanitize-test-build) and over the
 * normal build under compute-sanitizer (the CUDA track). Each planted file below makes a mistake
 * that the ordinary checker cannot see, most of them with every number right; the sanitizers must
 * name the tool, the kind, the file and line, and the case, and the reference solution must give
 * them nothing to say.
 *
 * The CUDA tests need a GPU and compute-sanitizer, and skip saying which is missing; their planted
 * files are compiled wherever nvcc is (tests.mk), so they build here too.
 */
#include <limits.h>

#include "helpers.h"

#define T_SAN_SOLUTION EM_BUILD_DIR "/sanitize/tests/solution/lab1/em-check"
#define T_SAN_PLANTED(bug) EM_BUILD_DIR "/sanitize/tests/planted/lab1/" bug "/em-check"

/* scripts/sanitize.py for lab on one track, with the checker of the track (the other NULL), its logs
 * in a fresh folder (returned), more em-check arguments after (NULL-ended). */
static const char *t_sanitize(t_proc *p, double timeout_s, int lab, const char *track, const char *bin, ...) {
  const char *logs = t_str("%s/logs", t_tmpdir());
  const char *argv[32];
  int k = 0;
  argv[k++] = "python3";
  argv[k++] = "scripts/sanitize.py";
  argv[k++] = "--lab";
  argv[k++] = t_str("%d", lab);
  argv[k++] = "--logs";
  argv[k++] = logs;
  argv[k++] = "--track";
  argv[k++] = track;
  argv[k++] = strcmp(track, "cuda") == 0 ? "--cuda-bin" : "--asan-bin";
  argv[k++] = bin;
  argv[k++] = "--";
  va_list ap;
  va_start(ap, bin);
  for (const char *a; (a = va_arg(ap, const char *)) != NULL && k < 31;) argv[k++] = a;
  va_end(ap);
  argv[k] = NULL;
  cr_assert(t_exists(bin), "%s is missing: build it with  make test-build", bin);
  t_spawn(p, timeout_s, -1, argv);
  return logs;
}

/* ---- the CPU track: AddressSanitizer -------------------------------------------------------------- */

TestSuite(sanitize_cpu, .timeout = 300);

/* tests.mk builds the sanitizer checkers only where the compiler links -fsanitize=address,undefined. */
static void t_need_asan(void) {
  if (!t_exists(T_SAN_SOLUTION))
    cr_skip_test("%s is not built: the compiler cannot link -fsanitize=address,undefined here (make test-build says so)",
                 T_SAN_SOLUTION);
}

/* A read one element past the end of x, with every number right: AddressSanitizer's finding, its
 * kind, the planted file's line and function, and the case (the first of part (b): part (a), split
 * among OpenMP threads, passes first, so OpenMP runs under ASan and the case is told apart). */
Test(sanitize_cpu, read_past_the_end_is_named_with_its_line_and_case) {
  const char *file = "tests/planted/lab1/reads_one_past_end.c";
  int line = t_line_of(file, "the bug: at i = n - 1");
  t_need_asan();
  t_proc p;
  const char *logs = t_sanitize(&p, 250, 1, "cpu", T_SAN_PLANTED("reads_one_past_end"), NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "sanitizer mode: timing off");
  t_assert_output_has(&p, "sanitizer: 1 finding ");
  t_assert_output_has(&p, "1. AddressSanitizer: heap-buffer-overflow READ of size 4\n");
  t_assert_output_has(&p, t_str("at %s:%d in lab1_add_b\n", file, line));
  t_assert_output_has(&p, "in case (b) \"n=1\" on cpu");
  t_assert_output_has(&p, "ARGS='--part b --case \"=n=1\"'");
  cr_expect_eq(t_count(p.out, "PASS"), t_spec_count(1, EM_TRACK_CPU, 'a'), "every case of part (a) passed first:\n%s", p.out);
  cr_expect(strstr(p.out, "==ERROR: AddressSanitizer") == NULL, "the tool's own report stays in the log:\n%s", p.out);
  char *log = t_read_file(t_str("%s/cpu-asan.log", logs), NULL);
  cr_assert(log != NULL, "no log in %s", logs);
  cr_expect(strstr(log, "ERROR: AddressSanitizer: heap-buffer-overflow") != NULL, "the log keeps the report whole");
  cr_expect(strstr(log, "[sanitize] lab 1 case (b) \"n=1\" on cpu") != NULL, "the log keeps the case lines");
  free(log);
  json_t *f = t_load_json(t_str("%s/findings.json", logs));
  json_t *first = json_array_get(json_object_get(f, "findings"), 0);
  cr_assert(json_is_object(first), "findings.json lists the finding");
  cr_expect_str_eq(t_json_str(first, "tool"), "AddressSanitizer");
  cr_expect_str_eq(t_json_str(first, "where"), t_str("%s:%d", file, line));
  json_decref(f);
  t_proc_free(&p);
}

/* The same file through the ordinary checker: every case passes, which is why the sanitizers are
 * worth a run (the read lands in the zeros the checker puts after each input). */
Test(sanitize_cpu, the_ordinary_checker_passes_the_same_file) {
  t_proc p;
  t_checker(&p, 100, t_planted_bin(1, "reads_one_past_end", "cpu"), t_str("%s/r.json", t_tmpdir()), "--track", "cpu",
            "--no-timing", NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* The reference solution, every CPU case (the speed cases too, untimed): nothing found, exit 0,
 * results.json of the run says it was a sanitizer run and holds no time. */
Test(sanitize_cpu, reference_solution_reports_nothing) {
  t_need_asan();
  t_proc p;
  const char *logs = t_sanitize(&p, 250, 1, "cpu", T_SAN_SOLUTION, NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "sanitizer mode: timing off");
  t_assert_output_has(&p, t_str("%d passed, 0 failed", t_spec_count(1, EM_TRACK_CPU, 0)));
  t_assert_output_has(&p, "sanitizer: no findings");
  json_t *root = t_load_json(t_str("%s/results-cpu.json", logs)), *c;
  cr_expect(json_is_true(json_object_get(root, "sanitize")), "results.json says \"sanitize\": true");
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c)
    cr_expect(json_is_null(json_object_get(c, "time_ms")), "case \"%s\" was timed", t_json_str(c, "name"));
  json_decref(root);
  t_proc_free(&p);
}

/* ---- make check SANITIZE=1 ------------------------------------------------------------------------ */

TestSuite(sanitize_make, .timeout = 300);

/* A build folder as `make lab1 SANITIZE=1` leaves it, without building: the planted file's
 * sanitizer checker in BUILD/sanitize/lab1/, the solution as the normal checker. */
static const char *fake_sanitize_build(void) {
  t_need_asan();
  const char *build = t_str("%s/build", t_tmpdir());
  char normal[PATH_MAX], san[PATH_MAX];
  cr_assert(realpath(T_SOLUTION, normal) != NULL, "%s: %s", T_SOLUTION, strerror(errno));
  cr_assert(realpath(T_SAN_PLANTED("reads_one_past_end"), san) != NULL, "the sanitizer build of the planted file");
  cr_assert(mkdir(build, 0777) == 0 && mkdir(t_str("%s/lab1", build), 0777) == 0);
  cr_assert(mkdir(t_str("%s/sanitize", build), 0777) == 0 && mkdir(t_str("%s/sanitize/lab1", build), 0777) == 0);
  cr_assert(symlink(normal, t_str("%s/lab1/em-check", build)) == 0);
  cr_assert(symlink(san, t_str("%s/sanitize/lab1/em-check", build)) == 0);
  t_write_file(t_str("%s/current-lab", build), "1\n");
  return build;
}

/* The exit status comes through make (1: a finding), and the logs land in BUILD/sanitize/lab1/. */
Test(sanitize_make, check_reports_the_finding_and_exits_1) {
  const char *build = fake_sanitize_build();
  t_proc p;
  t_run(&p, 250, "make", "-s", "check", "SANITIZE=1", t_str("BUILD=%s", build), "TRACK=cpu");
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "1. AddressSanitizer: heap-buffer-overflow READ of size 4");
  t_assert_output_has(&p, t_str("full logs in %s/sanitize/lab1/", build));
  cr_expect(t_exists(t_str("%s/sanitize/lab1/cpu-asan.log", build)), "the log is kept under BUILD/sanitize/lab1/");
  cr_expect(!t_exists(t_str("%s/lab1/results.json", build)), "build/lab1/results.json (what make submit packs) is not touched");
  t_proc_free(&p);
}

/* Without the sanitizer build, `make check SANITIZE=1` builds nothing and says what to run. */
Test(sanitize_make, check_without_the_sanitizer_build_says_how_to_make_it) {
  const char *build = fake_sanitize_build();
  cr_assert(unlink(t_str("%s/sanitize/lab1/em-check", build)) == 0);
  t_proc p;
  t_run(&p, 100, "make", "-s", "check", "SANITIZE=1", t_str("BUILD=%s", build), "TRACK=cpu");
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "make lab1 SANITIZE=1");
  t_proc_free(&p);
}

/* ---- the CUDA track: compute-sanitizer ------------------------------------------------------------ */

TestSuite(sanitize_cuda, .timeout = 600);

static const char *t_need_compute_sanitizer(void) {
  t_need_gpu();
  const char *home = getenv("CUDA_HOME") ? getenv("CUDA_HOME") : "/usr/local/cuda";
  const char *cs = t_str("%s/bin/compute-sanitizer", home);
  if (!t_exists(cs)) cr_skip_test("%s is not here (it comes with the CUDA toolkit)", cs);
  return cs;
}

/* A CUDA planted file of lab under the CUDA track: one finding or more, the first by tool, of a
 * kind that holds kind, at file:line, where line holds marker, in the case named so (the report must
 * come before the next case's line: compute-sanitizer prints from a process of its own). */
static void t_expect_cuda_finding(int lab, const char *bug, const char *tool, const char *kind, const char *marker,
                                  const char *in_case) {
  t_need_compute_sanitizer();
  const char *file = t_str("tests/planted/lab%d/%s.cu", lab, bug);
  int line = t_line_of(file, marker);
  t_proc p;
  /* The small cases alone: the mistakes show from the first case on, and memcheck over lab 5's
   * millions of blocks is the reference's test below. */
  const char *logs = t_sanitize(&p, 580, lab, "cuda", t_planted_bin(lab, bug, "cuda"), "--small-only", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "sanitizer mode: timing off");
  t_assert_output_has(&p, t_str(". %s: ", tool));
  t_assert_output_has(&p, kind);
  t_assert_output_has(&p, t_str("%s:%d", file, line));
  t_assert_output_has(&p, t_str("in %s on cuda", in_case));
  cr_expect(t_exists(t_str("%s/cuda-%s.log", logs, tool)), "the %s log is kept", tool);
  t_proc_free(&p);
}

/* float4 loads at the tail: memcheck's invalid read, on the first case (n = 1: 12 bytes past x). */
Test(sanitize_cuda, read_past_the_end_is_memchecks) {
  t_expect_cuda_finding(1, "reads_past_end", "memcheck", "Invalid __global__ read of size 16 bytes", "the bug:",
                        "case (a) \"n=1\"");
}

/* No barrier between storing the partial sums and reading them: racecheck's shared-memory hazard,
 * at the read (the write it races with said beside it), from the first case on (one block). */
Test(sanitize_cuda, missing_barrier_is_racechecks) {
  t_expect_cuda_finding(5, "no_sync_before_read", "racecheck", "hazard", "if (tid < s) sdata[tid] += sdata[tid + s];",
                        "case (a) \"b=1 t=1\"");
}

/* A warp barrier reached by lanes its mask leaves out: synccheck's invalid arguments, with the
 * numbers right (the lanes left out read nothing), from the first case on. */
Test(sanitize_cuda, warp_barrier_with_a_short_mask_is_syncchecks) {
  t_expect_cuda_finding(5, "warp_barrier_mask", "synccheck", "barrier error: invalid arguments",
                        "the bug: lanes s..31 reach a barrier", "case (a) \"b=1 t=1\"");
}

/* The reference solutions of labs 1 and 5 (the labs of the planted files), every case: no tool has
 * anything to say. */
static void t_expect_reference_clean(int lab) {
  t_need_compute_sanitizer();
  t_proc p;
  t_sanitize(&p, 580, lab, "cuda", t_solution_bin(lab), NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "sanitizer: no findings (memcheck, racecheck, synccheck");
  t_proc_free(&p);
}

Test(sanitize_cuda, lab1_reference_reports_nothing) { t_expect_reference_clean(1); }
Test(sanitize_cuda, lab5_reference_reports_nothing) { t_expect_reference_clean(5); }
