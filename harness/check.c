/* The checker: the same steps for every lab and track.
 *
 *   1. describe the tensors, allocate, fill the inputs from the case's random streams, run the
 *      float64 oracle;
 *   2. poison the outputs (EM_POISON_U32), hand the code fresh copies of the inputs, run it once;
 *   3. compare every output with the oracle, and every input with its pristine copy;
 *   4. if it passed: time it interleaved with the reference and the naive baseline, work out GB/s,
 *      GFLOP/s and the roofline fraction, and the energy per call where a counter exists (timing.c);
 *   5. after the timing, the anti-cache check: the inputs change in place and the code runs once
 *      more, its output judged again (anticache.c).
 *
 * --outputs DIR writes what steps 2 and 5 produced as .npy files (outputs.c), and em-check --verify
 * DIR (a separate process with no student code in it) judges those files against the oracle again:
 * the grader's own channel, which nothing the student's process prints or writes can forge.
 */
#include "checker_internal.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *em_status_name(em_status s) {
  static const char *const names[] = {"pass", "fail", "error", "skip"};
  return names[s];
}

#define EM__FAIL_NAME(kind, json, hidden) json,
#define EM__FAIL_SENTENCE(kind, json, hidden) hidden,
const char *em_fail_kind_name(em_fail_kind k) {
  static const char *const names[] = {EM_FAIL_KINDS(EM__FAIL_NAME)};
  return names[k];
}

const char *em_fail_kind_sentence(em_fail_kind k) {
  static const char *const sentences[] = {EM_FAIL_KINDS(EM__FAIL_SENTENCE)};
  return sentences[k];
}

const char *const em__track_names[EM_NTRACKS] = {"cpu", "cuda"};

void em_case_shape(const em_lab *lab, const em_case *c, char *buf, size_t len) {
  if (c->hidden) {
    snprintf(buf, len, "hidden");
    return;
  }
  size_t used = 0;
  buf[0] = 0;
  for (int d = 0; d < lab->ndims && used < len; ++d)
    used += (size_t)snprintf(buf + used, len - used, "%s%s=%lld", d ? " " : "", lab->dim_names[d],
                             (long long)c->dim[d]);
}

/* ---- crash and hang reports ------------------------------------------------------------------
 * Student code runs in this process. If it crashes or hangs, say which case and track it was on
 * before the process dies: the most useful sentence a student can get at that moment. */

static char running_what[384];
static volatile sig_atomic_t running_candidate;

static void write_str(const char *s) {
  ssize_t r = write(STDERR_FILENO, s, strlen(s));
  (void)r;
}

static void on_fatal_signal(int sig) {
  write_str("\n*** ");
  write_str(running_candidate ? "your code" : "the checker");
  write_str(sig == SIGALRM ? " did not finish in time" : " crashed");
  write_str(sig == SIGSEGV ? " (segmentation fault: a read or write outside its arrays)"
            : sig == SIGBUS ? " (bus error: a misaligned or unmapped access)"
            : sig == SIGFPE ? " (arithmetic exception)"
            : sig == SIGILL ? " (illegal instruction)" : "");
  write_str(" while running ");
  write_str(running_what);
  write_str(sig == SIGALRM ? ".\n*** An endless loop? Check the loop bounds. (--timeout sets the limit.)\n"
                           : ".\n*** Check the indices against n; `make check` with --case narrows it down.\n");
  _exit(1);
}

static void install_handlers(void) {
  static int done;
  if (done) return;
  done = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_RESETHAND;
#ifndef EM_SANITIZE
  /* In the AddressSanitizer build its own handler reports these, with the stack of the faulting
   * access (file and line); ours would replace it with a sentence. */
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
#endif
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
}

void em__watch(const em__ctx *x) {
  snprintf(running_what, sizeof running_what, "%s", x->what);
  running_candidate = 1;
  if (x->o->timeout_s > 0) alarm((unsigned)ceil(x->o->timeout_s));
}

void em__unwatch(void) {
  alarm(0);
  running_candidate = 0;
}

/* ---- buffers ---------------------------------------------------------------------------------- */

