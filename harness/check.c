/* The checker: the same steps for every lab and track.
 *
 *   1. describe the tensors, allocate, fill the inputs from the case's random streams, run the
 *      float64 oracle;
 *   2. poison the outputs (EM_POISON_U32), hand the code fresh copies of the inputs, run it once;
 *   3. compare every output with the oracle, and every input with its pristine copy;
 *   4. if it passed: time it interleaved with the reference and the naive baseline, work out GB/s,
 *      GFLOP/s and the roofline fraction, and the energy per call where a counter exists;
 *   5. after the timing, the anti-cache check: the inputs are refilled in place (same pointers) from
 *      another stream, then two rows of one input swapped, and each time the code runs once more
 *      and its output is judged again. Code that caches its results between calls (keyed on the
 *      pointers, the size or a few sampled elements) looks fast in step 4 and fails here.
 *
 * --outputs DIR writes what steps 2 and 5 produced as .npy files, and em-check --verify DIR (a
 * separate process with no student code in it) judges those files against the oracle again: the
 * grader's own channel, which nothing the student's process prints or writes can forge.
 */
#include "checker.h"
#include "fresh.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *em_status_name(em_status s) {
  static const char *const names[] = {"pass", "fail", "error", "skip"};
  return names[s];
}

static const char *const track_names[] = {"cpu", "cuda"};

static size_t dtype_size(em_dtype d) { return d == EM_I8 ? 1 : 4; }

/* Every tensor is followed by a guard of 1024 words. After an output, guard words that must survive
 * the run: a write past the end (i <= n, a kernel without its `if (i < n)`, up to 1023 threads
 * beyond) lands there and is reported instead of silently corrupting memory. After an input, zeros,
 * so that a read past the end gets 0.0 every time rather than whatever the allocator left there
 * (possibly a guard word, which would hide the stray write it feeds). */
#define GUARD_WORDS 1024
#define GUARD_BYTES (GUARD_WORDS * 4)
/* Not the output poison: a stray write of a value read from poisoned memory (NaN + c keeps the
 * NaN's payload) would leave the poison in place and go unseen. */
#define GUARD_U32 0x7FDEAD11u

static size_t data_bytes(const em_tensor *t) {
  return ((size_t)t->numel * dtype_size(t->dtype) + 3) / 4 * 4;  /* whole words, then the guard */
}

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
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
}

static void watch(const em_run_opts *o, int candidate, const char *what) {
  snprintf(running_what, sizeof running_what, "%s", what);
  running_candidate = candidate;
  if (o->timeout_s > 0) alarm((unsigned)ceil(o->timeout_s));
}

static void unwatch(void) {
  alarm(0);
  running_candidate = 0;
}

/* ---- buffers ---------------------------------------------------------------------------------- */

typedef struct bufs {
  em_tensor t[EM_MAX_TENSORS];
  int nt;
} bufs;

