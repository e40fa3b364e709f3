/* The timing's fresh inputs (harness/fresh.c) and the roofs and flags built on the peaks: every timed
 * call sees inputs changed since the previous one, a call that skips its work or hands back a kept
 * result is caught, each case's roof is the bandwidth of its own mix of reads and writes, and a
 * speed beyond the machine's peaks is flagged and earns nothing. */
#include "helpers.h"

#include <math.h>

#include "checker_internal.h"
#include "fresh.h"

TestSuite(fresh, .timeout = 60);

/* ---- a tiny lab: z = x + 1, called through em_call like the checker calls a lab ---------------- */

static const float *g_stale; /* what the "kept result" code hands back */

static int invoke_add1(const em_call *k) {
  const float *x = (const float *)k->t[0].work;
  float *z = (float *)k->t[1].work;
  int64_t n = k->t[1].numel;
  if (k->impl == EM_IMPL_REFERENCE || !g_stale) {
    for (int64_t i = 0; i < n; ++i) z[i] = x[i] + 1.0f;
  } else if (g_stale != (const float *)1) {
    memcpy(z, g_stale, (size_t)n * sizeof *z); /* every element written, from an earlier call */
  }                                             /* (const float *)1: the call does nothing */
  return EM_OK;
}

static const em_lab add1_lab = {.number = 99, .name = "add1", .invoke = invoke_add1};

typedef struct fixture {
  em_tensor t[2];
  em_call k, ref;
} fixture;

/* x: rows × cols (cols 0: 1-D of rows elements), z the same size; case_bytes sets what counts as
 * small (fresh.h). */
static void setup(fixture *f, int64_t rows, int64_t cols, double case_bytes, em_fresh *fr) {
  memset(f, 0, sizeof *f);
  int64_t n = rows * (cols ? cols : 1);
  f->t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = cols ? 2 : 1, .shape = {rows, cols}, .numel = n};
  f->t[1] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {n}, .numel = n,
                        .rtol = 0x1p-23, .atol = 0};
  for (int i = 0; i < 2; ++i) {
    f->t[i].work = em_host_alloc((size_t)n * 4 + 64);
    f->t[i].host = f->t[i].work;
    cr_assert(f->t[i].work);
  }
  float *x = (float *)f->t[0].work;
  for (int64_t i = 0; i < n; ++i) x[i] = (float)i;
  f->k = (em_call){.lab = &add1_lab, .track = EM_TRACK_CPU, .impl = EM_IMPL_CANDIDATE, .t = f->t, .nt = 2};
  f->ref = f->k;
  f->ref.impl = EM_IMPL_REFERENCE;
  cr_assert_eq(em_fresh_init(fr, f->t, 2, EM_TRACK_CPU, case_bytes), EM_OK);
}

