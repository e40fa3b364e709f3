/* Lab 5 spec: z[i] = Σ_j x[i][j], x is b×t.
 *
 * ---- The tolerance, derived ------------------------------------------------------------------
 * Any order of summation is a binary tree of float additions over the t elements of a row. Each
 * addition rounds once, by a relative error of at most u = 2^-24, and an element's contribution
 * passes through the additions on its path to the root, d of them at most. Then (Higham, Accuracy
 * and Stability of Numerical Algorithms, 2nd ed., §4.2)
 *
 *     |computed − exact| ≤ γ_d · Σ_j |x_j|,   γ_d = d·u / (1 − d·u).
 *
 * The bound scales with Σ|x|, not with |Σx|: a row of mean zero and large values (the
 * "cancelling" cases) may have an exact sum near zero and an error as large as for its positive
 * twin, so a tolerance relative to the result would fail every correct order. Hence the checker's
 * per-element absolute tolerance, atol_each[i] = γ_d · Σ_j |x[i][j]|, with rtol = atol = 0.
 *
 * The orders accepted are those of depth d ≤ ⌈log2 t⌉ + c. A perfect pairwise sum has
 * d = ⌈log2 t⌉; real fast code keeps short sequential chains at the leaves and some unbalanced
 * levels, and the slack c = EM_SUM_SLACK = 8 is spent as follows:
 *     4  leaf chains: up to 4 elements per accumulator (a SIMD lane, a thread) before the tree;
 *     2  unbalanced levels: a padded tail, the combination of threads' or blocks' partials;
 *     1  the final rounding to float32 (an order that sums in float64 has only this one);
 *     1  the oracle's own float64 error (≤ t·2^-53·Σ|x| = 2^-28·Σ|x| at t = 2^25) and headroom.
 * Both references stay within ⌈log2 t⌉ + 5 (reference/cpu/sum.c, reference/cuda/sum.cu): with any
 * inputs, not only these random ones, they pass.
 *
 * What it rejects: one float accumulator running along the row (depth t − 1). Its worst case is
 * (t − 1)·u·Σ|x|; on random data the errors of its roundings partly cancel, and on positive rows it
 * loses (median over rows, measured with these inputs) 9u at t = 4099, 43u at t = 65537, 210u at
 * t = 2^21 and 650u at t = 2^24, against tolerances of 21u, 25u, 30u and 33u. A single row of
 * moderate length can pass by luck (15% of rows at t = 2^21), so the positive cases have many rows
 * (64 at t = 4099, 8 at t = 2^21 + 7) or one row so long that none passes (2^24 + 1). On mean-zero
 * data the running sum stays small (√t), and so do its roundings: the same loop passes the uniform
 * cases, which is why the positive ones exist. OpenMP's `reduction(+:s)` over one long row is the
 * same mistake spread over a few dozen chains: over a positive row of 2^24 + 1 with 2 threads ×
 * 8 lanes it lost 5u to 94u (7 rows of 12 passed), with 2 × 16 lanes 8u to 45u (10 of 12): it
 * passes at some seeds and fails at others. Blocked sums pass every time: inner blocks of a few
 * hundred elements with the block sums combined pairwise, or simply a float64 accumulator.
 */
#include <math.h>

#include <stdio.h>

#include "spec.h"

#pragma weak lab5_sum
#pragma weak lab5_sum_cuda

enum { UNIFORM, POSITIVE, CANCEL };
static const char *const value_kinds[] = {"uniform", "positive", "cancel"};
static const char *const dim_names[] = {"b", "t"};

/* Value ranges per kind, x drawn from [lo, hi):
 *   uniform:  mean zero, the everyday case; partial sums stay small (√t), and so do the errors.
 *   positive: every partial sum grows with t, and with it every rounding of a sequential chain:
 *             the case that separates long chains from trees.
 *   cancel:   mean zero at ±1e30: Σ|x| dwarfs |Σx| (by √t), so only a tolerance on Σ|x| is fair;
 *             and float16/bfloat16 arithmetic, or squares, overflow here. 1e30·t stays below
 *             FLT_MAX ≈ 3.4e38 for every t < 2^28, so every partial sum is finite. */
static const float lo_of[] = {-1.0f, 0.0f, -1e30f};
static const float hi_of[] = {1.0f, 1.0f, 1e30f};