static void free_bufs(bufs *b) {
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

static int alloc_bufs(const em_lab *lab, const em_case *c, em_track track, bufs *b) {
  memset(b, 0, sizeof *b);
  b->nt = lab->describe(c, b->t);
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    t->numel = 1;
    for (int d = 0; d < t->ndim; ++d) t->numel *= t->shape[d];
    size_t bytes = data_bytes(t) + GUARD_BYTES;
    if (!(t->host = em_host_alloc(bytes))) return EM_ENOMEM;
    if (t->is_output) {
      if (t->dtype == EM_I32) {
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

/* Fresh inputs, poisoned outputs and their guards before a checked run. */
static int prepare(em_track track, bufs *b) {
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    if (t->is_scalar) continue;
    char *base = (char *)(track == EM_TRACK_CPU ? t->work : t->dev);
    int err = fill_words(track, base + data_bytes(t), GUARD_WORDS, t->is_output ? GUARD_U32 : 0);
    if (err != EM_OK) return err;
    if (t->is_output) err = fill_words(track, base, (int64_t)(data_bytes(t) / 4), EM_POISON_U32);
    else if (track == EM_TRACK_CPU) memcpy(base, t->host, data_bytes(t));
    else err = em_cuda_copy_to_device(base, t->host, data_bytes(t));
    if (err != EM_OK) return err;
  }
  return EM_OK;
}

/* ---- verdicts --------------------------------------------------------------------------------- */

static void fmt_value(char *buf, size_t len, double v, int poison) {
  if (poison) snprintf(buf, len, "never written");
  else snprintf(buf, len, "%.9g", v);
}

/* Compares outputs and inputs after a checked run; fills the verdict. Returns EM_OK, or an
 * environment error (copying back from the GPU failed). */
static int judge(const em_lab *lab, em_track track, bufs *b, em_case_result *r) {
  int ok = 1;
  /* Inputs first: a kernel that wrote into its input may also have produced garbage outputs,
   * and the input message names the real mistake. */
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    if (t->is_output || t->is_scalar) continue;
    size_t elem = dtype_size(t->dtype);
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
    if (at >= 0 && ok) {
      ok = 0;
      r->status = EM_FAIL;
      snprintf(r->reason, sizeof r->reason,
               "the code changed its input %s (first at [%lld]); inputs are read-only", t->name,
               (long long)at);
      snprintf(r->hint, sizeof r->hint,
               "write results only into the output; check which pointer each store goes to");
    }
    em_host_free(tmp);
  }

  double worst = -1.0;
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    if (!t->is_output) continue;
    size_t bytes = data_bytes(t) + GUARD_BYTES;
    if (track == EM_TRACK_CUDA) {
      int err = em_cuda_copy_to_host(t->host, t->dev, bytes);
      if (err != EM_OK) return err;
    }
    const uint32_t *guard = (const uint32_t *)((const char *)t->host + data_bytes(t));
    int64_t past = -1;
    for (int64_t g = GUARD_WORDS - 1; g >= 0; --g)
      if (guard[g] != GUARD_U32) past = g;
    if (past >= 0 && ok) {
      ok = 0;
      r->status = EM_FAIL;
      snprintf(r->reason, sizeof r->reason, "the code wrote past the end of %s (%lld elements; a write at [%lld])",
               t->name, (long long)t->numel, (long long)(t->numel + past));
      snprintf(r->hint, sizeof r->hint, "guard every store with i < n (a loop bound of <= n, or a kernel without its if)");
    }
    em_close_report rep;
    int close = t->dtype == EM_I32
                    ? em_equal_i32((const int32_t *)t->host, t->want_i32, t->numel, &rep)
                    : em_allclose_f32_each((const float *)t->host, t->want, t->atol_each, t->numel, t->rtol,
                                           t->atol, &rep);
    /* Report the output that is furthest off (or the first failing one). */
    double score = close ? rep.worst_tol_ratio : 1e300 + (double)rep.mismatches;
    if (score > worst || !r->have_close) {
      worst = score;
      r->close = rep;
      r->output = t->name;
      r->have_close = 1;
    }
    if (!close && ok) {
      ok = 0;
      r->status = EM_FAIL;
      char got[48], want[48];
      int first_poison = rep.first_unwritten;
      fmt_value(got, sizeof got, rep.first_got, first_poison);
      fmt_value(want, sizeof want, rep.first_want, 0);
      int n = snprintf(r->reason, sizeof r->reason,
                       "%lld of %lld elements of %s wrong; first at [%lld]: got %s, want %s",
                       (long long)rep.mismatches, (long long)rep.n, t->name,
                       (long long)rep.first_index, got, want);
      if (t->ndim == 2) /* the flat index as the student's loops see it */
        n += snprintf(r->reason + n, sizeof r->reason - (size_t)n, " (row %lld, column %lld)",
                      (long long)(rep.first_index / t->shape[1]), (long long)(rep.first_index % t->shape[1]));
      if (!first_poison && isfinite(rep.first_got) && isfinite(rep.first_want))
        n += snprintf(r->reason + n, sizeof r->reason - (size_t)n, " (error %.3g, allowed %.3g)",
                      fabs(rep.first_got - rep.first_want),
                      rep.first_tol);
      if (rep.unwritten > 0)
        snprintf(r->reason + n, sizeof r->reason - (size_t)n, "; %lld never written",
                 (long long)rep.unwritten);
      r->same_cause = rep.unwritten > 0;
      if (rep.unwritten == rep.n)
        snprintf(r->hint, sizeof r->hint, "no element of %s was written: is the function body empty, or the launch missing?", t->name);
      else if (rep.unwritten > 0 && rep.first_index > 0)
        snprintf(r->hint, sizeof r->hint,
                 "the first elements were written, later ones not: check the loop bound or the grid size (every element needs a thread)");
      else if (rep.nonfinite > 0)
        snprintf(r->hint, sizeof r->hint, "%lld results are NaN or Inf where the exact value is finite",
                 (long long)rep.nonfinite);
      else if (t->tol_why)
        snprintf(r->hint, sizeof r->hint, "the tolerance of %s: %s", t->name, t->tol_why);
    }
  }
  (void)lab;
  if (ok) r->status = EM_PASS;
  return EM_OK;
}

/* ---- timing ----------------------------------------------------------------------------------- */

static int run_call(void *arg) {
  em_call *k = (em_call *)arg;
  return k->lab->invoke(k);
}

/* One implementation under the interleaved timer: the call, the fresh inputs every call gets
 * (fresh.h), and for the code under test the reference call its output is compared with. */
typedef struct timed {
  em_call *call;
  em_fresh *fresh;
  const em_call *ref; /* set for the code under test alone */
  int runs, outlived;
  double seconds;     /* every call through the timer, warm-up included: what the grader adds up */
} timed;

static int before_timed(timed *t) {
  int err = em_fresh_vary(t->fresh);
  if (err == EM_OK && t->ref) err = em_fresh_poison(t->fresh);
  return err;
}

static int after_timed(timed *t, double s, int err) {
  t->runs++;
  t->seconds += s;
  return err == EM_OK && t->ref ? em_fresh_check(t->fresh, t->ref) : err;
}

static int time_cpu(void *arg, double *s) {
  timed *t = (timed *)arg;
  int err = before_timed(t);
  if (err != EM_OK) return err;
  double t0 = em_now_s();
  err = run_call(t->call);
  *s = em_now_s() - t0;
  return after_timed(t, *s, err);
}

static int time_cuda(void *arg, double *s) {
  timed *t = (timed *)arg;
  int outlived = 0;
  int err = before_timed(t);
  if (err != EM_OK) return err;
  err = em_cuda_time_run(run_call, t->call, 1, s, &outlived);
  t->outlived += outlived;
  return after_timed(t, *s, err);
}

/* Energy per call: repeat the candidate for a while between two counter reads. The counters tick
 * every few milliseconds, so a window of 0.2 s keeps their granularity under a few percent. */
static double energy_per_call(const em_run_opts *o, em_track track, em_call *k, em_fresh *fresh) {
  em_energy_meter *m = o->meter[track];
  if (!m) return NAN;
  double e0, e1;
  if (em_energy_read(m, &e0) != EM_OK) return NAN;
  double t0 = em_now_s();
  long calls = 0;
  do {
    if (em_fresh_vary(fresh) != EM_OK || run_call(k) != EM_OK) return NAN;
    if (track == EM_TRACK_CUDA && em_cuda_sync() != EM_OK) return NAN;
    calls++;
  } while (em_now_s() - t0 < 0.2 || calls < 3);
  if (em_energy_read(m, &e1) != EM_OK) return NAN;
  return (e1 - e0) / (double)calls;
}

/* ---- the anti-cache inputs ---------------------------------------------------------------------
 * Shared by the run (which calls the code on them) and --verify (which recomputes what the code
 * should have produced): both derive them from the seed alone, in the same order. */

enum { VARIANT_MAIN = 0, VARIANT_REFILL = 1, VARIANT_SWAP = 2, NVARIANTS = 3 };
/* The part of an --outputs file name that says which call wrote it. */
static const char *const variant_suffix[NVARIANTS] = {"", ".refill", ".swap"};

/* Stream names of the anti-cache inputs: mixed into the case id, so the refill draws from streams
 * no case of the run uses for its first call (same value distribution, other values). */
#define REFILL_STREAM 0x9E3779B9u
#define SWAP_STREAM 0x85EBCA6Bu

/* Turns the inputs' host buffers into those of the variant: REFILL fills every input from other
 * streams; SWAP (applied after REFILL) exchanges two rows (along the first axis; two elements when
 * the tensor has one row) of the largest input, so every row stays a valid row of the case and
 * only a few elements move: a cache keyed on a few sampled elements does not see the change.
 * Returns 0 when the variant does not apply (no input with two rows or elements to swap). */
static int vary_inputs(const em_lab *lab, const em_case *c, uint64_t seed, uint32_t case_id, int variant,
                       em_tensor *t, int nt) {
  if (variant == VARIANT_REFILL) {
    lab->fill(c, seed, case_id ^ REFILL_STREAM, t);
    return 1;
  }
  em_tensor *big = NULL;
  for (int i = 0; i < nt; ++i)
    if (!t[i].is_output && !t[i].is_scalar && (!big || t[i].numel > big->numel)) big = &t[i];
  if (!big || big->numel < 2) return 0;
  int64_t rows = big->ndim >= 1 && big->shape[0] >= 2 ? big->shape[0] : big->numel;
  size_t slab = (size_t)(big->numel / rows) * dtype_size(big->dtype);
  em_rng_key key = {seed, case_id ^ SWAP_STREAM, 0};
  int64_t r = (int64_t)(em_rng_u32(key, 0) % (uint64_t)rows);
  int64_t s = (r + 1 + (int64_t)(em_rng_u32(key, 1) % (uint64_t)(rows - 1))) % rows;
  unsigned char *a = (unsigned char *)big->host + (size_t)r * slab, *b = (unsigned char *)big->host + (size_t)s * slab;
  for (size_t i = 0; i < slab; ++i) {
    unsigned char tmp = a[i];
    a[i] = b[i];
    b[i] = tmp;
  }
  return 1;
}

/* The oracle again, for changed inputs: it allocates the per-element tolerances afresh. */
static void rerun_oracle(const em_lab *lab, const em_case *c, em_tensor *t, int nt) {
  for (int i = 0; i < nt; ++i) {
    em_host_free(t[i].atol_each);
    t[i].atol_each = NULL;
  }
  lab->oracle(c, t);
}

/* A digest of the outputs' host buffers, to tell "the same output as the call before" (stale)
 * from "another wrong output". Not cryptographic: equal digests only ever name a result that is
 * wrong anyway, so a forged collision gains nothing. */
static uint64_t outputs_digest(const em_tensor *t, int nt) {
  uint64_t h = 0xcbf29ce484222325u;
  for (int i = 0; i < nt; ++i) {
    if (!t[i].is_output) continue;
    const uint32_t *w = (const uint32_t *)t[i].host;
    int64_t words = (int64_t)(data_bytes(&t[i]) / 4);
    for (int64_t k = 0; k < words; ++k) h = (h ^ w[k]) * 0x100000001b3u;
    h = (h ^ (uint64_t)i) * 0x100000001b3u;
  }
  return h;
}

/* Whether the call wrote no output element at all (all poison still): after a call that did, the
 * mark of code that skips its work when it thinks it has seen the inputs before. */
static int outputs_untouched(const em_tensor *t, int nt) {
  for (int i = 0; i < nt; ++i) {
    if (!t[i].is_output) continue;
    const uint32_t *w = (const uint32_t *)t[i].host;
    int64_t words = (int64_t)((size_t)t[i].numel * dtype_size(t[i].dtype) / 4);
    for (int64_t k = 0; k < words; ++k)
      if (w[k] != EM_POISON_U32) return 0;
  }
  return 1;
}

#define STALE_REASON "stale output after the inputs changed: results cached between calls?"

/* The verdict of an anti-cache call (v, judged into vr) folded into the case's result r. */
static void anti_cache_verdict(em_case_result *r, const em_case_result *vr, int stale) {
  r->status = EM_FAIL;
  r->points = 0;
  r->close = vr->close;
  r->have_close = vr->have_close;
  r->output = vr->output;
  r->same_cause = 0;
  if (stale) {
    snprintf(r->reason, sizeof r->reason, STALE_REASON);
    snprintf(r->hint, sizeof r->hint,
             "the output must be computed from the inputs on every call; the checker changes them in place "
             "after timing, so a result kept from an earlier call is found");
  } else {
    snprintf(r->reason, sizeof r->reason, "after the inputs changed in place (same pointers): %s", vr->reason);
    snprintf(r->hint, sizeof r->hint, "%s", vr->hint);
  }
}

/* ---- --outputs files ---------------------------------------------------------------------------
 * One flat folder; each output tensor of each call in its own file:
 *   <DIR>/lab<N>-<track>-<part>-<slug>[.refill|.swap].<tensor>.npy
 * where slug is the case name with every byte but [A-Za-z0-9] written as _ and two hex digits
 * ("n=4099 prime" -> n_3d4099_20prime): one name per case, whatever its name holds. */

static void case_key(const em_lab *lab, em_track track, const em_case *c, char *buf, size_t len) {
  int n = snprintf(buf, len, "lab%d-%s-%c-", lab->number, track_names[track], c->part);
  size_t j = n > 0 ? (size_t)n : 0;
  for (const unsigned char *p = (const unsigned char *)c->name; *p && j + 4 < len; ++p) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) buf[j++] = (char)*p;
    else j += (size_t)snprintf(buf + j, len - j, "_%02x", *p);
  }
  buf[j] = 0;
}

