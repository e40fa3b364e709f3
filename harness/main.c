/* em-check: the checker's command line. Exit status: 0 every case passed (skips allowed), 1 some
 * case failed, 2 usage, build or environment error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "checker.h"
#include "history.h"
#include "report.h"

#ifndef EM_NVCC_VERSION
#define EM_NVCC_VERSION ""
#endif

#define EXIT_FAILED 1
#define EXIT_USAGE 2

#ifdef EM_SANITIZE
/* The AddressSanitizer build's defaults (ASAN_OPTIONS and UBSAN_OPTIONS still override them).
 * allocator_may_return_null: an allocation too large for the machine returns NULL, which the
 * checker reports as its own out-of-memory error (exit 2), not as a finding against the student.
 * OpenMP (libgomp) needs no setting: its threads start through pthread_create, which ASan
 * intercepts, and the library itself is not instrumented. print_stacktrace: UBSan's report gets
 * the calls that led to the line, as ASan's has. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1:detect_leaks=1"; }
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "print_stacktrace=1"; }
#endif

/* The default seed: fixed, so two runs of `make check` see the same inputs; SEED=S changes it. */
#define DEFAULT_SEED 20260101u

static void usage(FILE *f) {
  fprintf(f,
          "usage: em-check [options]\n"
          "Checks a lab's code against the float64 oracle and times it against the reference.\n\n"
          "  --lab N|all        the lab to check (default: the lab this binary was built for)\n"
          "  --track T          cpu, cuda or all (default all; cuda is skipped without a GPU)\n"
          "  --part P           only part P (a, b, ...)\n"
          "  --case TEXT        only cases whose name contains TEXT (=NAME: exactly that case)\n"
          "  --seed S           seed of the input streams (default %u)\n"
          "  --cases FILE       add the cases of an instructor's JSON file (and its seed)\n"
          "  --hidden-only      run only the cases of --cases\n"
          "  --no-timing        correctness only\n"
          "  --perf-only        only the speed cases (large sizes), as `make bench` runs them\n"
          "  --alternatives     after each speed case, time the reference library's other versions of its\n"
          "                     part beside the reference (lab 7's 3xTF32, lab 8's AVX2), no points\n"
          "  --small-only       only the small correctness cases (no speed points, at most 8 MiB)\n"
          "  --sanitize         for a run under a sanitizer (make check SANITIZE=1 starts it): timing off,\n"
          "                     buffers without guard words, a [sanitize] line on stderr before each case\n"
          "  --budget S         timing budget per case in seconds (default 0.1; speed cases 5x)\n"
          "  --timeout S        stop code under test that runs longer than S seconds (default 120)\n"
          "  --threads N        OpenMP threads for the CPU track (default: all cores)\n"
          "  --json FILE        results file (default build/labN/results.json)\n"
          "  --junit FILE       also write JUnit XML\n"
          "  --history FILE     append one line (JSON) per run to FILE: when, seed, score per track,\n"
          "                     counts, each timed case's figures (make report draws them)\n"
          "  --dump DIR         write every case's inputs and outputs as .npy files\n"
          "  --outputs DIR      write the outputs of every checked call as .npy files, for --verify:\n"
          "                     DIR/lab<N>-<track>-<part>-<slug>[.refill|.swap].<tensor>.npy\n"
          "  --verify DIR       run no code: judge the outputs another run wrote with --outputs DIR\n"
          "                     against the oracle (same cases, seed and filters as that run; --json\n"
          "                     required; only in builds without student code: SOLUTION=1, the demo)\n"
          "  --peaks FILE       cache of this machine's peaks (default build/peaks.json); peaks measured\n"
          "                     while other programs held the cores serve that run only, uncached\n"
          "  --peaks-under-load cache them anyway (for runs that time nothing, such as test suites)\n"
          "  --color WHEN       auto, always or never (default auto; NO_COLOR is honoured)\n"
          "  --list             list the cases and exit\n"
          "  --version, --help\n",
          DEFAULT_SEED);
}

/* How this binary was started (build/lab3/em-check, say): em-check is not on the PATH, so the
 * advice to ask it for --help names the path that works, and the make command. */
static const char *prog = "em-check";