/* The tolerance factor γ_d for rows of t elements (above). */
static double gamma_of(int64_t t) {
  int d = EM_SUM_SLACK;
  while (((int64_t)1 << (d - EM_SUM_SLACK)) < t) d++; /* + ⌈log2 t⌉ */
  double du = d * 0x1p-24;
  return du / (1.0 - du);
}

static int describe(const em_case *c, em_tensor *t) {
  int64_t b = c->dim[0], n = c->dim[1];
  t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 2, .shape = {b, n}};
  t[1] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {b},
                     .rtol = 0.0, .atol = 0.0,
                     .tol_why = "per row (ceil(log2 t) + 8) * 2^-24 * sum_j |x[i][j]|: the rounding error of a "
                                "tree-shaped sum; one float accumulator along a long row of positive values "
                                "exceeds it (sum in blocks, combine the block sums pairwise)"};
  return 2;
}

static void fill(const em_case *c, uint64_t seed, uint32_t case_id, em_tensor *t) {
  em_rng_fill_uniform_f32((float *)t[0].host, t[0].numel, (em_rng_key){seed, case_id, 0}, lo_of[c->values],
                          hi_of[c->values]);
}

static void oracle(const em_case *c, em_tensor *t) {
  const float *x = (const float *)t[0].host;
  int64_t b = c->dim[0], n = c->dim[1];
  em_sum_oracle(x, t[1].want, b, n);
  /* Σ|x| per row, in float64 like the oracle (relative error ≤ t·2^-53, negligible). */
  double *each = (double *)em_host_alloc((size_t)b * sizeof(double));
  if (!each) return; /* no slack at all: every inexact row fails, visibly, rather than passing */
  double g = gamma_of(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b; ++i) {
    double a = 0.0;
    for (int64_t j = 0; j < n; ++j) a += fabs((double)x[i * n + j]);
    each[i] = g * a;
  }
  t[1].atol_each = each;
}

typedef void (*cpu_fn)(const float *, float *, int64_t, int64_t);
typedef int (*cuda_fn)(const float *, float *, int64_t, int64_t);

static int invoke(const em_call *k) {
  const float *x = (const float *)em_call_arg(k, 0);
  float *z = (float *)em_call_arg(k, 1);
  int64_t b = k->c->dim[0], t = k->c->dim[1];
  /* The student's CUDA function returns nothing (the checker inspects CUDA's error state); the
   * library's return an error code like every libem function. */
  if (k->track == EM_TRACK_CUDA && !k->student_code) return ((cuda_fn)k->fn)(x, z, b, t);
  ((cpu_fn)k->fn)(x, z, b, t);
  return EM_OK;
}

static double flops(const em_case *c) { return (double)c->dim[0] * (double)c->dim[1]; }
/* Each element of x read once, each of z written once. */
static double bytes(const em_case *c) { return 4.0 * ((double)c->dim[0] * (double)c->dim[1] + (double)c->dim[0]); }

static const char *invalid(const em_case *c) {
  if (c->dim[0] < 1) return "b must be at least 1";
  if (c->dim[1] < 1) return "t must be at least 1";
  return NULL;
}

/* z[i] sums row i: its length, its range and Σ|x| (what the tolerance grows with). */
static void inputs_at(const em_case *c, const em_tensor *t, int out, int64_t i, char *buf, size_t len) {
  (void)out;
  int64_t n = c->dim[1];
  const float *x = (const float *)t[0].host + i * n;
  double lo = x[0], hi = x[0], abs = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    lo = x[j] < lo ? x[j] : lo, hi = x[j] > hi ? x[j] : hi;
    abs += fabs((double)x[j]);
  }
  snprintf(buf, len, "row %lld of x: %lld values in [%.9g, %.9g], sum of |x| = %.9g", (long long)i, (long long)n, lo,
           hi, abs);
}

static const em_part parts[] = {
    {'a', "sum every row", {"lab5_sum", "lab5_sum_cuda"},
     {EM_FN(lab5_sum), EM_FN(lab5_sum_cuda)},
     {EM_FN(em_sum_cpu), EM_CUDA_FN(em_sum_cuda)},
     {EM_FN(em_sum_naive_cpu), EM_CUDA_FN(em_sum_naive_cuda)}},
};


