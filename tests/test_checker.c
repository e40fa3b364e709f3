/* The checker end to end, what it does for every lab: the real em-check binaries (lab 1's reference
 * solution, skeleton and planted files serve as the examples) and `make`, run as child processes,
 * judged by their exit status, their output and results.json. What is lab 1's own (its spec, its
 * skeleton's TODOs, the diagnostics of its planted files) is in test_lab1.c.
 *
 * Correctness runs use --no-timing (timing is slow and not what they test), the peaks cache under
 * build/ (measured once, not per test) and a temporary results file, so nothing a student built
 * under build/ is overwritten.
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <termios.h>

#include "helpers.h"

/* ================================================================================================
 * results.json, through lab 1's reference solution.
 */

TestSuite(results, .timeout = 300);

/* Every key DESIGN.md lists for a case, and the kind of its failure (README). */
static const char *const case_keys[] = {
    "part",     "name",       "track",          "shape",            "status", "kind", "reason", "max_abs_err",
    "max_rel_err", "mismatches", "first_mismatch", "rtol",          "atol",   "time_ms", "ref_time_ms",
    "speedup_vs_ref", "speedup_vs_naive", "gbps", "gflops",        "roofline_frac", "energy_j", "score",
};

Test(results, every_key_of_every_case) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, T_SOLUTION, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, " 0 failed");

  json_t *root = t_load_json(json);
  cr_expect_str_eq(t_json_str(root, "schema"), "em-results/1");
  cr_expect(json_is_integer(json_object_get(root, "lab")) && json_integer_value(json_object_get(root, "lab")) == 1,
            "\"lab\" must be the integer 1");
  cr_expect_str_eq(t_json_str(root, "name"), "add");
  json_t *tracks = json_object_get(root, "tracks");
  cr_expect(json_is_array(tracks) && json_array_size(tracks) == 1 &&
                strcmp(json_string_value(json_array_get(tracks, 0)), "cpu") == 0,
            "\"tracks\" must be [\"cpu\"]");
  cr_expect(json_is_integer(json_object_get(root, "seed")), "\"seed\" must be an integer");
  json_t *machine = json_object_get(root, "machine");
  cr_assert(json_is_object(machine), "no \"machine\" object");
  static const char *const machine_keys[] = {"cpu", "gpu", "compiler", "peaks"};
  for (size_t k = 0; k < sizeof machine_keys / sizeof machine_keys[0]; ++k)
    cr_expect(json_object_get(machine, machine_keys[k]) != NULL, "machine has no \"%s\"", machine_keys[k]);
  cr_expect(t_json_num(json_object_get(machine, "peaks"), "cpu_copy_gbps") > 0);

  cr_assert_eq(t_json_ncases(root), t_spec_count(1, EM_TRACK_CPU, 0), "one result per CPU case of the spec");
  const em_lab *lab = t_lab(1);
  double total = 0;
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *sc = &lab->cases[i];
    if (!t_runs_on(sc, EM_TRACK_CPU)) continue;
    json_t *c = t_get_case(root, "cpu", sc->part, sc->name);
    for (size_t k = 0; k < sizeof case_keys / sizeof case_keys[0]; ++k)
      cr_expect(json_object_get(c, case_keys[k]) != NULL, "case \"%s\" lacks the key \"%s\"", sc->name, case_keys[k]);
    cr_expect_str_eq(t_json_str(c, "status"), "pass", "case (%c) \"%s\": %s", sc->part, sc->name, t_json_str(c, "reason"));
    cr_expect_str_eq(t_json_str(c, "reason"), "");
    cr_expect_str_eq(t_json_str(c, "kind"), "", "a case that passed has no kind of failure");
    cr_expect_str_eq(t_json_str(c, "shape"), t_str("n=%lld", (long long)sc->dim[0]));
    cr_expect_eq(json_integer_value(json_object_get(c, "mismatches")), 0);
    cr_expect(json_is_null(json_object_get(c, "first_mismatch")));
    cr_expect(t_json_num(c, "rtol") > 0 && t_json_num(c, "atol") > 0, "tolerances are printed beside the result");
    cr_expect(json_is_null(json_object_get(c, "time_ms")), "--no-timing: no time");
    json_t *score = json_object_get(c, "score");
    cr_assert(json_is_object(score), "case \"%s\": no score object", sc->name);
    cr_expect_eq(t_json_num(score, "points"), sc->points, "correctness points when the case passes");
    cr_expect_eq(t_json_num(score, "max"), sc->points + sc->perf_points);
    total += sc->points;
  }
  cr_expect_eq(t_json_num(json_object_get(root, "score"), "points"), total);
  json_decref(root);
  t_proc_free(&p);
}

/* With timing, on one small case: the numbers exist, are positive and agree with each other (never
 * with a speed: this machine may be slow or busy). */
Test(results, timed_case_reports_speed) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, T_SOLUTION, json, "--track", "cpu", "--case", "n=1025", "--budget", "0.02", NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "vs ref");
  json_t *root = t_load_json(json);
  cr_assert_eq(t_json_ncases(root), 1, "--case n=1025 selects one case");
  json_t *c = t_get_case(root, "cpu", 'b', "n=1025");
  double t = t_json_num(c, "time_ms"), ref = t_json_num(c, "ref_time_ms"), s = t_json_num(c, "speedup_vs_ref");
  cr_expect(t > 0 && ref > 0, "time_ms %g, ref_time_ms %g", t, ref);
  cr_expect(s > 0 && isfinite(s), "speedup_vs_ref %g", s);
  cr_expect(t_json_num(c, "speedup_vs_naive") > 0);
  cr_expect(json_integer_value(json_object_get(c, "timing_rounds")) >= 3, "at least the minimum rounds");
  double gbps = t_json_num(c, "gbps"), bytes = t_json_num(c, "bytes"), flops = t_json_num(c, "flops");
  cr_expect_eq(bytes, 8.0 * 1025, "4 bytes read and 4 written per element");
  cr_expect_eq(flops, 1025.0);
  cr_expect(gbps > 0 && fabs(gbps - bytes / (t * 1e-3) * 1e-9) <= 1e-9 * gbps, "gbps %g is not bytes / time", gbps);
  double gflops = t_json_num(c, "gflops");
  cr_expect(gflops > 0 && fabs(gflops - flops / (t * 1e-3) * 1e-9) <= 1e-9 * gflops, "gflops %g is not flops / time", gflops);
  cr_expect(t_json_num(c, "roofline_frac") > 0);
  cr_expect_str_eq(t_json_str(c, "compute_peak"), "cpu_fma_gflops", "float32 work is held to the FMA rate");
  json_t *e = json_object_get(c, "energy_j");
  cr_expect(json_is_null(e) || (json_is_number(e) && json_number_value(e) >= 0), "energy_j is a number or null (n/a)");
  json_decref(root);
  t_proc_free(&p);
}

/* The CUDA track: skipped with the reason where there is no GPU (exit 0: a skip is not a failure),
 * passing where there is one; the machine says which. */
