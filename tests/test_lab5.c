/* Lab 5 (long sum) end to end: the spec and its tolerance, the references called directly, and the
 * real em-check binaries (reference solution, untouched skeleton, planted wrong implementations)
 * judged by their exit status, their output and results.json.
 *
 * Correctness runs use --no-timing and a temporary results file, as in test_checker.c. The CUDA
 * tests skip without a GPU.
 */
#include <math.h>
#include <stdint.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "helpers.h"

/* ---- the spec ------------------------------------------------------------------------------- */

/* ⌈log2 t⌉ + EM_SUM_SLACK, computed differently from the spec (frexp, not a shift loop). */
static int depth_allowed(int64_t t) {
  int e;
  double m = frexp((double)t, &e); /* t = m·2^e, m in [0.5, 1) */
  int lg = m == 0.5 ? e - 1 : e;   /* exact powers of two: log2 t itself */
  return lg + EM_SUM_SLACK;
}

static double gamma_allowed(int64_t t) {
  double du = depth_allowed(t) * 0x1p-24;
  return du / (1.0 - du);
}

T_SPEC_SUITE(5, 30, "sum", "lab5-sum", .parts = "a", .dims = "b t", .fresh_mode = EM_FRESH_ROWS, .fits_table = 1)

Test(lab5_spec, speed_cases_beyond_the_caches_and_empty_shapes_refused) {
  const em_lab *lab = t_lab(5);
  int perf[EM_NTRACKS] = {0};
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    if (!(c->perf_points > 0)) continue;
    for (int tr = 0; tr < EM_NTRACKS; ++tr) {
      if (!t_runs_on(c, (em_track)tr)) continue;
      perf[tr]++;
      /* Far beyond the caches: the course VM's L3 is 36 MiB, the H200's L2 60 MB. */
      double need = tr == EM_TRACK_CPU ? 128.0 * (1 << 20) : 1024.0 * (1 << 20);
      cr_expect(lab->bytes(c) >= need, "speed case \"%s\" moves only %.0f MiB on %s", c->name, lab->bytes(c) / (1 << 20),
                tr ? "cuda" : "cpu");
    }
  }
  cr_expect(perf[EM_TRACK_CPU] >= 2 && perf[EM_TRACK_CUDA] >= 2, "speed cases per track: cpu %d, cuda %d",
            perf[EM_TRACK_CPU], perf[EM_TRACK_CUDA]);
  em_case bad = {'a', "b=0", {0, 5}, 0, 0, 1, 0, 0};
  cr_expect(lab->invalid(&bad) != NULL, "b = 0 must be refused");
  bad.dim[0] = 5, bad.dim[1] = 0;
  cr_expect(lab->invalid(&bad) != NULL, "t = 0 must be refused");
}

Test(lab5_spec, bytes_and_flops) {
  const em_lab *lab = t_lab(5);
  em_case c = {'a', "x", {3, 1000}, 0, 0, 1, 0, 0};
  cr_expect_eq(lab->bytes(&c), 4.0 * (3 * 1000 + 3), "x read once, z written once");
  cr_expect_eq(lab->flops(&c), 3000.0);
}

/* The tolerance is the one the header and README state: per row, γ(⌈log2 t⌉ + 8)·Σ|x|, nothing
 * relative to the result, nothing absolute. */