static void free_bufs(em__bufs *b) {
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    if (t->work != t->host) em_host_free(t->work);
    em_host_free(t->host);
    em_cuda_free(t->dev);
    em_host_free(t->want);
    em_host_free(t->want_i32);
    em_host_free(t->atol_each);
  }
  b->nt = 0;
}

static int alloc_bufs(const em_lab *lab, const em_case *c, em_track track, int64_t guard_words, em__bufs *b) {
  memset(b, 0, sizeof *b);
  b->guard_words = guard_words;
  b->nt = lab->describe(c, b->t);
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    t->numel = 1;
    for (int d = 0; d < t->ndim; ++d) t->numel *= t->shape[d];
    size_t bytes = em__data_bytes(t) + (size_t)guard_words * 4;
    if (!(t->host = em_host_alloc(bytes))) return EM_ENOMEM;
    if (t->is_output) {
      if (t->dtype == EM_I32 || t->dtype == EM_I8) { /* integers: compared exactly */
        if (!(t->want_i32 = (int32_t *)em_host_alloc((size_t)t->numel * sizeof(int32_t)))) return EM_ENOMEM;
      } else if (!(t->want = (double *)em_host_alloc((size_t)t->numel * sizeof(double)))) {
        return EM_ENOMEM;
      }
    }
    if (t->is_scalar) continue;
    if (track == EM_TRACK_CPU) {
      /* Outputs are checked where the code wrote them; inputs get a working copy so the pristine
       * host copy can tell whether the code wrote into its inputs. */
      if (t->is_output) t->work = t->host;
      else if (!(t->work = em_host_alloc(bytes))) return EM_ENOMEM;
    } else {
      int err = em_cuda_alloc(&t->dev, bytes);
      if (err != EM_OK) return err;
    }
  }
  return EM_OK;
}

static int fill_words(em_track track, void *p, int64_t words, uint32_t pattern) {
  if (track == EM_TRACK_CUDA) return em_cuda_fill_u32(p, words, pattern);
  em_fill_u32(p, words, pattern);
  return EM_OK;
}

int em__prepare(em_track track, em__bufs *b) {
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    if (t->is_scalar) continue;
    char *base = (char *)(track == EM_TRACK_CPU ? t->work : t->dev);
    int err = b->guard_words ? fill_words(track, base + em__data_bytes(t), b->guard_words, t->is_output ? EM__GUARD_U32 : 0)
                             : EM_OK;
    if (err != EM_OK) return err;
    if (t->is_output) err = fill_words(track, base, (int64_t)(em__data_bytes(t) / 4), em__poison_word(t->dtype));
    else if (track == EM_TRACK_CPU) memcpy(base, t->host, em__data_bytes(t));
    else err = em_cuda_copy_to_device(base, t->host, em__data_bytes(t));
    if (err != EM_OK) return err;
  }
  return EM_OK;
}

/* ---- verdicts --------------------------------------------------------------------------------- */

/* The verdict of a failure: its kind, its reason and what to do about it. */
static void fail(em_case_result *r, em_fail_kind *kind, em_fail_kind k, const char *reason, const char *hint) {
  r->status = EM_FAIL;
  *kind = k;
  snprintf(r->reason, sizeof r->reason, "%s", reason);
  snprintf(r->hint, sizeof r->hint, "%s", hint);
}

/* Inputs first: a kernel that wrote into its input may also have produced garbage outputs, and the
 * input message names the real mistake. */
static int judge_inputs(em_track track, em__bufs *b, em_case_result *r, em_fail_kind *kind) {
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    if (t->is_output || t->is_scalar) continue;
    size_t elem = em__dtype_size(t->dtype);
    const void *now = t->work;
    void *tmp = NULL;
    if (track == EM_TRACK_CUDA) {
      if (!(tmp = em_host_alloc((size_t)t->numel * elem))) return EM_ENOMEM;
      int err = em_cuda_copy_to_host(tmp, t->dev, (size_t)t->numel * elem);
      if (err != EM_OK) {
        em_host_free(tmp);
        return err;
      }
      now = tmp;
    }
    int64_t at = em_first_difference(t->host, now, t->numel, elem);
    if (at >= 0 && *kind == EM_FAIL_NONE) {
      char why[256];
      snprintf(why, sizeof why, "the code changed its input %s (first at [%lld]); inputs are read-only", t->name,
               (long long)at);
      fail(r, kind, EM_FAIL_INPUT_CHANGED, why, "write results only into the output; check which pointer each store goes to");
    }
    em_host_free(tmp);
  }
  return EM_OK;
}

