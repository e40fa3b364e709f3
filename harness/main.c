/* em-check: the checker's command line. Exit status: 0 every case passed (skips allowed), 1 some
 * case failed, 2 usage, build or environment error. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "checker.h"
#include "report.h"

#ifndef EM_NVCC_VERSION
#define EM_NVCC_VERSION ""
#endif

#define EXIT_FAILED 1
#define EXIT_USAGE 2

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
          "  --budget S         timing budget per case in seconds (default 0.1; speed cases 5x)\n"
          "  --timeout S        stop code under test that runs longer than S seconds (default 120)\n"
          "  --threads N        OpenMP threads for the CPU track (default: all cores)\n"
          "  --json FILE        results file (default build/labN/results.json)\n"
          "  --junit FILE       also write JUnit XML\n"
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

static int fail_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "em-check: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(em-check --help lists the options)\n");
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

/* The instructor's hidden cases:
 *   {"seed": 987654321,
 *    "cases": [{"lab": 1, "part": "b", "name": "h1", "dims": [12345], "values": "uniform",
 *               "tracks": "all", "points": 1, "perf_points": 0, "hidden": true}]} */
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
  int n = 0;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    int labno = (int)json_integer_value(json_object_get(v, "lab"));
    const em_lab *lab = em_lab_find(labno);
    if (!lab) {
      fprintf(stderr, "em-check: %s: case %zu names lab %d, which does not exist\n", path, i, labno);
      goto bad;
    }
    if (lab_filter && lab != lab_filter) continue;
    em_case *c = &cases[n];
    const char *part = json_string_value(json_object_get(v, "part"));
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *values = json_string_value(json_object_get(v, "values"));
    const char *tracks = json_string_value(json_object_get(v, "tracks"));
    json_t *dims = json_object_get(v, "dims");
    if (!part || strlen(part) != 1 || !name || !json_is_array(dims)) {
      fprintf(stderr, "em-check: %s: case %zu needs \"part\" (one letter), \"name\" and \"dims\" (a list)\n", path, i);
      goto bad;
    }
    c->part = part[0];
    snprintf(c->name, sizeof c->name, "%s", name);
    if ((int)json_array_size(dims) != lab->ndims) {
      fprintf(stderr, "em-check: %s: case \"%s\": lab %d takes %d dims\n", path, name, labno, lab->ndims);
      goto bad;
    }
    for (int d = 0; d < lab->ndims; ++d) c->dim[d] = json_integer_value(json_array_get(dims, (size_t)d));
    c->values = 0;
    if (values) {
      c->values = -1;
      for (int k = 0; k < lab->nvalue_kinds; ++k)
        if (strcmp(values, lab->value_kinds[k]) == 0) c->values = k;
      if (c->values < 0) {
        fprintf(stderr, "em-check: %s: case \"%s\": unknown values \"%s\"\n", path, name, values);
        goto bad;
      }
    }
    c->tracks = !tracks || strcmp(tracks, "all") == 0 ? 0
                : strcmp(tracks, "cpu") == 0          ? EM_TRACK_BIT(EM_TRACK_CPU)
                : strcmp(tracks, "cuda") == 0         ? EM_TRACK_BIT(EM_TRACK_CUDA)
                                                      : 99;
    if (c->tracks == 99) {
      fprintf(stderr, "em-check: %s: case \"%s\": tracks must be cpu, cuda or all\n", path, name);
      goto bad;
    }
    json_t *pts = json_object_get(v, "points"), *perf = json_object_get(v, "perf_points");
    c->points = json_is_number(pts) ? json_number_value(pts) : 1.0;
    c->perf_points = json_is_number(perf) ? json_number_value(perf) : 0.0;
    json_t *hid = json_object_get(v, "hidden");
    c->hidden = hid ? json_is_true(hid) : 1;
    const char *why = lab->invalid(c);
    if (why) {
      fprintf(stderr, "em-check: %s: case \"%s\": %s\n", path, name, why);
      goto bad;
    }
    n++;
  }
  json_decref(root);
  *out = cases;
  *nout = n;
  return 0;