Test(results, cuda_track_skips_or_passes) {
  em_cuda_device dev;
  int have_gpu = em_cuda_probe(&dev) == EM_OK;
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, T_SOLUTION, json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  cr_assert_eq(t_json_ncases(root), t_spec_count(1, EM_TRACK_CUDA, 0));
  t_expect_all_status(root, "cuda", 0, have_gpu ? "pass" : "skip");
  if (!have_gpu) {
    t_assert_output_has(&p, "skipped");
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(root, "cases"), i, c)
        cr_expect(strlen(t_json_str(c, "reason")) > 10, "a skip says why: \"%s\"", t_json_str(c, "reason"));
    json_t *machine = json_object_get(root, "machine");
    cr_expect(json_is_null(json_object_get(machine, "gpu")));
    cr_expect(strlen(t_json_str(machine, "gpu_unavailable")) > 0);
  }
  json_decref(root);
  t_proc_free(&p);
}

/* ================================================================================================
 * The command line.
 */

TestSuite(cli, .timeout = 120);

Test(cli, filters_select_cases) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, T_SOLUTION, json, "--track", "cpu", "--no-timing", "--part", "a", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  cr_expect_eq(t_json_ncases(root), t_spec_count(1, EM_TRACK_CPU, 'a'), "--part a runs part (a) alone");
  json_t *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c)
      cr_expect_str_eq(t_json_str(c, "part"), "a", "--part a ran \"%s\" of part (%s)", t_json_str(c, "name"),
                       t_json_str(c, "part"));
  json_decref(root);
  t_proc_free(&p);

  t_checker(&p, 50, T_SOLUTION, json, "--track", "cpu", "--no-timing", "--case", "values", NULL);
  t_assert_exit(&p, 0);
  root = t_load_json(json);
  cr_expect_eq(t_json_ncases(root), 4, "\"values\" names large and tiny values in both parts");
  t_get_case(root, "cpu", 'a', "tiny values");
  t_get_case(root, "cpu", 'b', "large values");
  json_decref(root);
  t_proc_free(&p);

  /* "=NAME" is exact: "n=1" alone, not n=1025, n=1000, n=1023 ... */
  t_checker(&p, 50, T_SOLUTION, json, "--track", "cpu", "--no-timing", "--case", "=n=1", NULL);
  t_assert_exit(&p, 0);
  root = t_load_json(json);
  cr_expect_eq(t_json_ncases(root), 2, "\"=n=1\" is case n=1 of part (a) and of part (b), nothing else");
  json_decref(root);
  t_proc_free(&p);
}

Test(cli, list_version_help) {
  t_proc p;
  t_run(&p, 20, T_SOLUTION, "--list");
  t_assert_exit(&p, 0);
  const em_lab *lab = t_lab(1);
  for (int i = 0; i < lab->ncases; ++i) cr_expect(strstr(p.out, lab->cases[i].name) != NULL, "--list lacks %s", lab->cases[i].name);
  t_proc_free(&p);
  t_run(&p, 20, T_SOLUTION, "--version");
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, EM_VERSION);
  t_proc_free(&p);
  t_run(&p, 20, T_SOLUTION, "--help");
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "usage: em-check");
  t_proc_free(&p);
}

/* Run on a machine that other programs keep busy, a checker with no peaks cached says that its
 * peaks were measured under load (so its roof column reads high), in the header and in the JSON,
 * and does not cache them; --peaks-under-load (the suites' own runs) caches them anyway. */
Test(cli, peaks_measured_under_load_are_said_and_not_cached) {
  const char *dir = t_tmpdir(), *peaks = t_str("%s/peaks.json", dir), *json = t_str("%s/results.json", dir);
  t_load load;
  t_load_start(&load);
  t_proc p, q;
  t_run(&p, 100, T_SOLUTION, "--peaks", peaks, "--json", json, "--track", "cpu", "--no-timing", "--case", "n=1");
  int cached = t_exists(peaks);
  t_run(&q, 100, T_SOLUTION, "--peaks", peaks, "--peaks-under-load", "--track", "cpu", "--no-timing", "--case", "n=1");
  t_load_stop(&load);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "measured while other programs held the cores");
  t_assert_output_has(&p, "not cached; close them and run again");
  cr_expect(!cached, "the peaks measured under load were cached in %s", peaks);
  json_t *root = t_load_json(json);
  json_t *pk = json_object_get(json_object_get(root, "machine"), "peaks");
  cr_expect(json_is_true(json_object_get(pk, "cpu_contended")), "results.json: machine.peaks.cpu_contended");
  double share = json_real_value(json_object_get(pk, "cpu_share"));
  cr_expect(share > 0.0 && share < EM_PEAKS_QUIET_SHARE, "machine.peaks.cpu_share %g", share);
  json_decref(root);
  t_assert_exit(&q, 0);
  cr_expect(t_exists(peaks), "--peaks-under-load: cached anyway");
  t_proc_free(&p);
  t_proc_free(&q);
}

/* ================================================================================================
 * The status line: on a terminal, which case runs now; elsewhere not a byte of it.
 */

TestSuite(status_line, .timeout = 120);

/* A pseudo-terminal in raw mode (no newline translation, no echo), as a program's terminal: what
 * the program writes to the returned end is read from *master as written. */
static int open_pty(int *master) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  cr_assert(m >= 0, "posix_openpt: %s", strerror(errno));
  cr_assert(grantpt(m) == 0 && unlockpt(m) == 0, "grantpt/unlockpt: %s", strerror(errno));
  int s = open(ptsname(m), O_RDWR | O_NOCTTY);
  cr_assert(s >= 0, "open(%s): %s", ptsname(m), strerror(errno));
  struct termios tio;
  cr_assert(tcgetattr(s, &tio) == 0);
  cfmakeraw(&tio);
  cr_assert(tcsetattr(s, TCSANOW, &tio) == 0);
  *master = m;
  return s;
}

/* What a program wrote to stdout and stderr, each a terminal (tty = 1) or a pipe, read while it
 * runs (a terminal or a pipe that nobody reads would stop it once full). */
typedef struct captured {
  char *out, *err;
  int code;
} captured;