static void teardown(fixture *f, em_fresh *fr) {
  em_fresh_free(fr);
  em_host_free(f->t[0].work);
  em_host_free(f->t[1].work);
  g_stale = NULL;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The values of x, sorted: what a shuffle or a swap must keep. */
static void sorted_copy(const float *x, int64_t n, float *out) {
  memcpy(out, x, (size_t)n * 4);
  qsort(out, (size_t)n, 4, cmp_float);
}

Test(fresh, a_large_input_has_two_elements_exchanged) {
  fixture f;
  em_fresh fr;
  setup(&f, 1000, 0, 2 * 1000 * 4 * 2.0, &fr); /* x is half the traffic: large */
  float before[1000], now[1000], a[1000], b[1000];
  for (int call = 0; call < 20; ++call) {
    memcpy(before, f.t[0].work, sizeof before);
    cr_assert_eq(em_fresh_vary(&fr), EM_OK);
    memcpy(now, f.t[0].work, sizeof now);
    int moved = 0, first = -1, second = -1;
    for (int i = 0; i < 1000; ++i)
      if (before[i] != now[i]) {
        moved++;
        if (first < 0) first = i;
        else second = i;
      }
    cr_assert_eq(moved, 2, "call %d: %d elements moved, want the two exchanged", call, moved);
    cr_expect(now[first] == before[second] && now[second] == before[first], "call %d: not an exchange", call);
  }
  sorted_copy(now, 1000, a);
  for (int i = 0; i < 1000; ++i) b[i] = (float)i;
  cr_expect(memcmp(a, b, sizeof a) == 0, "the values of x are those it started with");
  teardown(&f, &fr);
}

Test(fresh, two_rows_of_a_matrix_are_exchanged_whole) {
  fixture f;
  em_fresh fr;
  setup(&f, 10, 7, 2 * 70 * 4, &fr);
  float before[70];
  memcpy(before, f.t[0].work, sizeof before);
  cr_assert_eq(em_fresh_vary(&fr), EM_OK);
  const float *x = (const float *)f.t[0].work;
  int rows_moved = 0;
  for (int r = 0; r < 10; ++r) {
    int same = memcmp(x + 7 * r, before + 7 * r, 28) == 0;
    rows_moved += !same;
    if (!same) {
      int found = 0;
      for (int s = 0; s < 10; ++s) found |= s != r && memcmp(x + 7 * r, before + 7 * s, 28) == 0;
      cr_expect(found, "row %d is not another row moved whole", r);
    }
  }
  cr_expect_eq(rows_moved, 2);
  teardown(&f, &fr);
}

Test(fresh, a_small_input_is_shuffled_whole) {
  fixture f;
  em_fresh fr;
  setup(&f, 4096, 0, 1e12, &fr); /* x is nothing beside the case's traffic: small */
  float before[4096], a[4096], b[4096];
  memcpy(before, f.t[0].work, sizeof before);
  cr_assert_eq(em_fresh_vary(&fr), EM_OK);
  const float *x = (const float *)f.t[0].work;
  int moved = 0;
  for (int i = 0; i < 4096; ++i) moved += x[i] != before[i];
  cr_expect_gt(moved, 4000, "only %d of 4096 elements moved: a shuffle moves nearly all", moved);
  sorted_copy(x, 4096, a);
  sorted_copy(before, 4096, b);
  cr_expect(memcmp(a, b, sizeof a) == 0, "a shuffle keeps the values");
  teardown(&f, &fr);
}

/* Two cases started alike draw different rows: the secret is not the seed. */
Test(fresh, the_rows_are_not_predictable) {
  fixture f, g;
  em_fresh fr, gr;
  setup(&f, 1 << 16, 0, 1e6, &fr);
  setup(&g, 1 << 16, 0, 1e6, &gr);
  int differ = 0;
  for (int call = 0; call < 4; ++call) {
    em_fresh_vary(&fr);
    em_fresh_vary(&gr);
    differ |= memcmp(f.t[0].work, g.t[0].work, (size_t)4 << 16) != 0;
  }
  cr_expect(differ, "two timings exchanged the same rows four times running");
  teardown(&f, &fr);
  teardown(&g, &gr);
}

/* One timed call of the code under test as the checker makes it. */
static int timed_call(fixture *f, em_fresh *fr) {
  cr_assert_eq(em_fresh_vary(fr), EM_OK);
  cr_assert_eq(em_fresh_poison(fr), EM_OK);
  f->k.lab->invoke(&f->k);
  return em_fresh_check(fr, &f->ref);
}

Test(fresh, honest_code_passes_every_call) {
  fixture f;
  em_fresh fr;
  setup(&f, 5000, 0, 5000 * 8, &fr);
  for (int call = 0; call < 50; ++call) cr_assert_eq(timed_call(&f, &fr), EM_OK, "call %d: %s", call, fr.reason);
  cr_expect_gt(fr.compared, 5, "only %d of 50 calls compared with the reference", fr.compared);
  cr_expect_lt(fr.compared, 50, "a large output is compared on some calls, not all");
  teardown(&f, &fr);
}

Test(fresh, a_call_that_does_nothing_is_caught_at_once) {
  fixture f;
  em_fresh fr;
  setup(&f, 5000, 0, 5000 * 8, &fr);
  cr_assert_eq(timed_call(&f, &fr), EM_OK);
  g_stale = (const float *)1;
  int err = timed_call(&f, &fr);
  cr_assert_eq(err, EM_EREUSED);
  cr_expect(strstr(fr.reason, "reused work while timing: after timed call 2 of the code, z[") != NULL, "%s", fr.reason);
  cr_expect(strstr(fr.reason, "still held the NaN the checker wrote there just before the call") != NULL, "%s", fr.reason);
  teardown(&f, &fr);
}

/* A kept result copied out writes every element (the poison goes), but it is the answer to an
 * earlier call's inputs: the comparison with the reference finds it. Small outputs are compared
 * on every call. */
Test(fresh, a_kept_result_is_caught_by_the_comparison) {
  fixture f;
  em_fresh fr;
  setup(&f, 64, 0, 1e9, &fr);
  cr_assert_eq(fr.compare_every, 1u);
  cr_assert_eq(timed_call(&f, &fr), EM_OK);
  float kept[64];
  memcpy(kept, f.t[1].work, sizeof kept);
  g_stale = kept;
  int err = timed_call(&f, &fr);
  cr_assert_eq(err, EM_EREUSED);
  cr_expect(strstr(fr.reason, "elements of z differ from the reference solution's for the same inputs") != NULL, "%s",
            fr.reason);
  teardown(&f, &fr);
}

/* With a large output half of the calls are compared, at random: code that hands back a kept
 * result is still caught within a few calls. */
Test(fresh, a_kept_large_result_is_caught_within_a_few_calls) {
  fixture f;
  em_fresh fr;
  setup(&f, 5000, 0, 5000 * 8, &fr);
  cr_assert_eq(fr.compare_every, 2u);
  cr_assert_eq(timed_call(&f, &fr), EM_OK);
  float *kept = malloc(5000 * 4);
  memcpy(kept, f.t[1].work, 5000 * 4);
  g_stale = kept;
  int calls = 0, err = EM_OK;
  while (err == EM_OK && calls < 64) {
    err = timed_call(&f, &fr);
    calls++;
  }
  cr_expect_eq(err, EM_EREUSED, "64 calls handed back a kept result unseen");
  free(kept);
  teardown(&f, &fr);
}

/* ---- roofs ------------------------------------------------------------------------------------- */

Test(fresh, the_roof_follows_the_mix_of_reads_and_writes) {
  em_peaks p;
  memset(&p, 0, sizeof p);
  p.cpu_read_gbps = 10, p.cpu_copy_gbps = 20, p.cpu_write_gbps = 40;
  cr_expect_float_eq(em_peaks_pattern_gbps(&p, 0, 0.0), 10.0, 1e-9);
  cr_expect_float_eq(em_peaks_pattern_gbps(&p, 0, 0.5), 20.0, 1e-9);
  cr_expect_float_eq(em_peaks_pattern_gbps(&p, 0, 1.0), 40.0, 1e-9);
  /* a quarter written: half way, in time per byte, between reading and copying */
  cr_expect_float_eq(em_peaks_pattern_gbps(&p, 0, 0.25), 1.0 / (0.5 / 10 + 0.5 / 20), 1e-9);
  cr_expect_float_eq(em_peaks_pattern_gbps(&p, 0, 0.75), 1.0 / (0.5 / 20 + 0.5 / 40), 1e-9);
  /* a cache from before the read and write numbers: the copy alone */
  p.cpu_read_gbps = 0;
  cr_expect_float_eq(em_peaks_pattern_gbps(&p, 0, 0.9), 20.0, 1e-9);
  p.gpu_read_gbps = 3000, p.gpu_copy_gbps = 4000, p.gpu_write_gbps = 3500;
  cr_expect_float_eq(em_peaks_pattern_gbps(&p, 1, 0.5), 4000.0, 1e-9);
}

/* ---- impossible speeds ------------------------------------------------------------------------
 * The rule (harness/timing.c): on a working set of four last-level caches or more, a case at more
 * than EM_IMPOSSIBLE_ROOF times its roof is flagged and earns nothing; the roof is never below the
 * reference's own rate in the run, so peaks measured in a slow minute flag nothing. */

/* A lab 1 case of n elements (x in, z out) timed at t seconds against the reference's tref. */
static em_case_result judged(int64_t n, double t, double tref, const em_peaks *peaks, int unreliable) {
  em__bufs b;
  memset(&b, 0, sizeof b);
  b.nt = 2;
  b.t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 1, .shape = {n}, .numel = n};
  b.t[1] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {n}, .numel = n};
  em_run_opts o;
  memset(&o, 0, sizeof o);
  o.peaks = *peaks;
  o.peaks.cpu_unreliable = unreliable;
  em_case_result r;
  memset(&r, 0, sizeof r);
  r.bytes = 8.0 * (double)n, r.flops = (double)n, r.time_s = t, r.ref_time_s = tref;
  em__roofline(EM_TRACK_CPU, &o, &b, &r);
  em__flag_impossible(EM_TRACK_CPU, &o, &b, &r);
  return r;
}