static const char *const npy_descr[] = {"<f4", "|i1", "<i4"};

static void output_path(const char *dir, const em_lab *lab, em_track track, const em_case *c, int variant,
                        const em_tensor *t, char *buf, size_t len) {
  char key[256];
  case_key(lab, track, c, key, sizeof key);
  snprintf(buf, len, "%s/%s%s.%s.npy", dir, key, variant_suffix[variant], t->name);
}

static int write_outputs(const char *dir, const em_lab *lab, em_track track, const em_case *c, int variant,
                         const bufs *b) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return em__fail(EM_EIO, "cannot create the outputs folder %s: %s", dir, strerror(errno));
  for (int i = 0; i < b->nt; ++i) {
    const em_tensor *t = &b->t[i];
    if (!t->is_output) continue;
    char path[1400];
    output_path(dir, lab, track, c, variant, t, path, sizeof path);
    int err = em_npy_write(path, npy_descr[t->dtype], dtype_size(t->dtype), t->host, t->ndim, t->shape);
    if (err != EM_OK) return err;
  }
  return EM_OK;
}

/* A shape as Python writes a tuple: "1025," "3, 4" "". */
static void fmt_shape(char *buf, size_t len, const int64_t *shape, int ndim) {
  size_t u = 0;
  buf[0] = 0;
  for (int k = 0; k < ndim && u < len; ++k)
    u += (size_t)snprintf(buf + u, len - u, "%s%lld", k ? ", " : "", (long long)shape[k]);
  if (ndim == 1 && u < len) snprintf(buf + u, len - u, ",");
}

