/* The checker (harness side; include/em/check.h is the library's closeness check): runs a lab's cases
 * on a track and collects one result per case. */
#ifndef EM_HARNESS_CHECKER_H
#define EM_HARNESS_CHECKER_H

#include "lab_spec.h"

typedef enum em_status { EM_PASS = 0, EM_FAIL = 1, EM_ERROR = 2, EM_SKIP = 3 } em_status;
const char *em_status_name(em_status s); /* "pass", "fail", "error", "skip" */

/* Why a case did not pass, one row per kind: its enum name, its name in results.json ("kind"), and
 * the sentence a hidden case shows instead of its reason (whose numbers would give the shape away).
 * A case that left output elements unwritten is UNWRITTEN whatever else its call did wrong (wrote
 * past the end, changed an input): the likeliest cause, and what hidden cases have always said.
 * The checker's own failures and a case naming no part of its lab are shown to hidden cases as the
 * code's error, a missing function as wrong results, as they always were; skips are never hidden. */
#define EM_FAIL_KINDS(X)                                                                             \
  X(EM_FAIL_NONE, "", "")                                                                            \
  X(EM_FAIL_WRONG, "wrong", "wrong results")                                                         \
  X(EM_FAIL_UNWRITTEN, "unwritten", "some output elements were never written")                       \
  X(EM_FAIL_PAST_END, "past_end", "the code wrote past the end of an output")                        \
  X(EM_FAIL_INPUT_CHANGED, "input_changed", "the code changed an input")                             \
  X(EM_FAIL_STALE, "stale", EM_STALE_REASON)                                                         \
  X(EM_FAIL_REUSED, "reused", "reused work while timing: a result kept from an earlier call")        \
  X(EM_FAIL_OUTPUT_FILE, "output_file", "an output file of the run is missing or malformed")         \
  X(EM_FAIL_MISSING, "missing", "wrong results")                                                     \
  X(EM_FAIL_ERROR, "error", "the code raised an error")                                              \
  X(EM_FAIL_CHECKER, "checker", "the code raised an error")                                          \
  X(EM_FAIL_BAD_CASE, "bad_case", "the code raised an error")                                        \
  X(EM_FAIL_SKIPPED, "skipped", "")                                                                  \
  X(EM_FAIL_AFTER_CUDA_ERROR, "after_cuda_error", "")

/* The reason of a stale output, said in full even for hidden cases: it holds no number. */
#define EM_STALE_REASON "stale output after the checker changed the inputs: results cached between calls?"

#define EM__FAIL_ENUM(kind, json, hidden) kind,
typedef enum em_fail_kind { EM_FAIL_KINDS(EM__FAIL_ENUM) EM_NFAIL_KINDS } em_fail_kind;
#undef EM__FAIL_ENUM
const char *em_fail_kind_name(em_fail_kind k);     /* "wrong", "stale", ...; "" when it passed */
const char *em_fail_kind_sentence(em_fail_kind k); /* what a hidden case says instead of its reason */

typedef struct em_case_result {
  const em_lab *lab;
  em_case c;            /* a copy: hidden cases live only as long as the run */
  em_track track;
  em_status status;
  em_fail_kind kind;    /* what kind of failure (or skip) the reason describes; EM_FAIL_NONE: passed */
  char reason[1024];    /* why it failed, errored or was skipped; "" when it passed */
  char hint[512];       /* what to do next (a TODO's place, a likely cause) */
  char inputs[256];     /* the inputs of the first wrong element (em_lab.inputs_at); "" if none */
  int todo_hint;        /* the hint names a TODO still in the path: kept for hidden cases */
  int same_cause;       /* the hint names the cause outright (a TODO, unwritten elements): cases
                         * with the same hint are explained once in the table */
  char shape[64];
  const char *output;   /* the output tensor the error numbers are about */
  em_close_report close;
  int have_close;
  int timed;
  double time_s, ref_time_s, naive_time_s;
  double speedup_vs_ref, speedup_vs_naive; /* medians of interleaved per-round ratios */
  int rounds;
  int outlived;         /* GPU work ran past the stop event: timed by the host clock */
  double flops, bytes, gbps, gflops, intensity, roofline_frac;
  double roof_gbps;     /* the bandwidth this case's mix of reads and writes can reach here */
  const char *compute_peak; /* the em_peaks rate its roof holds it to, by its results.json name
                         * ("cpu_fma_gflops", "gpu_bf16_tc_gflops", ...); NULL when not timed */
  int impossible_speed; /* faster than the machine's peaks allow on a working set beyond the caches */
  char speed_note[384]; /* what was seen, when impossible_speed */
  int timed_calls;      /* calls through the timer (code, reference, baseline; warm-up included) */
  double timed_s;       /* their measured times added up: the grader checks them against its clock */
  int compared;         /* timed calls of the code whose whole output was compared with the reference's */
  double energy_j;      /* NAN when no counter */
  double others_share;  /* share of our CPUs other programs used while the case was timed (em/load.h);
                         * NAN: not timed, not known, or the GPU track */
  double load_s;        /* how long that window was */
  double points, max_points;
  const char *alternative; /* the em_alternative's label when this row times one, else NULL */
} em_case_result;

