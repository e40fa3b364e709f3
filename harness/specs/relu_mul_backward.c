/* Lab 4 spec: the backward of z[i][j] = relu(x[j]·y[i]):
 *   dx[j] = Σ_i dz[i][j]·y[i]·[x[j]·y[i] > 0],   dy[i] = Σ_j dz[i][j]·x[j]·[x[j]·y[i] > 0]
 * (the mask is the float32 product, as in the forward: include/em/relu_mul_backward.h).
 *
 * ---- The tolerance ------------------------------------------------------------------------------
 * Each output is a float32 sum of k terms (k = m for dx, n for dy), computed in some order. Count,
 * along one term's way to the result, the float32 roundings it goes through: its product (1), each
 * addition into a partial sum that is then rounded to float32, the final store. If no term meets
 * more than D of them, the computed sum s' of the exact sum s satisfies
 *       |s' − s| ≤ γ_D · Σ|term|,   γ_D = D·u / (1 − D·u),   u = 2^-24
 * (Higham, Accuracy and Stability of Numerical Algorithms, §4.2: every term is multiplied by at most
 * D factors (1 + δ) with |δ| ≤ u; float64 steps in between add factors of 1 + 2^-53, negligible
 * here). The bound scales with Σ|term|, not with |s|: a sum that cancels to nearly 0 keeps the
 * absolute error of its big terms. So the tolerance is per element, in atol_each:
 *       tol = (γ_D + 2k·2^-53) · Σ|term|,   D = ⌈log2 k⌉ + 32,   rtol = atol = 0,
 * where 2k·2^-53 covers the float64 oracle's own rounding (in the sum and in Σ|term|).
 *
 * Which orders fit D = ⌈log2 k⌉ + 32: a pairwise (tree) sum, ⌈log2 k⌉ + 2; float runs of up to ~30
 * terms (a SIMD lane's, a thread's rows of a tile) whose partial sums then meet in a tree or in
 * float64; float64 accumulators throughout (the naive baselines: 2). The references count at most
 * 17 (CPU) and 25 (CUDA) at every size, so they pass at every seed by this bound, not by luck.
 * What may not fit: ONE float32 accumulator over a long sum. Its worst case is k − 1 roundings,
 * and with terms of one sign its typical error grows like √k·u·Σ|term|. In "positive, long rows"
 * (32768 positive terms per row, 47 roundings allowed) a scalar float accumulator along each row
 * is off by about 40u: 12 to 25 of the 64 rows fail at every seed tried (1-20;
 * tests/planted/lab4/float_row_sum.c), while 8 SIMD lanes (runs of 4096) stay under 18u (0.38 of
 * the tolerance over seeds 1-30). With random signs (every other case) the partial sums random-walk
 * and even one accumulator stays within a few u. The other cases are sized so that plain float
 * accumulators pass them with room: "positive" has sums of 384 and 320 terms (a single float
 * accumulator per column, one thread, reached 0.46 of the tolerance over seeds 1-30).
 * The bound is far below what the mistakes cost: a term left out or added by a wrong mask is a
 * whole term, about Σ|term|/k, against (⌈log2 k⌉ + 32)·2^-24·Σ|term| ≈ 3e-6·Σ|term| at k = 2^14:
 * caught for every k below ~2^17, and the cases' sums are shorter than that or hit by the mistake
 * in many terms.
 */
#include <stdio.h>

#include "spec.h"

#pragma weak lab4_relu_mul_backward
#pragma weak lab4_relu_mul_backward_cuda

enum { UNIFORM, ZEROS, POSITIVE, TINY, LARGE };
static const char *const value_kinds[] = {"uniform", "zeros", "positive", "tiny", "large"};
static const char *const dim_names[] = {"m", "n"};