static int fail_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "em-check: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(%s --help lists the options; through make: make check ARGS=--help)\n", prog);
  return EXIT_USAGE;
}

/* A non-negative decimal (or 0x hex) integer up to max, nothing else: strtoull alone would take
 * " -1" as 2^64 − 1. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out) {
  char *end;
  if (!(s[0] >= '0' && s[0] <= '9')) return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0)) return -1;
  *out = v;
  return 0;
}

/* Creates the parent folders of path (mkdir -p of its dirname). */
static void make_parents(const char *path) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; ++p)
    if (*p == '/') {
      *p = 0;
      mkdir(buf, 0777);
      *p = '/';
    }
}

/* ---- the instructor's hidden cases --------------------------------------------------------------
 *   {"seed": 987654321,
 *    "cases": [{"lab": 1, "part": "b", "name": "h1", "dims": [12345], "values": "uniform",
 *               "tracks": "all", "points": 1, "perf_points": 0, "hidden": true}]} */

/* The value kind and the tracks of case c from their names; 0, or -1 after saying what is wrong. */
static int parse_kind_and_tracks(const char *path, const char *name, const em_lab *lab, const char *values,
                                 const char *tracks, em_case *c) {
  c->values = 0;
  if (values) {
    c->values = -1;
    for (int k = 0; k < lab->nvalue_kinds; ++k)
      if (strcmp(values, lab->value_kinds[k]) == 0) c->values = k;
    if (c->values < 0) {
      fprintf(stderr, "em-check: %s: case \"%s\": unknown values \"%s\"\n", path, name, values);
      return -1;
    }
  }
  c->tracks = !tracks || strcmp(tracks, "all") == 0 ? 0
              : strcmp(tracks, "cpu") == 0          ? EM_TRACK_BIT(EM_TRACK_CPU)
              : strcmp(tracks, "cuda") == 0         ? EM_TRACK_BIT(EM_TRACK_CUDA)
                                                    : 99;
  if (c->tracks == 99) {
    fprintf(stderr, "em-check: %s: case \"%s\": tracks must be cpu, cuda or all\n", path, name);
    return -1;
  }
  return 0;
}

/* Case i of the file (v) into c: 1 when it is one, 0 when it belongs to a lab this run does not
 * check, -1 after saying what is wrong with it. */
static int parse_case(const char *path, size_t i, json_t *v, const em_lab *lab_filter, em_case *c) {
  int labno = (int)json_integer_value(json_object_get(v, "lab"));
  const em_lab *lab = em_lab_find(labno);
  if (!lab) {
    fprintf(stderr, "em-check: %s: case %zu names lab %d, which does not exist\n", path, i, labno);
    return -1;
  }
  if (lab_filter && lab != lab_filter) return 0;
  const char *part = json_string_value(json_object_get(v, "part"));
  const char *name = json_string_value(json_object_get(v, "name"));
  json_t *dims = json_object_get(v, "dims");
  if (!part || strlen(part) != 1 || !name || !json_is_array(dims)) {
    fprintf(stderr, "em-check: %s: case %zu needs \"part\" (one letter), \"name\" and \"dims\" (a list)\n", path, i);
    return -1;
  }
  c->part = part[0];
  snprintf(c->name, sizeof c->name, "%s", name);
  if ((int)json_array_size(dims) != lab->ndims) {
    fprintf(stderr, "em-check: %s: case \"%s\": lab %d takes %d dims\n", path, name, labno, lab->ndims);
    return -1;
  }
  for (int d = 0; d < lab->ndims; ++d) c->dim[d] = json_integer_value(json_array_get(dims, (size_t)d));
  if (parse_kind_and_tracks(path, name, lab, json_string_value(json_object_get(v, "values")),
                            json_string_value(json_object_get(v, "tracks")), c))
    return -1;
  json_t *pts = json_object_get(v, "points"), *perf = json_object_get(v, "perf_points");
  c->points = json_is_number(pts) ? json_number_value(pts) : 1.0;
  c->perf_points = json_is_number(perf) ? json_number_value(perf) : 0.0;
  json_t *hid = json_object_get(v, "hidden");
  c->hidden = hid ? json_is_true(hid) : 1;
  const char *why = lab->invalid(c);
  if (why) {
    fprintf(stderr, "em-check: %s: case \"%s\": %s\n", path, name, why);
    return -1;
  }
  return 1;
}