static void fmt_value(char *buf, size_t len, double v, int poison) {
  if (poison) snprintf(buf, len, "never written");
  else snprintf(buf, len, "%.9g", v);
}

/* The verdict of an output that is not close: the first wrong element, how many, and a hint. */
static void mismatch_verdict(const em_tensor *all, int out, const em_close_report *rep, em_case_result *r,
                             em_fail_kind *kind) {
  const em_tensor *t = &all[out];
  r->status = EM_FAIL;
  *kind = EM_FAIL_WRONG;
  if (r->lab && r->lab->inputs_at && rep->first_index >= 0 && !r->c.hidden)
    r->lab->inputs_at(&r->c, all, out, rep->first_index, r->inputs, sizeof r->inputs);
  char got[48], want[48];
  int first_poison = rep->first_unwritten;
  fmt_value(got, sizeof got, rep->first_got, first_poison);
  if (first_poison && t->dtype == EM_I8) snprintf(got, sizeof got, "-128 (never written?)");
  fmt_value(want, sizeof want, rep->first_want, 0);
  int n = snprintf(r->reason, sizeof r->reason, "%lld of %lld elements of %s wrong; first at [%lld]: got %s, want %s",
                   (long long)rep->mismatches, (long long)rep->n, t->name, (long long)rep->first_index, got, want);
  if (t->ndim == 2) /* the flat index as the student's loops see it */
    n += snprintf(r->reason + n, sizeof r->reason - (size_t)n, " (row %lld, column %lld)",
                  (long long)(rep->first_index / t->shape[1]), (long long)(rep->first_index % t->shape[1]));
  if (!first_poison && isfinite(rep->first_got) && isfinite(rep->first_want))
    n += snprintf(r->reason + n, sizeof r->reason - (size_t)n, " (error %.3g, allowed %.3g)",
                  fabs(rep->first_got - rep->first_want), rep->first_tol);
  if (rep->unwritten > 0)
    snprintf(r->reason + n, sizeof r->reason - (size_t)n, "; %lld never written", (long long)rep->unwritten);
  r->same_cause = rep->unwritten > 0;
  if (rep->unwritten > 0 && t->dtype == EM_I8) {
    /* −128 is the int8 poison and also the one int8 outside the symmetric range: say both. */
    r->same_cause = 0;
    snprintf(r->hint, sizeof r->hint,
             "-128 is what the checker writes before the call (an element left as it was), and also the one int8 "
             "outside [-127, 127]: write every element, and clamp to -127, not -128");
  } else if (rep->unwritten == rep->n)
    snprintf(r->hint, sizeof r->hint, "no element of %s was written: is the function body empty, or the launch missing?", t->name);
  else if (rep->unwritten > 0 && rep->first_index > 0)
    snprintf(r->hint, sizeof r->hint,
             "the first elements were written, later ones not: check the loop bound or the grid size (every element needs a thread)");
  else if (rep->nonfinite > 0)
    snprintf(r->hint, sizeof r->hint, "%lld results are NaN or Inf where the exact value is finite", (long long)rep->nonfinite);
  else if (t->tol_why)
    snprintf(r->hint, sizeof r->hint, "the tolerance of %s: %s", t->name, t->tol_why);
}

/* One output: its guard words (a write past the end), then closeness; the output furthest off (or
 * the first failing one) is the one the result's numbers are about. */
