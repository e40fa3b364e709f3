/* The run history (em-check --history FILE): one JSON line per run appended to FILE, so that
 * scripts/report.py can draw a student's progress across runs. Internal to the checker. */
#ifndef EM_HARNESS_HISTORY_H
#define EM_HARNESS_HISTORY_H

#include "checker.h"

/* The schema of a history line, its "schema" key. */
#define EM_HISTORY_SCHEMA "em-history/1"

/* Appends one line to path (created when missing):
 *
 *   {"schema": "em-history/1", "when": "2026-03-01T12:00:00Z", "lab": 3, "solution": false,
 *    "seed": 20260101, "timing": true, "tracks": ["cpu", "cuda"],
 *    "score": {"cpu": {"points": 7.5, "max": 9}}, "passed": 20, "failed": 1, "skipped": 12,
 *    "cases": [{"part": "b", "name": "perf 2^26", "track": "cpu", "time_ms": 24.0,
 *               "speedup_vs_ref": 1.02, "gbps": 22.4, "gflops": 2.8, "roofline_frac": 0.96,
 *               "status": "pass"}]}
 *
 * "score" has the tracks that ran (a track skipped whole has none), "cases" the timed cases; a
 * number that was not measured is null. lab_label: "all" for a run of every lab, NULL for the
 * lab's number. The line goes out in one write(2) to a file opened O_APPEND, so runs that append
 * at the same time never interleave their lines. EM_OK, or an error with its detail
 * (em_error_detail) for the caller to warn about: the history is a convenience, never a verdict. */
int em_history_append(const char *path, const em_run *run, const em_run_opts *o, const char *lab_label);

#endif
