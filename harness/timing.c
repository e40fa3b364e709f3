/* Step 4 of a case that passed: the code under test timed interleaved with the reference and the
 * naive baseline, each call on inputs changed since the previous one (fresh.h); then GB/s, GFLOP/s,
 * the roofline fraction, the performance points and the energy per call. */
#include "checker_internal.h"
#include "fresh.h"

#include <math.h>
#include <stdio.h>

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
  size_t written;     /* bytes of the case's outputs: what the GPU's L2 flush leaves dirty (em/cuda.h) */
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
  err = em_cuda_time_run(run_call, t->call, 1, t->written, s, &outlived);
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

/* ---- the figures ------------------------------------------------------------------------------ */

/* Bytes of the case's input and output tensors (scalars aside). */
static void tensor_bytes(const em__bufs *b, double *rd, double *wr) {
  *rd = *wr = 0;
  for (int i = 0; i < b->nt; ++i) {
    const em_tensor *t = &b->t[i];
    if (t->is_scalar) continue;
    double bytes = (double)t->numel * (double)em__dtype_size(t->dtype);
    if (t->is_output) *wr += bytes;
    else *rd += bytes;
  }
}

/* Bytes the case's tensors read and write, as the lab counts them (lab->bytes), split in the
 * proportion of its inputs' and outputs' sizes: the write share picks the case's memory roof. */
static double write_share(const em__bufs *b) {
  double rd, wr;
  tensor_bytes(b, &rd, &wr);
  return rd + wr > 0 ? wr / (rd + wr) : 0.5;
}

/* All of the case's buffers together: the working set one call touches. */
static double working_set(const em__bufs *b) {
  double total = 0;
  for (int i = 0; i < b->nt; ++i)
    if (!b->t[i].is_scalar) total += (double)em__data_bytes(&b->t[i]);
  return total;
}

/* Roofline: attainable = min(compute peak, intensity × the bandwidth of the case's own mix of
 * reads and writes, em_peaks_pattern_gbps); the fraction is achieved over attainable, for
 * memory-bound code GB/s over that bandwidth. */
void em__roofline(em_track track, const em_run_opts *o, const em__bufs *b, em_case_result *r) {
  int gpu = track == EM_TRACK_CUDA;
  r->gbps = r->bytes / r->time_s * 1e-9;
  r->gflops = r->flops / r->time_s * 1e-9;
  r->intensity = r->bytes > 0 ? r->flops / r->bytes : 0;
  /* What the reference reached in this very run, interleaved with the code under test, is a floor
   * under the machine's limit: a VM's bandwidth moves by half between minutes (BENCHMARKS.md,
   * "Roofs"), and peaks measured in a slow minute must not make the next fast one look impossible. */
  double ref_gbps = r->ref_time_s > 0 ? r->bytes / r->ref_time_s * 1e-9 : 0;
  double ref_gflops = r->ref_time_s > 0 ? r->flops / r->ref_time_s * 1e-9 : 0;
  double bw = fmax(em_peaks_pattern_gbps(&o->peaks, gpu, write_share(b)), ref_gbps);
  double fma = gpu ? o->peaks.gpu_fma_gflops : o->peaks.cpu_fma_gflops;
  /* bfloat16 matrix work on the GPU is held to the tensor cores' rate (0 when not measured: no
   * roof then, rather than a wrong one); on the CPU it is widened to float32, the FMA rate's. int8
   * products (em_lab.int8_ops) are held to the int8 rate on either track and the rest of the
   * case's operations to the FMA rate: the compute roof is then the rate of the two in sequence. */
  int own_unit = 0; /* held to a rate of its own, not the FMA rate */
  r->compute_peak = gpu ? "gpu_fma_gflops" : "cpu_fma_gflops";
  for (int i = 0; gpu && i < b->nt; ++i) own_unit |= b->t[i].dtype == EM_BF16;
  if (own_unit) {
    fma = o->peaks.gpu_bf16_tc_gflops;
    r->compute_peak = "gpu_bf16_tc_gflops";
  }
  double i8 = r->lab && r->lab->int8_ops ? fmin(r->lab->int8_ops(&r->c), r->flops) : 0;
  if (i8 > 0) {
    own_unit = 1;
    double i8_rate = gpu ? o->peaks.gpu_int8_tc_gops : o->peaks.cpu_int8_gops;
    fma = i8_rate > 0 && fma > 0 ? r->flops / (i8 / i8_rate + (r->flops - i8) / fma) : 0;
    /* the peak a reader should compare with: the int8 rate where int8 products are most of it */
    if (2 * i8 >= r->flops) r->compute_peak = gpu ? "gpu_int8_tc_gops" : "cpu_int8_gops";
  }
  if (fma > 0) fma = fmax(fma, ref_gflops);
  r->roof_gbps = bw;
  double attainable = fmin(fma > 0 ? fma : INFINITY, r->intensity * bw);
  r->roofline_frac = attainable > 0 && isfinite(attainable) ? r->gflops / attainable : NAN;
  if (r->flops == 0 && bw > 0) r->roofline_frac = r->gbps / bw;
  if (own_unit && !(fma > 0)) r->roofline_frac = NAN;
}