static em_peaks peaks_of(double gbps) {
  em_peaks p;
  memset(&p, 0, sizeof p);
  p.cpu_read_gbps = p.cpu_copy_gbps = p.cpu_write_gbps = gbps;
  p.cpu_fma_gflops = 1000;
  return p;
}

Test(fresh, a_speed_beyond_the_roof_is_flagged) {
  int64_t n = (int64_t)(8 * em_cpu_llc_bytes() / 4); /* x and z: 16 last-level caches */
  em_peaks p = peaks_of(40.0);
  double t_roof = 8.0 * (double)n / 40e9;
  em_case_result r = judged(n, t_roof / 10, t_roof, &p, 0); /* ten times the reference, which ran at the roof */
  cr_expect(r.impossible_speed, "not flagged at %.0f%% of the roof", 100 * r.roofline_frac);
  cr_expect(strstr(r.speed_note, "no code moves these bytes that fast") != NULL, "%s", r.speed_note);
  cr_expect(strstr(r.speed_note, "CPU's last-level cache") != NULL, "%s", r.speed_note);
}

Test(fresh, noise_is_not_impossible) {
  int64_t n = (int64_t)(8 * em_cpu_llc_bytes() / 4);
  em_peaks p = peaks_of(40.0);
  double t_roof = 8.0 * (double)n / 40e9;
  /* 1.9x the roof: the most the course VM's references reached against peaks of another minute */
  cr_expect(!judged(n, t_roof / 1.9, t_roof, &p, 0).impossible_speed);
}