static int judge_output(em_track track, em__bufs *b, int out, em_case_result *r, em_fail_kind *kind, double *worst) {
  em_tensor *all = b->t, *t = &all[out];
  if (track == EM_TRACK_CUDA) {
    int err = em_cuda_copy_to_host(t->host, t->dev, em__data_bytes(t) + (size_t)b->guard_words * 4);
    if (err != EM_OK) return err;
  }
  const uint32_t *guard = (const uint32_t *)((const char *)t->host + em__data_bytes(t));
  int64_t past = -1;
  for (int64_t g = b->guard_words - 1; g >= 0; --g)
    if (guard[g] != EM__GUARD_U32) past = g;
  if (past >= 0 && *kind == EM_FAIL_NONE) {
    char why[256];
    snprintf(why, sizeof why, "the code wrote past the end of %s (%lld elements; a write at [%lld])", t->name,
             (long long)t->numel, (long long)(t->numel + past));
    fail(r, kind, EM_FAIL_PAST_END, why, "guard every store with i < n (a loop bound of <= n, or a kernel without its if)");
  }
  em_close_report rep;
  int close = t->dtype == EM_I32  ? em_equal_i32((const int32_t *)t->host, t->want_i32, t->numel, &rep)
              : t->dtype == EM_I8 ? em_equal_i8((const int8_t *)t->host, t->want_i32, t->numel, &rep)
              : t->dtype == EM_BF16
                  ? em_allclose_bf16_each((const uint16_t *)t->host, t->want, t->atol_each, t->numel, t->rtol, t->atol, &rep)
                  : em_allclose_f32_each((const float *)t->host, t->want, t->atol_each, t->numel, t->rtol, t->atol, &rep);
  double score = close ? rep.worst_tol_ratio : 1e300 + (double)rep.mismatches;
  if (score > *worst || !r->have_close) {
    *worst = score;
    r->close = rep;
    r->output = t->name;
    r->have_close = 1;
  }
  if (!close && *kind == EM_FAIL_NONE) mismatch_verdict(all, out, &rep, r, kind);
  return EM_OK;
}

int em__judge(em_track track, em__bufs *b, em_case_result *r) {
  em_fail_kind kind = EM_FAIL_NONE;
  int err = judge_inputs(track, b, r, &kind);
  if (err != EM_OK) return err;
  double worst = -1.0;
  for (int i = 0; i < b->nt; ++i)
    if (b->t[i].is_output && (err = judge_output(track, b, i, r, &kind, &worst)) != EM_OK) return err;
  if (kind == EM_FAIL_NONE) r->status = EM_PASS;
  else r->kind = r->close.unwritten ? EM_FAIL_UNWRITTEN : kind; /* EM_FAIL_KINDS says why */
  return EM_OK;
}

void em__env_fail(em_run *run, em_case_result *r, int err, const char *doing) {
  r->status = EM_ERROR;
  r->kind = EM_FAIL_CHECKER;
  snprintf(r->reason, sizeof r->reason, "%s: %s%s%s", doing, em_strerror(err),
           *em_error_detail() ? " — " : "", em_error_detail());
  if (!run->env_error) {
    run->env_error = 1;
    snprintf(run->env_message, sizeof run->env_message, "%s", r->reason);
  }
}

/* A hidden case must not reveal its shape, not even through a failure's counts and indices: keep
 * what kind of failure it was, drop the numbers. */
static void redact(em_case_result *r) {
  snprintf(r->reason, sizeof r->reason, "hidden case: %s (details withheld)", em_fail_kind_sentence(r->kind));
  if (!r->todo_hint) r->hint[0] = 0;
  r->have_close = 0;
  memset(&r->close, 0, sizeof r->close);
}

static int cuda_context_broken;

void em__probe_cuda_context(em_track track) {
  if (track == EM_TRACK_CUDA && em_cuda_sync() != EM_OK) cuda_context_broken = 1;
}

/* ---- one case --------------------------------------------------------------------------------- */

/* The fields of a result every case has, whether it runs or not. */
static void begin_result(const em_lab *lab, const em_case *c, em_track track, double max_points, em_case_result *r) {
  r->lab = lab;
  r->c = *c;
  r->track = track;
  r->energy_j = NAN;
  r->others_share = NAN;
  r->max_points = max_points;
  r->flops = lab->flops(c);
  r->bytes = lab->bytes(c);
  em_case_shape(lab, c, r->shape, sizeof r->shape);
}

static const em_part *find_part(const em_lab *lab, char id) {
  const em_part *part = NULL;
  for (int p = 0; p < lab->nparts; ++p)
    if (lab->parts[p].id == id) part = &lab->parts[p];
  return part;
}

/* A result that is decided before anything runs. */
static void decided(em_case_result *r, em_status status, em_fail_kind kind) {
  r->status = status;
  r->kind = kind;
}

