/* em-archive submit: what the check behind a submission covered, track by track.
 *
 * results.json's score counts only the cases that ran, so a lab whose CPU track passes and whose
 * CUDA track was skipped (no GPU, no nvcc) or left out (TRACK=cpu) claims full marks. The receipt
 * and the manifest therefore say per track what ran and what it scored, or why it did not run, and
 * how many EM_TODO markers the track's files still hold: the skeleton's marks of unfinished work,
 * which a student about to upload wants to hear of before the grader runs the CUDA track.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "archive_tool.h"

static const struct {
  const char *name;
  const char *ext[2];
} TRACKS[EM__ARC_NTRACKS] = {{"cpu", {".c", ".h"}}, {"cuda", {".cu", ".cuh"}}};

static int ident_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int space_char(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* The name as a whole identifier followed by "(": a call, the way the skeletons write it. Comments
 * and literals are skipped, since the skeletons' TODO comments name EM_TODO too ("delete the
 * EM_TODO line"); a backslash-newline inside a // comment continues it, as in the preprocessor. */
int em__arc_count_todos(const unsigned char *s, size_t n) {
  static const char word[] = "EM_TODO";
  const size_t wl = sizeof word - 1;
  int count = 0;
  size_t i = 0;
  while (i < n) {
    if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
      for (i += 2; i < n && s[i] != '\n'; ++i)
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\n') ++i;
    } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
      for (i += 2; i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'); ++i) {
      }
      i += 2;
    } else if (s[i] == '"' || s[i] == '\'') {
      /* A literal ends at its quote or, unterminated, at the end of its line. */
      unsigned char q = s[i];
      for (++i; i < n && s[i] != q && s[i] != '\n'; ++i)
        if (s[i] == '\\') ++i;
      ++i;
    } else if (ident_char(s[i])) {
      size_t start = i;
      while (i < n && ident_char(s[i])) ++i;
      if (i - start == wl && memcmp(s + start, word, wl) == 0) {
        size_t j = i;
        while (j < n && space_char(s[j])) ++j;
        count += j < n && s[j] == '(';
      }
    } else {
      ++i;
    }
  }
  return count;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int ends_with(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls > lx && strcmp(s + ls - lx, suffix) == 0;
}

/* The track a student file belongs to, or -1 (a file of neither kind). */
static int track_of(const char *path) {
  for (int t = 0; t < EM__ARC_NTRACKS; ++t)
    for (int e = 0; e < 2; ++e)
      if (ends_with(path, TRACKS[t].ext[e])) return t;
  return -1;
}

/* The checker's reason, fit for one line of the receipt and for JSON: control characters become
 * spaces, and a cut never splits a UTF-8 sequence (jansson refuses invalid UTF-8). */
static void clean_reason(const char *in, char *out, size_t cap) {
  size_t k = 0;
  for (; in && *in && k + 1 < cap; ++in, ++k) {
    unsigned char c = (unsigned char)*in;
    out[k] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
  }
  if (in && *in)
    while (k > 0 && ((unsigned char)out[k] & 0xc0) == 0x80) --k;
  out[k] = 0;
}

/* One case of results.json into its track's counts. */
static void tally_case(json_t *c, em__arc_track t[EM__ARC_NTRACKS]) {
  const char *track = json_string_value(json_object_get(c, "track"));
  const char *status = json_string_value(json_object_get(c, "status"));
  json_t *score = json_object_get(c, "score");
  for (int k = 0; track && status && k < EM__ARC_NTRACKS; ++k) {
    if (strcmp(track, t[k].name) != 0) continue;
    t[k].cases++;
    if (strcmp(status, "skip") == 0) {
      if (t[k].skipped++ == 0)
        clean_reason(json_string_value(json_object_get(c, "reason")), t[k].reason, sizeof t[k].reason);
      return;
    }
    if (strcmp(status, "pass") == 0) t[k].passed++;
    else if (strcmp(status, "fail") == 0) t[k].failed++;
    else t[k].errors++;
    t[k].points += json_number_value(json_object_get(score, "points"));
    t[k].max += json_number_value(json_object_get(score, "max"));
  }
}

/* Appends printf-style text to out (of cap bytes), cut at its end. */
static void add(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *out, size_t cap, const char *fmt, ...) {
  size_t used = strlen(out);
  if (used + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out + used, cap - used, fmt, ap);
  va_end(ap);
}

/* "checked, all 21 cases passed, 26 / 26 points", "not run here (no GPU ...)", ... */
static void note_cases(const em__arc_track *t, const char *ran_tracks, char *out, size_t cap) {
  int ran = t->cases - t->skipped;
  if (strcmp(t->status, "not_checked") == 0) {
    if (*ran_tracks)
      add(out, cap, "not checked (this check ran the %s track only: submit without TRACK= to check it)", ran_tracks);
    else
      add(out, cap, "not checked (results.json has none of its cases)");
    return;
  }
  if (strcmp(t->status, "skipped") == 0) {
    add(out, cap, "not run here (%s)", t->reason[0] ? t->reason : "skipped");
    return;
  }
  if (t->failed == 0 && t->errors == 0)
    add(out, cap, "checked, %s %d case%s passed", ran == 1 ? "its" : "all", ran, ran == 1 ? "" : "s");
  else
    add(out, cap, "checked, %d of %d cases passed", t->passed, ran);
  if (t->failed) add(out, cap, ", %d failed", t->failed);
  if (t->errors) add(out, cap, ", %d with an error", t->errors);
  add(out, cap, ", %g / %g points", t->points, t->max);
  if (t->skipped) add(out, cap, "; %d more not run (%s)", t->skipped, t->reason[0] ? t->reason : "skipped");
}