/* Value kinds:
 *   uniform:  x, y, dz in [−1, 1): random signs, half of the mask on.
 *   zeros:    as uniform, with a quarter of x and of y exactly ±0: the mask is off for every term
 *             with a zero factor, −0 included (a sign-bit test would call −0·−y positive).
 *   positive: x, y in [0.5, 1), dz in [0, 1): every term ≥ 0 and alike, the hardest case for a
 *             long float sum (no cancellation of rounding errors), the mask all on.
 *   tiny:     x, y in ±1e-22: about a quarter of the products x·y underflow to 0 in float32 and
 *             mask their terms off, as relu did in the forward; the terms dz·y, dz·x themselves
 *             are normal floats (~1e-22). A mask from the signs of x and y fails here.
 *   large:    x, y in ±1e18 (products up to 1e36, below FLT_MAX ≈ 3.4e38): terms and sums far
 *             beyond half precision's 65504. */
static void ranges(int kind, float *xy, float *g) {
  static const float xy_r[][2] = {{-1, 1}, {-1, 1}, {0.5f, 1}, {-1e-22f, 1e-22f}, {-1e18f, 1e18f}};
  static const float g_r[][2] = {{-1, 1}, {-1, 1}, {0, 1}, {-1, 1}, {-1, 1}};
  xy[0] = xy_r[kind][0], xy[1] = xy_r[kind][1], g[0] = g_r[kind][0], g[1] = g_r[kind][1];
}

/* A float32 sum of k terms may be off by this much per unit of Σ|term| (see the top of the file). */
static double sum_tolerance(int64_t k) {
  int log2k = 0;
  while (((int64_t)1 << log2k) < k) log2k++;
  double d = log2k + 32, u = 0x1p-24;
  return d * u / (1.0 - d * u) + 2.0 * (double)k * 0x1p-53;
}

static int describe(const em_case *c, em_tensor *t) {
  int64_t m = c->dim[0], n = c->dim[1];
  t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 1, .shape = {n}};
  t[1] = (em_tensor){.name = "y", .dtype = EM_F32, .ndim = 1, .shape = {m}};
  t[2] = (em_tensor){.name = "dz", .dtype = EM_F32, .ndim = 2, .shape = {m, n}};
  t[3] = (em_tensor){.name = "dx", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {n},
                     .tol_why = "a float32 sum of m terms: (ceil(log2 m) + 32)·2^-24·Σ|term|, per element"};
  t[4] = (em_tensor){.name = "dy", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {m},
                     .tol_why = "a float32 sum of n terms: (ceil(log2 n) + 32)·2^-24·Σ|term|, per element"};
  return 5;
}

/* About a quarter of v set to +0 or −0, by the stream of key. */
static void sprinkle_zeros(float *v, int64_t len, em_rng_key key) {
  for (int64_t i = 0; i < len; ++i) {
    uint32_t w = em_rng_u32(key, (uint64_t)i);
    if ((w & 3) == 0) v[i] = (w & 4) ? -0.0f : 0.0f;
  }
}

static void fill(const em_case *c, uint64_t seed, uint32_t case_id, em_tensor *t) {
  float xy[2], g[2];
  ranges(c->values, xy, g);
  em_rng_fill_uniform_f32((float *)t[0].host, t[0].numel, (em_rng_key){seed, case_id, 0}, xy[0], xy[1]);
  em_rng_fill_uniform_f32((float *)t[1].host, t[1].numel, (em_rng_key){seed, case_id, 1}, xy[0], xy[1]);
  em_rng_fill_uniform_f32((float *)t[2].host, t[2].numel, (em_rng_key){seed, case_id, 2}, g[0], g[1]);
  if (c->values == ZEROS) {
    sprinkle_zeros((float *)t[0].host, t[0].numel, (em_rng_key){seed, case_id, 3});
    sprinkle_zeros((float *)t[1].host, t[1].numel, (em_rng_key){seed, case_id, 4});
  }
}

