#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static const char *const track_names[] = {"cpu", "cuda"};

void em_fmt_time(char *buf, size_t len, double s) {
  if (!(s > 0) || !isfinite(s)) snprintf(buf, len, "-");
  else if (s < 1e-6) snprintf(buf, len, "%.0f ns", s * 1e9);
  else if (s < 1e-3) snprintf(buf, len, "%.2f us", s * 1e6);
  else if (s < 1.0) snprintf(buf, len, "%.2f ms", s * 1e3);
  else snprintf(buf, len, "%.2f s", s);
}

static void fmt_ratio(char *buf, size_t len, double r) {
  if (!isfinite(r) || r <= 0) snprintf(buf, len, "-");
  else snprintf(buf, len, "%.2fx", r);
}

/* ANSI colours only on a terminal that wants them. */
static const char *col(int color, em_status s) {
  if (!color) return "";
  static const char *const c[] = {"\033[32m", "\033[31m", "\033[31;1m", "\033[33m"};
  return c[s];
}
static const char *reset(int color) { return color ? "\033[0m" : ""; }
static const char *bold(int color) { return color ? "\033[1m" : ""; }
static const char *dim(int color) { return color ? "\033[2m" : ""; }

static void fmt_error(char *buf, size_t len, const em_case_result *r) {
  if (!r->have_close) {
    snprintf(buf, len, "-");
    return;
  }
  const em_close_report *c = &r->close;
  if (c->worst_index < 0) {
    snprintf(buf, len, "-");
    return;
  }
  double err = fabs(c->worst_got - c->worst_want);
  double tol = c->worst_tol;
  if (r->status == EM_PASS || isfinite(err))
    snprintf(buf, len, "%.1e @%lld %s %.1e", isfinite(err) ? err : INFINITY, (long long)c->worst_index,
             c->worst_tol_ratio <= 1.0 ? "<=" : ">", tol);
  else snprintf(buf, len, "%s @%lld", c->first_unwritten ? "unwritten" : "non-finite", (long long)c->first_index);
}

/* The shape column: 16 characters, or as wide as the lab's longest shape up to 44 (lab 7's six
 * numbers, "b=4 h=16 n=4096 m=4096 d=128 causal=1", would otherwise be cut mid-number). */
static int shape_width(const em_lab *lab) {
  int w = 16;
  for (int i = 0; i < lab->ncases; ++i) {
    char buf[64];
    em_case_shape(lab, &lab->cases[i], buf, sizeof buf);
    int len = (int)strlen(buf);
    w = len > w ? len : w;
  }
  return w < 44 ? w : 44;
}

/* A lab whose speed cases do more than 4 FLOPs per byte (attention, a matrix product) is judged by
 * its FLOP rate: the table's rate column shows GFLOP/s instead of GB/s. */
static int compute_bound(const em_lab *lab) {
  for (int i = 0; i < lab->ncases; ++i)
    if (lab->cases[i].perf_points > 0 && lab->flops(&lab->cases[i]) > 4 * lab->bytes(&lab->cases[i])) return 1;
  return 0;
}