/* Reads the output tensor t of one call from its file into t->host. The file is hostile (written
 * by the student's process): opened without following links or blocking on a FIFO, required to
 * be a regular file whose header names exactly t's dtype and shape and whose size is exactly the
 * header plus the data. Returns 1, or 0 with why (naming the file) on any deviation. */
static int read_output(const char *path, const char *file, const em_tensor *t, char *why, size_t len) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) snprintf(why, len, "output file %s is missing", file);
    else if (errno == ELOOP) snprintf(why, len, "output file %s is a symbolic link", file);
    else snprintf(why, len, "output file %s cannot be opened: %s", file, strerror(errno));
    return 0;
  }
  int ok = 0;
  char *header = NULL;
  struct stat st;
  unsigned char pre[10];
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(why, len, "output file %s is not a regular file", file);
    goto done;
  }
  if (read(fd, pre, sizeof pre) != (ssize_t)sizeof pre || memcmp(pre, "\x93NUMPY", 6) != 0) {
    snprintf(why, len, "output file %s is not an .npy file", file);
    goto done;
  }
  if (pre[6] != 1 || pre[7] != 0) {
    snprintf(why, len, "output file %s: .npy version %d.%d, want 1.0", file, pre[6], pre[7]);
    goto done;
  }
  size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
  if (!(header = (char *)malloc(hlen + 1))) {
    snprintf(why, len, "output file %s: out of memory for its header", file);
    goto done;
  }
  if (read(fd, header, hlen) != (ssize_t)hlen) {
    snprintf(why, len, "output file %s is truncated in its header", file);
    goto done;
  }
  header[hlen] = 0;
  /* {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
  char descr[16] = "";
  const char *d = strstr(header, "'descr':");
  if (strlen(header) == hlen && d) {
    d += 8;
    while (*d == ' ') d++;
    size_t k = 0;
    if (*d == '\'')
      for (++d; *d && *d != '\'' && k + 1 < sizeof descr; ++d) descr[k++] = *d;
    descr[k] = 0;
    if (*d != '\'') descr[0] = 0;
  }
  const char *f = strstr(header, "'fortran_order':"), *sh = strstr(header, "'shape':");
  if (!descr[0] || !f || !sh) {
    snprintf(why, len, "output file %s: malformed .npy header", file);
    goto done;
  }
  if (strcmp(descr, npy_descr[t->dtype]) != 0) {
    snprintf(why, len, "output file %s: dtype '%s', want '%s'", file, descr, npy_descr[t->dtype]);
    goto done;
  }
  for (f += 16; *f == ' '; ++f) {
  }
  if (strncmp(f, "False", 5) != 0) {
    snprintf(why, len, "output file %s: not in C order", file);
    goto done;
  }
  int64_t shape[EM_MAX_DIMS + 1];
  int ndim = 0, shape_ok = 0;
  for (sh += 8; *sh == ' '; ++sh) {
  }
  if (*sh == '(') {
    const char *p = sh + 1;
    for (;;) {
      while (*p == ' ') p++;
      if (*p == ')') {
        shape_ok = 1;
        break;
      }
      if (!(*p >= '0' && *p <= '9') || ndim > EM_MAX_DIMS) break;
      char *end;
      errno = 0;
      long long v = strtoll(p, &end, 10);
      if (errno || v < 0) break;
      shape[ndim++] = v;
      p = end;
      while (*p == ' ') p++;
      if (*p == ',') p++;
      else if (*p != ')') break;
    }
  }
  int same = shape_ok && ndim == t->ndim;
  for (int k = 0; same && k < ndim; ++k) same = shape[k] == t->shape[k];
  if (!same) {
    char want[128], got[128];
    fmt_shape(want, sizeof want, t->shape, t->ndim);
    fmt_shape(got, sizeof got, shape, shape_ok ? ndim : 0);
    if (shape_ok) snprintf(why, len, "output file %s: shape (%s), want (%s)", file, got, want);
    else snprintf(why, len, "output file %s: malformed shape in its header, want (%s)", file, want);
    goto done;
  }
  size_t data = (size_t)t->numel * dtype_size(t->dtype);
  off_t want_size = (off_t)(10 + hlen + data);
  if (st.st_size != want_size) {
    long long have = (long long)st.st_size - (long long)(10 + hlen);
    if (st.st_size < want_size)
      snprintf(why, len, "output file %s is truncated: %lld bytes of data, want %zu", file, have < 0 ? 0 : have, data);
    else
      snprintf(why, len, "output file %s has %lld bytes after its data", file, have - (long long)data);
    goto done;
  }
  for (size_t got = 0; got < data;) {
    ssize_t n = read(fd, (char *)t->host + got, data - got);
    if (n <= 0) {
      snprintf(why, len, "output file %s is truncated: %zu bytes of data, want %zu", file, got, data);
      goto done;
    }
    got += (size_t)n;
  }
  ok = 1;
done:
  free(header);
  close(fd);
  return ok;
}

static int read_outputs(const char *dir, const em_lab *lab, em_track track, const em_case *c, int variant,
                        bufs *b, char *why, size_t len) {
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    if (!t->is_output) continue;
    char path[1400];
    output_path(dir, lab, track, c, variant, t, path, sizeof path);
    const char *slash = strrchr(path, '/');
    if (!read_output(path, slash ? slash + 1 : path, t, why, len)) return 0;
  }
  return 1;
}

/* ---- one case --------------------------------------------------------------------------------- */