static void oracle(const em_case *c, em_tensor *t) {
  int64_t m = c->dim[0], n = c->dim[1];
  /* Σ|term| lands in atol_each and becomes the tolerance in place. If the allocation fails the
   * tolerance stays 0 and the case fails loudly rather than passing loosely. */
  t[3].atol_each = (double *)em_host_alloc((size_t)n * sizeof(double));
  t[4].atol_each = (double *)em_host_alloc((size_t)m * sizeof(double));
  em_relu_mul_backward_oracle((const float *)t[0].host, (const float *)t[1].host, (const float *)t[2].host,
                              t[3].want, t[4].want, t[3].atol_each, t[4].atol_each, m, n);
  double gx = sum_tolerance(m), gy = sum_tolerance(n);
  if (t[3].atol_each)
    for (int64_t j = 0; j < n; ++j) t[3].atol_each[j] *= gx;
  if (t[4].atol_each)
    for (int64_t i = 0; i < m; ++i) t[4].atol_each[i] *= gy;
}

typedef void (*cpu_fn)(const float *, const float *, const float *, float *, float *, int64_t, int64_t);
typedef int (*cuda_fn)(const float *, const float *, const float *, float *, float *, int64_t, int64_t);

static int invoke(const em_call *k) {
  const float *x = (const float *)em_call_arg(k, 0), *y = (const float *)em_call_arg(k, 1),
              *dz = (const float *)em_call_arg(k, 2);
  float *dx = (float *)em_call_arg(k, 3), *dy = (float *)em_call_arg(k, 4);
  int64_t m = k->c->dim[0], n = k->c->dim[1];
  if (k->track == EM_TRACK_CUDA && !k->student_code) return ((cuda_fn)k->fn)(x, y, dz, dx, dy, m, n);
  ((cpu_fn)k->fn)(x, y, dz, dx, dy, m, n);
  return EM_OK;
}

/* Per element of dz: the mask's product, the two products and the two additions, counted as 4 as
 * the course counts them (a compare is not a FLOP; with FMA the products and additions fuse). */
static double flops(const em_case *c) { return 4.0 * (double)c->dim[0] * (double)c->dim[1]; }
/* dz, x and y read once, dx and dy written once. */
static double bytes(const em_case *c) {
  double m = (double)c->dim[0], n = (double)c->dim[1];
  return 4.0 * (m * n + 2.0 * m + 2.0 * n);
}

static const char *invalid(const em_case *c) {
  int64_t m = c->dim[0], n = c->dim[1];
  if (m < 1 || n < 1) return "m and n must be at least 1";
  if (m > INT32_MAX || n > INT32_MAX) return "m and n must be below 2^31";
  if (m > ((int64_t)1 << 36) / n) return "m·n must be at most 2^36 (256 GiB of dz)";
  return NULL;
}

/* dx[j] sums column j of dz over the rows where x[j]·y[i] > 0, dy[i] row i over such columns: how
 * many terms the mask lets through is what a wrong mask changes. */
static void inputs_at(const em_case *c, const em_tensor *t, int out, int64_t at, char *buf, size_t len) {
  int64_t m = c->dim[0], n = c->dim[1];
  const float *x = (const float *)t[0].host, *y = (const float *)t[1].host;
  int64_t active = 0;
  if (out == 3) {
    for (int64_t i = 0; i < m; ++i) active += x[at] * y[i] > 0;
    snprintf(buf, len, "x[%lld] = %.9g; x[%lld]*y[i] > 0 in %lld of the %lld rows of dz summed", (long long)at,
             (double)x[at], (long long)at, (long long)active, (long long)m);
  } else {
    for (int64_t j = 0; j < n; ++j) active += x[j] * y[at] > 0;
    snprintf(buf, len, "y[%lld] = %.9g; x[j]*y[%lld] > 0 in %lld of the %lld columns of dz summed", (long long)at,
             (double)y[at], (long long)at, (long long)active, (long long)n);
  }
}

static const em_part parts[] = {
    {'a', "dx and dy from one pass over dz", {"lab4_relu_mul_backward", "lab4_relu_mul_backward_cuda"},
     {EM_FN(lab4_relu_mul_backward), EM_FN(lab4_relu_mul_backward_cuda)},
     {EM_FN(em_relu_mul_backward_cpu), EM_CUDA_FN(em_relu_mul_backward_cuda)},
     {EM_FN(em_relu_mul_backward_naive_cpu), EM_CUDA_FN(em_relu_mul_backward_naive_cuda)}},
};