static void run_on(int tty, const char *const *argv, captured *c) {
  int rd[2], wr[2];
  for (int k = 0; k < 2; ++k) {
    if (tty) {
      wr[k] = open_pty(&rd[k]);
    } else {
      int fds[2];
      cr_assert(pipe(fds) == 0, "pipe: %s", strerror(errno));
      rd[k] = fds[0], wr[k] = fds[1];
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr[0], 1);
  posix_spawn_file_actions_adddup2(&fa, wr[1], 2);
  for (int k = 0; k < 2; ++k) posix_spawn_file_actions_addclose(&fa, rd[k]);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  cr_assert(rc == 0, "cannot start %s: %s", argv[0], strerror(rc));
  close(wr[0]), close(wr[1]);
  size_t len[2] = {0, 0}, cap[2] = {1 << 16, 1 << 16};
  char *buf[2] = {malloc(cap[0]), malloc(cap[1])};
  int open_fds = 2;
  struct pollfd pf[2] = {{rd[0], POLLIN, 0}, {rd[1], POLLIN, 0}};
  while (open_fds > 0) {
    cr_assert(poll(pf, 2, 100 * 1000) > 0, "%s wrote nothing for 100 s", argv[0]);
    for (int k = 0; k < 2; ++k) {
      if (pf[k].fd < 0 || !pf[k].revents) continue;
      if (len[k] + 4096 > cap[k]) buf[k] = realloc(buf[k], cap[k] *= 2);
      ssize_t got = read(pf[k].fd, buf[k] + len[k], cap[k] - len[k] - 1);
      if (got > 0) {
        len[k] += (size_t)got;
      } else { /* 0 at a pipe's end, EIO once a terminal's last writer closed it */
        close(pf[k].fd);
        pf[k].fd = -1;
        open_fds--;
      }
    }
  }
  int status;
  cr_assert(waitpid(pid, &status, 0) == pid);
  buf[0][len[0]] = 0, buf[1][len[1]] = 0;
  c->out = buf[0], c->err = buf[1];
  c->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Piped (a log, CI, `make check | tee`), a timed run writes no carriage return anywhere: no status
 * line, only the table, whose rows come as the cases finish. */
Test(status_line, none_when_piped) {
  const char *json = t_str("%s/r.json", t_tmpdir());
  captured c;
  run_on(0, T_ARGV(T_SOLUTION, "--peaks", T_PEAKS, "--peaks-under-load", "--json", json, "--track", "cpu", "--part", "b",
                   "--case", "n=10", "--budget", "0.01"),
         &c);
  cr_assert_eq(c.code, 0, "exit %d\n%s\n%s", c.code, c.out, c.err);
  cr_expect(strstr(c.out, "n=1025") != NULL && strstr(c.out, "vs ref") != NULL, "the timed table:\n%s", c.out);
  cr_expect(strchr(c.out, '\r') == NULL, "a carriage return in piped stdout:\n%s", c.out);
  cr_expect(strchr(c.err, '\r') == NULL, "a carriage return in piped stderr:\n%s", c.err);
  cr_expect(strstr(c.err, "(case ") == NULL, "a status line on piped stderr:\n%s", c.err);
  free(c.out), free(c.err);
}

/* On a terminal the status line says which case runs, on stderr, and is wiped before the row that
 * replaces it: stdout is byte for byte what it is through a pipe (colour off for the comparison). */
Test(status_line, on_a_terminal_and_cleared) {
  const char *json = t_str("%s/r.json", t_tmpdir());
  const char *const *argv = T_ARGV(T_SOLUTION, "--peaks", T_PEAKS, "--peaks-under-load", "--json", json, "--track",
                                   "cpu", "--part", "a", "--no-timing", "--color", "never");
  captured tty, piped;
  run_on(1, argv, &tty);
  run_on(0, argv, &piped);
  cr_assert_eq(tty.code, 0, "exit %d\n%s\n%s", tty.code, tty.out, tty.err);
  cr_expect_str_eq(tty.out, piped.out, "stdout on a terminal differs from stdout through a pipe");
  int n = t_spec_count(1, EM_TRACK_CPU, 'a');
  cr_expect(strstr(tty.err, "  checking (a) n=1 [n=1] (case 1/") != NULL, "no status line on the terminal:\n%s", tty.err);
  cr_expect(strstr(tty.err, t_str("(case %d/%d)", n, n)) != NULL, "the last case's status line:\n%s", tty.err);
  size_t len = strlen(tty.err);
  cr_expect(len > 0 && tty.err[len - 1] == '\r', "the status line is left on the screen:\n%s", tty.err);
  cr_expect_str_eq(piped.err, "", "stderr through a pipe");
  free(tty.out), free(tty.err), free(piped.out), free(piped.err);
}

/* ================================================================================================
 * Crashes and hangs of the code under test (lab 1's planted files): the checker names the case it
 * was on.
 */

TestSuite(crash, .timeout = 300);

/* An illegal address leaves the CUDA context unusable: that case is an error with the reason, the
 * rest of the CUDA cases are skipped saying why, and the run still ends as "failed" (1). */
Test(crash, cuda_illegal_address) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, T_PLANTED("bad_pointer.cu"), json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "illegal memory access");
  t_assert_output_has(&p, "guard every access");
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, "cuda", 'a', "n=1");
  cr_expect_str_eq(t_json_str(c, "status"), "error");
  json_t *later = t_get_case(root, "cuda", 'b', "n=1025");
  cr_expect_str_eq(t_json_str(later, "status"), "skip");
  cr_expect(strstr(t_json_str(later, "reason"), "earlier CUDA error") != NULL, "reason: %s", t_json_str(later, "reason"));
  json_decref(root);
  t_proc_free(&p);
}

/* Student code that crashes: the checker names the case it was on before it dies. */
Test(crash, segfault_names_the_case) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, T_PLANTED("segfault"), json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "crashed");
  t_assert_output_has(&p, "segmentation fault");
  t_assert_output_has(&p, "part (a) case \"n=1\"");
  t_assert_output_has(&p, "lab1_add_a");
  t_proc_free(&p);
}

Test(crash, hang_stopped_by_timeout) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 40, T_PLANTED("hang"), json, "--track", "cpu", "--no-timing", "--timeout", "2", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "did not finish in time");
  t_assert_output_has(&p, "part (a) case \"n=1\"");
  t_proc_free(&p);
}

/* Command-line errors: exit 2 and a message that says what was wrong. */

typedef struct bad_args {
  char args[3][40];
  char expect[80];
} bad_args;

ParameterizedTestParameters(cli, bad_command_exits_2) {
  static bad_args table[] = {
      {{"--lab", "99"}, "unknown lab '99'"},
      {{"--track", "gpu"}, "unknown track 'gpu'"},
      {{"--seed", "-1"}, "bad seed '-1'"},
      {{"--seed", "12abc"}, "bad seed '12abc'"},
      {{"--frobnicate"}, "unknown or incomplete option '--frobnicate'"},
      {{"--lab"}, "unknown or incomplete option '--lab'"},
      {{"--budget", "-1"}, "bad budget '-1'"},
      {{"--timeout", "soon"}, "bad timeout 'soon'"},
      {{"--part", "ab"}, "unknown part 'ab'"},
      {{"--threads", "0"}, "bad thread count '0'"},
      {{"--color", "purple"}, "--color takes auto, always or never"},
      {{"stray"}, "unexpected argument 'stray'"},
      {{"--hidden-only"}, "--hidden-only needs --cases FILE"},
      {{"--cases", "/nonexistent/cases.json"}, "cannot read the cases file"},
      {{"--history"}, "unknown or incomplete option '--history'"},
      {{"--history", "/tmp"}, "--history /tmp is a folder"},
      {{"--history", "/tmp/"}, "--history /tmp/ is a folder"},
  };
  return cr_make_param_array(bad_args, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(bad_args *b, cli, bad_command_exits_2) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 20, T_SOLUTION, json, "--no-timing", b->args[0], b->args[1][0] ? b->args[1] : NULL,
            b->args[1][0] && b->args[2][0] ? b->args[2] : NULL, NULL);
  t_assert_exit(&p, 2);
  cr_expect(strstr(p.err, b->expect) != NULL, "stderr lacks \"%s\":\n%s", b->expect, p.err);
  cr_expect(!t_exists(json), "nothing ran, so no results file");
  t_proc_free(&p);
}

