/* em-check --history FILE: a run's summary as one line of JSON appended to FILE (history.h has the
 * format). results.json is replaced by every run; this file keeps what each run scored and how fast
 * its timed cases were, the material of the progress chart of `make report`. */
#include "history.h"

#include "checker_internal.h" /* em__track_names */

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A figure, or null where it was not measured (JSON has no NaN). */
static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* key: value into obj. jansson takes a NULL value (a failed allocation) or a NULL obj as an error
 * and frees what it was given, so a chain of these needs one check at its end: *ok. */
static void put(json_t *obj, const char *key, json_t *value, int *ok) {
  if (json_object_set_new(obj, key, value) != 0) *ok = 0;
}

static void push(json_t *arr, json_t *value, int *ok) {
  if (json_array_append_new(arr, value) != 0) *ok = 0;
}

/* A timed case: which it is, how it went, and its figures. */
static json_t *case_json(const em_case_result *r, int *ok) {
  char part[2] = {r->c.part, 0};
  json_t *c = json_object();
  put(c, "part", json_string(part), ok);
  put(c, "name", json_string(r->c.name), ok);
  put(c, "track", json_string(em__track_names[r->track]), ok);
  put(c, "time_ms", num(r->time_s * 1e3), ok);
  put(c, "speedup_vs_ref", num(r->speedup_vs_ref), ok);
  put(c, "gbps", num(r->gbps), ok);
  put(c, "gflops", num(r->gflops), ok);
  put(c, "roofline_frac", num(r->roofline_frac), ok);
  put(c, "status", json_string(em_status_name(r->status)), ok);
  return c;
}

/* The counts, the per-track score and the timed cases of the run into line. */
static void add_results(json_t *line, const em_run *run, int *ok) {
  double pts[EM_NTRACKS] = {0}, max[EM_NTRACKS] = {0};
  int ran[EM_NTRACKS] = {0}, seen[EM_NTRACKS] = {0}, count[4] = {0};
  json_t *cases = json_array();
  for (int i = 0; i < run->n; ++i) {
    const em_case_result *r = &run->results[i];
    count[r->status]++;
    seen[r->track] = 1;
    /* The score as the summary line counts it: a skipped case is neither won nor lost. */
    if (r->status != EM_SKIP) ran[r->track] = 1, pts[r->track] += r->points, max[r->track] += r->max_points;
    if (r->timed) push(cases, case_json(r, ok), ok);
  }
  json_t *tracks = json_array(), *score = json_object();
  for (int t = 0; t < EM_NTRACKS; ++t) {
    if (seen[t]) push(tracks, json_string(em__track_names[t]), ok);
    if (!ran[t]) continue;
    json_t *s = json_object();
    put(s, "points", json_real(pts[t]), ok);
    put(s, "max", json_real(max[t]), ok);
    put(score, em__track_names[t], s, ok);
  }
  put(line, "tracks", tracks, ok);
  put(line, "score", score, ok);
  put(line, "passed", json_integer(count[EM_PASS]), ok);
  put(line, "failed", json_integer(count[EM_FAIL] + count[EM_ERROR]), ok);
  put(line, "skipped", json_integer(count[EM_SKIP]), ok);
  put(line, "cases", cases, ok);
}

/* The run as one compact line, newline included (malloc'd), or NULL when memory ran out. */
static char *history_line(const em_run *run, const em_run_opts *o, const char *lab_label) {
  char when[32] = "";
  time_t now = time(NULL);
  struct tm utc;
  if (gmtime_r(&now, &utc)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  int ok = 1;
  json_t *line = json_object();
  put(line, "schema", json_string(EM_HISTORY_SCHEMA), &ok);
  put(line, "when", json_string(when), &ok);
  json_t *lab = lab_label ? json_string(lab_label) : run->n ? json_integer(run->results[0].lab->number) : json_null();
  put(line, "lab", lab, &ok);
  /* A run of the reference solution (make labN SOLUTION=1) is not the student's progress: the
   * report marks it. */
  put(line, "solution", json_boolean(em_candidate_is_solution && !o->verify_dir), &ok);
  put(line, "seed", json_integer((json_int_t)o->seed), &ok);
  put(line, "timing", json_boolean(o->timing && !o->verify_dir), &ok);
  add_results(line, run, &ok);
  char *text = ok ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  json_decref(line);
  if (!text) return NULL;
  size_t len = strlen(text);
  char *out = (char *)malloc(len + 2);
  if (out) {
    memcpy(out, text, len);
    memcpy(out + len, "\n", 2);
  }
  free(text); /* json_dumps allocates with jansson's allocator, malloc unless told otherwise */
  return out;
}

int em_history_append(const char *path, const em_run *run, const em_run_opts *o, const char *lab_label) {
  char *line = history_line(run, o, lab_label);
  if (!line) return em__fail(EM_ENOMEM, "out of memory writing the history line for %s", path);
  size_t len = strlen(line);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) {
    int e = errno;
    free(line);
    return em__fail(EM_EIO, "cannot open %s: %s", path, strerror(e));
  }
  /* One write: with O_APPEND the kernel places it whole at the end, so two runs appending at once
   * give two whole lines. (A write to a regular file is not cut short by a signal; a short count
   * means a full disk.) */
  ssize_t wrote;
  do wrote = write(fd, line, len);
  while (wrote < 0 && errno == EINTR);
  int e = errno;
  free(line);
  if (close(fd) != 0 && wrote == (ssize_t)len) return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  if (wrote < 0) return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(e));
  if ((size_t)wrote != len)
    return em__fail(EM_EIO, "cannot write %s: only %zd of %zu bytes went in (disk full?)", path, wrote, len);
  return EM_OK;
}
