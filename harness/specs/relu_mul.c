/* Lab 3 spec: z[i][j] = relu(x[j] · y[i]), x has n floats, y has m, z is m×n. */
#include <float.h>
#include <stdint.h>

#include <stdio.h>

#include "spec.h"

#pragma weak lab3_relu_mul
#pragma weak lab3_relu_mul_cuda

enum { UNIFORM, X_NEGATIVE, ZEROS, LARGE, TINY, NKINDS };
static const char *const value_kinds[] = {"uniform", "x_negative", "zeros", "large", "tiny"};
static const char *const dim_names[] = {"m", "n"};

/* Value ranges per kind (x, then y), each drawn uniformly from [lo, hi):
 *   uniform:    ±1 for both: every sign combination, a quarter of the products negative-times-
 *               negative (positive: wrong for relu(x)·relu(y)) and half of them negative (zero:
 *               wrong without the ReLU).
 *   x_negative: x in [-1, 0), y in ±1: the rows with y[i] < 0 are all positive, the others all
 *               zero; a ReLU applied to the inputs instead of the product zeroes everything.
 *   zeros:      ±1 with an eighth of each input +0 and an eighth −0 (extra streams decide which):
 *               products of ±0 by either sign, whose ReLU is 0 (−0 and +0 compare equal).
 *   large:      ±1.8e19 for both: products up to 3.24e38, just below FLT_MAX ≈ 3.40e38, so every
 *               exact product is a finite float; arithmetic in a narrower type overflows.
 *   tiny:       ±2^-60 for both: products below 2^-120, and about 8% of them below FLT_MIN = 2^-126
 *               (P(uv < 2^-6) = 2^-6·(1 + 6 ln 2) for u, v uniform in [0, 1)): they underflow to
 *               subnormals, or to 0 where subnormals are flushed. The inputs themselves stay normal
 *               (the smallest nonzero one is 2^-83), so flushing subnormal inputs changes nothing. */
static const float range_lo[NKINDS][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1.8e19f, -1.8e19f}, {-0x1p-60f, -0x1p-60f}};
static const float range_hi[NKINDS][2] = {{1, 1}, {0, 1}, {1, 1}, {1.8e19f, 1.8e19f}, {0x1p-60f, 0x1p-60f}};

static int describe(const em_case *c, em_tensor *t) {
  int64_t m = c->dim[0], n = c->dim[1];
  t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 1, .shape = {n}};
  t[1] = (em_tensor){.name = "y", .dtype = EM_F32, .ndim = 1, .shape = {m}};
  /* The tolerance, derived. The product of two floats is exact in float64 (48 significant bits),
   * so the oracle is the exact result, and a float32 kernel rounds it once: a relative error of at
   * most 2^-24 while the product is a normal float. rtol = 2^-23 is that bound with a factor 2 of
   * headroom and nothing more. A negative product's ReLU is exactly 0 in both, with no error at
   * all. Below FLT_MIN the rounding is absolute, not relative: a subnormal result is off by at most
   * 2^-150 (half its spacing), and a kernel that flushes subnormal results to zero (CUDA's -ftz,
   * -ffast-math, DAZ/FTZ on x86, as deep-learning code routinely runs) is off by the result
   * itself, less than FLT_MIN. atol = FLT_MIN covers both. It also covers flushing subnormal
   * inputs wherever the other factor is at most 1 in magnitude (the error is then below FLT_MIN),
   * although no case here has a subnormal input. Against the other cases atol is invisible: their
   * smallest nonzero product is about 2^-48 (uniform) or more. */
  t[2] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 2, .shape = {m, n},
                     .rtol = 0x1p-23, .atol = FLT_MIN,
                     .tol_why = "one float32 rounding of an exact product (2^-24), x2; results below FLT_MIN may flush"};
  return 3;
}

/* The streams: tensor ids 0 and 1 are x and y; 2 and 3 pick the zeros of x and y. */
static void sprinkle_zeros(float *v, int64_t count, em_rng_key key) {
  for (int64_t k = 0; k < count; ++k) {
    uint32_t w = em_rng_u32(key, (uint64_t)k) & 7;
    if (w == 0) v[k] = 0.0f;
    else if (w == 1) v[k] = -0.0f;
  }
}

static void fill(const em_case *c, uint64_t seed, uint32_t case_id, em_tensor *t) {
  int kind = c->values;
  for (int k = 0; k < 2; ++k)
    em_rng_fill_uniform_f32((float *)t[k].host, t[k].numel, (em_rng_key){seed, case_id, (uint32_t)k},
                            range_lo[kind][k], range_hi[kind][k]);
  if (kind == ZEROS)
    for (int k = 0; k < 2; ++k)
      sprinkle_zeros((float *)t[k].host, t[k].numel, (em_rng_key){seed, case_id, (uint32_t)(2 + k)});
}

static void oracle(const em_case *c, em_tensor *t) {
  em_relu_mul_oracle((const float *)t[0].host, (const float *)t[1].host, t[2].want, c->dim[0], c->dim[1]);
}

typedef void (*cpu_fn)(const float *, const float *, float *, int64_t, int64_t);
typedef int (*cuda_fn)(const float *, const float *, float *, int64_t, int64_t);

static int invoke(const em_call *k) {
  const float *x = (const float *)em_call_arg(k, 0), *y = (const float *)em_call_arg(k, 1);
  float *z = (float *)em_call_arg(k, 2);
  int64_t m = k->c->dim[0], n = k->c->dim[1];
  /* The student's CUDA function returns nothing (the checker inspects CUDA's error state); the
   * library's return an error code like every libem function. */
  if (k->track == EM_TRACK_CUDA && !k->student_code) return ((cuda_fn)k->fn)(x, y, z, m, n);
  ((cpu_fn)k->fn)(x, y, z, m, n);
  return EM_OK;
}