static int load_cases(const char *path, const em_lab *lab_filter, em_case **out, int *nout, uint64_t *seed,
                      int *have_seed) {
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  if (!root) {
    fprintf(stderr, "em-check: cannot read the cases file %s: %s (line %d)\n", path, jerr.text, jerr.line);
    return EXIT_USAGE;
  }
  json_t *s = json_object_get(root, "seed");
  if (json_is_integer(s)) {
    *seed = (uint64_t)json_integer_value(s);
    *have_seed = 1;
  }
  json_t *arr = json_object_get(root, "cases");
  if (!json_is_array(arr)) {
    fprintf(stderr, "em-check: %s: expected {\"cases\": [...]} at the top level\n", path);
    json_decref(root);
    return EXIT_USAGE;
  }
  em_case *cases = (em_case *)calloc(json_array_size(arr) + 1, sizeof *cases);
  if (!cases) {
    json_decref(root);
    fprintf(stderr, "em-check: out of memory reading %s\n", path);
    return EXIT_USAGE;
  }
  int n = 0, got = 0;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if ((got = parse_case(path, i, v, lab_filter, &cases[n])) < 0) break;
    n += got;
  }
  json_decref(root);
  if (got < 0) {
    free(cases);
    return EXIT_USAGE;
  }
  *out = cases;
  *nout = n;
  return 0;
}

static void list_cases(const em_lab *lab) {
  printf("lab %d (%s): %s\n", lab->number, lab->folder, lab->title);
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    char shape[64];
    em_case_shape(lab, c, shape, sizeof shape);
    printf("  (%c) %-18s %-16s values=%-8s tracks=%s points=%g+%g\n", c->part, c->name, shape,
           lab->value_kinds[c->values],
           c->tracks == EM_TRACK_BIT(EM_TRACK_CPU) ? "cpu" : c->tracks == EM_TRACK_BIT(EM_TRACK_CUDA) ? "cuda" : "all",
           c->points, c->perf_points);
  }
}

/* The terminal table, printed as the cases finish, and on a terminal a status line under it that
 * says which case is running (a timed case can take seconds, a lab's speed cases minutes). */
typedef struct table_ctx {
  const em_run_opts *o;
  int color;
  int status;        /* show the status line: stdout and stderr are both a terminal */
  int status_shown;  /* characters of it on the screen now (0: none) */
} table_ctx;

/* The status line goes to stderr, and only where both streams are a terminal: stdout (the table)
 * is then never a file or a pipe that a \r would garble, and stderr is not a log either. */
static int want_status_line(void) { return isatty(STDOUT_FILENO) && isatty(STDERR_FILENO); }

/* Columns of the terminal on stderr: the status line must fit on one line, or \r would only go
 * back to the start of its last part and the rest would stay on the screen. */