Test(lab5_spec, tolerance_is_gamma_times_sum_of_abs) {
  const em_lab *lab = t_lab(5);
  int64_t shapes[][2] = {{3, 1}, {2, 2}, {4, 1024}, {3, 1025}, {2, 65537}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    for (int kind = 0; kind < lab->nvalue_kinds; ++kind) {
      em_case c = {'a', "tol", {shapes[s][0], shapes[s][1]}, kind, 0, 1, 0, 0};
      em_tensor t[EM_MAX_TENSORS];
      memset(t, 0, sizeof t);
      int nt = lab->describe(&c, t);
      cr_assert_eq(nt, 2);
      cr_expect_eq(t[1].rtol, 0.0);
      cr_expect_eq(t[1].atol, 0.0);
      cr_expect(t[1].tol_why && strlen(t[1].tol_why) > 20, "the tolerance says why");
      int64_t b = shapes[s][0], n = shapes[s][1];
      t[0].numel = b * n;
      t[1].numel = b;
      t[0].host = em_host_alloc((size_t)(b * n) * sizeof(float));
      t[1].want = em_host_alloc((size_t)b * sizeof(double));
      lab->fill(&c, 5, 77, t);
      lab->oracle(&c, t);
      cr_assert(t[1].atol_each != NULL, "the oracle fills atol_each");
      const float *x = t[0].host;
      for (int64_t i = 0; i < b; ++i) {
        double a = 0, w = 0;
        for (int64_t j = 0; j < n; ++j) a += fabs((double)x[i * n + j]), w += x[i * n + j];
        cr_expect(fabs(t[1].want[i] - w) <= 1e-12 * a, "oracle row %lld", (long long)i);
        double want = gamma_allowed(n) * a;
        cr_expect(fabs(t[1].atol_each[i] - want) <= 1e-12 * want, "t=%lld kind %d row %lld: atol_each %g, want %g",
                  (long long)n, kind, (long long)i, t[1].atol_each[i], want);
      }
      em_host_free(t[0].host);
      em_host_free(t[1].want);
      em_host_free(t[1].atol_each);
    }
  }
  cr_expect_eq(depth_allowed(1), 8);
  cr_expect_eq(depth_allowed(1024), 18);
  cr_expect_eq(depth_allowed(1025), 19);
}

/* ---- the references, called directly ----------------------------------------------------------
 * Positive values (Σ|x| = Σx, the hardest case for the order) against the references' own claim,
 * a tree of depth ≤ ⌈log2 t⌉ + 5: three units tighter than the checker. */

static int depth_claimed(int64_t t) { return depth_allowed(t) - EM_SUM_SLACK + 5; }

typedef struct shape {
  int64_t b, t;
} shape;

static const shape ref_shapes[] = {
    {1, 1},   {5, 1},    {3, 2},      {7, 3},      {5, 8},      {9, 9},       {300, 7},    {40, 31},
    {3, 33},  {17, 64},  {5, 255},    {3, 256},    {5, 257},    {2, 1023},    {3, 1024},   {3, 1025},
    {2, 4097}, {3, 16385}, {2, 70001}, {1, 150001}, {7, 40009}, {1, 1 << 20}, {3000, 17}, {2, (1 << 21) + 3},
};

static void fill_positive(float *x, int64_t n, uint32_t id) {
  em_rng_fill_uniform_f32(x, n, (em_rng_key){2026, id, 0}, 0.0f, 1.0f);
}

/* Every z[i] written (the poison is NaN, which fails), and within `depth` rounding units of Σ|x|. */
static void expect_close(const char *who, const float *x, const float *z, int64_t b, int64_t t, int depth) {
  double *want = malloc((size_t)b * sizeof *want);
  em_sum_oracle(x, want, b, t);
  double g = depth * 0x1p-24 / (1 - depth * 0x1p-24);
  for (int64_t i = 0; i < b; ++i) {
    double tol = g * want[i]; /* positive inputs: Σ|x| = Σx */
    cr_expect(fabs(z[i] - want[i]) <= tol, "%s b=%lld t=%lld row %lld: got %.9g, want %.9g (allowed %.3g)", who,
              (long long)b, (long long)t, (long long)i, z[i], want[i], tol);
  }
  free(want);
}

TestSuite(lab5_reference, .timeout = 300);

Test(lab5_reference, cpu_is_a_shallow_tree_at_any_thread_count) {
  for (size_t s = 0; s < sizeof ref_shapes / sizeof ref_shapes[0]; ++s) {
    int64_t b = ref_shapes[s].b, t = ref_shapes[s].t;
    float *x = em_host_alloc((size_t)(b * t) * sizeof(float)), *z = em_host_alloc((size_t)b * sizeof(float));
    float *z2 = em_host_alloc((size_t)b * sizeof(float));
    fill_positive(x, b * t, (uint32_t)s);
    for (int threads = 1; threads <= 5; threads += 2) {
#if defined(_OPENMP)
      omp_set_num_threads(threads);
#endif
      em_fill_u32(z, b, EM_POISON_U32);
      em_sum_cpu(x, z, b, t);
      expect_close(t_str("em_sum_cpu (%d threads)", threads), x, z, b, t, depth_claimed(t));
      em_sum_cpu(x, z2, b, t);
      cr_expect(memcmp(z, z2, (size_t)b * sizeof(float)) == 0, "em_sum_cpu is not deterministic at b=%lld t=%lld",
                (long long)b, (long long)t);
    }
    em_host_free(x), em_host_free(z), em_host_free(z2);
  }
}

