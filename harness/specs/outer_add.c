/* Lab 2 spec: z[i][j] = x[j] + y[i]; x has n floats, y has m, z is m × n. */
#include <float.h>

#include <stdio.h>

#include "spec.h"

#pragma weak lab2_outer_add_a
#pragma weak lab2_outer_add_b
#pragma weak lab2_outer_add_a_cuda
#pragma weak lab2_outer_add_b_cuda

enum { UNIFORM, LARGE, TINY };
static const char *const value_kinds[] = {"uniform", "large", "tiny"};
static const char *const dim_names[] = {"m", "n"};

/* Value ranges per kind: x and y both drawn from [-r, r).
 *   uniform: the everyday case.
 *   large:   ±1e38, near the top of float32 (FLT_MAX ≈ 3.4e38) but with |x| + |y| below it, so the
 *            true float32 sum is finite: catches arithmetic in a narrower or rescaled type.
 *   tiny:    ±2e-38, around FLT_MIN ≈ 1.18e-38, so about half the inputs are subnormal. */
static const float range[] = {1.0f, 1e38f, 2e-38f};

static int describe(const em_case *c, em_tensor *t) {
  int64_t m = c->dim[0], n = c->dim[1];
  t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 1, .shape = {n}};
  t[1] = (em_tensor){.name = "y", .dtype = EM_F32, .ndim = 1, .shape = {m}};
  /* Each element is one float32 addition: the exact sum x[j] + y[i] rounded once, relative error
   * at most 2^-24 against the float64 oracle (which is exact, or within 2^-53). rtol = 2^-23 leaves
   * a factor 2 of headroom and nothing more: a sum in float16 or bfloat16 (2^-11, 2^-8) fails by
   * orders of magnitude, a wrong element (x[i] + y[j], a shifted row) fails by the size of the
   * values. atol = 2·FLT_MIN lets a kernel flush subnormals to zero, inputs and outputs alike
   * (CUDA's -ftz, -ffast-math): x and y each lose less than FLT_MIN, the sum less than 2·FLT_MIN,
   * invisible at every magnitude but the "tiny" cases. */
  t[2] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 2, .shape = {m, n},
                     .rtol = 0x1p-23, .atol = 2 * FLT_MIN,
                     .tol_why = "one float32 rounding of an exact sum (2^-24), x2; subnormals may flush"};
  return 3;
}

static void fill(const em_case *c, uint64_t seed, uint32_t case_id, em_tensor *t) {
  float r = range[c->values];
  em_rng_fill_uniform_f32((float *)t[0].host, t[0].numel, (em_rng_key){seed, case_id, 0}, -r, r);
  em_rng_fill_uniform_f32((float *)t[1].host, t[1].numel, (em_rng_key){seed, case_id, 1}, -r, r);
}

static void oracle(const em_case *c, em_tensor *t) {
  em_outer_add_oracle((const float *)t[0].host, (const float *)t[1].host, t[2].want, c->dim[0], c->dim[1]);
}

typedef void (*cpu_fn)(const float *, const float *, float *, int64_t, int64_t);
typedef int (*cuda_fn)(const float *, const float *, float *, int64_t, int64_t);

static int invoke(const em_call *k) {
  const float *x = (const float *)em_call_arg(k, 0);
  const float *y = (const float *)em_call_arg(k, 1);
  float *z = (float *)em_call_arg(k, 2);
  int64_t m = k->c->dim[0], n = k->c->dim[1];
  /* The student's CUDA functions return nothing (the checker inspects CUDA's error state); the
   * library's return an error code like every libem function. */
  if (k->track == EM_TRACK_CUDA && !k->student_code)
    return ((cuda_fn)k->fn)(x, y, z, m, n);
  ((cpu_fn)k->fn)(x, y, z, m, n);
  return EM_OK;
}

/* One addition per element of z; x and y read once, z written once. */
static double flops(const em_case *c) { return (double)c->dim[0] * (double)c->dim[1]; }
static double bytes(const em_case *c) {
  double m = (double)c->dim[0], n = (double)c->dim[1];
  return 4.0 * (n + m + m * n);
}

static const char *invalid(const em_case *c) {
  if (c->dim[0] < 1 || c->dim[1] < 1) return "m and n must be at least 1";
  /* 2^40 elements (4 TiB of z) is beyond any machine the course runs on; the bound keeps m·n and
   * the byte counts far from overflowing int64. */
  if (c->dim[0] > ((int64_t)1 << 40) / c->dim[1]) return "m·n must be at most 2^40";
  if (c->part == 'a' && (c->dim[0] > EM_OUTER_ADD_BLOCK || c->dim[1] > EM_OUTER_ADD_BLOCK))
    return "part (a) takes m ≤ 32 and n ≤ 32 (one block of at most 32 × 32 threads)";
  return NULL;
}

/* z[i][j] comes from x[j] and y[i]. */
static void inputs_at(const em_case *c, const em_tensor *t, int out, int64_t at, char *buf, size_t len) {
  (void)out;
  int64_t n = c->dim[1], i = at / n, j = at % n;
  snprintf(buf, len, "x[%lld] = %.9g, y[%lld] = %.9g", (long long)j, (double)((const float *)t[0].host)[j],
           (long long)i, (double)((const float *)t[1].host)[i]);
}