/* A case runs at an impossible speed when its working set is at least EM_IMPOSSIBLE_CACHES times
 * the last-level cache (the GPU's L2) and its roofline fraction exceeds EM_IMPOSSIBLE_ROOF, the roof
 * being the larger of the measured peaks and what the reference reached in the same run. The
 * margin is beyond the spread measured on the course VM (BENCHMARKS.md, "Roofs": the reference
 * against itself, interleaved, 0.54-1.54x under load; against peaks from another minute up to
 * 1.92x): noise does not reach it, a call that skips its work (hundreds of times) always does. */
#define EM_IMPOSSIBLE_CACHES 4.0
#define EM_IMPOSSIBLE_ROOF 2.0

typedef struct em_run_opts {
  uint64_t seed;
  unsigned tracks;        /* EM_TRACK_BIT mask */
  char part;              /* 0: all parts */
  const char *case_filter;/* substring of the case name, NULL: all */
  int timing;             /* 0: correctness only */
  double budget_s;        /* timing budget of an ordinary case; perf cases get 5× */
  double timeout_s;       /* a candidate run longer than this is killed: 0 = none */
  int threads;            /* OpenMP threads for the CPU track, 0 = default */
  const char *dump_dir;
  const char *outputs_dir;/* --outputs: each call's outputs as .npy, for --verify (check.c names them) */
  const char *verify_dir; /* --verify: judge the .npy files there instead of running any code; the
                           * anti-cache files are expected exactly when timing is on (as in the run) */
  const em_case *extra;   /* hidden cases from the instructor's file */
  int nextra;
  int hidden_only;        /* run the extra cases alone */
  int perf_only;          /* only the speed cases (perf_points > 0): `make bench` */
  int alternatives;       /* with timing: after each speed case, the lab's em_alternatives of its
                           * part, each timed as one more row (no points): `make bench` */
  int small_only;         /* only the small correctness cases (em_case_is_small): what compute-sanitizer's
                           * racecheck and synccheck, which follow every shared-memory access, get */
  int sanitize;           /* under a sanitizer (`make check SANITIZE=1`): timing off, no peaks, no guard
                           * words (buffers end where the tensor ends, so the tool sees a read past
                           * it), and a "[sanitize]" line on stderr before each case, by which the
                           * tool's findings are told apart per case */
  em_peaks peaks;
  int gpu_ok;             /* the CUDA track can run */
  char gpu_skip[512];     /* why it cannot */
  double others_at_start; /* others' share of our CPUs just before the run (timed runs), else NAN */
  em_cuda_device gpu;
  em_energy_meter *meter[EM_NTRACKS];
} em_run_opts;

typedef struct em_run {
  em_case_result *results;
  int n, cap;
  int env_error;          /* something not the code under test went wrong: exit 2 */
  int dump_files;         /* --dump: files written so far, and their bytes */
  double dump_bytes;
  int dump_warned;        /* the "this is a lot" warning was given */
  char env_message[1024];
} em_run;

/* Told as the run goes, so a student sees each row the moment its case is done (and the rows
 * before a crash): a track starts (skip_reason set when the whole track is skipped), a case starts
 * (the k-th of the track's count, from 1; not for a skipped track; may be NULL), a case is done
 * (its result is run->results[index]), a track ends (its results are [from, to)). */
typedef struct em_progress {
  void (*track_begin)(void *ctx, const em_lab *lab, em_track track, const char *skip_reason, int ncases);
  void (*case_begin)(void *ctx, const em_lab *lab, const em_case *c, em_track track, int k, int count);
  void (*case_done)(void *ctx, const em_run *run, int index);
  void (*track_end)(void *ctx, const em_run *run, int from, int to);
  void *ctx;
} em_progress;

/* Runs every selected case of lab on every selected track, appending to run. */
void em_check_lab(const em_lab *lab, const em_run_opts *o, em_run *run, const em_progress *progress);

/* Small enough for the slow sanitizer tools: no speed points, and at most EM_SMALL_CASE_BYTES of
 * inputs and outputs (the spec's byte count). 8 MiB keeps every lab's ragged and edge cases (lab 5's
 * rows of 65537, lab 7's n = m = 1000) and leaves out the millions of blocks of lab 5's "t=7 b=2^24",
 * which racecheck would follow one shared-memory access at a time for many minutes. */
#define EM_SMALL_CASE_BYTES (8.0 * 1024 * 1024)
int em_case_is_small(const em_lab *lab, const em_case *c);

/* A case's shape as text ("n=1025"), "hidden" for hidden cases. */
void em_case_shape(const em_lab *lab, const em_case *c, char *buf, size_t len);

/* Writes one .npy file (version 1.0, little-endian) of a float32/float64/int8/int32 array. */
int em_npy_write(const char *path, const char *descr, size_t elem, const void *data, int ndim,
                 const int64_t *shape);

#endif
