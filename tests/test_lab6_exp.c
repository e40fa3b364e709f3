/* Lab 6, the CPU reference's exp (reference/cpu/softmax.c, included here so its static functions
 * can be called; its entry point renamed so it cannot clash with the library's copy):
 *   - fast_expf is within 1.07 ulp of the true exp, as the file and the spec's tolerance say (the
 *     exhaustive maximum over [ln(FLT_MIN), 0] is 1.0613 ulp; here every 61st float, ~18 million);
 *   - below ln(FLT_MIN) it flushes to 0, −inf gives 0, NaN stays NaN;
 *   - fast_expf16, the AVX-512 copy the hot loop uses, gives the same bits as fast_expf: every
 *     13th float ≤ 0 (~165 million, every mantissa residue) and the edges. Without AVX-512 that
 *     test is skipped, saying so: the portable code then runs everywhere.
 */
#define em_softmax_cpu em__softmax_cpu_under_test
#include "../reference/cpu/softmax.c"

#include <criterion/criterion.h>
#include <float.h>
#include <stdio.h>

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
