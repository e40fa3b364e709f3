/* Lab 6, the CPU reference's insides (reference/cpu/softmax.c, included here so its static
 * functions can be called; its entry point renamed so it cannot clash with the library's copy).
 * The checker judges the reference's results on the spec's cases; these tests reach what those
 * cases reach only on some machines.
 *
 * Its exp:
 *   - fast_expf is within 1.07 ulp of the true exp, as the file and the spec's tolerance say (the
 *     exhaustive maximum over [ln(FLT_MIN), 0] is 1.0613 ulp; here every 61st float, ~18 million);
 *   - below ln(FLT_MIN) it flushes to 0, −inf gives 0, NaN stays NaN;
 *   - fast_expf16, the AVX-512 copy the hot loop uses, gives the same bits as fast_expf: every
 *     13th float ≤ 0 (~165 million, every mantissa residue) and the edges. Without AVX-512 that
 *     test is skipped, saying so: the portable code then runs everywhere.
 * Its ways through a row, each called directly (which one em_softmax_cpu picks depends on the
 * machine's cache and thread count: on a 2-core VM rows of 2^20 never take the long-row way):
 *   - rows_pipelined with one segment, several, and a short last one; rows where whole segments
 *     are −inf, a row that is all −inf (NaN, as the oracle says), a ramp whose segment maxima
 *     all differ;
 *   - softmax_long_row on the same kinds of rows;
 *   - em_softmax_cpu with 16 threads, which sends rows of 2^20 the long-row way on any machine
 *     with less than 256 MiB of last-level cache.
 * Results are compared with a double-precision softmax to 2^-16 relatively (plus 2·FLT_MIN): not
 * the spec's tolerance (the checker's suite tests that), but far inside what a wrong segment
 * offset, factor or maximum would do (those are off by whole factors).
 */
#define em_softmax_cpu em__softmax_cpu_under_test
#include "../reference/cpu/softmax.c"

#include <criterion/criterion.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

/* The float at bit pattern u. */
static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint32_t to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

#define LN_FLT_MIN (-0x1.5d589ep+6f)

TestSuite(lab6_exp, .timeout = 120);

Test(lab6_exp, fast_expf_within_its_stated_ulp) {
  double worst = 0.0;
  float worst_d = 0.0f;
  /* −0 down to ln(FLT_MIN): negative floats grow in magnitude with their bit pattern */
  for (uint32_t u = 0x80000000u; u <= to_bits(LN_FLT_MIN); u += 61) {
    float d = from_bits(u);
    double want = exp((double)d), got = fast_expf(d);
    int e;
    frexp(want, &e);
    double err = fabs(got - want) / ldexp(1.0, e - 24); /* in units of the float ulp of the result */
    if (err > worst) worst = err, worst_d = d;
  }
  cr_expect(worst <= 1.07, "fast_expf is %.4f ulp off at d = %a; the file and the spec's tolerance say 1.06",
            worst, (double)worst_d);
  cr_expect(worst > 0.5, "a worst error of %.4f ulp means the sweep above checked nothing", worst);
}

Test(lab6_exp, fast_expf_edges) {
  cr_expect_eq(fast_expf(0.0f), 1.0f, "e^0 must be exactly 1 (z = 1 for t = 1)");
  cr_expect_eq(fast_expf(-0.0f), 1.0f);
  cr_expect_eq(fast_expf(-INFINITY), 0.0f, "exp(−inf) = 0: masked entries contribute nothing");
  cr_expect(isnan(fast_expf(NAN)), "NaN in, NaN out");
  cr_expect(fast_expf(LN_FLT_MIN) >= FLT_MIN, "at ln(FLT_MIN) the result is still normal");
  cr_expect_eq(fast_expf(nextafterf(LN_FLT_MIN, -INFINITY)), 0.0f, "below ln(FLT_MIN): flushed to 0");
  cr_expect_eq(fast_expf(-104.0f), 0.0f);
  cr_expect_eq(fast_expf(-1e4f), 0.0f);
}

#if defined(__AVX512F__)
static void expect_same_bits(const float *d, int n) {
  float in[16], vec[16];
  for (int i = 0; i < n; i += 16) {
    int len = n - i < 16 ? n - i : 16;
    for (int l = 0; l < 16; ++l) in[l] = l < len ? d[i + l] : 0.0f;
    _mm512_storeu_ps(vec, fast_expf16(_mm512_loadu_ps(in)));
    for (int l = 0; l < len; ++l) {
      float one = fast_expf(in[l]);
      cr_assert(memcmp(&one, &vec[l], sizeof one) == 0, "d = %a (bits %08x): fast_expf %a, fast_expf16 %a",
                (double)in[l], to_bits(in[l]), (double)one, (double)vec[l]);
    }
  }
}
#endif

Test(lab6_exp, avx512_copy_gives_the_same_bits) {
#if defined(__AVX512F__)
  const float edges[] = {0.0f,
                         -0.0f,
                         -INFINITY,
                         NAN,
                         -NAN,
                         LN_FLT_MIN,
                         nextafterf(LN_FLT_MIN, 0.0f),
                         nextafterf(LN_FLT_MIN, -INFINITY),
                         -0x1p-149f,
                         -FLT_MIN,
                         -0.5f * 0x1.62e430p-1f, /* −ln2/2: where the rounding of n flips */
                         -1.5f * 0x1.62e430p-1f,
                         -87.0f,
                         -88.0f,
                         -104.0f,
                         -FLT_MAX};
  expect_same_bits(edges, (int)(sizeof edges / sizeof edges[0]));
  enum { CHUNK = 4096 };
  float d[CHUNK];
  int n = 0;
  for (uint64_t u = 0x80000000u; u <= 0xFFFFFFFFu; u += 13) { /* every float ≤ 0, −inf and NaNs included */
    d[n++] = from_bits((uint32_t)u);
    if (n == CHUNK) expect_same_bits(d, n), n = 0;
  }
  expect_same_bits(d, n);
#else
  cr_skip_test("this build has no AVX-512 (compiled without __AVX512F__): fast_expf16 is not used, "
               "the portable fast_expf runs everywhere");
#endif
}

