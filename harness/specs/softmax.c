/* Lab 6 spec: z[i][j] = exp(x[i][j] − max_k x[i][k]) / Σ_k exp(x[i][k] − max_k x[i][k]). */
#include <float.h>
#include <math.h>

#include <stdio.h>

#include "spec.h"

#pragma weak lab6_softmax
#pragma weak lab6_softmax_cuda

enum { UNIFORM, WIDE, LARGE, MASKED, SPARSE_INF, CONSTANT, RAMP, NKINDS };
static const char *const value_kinds[] = {"uniform", "wide", "large", "masked", "sparse-inf", "constant", "ramp"};
static const char *const dim_names[] = {"b", "t"};

/* Values per kind (x is b rows of t):
 *   uniform:    [-10, 10): attention-like scores; the exps span e^-20 .. 1.
 *   wide:       [-50, 50): the exps span e^-100 .. 1, so results run from ~1 down through the
 *               subnormals to 0: exp must be accurate over its whole float range.
 *   large:      [-1e4, 1e4): without subtracting the max, exp overflows to inf and z = inf/inf =
 *               NaN; with it, all but the few entries within ~100 of the max are exactly 0.
 *   masked:     [-10, 10) inside one window of each row, −inf outside (attention masks): row i
 *               keeps a prefix (i mod 4 = 0, causal style), a suffix (1), a middle window (2) or a
 *               single entry (3). Long runs of −inf fill whole blocks, chunks and SIMD vectors, and
 *               rows start with −inf, where max = −inf and x − max = −inf − (−inf) = NaN.
 *   sparse-inf: [-10, 10) with each entry −inf with probability 1/2 (at least one finite per row).
 *   constant:   every entry of row i is the same, one of 0, 3.25, −87.5, 1e4, −1e4, 88.5: z = 1/t
 *               exactly; −1e4 catches a running max started at 0 instead of −inf (exp(−1e4 − 0)
 *               is 0 for every entry, so the sum is 0 and z = 0/0).
 *   ramp:       x[i][j] = ±(−10 + 20·(j + 1/2)/t), ascending in even rows: the running max rises
 *               at every step, so an online softmax rescales its sum all the way along. */
static const float uniform_range[] = {10.0f, 50.0f, 1e4f};
static const float constants[] = {0.0f, 3.25f, -87.5f, 1e4f, -1e4f, 88.5f};

/* ---- tolerance ----------------------------------------------------------------------------------
 * With u = 2^-24, d = x − m ≤ 0 an entry's distance below its row's max and D = Σ_j z_j·|d_j|, an
 * element of z may be off by
 *
 *   atol_each = 4u·(|d| + D)·z   exp is ill-conditioned in its argument: rounding x − m (and
 *                                d·log2(e), or __expf's own 2 + 1.173·|d| ulp) shifts e^d by that
 *                                much relatively; the sum inherits it from its terms, weighted;
 *   rtol = (32 + 2⌈log2 t⌉)·u    the exps, 1/S and the product, 16 sequential additions per thread
 *                                or lane, three rescaling factors, and a tree of ⌈log2 t⌉ levels;
 *   atol = 2·FLT_MIN             exps and quotients below FLT_MIN may be flushed to 0.
 *
 * The derivation term by term, what it rules out (a long float running sum) and how much of it the
 * references use: labs/lab6-softmax/README.md, section 3, "The tolerance". */
#define U 0x1p-24

static int ceil_log2(int64_t t) {
  int k = 0;
  while (((int64_t)1 << k) < t) ++k;
  return k;
}

static int describe(const em_case *c, em_tensor *t) {
  int64_t b = c->dim[0], n = c->dim[1];
  t[0] = (em_tensor){.name = "x", .dtype = EM_F32, .ndim = 2, .shape = {b, n}};
  t[1] = (em_tensor){.name = "z", .dtype = EM_F32, .is_output = 1, .ndim = 2, .shape = {b, n},
                     .rtol = (32 + 2 * ceil_log2(n)) * U, .atol = 2 * FLT_MIN,
                     .tol_why = "(32 + 2*ceil(log2 t))*2^-24 per row: exps, division, a blocked sum; "
                                "+ 4*2^-24*(|x-max| + mean |x-max|) per element: exp of a rounded argument; "
                                "2*FLT_MIN for results that underflow"};
  return 2;
}