/* 4294967297 is 2^32 + 1: it must not be taken for lab 1 (a cast to int drops the high bits). */
Test(cli, lab_number_beyond_int_is_unknown) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, T_SOLUTION, json, "--lab", "4294967297", "--track", "cpu", "--no-timing", "--part", "a", NULL);
  t_assert_exit(&p, 2);
  cr_expect(strstr(p.err, "unknown lab") != NULL, "stderr: %s", p.err);
  t_proc_free(&p);
}

/* A seed names a run: the seed results.json records must reproduce it (--seed accepts any 64-bit
 * value; 2^63 and up must not come back negative, which --seed then refuses). */
Test(cli, large_seed_round_trips) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, T_SOLUTION, json, "--seed", "9223372036854775809", "--track", "cpu", "--no-timing", "--case",
            "n=1", "--part", "a", NULL);
  if (p.exited && p.code == 2) { /* refusing it with a message is fine too */
    cr_expect(strstr(p.err, "seed") != NULL, "stderr: %s", p.err);
    t_proc_free(&p);
    return;
  }
  t_assert_exit(&p, 0);
  char *text = t_read_file(json, NULL);
  cr_assert(text != NULL);
  cr_expect(strstr(text, "\"seed\": 9223372036854775809") != NULL || strstr(text, "\"seed\": \"9223372036854775809\"") != NULL,
            "results.json does not record the seed 9223372036854775809:\n%.400s", strstr(text, "\"seed\"") ? strstr(text, "\"seed\"") : text);
  free(text);
  t_proc_free(&p);
}

/* ================================================================================================
 * make: the commands students type.
 */

TestSuite(make, .timeout = 300);

Test(make, check_before_any_build) {
  const char *build = t_str("%s/build", t_tmpdir());
  t_proc p;
  t_run(&p, 100, "make", "-s", "check", t_str("BUILD=%s", build));
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "make lab");
  t_proc_free(&p);
}

Test(make, check_unknown_lab) {
  const char *build = t_str("%s/build", t_tmpdir());
  t_proc p;
  t_run(&p, 100, "make", "-s", "check", "LAB=9", t_str("BUILD=%s", build));
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "lab 9");
  t_proc_free(&p);
}

Test(make, lab_that_does_not_compile) {
  const char *tmp = t_tmpdir(), *labs = t_str("%s/labs", tmp), *dir = t_str("%s/labs/lab1-add", tmp);
  cr_assert(mkdir(labs, 0777) == 0 && mkdir(dir, 0777) == 0);
  t_copy_file("labs/lab1-add/add.c", t_str("%s/add.c", dir));
  t_copy_file("labs/lab1-add/add.cu", t_str("%s/add.cu", dir));
  FILE *f = fopen(t_str("%s/add.c", dir), "a");
  cr_assert(f != NULL);
  fputs("\nvoid broken(void) { int x = ; }\n", f); /* a syntax error */
  fclose(f);
  t_proc p;
  t_run(&p, 280, "make", "-s", "lab1", t_str("LABS=%s", labs), t_str("BUILD=%s/build", tmp));
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "add.c does not compile");
  cr_expect(!t_exists(t_str("%s/build/lab1/em-check", tmp)), "no checker is linked from broken code");
  t_proc_free(&p);
  /* `make check` then says so and checks nothing (before, it checked the lab built last). */
  t_run(&p, 100, "make", "-s", "check", t_str("LABS=%s", labs), t_str("BUILD=%s/build", tmp));
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "lab 1 did not build");
  cr_expect(strstr(p.all, "passed") == NULL, "a failed build was checked anyway:\n%s", p.all);
  t_proc_free(&p);
}

/* A student whose compiler has no OpenMP (Apple's clang, say) builds with NO_OMP=1, or gets it by
 * the Makefile's probe: the library and every lab's reference must still build, warnings as errors,
 * and pass, on one thread. The references' OpenMP sits behind pragmas and #if _OPENMP guards that
 * no other configuration of the suite compiles. */
Test(make, every_lab_builds_and_passes_without_openmp) {
  const char *build = t_str("%s/build", t_tmpdir());
  t_proc p;
  t_run(&p, 280, "make", "-s", "lab1", "lab2", "lab3", "lab4", "lab5", "lab6", "lab7", "lab8", "SOLUTION=1", "NO_OMP=1",
        "NO_CUDA=1", t_str("BUILD=%s", build));
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "OpenMP not used (NO_OMP=1)");
  t_proc_free(&p);
  for (int lab = 1; lab <= 8; ++lab) {
    t_checker(&p, 200, t_str("%s/lab%d/em-check", build, lab), t_str("%s/r%d.json", build, lab), "--track", "cpu",
              "--small-only", "--no-timing", NULL);
    t_assert_exit(&p, 0);
    t_assert_output_has(&p, " 0 failed");
    t_proc_free(&p);
  }
}

/* A lab that does not exist: the labs there are, not make's "No rule to make target". */
Test(make, unknown_lab_goal_lists_the_labs) {
  t_proc p;
  t_run(&p, 100, "make", "-s", "lab9", t_str("BUILD=%s/build", t_tmpdir()));
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "there is no lab9: the labs are lab1 lab2");
  cr_expect(strstr(p.all, "No rule to make target") == NULL, "%s", p.all);
  t_proc_free(&p);
}

/* The grader's build: a submission's lab folder out of tree, against a pristine build (PREBUILT).
 * Only the file names the pristine lab folder has are compiled (a stray file that would not
 * compile is ignored), everything lands in BUILD, the prebuilt library is not touched, and the
 * checker it links works. */