/* Peaks measured in a slow minute: the reference ran at twice them in this run, so the roof is the
 * reference's rate, and code at that rate is at 100%, not flagged. */
Test(fresh, the_reference_in_the_run_is_a_floor_under_the_roof) {
  int64_t n = (int64_t)(8 * em_cpu_llc_bytes() / 4);
  em_peaks p = peaks_of(20.0);
  double t_ref = 8.0 * (double)n / 60e9; /* the reference: 60 GB/s, three times the stale peaks */
  em_case_result r = judged(n, t_ref, t_ref, &p, 0);
  cr_expect(!r.impossible_speed);
  cr_expect_float_eq(r.roof_gbps, 60.0, 1e-6);
  cr_expect_float_eq(r.roofline_frac, 1.0, 1e-6);
}

Test(fresh, a_small_working_set_or_unreliable_peaks_flag_nothing) {
  em_peaks p = peaks_of(40.0);
  int64_t small = (int64_t)(em_cpu_llc_bytes() / 4 / 4); /* x and z: half the cache */
  double t = 8.0 * (double)small / 40e9;
  cr_expect(!judged(small, t / 10, t, &p, 0).impossible_speed, "a case in the cache may run beyond the DRAM roof");
  int64_t n = (int64_t)(8 * em_cpu_llc_bytes() / 4);
  double t_roof = 8.0 * (double)n / 40e9;
  cr_expect(!judged(n, t_roof / 10, t_roof * 5, &p, 1).impossible_speed, "peaks measured under load are no limit");
}

/* In a run: the table marks nothing for the reference solution against peaks a hundred times too
 * low (its own rate is the roof), and says the peaks came from a contended cache. */
static const char *write_low_peaks(const char *dir, int under_load) {
  char cpu[128];
  em_cpu_name(cpu, sizeof cpu);
  const char *path = t_str("%s/peaks.json", dir);
  t_write_file(path, t_str("{\"schema\": \"em-peaks/4\", \"cpu\": {\"name\": \"%s\", \"threads\": 2, \"copy_gbps\": 0.2,"
                           " \"fma_gflops\": 1.0, \"int8_gops\": 4.0, \"read_gbps\": 0.2, \"write_plain_gbps\": 0.2, \"write_nt_gbps\": 0,"
                           " \"copy_plain_gbps\": 0.2, \"copy_nt_gbps\": 0%s}}\n",
                           cpu, under_load ? ", \"under_load\": true" : ""));
  return path;
}

