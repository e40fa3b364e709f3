#include "em/check.h"

#include <math.h>
#include <string.h>

static void report_init(em_close_report *r, int64_t n, double rtol, double atol) {
  memset(r, 0, sizeof *r);
  r->n = n;
  r->first_index = -1;
  r->worst_index = -1;
  r->rtol = rtol;
  r->atol = atol;
}

/* How far outside its tolerance one element is: ≤ 1 passes. Non-finite rules as in check.h. */
static double tol_ratio(double got, double want, double rtol, double atol) {
  if (isnan(want)) return isnan(got) ? 0.0 : INFINITY;
  if (isinf(want)) return got == want ? 0.0 : INFINITY;
  if (!isfinite(got)) return INFINITY;
  double err = fabs(got - want);
  double tol = atol + rtol * fabs(want);
  if (err == 0.0) return 0.0;
  return tol > 0.0 ? err / tol : INFINITY;
}

static void note(em_close_report *r, int64_t i, double got, double want, double tol, double ratio, int poison) {
  if (isfinite(got) && isfinite(want)) {
    double err = fabs(got - want);
    if (err > r->max_abs_err) r->max_abs_err = err;
    if (want != 0.0 && err / fabs(want) > r->max_rel_err) r->max_rel_err = err / fabs(want);
  }
  if (r->worst_index < 0 || ratio > r->worst_tol_ratio) {
    r->worst_index = i;
    r->worst_got = got;
    r->worst_want = want;
    r->worst_tol = tol;
    r->worst_tol_ratio = ratio;
  }
  if (ratio > 1.0) {
    if (r->first_index < 0) {
      r->first_index = i;
      r->first_got = got;
      r->first_want = want;
      r->first_tol = tol;
      r->first_unwritten = poison;
    }
    r->mismatches++;
    if (poison) r->unwritten++;
    else if (isfinite(want) && !isfinite(got)) r->nonfinite++;
  }
}

int em_allclose_f32_each(const float *got, const double *want, const double *atol_each, int64_t n,
                         double rtol, double atol, em_close_report *r) {
  report_init(r, n, rtol, atol);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    memcpy(&bits, &got[i], sizeof bits);
    int poison = bits == EM_POISON_U32;
    double g = got[i];
    double a = atol_each ? atol + atol_each[i] : atol;
    note(r, i, g, want[i], a + rtol * fabs(want[i]), poison ? INFINITY : tol_ratio(g, want[i], rtol, a), poison);
  }
  return r->mismatches == 0;
}

int em_allclose_bf16_each(const uint16_t *got, const double *want, const double *atol_each, int64_t n,
                          double rtol, double atol, em_close_report *r) {
  report_init(r, n, rtol, atol);
  for (int64_t i = 0; i < n; ++i) {
    int poison = got[i] == EM_POISON_BF16;
    uint32_t bits = (uint32_t)got[i] << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    double g = f;
    double a = atol_each ? atol + atol_each[i] : atol;
    note(r, i, g, want[i], a + rtol * fabs(want[i]), poison ? INFINITY : tol_ratio(g, want[i], rtol, a), poison);
  }
  return r->mismatches == 0;
}

int em_allclose_f32(const float *got, const double *want, int64_t n, double rtol, double atol,
                    em_close_report *r) {
  return em_allclose_f32_each(got, want, NULL, n, rtol, atol, r);
}

int em_equal_i32(const int32_t *got, const int32_t *want, int64_t n, em_close_report *r) {
  report_init(r, n, 0.0, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    int poison = (uint32_t)got[i] == EM_POISON_U32 && (uint32_t)want[i] != EM_POISON_U32;
    double ratio = got[i] == want[i] ? 0.0 : INFINITY;
    note(r, i, (double)got[i], (double)want[i], 0.0, ratio, poison);
  }
  return r->mismatches == 0;
}

int em_equal_i8(const int8_t *got, const int32_t *want, int64_t n, em_close_report *r) {
  report_init(r, n, 0.0, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    int poison = got[i] == EM_POISON_I8 && want[i] != EM_POISON_I8;
    double ratio = (int32_t)got[i] == want[i] ? 0.0 : INFINITY;
    note(r, i, (double)got[i], (double)want[i], 0.0, ratio, poison);
  }
  return r->mismatches == 0;
}

int64_t em_first_difference(const void *a, const void *b, int64_t n, size_t elem) {
  const unsigned char *pa = (const unsigned char *)a, *pb = (const unsigned char *)b;
  /* memcmp over large blocks first: this runs on every input after every checked run. */
  const int64_t block = 1 << 16;
  for (int64_t start = 0; start < n; start += block) {
    int64_t len = n - start < block ? n - start : block;
    if (memcmp(pa + start * elem, pb + start * elem, (size_t)len * elem) == 0) continue;
    for (int64_t i = start; i < start + len; ++i)
      if (memcmp(pa + i * elem, pb + i * elem, elem) != 0) return i;
  }
  return -1;
}