void em_report_begin(FILE *f, const em_lab *lab, em_track track, const char *skip_reason, int ncases,
                     const em_run_opts *o, int color) {
  fprintf(f, "\n%slab %d: %s%s  [track %s", bold(color), lab->number, lab->title, reset(color), track_names[track]);
  if (skip_reason) {
    fprintf(f, "]\n%s%d cases skipped%s: %s\n", col(color, EM_SKIP), ncases, reset(color), skip_reason);
    return;
  }
  if (o->verify_dir) {
    fprintf(f, ", verifying the outputs in %s, seed %llu]\n", o->verify_dir, (unsigned long long)o->seed);
    fprintf(f, "%s%-4s %-16s %-*s %-6s %-26s%s\n", dim(color), "part", "case", shape_width(lab), "shape", "status",
            "worst error @index vs tol", reset(color));
    fflush(f);
    return;
  }
  if (o->sanitize) {
    /* No peaks were measured (main.c says why): the columns of speed stay empty, as with --no-timing. */
    if (track == EM_TRACK_CUDA) fprintf(f, ", %s", o->gpu.name);
    fprintf(f, ", sanitizer mode: timing off");
  } else if (track == EM_TRACK_CPU) {
    fprintf(f, ", %d thread%s, copy %.1f GB/s, FMA %.0f GFLOP/s", o->peaks.cpu_threads,
            o->peaks.cpu_threads == 1 ? "" : "s", o->peaks.cpu_copy_gbps, o->peaks.cpu_fma_gflops);
    if (lab->int8_ops) fprintf(f, ", int8 %.0f GOP/s", o->peaks.cpu_int8_gops);
    /* Low peaks make every roof column look good: say why they are low, and that they will not stick. */
    if (o->peaks.cpu_contended)
      fprintf(f, " (measured while other programs held the cores, %.0f%% of the time ours: not cached; "
                 "close them and run again)",
              100.0 * o->peaks.cpu_share);
    else if (o->peaks.cpu_unreliable)
      fprintf(f, " (from a cache measured while other programs held the cores: roof is approximate; "
                 "delete it and run again on a quiet machine)");
    if (o->others_at_start > EM_LOAD_BUSY_SHARE)
      fprintf(f, " (other programs are using %.0f%% of the cores now: times will be slow; vs ref stays fair)",
              100 * o->others_at_start);
  }
  else if (lab->int8_ops)
    fprintf(f, ", %s, copy %.0f GB/s, FMA %.0f GFLOP/s, int8 tensor cores %.0f GOP/s", o->gpu.name,
            o->peaks.gpu_copy_gbps, o->peaks.gpu_fma_gflops, o->peaks.gpu_int8_tc_gops);
  else
    fprintf(f, ", %s, copy %.0f GB/s, FMA %.0f GFLOP/s, bf16 tensor cores %.0f GFLOP/s", o->gpu.name,
            o->peaks.gpu_copy_gbps, o->peaks.gpu_fma_gflops, o->peaks.gpu_bf16_tc_gflops);
  fprintf(f, ", seed %llu%s]\n", (unsigned long long)o->seed, em_candidate_is_solution ? ", reference solution" : "");
  fprintf(f, "%s%-4s %-16s %-*s %-6s %-26s %9s %7s %7s %8s %6s %9s%s\n", dim(color), "part", "case", shape_width(lab), "shape",
          "status", "worst error @index vs tol", "time", "vs ref", "vs naive", compute_bound(lab) ? "GFLOP/s" : "GB/s", "roof",
          "energy", reset(color));
  fflush(f);
}

/* Other programs held the cores while this case was timed, over a window long enough to tell. */
static int timed_busy(const em_case_result *r) {
  return r->others_share > EM_LOAD_BUSY_SHARE && r->load_s >= EM_LOAD_MIN_WINDOW_S;
}

void em_report_row(FILE *f, const em_case_result *r, int color) {
  char err[64], t[24], sr[16], sn[16], gb[16], roof[16], en[24];
  fmt_error(err, sizeof err, r);
  if (r->timed) {
    em_fmt_time(t, sizeof t, r->time_s);
    fmt_ratio(sr, sizeof sr, r->speedup_vs_ref);
    fmt_ratio(sn, sizeof sn, r->speedup_vs_naive);
    if (compute_bound(r->lab)) snprintf(gb, sizeof gb, "%.0f", r->gflops);
    else snprintf(gb, sizeof gb, "%.1f", r->gbps);
    if (isfinite(r->roofline_frac))
      snprintf(roof, sizeof roof, "%.0f%%%s", 100 * r->roofline_frac,
               r->impossible_speed ? "!" : timed_busy(r) ? "~" : "");
    else snprintf(roof, sizeof roof, "-");
    if (isfinite(r->energy_j)) {
      if (r->energy_j < 1e-3) snprintf(en, sizeof en, "%.1f uJ", r->energy_j * 1e6);
      else snprintf(en, sizeof en, "%.2f mJ", r->energy_j * 1e3);
    } else {
      snprintf(en, sizeof en, "n/a");
    }
  } else {
    strcpy(t, "-"), strcpy(sr, "-"), strcpy(sn, "-"), strcpy(gb, "-"), strcpy(roof, "-"), strcpy(en, "-");
  }
  char status[8];
  snprintf(status, sizeof status, "%s", em_status_name(r->status));
  for (char *p = status; *p; ++p) *p = (char)(*p - 32);
  int sw = shape_width(r->lab);
  /* An alternative's row follows its case's: "via 3xTF32" says all the column has room for. */
  char name[24];
  if (r->alternative) snprintf(name, sizeof name, "via %.19s", r->alternative);
  fprintf(f, "%-4c %-16.16s %-*.*s %s%-6s%s %-26s %9s %7s %7s %8s %6s %9s%s\n", r->c.part,
          r->alternative ? name : r->c.name, sw, sw, r->shape,
          col(color, r->status), status, reset(color), err, t, sr, sn, gb, roof, en, r->outlived ? " *" : "");
  fflush(f);
}