/* The naive baseline is slow but correct: one float64 chain. */
Test(lab5_reference, naive_cpu_is_correct_on_a_long_positive_row) {
  int64_t b = 2, t = (1 << 22) + 1;
  float *x = em_host_alloc((size_t)(b * t) * sizeof(float)), *z = em_host_alloc((size_t)b * sizeof(float));
  fill_positive(x, b * t, 99);
  em_sum_naive_cpu(x, z, b, t);
  expect_close("em_sum_naive_cpu", x, z, b, t, 2); /* float64 chain, one final rounding: 2 units are plenty */
  em_host_free(x), em_host_free(z);
}

/* The CUDA references, on pointers of every alignment (x + 0..3 floats: rows then start anywhere),
 * in every regime of em_sum_cuda (thread, warp, one block, split rows). */
Test(lab5_reference, cuda_is_a_shallow_tree_and_deterministic) {
#if !EM_HAVE_CUDA
  /* Built without nvcc (or NO_CUDA=1): em_sum_cuda does not exist to link against. */
  cr_skip_test("built without CUDA: no em_sum_cuda to test");
#else
  t_need_gpu();
  for (size_t s = 0; s < sizeof ref_shapes / sizeof ref_shapes[0]; ++s) {
    int64_t b = ref_shapes[s].b, t = ref_shapes[s].t, n = b * t;
    float *x = em_host_alloc((size_t)(n + 4) * sizeof(float)), *z = em_host_alloc((size_t)b * sizeof(float));
    float *z2 = em_host_alloc((size_t)b * sizeof(float));
    fill_positive(x, n + 4, (uint32_t)s);
    void *dx = NULL, *dz = NULL;
    cr_assert_eq(em_cuda_alloc(&dx, (size_t)(n + 4) * sizeof(float)), EM_OK, "%s", em_error_detail());
    cr_assert_eq(em_cuda_alloc(&dz, (size_t)b * sizeof(float)), EM_OK, "%s", em_error_detail());
    cr_assert_eq(em_cuda_copy_to_device(dx, x, (size_t)(n + 4) * sizeof(float)), EM_OK);
    for (int off = 0; off < 4; ++off) {
      const float *dxo = (const float *)dx + off;
      for (int naive = 0; naive < 2; ++naive) {
        cr_assert_eq(em_cuda_fill_u32(dz, b, EM_POISON_U32), EM_OK);
        int err = naive ? em_sum_naive_cuda(dxo, dz, b, t) : em_sum_cuda(dxo, dz, b, t);
        cr_assert_eq(err, EM_OK, "%s", em_error_detail());
        cr_assert_eq(em_cuda_sync(), EM_OK, "%s", em_error_detail());
        cr_assert_eq(em_cuda_copy_to_host(naive ? z2 : z, dz, (size_t)b * sizeof(float)), EM_OK);
      }
      const char *who = t_str("em_sum_cuda (x + %d)", off);
      expect_close(who, x + off, z, b, t, depth_claimed(t));
      /* The naive's float chains of t/1024 are no tree: hold it to the checker's tolerance. */
      expect_close(t_str("em_sum_naive_cuda (x + %d)", off), x + off, z2, b, t, depth_allowed(t));
      cr_assert_eq(em_sum_cuda(dxo, dz, b, t), EM_OK, "%s", em_error_detail());
      cr_assert_eq(em_cuda_copy_to_host(z2, dz, (size_t)b * sizeof(float)), EM_OK);
      cr_expect(memcmp(z, z2, (size_t)b * sizeof(float)) == 0, "%s is not deterministic at b=%lld t=%lld", who,
                (long long)b, (long long)t);
    }
    em_cuda_free(dx), em_cuda_free(dz);
    em_host_free(x), em_host_free(z), em_host_free(z2);
  }
#endif
}