/* Why case c cannot run on this track: no GPU, a GPU left unusable, a part the lab lacks, a
 * function the student has not defined, or, for alternative alt of the library, a machine that
 * cannot run it. 1 with the result filled in; 0 with the code to call. */
static int cannot_run(const em_lab *lab, const em_case *c, em_track track, const em_run_opts *o, em_case_result *r,
                      const em_alternative *alt, em_fn *fn) {
  if (track == EM_TRACK_CUDA && !o->gpu_ok) {
    decided(r, EM_SKIP, EM_FAIL_SKIPPED);
    snprintf(r->reason, sizeof r->reason, "%s", o->gpu_skip);
    return 1;
  }
  if (track == EM_TRACK_CUDA && cuda_context_broken) {
    decided(r, EM_SKIP, EM_FAIL_AFTER_CUDA_ERROR);
    snprintf(r->reason, sizeof r->reason,
             "not run: an earlier CUDA error left the GPU unusable in this process; fix that one first");
    return 1;
  }
  const em_part *part = find_part(lab, c->part);
  if (!part) {
    decided(r, EM_ERROR, EM_FAIL_BAD_CASE);
    snprintf(r->reason, sizeof r->reason, "case names part '%c', which lab %d does not have", c->part, lab->number);
    return 1;
  }
  if (alt) {  /* never NULL on this track: em_check_lab picks those that have one */
    const char *why = alt->unavailable ? alt->unavailable(track) : NULL;
    *fn = alt->fn[track];
    if (!why) return 0;
    decided(r, EM_SKIP, EM_FAIL_SKIPPED);
    snprintf(r->reason, sizeof r->reason, "%s", why);
    return 1;
  }
  *fn = em_candidate_is_solution ? part->reference[track] : part->student[track];
  if (*fn) return 0;
  decided(r, EM_FAIL, EM_FAIL_MISSING);
  snprintf(r->reason, sizeof r->reason, "%s is not defined in labs/%s/%s", part->student_name[track], lab->folder,
           lab->student_file[track]);
  snprintf(r->hint, sizeof r->hint, "define it there with exactly this name and the signature in include/em/%s.h", lab->name);
  return 1;
}

/* Step 1 (and what a verification starts from): the case's buffers, its inputs from the seed and
 * its float64 answer. 0 (with the result filled in, nothing left allocated) when the buffers cannot
 * be had. */
static int start_case(em__ctx *x) {
  int err = alloc_bufs(x->lab, x->c, x->track, em__guard_words(x->o), &x->b);
  if (err != EM_OK) {
    em__env_fail(x->run, x->r, err, "allocating the case's buffers");
    free_bufs(&x->b);
    return 0;
  }
  x->case_id = em_rng_name_id(x->c->name) ^ ((uint32_t)(unsigned char)x->c->part << 24);
  x->lab->fill(x->c, x->o->seed, x->case_id, x->b.t);
  x->lab->oracle(x->c, x->b.t);
  return 1;
}

/* The code under test raised an error on its first call: the verdict, and for the usual CUDA
 * errors what they mean. */
static void first_call_error(em__ctx *x, int err) {
  em_case_result *r = x->r;
  decided(r, EM_ERROR, EM_FAIL_ERROR);
  snprintf(r->reason, sizeof r->reason, "%s", *em_error_detail() ? em_error_detail() : em_strerror(err));
  em__probe_cuda_context(x->track);
  if (strstr(r->reason, "illegal memory access") || strstr(r->reason, "out of bounds"))
    snprintf(r->hint, sizeof r->hint, "a thread read or wrote outside its array: guard every access with i < n");
  else if (strstr(r->reason, "misaligned address"))
    snprintf(r->hint, sizeof r->hint, "float4 (16-byte) accesses need 16-byte aligned addresses: row i of an m x n "
             "matrix starts at element i*n, aligned only when n %% 4 == 0");
  else if (strstr(r->reason, "invalid configuration") || strstr(r->reason, "invalid argument"))
    snprintf(r->hint, sizeof r->hint, "check the launch: at most 1024 threads per block and at least one block");
}