static void fill(const em_case *c, uint64_t seed, uint32_t case_id, em_tensor *t) {
  int64_t b = c->dim[0], n = c->dim[1];
  float *x = (float *)t[0].host;
  em_rng_key key = {seed, case_id, 0}, aux = {seed, case_id, 1};
  switch (c->values) {
  case UNIFORM:
  case WIDE:
  case LARGE: {
    float r = uniform_range[c->values];
    em_rng_fill_uniform_f32(x, b * n, key, -r, r);
    break;
  }
  case MASKED:
    em_rng_fill_uniform_f32(x, b * n, key, -10.0f, 10.0f);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < b; ++i) {
      uint32_t u0 = em_rng_u32(aux, 2 * (uint64_t)i), u1 = em_rng_u32(aux, 2 * (uint64_t)i + 1);
      int64_t lo = 0, hi = n;
      switch (i % 4) {
      case 0: hi = 1 + (int64_t)(u0 % (uint64_t)n); break;        /* a prefix */
      case 1: lo = (int64_t)(u0 % (uint64_t)n); break;            /* a suffix */
      case 2:                                                      /* a window */
        lo = (int64_t)(u0 % (uint64_t)n);
        hi = lo + 1 + (int64_t)(u1 % (uint64_t)(n - lo));
        break;
      default: lo = (int64_t)(u0 % (uint64_t)n), hi = lo + 1; break; /* one entry */
      }
      for (int64_t j = 0; j < n; ++j)
        if (j < lo || j >= hi) x[i * n + j] = -INFINITY;
    }
    break;
  case SPARSE_INF:
    em_rng_fill_uniform_f32(x, b * n, key, -10.0f, 10.0f);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < b; ++i) {
      int64_t keep = (int64_t)(em_rng_u32(aux, (uint64_t)(b * n + i)) % (uint64_t)n);
      for (int64_t j = 0; j < n; ++j)
        if (j != keep && (em_rng_u32(aux, (uint64_t)(i * n + j)) & 1)) x[i * n + j] = -INFINITY;
    }
    break;
  case CONSTANT:
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < n; ++j) x[i * n + j] = constants[i % 6];
    break;
  default: /* RAMP */
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float v = (float)(-10.0 + 20.0 * ((double)j + 0.5) / (double)n);
        x[i * n + j] = i % 2 ? -v : v;
      }
    break;
  }
}

static void oracle(const em_case *c, em_tensor *t) {
  int64_t b = c->dim[0], n = c->dim[1];
  const float *x = (const float *)t[0].host;
  double *z = t[1].want;
  em_softmax_oracle(x, z, b, n);
  /* The per-element part of the tolerance (see above): 4u·(|d| + D)·z. */
  double *each = (double *)em_host_alloc((size_t)(b * n) * sizeof(double));
  t[1].atol_each = each;
  if (!each) return; /* without it the check is only stricter */
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * n;
    const double *zi = z + i * n;
    double m = -INFINITY, mean = 0.0;
    for (int64_t j = 0; j < n; ++j) m = xi[j] > m ? xi[j] : m;
    for (int64_t j = 0; j < n; ++j)
      if (zi[j] > 0) mean += zi[j] * (m - xi[j]);
    for (int64_t j = 0; j < n; ++j) each[i * n + j] = zi[j] > 0 ? 4 * U * ((m - xi[j]) + mean) * zi[j] : 0.0;
  }
}

typedef void (*cpu_fn)(const float *, float *, int64_t, int64_t);
typedef int (*cuda_fn)(const float *, float *, int64_t, int64_t);

static int invoke(const em_call *k) {
  const float *x = (const float *)em_call_arg(k, 0);
  float *z = (float *)em_call_arg(k, 1);
  int64_t b = k->c->dim[0], n = k->c->dim[1];
  /* The student's CUDA function returns nothing (the checker inspects CUDA's error state); the
   * library's returns an error code like every libem function. */
  if (k->track == EM_TRACK_CUDA && !k->student_code) return ((cuda_fn)k->fn)(x, z, b, n);
  ((cpu_fn)k->fn)(x, z, b, n);
  return EM_OK;
}

/* About 5 FLOPs per element: the max, the subtraction, the exp (counted as one), the sum, the
 * scaling; the exp's own dozen operations are not counted, as is usual for softmax. */
static double flops(const em_case *c) { return 5.0 * (double)c->dim[0] * (double)c->dim[1]; }
/* x read once, z written once: 8 bytes per element. Code that reads x twice moves 12. */
static double bytes(const em_case *c) { return 8.0 * (double)c->dim[0] * (double)c->dim[1]; }

static const char *invalid(const em_case *c) {
  if (c->dim[0] < 1 || c->dim[1] < 1) return "b and t must be at least 1";
  if (c->dim[0] > ((int64_t)1 << 31) - 1 || c->dim[1] > ((int64_t)1 << 32) / c->dim[0])
    return "b·t must be at most 2^32 elements (16 GiB per tensor)";
  if (c->values < 0 || c->values >= NKINDS) return "unknown values";
  return NULL;
}

/* z[i][j] comes from x[i][j] and its whole row: the row's maximum and its −inf entries are what
 * the usual bugs get wrong. */
static void inputs_at(const em_case *c, const em_tensor *t, int out, int64_t at, char *buf, size_t len) {
  (void)out;
  int64_t n = c->dim[1], i = at / n, j = at % n;
  const float *x = (const float *)t[0].host + i * n;
  float mx = -INFINITY;
  int64_t inf = 0;
  for (int64_t k = 0; k < n; ++k) mx = x[k] > mx ? x[k] : mx, inf += x[k] == -INFINITY;
  snprintf(buf, len, "x[%lld][%lld] = %.9g; row %lld: max %.9g, %lld of %lld entries -inf", (long long)i, (long long)j,
           (double)x[j], (long long)i, (double)mx, (long long)inf, (long long)n);
}