/* ---- the ways through a row ---------------------------------------------------------------- */

enum { RAMP, MASK_HEAD, ALL_NEG_INF, UNIFORM, MASK_MIDDLE };

/* Row r of kind k: a ramp rising to 10 at its end (every segment's maximum differs, the last is
 * the row's), −inf over the first 60% (whole segments of −inf before the finite ones), all −inf,
 * uniform in [−10, 10), −inf in the middle third. */
static void fill_row(float *x, int64_t t, int kind, unsigned seed) {
  srand(seed);
  for (int64_t j = 0; j < t; ++j) {
    float u = (float)rand() / (float)RAND_MAX * 20.0f - 10.0f;
    switch (kind) {
    case RAMP: x[j] = -10.0f + 20.0f * (float)(j + 1) / (float)t; break;
    case MASK_HEAD: x[j] = j < t * 6 / 10 ? -INFINITY : u; break;
    case ALL_NEG_INF: x[j] = -INFINITY; break;
    case UNIFORM: x[j] = u; break;
    default: x[j] = j >= t / 3 && j < 2 * t / 3 ? -INFINITY : u; break;
    }
  }
}

/* z against softmax in double, row by row. */
static void expect_softmax(const float *x, const float *z, int64_t b, int64_t t, const char *way) {
  for (int64_t i = 0; i < b; ++i) {
    const float *xr = x + i * t, *zr = z + i * t;
    double m = -INFINITY, s = 0.0;
    for (int64_t j = 0; j < t; ++j) m = xr[j] > m ? xr[j] : m;
    if (m == -INFINITY) {
      for (int64_t j = 0; j < t; ++j)
        cr_assert(isnan(zr[j]), "%s, t = %lld, row %lld of only −inf: z[%lld] = %g, want NaN (0/0)", way,
                  (long long)t, (long long)i, (long long)j, (double)zr[j]);
      continue;
    }
    for (int64_t j = 0; j < t; ++j) s += exp((double)xr[j] - m);
    for (int64_t j = 0; j < t; ++j) {
      double want = exp((double)xr[j] - m) / s;
      cr_assert(fabs(zr[j] - want) <= 0x1p-16 * want + 2 * FLT_MIN,
                "%s, t = %lld, row %lld: z[%lld] = %.9g, want %.9g (x = %g, max %g)", way, (long long)t,
                (long long)i, (long long)j, (double)zr[j], want, (double)xr[j], m);
    }
  }
}

/* Rows of every kind, b = 5, through rows_pipelined and softmax_long_row. */
static void check_ways(int64_t t) {
  const int64_t b = 5;
  float *x = malloc((size_t)(b * t) * sizeof *x), *z = malloc((size_t)(b * t) * sizeof *z);
  cr_assert(x && z, "out of memory for b = %lld, t = %lld", (long long)b, (long long)t);
  for (int64_t i = 0; i < b; ++i) fill_row(x + i * t, t, (int)i, (unsigned)(t + i));
  for (int64_t k = 0; k < b * t; ++k) z[k] = NAN; /* anything left unwritten, or only scaled, shows */
  rows_pipelined(x, z, 0, b, t);
  expect_softmax(x, z, b, t, "rows_pipelined");
  for (int64_t k = 0; k < b * t; ++k) z[k] = NAN;
  for (int64_t i = 0; i < b; ++i) softmax_long_row(x + i * t, z + i * t, t);
  expect_softmax(x, z, b, t, "softmax_long_row");
  free(x);
  free(z);
}

TestSuite(lab6_reference, .timeout = 120);

Test(lab6_reference, one_segment_rows) {
  check_ways(1);
  check_ways(100);  /* shorter than a block */
  check_ways(SEG_MAX);
}

Test(lab6_reference, rows_of_several_segments) {
  check_ways(SEG_MAX + 1);        /* two segments, the second of one element */
  check_ways(3 * SEG_MAX + 77);   /* four, the last short and not whole blocks */
  check_ways(40 * SEG_MAX - 5);   /* forty, −inf over whole segments */
}

Test(lab6_reference, sixteen_threads_take_the_long_row_way) {
#if defined(_OPENMP)
  const int64_t b = 16, t = (int64_t)1 << 20;
  if (t <= store_limit(16))
    cr_skip_test("this machine's last-level cache keeps 16 rows of 2^20 (limit %lld): they go the pipelined way",
                 (long long)store_limit(16));
  float *x = malloc((size_t)(b * t) * sizeof *x), *z = malloc((size_t)(b * t) * sizeof *z);
  cr_assert(x && z, "out of memory for b = %lld, t = %lld", (long long)b, (long long)t);
  for (int64_t i = 0; i < b; ++i) fill_row(x + i * t, t, (int)(i % 5), (unsigned)i);
  omp_set_num_threads(16);
  em_softmax_cpu(x, z, b, t);
  expect_softmax(x, z, b, t, "em_softmax_cpu, 16 threads");
  free(x);
  free(z);
#else
  cr_skip_test("built without OpenMP: one thread, no long-row way by thread count");
#endif
}