/* Steps 2 and 3: the first call, with the TODO marker cleared before it and read after, judged,
 * dumped and written to --outputs. 1 when it passed and the timing comes next; *digest: what it
 * wrote, before the timed calls (the reference's among them, on the CPU track into the same
 * buffers) overwrite it: a stale later output is this one. */
static int checked_call(em__ctx *x, uint64_t *digest) {
  em_case_result *r = x->r;
  int err = em__prepare(x->track, &x->b);
  if (err != EM_OK) {
    em__env_fail(x->run, r, err, "preparing inputs");
    return 0;
  }
  em_todo_reset();
  em__watch(x);
  err = x->lab->invoke(&x->call);
  if (err == EM_OK && x->track == EM_TRACK_CUDA) err = em_cuda_check_launch(x->part->student_name[x->track]);
  em__unwatch();
  const char *todo_file, *todo_what;
  int todo_line;
  int todo = em_todo_reached(&todo_file, &todo_line, &todo_what);
  if (err != EM_OK) {
    first_call_error(x, err);
    return 0;
  }
  if ((err = em__judge(x->track, &x->b, r)) != EM_OK) {
    em__env_fail(x->run, r, err, "reading the results back");
    return 0;
  }
  if (todo && r->status != EM_PASS) {
    snprintf(r->hint, sizeof r->hint, "%s:%d: TODO not done yet: %s", todo_file, todo_line, todo_what);
    r->same_cause = 1;
    r->todo_hint = 1;
  }
  if (x->o->dump_dir && (err = em__dump_case(x, x->run)) != EM_OK) {
    em__env_fail(x->run, r, err, "writing --dump");
    return 0;
  }
  *digest = em__outputs_digest(&x->b);
  if (x->o->outputs_dir && (err = em__write_outputs(x, EM__VARIANT_MAIN)) != EM_OK) {
    em__env_fail(x->run, r, err, "writing --outputs");
    return 0;
  }
  return r->status == EM_PASS;
}

/* Case c through the candidate, or, with alt, through that alternative of the reference library
 * (checked and timed the same way, worth no points). */
static void run_case(const em_lab *lab, const em_case *c, em_track track, const em_run_opts *o, em_run *run,
                     em_case_result *r, const em_alternative *alt) {
  begin_result(lab, c, track, alt ? 0.0 : c->points + c->perf_points, r);
  em_fn candidate;
  if (alt) {
    /* Its own name everywhere a case is named (table, JSON, JUnit); its inputs are the case's. */
    r->alternative = alt->label;
    snprintf(r->c.name, sizeof r->c.name, "%s via %s", c->name, alt->label);
  }
  if (cannot_run(lab, c, track, o, r, alt, &candidate)) return;
  em__ctx x = {.lab = lab, .part = find_part(lab, c->part), .c = c, .track = track, .o = o, .run = run, .r = r};
  if (!start_case(&x)) return;
  x.call = (em_call){.lab = lab, .c = c, .track = track, .impl = EM_IMPL_CANDIDATE,
                     .student_code = !alt && !em_candidate_is_solution, .fn = candidate, .t = x.b.t, .nt = x.b.nt};
  char who[96];
  if (alt) snprintf(who, sizeof who, "the reference library's %s alternative", alt->label);
  snprintf(x.what, sizeof x.what, "lab %d part (%c) case \"%s\" [%s] on the %s track (%s)", lab->number, c->part,
           c->name, r->shape, em__track_names[track],
           alt ? who : em_candidate_is_solution ? "reference solution" : x.part->student_name[track]);
  uint64_t first_digest = 0;
  if (checked_call(&x, &first_digest)) {
    r->points = alt ? 0.0 : c->points;
    /* After reused work found while timing the anti-cache calls still run: their output files let
     * --verify find the same from the files alone. */
    if (o->timing && em__time_case(&x)) em__anti_cache(&x, first_digest);
  }
  free_bufs(&x.b);
  if (c->hidden && r->status != EM_PASS && r->status != EM_SKIP) redact(r);
}

/* ---- --verify ----------------------------------------------------------------------------------- */

/* One call's outputs as the other process wrote them, judged (into vr for the anti-cache calls).
 * 1 when it passed; 0 with the verdict in the case's result, or an environment error. */