bad:
  free(cases);
  json_decref(root);
  return EXIT_USAGE;
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

/* The terminal table, printed as the cases finish. */
typedef struct table_ctx {
  const em_run_opts *o;
  int color;
} table_ctx;

static void table_begin(void *ctx, const em_lab *lab, em_track track, const char *skip, int ncases) {
  table_ctx *t = (table_ctx *)ctx;
  if (ncases == 0) return; /* filtered out: no table at all */
  em_report_begin(stdout, lab, track, skip, ncases, t->o, t->color);
}

static void table_row(void *ctx, const em_run *run, int index) {
  em_report_row(stdout, &run->results[index], ((table_ctx *)ctx)->color);
}

static void table_end(void *ctx, const em_run *run, int from, int to) {
  if (from == to) return;
  em_report_end(stdout, run, from, to, ((table_ctx *)ctx)->color);
}

int main(int argc, char **argv) {
  enum { O_LAB = 256, O_TRACK, O_PART, O_CASE, O_SEED, O_CASES, O_HIDDEN, O_NOTIME, O_BUDGET, O_TIMEOUT,
         O_THREADS, O_JSON, O_JUNIT, O_DUMP, O_PEAKS, O_COLOR, O_LIST, O_VERSION, O_HELP, O_PERF, O_OUTPUTS,
         O_VERIFY, O_PEAKS_LOAD };
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
      {"peaks-under-load", no_argument, 0, O_PEAKS_LOAD},
      {0, 0, 0, 0}};

  em_run_opts o;
  memset(&o, 0, sizeof o);
  o.seed = DEFAULT_SEED;
  o.tracks = EM_TRACKS_ALL;
  o.timing = 1;
  o.budget_s = 0.1;
  o.timeout_s = 120;
  int lab_no = em_candidate_lab, all_labs = em_candidate_lab == 0, list = 0, seed_given = 0;
  const char *json_path = NULL, *junit_path = NULL, *peaks_path = "build/peaks.json", *cases_path = NULL;
  const char *color_when = "auto";
  unsigned peaks_flags = 0;

  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case O_LAB:
        if (strcmp(optarg, "all") == 0) {
          all_labs = 1;
        } else {
          uint64_t v;
          if (parse_uint(optarg, INT_MAX, &v) || !em_lab_find((int)v)) {
            char known[256] = "";
            for (int i = 0, used = 0; i < em_nlabs && used < (int)sizeof known; ++i)
              used += snprintf(known + used, sizeof known - (size_t)used, "%s%d (%s)", i ? ", " : "",
                               em_labs[i]->number, em_labs[i]->name);
            fprintf(stderr, "em-check: unknown lab '%s': the labs are %s; give --lab N or --lab all\n", optarg, known);
            return EXIT_USAGE;
          }
          lab_no = (int)v;
          all_labs = 0;
        }
        break;
      case O_TRACK:
        if (strcmp(optarg, "cpu") == 0) o.tracks = EM_TRACK_BIT(EM_TRACK_CPU);
        else if (strcmp(optarg, "cuda") == 0) o.tracks = EM_TRACK_BIT(EM_TRACK_CUDA);
        else if (strcmp(optarg, "all") == 0) o.tracks = EM_TRACKS_ALL;
        else return fail_usage("unknown track '%s': use cpu, cuda or all", optarg);
        break;
      case O_PART:
        if (strlen(optarg) != 1 || optarg[0] < 'a' || optarg[0] > 'z')
          return fail_usage("unknown part '%s': parts are single letters (a, b)", optarg);
        o.part = optarg[0];
        break;
      case O_CASE: o.case_filter = optarg; break;
      case O_SEED:
        /* Below 2^63: results.json records the seed as a JSON integer, which is signed 64-bit. */
        if (parse_uint(optarg, INT64_MAX, &o.seed))
          return fail_usage("bad seed '%s': give an integer from 0 to 2^63 - 1", optarg);
        seed_given = 1;
        break;
      case O_CASES: cases_path = optarg; break;
      case O_HIDDEN: o.hidden_only = 1; break;
      case O_PERF: o.perf_only = 1; break;
      case O_NOTIME: o.timing = 0; break;
      case O_BUDGET:
        if (parse_double(optarg, &o.budget_s)) return fail_usage("bad budget '%s': give seconds, e.g. 0.2", optarg);
        break;
      case O_TIMEOUT:
        if (parse_double(optarg, &o.timeout_s)) return fail_usage("bad timeout '%s': give seconds (0: none)", optarg);
        break;
      case O_THREADS: {
        uint64_t v;
        if (parse_uint(optarg, 4096, &v) || v < 1) return fail_usage("bad thread count '%s': give 1 to 4096", optarg);
        o.threads = (int)v;
        break;
      }
      case O_JSON: json_path = optarg; break;
      case O_JUNIT: junit_path = optarg; break;
      case O_DUMP: o.dump_dir = optarg; break;
      case O_OUTPUTS: o.outputs_dir = optarg; break;
      case O_VERIFY: o.verify_dir = optarg; break;
      case O_PEAKS: peaks_path = optarg; break;
      case O_PEAKS_LOAD: peaks_flags |= EM_PEAKS_CACHE_UNDER_LOAD; break;
      case O_COLOR:
        if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
          return fail_usage("--color takes auto, always or never, not '%s'", optarg);
        color_when = optarg;
        break;
      case O_LIST: list = 1; break;
      case O_VERSION: printf("em-check %s\n", EM_VERSION); return 0;
      case O_HELP: usage(stdout); return 0;
      default:
        return fail_usage("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return fail_usage("unexpected argument '%s'", argv[optind]);
  if (!all_labs && !em_lab_find(lab_no)) return fail_usage("%s", "no lab given: use --lab N or --lab all");

  if (o.verify_dir) {
    /* The verdict must come from a process the student's code is not in: linked into this binary,
     * it could run before main (a constructor) and forge anything. */
    if (!em_candidate_is_solution)
      return fail_usage("--verify runs only in a checker without student code (%s): build one with  make labN "
                        "SOLUTION=1  or use the demo's build/demo/em-check",
                        "this one links the student's files");
    if (!json_path) return fail_usage("%s", "--verify needs --json FILE (the verdicts go there)");
    if (o.outputs_dir || o.dump_dir) return fail_usage("%s", "--verify runs no code: it takes neither --outputs nor --dump");
    struct stat st;
    if (stat(o.verify_dir, &st) != 0 || !S_ISDIR(st.st_mode))
      return fail_usage("--verify %s: not a folder (give the folder the checked run's --outputs wrote)", o.verify_dir);
  }

  if (list) {
    for (int i = 0; i < em_nlabs; ++i)
      if (all_labs || em_labs[i]->number == lab_no) list_cases(em_labs[i]);
    return 0;
  }

  em_case *extra = NULL;
  if (cases_path) {
    uint64_t file_seed = 0;
    int have_seed = 0;
    int rc = load_cases(cases_path, all_labs ? NULL : em_lab_find(lab_no), &extra, &o.nextra, &file_seed, &have_seed);
    if (rc) return rc;
    if (have_seed && !seed_given) o.seed = file_seed;
    o.extra = extra;
  } else if (o.hidden_only) {
    return fail_usage("%s", "--hidden-only needs --cases FILE");
  }

#if defined(_OPENMP)
  if (o.threads) omp_set_num_threads(o.threads);
  int threads = omp_get_max_threads();
#else
  int threads = 1;
#endif

  /* The GPU: is there one this build can use? (--verify needs none, nor the peaks, nor energy.) */
  if ((o.tracks & EM_TRACK_BIT(EM_TRACK_CUDA)) && !o.verify_dir) {
    int err = em_cuda_probe(&o.gpu);
    if (err == EM_OK) {
      o.gpu_ok = 1;
    } else {
      snprintf(o.gpu_skip, sizeof o.gpu_skip, "%s%s",
               err == EM_ENOCUDA ? "" : "no usable CUDA device: ", em_error_detail());
    }
  }

  if (o.gpu_ok) peaks_flags |= EM_PEAKS_GPU;
  int err = o.verify_dir ? EM_OK : em_peaks_get(peaks_path, threads, peaks_flags, &o.peaks);
  if (err != EM_OK) {
    fprintf(stderr, "em-check: measuring this machine's peaks failed: %s (%s)\n", em_strerror(err), em_error_detail());
    return EXIT_USAGE;
  }
  if (!o.peaks.have_gpu && o.gpu_ok) {
    o.gpu_ok = 0;
    snprintf(o.gpu_skip, sizeof o.gpu_skip, "the GPU's peaks could not be measured: %s", em_error_detail());
  }
  if (o.verify_dir || em_energy_open(&o.meter[EM_TRACK_CPU], EM_ENERGY_CPU) != EM_OK) o.meter[EM_TRACK_CPU] = NULL;
  if (o.gpu_ok && em_energy_open(&o.meter[EM_TRACK_CUDA], EM_ENERGY_GPU) != EM_OK) o.meter[EM_TRACK_CUDA] = NULL;

  int color = strcmp(color_when, "always") == 0 ||
              (strcmp(color_when, "auto") == 0 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
               !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0));

  em_run run;
  memset(&run, 0, sizeof run);
  table_ctx tc = {&o, color};
  em_progress progress = {table_begin, table_row, table_end, &tc};
  for (int i = 0; i < em_nlabs; ++i) {
    const em_lab *lab = em_labs[i];
    if (!all_labs && lab->number != lab_no) continue;
    em_check_lab(lab, &o, &run, &progress);
  }
  if (run.n == 0) {
    /* A filter that matches nothing is a typo, not a pass (in CI above all). */
    fprintf(stderr, "em-check: no case matches the filters (--part %c, --case \"%s\"): em-check --list shows the cases\n",
            o.part ? o.part : '*', o.case_filter ? o.case_filter : "");
    free(extra);
    return EXIT_USAGE;
  }
  em_report_summary(stdout, &run, color);

  em_machine m;
  memset(&m, 0, sizeof m);
  em_cpu_name(m.cpu, sizeof m.cpu);
  m.threads = threads;
  snprintf(m.compiler, sizeof m.compiler, "gcc %s", __VERSION__);
  snprintf(m.nvcc, sizeof m.nvcc, "%s", EM_NVCC_VERSION);

  char default_json[64];
  if (!json_path) {
    if (all_labs) snprintf(default_json, sizeof default_json, "build/demo/results.json");
    else snprintf(default_json, sizeof default_json, "build/lab%d/results.json", lab_no);
    json_path = default_json;
  }
  int status = 0;
  make_parents(json_path);
  if (em_report_json(json_path, &run, &o, &m, all_labs ? "all" : NULL) != EM_OK) {
    fprintf(stderr, "em-check: %s\n", em_error_detail());
    status = EXIT_USAGE;
  } else {
    printf("results: %s\n", json_path);
  }
  if (junit_path) {
    make_parents(junit_path);
    if (em_report_junit(junit_path, &run) != EM_OK) {
      fprintf(stderr, "em-check: %s\n", em_error_detail());
      status = EXIT_USAGE;
    }
  }

  int failed = 0;
  for (int i = 0; i < run.n; ++i) failed |= run.results[i].status == EM_FAIL || run.results[i].status == EM_ERROR;
  if (run.env_error) {
    fprintf(stderr, "em-check: the checker itself could not run a case: %s\n", run.env_message);
    fprintf(stderr, "em-check: this is not your code's fault; free memory or GPU, or report it with the line above.\n");
    status = EXIT_USAGE;
  }
  em_energy_close(o.meter[EM_TRACK_CPU]);
  em_energy_close(o.meter[EM_TRACK_CUDA]);
  free(run.results);
  free(extra);
  if (status) return status;
  return failed ? EXIT_FAILED : 0;
}