static double t_mtime(const char *path) {
  struct stat st;
  cr_assert(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
  return (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
}

Test(make, out_of_tree_against_prebuilt) {
  const char *tmp = t_tmpdir(), *dir = t_str("%s/sub/lab1-add", tmp), *build = t_str("%s/build", tmp);
  cr_assert(mkdir(t_str("%s/sub", tmp), 0777) == 0 && mkdir(dir, 0777) == 0);
  t_write_file(t_str("%s/add.c", dir),
               "#include <stdint.h>\n#include \"em/add.h\"\n"
               "void lab1_add_a(const float *x, float c, float *z, int64_t n) { for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c; }\n"
               "void lab1_add_b(const float *x, float c, float *z, int64_t n) { for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c; }\n");
  t_write_file(t_str("%s/stray.c", dir), "this is not C\n");
  static const char *const pristine[] = {"libem.a", "libemharness.a", "obj/harness/main.o", "config.mk"};
  double before[4];
  for (int i = 0; i < 4; ++i) before[i] = t_mtime(t_str("%s/%s", EM_BUILD_DIR, pristine[i]));

  t_proc p;
  t_run(&p, 280, "make", "-s", "lab1", t_str("LABS=%s/sub", tmp), t_str("BUILD=%s", build), "PREBUILT=" EM_BUILD_DIR);
  t_assert_exit(&p, 0);
  cr_expect(strstr(p.all, "stray") == NULL, "stray.c is not a lab 1 file, yet make saw it:\n%s", p.all);
  t_proc_free(&p);
  cr_expect(t_exists(t_str("%s/lab1/student/add.o", build)), "the student object goes to BUILD/lab1/student/");
  cr_expect(!t_exists(t_str("%s/lab1/student/stray.o", build)));
  cr_expect(!t_exists(t_str("%s/libem.a", build)), "the library is PREBUILT's, not rebuilt into BUILD");
  for (int i = 0; i < 4; ++i)
    cr_expect_eq(t_mtime(t_str("%s/%s", EM_BUILD_DIR, pristine[i])), before[i], "PREBUILT/%s was rewritten", pristine[i]);

  t_checker(&p, 100, t_str("%s/lab1/em-check", build), t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing",
            "--case", "=n=1025", NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "1 passed, 0 failed");
  t_proc_free(&p);

  /* A PREBUILT that is not a build says so, and builds nothing. */
  t_run(&p, 100, "make", "-s", "lab1", t_str("LABS=%s/sub", tmp), t_str("BUILD=%s/b2", tmp), t_str("PREBUILT=%s/none", tmp));
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "is not a complete build");
  cr_expect(!t_exists(t_str("%s/b2/lab1/em-check", tmp)));
  t_proc_free(&p);
}

/* `make check` exits 1 when a case fails and 0 when all pass, though make itself knows only 0 and
 * 2 for a recipe. */
Test(make, check_exit_codes) {
  const char *build = t_str("%s/build", t_tmpdir());
  t_proc p;
  t_run(&p, 280, "make", "-s", "lab1", t_str("BUILD=%s", build));
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  /* The peaks measured for build/ are this machine's too: no second measurement. */
  if (t_exists(T_PEAKS)) t_copy_file(T_PEAKS, t_str("%s/peaks.json", build));

  t_run(&p, 200, "make", "-s", "check", t_str("BUILD=%s", build), "TRACK=cpu", "ARGS=--no-timing");
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "TODO not done yet");
  cr_expect(t_exists(t_str("%s/lab1/results.json", build)), "make check writes BUILD/lab1/results.json");
  t_proc_free(&p);

  t_run(&p, 200, "make", "-s", "check", t_str("BUILD=%s", build), "TRACK=cpu", "ARGS=--no-timing --seed -1");
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "bad seed");
  t_proc_free(&p);

  t_run(&p, 280, "make", "-s", "lab1", t_str("BUILD=%s", build), "SOLUTION=1");
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  t_run(&p, 200, "make", "-s", "check", t_str("BUILD=%s", build), "TRACK=cpu", "ARGS=--no-timing");
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, " 0 failed");
  t_proc_free(&p);
}

/* A build folder as `make lab1 SOLUTION=1` leaves it, without building: the solution checker that
 * tests.mk built, the peaks cache. Enough for `make check`, which only runs what is built. */
static const char *fake_build_of_solution(void) {
  const char *build = t_str("%s/build", t_tmpdir());
  char target[PATH_MAX];
  cr_assert(realpath(T_SOLUTION, target) != NULL, "%s: %s", T_SOLUTION, strerror(errno));
  cr_assert(mkdir(build, 0777) == 0 && mkdir(t_str("%s/lab1", build), 0777) == 0);
  cr_assert(symlink(target, t_str("%s/lab1/em-check", build)) == 0);
  t_write_file(t_str("%s/current-lab", build), "1\n");
  if (t_exists(T_PEAKS)) t_copy_file(T_PEAKS, t_str("%s/peaks.json", build));
  return build;
}

/* `make check` run by a program whose stdout is a socket (a CI runner or a service under systemd
 * that logs through one): the checker must still run and the exit status still say "passed". */
Test(make, check_with_stdout_a_socket) {
  const char *build = fake_build_of_solution();
  int sv[2];
  cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  t_proc p;
  /* One small case: its whole output fits in the socket's buffer while nobody reads. */
  t_spawn(&p, 100, sv[0],
          T_ARGV("make", "-s", "check", t_str("BUILD=%s", build), "TRACK=cpu", "ARGS=--no-timing --case n=1 --part a"));
  close(sv[0]);
  char out[65536];
  size_t n = 0;
  ssize_t got;
  while (n < sizeof out - 1 && (got = recv(sv[1], out + n, sizeof out - 1 - n, MSG_DONTWAIT)) > 0) n += (size_t)got;
  out[n] = 0;
  close(sv[1]);
  /* A socket cannot be reopened through /proc, so the Makefile sends the table to make's stderr
   * there: the table must reach the caller on one of the two, and the status must be right. */
  cr_expect(strstr(out, " 0 failed") != NULL || strstr(p.err, " 0 failed") != NULL,
            "the checker's table reached neither stdout nor stderr; stdout:\n%s\nstderr:\n%s", out, p.err);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* The same, with stdout a plain pipe-free file: the common case, as a control for the one above. */
Test(make, check_with_fake_build) {
  const char *build = fake_build_of_solution();
  t_proc p;
  t_run(&p, 100, "make", "-s", "check", t_str("BUILD=%s", build), "TRACK=cpu", "ARGS=--no-timing --case n=1 --part a");
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, " 0 failed");
  t_proc_free(&p);
  /* Each check adds a line to the lab's history, the material of `make report`. */
  char *hist = t_read_file(t_str("%s/lab1/history.jsonl", build), NULL);
  cr_expect(hist != NULL && t_count(hist, "\n") == 1 && strstr(hist, "\"em-history/1\"") != NULL,
            "make check appends one line to BUILD/lab1/history.jsonl: %s", hist ? hist : "(no file)");
  free(hist);
}

/* ================================================================================================
 * Output files: --dump, --junit.
 */

TestSuite(outputs, .timeout = 120);

/* The one subfolder --dump made for a one-case run. */

/* Reads one dumped array and checks its dtype and length. */
static void *dumped(const char *dir, const char *name, const char *descr, size_t n, size_t elem) {
  size_t len;
  const unsigned char *data;
  char header[512];
  char *buf = t_read_npy(t_str("%s/%s.npy", dir, name), &len, &data, header, sizeof header);
  cr_expect(strstr(header, t_str("'descr': '%s'", descr)) != NULL, "%s.npy: header %s", name, header);
  cr_assert_eq(len - (size_t)(data - (const unsigned char *)buf), n * elem, "%s.npy holds %zu bytes, want %zu", name,
               len - (size_t)(data - (const unsigned char *)buf), n * elem);
  void *out = malloc(n * elem);
  memcpy(out, data, n * elem);
  free(buf);
  return out;
}

Test(outputs, dump_writes_npy) {
  const char *tmp = t_tmpdir(), *dump = t_str("%s/dump", tmp);
  t_proc p;
  t_checker(&p, 50, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--part", "a", "--case",
            "n=33", "--dump", dump, NULL);
  t_assert_exit(&p, 0);
  const char *dir = t_only_subdir(dump);
  float *x = dumped(dir, "x", "<f4", 33, 4), *c = dumped(dir, "c", "<f4", 1, 4), *z = dumped(dir, "z", "<f4", 33, 4);
  double *want = dumped(dir, "z_want", "<f8", 33, 8);
  for (int i = 0; i < 33; ++i) {
    cr_expect(x[i] >= -1.0f && x[i] < 1.0f, "x[%d] = %g is not from the uniform range", i, x[i]);
    cr_expect_eq(want[i], (double)x[i] + (double)c[0], "z_want[%d] is not x + c in float64", i);
    cr_expect_eq(z[i], x[i] + c[0], "z[%d] is not the solution's x + c", i);
  }
  free(x), free(c), free(z), free(want);
  t_proc_free(&p);
}