void em_report_end(FILE *f, const em_run *run, int from, int to, int color) {
  if (from < to && run->results[from].status == EM_SKIP && run->results[from].track == EM_TRACK_CUDA &&
      strcmp(run->results[from].reason, run->results[to - 1].reason) == 0) {
    int all = 1;
    for (int i = from; i < to; ++i) all &= run->results[i].status == EM_SKIP;
    if (all) return; /* said in one line by em_report_begin */
  }
  /* The failures explained. Cases that fail for the same reason (the same hint, or the same skip
   * reason) are explained once and the rest named, so an untouched skeleton gives a short page. */
  int outlived = 0;
  for (int i = from; i < to; ++i)
    if (run->results[i].impossible_speed)
      fprintf(f, "  ! (%c) %s: %s\n", run->results[i].c.part, run->results[i].c.name, run->results[i].speed_note);
  const em_case_result *shown = NULL;
  const char *hints[32];
  int nhints = 0;
  unsigned long long inputs_shown = 0;
  int more = 0;
  char names[256] = "";
  for (int i = from; i <= to; ++i) {
    const em_case_result *r = i < to ? &run->results[i] : NULL;
    if (r) outlived |= r->outlived;
    if (r && r->status == EM_PASS) continue;
    int same = r && shown && r->status == shown->status && r->c.part == shown->c.part &&
               (r->status == EM_SKIP ? strcmp(r->reason, shown->reason) == 0
                                     : r->same_cause && r->hint[0] && strcmp(r->hint, shown->hint) == 0);
    if (same) {
      size_t used = strlen(names);
      if (used < sizeof names - 1)
        snprintf(names + used, sizeof names - used, "%s%s", more ? ", " : "", r->c.name);
      more++;
      continue;
    }
    if (more) fprintf(f, "      (and %d more the same way: %s)\n", more, names);
    more = 0;
    names[0] = 0;
    if (!r) break;
    shown = r;
    fprintf(f, "  %s%s%s (%c) %s: %s\n", col(color, r->status), em_status_name(r->status), reset(color), r->c.part,
            r->c.name, r->reason);
    /* The inputs behind the first wrong element, for the first failure of each kind: what the
     * student needs to see the bug; later cases of the kind would only repeat the lesson. */
    if (r->inputs[0] && !(inputs_shown & (1ull << r->kind))) {
      inputs_shown |= 1ull << r->kind;
      fprintf(f, "      at that element: %s\n", r->inputs);
    }
    /* A hint (the tolerance's derivation, say) is said once per track: twenty wrong cases do not
     * need twenty copies of it. */
    int said = 0;
    for (int h = 0; h < nhints && !said; ++h) said = strcmp(hints[h], r->hint) == 0;
    if (r->hint[0] && !said) {
      fprintf(f, "      -> %s\n", r->hint);
      if (nhints < EM_COUNT(hints)) hints[nhints++] = r->hint;
    }
  }
  double busiest = 0;
  for (int i = from; i < to; ++i)
    if (timed_busy(&run->results[i]) && run->results[i].others_share > busiest) busiest = run->results[i].others_share;
  if (busiest > EM_LOAD_BUSY_SHARE)
    fprintf(f, "  ~ other programs used up to %.0f%% of the cores while the cases marked ~ were timed: their vs ref "
               "holds (timed interleaved with the reference), their time, GB/s and roof read slow; close them and "
               "check again for those\n",
            100 * busiest);
  if (outlived)
    fprintf(f, "  * GPU work ran past the stop event (another stream?); timed with the host clock instead.\n");
}