static int terminal_columns(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

/* Overwrites the status line with spaces and returns to the start of the line. */
static void status_clear(table_ctx *t) {
  if (!t->status_shown) return;
  fprintf(stderr, "\r%*s\r", t->status_shown, "");
  fflush(stderr);
  t->status_shown = 0;
}

static void table_case_begin(void *ctx, const em_lab *lab, const em_case *c, em_track track, int k, int count) {
  table_ctx *t = (table_ctx *)ctx;
  (void)track; /* the table's header above says which */
  if (!t->status) return;
  char shape[64], line[256];
  em_case_shape(lab, c, shape, sizeof shape);
  int n = snprintf(line, sizeof line, "  %s (%c) %s [%s] (case %d/%d)...",
                   t->o->timing && !t->o->verify_dir ? "timing" : "checking", c->part, c->name, shape, k, count);
  int cols = terminal_columns() - 1; /* the last column would wrap on some terminals */
  if (n > cols) n = cols > 0 ? cols : 0;
  if (n >= (int)sizeof line) n = (int)sizeof line - 1;
  line[n] = 0;
  status_clear(t);
  fputs(line, stderr);
  fflush(stderr);
  t->status_shown = n;
}

static void table_begin(void *ctx, const em_lab *lab, em_track track, const char *skip, int ncases) {
  table_ctx *t = (table_ctx *)ctx;
  if (ncases == 0) return; /* filtered out: no table at all */
  status_clear(t);
  em_report_begin(stdout, lab, track, skip, ncases, t->o, t->color);
}

/* A row replaces the status line of its case: cleared first, so the two never share a line. */
static void table_row(void *ctx, const em_run *run, int index) {
  table_ctx *t = (table_ctx *)ctx;
  status_clear(t);
  em_report_row(stdout, &run->results[index], t->color);
}

static void table_end(void *ctx, const em_run *run, int from, int to) {
  status_clear((table_ctx *)ctx);
  if (from == to) return;
  em_report_end(stdout, run, from, to, ((table_ctx *)ctx)->color);
}

/* ---- the command line --------------------------------------------------------------------------- */

/* What the command line asks for. */
typedef struct cli {
  em_run_opts o;
  int lab_no, all_labs, list, seed_given;
  const char *json_path, *junit_path, *history_path, *peaks_path, *cases_path, *color_when;
  unsigned peaks_flags;
} cli;

enum { O_LAB = 256, O_TRACK, O_PART, O_CASE, O_SEED, O_CASES, O_HIDDEN, O_NOTIME, O_BUDGET, O_TIMEOUT,
       O_THREADS, O_JSON, O_JUNIT, O_DUMP, O_PEAKS, O_COLOR, O_LIST, O_VERSION, O_HELP, O_PERF, O_OUTPUTS,
       O_VERIFY, O_PEAKS_LOAD, O_HISTORY, O_SMALL, O_SANITIZE, O_ALT };
static const struct option longopts[] = {
    {"lab", required_argument, 0, O_LAB},         {"track", required_argument, 0, O_TRACK},
    {"part", required_argument, 0, O_PART},       {"case", required_argument, 0, O_CASE},
    {"seed", required_argument, 0, O_SEED},       {"cases", required_argument, 0, O_CASES},
    {"hidden-only", no_argument, 0, O_HIDDEN},    {"no-timing", no_argument, 0, O_NOTIME},
    {"budget", required_argument, 0, O_BUDGET},   {"timeout", required_argument, 0, O_TIMEOUT},
    {"threads", required_argument, 0, O_THREADS}, {"json", required_argument, 0, O_JSON},
    {"junit", required_argument, 0, O_JUNIT},     {"dump", required_argument, 0, O_DUMP},
    {"peaks", required_argument, 0, O_PEAKS},     {"color", required_argument, 0, O_COLOR},
    {"list", no_argument, 0, O_LIST},             {"version", no_argument, 0, O_VERSION},
    {"help", no_argument, 0, O_HELP},             {"perf-only", no_argument, 0, O_PERF},
    {"outputs", required_argument, 0, O_OUTPUTS}, {"verify", required_argument, 0, O_VERIFY},
    {"peaks-under-load", no_argument, 0, O_PEAKS_LOAD}, {"history", required_argument, 0, O_HISTORY},
    {"small-only", no_argument, 0, O_SMALL},      {"sanitize", no_argument, 0, O_SANITIZE},
    {"alternatives", no_argument, 0, O_ALT},
    {0, 0, 0, 0}};

/* parse_option's "go on": any other value is the exit status to end with. */
#define GO_ON (-1)

static int option_lab(cli *a, const char *arg) {
  if (strcmp(arg, "all") == 0) {
    a->all_labs = 1;
    return GO_ON;
  }
  uint64_t v;
  if (parse_uint(arg, INT_MAX, &v) || !em_lab_find((int)v)) {
    char known[256] = "";
    for (int i = 0, used = 0; i < em_nlabs && used < (int)sizeof known; ++i)
      used += snprintf(known + used, sizeof known - (size_t)used, "%s%d (%s)", i ? ", " : "", em_labs[i]->number,
                       em_labs[i]->name);
    fprintf(stderr, "em-check: unknown lab '%s': the labs are %s; give --lab N or --lab all\n", arg, known);
    return EXIT_USAGE;
  }
  a->lab_no = (int)v;
  a->all_labs = 0;
  return GO_ON;
}

/* The options that take a number or one of a few words: GO_ON, or the usage error. */
static int option_value(cli *a, int opt, const char *arg) {
  em_run_opts *o = &a->o;
  uint64_t v;
  switch (opt) {
    case O_TRACK:
      if (strcmp(arg, "cpu") == 0) o->tracks = EM_TRACK_BIT(EM_TRACK_CPU);
      else if (strcmp(arg, "cuda") == 0) o->tracks = EM_TRACK_BIT(EM_TRACK_CUDA);
      else if (strcmp(arg, "all") == 0) o->tracks = EM_TRACKS_ALL;
      else return fail_usage("unknown track '%s': use cpu, cuda or all", arg);
      return GO_ON;
    case O_PART:
      if (strlen(arg) != 1 || arg[0] < 'a' || arg[0] > 'z')
        return fail_usage("unknown part '%s': parts are single letters (a, b)", arg);
      o->part = arg[0];
      return GO_ON;
    case O_SEED:
      /* Below 2^63: results.json records the seed as a JSON integer, which is signed 64-bit. */
      if (parse_uint(arg, INT64_MAX, &o->seed)) return fail_usage("bad seed '%s': give an integer from 0 to 2^63 - 1", arg);
      a->seed_given = 1;
      return GO_ON;
    case O_BUDGET:
      return parse_double(arg, &o->budget_s) ? fail_usage("bad budget '%s': give seconds, e.g. 0.2", arg) : GO_ON;
    case O_TIMEOUT:
      return parse_double(arg, &o->timeout_s) ? fail_usage("bad timeout '%s': give seconds (0: none)", arg) : GO_ON;
    case O_THREADS:
      if (parse_uint(arg, 4096, &v) || v < 1) return fail_usage("bad thread count '%s': give 1 to 4096", arg);
      o->threads = (int)v;
      return GO_ON;
    case O_COLOR:
      if (strcmp(arg, "auto") && strcmp(arg, "always") && strcmp(arg, "never"))
        return fail_usage("--color takes auto, always or never, not '%s'", arg);
      a->color_when = arg;
      return GO_ON;
  }
  return GO_ON;
}

/* --history FILE: what can be told before the run is refused now (exit 2); that the file cannot be
 * written is only found at the end, and is then a warning (the check itself went fine). */
static int option_history(cli *a, const char *arg) {
  struct stat st;
  size_t len = strlen(arg);
  if (len == 0) return fail_usage("%s", "--history needs a file name, e.g. --history build/lab1/history.jsonl");
  if (arg[len - 1] == '/' || (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)))
    return fail_usage("--history %s is a folder: give a file in it, e.g. history.jsonl", arg);
  a->history_path = arg;
  return GO_ON;
}