/* What the code under test wrote, as it wrote it: for the skeleton, the poison everywhere. */
Test(outputs, dump_of_skeleton_shows_unwritten) {
  const char *tmp = t_tmpdir(), *dump = t_str("%s/dump", tmp);
  t_proc p;
  t_checker(&p, 50, T_SKELETON, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--part", "b", "--case",
            "n=1025", "--dump", dump, NULL);
  t_assert_exit(&p, 1);
  uint32_t *z = dumped(t_only_subdir(dump), "z", "<f4", 1025, 4);
  for (int i = 0; i < 1025; ++i) cr_assert_eq(z[i], EM_POISON_U32, "z[%d] = 0x%08x, the skeleton wrote nothing", i, z[i]);
  free(z);
  t_proc_free(&p);
}

/* --dump makes its folder with its parents and says where it wrote and how much; a folder that
 * cannot be made stops the run (exit 2) before any case. */
Test(outputs, dump_makes_its_folder_and_says_so) {
  const char *tmp = t_tmpdir(), *dump = t_str("%s/new/sub/dir", tmp);
  t_proc p;
  t_checker(&p, 50, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--case", "=n=1025", "--dump",
            dump, NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, t_str("dump: 4 files, 0.0 MB in %s", dump));
  cr_expect(t_exists(t_str("%s/lab1-cpu-b-n_1025/z_want.npy", dump)));
  t_proc_free(&p);
  t_write_file(t_str("%s/file", tmp), "not a folder\n");
  t_checker(&p, 50, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--case", "=n=1025", "--dump",
            t_str("%s/file/sub", tmp), NULL);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "cannot create the --dump folder");
  t_proc_free(&p);
}

/* A python3 first on PATH that notes each start in <dir>/python3.log and exits with status. */
static void fake_python3(const char *dir, int status) {
  const char *bin = t_str("%s/bin", dir), *py = t_str("%s/python3", bin);
  if (!t_exists(bin)) cr_assert(mkdir(bin, 0755) == 0);
  t_write_file(py, t_str("#!/bin/sh\necho \"$*\" >> %s/python3.log\nexit %d\n", dir, status));
  cr_assert(chmod(py, 0755) == 0);
  const char *path = getenv("PATH");
  cr_assert(setenv("PATH", t_str("%s:%s", bin, path ? path : "/usr/bin:/bin"), 1) == 0);
}

static int lines_of(const char *path) {
  char *text = t_exists(path) ? t_read_file(path, NULL) : NULL;
  int n = 0;
  for (const char *c = text; c && *c; ++c) n += *c == '\n';
  free(text);
  return n;
}

/* After a dump, a python3 that cannot import numpy gets the way to install it, once, without
 * changing the exit status; a check without --dump never starts python3. */