static void dump_case(const em_run_opts *o, const em_lab *lab, em_track track, const em_case *c,
                      bufs *b) {
  char dir[1024], slug[64];
  size_t j = 0;
  for (const char *p = c->name; *p && j + 1 < sizeof slug; ++p)
    slug[j++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ? *p : '_');
  slug[j] = 0;
  mkdir(o->dump_dir, 0777);
  snprintf(dir, sizeof dir, "%s/lab%d-%s-%c-%s", o->dump_dir, lab->number, track_names[track], c->part, slug);
  mkdir(dir, 0777);
  static const char *const descr[] = {"<f4", "|i1", "<i4"};
  for (int i = 0; i < b->nt; ++i) {
    em_tensor *t = &b->t[i];
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.npy", dir, t->name);
    em_npy_write(path, descr[t->dtype], dtype_size(t->dtype), t->host, t->ndim, t->shape);
    if (t->is_output) {
      snprintf(path, sizeof path, "%s/%s_want.npy", dir, t->name);
      if (t->want) em_npy_write(path, "<f8", 8, t->want, t->ndim, t->shape);
      else em_npy_write(path, "<i4", 4, t->want_i32, t->ndim, t->shape);
    }
  }
}

static void env_fail(em_run *run, em_case_result *r, int err, const char *doing) {
  r->status = EM_ERROR;
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
  const char *kind = strstr(r->reason, "stale output") ? STALE_REASON
                     : strncmp(r->reason, "reused work while timing", 24) == 0 ? "reused work while timing: a result kept from an earlier call"
                     : strncmp(r->reason, "output file ", 12) == 0 ? "an output file of the run is missing or malformed"
                     : r->close.unwritten ? "some output elements were never written"
                     : strstr(r->reason, "past the end") ? "the code wrote past the end of an output"
                     : strstr(r->reason, "changed its input") ? "the code changed an input"
                     : r->status == EM_ERROR ? "the code raised an error"
                     : "wrong results";
  snprintf(r->reason, sizeof r->reason, "hidden case: %s (details withheld)", kind);
  if (!strstr(r->hint, "TODO")) r->hint[0] = 0;
  r->have_close = 0;
  memset(&r->close, 0, sizeof r->close);
}

/* After a CUDA error in the code under test the context may be unusable (an illegal address is
 * sticky): probe it once, and if it is gone, skip the remaining CUDA cases with the reason. */
static int cuda_context_broken;

/* The anti-cache check of a case that passed and was timed: each variant's inputs go into the
 * same buffers the timed calls used, the code runs once more, and its output is judged (and
 * written to --outputs, for --verify to judge again). Only after the timing, which it must not
 * disturb; only when timing ran, since without repeated calls a cache gains nothing. */
static void anti_cache(const em_lab *lab, const em_part *part, const em_case *c, em_track track,
                       const em_run_opts *o, em_run *run, em_case_result *r, em_call *k, bufs *b, uint32_t case_id,
                       const char *what, uint64_t before) {
  for (int v = VARIANT_REFILL; v < NVARIANTS; ++v) {
    if (!vary_inputs(lab, c, o->seed, case_id, v, b->t, b->nt)) continue;
    rerun_oracle(lab, c, b->t, b->nt);
    int err = prepare(track, b);
    if (err != EM_OK) {
      env_fail(run, r, err, "preparing the anti-cache inputs");
      return;
    }
    watch(o, 1, what);
    err = lab->invoke(k);
    if (err == EM_OK && track == EM_TRACK_CUDA) err = em_cuda_check_launch(part->student_name[track]);
    unwatch();
    if (err != EM_OK) {
      r->status = EM_ERROR;
      r->points = 0;
      snprintf(r->reason, sizeof r->reason, "after the inputs changed in place: %s",
               *em_error_detail() ? em_error_detail() : em_strerror(err));
      if (track == EM_TRACK_CUDA && em_cuda_sync() != EM_OK) cuda_context_broken = 1;
      return;
    }
    em_case_result vr;
    memset(&vr, 0, sizeof vr);
    if ((err = judge(lab, track, b, &vr)) != EM_OK) {
      env_fail(run, r, err, "reading the anti-cache results back");
      return;
    }
    if (o->outputs_dir && (err = write_outputs(o->outputs_dir, lab, track, c, v, b)) != EM_OK) {
      env_fail(run, r, err, "writing --outputs");
      return;
    }
    uint64_t now = outputs_digest(b->t, b->nt);
    if (vr.status != EM_PASS) {
      if (r->status == EM_PASS) anti_cache_verdict(r, &vr, now == before || outputs_untouched(b->t, b->nt));
      return;
    }
    before = now;
  }
}

/* ---- timing a case ---------------------------------------------------------------------------- */

/* Bytes the case's tensors read and write, as the lab counts them (lab->bytes), split in the
 * proportion of its inputs' and outputs' sizes: the write share picks the case's memory roof. */
static double write_share(const bufs *b) {
  double rd = 0, wr = 0;
  for (int i = 0; i < b->nt; ++i) {
    const em_tensor *t = &b->t[i];
    if (t->is_scalar) continue;
    double bytes = (double)t->numel * (double)dtype_size(t->dtype);
    if (t->is_output) wr += bytes;
    else rd += bytes;
  }
  return rd + wr > 0 ? wr / (rd + wr) : 0.5;
}

/* All of the case's buffers together: the working set one call touches. */
static double working_set(const bufs *b) {
  double total = 0;
  for (int i = 0; i < b->nt; ++i)
    if (!b->t[i].is_scalar) total += (double)data_bytes(&b->t[i]);
  return total;
}

/* Roofline: attainable = min(compute peak, intensity × the bandwidth of the case's own mix of
 * reads and writes, em_peaks_pattern_gbps); the fraction is achieved over attainable, for
 * memory-bound code GB/s over that bandwidth. */
static void roofline(em_track track, const em_run_opts *o, const bufs *b, em_case_result *r) {
  int gpu = track == EM_TRACK_CUDA;
  r->gbps = r->bytes / r->time_s * 1e-9;
  r->gflops = r->flops / r->time_s * 1e-9;
  r->intensity = r->bytes > 0 ? r->flops / r->bytes : 0;
  double bw = em_peaks_pattern_gbps(&o->peaks, gpu, write_share(b));
  double fma = gpu ? o->peaks.gpu_fma_gflops : o->peaks.cpu_fma_gflops;
  r->roof_gbps = bw;
  double attainable = fmin(fma > 0 ? fma : INFINITY, r->intensity * bw);
  r->roofline_frac = attainable > 0 && isfinite(attainable) ? r->gflops / attainable : NAN;
  if (r->flops == 0 && bw > 0) r->roofline_frac = r->gbps / bw;
}