/* One option: GO_ON, or the exit status to end with (0 after --version and --help). */
static int parse_option(cli *a, int opt, const char *arg, const char *as_given) {
  em_run_opts *o = &a->o;
  switch (opt) {
    case O_LAB: return option_lab(a, arg);
    case O_TRACK: case O_PART: case O_SEED: case O_BUDGET: case O_TIMEOUT: case O_THREADS: case O_COLOR:
      return option_value(a, opt, arg);
    case O_CASE: o->case_filter = arg; break;
    case O_CASES: a->cases_path = arg; break;
    case O_HIDDEN: o->hidden_only = 1; break;
    case O_PERF: o->perf_only = 1; break;
    case O_ALT: o->alternatives = 1; break;
    case O_SMALL: o->small_only = 1; break;
    case O_SANITIZE: o->sanitize = 1; break;
    case O_NOTIME: o->timing = 0; break;
    case O_JSON: a->json_path = arg; break;
    case O_JUNIT: a->junit_path = arg; break;
    case O_HISTORY: return option_history(a, arg);
    case O_DUMP: o->dump_dir = arg; break;
    case O_OUTPUTS: o->outputs_dir = arg; break;
    case O_VERIFY: o->verify_dir = arg; break;
    case O_PEAKS: a->peaks_path = arg; break;
    case O_PEAKS_LOAD: a->peaks_flags |= EM_PEAKS_CACHE_UNDER_LOAD; break;
    case O_LIST: a->list = 1; break;
    case O_VERSION: printf("em-check %s\n", EM_VERSION); return 0;
    case O_HELP: usage(stdout); return 0;
    default: return fail_usage("unknown or incomplete option '%s'", as_given);
  }
  return GO_ON;
}