/* "; relu_mul.cu still has 1 TODO" (each file that holds some), or "; no TODO left in relu_mul.c"
 * (every file of the track). */
static void note_todos(const em__arc_track *t, int k, const em__arc_file *files, size_t n, char *out, size_t cap) {
  int first = 1;
  for (size_t i = 0; i < n; ++i) {
    if (track_of(files[i].path) != k) continue;
    const char *name = base_name(files[i].path);
    int c = em__arc_count_todos(files[i].data, files[i].size);
    if (t->todos == 0) add(out, cap, "%s%s", first ? "; no TODO left in " : ", ", name);
    else if (c > 0 && first) add(out, cap, "; %s still has %d TODO%s", name, c, c == 1 ? "" : "s");
    else if (c > 0) add(out, cap, ", %s %d TODO%s", name, c, c == 1 ? "" : "s");
    else continue;
    first = 0;
  }
}

void em__arc_tracks_tally(json_t *results, const em__arc_file *files, size_t n, em__arc_track t[EM__ARC_NTRACKS]) {
  memset(t, 0, EM__ARC_NTRACKS * sizeof *t);
  for (int k = 0; k < EM__ARC_NTRACKS; ++k) t[k].name = TRACKS[k].name;
  json_t *cases = json_object_get(results, "cases");
  for (size_t i = 0; i < json_array_size(cases); ++i) tally_case(json_array_get(cases, i), t);
  for (size_t i = 0; i < n; ++i) {
    int k = track_of(files[i].path);
    if (k < 0) continue;
    t[k].files++;
    t[k].todos += em__arc_count_todos(files[i].data, files[i].size);
  }
  char ran[64] = "";
  for (int k = 0; k < EM__ARC_NTRACKS; ++k) {
    t[k].status = t[k].cases == 0 ? "not_checked" : t[k].skipped == t[k].cases ? "skipped" : "checked";
    if (t[k].cases > t[k].skipped) add(ran, sizeof ran, "%s%s", ran[0] ? " and " : "", t[k].name);
  }
  for (int k = 0; k < EM__ARC_NTRACKS; ++k) {
    note_cases(&t[k], ran, t[k].note, sizeof t[k].note);
    note_todos(&t[k], k, files, n, t[k].note, sizeof t[k].note);
  }
}

static const char *short_state(const em__arc_track *t) {
  return strcmp(t->status, "skipped") == 0 ? "not run here" : "not checked";
}

void em__arc_claim_scope(const em__arc_track t[EM__ARC_NTRACKS], char *out, size_t cap) {
  char checked[64] = "", missing[256] = "";
  int nchecked = 0;
  for (int k = 0; k < EM__ARC_NTRACKS; ++k) {
    if (strcmp(t[k].status, "checked") == 0)
      add(checked, sizeof checked, "%s%s", nchecked++ ? " and " : "", t[k].name);
    else
      add(missing, sizeof missing, "%s%s %s", missing[0] ? ", " : "", t[k].name, short_state(&t[k]));
  }
  out[0] = 0;
  if (nchecked == 0) add(out, cap, "no track checked here (%s)", missing);
  else if (!missing[0]) add(out, cap, "the %s tracks", checked);
  else add(out, cap, "the %s track only (%s)", checked, missing);
}

/* One track's object of manifest.json's "tracks". */
static json_t *track_json(const em__arc_track *t, int k, const em__arc_file *files, size_t n) {
  json_t *o = json_object(), *todos = json_object();
  if (!o || !todos) {
    json_decref(o), json_decref(todos);
    return NULL;
  }
  for (size_t i = 0; i < n; ++i)
    if (track_of(files[i].path) == k)
      json_object_set_new(todos, files[i].path, json_integer(em__arc_count_todos(files[i].data, files[i].size)));
  int bad = json_object_set_new(o, "status", json_string(t->status));
  bad |= json_object_set_new(o, "reason", t->reason[0] ? json_string(t->reason) : json_null());
  bad |= json_object_set_new(o, "cases", json_integer(t->cases));
  bad |= json_object_set_new(o, "passed", json_integer(t->passed));
  bad |= json_object_set_new(o, "failed", json_integer(t->failed));
  bad |= json_object_set_new(o, "errors", json_integer(t->errors));
  bad |= json_object_set_new(o, "skipped", json_integer(t->skipped));
  bad |= json_object_set_new(o, "points", json_real(t->points));
  bad |= json_object_set_new(o, "max", json_real(t->max));
  bad |= json_object_set_new(o, "todo_count", json_integer(t->todos));
  bad |= json_object_set_new(o, "todos", todos);
  bad |= json_object_set_new(o, "note", json_string(t->note));
  if (bad || json_object_size(todos) != (size_t)t->files) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *em__arc_tracks_json(const em__arc_track t[EM__ARC_NTRACKS], const em__arc_file *files, size_t n) {
  json_t *all = json_object();
  for (int k = 0; all && k < EM__ARC_NTRACKS; ++k) {
    json_t *one = track_json(&t[k], k, files, n);
    if (!one || json_object_set_new(all, t[k].name, one) != 0) {
      json_decref(all);
      return NULL;
    }
  }
  return all;
}

json_t *em__arc_checked_tracks_json(const em__arc_track t[EM__ARC_NTRACKS]) {
  json_t *a = json_array();
  for (int k = 0; a && k < EM__ARC_NTRACKS; ++k)
    if (strcmp(t[k].status, "checked") == 0 && json_array_append_new(a, json_string(t[k].name)) != 0) {
      json_decref(a);
      return NULL;
    }
  return a;
}