/* ---- the reference solution through the checker ---------------------------------------------- */

TestSuite(lab5_solution, .timeout = 300);

Test(lab5_solution, passes_cpu_track) {
  json_t *root = t_check_solution(5, "cpu", NULL);
  cr_expect_str_eq(t_json_str(t_get_case(root, "cpu", 'a', "one long row"), "shape"), "b=1 t=16777217");
  json_decref(root);
}

/* Another seed and other thread counts: other inputs, other split points inside rows. */
Test(lab5_solution, passes_at_other_seeds_and_thread_counts) {
  static const char *const runs[][4] = {{"--seed", "7", "--threads", "1"}, {"--seed", "11", "--threads", "3"}};
  t_solution_passes_with(5, runs, T_COUNT(runs));
}

Test(lab5_solution, cuda_track_skips_or_passes) { json_decref(t_check_solution(5, "cuda", NULL)); }

/* ---- the untouched skeleton: the TODO of lab5_sum is the one a call meets first ------------------- */

TestSuite(lab5_skeleton, .timeout = 300);

Test(lab5_skeleton, fails_pointing_at_the_todo) { json_decref(t_check_skeleton(5, "cpu", "void lab5_sum(")); }
Test(lab5_skeleton, cuda_track_points_at_the_todo) { json_decref(t_check_skeleton(5, "cuda", "void lab5_sum_cuda(")); }

/* The skeletons compile without a single warning under the student flags (the Makefile's
 * STUDENT_CFLAGS and STUDENT_NVCCFLAGS, with warnings made errors here). */