/* --verify's own rules: GO_ON, or the usage error. */
static int check_verify(const cli *a) {
  /* The verdict must come from a process the student's code is not in: linked into this binary,
   * it could run before main (a constructor) and forge anything. */
  if (!em_candidate_is_solution)
    return fail_usage("--verify runs only in a checker without student code (%s): build one with  make labN "
                      "SOLUTION=1  or use the demo's build/demo/em-check",
                      "this one links the student's files");
  if (!a->json_path) return fail_usage("%s", "--verify needs --json FILE (the verdicts go there)");
  if (a->o.outputs_dir || a->o.dump_dir) return fail_usage("%s", "--verify runs no code: it takes neither --outputs nor --dump");
  struct stat st;
  if (stat(a->o.verify_dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return fail_usage("--verify %s: not a folder (give the folder the checked run's --outputs wrote)", a->o.verify_dir);
  return GO_ON;
}

/* --dump DIR: made now, with its parents, so that a folder that cannot be made stops the run before
 * any case (exit 2) instead of every file of it failing unseen. */
static int make_dump_dir(const char *dir) {
  make_parents(dir);
  struct stat st;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "em-check: cannot create the --dump folder %s: %s\n(give a folder you can write)\n", dir, strerror(errno));
    return EXIT_USAGE;
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK) != 0) {
    fprintf(stderr, "em-check: --dump %s is not a folder you can write (give another)\n", dir);
    return EXIT_USAGE;
  }
  return GO_ON;
}

/* The whole command line into a, with the defaults first: GO_ON, or the exit status to end with. */
static int parse_args(cli *a, int argc, char **argv) {
  memset(a, 0, sizeof *a);
  a->o.seed = DEFAULT_SEED;
  a->o.tracks = EM_TRACKS_ALL;
  a->o.timing = 1;
  a->o.budget_s = 0.1;
  a->o.timeout_s = 120;
  a->lab_no = em_candidate_lab;
  a->all_labs = em_candidate_lab == 0;
  a->peaks_path = "build/peaks.json";
  a->color_when = "auto";
#ifdef EM_SANITIZE
  a->o.sanitize = 1; /* the AddressSanitizer build (make labN SANITIZE=1) runs in no other mode */
#endif
  int opt, rc;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1)
    if ((rc = parse_option(a, opt, optarg, argv[optind - 1])) != GO_ON) return rc;
  if (optind < argc) return fail_usage("unexpected argument '%s'", argv[optind]);
  if (!a->all_labs && !em_lab_find(a->lab_no)) return fail_usage("%s", "no lab given: use --lab N or --lab all");
  /* A time taken under a sanitizer measures the tool (ten to a hundred times slower), not the code. */
  if (a->o.sanitize) a->o.timing = 0;
  if (a->o.alternatives && (!a->o.timing || a->o.verify_dir))
    return fail_usage("--alternatives times the library's alternatives beside the reference: it cannot go with %s",
                      a->o.verify_dir ? "--verify" : a->o.sanitize ? "a sanitizer build" : "--no-timing");
  if (a->o.verify_dir) return check_verify(a);
  return a->o.dump_dir ? make_dump_dir(a->o.dump_dir) : GO_ON;
}

/* ---- the run ------------------------------------------------------------------------------------ */

/* The GPU, the peaks and the energy meters this run needs (--verify needs none of them): 0, or
 * EXIT_USAGE after saying why. */