static json_t *run_big_case(const char *peaks, t_proc *p) {
  const char *json = t_str("%s/r.json", t_tmpdir());
  const char *argv[] = {T_SOLUTION, "--peaks", peaks, "--json", json, "--track", "cpu", "--threads", "2",
                        "--case", "=n=2^26", "--budget", "0.02", NULL};
  t_spawn(p, 100, -1, argv);
  t_assert_exit(p, 0);
  return t_load_json(json);
}

Test(fresh, the_reference_is_never_impossible, .timeout = 120) {
  t_proc p;
  json_t *root = run_big_case(write_low_peaks(t_tmpdir(), 0), &p);
  json_t *c = t_get_case(root, "cpu", 'b', "n=2^26");
  cr_expect(!json_is_true(json_object_get(c, "impossible_speed")), "%s", t_json_str(c, "speed_note"));
  cr_expect_lt(t_json_num(c, "roofline_frac"), EM_IMPOSSIBLE_ROOF);
  const em_case *sc = t_spec_case(1, 'b', "n=2^26");
  cr_expect_gt(t_json_num(json_object_get(c, "score"), "points"), sc->points, "performance points kept");
  json_decref(root);
  t_proc_free(&p);
}

/* Peaks cached under load are said to be so. */
Test(fresh, peaks_cached_under_load_are_said, .timeout = 120) {
  t_proc p;
  json_t *root = run_big_case(write_low_peaks(t_tmpdir(), 1), &p);
  t_assert_output_has(&p, "from a cache measured while other programs held the cores");
  json_decref(root);
  t_proc_free(&p);
}

/* Every timed call is counted and its time added up, for the grader's clock to check. */
Test(fresh, results_count_the_timed_calls, .timeout = 120) {
  t_proc p;
  json_t *root = run_big_case(write_low_peaks(t_tmpdir(), 1), &p);
  json_t *c = t_get_case(root, "cpu", 'b', "n=2^26");
  double calls = t_json_num(c, "timed_calls"), secs = t_json_num(c, "timed_s");
  cr_expect_geq(calls, 9, "3 rounds of 3 implementations at least, got %g calls", calls);
  cr_expect_gt(secs, 0);
  cr_expect_geq(t_json_num(c, "compared_calls"), 0);
  json_t *timing = json_object_get(root, "timing");
  cr_expect_float_eq(t_json_num(timing, "timed_s"), secs, 1e-9);
  cr_expect_float_eq(t_json_num(timing, "timed_calls"), calls, 1e-9);
  json_decref(root);
  t_proc_free(&p);
}

/* ---- the same on the GPU: rows exchanged by a kernel, poison written and read back through
 * 4-byte copies, the comparison counted on the device. The code under test is lab 1's reference
 * (z = x + 1), a copy of a kept result, or nothing. */

static const float *g_dev_stale; /* device pointer of a kept result; (const float *)1: do nothing */

static int invoke_add1_cuda(const em_call *k) {
  const float *x = (const float *)k->t[0].dev;
  float *z = (float *)k->t[1].dev;
  int64_t n = k->t[1].numel;
  if (k->impl == EM_IMPL_REFERENCE || !g_dev_stale) return em_add_b_cuda(x, 1.0f, z, n);
  if (g_dev_stale == (const float *)1) return EM_OK;
  return em_cuda_copy_device(z, g_dev_stale, (size_t)n * sizeof *z);
}

static const em_lab add1_cuda_lab = {.number = 99, .name = "add1", .invoke = invoke_add1_cuda};

