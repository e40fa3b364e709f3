/* Reports of a run: the terminal table, results.json (schema em-results/1) and JUnit XML. */
#ifndef EM_HARNESS_REPORT_H
#define EM_HARNESS_REPORT_H

#include <stdio.h>

#include "checker.h"

typedef struct em_machine {
  char cpu[128];
  int threads;
  char compiler[128];
  char nvcc[64];
  char gpu[256];
} em_machine;

/* The table of one lab on one track, printed as it runs: the header (or one line when the whole
 * track is skipped), a row per case, then the failures explained. */
void em_report_begin(FILE *f, const em_lab *lab, em_track track, const char *skip_reason, int ncases,
                     const em_run_opts *o, int color);
void em_report_row(FILE *f, const em_case_result *r, int color);
void em_report_end(FILE *f, const em_run *run, int from, int to, int color);

/* The closing lines: per track counts and scores, and "N passed, N failed, N skipped". */
void em_report_summary(FILE *f, const em_run *run, int color);

int em_report_json(const char *path, const em_run *run, const em_run_opts *o, const em_machine *m,
                   const char *lab_label);
int em_report_junit(const char *path, const em_run *run);

/* "83 ns", "4.10 µs", "12.3 ms", "1.20 s" */
void em_fmt_time(char *buf, size_t len, double seconds);

#endif
