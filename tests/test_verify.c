/* The grader's own channel and the anti-cache check, end to end with the real binaries:
 *
 *   em-check --outputs DIR   a run writes the outputs of every checked call as .npy files;
 *   em-check --verify DIR    a process with no student code judges those files against the oracle;
 *   the anti-cache calls     after timing, the inputs change in place and the code must follow.
 *
 * The files of --verify are hostile (the student's process wrote them): every kind of damage must
 * end as a failed case with its reason, never as a crash, a hang or a pass.
 */
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#include "checker.h"
#include "helpers.h"

#define STALE EM_STALE_REASON

/* A timed run (tiny budget: the timing is not what is tested) of one binary on the CPU track. */
static void timed_run(t_proc *p, const char *bin, const char *json, const char *outputs, const char *part,
                      const char *cases) {
  if (outputs)
    t_checker(p, 250, bin, json, "--track", "cpu", "--budget", "0.002", "--part", part, "--case", cases, "--outputs",
              outputs, NULL);
  else
    t_checker(p, 250, bin, json, "--track", "cpu", "--budget", "0.002", "--part", part, "--case", cases, NULL);
}

static void verify(t_proc *p, const char *dir, const char *json, const char *part, const char *cases) {
  t_checker(p, 100, T_SOLUTION, json, "--verify", dir, "--track", "cpu", "--part", part, "--case", cases, NULL);
}

/* Every case of a results file has status want and, unless NULL, the kind of failure kind; the
 * reasons of failures contain reason. */
static void expect_all(const char *json, const char *want, const char *kind, const char *reason, int ncases) {
  json_t *root = t_load_json(json);
  cr_expect_eq(t_json_ncases(root), ncases, "%s: %d cases, want %d", json, t_json_ncases(root), ncases);
  json_t *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    cr_expect_str_eq(t_json_str(c, "status"), want, "case (%s) \"%s\": %s", t_json_str(c, "part"), t_json_str(c, "name"),
                     t_json_str(c, "reason"));
    if (kind) cr_expect_str_eq(t_json_str(c, "kind"), kind, "case \"%s\": %s", t_json_str(c, "name"), t_json_str(c, "reason"));
    if (reason) cr_expect(strstr(t_json_str(c, "reason"), reason) != NULL, "reason: %s", t_json_str(c, "reason"));
    if (strcmp(want, "pass") != 0)
      cr_expect_eq(t_json_num(json_object_get(c, "score"), "points"), 0.0, "a failed case scores nothing");
  }
  json_decref(root);
}

/* ================================================================================================
 * The anti-cache check.
 */

TestSuite(anticache, .timeout = 300);

/* Keyed on the pointers: right on the first call of each case, stale once the inputs change, which
 * they do before every timed call: caught while timing, before the anti-cache calls. */