void em_report_summary(FILE *f, const em_run *run, int color) {
  int timed = 0;
  for (int i = 0; i < run->n; ++i) timed |= run->results[i].timed;
  if (timed)
    fprintf(f, "\n%stime: median per call; vs ref / vs naive: how many times faster than the reference solution /\n"
               "the naive baseline (>1 is faster), medians of interleaved runs, each call on inputs changed since\n"
               "the previous one; roof: achieved over what this machine's measured bandwidth for the case's mix\n"
               "of reads and writes and its compute rate allow (the FMA rate; bfloat16 on a GPU, the tensor\n"
               "cores'; int8 products, the int8 rate); cases that fit in a cache can pass 100%%.%s\n",
            dim(color), reset(color));
  int count[4] = {0};
  double pts[EM_NTRACKS] = {0}, max[EM_NTRACKS] = {0}, unmeasured[EM_NTRACKS] = {0};
  int ran[EM_NTRACKS] = {0};
  for (int i = 0; i < run->n; ++i) {
    const em_case_result *r = &run->results[i];
    count[r->status]++;
    if (r->status != EM_SKIP) {
      ran[r->track] = 1;
      pts[r->track] += r->points;
      max[r->track] += r->max_points;
      if (!r->timed && r->status == EM_PASS) unmeasured[r->track] += r->c.perf_points;
    }
  }
  fprintf(f, "\n");
  for (int t = 0; t < EM_NTRACKS; ++t)
    if (ran[t]) {
      fprintf(f, "score %s: %.1f / %.1f", track_names[t], pts[t], max[t]);
      /* A score short of its maximum for want of timing must say so, or it reads as slow code. */
      if (unmeasured[t] > 0)
        fprintf(f, " (%.1f speed points not measured: timing was off in this run)",
                unmeasured[t]);
      fprintf(f, "\n");
    }
  int failed = count[EM_FAIL] + count[EM_ERROR];
  fprintf(f, "%s%d passed, %d failed, %d skipped%s\n", failed ? col(color, EM_FAIL) : col(color, EM_PASS),
          count[EM_PASS], failed, count[EM_SKIP], reset(color));
}

/* ---- results.json ----------------------------------------------------------------------------- */

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Which case it is and how it went. */
static void add_case_identity(json_t *c, const em_case_result *r) {
  char part[2] = {r->c.part, 0};
  json_object_set_new(c, "lab", json_integer(r->lab->number));
  json_object_set_new(c, "part", json_string(part));
  json_object_set_new(c, "name", json_string(r->c.name));
  /* Rows of em-check --alternatives: which of the library's alternatives ran the case. */
  if (r->alternative) json_object_set_new(c, "alternative", json_string(r->alternative));
  json_object_set_new(c, "track", json_string(track_names[r->track]));
  json_object_set_new(c, "shape", json_string(r->shape));
  if (!r->c.hidden) {
    json_t *dims = json_object();
    for (int d = 0; d < r->lab->ndims; ++d) json_object_set_new(dims, r->lab->dim_names[d], json_integer(r->c.dim[d]));
    json_object_set_new(c, "dims", dims);
    json_object_set_new(c, "values", json_string(r->lab->value_kinds[r->c.values]));
  }
  json_object_set_new(c, "lab_name", json_string(r->lab->name));
  json_object_set_new(c, "hidden", json_boolean(r->c.hidden));
  json_object_set_new(c, "status", json_string(em_status_name(r->status)));
  json_object_set_new(c, "kind", json_string(em_fail_kind_name(r->kind)));
  json_object_set_new(c, "reason", json_string(r->reason));
  json_object_set_new(c, "hint", json_string(r->hint));
  if (r->inputs[0]) json_object_set_new(c, "inputs_at_first_mismatch", json_string(r->inputs));
}

/* An element of the closeness report: its index, got, want and what was allowed there. */
static json_t *element_json(int64_t index, json_t *got, double want, double allowed) {
  json_t *e = json_object();
  json_object_set_new(e, "index", json_integer(index));
  json_object_set_new(e, "got", got);
  json_object_set_new(e, "want", num_or_null(want));
  json_object_set_new(e, "allowed", num_or_null(allowed));
  return e;
}