static const em_part parts[] = {
    {'a', "m, n ≤ 32: one block / one thread", {"lab2_outer_add_a", "lab2_outer_add_a_cuda"},
     {EM_FN(lab2_outer_add_a), EM_FN(lab2_outer_add_a_cuda)},
     {EM_FN(em_outer_add_a_cpu), EM_CUDA_FN(em_outer_add_a_cuda)},
     {EM_FN(em_outer_add_naive_cpu), EM_CUDA_FN(em_outer_add_naive_cuda)}},
    {'b', "any m, n: a 2-D grid / all cores", {"lab2_outer_add_b", "lab2_outer_add_b_cuda"},
     {EM_FN(lab2_outer_add_b), EM_FN(lab2_outer_add_b_cuda)},
     {EM_FN(em_outer_add_b_cpu), EM_CUDA_FN(em_outer_add_b_cuda)},
     {EM_FN(em_outer_add_naive_cpu), EM_CUDA_FN(em_outer_add_naive_cuda)}},
};

#define M21 (((int64_t)1 << 21) + 1)

/* Shapes. m ≠ n in every case but the two speed cases, so code that swaps the axes (x[i] + y[j],
 * or z[j*m + i]) fails everywhere instead of passing the square ones. Sizes 1 (one row, one
 * column), warp and block edges ±1 (31/32/33, 1023/1025), primes (no power-of-two tile divides
 * them), n % 4 == 0 with m and n / 4 not multiples of any tile (the float4 path of a GPU kernel),
 * a very wide and a very tall shape (one row longer than the caches; rows of 12 bytes), and on the
 * GPU m = 2^21 + 1 > 65535 × 32 rows: a grid with up to 32 rows per block needs more than the 65535
 * blocks gridDim.y allows, which a kernel must handle (rows on gridDim.x, or a loop over rows), with
 * n % 4 == 0 (96: a float4 path) and n % 4 != 0 (97). The names fit the table's case column (16
 * characters); the shape column shows m and n. Speed: 4096 × 4096 (64 MiB of z) on the CPU,
 * 16384 × 16384 (1 GiB) on the GPU, far beyond their caches. */
static const em_case cases[] = {
    CASE('a', "one row", (1, 32), UNIFORM, ALL),
    CASE('a', "one column", (32, 1), UNIFORM, ALL),
    CASE('a', "m=2 n=3", (2, 3), UNIFORM, ALL),
    CASE('a', "primes", (3, 29), UNIFORM, ALL),
    CASE('a', "m=31 n=32", (31, 32), UNIFORM, ALL),
    CASE('a', "m=32 n=31", (32, 31), UNIFORM, ALL),
    CASE('a', "m=13 n=31", (13, 31), UNIFORM, ALL),
    CASE('a', "m=29 n=16", (29, 16), UNIFORM, ALL),
    CASE('a', "large values", (31, 32), LARGE, ALL),
    CASE('a', "tiny values", (32, 29), TINY, ALL),
    CASE('b', "m=1 n=3", (1, 3), UNIFORM, ALL),
    CASE('b', "m=2 n=1", (2, 1), UNIFORM, ALL),
    CASE('b', "m=33 n=31", (33, 31), UNIFORM, ALL),
    CASE('b', "m=31 n=33", (31, 33), UNIFORM, ALL),
    CASE('b', "m=1025 n=1023", (1025, 1023), UNIFORM, ALL),
    CASE('b', "m=1023 n=1025", (1023, 1025), UNIFORM, ALL),
    CASE('b', "one row", (1, 65537), UNIFORM, ALL),
    CASE('b', "one column", (65537, 1), UNIFORM, ALL),
    CASE('b', "primes wide", (257, 4099), UNIFORM, ALL),
    CASE('b', "primes tall", (4099, 257), UNIFORM, ALL),
    CASE('b', "n%4=0", (1000, 1028), UNIFORM, ALL),
    CASE('b', "very wide", (3, 1000003), UNIFORM, ALL),
    CASE('b', "very tall", (1000003, 3), UNIFORM, ALL),
    CASE('b', "large values", (1001, 1003), LARGE, ALL),
    CASE('b', "tiny values", (97, 1031), TINY, ALL),
    CASE('b', "grid.y limit", (M21, 96), UNIFORM, GPU),
    CASE('b', "grid.y, ragged", (M21, 97), UNIFORM, GPU),
    CASE('b', "ragged n", (8191, 8189), UNIFORM, GPU),
    PERF('b', "4096x4096", (4096, 4096), UNIFORM, CPU, 5),
    PERF('b', "16384x16384", (16384, 16384), UNIFORM, GPU, 5),
};

const em_lab em_lab_outer_add = {
    .number = 2,
    .name = "outer_add",
    .folder = "lab2-outer-add",
    .title = "outer add: z[i][j] = x[j] + y[i]",
    .student_file = {"outer_add.c", "outer_add.cu"},
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
