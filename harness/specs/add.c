/* Lab 1 spec: z[i] = x[i] + c. */
#include <float.h>

#include <stdio.h>

#include "spec.h"

#pragma weak lab1_add_a
#pragma weak lab1_add_b
#pragma weak lab1_add_a_cuda
#pragma weak lab1_add_b_cuda

enum { UNIFORM, LARGE, TINY };
static const char *const value_kinds[] = {"uniform", "large", "tiny"};
static const char *const dim_names[] = {"n"};

/* Value ranges per kind: x and c both drawn from [-r, r).
 *   uniform: the everyday case.
 *   large:   ±1e38, near the top of float32 (FLT_MAX ≈ 3.4e38) but with |x| + |c| below it, so the
 *            true float32 sum is finite: catches arithmetic in a narrower or rescaled type.
 *   tiny:    ±2e-38, around FLT_MIN ≈ 1.18e-38, so about half the inputs are subnormal. */
static const float range[] = {1.0f, 1e38f, 2e-38f};

static int describe(const em_case *c, em_tensor *t) {
  int64_t n = c->dim[0];
  t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 1, .shape = {n}};
  t[1] = (em_tensor){.name = "c", .dtype = EM_F32, .is_scalar = 1, .ndim = 0};
  /* The exact sum of two floats rounded once to float32 is within 2^-24 of the float64 oracle,
   * relatively; rtol = 2^-23 leaves a factor 2 of headroom and nothing more. atol = 2·FLT_MIN lets
   * a kernel flush subnormals to zero, inputs and outputs alike (CUDA's -ftz, -ffast-math), as
   * deep-learning code routinely does: x and c each lose less than FLT_MIN, so the sum less than
   * 2·FLT_MIN, invisible at every magnitude but the "tiny" cases. */
  t[2] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 1, .shape = {n},
                     .rtol = 0x1p-23, .atol = 2 * FLT_MIN,
                     .tol_why = "one float32 rounding of an exact sum (2^-24), x2; subnormals may flush"};
  return 3;
}

static void fill(const em_case *c, uint64_t seed, uint32_t case_id, em_tensor *t) {
  float r = range[c->values];
  em_rng_fill_uniform_f32((float *)t[0].host, t[0].numel, (em_rng_key){seed, case_id, 0}, -r, r);
  em_rng_fill_uniform_f32((float *)t[1].host, 1, (em_rng_key){seed, case_id, 1}, -r, r);
}

static void oracle(const em_case *c, em_tensor *t) {
  em_add_oracle((const float *)t[0].host, *(const float *)t[1].host, t[2].want, c->dim[0]);
}

typedef void (*cpu_fn)(const float *, float, float *, int64_t);
typedef int (*cuda_fn)(const float *, float, float *, int64_t);

static int invoke(const em_call *k) {
  const float *x = (const float *)em_call_arg(k, 0);
  float cval = *(const float *)k->t[1].host;
  float *z = (float *)em_call_arg(k, 2);
  int64_t n = k->c->dim[0];
  /* The student's CUDA functions return nothing (the checker inspects CUDA's error state); the
   * library's return an error code like every libem function. */
  if (k->track == EM_TRACK_CUDA && !k->student_code)
    return ((cuda_fn)k->fn)(x, cval, z, n);
  ((cpu_fn)k->fn)(x, cval, z, n);
  return EM_OK;
}

static double flops(const em_case *c) { return (double)c->dim[0]; }
static double bytes(const em_case *c) { return 8.0 * (double)c->dim[0]; }

static const char *invalid(const em_case *c) {
  if (c->dim[0] < 1) return "n must be at least 1";
  if (c->part == 'a' && c->dim[0] > EM_ADD_BLOCK) return "part (a) takes n ≤ 1024 (one block)";
  return NULL;
}

/* z[i] comes from x[i] and c. */
static void inputs_at(const em_case *c, const em_tensor *t, int out, int64_t i, char *buf, size_t len) {
  (void)c, (void)out;
  snprintf(buf, len, "x[%lld] = %.9g, c = %.9g", (long long)i, (double)((const float *)t[0].host)[i],
           (double)*(const float *)t[1].host);
}

static const em_part parts[] = {
    {'a', "n fits one block / one chunk", {"lab1_add_a", "lab1_add_a_cuda"},
     {EM_FN(lab1_add_a), EM_FN(lab1_add_a_cuda)},
     {EM_FN(em_add_a_cpu), EM_CUDA_FN(em_add_a_cuda)},
     {EM_FN(em_add_naive_cpu), EM_CUDA_FN(em_add_naive_cuda)}},
    {'b', "any n: many blocks / all cores", {"lab1_add_b", "lab1_add_b_cuda"},
     {EM_FN(lab1_add_b), EM_FN(lab1_add_b_cuda)},
     {EM_FN(em_add_b_cpu), EM_CUDA_FN(em_add_b_cuda)},
     {EM_FN(em_add_naive_cpu), EM_CUDA_FN(em_add_naive_cuda)}},
};


/* Sizes: 1 (the smallest), warp and block edges ±1 (31/32/33, 1023/1024/1025), primes (no
 * power-of-two tiling divides them), and sizes far beyond the caches for the speed measurement:
 * 2^26 floats (256 MiB per tensor) on the CPU, 2^28 (1 GiB) on the GPU. */
static const em_case cases[] = {
    CASE('a', "n=1", (1), UNIFORM, ALL),
    CASE('a', "n=31", (31), UNIFORM, ALL),
    CASE('a', "n=32", (32), UNIFORM, ALL),
    CASE('a', "n=33", (33), UNIFORM, ALL),
    CASE('a', "n=257", (257), UNIFORM, ALL),
    CASE('a', "n=1000", (1000), UNIFORM, ALL),
    CASE('a', "n=1023", (1023), UNIFORM, ALL),
    CASE('a', "n=1024", (1024), UNIFORM, ALL),
    CASE('a', "large values", (1024), LARGE, ALL),
    CASE('a', "tiny values", (1021), TINY, ALL),
    CASE('b', "n=1", (1), UNIFORM, ALL),
    CASE('b', "n=1025", (1025), UNIFORM, ALL),
    CASE('b', "n=4099 prime", (4099), UNIFORM, ALL),
    CASE('b', "n=65537 prime", (65537), UNIFORM, ALL),
    CASE('b', "n=999983 prime", (999983), UNIFORM, ALL),
    CASE('b', "n=2^20+1", ((1 << 20) + 1), UNIFORM, ALL),
    CASE('b', "large values", (1000003), LARGE, ALL),
    CASE('b', "tiny values", (100003), TINY, ALL),
    CASE('b', "n=2^24", (1 << 24), UNIFORM, ALL),
    PERF('b', "n=2^26", (1 << 26), UNIFORM, CPU, 5),
    PERF('b', "n=2^28", (1 << 28), UNIFORM, GPU, 5),
};

const em_lab em_lab_add = {
    .number = 1,
    .name = "add",
    .folder = "lab1-add",
    .title = "add a constant: z[i] = x[i] + c",
    .student_file = {"add.c", "add.cu"},
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