/* A speed no honest code reaches: the working set is far beyond the caches, so every byte crosses
 * the memory bus, and yet the case ran faster than the measured peaks allow by more than the spread
 * of the reference solutions ever came near (EM_IMPOSSIBLE_ROOF, BENCHMARKS.md). Marked, and worth
 * no performance points. */
static void flag_impossible(em_track track, const em_run_opts *o, const bufs *b, em_case_result *r) {
  double cache = track == EM_TRACK_CUDA ? (double)o->gpu.l2_bytes : (double)em_cpu_llc_bytes();
  if (!(cache > 0) || working_set(b) < EM_IMPOSSIBLE_CACHES * cache) return;
  if (track == EM_TRACK_CPU && o->peaks.cpu_unreliable) return; /* low peaks are no limit */
  if (!(r->roofline_frac > EM_IMPOSSIBLE_ROOF)) return;
  r->impossible_speed = 1;
  snprintf(r->speed_note, sizeof r->speed_note,
           "measured at %.0f%% of this machine's roof (%.1f GB/s against %.1f GB/s measured for this mix of reads and "
           "writes) on %.0f MiB, %.0fx the %s: no code moves these bytes that fast, so the time cannot be the time of "
           "the work; no performance points",
           100 * r->roofline_frac, r->gbps, r->roof_gbps, working_set(b) / 1048576.0, working_set(b) / cache,
           track == EM_TRACK_CUDA ? "GPU's L2 cache" : "CPU's last-level cache");
}

/* Performance points: full at ≤ 1.2× the reference's time, proportional beyond. The ratio is the
 * interleaved one, so machine drift does not move a student's score. */
static double perf_points(const em_case *c, const em_case_result *r) {
  if (!(c->perf_points > 0) || r->impossible_speed) return 0;
  double slow = 1.0 / r->speedup_vs_ref; /* candidate time / reference time */
  return c->perf_points * (slow <= 1.2 ? 1.0 : 1.2 / slow);
}

/* The timing failed: reused work found (the code's fault), the code raised an error, or the
 * reference or the baseline did (the machine's). */
static void timing_failed(em_run *run, em_case_result *r, const em_fresh *fresh, int err, int failed) {
  r->points = 0;
  if (err == EM_EREUSED) {
    r->status = EM_FAIL;
    snprintf(r->reason, sizeof r->reason, "%s", fresh->reason);
    snprintf(r->hint, sizeof r->hint,
             "compute every output on every call from the inputs as they are then: the checker changes them "
             "between timed calls, so nothing kept from an earlier call is still the answer");
  } else if (failed == 0 && !fresh->ref_error) {
    r->status = EM_ERROR;
    snprintf(r->reason, sizeof r->reason, "while timing: %s", *em_error_detail() ? em_error_detail() : em_strerror(err));
  } else {
    env_fail(run, r, err, failed == 2 ? "timing the naive baseline" : "timing the reference");
  }
}

/* Step 4: the candidate interleaved with the reference and the naive baseline, each call on inputs
 * changed since the previous one (fresh.h); then the figures, the points and the energy. Returns 1
 * when the anti-cache calls come next: the case passed, or failed for reused work. */
static int time_case(const em_lab *lab, const em_part *part, const em_case *c, em_track track, const em_run_opts *o,
                     em_run *run, em_case_result *r, em_call *k, bufs *b, const char *what) {
  em_call ref = *k, naive = *k;
  ref.impl = EM_IMPL_REFERENCE;
  ref.student_code = 0;
  ref.fn = part->reference[track];
  naive.impl = EM_IMPL_NAIVE;
  naive.student_code = 0;
  naive.fn = part->naive[track];
  em_fresh fresh;
  int err = em_fresh_init(&fresh, b->t, b->nt, track, lab->bytes(c));
  if (err != EM_OK) {
    em_fresh_free(&fresh);
    env_fail(run, r, err, "allocating the timing's buffers");
    return 0;
  }
  em_timed_fn tf = track == EM_TRACK_CUDA ? time_cuda : time_cpu;
  em_timed_fn fns[3] = {tf, tf, tf};
  timed tk = {.call = k, .fresh = &fresh, .ref = &ref}, tr = {.call = &ref, .fresh = &fresh},
        tn = {.call = &naive, .fresh = &fresh};
  void *args[3] = {&tk, &tr, &tn};
  int nfns = naive.fn ? 3 : 2, perf = c->perf_points > 0, failed = -1;
  em_bench_opts bo = {.warmup_s = perf ? 0.1 : 0.02, .budget_s = o->budget_s * (perf ? 5 : 1),
                      .min_rounds = 3, .max_rounds = 2000};
  em_bench_result br;
  watch(o, 1, what);
  err = em_bench_interleaved(nfns, fns, args, &bo, &br, &failed);
  unwatch();
  r->timed_calls = tk.runs + tr.runs + tn.runs;
  r->timed_s = tk.seconds + tr.seconds + tn.seconds;
  r->compared = fresh.compared;
  if (err != EM_OK) {
    timing_failed(run, r, &fresh, err, failed);
    em_fresh_free(&fresh);
    return err == EM_EREUSED;
  }
  r->timed = 1;
  r->rounds = br.rounds;
  /* One slow device synchronisation is a hiccup of the host; most of them, a pattern. */
  r->outlived = tk.outlived * 2 > tk.runs;
  r->time_s = br.time[0].median;
  r->ref_time_s = br.time[1].median;
  r->naive_time_s = nfns > 2 ? br.time[2].median : NAN;
  r->speedup_vs_ref = br.ratio[1][0];
  r->speedup_vs_naive = nfns > 2 ? br.ratio[2][0] : NAN;
  roofline(track, o, b, r);
  flag_impossible(track, o, b, r);
  r->points += perf_points(c, r);
  watch(o, 1, what);
  r->energy_j = energy_per_call(o, track, k, &fresh);
  unwatch();
  em_fresh_free(&fresh);
  return 1;
}

/* A case's buffers, its inputs from the seed and its float64 answer: what a run and a
 * verification both start from. 0 (with the result filled in, nothing left allocated) when the
 * buffers cannot be had. */