static int probe_machine(cli *a, int threads) {
  em_run_opts *o = &a->o;
  if ((o->tracks & EM_TRACK_BIT(EM_TRACK_CUDA)) && !o->verify_dir) {
    int err = em_cuda_probe(&o->gpu);
    if (err == EM_OK) o->gpu_ok = 1;
    else snprintf(o->gpu_skip, sizeof o->gpu_skip, "%s%s", err == EM_ENOCUDA ? "" : "no usable CUDA device: ", em_error_detail());
  }
  if (o->gpu_ok) a->peaks_flags |= EM_PEAKS_GPU;
  /* Under a sanitizer nothing is timed, so no peaks are needed, and peaks measured there would be
   * the tool's speed: cached, they would spoil every later roof column. */
  if (o->sanitize) {
    o->others_at_start = NAN;
    return 0;
  }
  int err = o->verify_dir ? EM_OK : em_peaks_get(a->peaks_path, threads, a->peaks_flags, &o->peaks);
  if (err != EM_OK) {
    fprintf(stderr, "em-check: measuring this machine's peaks failed: %s (%s)\n", em_strerror(err), em_error_detail());
    return EXIT_USAGE;
  }
  if (!o->peaks.have_gpu && o->gpu_ok) {
    o->gpu_ok = 0;
    snprintf(o->gpu_skip, sizeof o->gpu_skip, "the GPU's peaks could not be measured: %s", em_error_detail());
  }
  /* Who else is using the cores as the run starts (a quarter of a second, our process asleep), for
   * the header of a timed CPU run: a student told now knows why the times will be slow. */
  o->others_at_start = NAN;
  if (o->timing && !o->verify_dir && (o->tracks & EM_TRACK_BIT(EM_TRACK_CPU))) {
    em_load_mark l0 = em_load_now();
    nanosleep(&(struct timespec){0, 250 * 1000 * 1000}, NULL);
    o->others_at_start = em_load_others(l0, em_load_now());
  }
  if (o->verify_dir || em_energy_open(&o->meter[EM_TRACK_CPU], EM_ENERGY_CPU) != EM_OK) o->meter[EM_TRACK_CPU] = NULL;
  if (o->gpu_ok && em_energy_open(&o->meter[EM_TRACK_CUDA], EM_ENERGY_GPU) != EM_OK) o->meter[EM_TRACK_CUDA] = NULL;
  return 0;
}

static int want_color(const char *when) {
  return strcmp(when, "always") == 0 ||
         (strcmp(when, "auto") == 0 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
          !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0));
}

/* Whether `python3 -c 'import numpy'` succeeds, for the line after a dump: the .npy files are
 * for numpy.load, and a student without numpy should hear how to get it, not meet an ImportError.
 * Spawned (no shell, no copy of this process's memory, which holds the cases' arrays) with its
 * output discarded; no python3 at all counts as no numpy, and a failure to tell counts as yes,
 * so the hint is never wrong. */
static int have_numpy(void) {
  extern char **environ;
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) return 1;
  int ok = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0) == 0 &&
           posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) == 0 &&
           posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0) == 0;
  char *argv[] = {"python3", "-c", "import numpy", NULL};
  pid_t pid;
  int rc = ok ? posix_spawnp(&pid, "python3", &fa, NULL, argv, environ) : -1;
  posix_spawn_file_actions_destroy(&fa);
  if (rc == ENOENT || rc == EACCES) return 0; /* no python3 */
  if (rc != 0) return 1;
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return 1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* results.json (and --junit): 0, or EXIT_USAGE when one cannot be written. */
static int write_reports(const cli *a, const em_run *run, int threads) {
  em_machine m;
  memset(&m, 0, sizeof m);
  em_cpu_name(m.cpu, sizeof m.cpu);
  m.threads = threads;
  snprintf(m.compiler, sizeof m.compiler, "gcc %s", __VERSION__);
  snprintf(m.nvcc, sizeof m.nvcc, "%s", EM_NVCC_VERSION);

  char default_json[64];
  const char *json_path = a->json_path;
  if (!json_path) {
    if (a->all_labs) snprintf(default_json, sizeof default_json, "build/demo/results.json");
    else snprintf(default_json, sizeof default_json, "build/lab%d/results.json", a->lab_no);
    json_path = default_json;
  }
  int status = 0;
  if (a->o.dump_dir && run->dump_files) {
    printf("dump: %d files, %.1f MB in %s (numpy.load reads them)\n", run->dump_files, run->dump_bytes / 1e6,
           a->o.dump_dir);
    fflush(stdout);
    if (!have_numpy())
      printf("      no numpy here (python3 -c 'import numpy' fails): scripts/install-deps.sh --numpy installs it "
             "(Debian/Ubuntu), or  python3 -m pip install numpy\n");
  }
  make_parents(json_path);
  if (em_report_json(json_path, run, &a->o, &m, a->all_labs ? "all" : NULL) != EM_OK) {
    fprintf(stderr, "em-check: %s\n", em_error_detail());
    status = EXIT_USAGE;
  } else {
    printf("results: %s\n", json_path);
  }
  if (a->junit_path) {
    make_parents(a->junit_path);
    if (em_report_junit(a->junit_path, run) != EM_OK) {
      fprintf(stderr, "em-check: %s\n", em_error_detail());
      status = EXIT_USAGE;
    }
  }
  return status;
}