/* Sizes: t = 1 (nothing to add), 2–5 (float4 and its ragged rest), 7 with a million rows (per-row
 * overhead), warp edges 31/32/33, 256-thread block edges 255/256/257, 1023/1024/1025 (the most
 * threads of a block, and the reference's warp-per-row limit), 16383/16384/16385 (the
 * reference's 16 Ki-element chunk per block), primes (nothing tiles them), a row of 2^24 + 1 (b = 1:
 * all the parallelism is inside the row), long positive rows (where sequential error grows) and
 * cancelling rows. Speed cases far beyond the caches: 128 MiB on the CPU (the L3 is 36 MiB on the
 * course VM), 1 GiB on the GPU, each with one shape of few long rows and one of many rows. */
static const em_case cases[] = {
    CASE('a', "b=1 t=1", (1, 1), UNIFORM, ALL),
    CASE('a', "t=1", (1000, 1), UNIFORM, ALL),
    CASE('a', "t=2", (999, 2), UNIFORM, ALL),
    CASE('a', "t=3", (1001, 3), UNIFORM, ALL),
    CASE('a', "t=4", (1000, 4), UNIFORM, ALL),
    CASE('a', "t=5", (997, 5), UNIFORM, ALL),
    CASE('a', "t=7 b=2^20", (1 << 20, 7), UNIFORM, ALL),
    CASE('a', "t=31", (100, 31), UNIFORM, ALL),
    CASE('a', "t=32", (100, 32), UNIFORM, ALL),
    CASE('a', "t=33", (100, 33), UNIFORM, ALL),
    CASE('a', "t=255", (37, 255), UNIFORM, ALL),
    CASE('a', "t=256", (37, 256), UNIFORM, ALL),
    CASE('a', "t=257", (37, 257), UNIFORM, ALL),
    CASE('a', "t=1023", (64, 1023), UNIFORM, ALL),
    CASE('a', "t=1024", (64, 1024), UNIFORM, ALL),
    CASE('a', "t=1025", (64, 1025), UNIFORM, ALL),
    CASE('a', "t=16383", (9, 16383), UNIFORM, ALL),
    CASE('a', "t=16384", (9, 16384), UNIFORM, ALL),
    CASE('a', "t=16385", (9, 16385), UNIFORM, ALL),
    CASE('a', "t=4099 prime", (13, 4099), UNIFORM, ALL),
    CASE('a', "t=65537 prime", (5, 65537), UNIFORM, ALL),
    CASE('a', "t=999983 prime", (3, 999983), UNIFORM, ALL),
    CASE('a', "positive t=4099", (64, 4099), POSITIVE, ALL),
    CASE('a', "positive long", (8, (1 << 21) + 7), POSITIVE, ALL),
    CASE('a', "one long row", (1, (1 << 24) + 1), POSITIVE, ALL),
    CASE('a', "cancelling", (16, 65537), CANCEL, ALL),
    CASE('a', "cancelling long", (2, (1 << 22) + 3), CANCEL, ALL),
    PERF('a', "b=1 t=2^25", (1, 1 << 25), UNIFORM, CPU, 5),
    PERF('a', "b=4096 t=8191", (4096, 8191), UNIFORM, CPU, 5),
    CASE('a', "t=7 b=2^24", (1 << 24, 7), UNIFORM, GPU),
    CASE('a', "one row t=2^28", (1, 1 << 28), POSITIVE, GPU),
    PERF('a', "b=1024 t=2^18", (1024, 1 << 18), UNIFORM, GPU, 5),
    PERF('a', "b=8 t=2^25", (8, 1 << 25), UNIFORM, GPU, 5),
};

const em_lab em_lab_sum = {
    .number = 5,
    .name = "sum",
    .folder = "lab5-sum",
    .title = "long sum: z[i] = sum_j x[i][j]",
    .student_file = {"sum.c", "sum.cu"},
    .parts = parts,
    .nparts = EM_COUNT(parts),
    .cases = cases,
    .ncases = EM_COUNT(cases),
    .value_kinds = value_kinds,
    .nvalue_kinds = EM_COUNT(value_kinds),
    .ndims = EM_COUNT(dim_names),
    .dim_names = dim_names,
    .describe = describe,
    .fill = fill,
    .oracle = oracle,
    .invoke = invoke,
    .flops = flops,
    .bytes = bytes,
    .invalid = invalid,
    .inputs_at = inputs_at,
};