static int prepare_case(const em_lab *lab, const em_case *c, em_track track, const em_run_opts *o, em_run *run,
                        em_case_result *r, bufs *b, uint32_t *case_id) {
  int err = alloc_bufs(lab, c, track, b);
  if (err != EM_OK) {
    env_fail(run, r, err, "allocating the case's buffers");
    free_bufs(b);
    return 0;
  }
  *case_id = em_rng_name_id(c->name) ^ ((uint32_t)(unsigned char)c->part << 24);
  lab->fill(c, o->seed, *case_id, b->t);
  lab->oracle(c, b->t);
  return 1;
}

static void run_case(const em_lab *lab, const em_case *c, em_track track, const em_run_opts *o,
                     em_run *run, em_case_result *r) {
  const em_part *part = NULL;
  for (int p = 0; p < lab->nparts; ++p)
    if (lab->parts[p].id == c->part) part = &lab->parts[p];

  r->lab = lab;
  r->c = *c;
  r->track = track;
  r->energy_j = NAN;
  r->max_points = c->points + c->perf_points;
  r->flops = lab->flops(c);
  r->bytes = lab->bytes(c);
  em_case_shape(lab, c, r->shape, sizeof r->shape);

  if (track == EM_TRACK_CUDA && !o->gpu_ok) {
    r->status = EM_SKIP;
    snprintf(r->reason, sizeof r->reason, "%s", o->gpu_skip);
    return;
  }
  if (track == EM_TRACK_CUDA && cuda_context_broken) {
    r->status = EM_SKIP;
    snprintf(r->reason, sizeof r->reason,
             "not run: an earlier CUDA error left the GPU unusable in this process; fix that one first");
    return;
  }
  if (!part) {
    r->status = EM_ERROR;
    snprintf(r->reason, sizeof r->reason, "case names part '%c', which lab %d does not have", c->part, lab->number);
    return;
  }

  em_fn candidate = em_candidate_is_solution ? part->reference[track] : part->student[track];
  if (!candidate) {
    r->status = EM_FAIL;
    snprintf(r->reason, sizeof r->reason, "%s is not defined in labs/%s/%s", part->student_name[track],
             lab->folder, lab->student_file[track]);
    snprintf(r->hint, sizeof r->hint, "define it there with exactly this name and the signature in include/em/%s.h", lab->name);
    return;
  }

  bufs b;
  uint32_t case_id;
  int err;
  if (!prepare_case(lab, c, track, o, run, r, &b, &case_id)) return;

  em_call k = {.lab = lab, .c = c, .track = track, .impl = EM_IMPL_CANDIDATE,
               .student_code = !em_candidate_is_solution, .fn = candidate, .t = b.t, .nt = b.nt};
  char what[384];
  snprintf(what, sizeof what, "lab %d part (%c) case \"%s\" [%s] on the %s track (%s)", lab->number,
           c->part, c->name, r->shape, track_names[track],
           em_candidate_is_solution ? "reference solution" : part->student_name[track]);

  if ((err = prepare(track, &b)) != EM_OK) {
    env_fail(run, r, err, "preparing inputs");
    goto out;
  }
  em_todo_reset();
  watch(o, 1, what);
  err = lab->invoke(&k);
  if (err == EM_OK && track == EM_TRACK_CUDA) err = em_cuda_check_launch(part->student_name[track]);
  unwatch();
  const char *todo_file, *todo_what;
  int todo_line;
  int todo = em_todo_reached(&todo_file, &todo_line, &todo_what);
  if (err != EM_OK) {
    r->status = EM_ERROR;
    snprintf(r->reason, sizeof r->reason, "%s", *em_error_detail() ? em_error_detail() : em_strerror(err));
    if (track == EM_TRACK_CUDA && em_cuda_sync() != EM_OK) cuda_context_broken = 1;
    if (strstr(r->reason, "illegal memory access") || strstr(r->reason, "out of bounds"))
      snprintf(r->hint, sizeof r->hint, "a thread read or wrote outside its array: guard every access with i < n");
    else if (strstr(r->reason, "misaligned address"))
      snprintf(r->hint, sizeof r->hint, "float4 (16-byte) accesses need 16-byte aligned addresses: row i of an m x n "
               "matrix starts at element i*n, aligned only when n %% 4 == 0");
    else if (strstr(r->reason, "invalid configuration") || strstr(r->reason, "invalid argument"))
      snprintf(r->hint, sizeof r->hint, "check the launch: at most 1024 threads per block and at least one block");
    goto out;
  }
  if ((err = judge(lab, track, &b, r)) != EM_OK) {
    env_fail(run, r, err, "reading the results back");
    goto out;
  }
  if (todo && r->status != EM_PASS) {
    snprintf(r->hint, sizeof r->hint, "%s:%d: TODO not done yet: %s", todo_file, todo_line, todo_what);
    r->same_cause = 1;
  }
  if (o->dump_dir) dump_case(o, lab, track, c, &b);
  /* What the first call wrote, before the timed calls (the reference's among them, on the CPU track
   * into the same buffers) overwrite it: a stale later output is this one. */
  uint64_t first_digest = outputs_digest(b.t, b.nt);
  if (o->outputs_dir && (err = write_outputs(o->outputs_dir, lab, track, c, VARIANT_MAIN, &b)) != EM_OK) {
    env_fail(run, r, err, "writing --outputs");
    goto out;
  }
  if (r->status != EM_PASS) goto out;
  r->points = c->points;

  /* After reused work found while timing the anti-cache calls still run: their output files let
   * --verify find the same from the files alone. */
  if (o->timing && time_case(lab, part, c, track, o, run, r, &k, &b, what))
    anti_cache(lab, part, c, track, o, run, r, &k, &b, case_id, what, first_digest);
out:
  free_bufs(&b);
  if (c->hidden && r->status != EM_PASS && r->status != EM_SKIP) redact(r);
}

/* --verify: the case's outputs as another process wrote them (--outputs), judged against the
 * oracle with the same comparison and tolerances as a run; no code under test is called. The
 * buffers are host buffers whatever the track (the oracle runs on the host). The anti-cache
 * outputs are required exactly where the run makes them: timing on and the first call passed. */