static int verify_variant(em__ctx *x, int v, uint64_t *before) {
  em_case_result *r = x->r;
  if (v != EM__VARIANT_MAIN) {
    if (!em__vary_inputs(x, v)) return 1;
    em__rerun_oracle(x);
  }
  /* Inputs into the working copies (judge compares them with the pristine ones: here always the
   * same), outputs poisoned, so whatever the file lacks cannot come from an earlier call. */
  int err = em__prepare(EM_TRACK_CPU, &x->b);
  if (err != EM_OK) {
    em__env_fail(x->run, r, err, "preparing the buffers");
    return 0;
  }
  char why[600];
  if (!em__read_outputs(x, x->o->verify_dir, r->track, v, why, sizeof why)) {
    decided(r, EM_FAIL, EM_FAIL_OUTPUT_FILE);
    snprintf(r->reason, sizeof r->reason, "%s", why);
    snprintf(r->hint, sizeof r->hint, "the outputs of the checked run (em-check --outputs) must all be there, as written");
    return 0;
  }
  em_case_result vr;
  em__side_result(&vr, x->lab, x->c);
  if ((err = em__judge(EM_TRACK_CPU, &x->b, v == EM__VARIANT_MAIN ? r : &vr)) != EM_OK) {
    em__env_fail(x->run, r, err, "judging the outputs");
    return 0;
  }
  uint64_t now = em__outputs_digest(&x->b);
  if (v == EM__VARIANT_MAIN && r->status != EM_PASS) return 0;
  if (v != EM__VARIANT_MAIN && vr.status != EM_PASS) {
    em__anti_cache_verdict(r, &vr, now == *before || em__outputs_untouched(&x->b));
    return 0;
  }
  *before = now;
  return 1;
}

/* The case's outputs as another process wrote them (--outputs), judged against the oracle with the
 * same comparison and tolerances as a run; no code under test is called. The buffers are host
 * buffers whatever the track (the oracle runs on the host). The anti-cache outputs are required
 * exactly where the run makes them: timing on and the first call passed. */
static void verify_case(const em_lab *lab, const em_case *c, em_track track, const em_run_opts *o, em_run *run,
                        em_case_result *r) {
  begin_result(lab, c, track, c->points /* correctness alone: performance is not verified here */, r);
  if (!find_part(lab, c->part)) {
    decided(r, EM_ERROR, EM_FAIL_BAD_CASE);
    snprintf(r->reason, sizeof r->reason, "case names part '%c', which lab %d does not have", c->part, lab->number);
    return;
  }
  em__ctx x = {.lab = lab, .c = c, .track = EM_TRACK_CPU, .o = o, .run = run, .r = r};
  if (!start_case(&x)) return;
  uint64_t before = 0;
  int passed = 1;
  for (int v = EM__VARIANT_MAIN; passed && v < (o->timing ? EM__NVARIANTS : 1); ++v) passed = verify_variant(&x, v, &before);
  if (passed) r->points = c->points;
  free_bufs(&x.b);
  if (c->hidden && r->status != EM_PASS && r->status != EM_SKIP) redact(r);
}

/* ---- a lab ------------------------------------------------------------------------------------- */

int em_case_is_small(const em_lab *lab, const em_case *c) {
  return !(c->perf_points > 0) && lab->bytes(c) <= EM_SMALL_CASE_BYTES;
}

/* The alternatives em-check --alternatives times after speed case c on track: how many, and the
 * i-th of them. */
static int nalternatives(const em_lab *lab, const em_case *c, int track, const em_run_opts *o) {
  int n = 0;
  if (!o->alternatives || !o->timing || o->verify_dir || !(c->perf_points > 0)) return 0;
  for (int i = 0; i < lab->nalternatives; ++i)
    n += lab->alternatives[i].part == c->part && lab->alternatives[i].fn[track] != NULL;
  return n;
}

static const em_alternative *nth_alternative(const em_lab *lab, const em_case *c, int track, int k) {
  for (int i = 0; i < lab->nalternatives; ++i)
    if (lab->alternatives[i].part == c->part && lab->alternatives[i].fn[track] != NULL && k-- == 0)
      return &lab->alternatives[i];
  return NULL;
}