/* --history FILE: one line more. A file that cannot be written costs a warning, not the verdict:
 * the check itself went as results.json says. */
static void append_history(const cli *a, const em_run *run) {
  if (!a->history_path) return;
  make_parents(a->history_path);
  if (em_history_append(a->history_path, run, &a->o, a->all_labs ? "all" : NULL) != EM_OK)
    fprintf(stderr, "em-check: warning: this run was not added to the history: %s (its results stand; make the "
                    "file and its folder writable for the next run)\n", em_error_detail());
}

/* Every selected lab through the checker, its table printed as it goes; 0, or EXIT_USAGE when no
 * case matched the filters. */
static int run_labs(cli *a, em_run *run) {
  table_ctx tc = {.o = &a->o, .color = want_color(a->color_when), .status = want_status_line()};
  em_progress progress = {.track_begin = table_begin, .case_begin = table_case_begin, .case_done = table_row,
                          .track_end = table_end, .ctx = &tc};
  for (int i = 0; i < em_nlabs; ++i)
    if (a->all_labs || em_labs[i]->number == a->lab_no) em_check_lab(em_labs[i], &a->o, run, &progress);
  if (run->n == 0) {
    /* A filter that matches nothing is a typo, not a pass (in CI above all). */
    fprintf(stderr, "em-check: no case matches the filters (--part %c, --case \"%s\"): em-check --list shows the cases\n",
            a->o.part ? a->o.part : '*', a->o.case_filter ? a->o.case_filter : "");
    return EXIT_USAGE;
  }
  em_report_summary(stdout, run, tc.color);
  return 0;
}

/* The exit status of a run whose reports are written (status: theirs). */
static int finish(const em_run *run, int status) {
  int failed = 0;
  for (int i = 0; i < run->n; ++i) failed |= run->results[i].status == EM_FAIL || run->results[i].status == EM_ERROR;
  if (run->env_error) {
    fprintf(stderr, "em-check: the checker itself could not run a case: %s\n", run->env_message);
    fprintf(stderr, "em-check: this is not your code's fault; free memory or GPU, or report it with the line above.\n");
    status = EXIT_USAGE;
  }
  if (status) return status;
  return failed ? EXIT_FAILED : 0;
}

int main(int argc, char **argv) {
  if (argc > 0 && argv[0] && *argv[0]) prog = argv[0];
  cli a;
  int rc = parse_args(&a, argc, argv);
  if (rc != GO_ON) return rc;
  if (a.list) {
    for (int i = 0; i < em_nlabs; ++i)
      if (a.all_labs || em_labs[i]->number == a.lab_no) list_cases(em_labs[i]);
    return 0;
  }
  em_case *extra = NULL;
  if (a.cases_path) {
    uint64_t file_seed = 0;
    int have_seed = 0;
    rc = load_cases(a.cases_path, a.all_labs ? NULL : em_lab_find(a.lab_no), &extra, &a.o.nextra, &file_seed, &have_seed);
    if (rc) return rc;
    if (have_seed && !a.seed_given) a.o.seed = file_seed;
    a.o.extra = extra;
  } else if (a.o.hidden_only) {
    return fail_usage("%s", "--hidden-only needs --cases FILE");
  }
#if defined(_OPENMP)
  if (a.o.threads) omp_set_num_threads(a.o.threads);
  int threads = omp_get_max_threads();
#else
  int threads = 1;
#endif
  if (probe_machine(&a, threads)) return EXIT_USAGE;
  em_run run;
  memset(&run, 0, sizeof run);
  if ((rc = run_labs(&a, &run)) == 0) {
    int status = write_reports(&a, &run, threads);
    append_history(&a, &run);
    rc = finish(&run, status);
  }
  em_energy_close(a.o.meter[EM_TRACK_CPU]);
  em_energy_close(a.o.meter[EM_TRACK_CUDA]);
  free(run.results);
  free(extra);
  return rc;
}