static void setup_cuda(fixture *f, int64_t n, double case_bytes, em_fresh *fr) {
  memset(f, 0, sizeof *f);
  f->t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 1, .shape = {n}, .numel = n};
  f->t[1] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {n}, .numel = n,
                        .rtol = 0x1p-23, .atol = 0};
  float *x = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; ++i) x[i] = (float)i;
  for (int i = 0; i < 2; ++i) cr_assert_eq(em_cuda_alloc(&f->t[i].dev, (size_t)n * 4), EM_OK);
  cr_assert_eq(em_cuda_copy_to_device(f->t[0].dev, x, (size_t)n * 4), EM_OK);
  free(x);
  f->k = (em_call){.lab = &add1_cuda_lab, .track = EM_TRACK_CUDA, .impl = EM_IMPL_CANDIDATE, .t = f->t, .nt = 2};
  f->ref = f->k;
  f->ref.impl = EM_IMPL_REFERENCE;
  cr_assert_eq(em_fresh_init(fr, f->t, 2, EM_TRACK_CUDA, case_bytes), EM_OK);
}

static void teardown_cuda(fixture *f, em_fresh *fr) {
  em_fresh_free(fr);
  em_cuda_free(f->t[0].dev);
  em_cuda_free(f->t[1].dev);
  g_dev_stale = NULL;
}

static int timed_call_cuda(fixture *f, em_fresh *fr) {
  cr_assert_eq(em_fresh_vary(fr), EM_OK);
  cr_assert_eq(em_fresh_poison(fr), EM_OK);
  cr_assert_eq(f->k.lab->invoke(&f->k), EM_OK);
  cr_assert_eq(em_cuda_sync(), EM_OK);
  return em_fresh_check(fr, &f->ref);
}

Test(fresh, cuda_rows_exchanged_and_reuse_caught) {
  t_need_gpu();
  enum { N = 1 << 20 };
  fixture f;
  em_fresh fr;
  setup_cuda(&f, N, 2.0 * N * 8, &fr); /* x is half the traffic: large, two elements exchanged */
  float *before = malloc(N * 4), *now = malloc(N * 4);
  cr_assert_eq(em_cuda_copy_to_host(before, f.t[0].dev, N * 4), EM_OK);
  cr_assert_eq(em_fresh_vary(&fr), EM_OK);
  cr_assert_eq(em_cuda_copy_to_host(now, f.t[0].dev, N * 4), EM_OK);
  int moved = 0;
  for (int i = 0; i < N; ++i) moved += before[i] != now[i];
  cr_expect_eq(moved, 2, "%d elements moved on the device, want the two exchanged", moved);

  for (int call = 0; call < 20; ++call) cr_assert_eq(timed_call_cuda(&f, &fr), EM_OK, "call %d: %s", call, fr.reason);
  cr_expect_gt(fr.compared, 2);

  g_dev_stale = (const float *)1;
  cr_expect_eq(timed_call_cuda(&f, &fr), EM_EREUSED);
  cr_expect(strstr(fr.reason, "still held the NaN") != NULL, "%s", fr.reason);

  void *kept;
  cr_assert_eq(em_cuda_alloc(&kept, N * 4), EM_OK);
  cr_assert_eq(em_cuda_copy_device(kept, f.t[1].dev, N * 4), EM_OK);
  g_dev_stale = kept;
  int err = EM_OK, calls = 0;
  while (err == EM_OK && calls++ < 64) err = timed_call_cuda(&f, &fr);
  cr_expect_eq(err, EM_EREUSED, "64 calls handed back a kept result unseen");
  cr_expect(strstr(fr.reason, "differ from the reference solution's") != NULL, "%s", fr.reason);
  em_cuda_free(kept);
  free(before), free(now);
  teardown_cuda(&f, &fr);
}

/* A small input on the GPU is shuffled whole through the host. */
Test(fresh, cuda_small_input_shuffled) {
  t_need_gpu();
  enum { N = 4096 };
  fixture f;
  em_fresh fr;
  setup_cuda(&f, N, 1e12, &fr);
  float before[N], now[N];
  cr_assert_eq(em_cuda_copy_to_host(before, f.t[0].dev, sizeof before), EM_OK);
  cr_assert_eq(em_fresh_vary(&fr), EM_OK);
  cr_assert_eq(em_cuda_copy_to_host(now, f.t[0].dev, sizeof now), EM_OK);
  int moved = 0;
  for (int i = 0; i < N; ++i) moved += before[i] != now[i];
  cr_expect_gt(moved, 4000);
  teardown_cuda(&f, &fr);
}

/* EM_FRESH_PERTURB (compute-bound labs): every call flips the lowest bit of about half of the
 * elements of every input, nothing else, and a different half each call: no row, head or block of
 * the input is left as it was for a result kept per piece. */