/* Shapes (m rows, n columns), each for a reason:
 *   1×1, a single row, a single column: sums of one term; loops that assume a full tile.
 *   31/32/33: a warp's edges, and 32 is two 16-float vectors; 127×255, 129×257: the CUDA
 *   reference's run of 128 rows and warp-row of 256 columns, ±1; 1025×1023 and 2053×2051: past the
 *   CPU reference's 16-row float runs, 256-column chunks and 2048-column tiles (2051 = 2048 + 3);
 *   primes: no power-of-two tiling divides them; 2048×2048: every vector path, many tiles, nothing
 *   ragged.
 *   tall (m ≫ n) and wide (n ≫ m): long column sums and long row sums, and the grid shapes that
 *   go with them; "taller" and "wider" are long enough that the CUDA reference's blocks take
 *   several runs of rows, or several chunks of columns.
 *   value cases: see ranges() above.
 * Speed (perf_points): dz of 64 MiB on the CPU (about 3 ms at 20 GB/s; square, tall and wide), and
 * of 1 GiB on the GPU (about 0.25 ms at 4 TB/s). */
static const em_case cases[] = {
    CASE('a', "m=1 n=1", (1, 1), UNIFORM, ALL),
    CASE('a', "m=1 n=1000", (1, 1000), UNIFORM, ALL),
    CASE('a', "m=1000 n=1", (1000, 1), UNIFORM, ALL),
    CASE('a', "m=3 n=5", (3, 5), UNIFORM, ALL),
    CASE('a', "m=31 n=33", (31, 33), UNIFORM, ALL),
    CASE('a', "m=32 n=32", (32, 32), UNIFORM, ALL),
    CASE('a', "m=33 n=31", (33, 31), UNIFORM, ALL),
    CASE('a', "m=127 n=255", (127, 255), UNIFORM, ALL),
    CASE('a', "m=129 n=257", (129, 257), UNIFORM, ALL),
    CASE('a', "m=1025 n=1023", (1025, 1023), UNIFORM, ALL),
    CASE('a', "m=2053 n=2051", (2053, 2051), UNIFORM, ALL),
    CASE('a', "m=1009 n=997 primes", (1009, 997), UNIFORM, ALL),
    CASE('a', "m=2048 n=2048", (2048, 2048), UNIFORM, ALL),
    CASE('a', "tall m=100003 n=7", (100003, 7), UNIFORM, ALL),
    CASE('a', "wide m=7 n=100003", (7, 100003), UNIFORM, ALL),
    CASE('a', "taller m=300007 n=3", (300007, 3), UNIFORM, ALL),
    CASE('a', "wider m=5 n=600011", (5, 600011), UNIFORM, ALL),
    CASE('a', "zeros in x and y", (513, 1031), ZEROS, ALL),
    CASE('a', "tiny products", (257, 509), TINY, ALL),
    CASE('a', "large values", (300, 1000), LARGE, ALL),
    CASE('a', "positive", (384, 320), POSITIVE, ALL),
    CASE('a', "positive, long rows", (64, 32768), POSITIVE, ALL),
    PERF('a', "m=n=4096", (4096, 4096), UNIFORM, CPU, 5),
    PERF('a', "tall m=2^18 n=64", (1 << 18, 64), UNIFORM, CPU, 2),
    PERF('a', "wide m=64 n=2^18", (64, 1 << 18), UNIFORM, CPU, 2),
    PERF('a', "m=n=16384", (16384, 16384), UNIFORM, GPU, 5),
    PERF('a', "tall m=2^22 n=64", (1 << 22, 64), UNIFORM, GPU, 2),
    PERF('a', "wide m=64 n=2^22", (64, 1 << 22), UNIFORM, GPU, 2),
};

const em_lab em_lab_relu_mul_backward = {
    .number = 4,
    .name = "relu_mul_backward",
    .folder = "lab4-relu-mul-backward",
    .title = "backward of z = relu(x·y): dx, dy in one pass over dz",
    .student_file = {"relu_mul_backward.c", "relu_mul_backward.cu"},
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