/* The comparison with the oracle; nulls when the case compared nothing. */
static void add_case_close(json_t *c, const em_case_result *r) {
  const em_close_report *k = &r->close;
  if (!r->have_close) {
    static const char *const keys[] = {"max_abs_err", "max_rel_err", "mismatches", "first_mismatch", "rtol", "atol"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i) json_object_set_new(c, keys[i], json_null());
    return;
  }
  json_object_set_new(c, "output", json_string(r->output));
  json_object_set_new(c, "max_abs_err", num_or_null(k->max_abs_err));
  json_object_set_new(c, "max_rel_err", num_or_null(k->max_rel_err));
  json_object_set_new(c, "mismatches", json_integer(k->mismatches));
  json_object_set_new(c, "unwritten", json_integer(k->unwritten));
  json_object_set_new(c, "first_mismatch",
                      k->first_index < 0 ? json_null()
                                         : element_json(k->first_index,
                                                        k->first_unwritten ? json_string("unwritten") : num_or_null(k->first_got),
                                                        k->first_want, k->first_tol));
  json_object_set_new(c, "rtol", json_real(k->rtol));
  json_object_set_new(c, "atol", json_real(k->atol));
  if (k->worst_index >= 0) {
    /* The element furthest off relative to what it was allowed (per-element tolerances make
     * rtol and atol alone an incomplete account). */
    json_t *w = element_json(k->worst_index, num_or_null(k->worst_got), k->worst_want, k->worst_tol);
    json_object_set_new(w, "error_over_allowed", num_or_null(k->worst_tol_ratio));
    json_object_set_new(c, "worst", w);
  }
}

/* The timing's figures (null when the case was not timed) and the timer's own account. */
static void add_case_timing(json_t *c, const em_case_result *r) {
  json_object_set_new(c, "time_ms", r->timed ? json_real(r->time_s * 1e3) : json_null());
  json_object_set_new(c, "ref_time_ms", r->timed ? json_real(r->ref_time_s * 1e3) : json_null());
  json_object_set_new(c, "naive_time_ms", r->timed ? num_or_null(r->naive_time_s * 1e3) : json_null());
  json_object_set_new(c, "speedup_vs_ref", r->timed ? num_or_null(r->speedup_vs_ref) : json_null());
  json_object_set_new(c, "speedup_vs_naive", r->timed ? num_or_null(r->speedup_vs_naive) : json_null());
  json_object_set_new(c, "timing_rounds", json_integer(r->rounds));
  json_object_set_new(c, "timed_by_host_clock", json_boolean(r->outlived));
  json_object_set_new(c, "others_cpu_share", num_or_null(r->others_share));
  json_object_set_new(c, "flops", json_real(r->flops));
  json_object_set_new(c, "bytes", json_real(r->bytes));
  json_object_set_new(c, "gbps", r->timed ? num_or_null(r->gbps) : json_null());
  json_object_set_new(c, "gflops", r->timed ? num_or_null(r->gflops) : json_null());
  json_object_set_new(c, "arithmetic_intensity", num_or_null(r->bytes > 0 ? r->flops / r->bytes : NAN));
  json_object_set_new(c, "roofline_frac", r->timed ? num_or_null(r->roofline_frac) : json_null());
  json_object_set_new(c, "energy_j", r->timed ? num_or_null(r->energy_j) : json_null());
  json_object_set_new(c, "roof_gbps", r->timed ? num_or_null(r->roof_gbps) : json_null());
  /* which of machine.peaks the roof's compute rate is: a report draws that ceiling for the case */
  json_object_set_new(c, "compute_peak", r->timed && r->compute_peak ? json_string(r->compute_peak) : json_null());
  json_object_set_new(c, "impossible_speed", json_boolean(r->impossible_speed));
  json_object_set_new(c, "speed_note", json_string(r->speed_note));
  json_object_set_new(c, "timed_calls", json_integer(r->timed_calls));
  json_object_set_new(c, "timed_s", json_real(r->timed_s));
  json_object_set_new(c, "compared_calls", json_integer(r->compared));
}

static json_t *score_json(double points, double max) {
  json_t *score = json_object();
  json_object_set_new(score, "points", json_real(points));
  json_object_set_new(score, "max", json_real(max));
  return score;
}

static json_t *case_json(const em_case_result *r) {
  json_t *c = json_object();
  add_case_identity(c, r);
  add_case_close(c, r);
  add_case_timing(c, r);
  json_object_set_new(c, "score", score_json(r->points, r->max_points));
  return c;
}