Test(outputs, dump_says_how_to_get_numpy) {
  const char *tmp = t_tmpdir(), *log = t_str("%s/python3.log", tmp);
  fake_python3(tmp, 1);
  t_proc p;
  t_checker(&p, 50, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--case", "=n=1025", NULL);
  t_assert_exit(&p, 0);
  cr_expect_eq(lines_of(log), 0, "python3 ran without --dump");
  t_proc_free(&p);
  t_checker(&p, 50, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--case", "=n=1", "--dump",
            t_str("%s/d1", tmp), NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "no numpy here (python3 -c 'import numpy' fails): scripts/install-deps.sh --numpy");
  t_assert_output_has(&p, "python3 -m pip install numpy");
  cr_expect_eq(lines_of(log), 1, "python3 ran more than once");
  char *asked = t_read_file(log, NULL);
  cr_expect_str_eq(asked, "-c import numpy\n");
  free(asked);
  t_proc_free(&p);
  /* the skeleton fails its case: still exit 1, with the hint */
  t_checker(&p, 50, T_SKELETON, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--case", "=n=1", "--dump",
            t_str("%s/d2", tmp), NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "scripts/install-deps.sh --numpy");
  t_proc_free(&p);
  /* numpy there: not a word */
  fake_python3(tmp, 0);
  t_checker(&p, 50, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--case", "=n=1", "--dump",
            t_str("%s/d3", tmp), NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "dump: ");
  cr_expect(strstr(p.all, "numpy here") == NULL, "the hint with numpy importable:\n%s", p.all);
  t_proc_free(&p);
}

/* The way the hint names: --numpy adds numpy to what install-deps.sh checks (as the python3 on PATH
 * imports it), --check only reports; without --numpy, numpy is never asked for. */
Test(outputs, install_deps_checks_numpy_on_request) {
  const char *tmp = t_tmpdir();
  fake_python3(tmp, 1);
  t_proc p;
  t_run(&p, 60, "bash", "scripts/install-deps.sh", "--numpy", "--check");
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, "missing: python3-numpy");
  t_proc_free(&p);
  t_run(&p, 60, "bash", "scripts/install-deps.sh", "--check");
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  fake_python3(tmp, 0);
  t_run(&p, 60, "bash", "scripts/install-deps.sh", "--numpy", "--check");
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* ---- --history: one JSON line per run ---- */

/* The lines of a JSON Lines file, each parsed (asserting that it is whole JSON ending in a newline);
 * returns their count, at most max. */
static int history_lines(const char *path, json_t **lines, int max) {
  char *text = t_read_file(path, NULL);
  cr_assert(text != NULL, "--history did not write %s", path);
  int n = 0;
  for (char *line = text, *end; *line; line = end + 1) {
    end = strchr(line, '\n');
    cr_assert(end != NULL, "%s: the last line has no newline (a half-written line?):\n%s", path, line);
    *end = 0;
    json_error_t jerr;
    json_t *v = json_loads(line, 0, &jerr);
    cr_assert(json_is_object(v), "%s line %d is not a JSON object (%s):\n%s", path, n + 1, jerr.text, line);
    cr_assert(n < max, "%s has more than %d lines", path, max);
    lines[n++] = v;
  }
  free(text);
  return n;
}

/* A line has the run's when, seed, tracks, score per track and counts, and each timed case's
 * figures; a second run adds a second line and leaves the first as it was. */
Test(outputs, history_appends_a_line_per_run) {
  const char *tmp = t_tmpdir(), *hist = t_str("%s/new/history.jsonl", tmp), *json = t_str("%s/r.json", tmp);
  const char *seeds[2] = {"7", "8"};
  double score[2];
  for (int k = 0; k < 2; ++k) {
    t_proc p;
    t_checker(&p, 100, T_SOLUTION, json, "--track", "cpu", "--case", "=n=1025", "--budget", "0.02", "--seed", seeds[k],
              "--history", hist, NULL);
    t_assert_exit(&p, 0);
    cr_expect(strstr(p.all, "history") == NULL, "a history line written says nothing:\n%s", p.all);
    json_t *root = t_load_json(json);
    score[k] = t_json_num(json_object_get(root, "score"), "points");
    json_decref(root);
    t_proc_free(&p);
  }
  json_t *lines[4];
  int n = history_lines(hist, lines, 4);
  cr_assert_eq(n, 2, "two runs, two lines");
  for (int k = 0; k < 2; ++k) {
    json_t *l = lines[k];
    cr_expect_str_eq(t_json_str(l, "schema"), "em-history/1");
    const char *when = t_json_str(l, "when");
    cr_expect(strlen(when) == 20 && when[4] == '-' && when[10] == 'T' && when[19] == 'Z', "when: \"%s\" is not "
              "ISO 8601 UTC (2026-03-01T12:00:00Z)", when);
    cr_expect_eq(json_integer_value(json_object_get(l, "lab")), 1);
    cr_expect_eq(json_integer_value(json_object_get(l, "seed")), atoi(seeds[k]));
    cr_expect(json_is_true(json_object_get(l, "solution")), "the solution's checker says so");
    json_t *tracks = json_object_get(l, "tracks");
    cr_expect(json_array_size(tracks) == 1 && strcmp(t_str_or_empty(json_array_get(tracks, 0)), "cpu") == 0,
              "tracks must be [\"cpu\"]");
    json_t *cpu = json_object_get(json_object_get(l, "score"), "cpu");
    cr_assert(json_is_object(cpu), "score.cpu is missing");
    cr_expect_eq(t_json_num(cpu, "points"), score[k], "the score of results.json");
    cr_expect(json_object_get(json_object_get(l, "score"), "cuda") == NULL, "a track not run has no score");
    cr_expect_eq(json_integer_value(json_object_get(l, "passed")), 1);
    cr_expect_eq(json_integer_value(json_object_get(l, "failed")), 0);
    cr_expect_eq(json_integer_value(json_object_get(l, "skipped")), 0);
    json_t *cases = json_object_get(l, "cases");
    cr_assert_eq(json_array_size(cases), 1, "one timed case");
    json_t *c = json_array_get(cases, 0);
    cr_expect_str_eq(t_json_str(c, "part"), "b");
    cr_expect_str_eq(t_json_str(c, "name"), "n=1025");
    cr_expect_str_eq(t_json_str(c, "track"), "cpu");
    cr_expect_str_eq(t_json_str(c, "status"), "pass");
    static const char *const figures[] = {"time_ms", "speedup_vs_ref", "gbps", "gflops", "roofline_frac"};
    for (int f = 0; f < 5; ++f) cr_expect(t_json_num(c, figures[f]) > 0, "%s must be positive", figures[f]);
    json_decref(l);
  }
}

/* Runs that append at the same time each leave one whole line (one write to an O_APPEND file). */
Test(outputs, history_lines_of_concurrent_runs_stay_whole) {
  const char *tmp = t_tmpdir(), *hist = t_str("%s/history.jsonl", tmp);
  t_proc p;
  t_run(&p, 100, "sh", "-c",
        t_str("for i in 1 2 3 4 5 6; do %s --peaks %s --peaks-under-load --json %s/r$i.json --track cpu --no-timing "
              "--history %s >/dev/null & done; wait",
              T_SOLUTION, T_PEAKS, tmp, hist));
  t_assert_exit(&p, 0);
  json_t *lines[8];
  int n = history_lines(hist, lines, 8);
  cr_expect_eq(n, 6, "six runs, six lines");
  for (int k = 0; k < n; ++k) {
    cr_expect_eq(json_array_size(json_object_get(lines[k], "cases")), 0, "--no-timing: no timed case");
    cr_expect(json_is_false(json_object_get(lines[k], "timing")));
    json_decref(lines[k]);
  }
  t_proc_free(&p);
}

/* A history that cannot be written is a warning: the check's verdict and results.json stand. */
Test(outputs, history_that_cannot_be_written_is_a_warning) {
  const char *tmp = t_tmpdir(), *json = t_str("%s/r.json", tmp);
  t_write_file(t_str("%s/file", tmp), "not a folder\n");
  t_proc p;
  t_checker(&p, 50, T_SOLUTION, json, "--track", "cpu", "--no-timing", "--case", "=n=1", "--history",
            t_str("%s/file/history.jsonl", tmp), NULL);
  t_assert_exit(&p, 0);
  cr_expect(strstr(p.err, "warning: this run was not added to the history") != NULL, "stderr:\n%s", p.err);
  cr_expect(t_exists(json), "results.json is written all the same");
  t_proc_free(&p);
}

/* A case is reproducible from its seed: the same seed, the same inputs; another, others. */
Test(outputs, inputs_follow_the_seed) {
  const char *tmp = t_tmpdir();
  const char *seeds[3] = {"11", "11", "12"};
  float *x[3];
  for (int k = 0; k < 3; ++k) {
    const char *dump = t_str("%s/dump%d", tmp, k), *json = t_str("%s/r%d.json", tmp, k);
    t_proc p;
    t_checker(&p, 50, T_SOLUTION, json, "--track", "cpu", "--no-timing", "--case", "n=4099", "--seed", seeds[k], "--dump",
              dump, NULL);
    t_assert_exit(&p, 0);
    json_t *root = t_load_json(json);
    cr_expect_eq(json_integer_value(json_object_get(root, "seed")), atoi(seeds[k]), "results.json records the seed");
    json_decref(root);
    x[k] = dumped(t_only_subdir(dump), "x", "<f4", 4099, 4);
    t_proc_free(&p);
  }
  cr_expect(memcmp(x[0], x[1], 4099 * 4) == 0, "the same seed gave different inputs");
  cr_expect(memcmp(x[0], x[2], 4099 * 4) != 0, "another seed gave the same inputs");
  for (int k = 0; k < 3; ++k) free(x[k]);
}

Test(outputs, junit_for_skeleton_and_solution) {
  const char *tmp = t_tmpdir(), *xml = t_str("%s/junit/skeleton.xml", tmp);
  int n = t_spec_count(1, EM_TRACK_CPU, 0);
  t_proc p;
  t_checker(&p, 100, T_SKELETON, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--junit", xml, NULL);
  t_assert_exit(&p, 1);
  char *text = t_read_file(xml, NULL);
  cr_assert(text != NULL, "--junit did not write %s", xml);
  cr_expect(strncmp(text, "<?xml", 5) == 0, "not XML: %.80s", text);
  cr_expect_eq(t_count(text, "<testcase "), n, "one testcase per case");
  cr_expect_eq(t_count(text, "<failure "), n, "every case of the skeleton fails");
  cr_expect_eq(t_count(text, "</testcase>"), n);
  cr_expect(strstr(text, t_str("tests=\"%d\" failures=\"%d\"", n, n)) != NULL, "totals: %.300s", text);
  cr_expect(strstr(text, "TODO not done yet") != NULL, "the failure text carries the hint");
  free(text);
  t_proc_free(&p);

  xml = t_str("%s/solution.xml", tmp);
  t_checker(&p, 100, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--part", "a", "--junit", xml, NULL);
  t_assert_exit(&p, 0);
  text = t_read_file(xml, NULL);
  cr_assert(text != NULL);
  cr_expect_eq(t_count(text, "<testcase "), t_spec_count(1, EM_TRACK_CPU, 'a'));
  cr_expect_eq(t_count(text, "<failure"), 0);
  free(text);
  t_proc_free(&p);
}

/* ================================================================================================
 * The instructor's hidden cases (--cases FILE).
 */

TestSuite(hidden, .timeout = 120);

static const char *write_cases(const char *text) {
  const char *path = t_str("%s/cases.json", t_tmpdir());
  t_write_file(path, text);
  return path;
}

Test(hidden, case_is_added_and_hidden) {
  const char *cases = write_cases(
      "{\"seed\": 7, \"cases\": [{\"lab\": 1, \"part\": \"b\", \"name\": \"h1\", \"dims\": [12345], \"values\": \"uniform\"}]}");
  const char *json = t_str("%s/r.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, T_SOLUTION, json, "--track", "cpu", "--no-timing", "--cases", cases, NULL);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "hidden");
  cr_expect(strstr(p.out, "12345") == NULL, "the hidden case's size must not be printed:\n%s", p.out);
  json_t *root = t_load_json(json);
  cr_expect_eq(t_json_ncases(root), t_spec_count(1, EM_TRACK_CPU, 0) + 1, "the file adds one case");
  cr_expect_eq(json_integer_value(json_object_get(root, "seed")), 7, "the file's seed is used");
  json_t *c = t_get_case(root, "cpu", 'b', "h1");
  cr_expect_str_eq(t_json_str(c, "shape"), "hidden");
  cr_expect(json_is_true(json_object_get(c, "hidden")));
  cr_expect_str_eq(t_json_str(c, "status"), "pass");
  json_decref(root);
  t_proc_free(&p);

  /* --hidden-only: that case alone; --seed beats the file's seed. */
  t_checker(&p, 100, T_SOLUTION, json, "--track", "cpu", "--no-timing", "--cases", cases, "--hidden-only", "--seed",
            "9", NULL);
  t_assert_exit(&p, 0);
  root = t_load_json(json);
  cr_expect_eq(t_json_ncases(root), 1);
  cr_expect_eq(json_integer_value(json_object_get(root, "seed")), 9);
  json_decref(root);
  t_proc_free(&p);
}

/* A hidden case catches what the public ones would too: the planted off-by-one fails it. */
Test(hidden, case_catches_a_bug) {
  const char *cases = write_cases(
      "{\"seed\": 7, \"cases\": [{\"lab\": 1, \"part\": \"b\", \"name\": \"h1\", \"dims\": [12345], \"values\": \"uniform\"}]}");
  const char *json = t_str("%s/r.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, T_PLANTED("off_by_one_tail"), json, "--track", "cpu", "--no-timing", "--cases", cases,
            "--hidden-only", NULL);
  t_assert_exit(&p, 1);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, "cpu", 'b', "h1");
  cr_expect_str_eq(t_json_str(c, "status"), "fail");
  /* The kind of mistake is said, its numbers are not (see the next test). */
  cr_expect(strstr(t_json_str(c, "reason"), "never written") != NULL, "reason: %s", t_json_str(c, "reason"));
  json_decref(root);
  t_proc_free(&p);
}

/* Hidden cases stay hidden when they fail: lab_spec.h says their shape is not printed and DESIGN.md
 * that students never see them, but a failure message that counts the elements ("1 of 12345
 * elements") or names the last index gives the size away. */
Test(hidden, failure_does_not_reveal_the_shape) {
  const char *cases = write_cases(
      "{\"seed\": 7, \"cases\": [{\"lab\": 1, \"part\": \"b\", \"name\": \"h1\", \"dims\": [12345], \"values\": \"uniform\"}]}");
  const char *json = t_str("%s/r.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, T_PLANTED("off_by_one_tail"), json, "--track", "cpu", "--no-timing", "--cases", cases,
            "--hidden-only", NULL);
  t_assert_exit(&p, 1);
  cr_expect(strstr(p.all, "12345") == NULL && strstr(p.all, "12344") == NULL,
            "the output gives the hidden case's size away:\n%s", p.all);
  t_proc_free(&p);
}

/* JUnit XML escapes what a case name may hold. */
Test(hidden, junit_escapes_names) {
  const char *cases = write_cases(
      "{\"cases\": [{\"lab\": 1, \"part\": \"a\", \"name\": \"x<y&\\\"z\\\"\", \"dims\": [10], \"hidden\": false}]}");
  const char *tmp = t_tmpdir(), *xml = t_str("%s/j.xml", tmp);
  t_proc p;
  t_checker(&p, 50, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--cases", cases,
            "--hidden-only", "--junit", xml, NULL);
  t_assert_exit(&p, 0);
  char *text = t_read_file(xml, NULL);
  cr_assert(text != NULL);
  cr_expect(strstr(text, "name=\"x&lt;y&amp;&quot;z&quot;\"") != NULL, "the name is not escaped:\n%s", text);
  cr_expect(strstr(text, "x<y") == NULL);
  free(text);
  t_proc_free(&p);
}

typedef struct bad_cases {
  char json[200];
  char expect[64];
} bad_cases;

ParameterizedTestParameters(hidden, invalid_file_exits_2) {
  static bad_cases table[] = {
      {"{\"cases\": [{\"lab\": 1, \"part\": \"a\", \"name\": \"big\", \"dims\": [5000]}]}", "1024"},
      {"{\"cases\": [{\"lab\": 1, \"part\": \"b\", \"name\": \"zero\", \"dims\": [0]}]}", "at least 1"},
      {"{\"cases\": [{\"lab\": 99, \"part\": \"b\", \"name\": \"h\", \"dims\": [5]}]}", "lab 99"},
      {"{\"cases\": [{\"lab\": 1, \"part\": \"b\", \"name\": \"h\", \"dims\": [5], \"values\": \"gauss\"}]}", "unknown values"},
      {"{\"cases\": [{\"lab\": 1, \"part\": \"b\", \"name\": \"h\", \"dims\": [5, 6]}]}", "dims"},
      {"{\"cases\": [{\"lab\": 1, \"part\": \"b\", \"name\": \"h\", \"dims\": [5], \"tracks\": \"gpu\"}]}", "tracks"},
      {"{\"cases\": [{\"lab\": 1, \"name\": \"h\", \"dims\": [5]}]}", "\"part\""},
      {"{\"seed\": 7}", "\"cases\""},
      {"{\"cases\": [", "cannot read the cases file"},
  };
  return cr_make_param_array(bad_cases, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(bad_cases *b, hidden, invalid_file_exits_2) {
  const char *cases = write_cases(b->json);
  t_proc p;
  t_checker(&p, 20, T_SOLUTION, t_str("%s/r.json", t_tmpdir()), "--track", "cpu", "--no-timing", "--cases", cases, NULL);
  t_assert_exit(&p, 2);
  cr_expect(strstr(p.err, b->expect) != NULL, "for %s\nstderr lacks \"%s\":\n%s", b->json, b->expect, p.err);
  t_proc_free(&p);
}