static void verify_case(const em_lab *lab, const em_case *c, em_track track, const em_run_opts *o, em_run *run,
                        em_case_result *r) {
  r->lab = lab;
  r->c = *c;
  r->track = track;
  r->energy_j = NAN;
  r->max_points = c->points; /* correctness alone: performance is not verified here */
  r->flops = lab->flops(c);
  r->bytes = lab->bytes(c);
  em_case_shape(lab, c, r->shape, sizeof r->shape);
  int has_part = 0;
  for (int p = 0; p < lab->nparts; ++p) has_part |= lab->parts[p].id == c->part;
  if (!has_part) {
    r->status = EM_ERROR;
    snprintf(r->reason, sizeof r->reason, "case names part '%c', which lab %d does not have", c->part, lab->number);
    return;
  }
  bufs b;
  uint32_t case_id;
  int err;
  if (!prepare_case(lab, c, EM_TRACK_CPU, o, run, r, &b, &case_id)) return;
  uint64_t before = 0;
  for (int v = VARIANT_MAIN; v < (o->timing ? NVARIANTS : 1); ++v) {
    if (v != VARIANT_MAIN) {
      if (!vary_inputs(lab, c, o->seed, case_id, v, b.t, b.nt)) continue;
      rerun_oracle(lab, c, b.t, b.nt);
    }
    /* Inputs into the working copies (judge compares them with the pristine ones: here always the
     * same), outputs poisoned, so whatever the file lacks cannot come from an earlier call. */
    if ((err = prepare(EM_TRACK_CPU, &b)) != EM_OK) {
      env_fail(run, r, err, "preparing the buffers");
      goto out;
    }
    char why[600];
    if (!read_outputs(o->verify_dir, lab, track, c, v, &b, why, sizeof why)) {
      r->status = EM_FAIL;
      snprintf(r->reason, sizeof r->reason, "%s", why);
      snprintf(r->hint, sizeof r->hint, "the outputs of the checked run (em-check --outputs) must all be there, as written");
      goto out;
    }
    em_case_result vr;
    memset(&vr, 0, sizeof vr);
    if ((err = judge(lab, EM_TRACK_CPU, &b, v == VARIANT_MAIN ? r : &vr)) != EM_OK) {
      env_fail(run, r, err, "judging the outputs");
      goto out;
    }
    uint64_t now = outputs_digest(b.t, b.nt);
    if (v == VARIANT_MAIN) {
      if (r->status != EM_PASS) goto out;
    } else if (vr.status != EM_PASS) {
      anti_cache_verdict(r, &vr, now == before || outputs_untouched(b.t, b.nt));
      goto out;
    }
    before = now;
  }
  r->points = c->points;
out:
  free_bufs(&b);
  if (c->hidden && r->status != EM_PASS && r->status != EM_SKIP) redact(r);
}

/* Whether case c runs on this track and passes the filters. */
static int selected(const em_case *c, int track, const em_run_opts *o) {
  if (c->tracks && !(c->tracks & EM_TRACK_BIT(track))) return 0;
  if (o->part && c->part != o->part) return 0;
  if (o->perf_only && !(c->perf_points > 0)) return 0;
  if (!o->case_filter) return 1;
  /* "=name" selects exactly that case, where a plain substring would also take "name t=32769". */
  if (o->case_filter[0] == '=') return strcmp(c->name, o->case_filter + 1) == 0;
  return strstr(c->name, o->case_filter) != NULL;
}

void em_check_lab(const em_lab *lab, const em_run_opts *o, em_run *run, const em_progress *progress) {
  install_handlers();
  int nlab = o->hidden_only ? 0 : lab->ncases;
  for (int track = 0; track < EM_NTRACKS; ++track) {
    if (!(o->tracks & EM_TRACK_BIT(track))) continue;
    cuda_context_broken = 0;
    int count = 0;
    for (int i = 0; i < nlab + o->nextra; ++i)
      count += selected(i < nlab ? &lab->cases[i] : &o->extra[i - nlab], track, o);
    /* --verify needs no GPU: the oracle and the comparison run on the host. */
    const char *skip = track == EM_TRACK_CUDA && !o->gpu_ok && !o->verify_dir ? o->gpu_skip : NULL;
    if (progress) progress->track_begin(progress->ctx, lab, (em_track)track, skip, count);
    int from = run->n;
    for (int i = 0; i < nlab + o->nextra; ++i) {
      const em_case *c = i < nlab ? &lab->cases[i] : &o->extra[i - nlab];
      if (!selected(c, track, o)) continue;
      if (run->n == run->cap) {
        int cap = run->cap ? run->cap * 2 : 64;
        em_case_result *grown = (em_case_result *)realloc(run->results, (size_t)cap * sizeof *grown);
        if (!grown) {
          run->env_error = 1;
          snprintf(run->env_message, sizeof run->env_message, "out of memory for results");
          return;
        }
        run->results = grown;
        run->cap = cap;
      }
      em_case_result *r = &run->results[run->n++];
      memset(r, 0, sizeof *r);
      if (o->verify_dir) verify_case(lab, c, (em_track)track, o, run, r);
      else run_case(lab, c, (em_track)track, o, run, r);
      if (progress && !skip) progress->case_done(progress->ctx, run, run->n - 1);
    }
    if (progress) progress->track_end(progress->ctx, run, from, run->n);
    if (track == EM_TRACK_CUDA && o->gpu_ok) em_cuda_release_scratch();
  }
}

/* ---- .npy ------------------------------------------------------------------------------------- */

int em_npy_write(const char *path, const char *descr, size_t elem, const void *data, int ndim,
                 const int64_t *shape) {
  char header[256], dims[160] = "";
  size_t used = 0;
  int64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    used += (size_t)snprintf(dims + used, sizeof dims - used, "%lld,%s", (long long)shape[d],
                             d + 1 < ndim ? " " : "");
    numel *= shape[d];
  }
  if (ndim > 1) dims[strlen(dims) - 1] = 0; /* (3, 4) but (3,) */
  int len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     descr, dims);
  /* Magic (6) + version (2) + header length (2) + header + '\n', padded to a multiple of 64. */
  int total = 10 + len + 1;
  int pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  if (!f) return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  uint16_t hlen = (uint16_t)(len + pad + 1);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
  int ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(header, 1, (size_t)len, f) == (size_t)len;
  for (int i = 0; i < pad; ++i) ok &= fputc(' ', f) != EOF;
  ok &= fputc('\n', f) != EOF;
  ok &= fwrite(data, elem, (size_t)numel, f) == (size_t)numel;
  int e = errno;
  if (fclose(f) != 0 || !ok) return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(ok ? errno : e));
  return EM_OK;
}