Test(lab5_skeleton, compiles_without_warnings) {
  const char *dir = t_tmpdir();
  t_proc p;
  t_run(&p, 60, "gcc", "-std=c11", "-O3", "-fopenmp", "-Wall", "-Wextra", "-Werror", "-Iinclude", "-c",
        "labs/lab5-sum/sum.c", "-o", t_str("%s/sum.o", dir));
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  if (!em_cuda_built()) return; /* no nvcc in this build */
  const char *nvcc = getenv("NVCC");
  if (!nvcc || !*nvcc) nvcc = t_exists("/usr/local/cuda/bin/nvcc") ? "/usr/local/cuda/bin/nvcc" : "nvcc";
  t_run(&p, 180, nvcc, "-std=c++17", "-O3", "-arch=sm_90", "-Xcompiler", "-Wall,-Wextra,-Werror", "-Werror",
        "all-warnings", "-Iinclude", "-c", "labs/lab5-sum/sum.cu", "-o", t_str("%s/sum.cu.o", dir));
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* ---- planted wrong implementations (tests/planted/lab5/) --------------------------------------- */

static t_planted lab5_planted_files[] = {
    /* The lesson of the lab: right on mean-zero rows, wrong on long positive ones. */
    {.bug = "single_accumulator", .track = "cpu", .fails = "one long row", .first = 0,
     .passes = {"t=999983 prime", "cancelling long", "b=4096 t=8191"},
     .expect = {"fail (a) one long row: 1 of 1 elements of z wrong", "(error ", ", allowed "}},
    {.bug = "single_accumulator", .track = "cpu", .args = {"--case", "positive"}, .fails = "positive long", .first = T_ANY,
     .expect = {"fail (a) positive long: "}},
    {.bug = "single_accumulator", .track = "cpu", .args = {"--case", "positive"}, .fails = "positive t=4099",
     .first = T_ANY, .expect = {"fail (a) positive t=4099: "}},
    {.bug = "dropped_tail", .track = "cpu", .fails = "t=5", .first = 0, .passes = {"t=32", "t=256", "t=1024"},
     .expect = {"fail (a) t=5: 997 of 997 elements of z wrong; first at [0]: got 0,"}},
    {.bug = "dropped_tail", .track = "cpu", .fails = "t=1025", .first = 0, .passes = {"t=16384"},
     .expect = {"64 of 64 elements of z wrong"}},
    {.bug = "first_row_only", .track = "cpu", .fails = "t=1", .first = 1, .unwritten = 1,
     .passes = {"b=1 t=1", "one long row", "b=1 t=2^25"},
     .expect = {"999 never written", "the first elements were written, later ones not"}},
    {.bug = "row_stride", .track = "cpu", .fails = "t=2", .first = 1, .passes = {"t=1", "b=1 t=1", "one long row"},
     .expect = {"998 of 999 elements of z wrong"}},
    /* One float chain per row: slow (a minute of GPU time, mostly b = 8 rows of 2^25 on 8 threads)
     * and wrong on the positive rows, right on the mean-zero ones. */
    {.bug = "thread_per_row", .track = "cuda", .fails = "positive long", .first = T_ANY,
     .passes = {"t=999983 prime", "cancelling long", "b=1024 t=2^18"},
     .expect = {"fail (a) positive long: ", "(error ", ", allowed "}},
    {.bug = "dropped_tail", .track = "cuda", .fails = "t=5", .first = 0, .passes = {"t=4", "t=32", "t=1024"},
     .expect = {"997 of 997 elements of z wrong"}},
    {.bug = "no_final_warp_sync", .track = "cuda", .fails = "t=1025", .first = 0, .passes = {"t=1", "b=1 t=1"},
     .expect = {"64 of 64 elements of z wrong"}},
    {.bug = "first_row_only", .track = "cuda", .fails = "t=1", .first = 1, .unwritten = 1,
     .passes = {"b=1 t=1", "one long row"}, .expect = {"999 never written", "the first elements were written, later ones not"}},
};

T_PLANTED_SUITE(5)

/* The "allowed" of a failure message is the documented tolerance: γ(⌈log2 t⌉ + 8)·Σ|x| of the row,
 * recomputed here from the inputs the checker dumps. */
Test(lab5_planted, allowed_error_is_the_documented_bound) {
  const char *tmp = t_tmpdir(), *dump = t_str("%s/dump", tmp), *json = t_str("%s/r.json", tmp);
  t_proc p;
  t_checker(&p, 100, t_planted_bin(5, "single_accumulator", "cpu"), json, "--track", "cpu", "--no-timing", "--case",
            "positive t=4099", "--dump", dump, NULL);
  t_assert_exit(&p, 1);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, "cpu", 'a', "positive t=4099");
  const char *reason = t_json_str(c, "reason");
  long long row = json_integer_value(json_object_get(json_object_get(c, "first_mismatch"), "index"));
  const char *at = strstr(reason, ", allowed ");
  cr_assert(at != NULL, "reason: %s", reason);
  double allowed = atof(at + strlen(", allowed "));

  size_t len;
  const unsigned char *data;
  char header[512];
  char *buf = t_read_npy(t_str("%s/lab5-cpu-a-positive_t_4099/x.npy", dump), &len, &data, header, sizeof header);
  cr_assert(strstr(header, "(64, 4099)") != NULL, "x.npy header: %s", header);
  const float *x = (const float *)data + row * 4099;
  double a = 0;
  for (int j = 0; j < 4099; ++j) a += fabs((double)x[j]);
  double want = gamma_allowed(4099) * a; /* ⌈log2 4099⌉ = 13: 21 units */
  cr_expect(fabs(allowed - want) <= 2e-3 * want, "allowed %g in \"%s\", want %g", allowed, reason, want);
  free(buf);
  json_decref(root);
  t_proc_free(&p);
}

/* ---- work reused between timed calls (issue 9) ----------------------------------------------------
 * fingerprint.c / fingerprint.cu: right, but they skip the work when a hash of the whole input, the
 * pointers and the sizes are those of the previous call. Inputs changed before every timed call
 * leave them nothing to skip: they fail as reused work, or pass slower than the reference (plain
 * loops, and the input read once more for the hash). */
Test(lab5_planted, fingerprint_gains_nothing) { t_check_fingerprint(5, "cpu", T_REUSE_SLOWER); }
Test(lab5_planted, fingerprint_gains_nothing_cuda) { t_check_fingerprint(5, "cuda", T_REUSE_SLOWER); }