Test(fresh, perturb_flips_low_bits_of_every_row_each_call) {
  fixture f;
  em_fresh fr;
  setup(&f, 1024, 64, 1e12, &fr);
  fr.perturb = 1;
  int64_t n = f.t[0].numel;
  uint32_t *before = malloc((size_t)n * 4), *mid = malloc((size_t)n * 4);
  cr_assert(before && mid);
  memcpy(before, f.t[0].work, (size_t)n * 4);
  cr_assert_eq(em_fresh_vary(&fr), EM_OK);
  memcpy(mid, f.t[0].work, (size_t)n * 4);
  const uint32_t *now = (const uint32_t *)f.t[0].work;
  int64_t flipped = 0;
  for (int64_t r = 0; r < 1024; ++r) {
    int64_t in_row = 0;
    for (int64_t c = 0; c < 64; ++c) {
      uint32_t d = before[r * 64 + c] ^ now[r * 64 + c];
      cr_assert(d == 0 || d == 1, "only the lowest bit may change, [%lld] changed by %#x", (long long)(r * 64 + c), d);
      in_row += d;
    }
    cr_assert_gt(in_row, 0, "row %lld kept every element", (long long)r);
    flipped += in_row;
  }
  cr_assert(flipped > n * 45 / 100 && flipped < n * 55 / 100, "%lld of %lld flipped, want about half", (long long)flipped,
            (long long)n);
  cr_assert_eq(em_fresh_vary(&fr), EM_OK);
  cr_assert_neq(memcmp(mid, f.t[0].work, (size_t)n * 4), 0, "the second call must change the inputs again");
  free(before), free(mid);
  teardown(&f, &fr);
}

/* A compute-bound case (1000 FLOPs a byte) far beyond the FMA rate is not flagged: its roof is a
 * rate other units may pass (tensor cores), and fresh inputs guard its time instead. */
Test(fresh, compute_bound_cases_are_not_flagged) {
  int64_t n = (int64_t)(8 * em_cpu_llc_bytes() / 4);
  em__bufs b;
  memset(&b, 0, sizeof b);
  b.nt = 2;
  b.t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 1, .shape = {n}, .numel = n};
  b.t[1] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {n}, .numel = n};
  em_run_opts o;
  memset(&o, 0, sizeof o);
  o.peaks = peaks_of(40.0);
  em_case_result r;
  memset(&r, 0, sizeof r);
  r.bytes = 8.0 * (double)n, r.flops = 1000.0 * r.bytes;
  r.ref_time_s = r.flops / 1000e9;     /* the reference at the FMA rate */
  r.time_s = r.ref_time_s / 10;        /* ten times the FMA rate */
  em__roofline(EM_TRACK_CPU, &o, &b, &r);
  em__flag_impossible(EM_TRACK_CPU, &o, &b, &r);
  cr_expect_gt(r.roofline_frac, 5.0);
  cr_expect(!r.impossible_speed, "a compute-bound case flagged: %s", r.speed_note);
}

/* bfloat16 work on the GPU is held to the tensor cores' rate; without that rate there is no roof. */
Test(fresh, bf16_gpu_roof_is_the_tensor_cores) {
  em__bufs b;
  memset(&b, 0, sizeof b);
  b.nt = 2;
  b.t[0] = (em_tensor){.name = "q", .dtype = EM_BF16, .ndim = 1, .shape = {1 << 20}, .numel = 1 << 20};
  b.t[1] = (em_tensor){.name = "o", .dtype = EM_BF16, .is_output = 1, .ndim = 1, .shape = {1 << 20}, .numel = 1 << 20};
  em_run_opts o;
  memset(&o, 0, sizeof o);
  o.peaks.gpu_read_gbps = o.peaks.gpu_copy_gbps = o.peaks.gpu_write_gbps = 4000;
  o.peaks.gpu_fma_gflops = 60000;
  em_case_result r;
  memset(&r, 0, sizeof r);
  r.bytes = 4.0 * (1 << 20), r.flops = 1000.0 * r.bytes, r.time_s = r.flops / 300e12, r.ref_time_s = 1.0;
  em__roofline(EM_TRACK_CUDA, &o, &b, &r);
  cr_expect(isnan(r.roofline_frac), "no tensor-core rate measured: no roof, not 500%% of the FMA rate");
  o.peaks.gpu_bf16_tc_gflops = 600000;
  em__roofline(EM_TRACK_CUDA, &o, &b, &r);
  cr_expect_float_eq(r.roofline_frac, 0.5, 1e-9, "300 of 600 TFLOP/s");
}