/* The peaks the roof column is measured against; null for what this machine lacks. */
static json_t *peaks_json(const em_peaks *p) {
  json_t *peaks = json_object();
  json_object_set_new(peaks, "cpu_copy_gbps", num_or_null(p->cpu_copy_gbps));
  json_object_set_new(peaks, "cpu_fma_gflops", num_or_null(p->cpu_fma_gflops));
  json_object_set_new(peaks, "cpu_int8_gops", num_or_null(p->cpu_int8_gops));
  /* the share of the cores the CPU measurement got; null when the CPU numbers came from the cache */
  json_object_set_new(peaks, "cpu_share", p->cpu_share > 0 ? json_real(p->cpu_share) : json_null());
  json_object_set_new(peaks, "cpu_contended", json_boolean(p->cpu_contended));
  json_object_set_new(peaks, "cpu_unreliable", json_boolean(p->cpu_unreliable));
  json_object_set_new(peaks, "cpu_read_gbps", num_or_null(p->cpu_read_gbps));
  json_object_set_new(peaks, "cpu_write_gbps", num_or_null(p->cpu_write_gbps));
  json_object_set_new(peaks, "cpu_copy_plain_gbps", num_or_null(p->cpu_copy_plain_gbps));
  json_object_set_new(peaks, "cpu_copy_nt_gbps", num_or_null(p->cpu_copy_nt_gbps));
  json_object_set_new(peaks, "cpu_write_plain_gbps", num_or_null(p->cpu_write_plain_gbps));
  json_object_set_new(peaks, "cpu_write_nt_gbps", num_or_null(p->cpu_write_nt_gbps));
  json_object_set_new(peaks, "gpu_copy_gbps", p->have_gpu ? num_or_null(p->gpu_copy_gbps) : json_null());
  json_object_set_new(peaks, "gpu_read_gbps", p->have_gpu ? num_or_null(p->gpu_read_gbps) : json_null());
  json_object_set_new(peaks, "gpu_write_gbps", p->have_gpu ? num_or_null(p->gpu_write_gbps) : json_null());
  json_object_set_new(peaks, "gpu_fma_gflops", p->have_gpu ? num_or_null(p->gpu_fma_gflops) : json_null());
  json_object_set_new(peaks, "gpu_bf16_tc_gflops", p->have_gpu ? num_or_null(p->gpu_bf16_tc_gflops) : json_null());
  json_object_set_new(peaks, "gpu_int8_tc_gops", p->have_gpu ? num_or_null(p->gpu_int8_tc_gops) : json_null());
  return peaks;
}

static json_t *machine_json(const em_run_opts *o, const em_machine *m) {
  json_t *mach = json_object();
  json_object_set_new(mach, "cpu", json_string(m->cpu));
  json_object_set_new(mach, "threads", json_integer(m->threads));
  json_object_set_new(mach, "compiler", json_string(m->compiler));
  json_object_set_new(mach, "nvcc", m->nvcc[0] ? json_string(m->nvcc) : json_null());
  json_object_set_new(mach, "gpu", o->gpu_ok ? json_string(o->gpu.name) : json_null());
  if (!o->gpu_ok) json_object_set_new(mach, "gpu_unavailable", json_string(o->gpu_skip));
  json_object_set_new(mach, "peaks", o->sanitize ? json_null() : peaks_json(&o->peaks)); /* none measured */
  return mach;
}

/* Written beside path and renamed over it: a reader never sees half a file. */
static int dump_atomically(json_t *root, const char *path) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  int rc = json_dump_file(root, tmp, JSON_INDENT(2) | JSON_ENSURE_ASCII);
  if (rc != 0 || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(e));
  }
  return EM_OK;
}