static const em_part parts[] = {
    {'a', "row softmax, any b and t", {"lab6_softmax", "lab6_softmax_cuda"},
     {EM_FN(lab6_softmax), EM_FN(lab6_softmax_cuda)},
     {EM_FN(em_softmax_cpu), EM_CUDA_FN(em_softmax_cuda)},
     {EM_FN(em_softmax_naive_cpu), EM_CUDA_FN(em_softmax_naive_cuda)}},
};

#define P2_20 ((int64_t)1 << 20)

/* Sizes: t = 1 (z = 1), warp and block edges ±1 (31/32/33, 255/257, 1023/1024/1025), primes (no
 * power-of-two tiling divides them), the GPU reference's on-chip limit ±1 (32767/32768/32769,
 * EM_SOFTMAX_ONCHIP), rows of 2^20 and more, many short rows; then the value kinds above, each on
 * short and long rows. Speed: 2^24 elements (64 MiB per tensor, beyond the VM's 36 MiB L3) on the
 * CPU, at t = 4096 and t = 2^20; 2^28 (1 GiB per tensor, 2 GiB moved) on the GPU at t = 4096,
 * 32768 and 2^20. */
static const em_case cases[] = {
    CASE('a', "t=1 (z=1)", (7, 1), UNIFORM, ALL),
    CASE('a', "t=2", (5, 2), UNIFORM, ALL),
    CASE('a', "t=31", (9, 31), UNIFORM, ALL),
    CASE('a', "t=32", (9, 32), UNIFORM, ALL),
    CASE('a', "t=33", (9, 33), UNIFORM, ALL),
    CASE('a', "many short rows t=5", (20000, 5), UNIFORM, ALL),
    CASE('a', "t=255", (11, 255), UNIFORM, ALL),
    CASE('a', "t=257", (11, 257), UNIFORM, ALL),
    CASE('a', "t=1023", (13, 1023), UNIFORM, ALL),
    CASE('a', "t=1024", (13, 1024), UNIFORM, ALL),
    CASE('a', "t=1025", (13, 1025), UNIFORM, ALL),
    CASE('a', "t=4099 prime", (7, 4099), UNIFORM, ALL),
    CASE('a', "t=32767", (3, 32767), UNIFORM, ALL),
    CASE('a', "t=32768", (3, 32768), UNIFORM, ALL),
    CASE('a', "t=32769", (3, 32769), UNIFORM, ALL),
    CASE('a', "t=65537 prime", (2, 65537), UNIFORM, ALL),
    CASE('a', "t=2^20", (2, P2_20), UNIFORM, ALL),
    CASE('a', "b=1 t=2^20+3", (1, P2_20 + 3), UNIFORM, ALL),
    CASE('a', "b=3 t=1000003 prime", (3, 1000003), UNIFORM, ALL),
    CASE('a', "large logits", (8, 4096), LARGE, ALL),
    CASE('a', "large logits, long rows", (2, 100003), LARGE, ALL),
    CASE('a', "wide values", (16, 5003), WIDE, ALL),
    CASE('a', "wide values, long rows", (2, 70001), WIDE, ALL),
    CASE('a', "masked rows", (64, 1000), MASKED, ALL),
    CASE('a', "masked rows t=32769", (8, 32769), MASKED, ALL),
    CASE('a', "masked long rows", (4, P2_20 / 2 + 1), MASKED, ALL),
    CASE('a', "sparse -inf", (32, 2053), SPARSE_INF, ALL),
    CASE('a', "constant rows", (12, 3001), CONSTANT, ALL),
    CASE('a', "constant long rows", (6, 40000), CONSTANT, ALL),
    CASE('a', "ramp rows", (4, 65536), RAMP, ALL),
    CASE('a', "ramp long rows", (2, P2_20 / 2), RAMP, ALL),
    PERF('a', "perf t=4096", (4096, 4096), UNIFORM, CPU, 3),
    PERF('a', "perf t=2^20", (16, P2_20), UNIFORM, CPU, 3),
    PERF('a', "perf t=4096 b=2^16", (65536, 4096), UNIFORM, GPU, 2),
    PERF('a', "perf t=32768 b=8192", (8192, 32768), UNIFORM, GPU, 2),
    PERF('a', "perf t=2^20 b=256", (256, P2_20), UNIFORM, GPU, 2),
};

const em_lab em_lab_softmax = {
    .number = 6,
    .name = "softmax",
    .folder = "lab6-softmax",
    .title = "long softmax: z = exp(x - max) / sum exp(x - max), per row",
    .student_file = {"softmax.c", "softmax.cu"},
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