/* A speed no honest code reaches: the working set is far beyond the caches, so every byte crosses
 * the memory bus, and yet the case ran faster than its roof allows by more than noise ever came near
 * (EM_IMPOSSIBLE_ROOF, BENCHMARKS.md). Marked, and worth no performance points. */
void em__flag_impossible(em_track track, const em_run_opts *o, const em__bufs *b, em_case_result *r) {
  double cache = track == EM_TRACK_CUDA ? (double)o->gpu.l2_bytes : (double)em_cpu_llc_bytes();
  if (!(cache > 0) || working_set(b) < EM_IMPOSSIBLE_CACHES * cache) return;
  if (track == EM_TRACK_CPU && o->peaks.cpu_unreliable) return; /* low peaks are no limit */
  if (!(r->roofline_frac > EM_IMPOSSIBLE_ROOF)) return;
  /* A compute-bound case's roof is an FMA or tensor-core rate, which other units (tensor cores
   * for float32 work, say) may pass honestly: its time is guarded by fresh inputs and the
   * comparisons of fresh.h, not by this flag, whose premise is bytes that must cross the bus. */
  double fma = track == EM_TRACK_CUDA ? o->peaks.gpu_fma_gflops : o->peaks.cpu_fma_gflops;
  if (r->roof_gbps > 0 && r->intensity * r->roof_gbps > fma) return;
  r->impossible_speed = 1;
  snprintf(r->speed_note, sizeof r->speed_note,
           "measured at %.0f%% of this machine's roof (%.1f GB/s against %.1f GB/s for this mix of reads and "
           "writes, from the measured peaks or the reference in this run) on %.0f MiB, %.0fx the %s: no code "
           "moves these bytes that fast, so the time cannot be the time of the work; no performance points",
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

/* ---- the timing of a case ---------------------------------------------------------------------- */

/* The timing failed: reused work found (the code's fault), the code raised an error, or the
 * reference or the baseline did (the machine's). */
static void timing_failed(em_run *run, em_case_result *r, const em_fresh *fresh, int err, int failed) {
  r->points = 0;
  if (err == EM_EREUSED) {
    r->status = EM_FAIL;
    r->kind = EM_FAIL_REUSED;
    snprintf(r->reason, sizeof r->reason, "%s", fresh->reason);
    snprintf(r->hint, sizeof r->hint,
             "compute every output on every call from the inputs as they are then: the checker changes them "
             "between timed calls, so nothing kept from an earlier call is still the answer");
  } else if (failed == 0 && !fresh->ref_error) {
    r->status = EM_ERROR;
    r->kind = EM_FAIL_ERROR;
    snprintf(r->reason, sizeof r->reason, "while timing: %s", *em_error_detail() ? em_error_detail() : em_strerror(err));
  } else {
    em__env_fail(run, r, err, failed == 2 ? "timing the naive baseline" : "timing the reference");
  }
}

/* The medians and ratios of the timer's rounds, and what follows from them. */
static void figures(em__ctx *x, const em_bench_result *br, int nfns, const timed *tk, em_fresh *fresh) {
  em_case_result *r = x->r;
  r->timed = 1;
  r->rounds = br->rounds;
  /* One slow device synchronisation is a hiccup of the host; most of them, a pattern. */
  r->outlived = tk->outlived * 2 > tk->runs;
  r->time_s = br->time[0].median;
  r->ref_time_s = br->time[1].median;
  r->naive_time_s = nfns > 2 ? br->time[2].median : NAN;
  r->speedup_vs_ref = br->ratio[1][0];
  r->speedup_vs_naive = nfns > 2 ? br->ratio[2][0] : NAN;
  em__roofline(x->track, x->o, &x->b, r);
  em__flag_impossible(x->track, x->o, &x->b, r);
  if (!r->alternative) r->points += perf_points(x->c, r);
  em__watch(x);
  r->energy_j = energy_per_call(x->o, x->track, &x->call, fresh);
  em__unwatch();
}

int em__time_case(em__ctx *x) {
  em_call ref = x->call, naive = x->call;
  ref.impl = EM_IMPL_REFERENCE;
  ref.student_code = 0;
  ref.fn = x->part->reference[x->track];
  naive.impl = EM_IMPL_NAIVE;
  naive.student_code = 0;
  /* An alternative's row compares it with the reference; the naive baseline has its own row. */
  naive.fn = x->r->alternative ? NULL : x->part->naive[x->track];
  em_fresh fresh;
  int err = em_fresh_init(&fresh, x->b.t, x->b.nt, x->track, x->lab->bytes(x->c));
  fresh.perturb = x->lab->fresh_mode == EM_FRESH_PERTURB;
  if (err != EM_OK) {
    em_fresh_free(&fresh);
    em__env_fail(x->run, x->r, err, "allocating the timing's buffers");
    return 0;
  }
  em_timed_fn tf = x->track == EM_TRACK_CUDA ? time_cuda : time_cpu;
  em_timed_fn fns[3] = {tf, tf, tf};
  double rd, wr;
  tensor_bytes(&x->b, &rd, &wr);
  size_t written = (size_t)wr;
  timed tk = {.call = &x->call, .fresh = &fresh, .ref = &ref, .written = written},
        tr = {.call = &ref, .fresh = &fresh, .written = written},
        tn = {.call = &naive, .fresh = &fresh, .written = written};
  void *args[3] = {&tk, &tr, &tn};
  int nfns = naive.fn ? 3 : 2, perf = x->c->perf_points > 0, failed = -1;
  em_bench_opts bo = {.warmup_s = perf ? 0.1 : 0.02, .budget_s = x->o->budget_s * (perf ? 5 : 1),
                      .min_rounds = 3, .max_rounds = 2000};
  em_bench_result br;
  em__watch(x);
  /* Whether other programs held the cores while this case was timed: on the CPU track it slows
   * both sides of the interleaved ratio alike but lowers GB/s and the roof fraction. */
  em_load_mark l0 = em_load_now();
  err = em_bench_interleaved(nfns, fns, args, &bo, &br, &failed);
  em_load_mark l1 = em_load_now();
  em__unwatch();
  if (x->track == EM_TRACK_CPU) {
    x->r->others_share = em_load_others(l0, l1);
    x->r->load_s = l1.wall_s - l0.wall_s;
  }
  x->r->timed_calls = tk.runs + tr.runs + tn.runs;
  x->r->timed_s = tk.seconds + tr.seconds + tn.seconds;
  x->r->compared = fresh.compared;
  if (err == EM_OK) figures(x, &br, nfns, &tk, &fresh);
  else timing_failed(x->run, x->r, &fresh, err, failed);
  em_fresh_free(&fresh);
  return err == EM_OK || err == EM_EREUSED;
}