/* int8 products (em_lab.int8_ops: lab 8's forward) are held to the int8 rate on both tracks, a
 * case that mixes them with float32 work (lab 8's layer step) to the two rates in sequence, and a
 * case without them (the backward) to the FMA rate. */
Test(fresh, int8_products_are_held_to_the_int8_rate) {
  const em_lab *lab = em_lab_find(8);
  cr_assert(lab && lab->int8_ops, "lab 8 counts its int8 operations");
  em__bufs b;
  memset(&b, 0, sizeof b);
  b.nt = 2;
  b.t[0] = (em_tensor){.name = "xq", .dtype = EM_I8, .ndim = 1, .shape = {1 << 20}, .numel = 1 << 20};
  b.t[1] = (em_tensor){.name = "y", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {1 << 20}, .numel = 1 << 20};
  em_run_opts o;
  memset(&o, 0, sizeof o);
  o.peaks.cpu_read_gbps = o.peaks.cpu_copy_gbps = o.peaks.cpu_write_gbps = 50;
  o.peaks.gpu_read_gbps = o.peaks.gpu_copy_gbps = o.peaks.gpu_write_gbps = 4000;
  o.peaks.cpu_fma_gflops = 200, o.peaks.cpu_int8_gops = 800;
  o.peaks.gpu_fma_gflops = 60000, o.peaks.gpu_int8_tc_gops = 1200000;
  em_case_result r;
  memset(&r, 0, sizeof r);
  r.lab = lab, r.c.part = 'b', r.c.dim[0] = r.c.dim[1] = r.c.dim[2] = 1024;
  const double mnk2 = 2.0 * 1024 * 1024 * 1024;
  r.flops = mnk2, r.bytes = 1.0 * (1 << 20), r.ref_time_s = 1.0; /* far beyond the memory roof */
  r.time_s = r.flops / 400e9;
  em__roofline(EM_TRACK_CPU, &o, &b, &r);
  cr_expect_float_eq(r.roofline_frac, 0.5, 1e-9, "400 of 800 G int8 op/s, not 200%% of the FMA rate");
  cr_expect_str_eq(r.compute_peak, "cpu_int8_gops");
  r.time_s = r.flops / 600e12;
  em__roofline(EM_TRACK_CUDA, &o, &b, &r);
  cr_expect_float_eq(r.roofline_frac, 0.5, 1e-9, "600 of 1200 T int8 op/s on the tensor cores");

  /* the step: 2·MNK int8 and 4·MNK float32 operations take 2/800 + 4/200 time units per G: the
   * roof is 6 / (2/800 + 4/200) = 266.7 GOP/s, not the FMA rate's 200 */
  r.c.part = 'd', r.flops = 3 * mnk2;
  r.time_s = (mnk2 / 800e9 + 2 * mnk2 / 200e9) * 2; /* half the roof's rate */
  em__roofline(EM_TRACK_CPU, &o, &b, &r);
  cr_expect_float_eq(r.roofline_frac, 0.5, 1e-9, "the step at half of its mixed roof");
  cr_expect_str_eq(r.compute_peak, "cpu_fma_gflops", "the float32 work is most of the step");

  o.peaks.cpu_int8_gops = 0;
  r.c.part = 'b', r.flops = mnk2, r.time_s = r.flops / 400e9;
  em__roofline(EM_TRACK_CPU, &o, &b, &r);
  cr_expect(isnan(r.roofline_frac), "no int8 rate measured: no roof rather than the FMA rate's");
  r.c.part = 'c'; /* the backward multiplies in float32 */
  r.time_s = r.flops / 100e9;
  em__roofline(EM_TRACK_CPU, &o, &b, &r);
  cr_expect_float_eq(r.roofline_frac, 0.5, 1e-9, "part (c): 100 of 200 GFLOP/s");
}