/* Whether case c runs on this track and passes the filters. */
static int selected(const em_lab *lab, const em_case *c, int track, const em_run_opts *o) {
  if (c->tracks && !(c->tracks & EM_TRACK_BIT(track))) return 0;
  if (o->part && c->part != o->part) return 0;
  if (o->perf_only && !(c->perf_points > 0)) return 0;
  if (o->small_only && !em_case_is_small(lab, c)) return 0;
  if (!o->case_filter) return 1;
  /* "=name" selects exactly that case, where a plain substring would also take "name t=32769". */
  if (o->case_filter[0] == '=') return strcmp(c->name, o->case_filter + 1) == 0;
  return strstr(c->name, o->case_filter) != NULL;
}

/* The lab's own cases, then the instructor's (none with --hidden-only). */
static const em_case *nth_case(const em_lab *lab, const em_run_opts *o, int i) {
  int nlab = o->hidden_only ? 0 : lab->ncases;
  return i < nlab ? &lab->cases[i] : &o->extra[i - nlab];
}

static int ncases(const em_lab *lab, const em_run_opts *o) { return (o->hidden_only ? 0 : lab->ncases) + o->nextra; }

/* A new, zeroed result at the end of run; NULL (the run's error set) when memory runs out. */
static em_case_result *next_result(em_run *run) {
  if (run->n == run->cap) {
    int cap = run->cap ? run->cap * 2 : 64;
    em_case_result *grown = (em_case_result *)realloc(run->results, (size_t)cap * sizeof *grown);
    if (!grown) {
      run->env_error = 1;
      snprintf(run->env_message, sizeof run->env_message, "out of memory for results");
      return NULL;
    }
    run->results = grown;
    run->cap = cap;
  }
  em_case_result *r = &run->results[run->n++];
  memset(r, 0, sizeof *r);
  return r;
}

void em_check_lab(const em_lab *lab, const em_run_opts *o, em_run *run, const em_progress *progress) {
  install_handlers();
  for (int track = 0; track < EM_NTRACKS; ++track) {
    if (!(o->tracks & EM_TRACK_BIT(track))) continue;
    cuda_context_broken = 0;
    /* --verify needs no GPU: the oracle and the comparison run on the host. */
    const char *skip = track == EM_TRACK_CUDA && !o->gpu_ok && !o->verify_dir ? o->gpu_skip : NULL;
    int count = 0;
    for (int i = 0; i < ncases(lab, o); ++i) {
      const em_case *c = nth_case(lab, o, i);
      if (selected(lab, c, track, o)) count += 1 + (skip ? 0 : nalternatives(lab, c, track, o));
    }
    if (progress) progress->track_begin(progress->ctx, lab, (em_track)track, skip, count);
    int from = run->n, k = 0;
    for (int i = 0; i < ncases(lab, o); ++i) {
      const em_case *c = nth_case(lab, o, i);
      if (!selected(lab, c, track, o)) continue;
      const int nalt = skip ? 0 : nalternatives(lab, c, track, o);
      for (int a = -1; a < nalt; ++a) {
        const em_alternative *alt = a < 0 ? NULL : nth_alternative(lab, c, track, a);
        em_case_result *r = next_result(run);
        if (!r) return;
        ++k;
        if (progress && !skip && progress->case_begin)
          progress->case_begin(progress->ctx, lab, c, (em_track)track, k, count);
        /* Which case the sanitizer's next finding belongs to (scripts/sanitize.py reads these): the
         * tool prints on its own, in the middle of a case, knowing nothing of cases. */
        if (o->sanitize && !skip && !o->verify_dir)
          fprintf(stderr, "[sanitize] lab %d case (%c) \"%s\" on %s\n", lab->number, c->part, c->name,
                  em__track_names[track]);
        if (o->verify_dir) verify_case(lab, c, (em_track)track, o, run, r);
        else run_case(lab, c, (em_track)track, o, run, r, alt);
        if (progress && !skip) progress->case_done(progress->ctx, run, run->n - 1);
      }
    }
    if (progress) progress->track_end(progress->ctx, run, from, run->n);
    if (track == EM_TRACK_CUDA && o->gpu_ok) em_cuda_release_scratch();
  }
}