int em_report_json(const char *path, const em_run *run, const em_run_opts *o, const em_machine *m,
                   const char *lab_label) {
  json_t *root = json_object(), *cases = json_array(), *tracks = json_array();
  unsigned seen = 0;
  double pts = 0, max = 0, timed_s = 0, load_s = 0, others_s = 0;
  json_int_t timed_calls = 0;
  int labnum = 0;
  const char *name = "";
  for (int i = 0; i < run->n; ++i) {
    const em_case_result *r = &run->results[i];
    if (!(seen & EM_TRACK_BIT(r->track))) json_array_append_new(tracks, json_string(track_names[r->track]));
    seen |= EM_TRACK_BIT(r->track);
    labnum = r->lab->number;
    name = r->lab->name;
    if (r->status != EM_SKIP) pts += r->points, max += r->max_points;
    timed_calls += r->timed_calls;
    timed_s += r->timed_s;
    if (isfinite(r->others_share)) load_s += r->load_s, others_s += r->others_share * r->load_s;
    json_array_append_new(cases, case_json(r));
  }
  json_object_set_new(root, "schema", json_string(EM_RESULTS_SCHEMA));
  json_object_set_new(root, "version", json_string(EM_VERSION));
  json_object_set_new(root, "lab", lab_label ? json_string(lab_label) : json_integer(labnum));
  json_object_set_new(root, "name", json_string(lab_label ? lab_label : name));
  /* "verify": the verdicts of em-check --verify (correctness alone, from --outputs files); "check":
   * a run of the code under test. */
  json_object_set_new(root, "mode", json_string(o->verify_dir ? "verify" : "check"));
  json_object_set_new(root, "solution", json_boolean(em_candidate_is_solution && !o->verify_dir));
  /* A run under a sanitizer (`make check SANITIZE=1`): untimed, and its buffers had no guard words. */
  json_object_set_new(root, "sanitize", json_boolean(o->sanitize));
  json_object_set_new(root, "tracks", tracks);
  json_object_set_new(root, "seed", json_integer((json_int_t)o->seed));
  json_object_set_new(root, "machine", machine_json(o, m));
  json_object_set_new(root, "cases", cases);
  json_t *timing = json_object();
  json_object_set_new(timing, "timed_calls", json_integer(timed_calls));
  json_object_set_new(timing, "timed_s", json_real(timed_s));
  /* Other programs' share of our CPUs while CPU cases were timed (weighted by time) and just
   * before the run: "busy" tells a reader (the grader) to trust the ratios, not the roof. */
  double others = load_s > 0 ? others_s / load_s : NAN;
  json_object_set_new(timing, "others_cpu_share", num_or_null(others));
  json_object_set_new(timing, "others_cpu_share_at_start", num_or_null(o->others_at_start));
  json_object_set_new(timing, "busy", json_boolean((others > EM_LOAD_BUSY_SHARE && load_s >= EM_LOAD_MIN_WINDOW_S) ||
                                                    o->others_at_start > EM_LOAD_BUSY_SHARE));
  json_object_set_new(root, "timing", timing);
  json_object_set_new(root, "score", score_json(pts, max));
  int rc = dump_atomically(root, path);
  json_decref(root);
  return rc;
}

/* ---- JUnit XML -------------------------------------------------------------------------------- */

static void xml_text(FILE *f, const char *s) {
  for (; *s; ++s) {
    switch (*s) {
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '&': fputs("&amp;", f); break;
      case '"': fputs("&quot;", f); break;
      default:
        if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t') fputc(*s, f);
    }
  }
}

int em_report_junit(const char *path, const em_run *run) {
  FILE *f = fopen(path, "w");
  if (!f) return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  int fails = 0, skips = 0;
  for (int i = 0; i < run->n; ++i) {
    fails += run->results[i].status == EM_FAIL || run->results[i].status == EM_ERROR;
    skips += run->results[i].status == EM_SKIP;
  }
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f, "<testsuites tests=\"%d\" failures=\"%d\" skipped=\"%d\">\n", run->n, fails, skips);
  for (int i = 0; i < run->n;) {
    /* One suite per lab and track. */
    int j = i;
    while (j < run->n && run->results[j].lab == run->results[i].lab && run->results[j].track == run->results[i].track) ++j;
    int sf = 0, ss = 0;
    for (int k = i; k < j; ++k) {
      sf += run->results[k].status == EM_FAIL || run->results[k].status == EM_ERROR;
      ss += run->results[k].status == EM_SKIP;
    }
    fprintf(f, "  <testsuite name=\"lab%d-%s.%s\" tests=\"%d\" failures=\"%d\" skipped=\"%d\">\n",
            run->results[i].lab->number, run->results[i].lab->name, track_names[run->results[i].track], j - i, sf, ss);
    for (int k = i; k < j; ++k) {
      const em_case_result *r = &run->results[k];
      fprintf(f, "    <testcase classname=\"lab%d.%s.%c\" name=\"", r->lab->number, track_names[r->track], r->c.part);
      xml_text(f, r->c.name);
      fprintf(f, "\" time=\"%.6f\">", r->timed ? r->time_s : 0.0);
      if (r->status == EM_FAIL || r->status == EM_ERROR) {
        fprintf(f, "<failure message=\"");
        xml_text(f, r->reason);
        fprintf(f, "\">");
        xml_text(f, r->hint);
        fprintf(f, "</failure>");
      } else if (r->status == EM_SKIP) {
        fprintf(f, "<skipped message=\"");
        xml_text(f, r->reason);
        fprintf(f, "\"/>");
      }
      fprintf(f, "</testcase>\n");
    }
    fprintf(f, "  </testsuite>\n");
    i = j;
  }
  fprintf(f, "</testsuites>\n");
  if (fclose(f) != 0) return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  return EM_OK;
}