/* A multiply and a max per element of z. */
static double flops(const em_case *c) { return 2.0 * (double)c->dim[0] * (double)c->dim[1]; }
/* x and y read once, z written once. */
static double bytes(const em_case *c) {
  double m = (double)c->dim[0], n = (double)c->dim[1];
  return 4.0 * (n + m + m * n);
}

static const char *invalid(const em_case *c) {
  if (c->dim[0] < 1 || c->dim[1] < 1) return "m and n must be at least 1";
  /* z's bytes must fit an int64 (and any machine): 2^40 elements is 4 TiB. */
  if (c->dim[0] > ((int64_t)1 << 40) / c->dim[1]) return "m·n must be at most 2^40";
  return NULL;
}

/* z[i][j] comes from x[j] and y[i]: their signs say whether the ReLU should have cut. */
static void inputs_at(const em_case *c, const em_tensor *t, int out, int64_t at, char *buf, size_t len) {
  (void)out;
  int64_t n = c->dim[1], i = at / n, j = at % n;
  float x = ((const float *)t[0].host)[j], y = ((const float *)t[1].host)[i];
  snprintf(buf, len, "x[%lld] = %.9g, y[%lld] = %.9g (x*y = %.9g)", (long long)j, (double)x, (long long)i, (double)y,
           (double)x * (double)y);
}

static const em_part parts[] = {
    {'a', "any m, n: one fused pass", {"lab3_relu_mul", "lab3_relu_mul_cuda"},
     {EM_FN(lab3_relu_mul), EM_FN(lab3_relu_mul_cuda)},
     {EM_FN(em_relu_mul_cpu), EM_CUDA_FN(em_relu_mul_cuda)},
     {EM_FN(em_relu_mul_naive_cpu), EM_CUDA_FN(em_relu_mul_naive_cuda)}},
};


/* Shapes, m×n (names at most 16 characters: the report's column):
 *   a single element; a row (m = 1: y is one number) and a column (n = 1: x is one number), where a
 *   transposed z is still right but a kernel that assumes a whole tile is not;
 *   m ≠ n everywhere else, so swapped axes cannot pass;
 *   warp edges (31/32/33), and the reference's tile edges: rows of 1023/1025 floats (scalar path,
 *   256 threads across), 1024 and 1028 floats (float4 path, 256 float4 = 1024 floats across: exactly
 *   one block, and one float4 more), row counts ≡ 1 and 3 (mod 4, the rows per thread), and every
 *   n mod 4 (the float4 path needs n % 4 == 0; 1030 and 1026 are ≡ 2);
 *   primes (no power-of-two tiling divides them);
 *   m = 65537 > 65535, the most blocks gridDim.y may have: a grid of (.., m) is refused;
 *   a column of m = 2097155 rows (a warp of the reference's covers 32 rows of it);
 *   on the GPU, m = 262147 rows of 257: more than 65535 of the reference's 4-row tiles, so its loop
 *   over the row tiles beyond gridDim.y runs (270 MB of z, not worth the CPU track's time);
 *   a long prime row (n = 999983) over 3 rows;
 *   the value kinds above on ragged shapes;
 *   speed: m = n = 8192 on the CPU (256 MiB of z, seven times the course VM's L3, about 15 ms) and
 *   m = n = 16384 on the GPU (1 GiB of z, 17 times the H200's L2, about 0.25 ms). */
static const em_case cases[] = {
    CASE('a', "m=1 n=1", (1, 1), UNIFORM, ALL),
    CASE('a', "m=1 n=1000", (1, 1000), UNIFORM, ALL),
    CASE('a', "m=1000 n=1", (1000, 1), UNIFORM, ALL),
    CASE('a', "m=3 n=5", (3, 5), UNIFORM, ALL),
    CASE('a', "m=31 n=33", (31, 33), UNIFORM, ALL),
    CASE('a', "m=32 n=32", (32, 32), UNIFORM, ALL),
    CASE('a', "m=33 n=31", (33, 31), UNIFORM, ALL),
    CASE('a', "m=255 n=257", (255, 257), UNIFORM, ALL),
    CASE('a', "m=257 n=1023", (257, 1023), UNIFORM, ALL),
    CASE('a', "m=1025 n=1024", (1025, 1024), UNIFORM, ALL),
    CASE('a', "m=255 n=1028", (255, 1028), UNIFORM, ALL),
    CASE('a', "m=131 n=4099", (131, 4099), UNIFORM, ALL),
    CASE('a', "m=65537 n=5", (65537, 5), UNIFORM, ALL),
    CASE('a', "m=2097155 n=1", (2097155, 1), UNIFORM, ALL),
    CASE('a', "m=262147 n=257", (262147, 257), UNIFORM, GPU),
    CASE('a', "m=3 n=999983", (3, 999983), UNIFORM, ALL),
    CASE('a', "x negative", (61, 1030), X_NEGATIVE, ALL),
    CASE('a', "zeros", (67, 71), ZEROS, ALL),
    CASE('a', "large values", (129, 1026), LARGE, ALL),
    CASE('a', "tiny values", (97, 1031), TINY, ALL),
    CASE('a', "m=n=4096", (4096, 4096), UNIFORM, ALL),
    PERF('a', "m=n=8192", (8192, 8192), UNIFORM, CPU, 5),
    PERF('a', "m=n=16384", (16384, 16384), UNIFORM, GPU, 5),
};

const em_lab em_lab_relu_mul = {
    .number = 3,
    .name = "relu_mul",
    .folder = "lab3-relu-mul",
    .title = "fused ReLU-multiply: z[i][j] = relu(x[j] * y[i])",
    .student_file = {"relu_mul.c", "relu_mul.cu"},
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