Test(anticache, pointer_cache_fails) {
  const char *tmp = t_tmpdir(), *json = t_str("%s/r.json", tmp);
  t_proc p;
  timed_run(&p, T_PLANTED("caches_by_pointer"), json, NULL, "b", "prime");
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, T_REUSED);
  expect_all(json, "fail", "reused", T_REUSED, 3);
  t_proc_free(&p);

  /* Without timing the code runs once per case: nothing to cache, no anti-cache call, a pass. */
  t_checker(&p, 100, T_PLANTED("caches_by_pointer"), json, "--track", "cpu", "--no-timing", "--part", "b", "--case",
            "prime", NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* Keyed on three sampled elements: the timed calls' exchanged rows miss the samples, so it hands
 * back a kept result, caught while timing; the anti-cache calls still run (for --verify's files). */
Test(anticache, sampled_cache_fails_while_timing) {
  const char *tmp = t_tmpdir(), *json = t_str("%s/r.json", tmp);
  t_proc p;
  timed_run(&p, T_PLANTED("caches_by_samples"), json, NULL, "b", "prime");
  t_assert_exit(&p, 1);
  expect_all(json, "fail", "reused", T_REUSED, 3);
  t_proc_free(&p);
  timed_run(&p, T_PLANTED("caches_by_samples"), json, NULL, "a", "n=");
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* The reference solution passes the anti-cache calls, timed, on every small case. */
Test(anticache, solution_passes) {
  const char *json = t_str("%s/r.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 250, T_SOLUTION, json, "--track", "cpu", "--budget", "0.002", "--case", "values", NULL);
  t_assert_exit(&p, 0);
  expect_all(json, "pass", "", NULL, 4);
  t_proc_free(&p);
  timed_run(&p, T_SOLUTION, json, NULL, "a", "n=");
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* A kernel that writes its inputs or leaves outputs unwritten is still reported as such. */
Test(anticache, input_writes_and_unwritten_still_reported) {
  const char *json = t_str("%s/r.json", t_tmpdir());
  t_proc p;
  timed_run(&p, T_PLANTED("writes_input"), json, NULL, "b", "=n=1025");
  t_assert_exit(&p, 1);
  expect_all(json, "fail", "input_changed", "changed its input x", 1);
  t_proc_free(&p);
  timed_run(&p, T_PLANTED("off_by_one_tail"), json, NULL, "b", "=n=1025");
  t_assert_exit(&p, 1);
  expect_all(json, "fail", "unwritten", "never written", 1);
  t_proc_free(&p);
}

/* ================================================================================================
 * --outputs and --verify.
 */

TestSuite(verify, .timeout = 300);

/* The files --outputs writes for one case of part (b) named n=1025, with timing: the checked call
 * and the two anti-cache calls. */
static const char *const n1025_files[] = {"lab1-cpu-b-n_3d1025.z.npy", "lab1-cpu-b-n_3d1025.refill.z.npy",
                                          "lab1-cpu-b-n_3d1025.swap.z.npy"};

/* A solution run of case (b) n=1025 with --outputs; returns the folder. */
static const char *solution_outputs(void) {
  const char *tmp = t_tmpdir(), *out = t_str("%s/out", tmp);
  t_proc p;
  timed_run(&p, T_SOLUTION, t_str("%s/run.json", tmp), out, "b", "=n=1025");
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  return out;
}

Test(verify, solution_outputs_pass) {
  const char *out = solution_outputs();
  /* Exactly the documented files, nothing else. */
  int n = 0;
  DIR *d = opendir(out);
  cr_assert(d != NULL);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int known = 0;
    for (int k = 0; k < 3; ++k) known |= strcmp(e->d_name, n1025_files[k]) == 0;
    cr_expect(known, "--outputs wrote %s, which is not a documented name", e->d_name);
    n++;
  }
  closedir(d);
  cr_expect_eq(n, 3, "one file per call: the checked call, the refill, the swap");

  const char *json = t_str("%s/v.json", t_tmpdir());
  t_proc p;
  verify(&p, out, json, "b", "=n=1025");
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  cr_expect_str_eq(t_json_str(root, "schema"), "em-results/1");
  cr_expect_str_eq(t_json_str(root, "mode"), "verify");
  cr_expect(json_is_false(json_object_get(root, "solution")), "verdicts on someone's outputs, not the solution's run");
  json_t *c = t_get_case(root, "cpu", 'b', "n=1025");
  cr_expect_str_eq(t_json_str(c, "status"), "pass");
  cr_expect(json_is_null(json_object_get(c, "time_ms")), "--verify times nothing");
  const em_case *sc = t_spec_case(1, 'b', "n=1025");
  cr_expect_eq(t_json_num(json_object_get(c, "score"), "points"), sc->points);
  cr_expect_eq(t_json_num(json_object_get(c, "score"), "max"), sc->points, "correctness points only");
  json_decref(root);
  t_proc_free(&p);
}

/* The whole CPU track of lab 1 (but the 2^24 and 2^26 sizes, slow here), correctness only, both ways. */
Test(verify, no_timing_run_verifies_with_no_timing) {
  const char *tmp = t_tmpdir(), *out = t_str("%s/out", tmp), *json = t_str("%s/v.json", tmp);
  t_proc p;
  t_checker(&p, 250, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--case", "prime",
            "--outputs", out, NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  t_checker(&p, 100, T_SOLUTION, json, "--verify", out, "--track", "cpu", "--no-timing", "--case", "prime", NULL);
  t_assert_exit(&p, 0);
  expect_all(json, "pass", "", NULL, 3);
  t_proc_free(&p);
  /* Verified as if timed, the anti-cache files are required: their absence is a failure. */
  t_checker(&p, 100, T_SOLUTION, json, "--verify", out, "--track", "cpu", "--case", "prime", NULL);
  t_assert_exit(&p, 1);
  expect_all(json, "fail", "output_file", ".refill.z.npy is missing", 3);
  t_proc_free(&p);
}

/* The seed is part of the case: outputs of one seed fail under another. Hidden cases too. */
Test(verify, seed_and_hidden_cases) {
  const char *tmp = t_tmpdir(), *out = t_str("%s/out", tmp), *json = t_str("%s/v.json", tmp);
  const char *cases = t_str("%s/cases.json", tmp);
  t_write_file(cases, "{\"seed\": 77, \"cases\": [{\"lab\": 1, \"part\": \"b\", \"name\": \"h/../1\", \"dims\": [5003]}]}");
  t_proc p;
  t_checker(&p, 250, T_SOLUTION, t_str("%s/r.json", tmp), "--track", "cpu", "--budget", "0.002", "--cases", cases,
            "--hidden-only", "--outputs", out, NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  cr_expect(t_exists(t_str("%s/lab1-cpu-b-h_2f_2e_2e_2f1.z.npy", out)), "the slug escapes every byte but [A-Za-z0-9]");
  t_checker(&p, 100, T_SOLUTION, json, "--verify", out, "--track", "cpu", "--cases", cases, "--hidden-only", NULL);
  t_assert_exit(&p, 0);
  expect_all(json, "pass", "", NULL, 1);
  t_proc_free(&p);
  t_checker(&p, 100, T_SOLUTION, json, "--verify", out, "--track", "cpu", "--cases", cases, "--hidden-only", "--seed",
            "78", NULL);
  t_assert_exit(&p, 1);
  expect_all(json, "fail", "wrong", "hidden case: wrong results", 1);
  t_proc_free(&p);
  /* A hidden case's missing file is said as such, without its name (which holds the case's). */
  t_checker(&p, 100, T_SOLUTION, json, "--verify", tmp, "--track", "cpu", "--cases", cases, "--hidden-only", NULL);
  t_assert_exit(&p, 1);
  expect_all(json, "fail", "output_file", "hidden case: an output file of the run is missing or malformed", 1);
  t_proc_free(&p);
}

/* The planted cache's outputs: --verify finds the staleness from the files alone. */
Test(verify, finds_stale_outputs) {
  const char *tmp = t_tmpdir(), *out = t_str("%s/out", tmp), *json = t_str("%s/v.json", tmp);
  t_proc p;
  timed_run(&p, T_PLANTED("caches_by_samples"), t_str("%s/r.json", tmp), out, "b", "prime");
  t_assert_exit(&p, 1);
  t_proc_free(&p);
  verify(&p, out, json, "b", "prime");
  t_assert_exit(&p, 1);
  expect_all(json, "fail", "stale", STALE, 3);
  t_proc_free(&p);
}

/* ---- hostile files ----------------------------------------------------------------------------- */

typedef struct tamper {
  char what[24];
  char reason[128];
} tamper;

/* Rewrites the file of the checked call as the tamper says. */
static void apply(const char *what, const char *out) {
  const char *z = t_str("%s/%s", out, n1025_files[0]), *refill = t_str("%s/%s", out, n1025_files[1]);
  size_t len;
  const unsigned char *data;
  char header[512];
  char *buf = t_read_npy(z, &len, &data, header, sizeof header);
  size_t off = (size_t)(data - (const unsigned char *)buf);
  float vals[1025];
  memcpy(vals, data, sizeof vals);
  int64_t shape = 1024;
  if (strcmp(what, "one value") == 0) {
    vals[5] += 0.25f;
    cr_assert(em_npy_write(z, "<f4", 4, vals, 1, (int64_t[]){1025}) == EM_OK);
  } else if (strcmp(what, "shape") == 0) {
    cr_assert(em_npy_write(z, "<f4", 4, vals, 1, &shape) == EM_OK);
  } else if (strcmp(what, "2-d shape") == 0) {
    cr_assert(em_npy_write(z, "<f4", 4, vals, 2, (int64_t[]){1, 1025}) == EM_OK);
  } else if (strcmp(what, "dtype") == 0) {
    double wide[1025];
    for (int i = 0; i < 1025; ++i) wide[i] = vals[i];
    cr_assert(em_npy_write(z, "<f8", 8, wide, 1, (int64_t[]){1025}) == EM_OK);
  } else if (strcmp(what, "truncated") == 0) {
    cr_assert(truncate(z, (off_t)(len - 4)) == 0);
  } else if (strcmp(what, "header only") == 0) {
    cr_assert(truncate(z, (off_t)off) == 0);
  } else if (strcmp(what, "extra bytes") == 0) {
    FILE *f = fopen(z, "ab");
    cr_assert(f && fwrite("abcd", 1, 4, f) == 4 && fclose(f) == 0);
  } else if (strcmp(what, "missing") == 0) {
    cr_assert(unlink(z) == 0);
  } else if (strcmp(what, "symlink") == 0) {
    cr_assert(unlink(z) == 0 && symlink(refill, z) == 0);
  } else if (strcmp(what, "fifo") == 0) {
    cr_assert(unlink(z) == 0 && mkfifo(z, 0600) == 0);
  } else if (strcmp(what, "directory") == 0) {
    cr_assert(unlink(z) == 0 && mkdir(z, 0700) == 0);
  } else if (strcmp(what, "not npy") == 0) {
    t_write_file(z, "{\"z\": [1, 2, 3]}\n");
  } else if (strcmp(what, "empty") == 0) {
    t_write_file(z, "");
  } else if (strcmp(what, "header garbage") == 0) {
    memset(buf + 10, 'A', off - 11);
    FILE *f = fopen(z, "wb");
    cr_assert(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
  } else if (strcmp(what, "huge shape") == 0) {
    /* A shape whose element count overflows: must be refused on the shape, not multiplied out. */
    FILE *f = fopen(z, "wb");
    const char *h = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }";
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(strlen(h) + 1), 0};
    cr_assert(f && fwrite(pre, 1, 10, f) == 10 && fputs(h, f) >= 0 && fputc('\n', f) == '\n' && fclose(f) == 0);
  } else if (strcmp(what, "fortran") == 0) {
    char *p = memmem(buf, len, "False", 5);
    cr_assert(p != NULL);
    memcpy(p, "True ", 5);
    FILE *f = fopen(z, "wb");
    cr_assert(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
  } else if (strcmp(what, "refill is stale") == 0) {
    /* The refill's file holds the checked call's output: what a cache would have produced. */
    t_copy_file(z, refill);
  } else {
    cr_assert_fail("unknown tamper %s", what);
  }
  free(buf);
}

ParameterizedTestParameters(verify, tampered_file_fails) {
  static tamper table[] = {
      {"one value", "1 of 1025 elements of z wrong; first at [5]"},
      {"shape", "shape (1024,), want (1025,)"},
      {"2-d shape", "shape (1, 1025), want (1025,)"},
      {"dtype", "dtype '<f8', want '<f4'"},
      {"truncated", "is truncated: 4096 bytes of data, want 4100"},
      {"header only", "is truncated: 0 bytes of data, want 4100"},
      {"extra bytes", "has 4 bytes after its data"},
      {"missing", "lab1-cpu-b-n_3d1025.z.npy is missing"},
      {"symlink", "is a symbolic link"},
      {"fifo", "is not a regular file"},
      {"directory", "is not a regular file"},
      {"not npy", "is not an .npy file"},
      {"empty", "is not an .npy file"},
      {"header garbage", "malformed .npy header"},
      {"huge shape", "malformed shape"},
      {"fortran", "not in C order"},
      {"refill is stale", STALE},
  };
  return cr_make_param_array(tamper, table, sizeof table / sizeof table[0]);
}

ParameterizedTest(tamper *t, verify, tampered_file_fails) {
  const char *out = solution_outputs();
  apply(t->what, out);
  const char *json = t_str("%s/v.json", t_tmpdir());
  t_proc p;
  verify(&p, out, json, "b", "=n=1025");
  t_assert_exit(&p, 1);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, "cpu", 'b', "n=1025");
  cr_expect_str_eq(t_json_str(c, "status"), "fail", "%s", t->what);
  cr_expect(strstr(t_json_str(c, "reason"), t->reason) != NULL, "%s: reason \"%s\", want it to contain \"%s\"", t->what,
            t_json_str(c, "reason"), t->reason);
  cr_expect_eq(t_json_num(json_object_get(c, "score"), "points"), 0.0);
  json_decref(root);
  t_proc_free(&p);
}

/* ---- usage --------------------------------------------------------------------------------------- */

Test(verify, usage_errors_exit_2) {
  const char *tmp = t_tmpdir(), *json = t_str("%s/v.json", tmp);
  t_proc p;
  /* A binary with student code in it refuses: its constructors could forge anything. */
  t_checker(&p, 30, T_SKELETON, json, "--verify", tmp, "--track", "cpu", NULL);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "without student code");
  t_proc_free(&p);
  t_checker(&p, 30, T_SOLUTION, json, "--verify", t_str("%s/none", tmp), "--track", "cpu", NULL);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "not a folder");
  t_proc_free(&p);
  t_checker(&p, 30, T_SOLUTION, json, "--verify", tmp, "--outputs", t_str("%s/o", tmp), NULL);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "neither --outputs nor --dump");
  t_proc_free(&p);
  t_run(&p, 30, T_SOLUTION, "--verify", tmp, "--track", "cpu");
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "--verify needs --json FILE");
  t_proc_free(&p);
  cr_expect(!t_exists(json), "nothing verified, no results");
}
