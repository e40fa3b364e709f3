/* Lab 7's CUDA entry points through libem, on a GPU machine, until the lab's spec and suites
 * exist: built and run by scripts/device-lab7.sh (it links build/libem.a).
 *
 * For each small shape (the edges: n = m = 1, ragged n and m, causal with n > m and n < m, large
 * logits; the split of em_attention_cuda's last wave) and each d: em_attention_cuda,
 * em_attention_tf32x3_cuda and em_attention_naive_cuda on float32 inputs, em_attention_bf16_cuda
 * and em_attention_bf16_naive_cuda on the same values in bf16, each against a float64 reference
 * on the host; outputs poisoned with NaN first. Then the same with every pointer one element off
 * 16-byte alignment (the kernels' fallback loads and stores), and the argument checks (d = 48 and
 * n < 0: EM_EINVAL; b = 0: EM_OK, nothing touched).
 * Prints one line per case and exits 1 if any fails, 2 if there is no GPU.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "em/attention.h" /* not yet in em/em.h: the lab is being added */
#include "em/em.h"

typedef struct {
  int64_t b, h, n, m;
  int causal;
  float logit;
} shape;

static float hashed(uint64_t i, uint32_t salt) {
  uint64_t x = i * 0x9e3779b97f4a7c15ull + salt * 0xbf58476d1ce4e5b9ull;
  x ^= x >> 31, x *= 0x94d049bb133111ebull, x ^= x >> 29;
  return (float)((x >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* o in double, one row of scores at a time. */
static void reference(const float *q, const float *k, const float *v, double *o, const shape *s, int64_t d) {
  double *sc = malloc((size_t)(s->m > 0 ? s->m : 1) * sizeof *sc);
  for (int64_t hd = 0; hd < s->b * s->h; ++hd)
    for (int64_t i = 0; i < s->n; ++i) {
      const float *qi = q + (hd * s->n + i) * d;
      double mx = -INFINITY;
      for (int64_t j = 0; j < s->m; ++j) {
        sc[j] = -INFINITY;
        if (!s->causal || j <= i + s->m - s->n) {
          double acc = 0.0;
          for (int64_t c = 0; c < d; ++c) acc += (double)qi[c] * k[(hd * s->m + j) * d + c];
          sc[j] = acc / sqrt((double)d);
        }
        if (sc[j] > mx) mx = sc[j];
      }
      double sum = 0.0;
      for (int64_t j = 0; j < s->m; ++j) sum += sc[j] = mx == -INFINITY ? 0.0 : exp(sc[j] - mx);
      for (int64_t c = 0; c < d; ++c) {
        double acc = 0.0;
        for (int64_t j = 0; j < s->m; ++j) acc += sc[j] * v[(hd * s->m + j) * d + c];
        o[(hd * s->n + i) * d + c] = sum > 0.0 ? acc / sum : 0.0;
      }
    }
  free(sc);
}

static int failures = 0, passes = 0;

/* Worst |got − want| / (atol + rtol·|want|); NaN for a NaN or an infinity (an unwritten output). */
static double worst(const float *got, const double *want, int64_t count, double atol, double rtol) {
  double w = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    if (!isfinite(got[i])) return NAN;
    double e = fabs(got[i] - want[i]) / (atol + rtol * fabs(want[i]));
    if (e > w) w = e;
  }
  return w;
}

static void report(const char *what, int err, double e) {
  int ok = err == EM_OK && e <= 1.0;
  ok ? ++passes : ++failures;
  if (err != EM_OK) printf(" | %s %s (%s)", what, em_err_name(err), em_error_detail());
  else printf(" | %s %.2g%s", what, e, ok ? "" : " FAIL");
}

typedef int (*f32_fn)(const float *, const float *, const float *, float *, int64_t, int64_t, int64_t, int64_t,
                      int64_t, int);
typedef int (*bf16_fn)(const em_bf16 *, const em_bf16 *, const em_bf16 *, em_bf16 *, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int);

/* One shape and d, all five functions; off = 1 shifts every device pointer by one element. */
static void run(const shape *s, int64_t d, int off) {
  const int64_t nq = s->b * s->h * s->n * d, nk = s->b * s->h * s->m * d;
  float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *got = malloc(nq * 4);
  em_bf16 *q16 = malloc(nq * 2), *k16 = malloc(nk * 2), *v16 = malloc(nk * 2), *got16 = malloc(nq * 2);
  double *want = malloc(nq * sizeof *want);
  /* bf16-exact values: the float32 and bf16 functions then answer the same problem. */
  for (int64_t i = 0; i < nq; ++i) q16[i] = em_f32_to_bf16(s->logit * hashed(i, 1)), q[i] = em_bf16_to_f32(q16[i]);
  for (int64_t i = 0; i < nk; ++i) k16[i] = em_f32_to_bf16(hashed(i, 2)), k[i] = em_bf16_to_f32(k16[i]);
  for (int64_t i = 0; i < nk; ++i) v16[i] = em_f32_to_bf16(hashed(i, 3)), v[i] = em_bf16_to_f32(v16[i]);
  reference(q, k, v, want, s, d);

  void *dq, *dk, *dv, *dout;
  if (em_cuda_alloc(&dq, (nq + 1) * 4) || em_cuda_alloc(&dk, (nk + 1) * 4) || em_cuda_alloc(&dv, (nk + 1) * 4) ||
      em_cuda_alloc(&dout, (nq + 1) * 4)) {
    printf("allocation failed: %s\n", em_error_detail());
    exit(2);
  }
  printf("b=%lld h=%lld n=%-3lld m=%-3lld d=%-3lld causal=%d logits x%-3g%s", (long long)s->b, (long long)s->h,
         (long long)s->n, (long long)s->m, (long long)d, s->causal, s->logit, off ? " misaligned" : "");

  const char *names32[] = {"fma", "x3", "naive"};
  f32_fn fns32[] = {em_attention_cuda, em_attention_tf32x3_cuda, em_attention_naive_cuda};
  float *fq = (float *)dq + off, *fk = (float *)dk + off, *fv = (float *)dv + off, *fo = (float *)dout + off;
  em_cuda_copy_to_device(fq, q, nq * 4);
  em_cuda_copy_to_device(fk, k, nk * 4);
  em_cuda_copy_to_device(fv, v, nk * 4);
  for (int f = 0; f < 3; ++f) {
    em_cuda_fill_u32(dout, nq + 1, 0xffffffffu);  /* NaN */
    int err = fns32[f](fq, fk, fv, fo, s->b, s->h, s->n, s->m, d, s->causal);
    if (err == EM_OK) err = em_cuda_sync();
    if (err == EM_OK) err = em_cuda_copy_to_host(got, fo, nq * 4);
    report(names32[f], err, err == EM_OK ? worst(got, want, nq, 1e-5 * s->logit, 1e-4) : 0.0);
  }

  const char *names16[] = {"bf16", "bf16-naive"};
  bf16_fn fns16[] = {em_attention_bf16_cuda, em_attention_bf16_naive_cuda};
  em_bf16 *hq = (em_bf16 *)dq + off, *hk = (em_bf16 *)dk + off, *hv = (em_bf16 *)dv + off, *ho = (em_bf16 *)dout + off;
  em_cuda_copy_to_device(hq, q16, nq * 2);
  em_cuda_copy_to_device(hk, k16, nk * 2);
  em_cuda_copy_to_device(hv, v16, nk * 2);
  for (int f = 0; f < 2; ++f) {
    em_cuda_fill_u32(dout, nq + 1, 0xffffffffu);
    int err = fns16[f](hq, hk, hv, ho, s->b, s->h, s->n, s->m, d, s->causal);
    if (err == EM_OK) err = em_cuda_sync();
    if (err == EM_OK) err = em_cuda_copy_to_host(got16, ho, nq * 2);
    if (err == EM_OK)
      for (int64_t i = 0; i < nq; ++i) got[i] = em_bf16_to_f32(got16[i]);
    report(names16[f], err, err == EM_OK ? worst(got, want, nq, 5e-3 * s->logit, 1e-2) : 0.0);
  }
  printf("\n");
  em_cuda_free(dq), em_cuda_free(dk), em_cuda_free(dv), em_cuda_free(dout);
  free(q), free(k), free(v), free(got), free(q16), free(k16), free(v16), free(got16), free(want);
}

static void expect(const char *what, int got, int want) {
  int ok = got == want;
  ok ? ++passes : ++failures;
  printf("%-52s %s (want %s)%s\n", what, em_err_name(got), em_err_name(want), ok ? "" : " FAIL");
}

int main(void) {
  if (em_cuda_probe(NULL) != EM_OK) {
    printf("no GPU: %s\n", em_error_detail());
    return 2;
  }
  const shape shapes[] = {
      {1, 1, 1, 1, 0, 1.0f},   {1, 1, 1, 1, 1, 1.0f},     {1, 2, 1, 37, 1, 1.0f},    {2, 3, 100, 77, 1, 1.0f},
      {1, 2, 77, 100, 1, 1.0f}, {1, 1, 130, 130, 1, 1.0f}, {1, 1, 65, 200, 0, 1.0f}, {1, 1, 300, 129, 1, 30.0f},
      /* em_attention_cuda's splits, on an H100 or H200 (132 SMs). Small grids, every tile's keys in
       * pieces (attn_fma_pieces_run, every d): 18 tiles of 5 key tiles; 7 tiles of 5 under the
       * mask with n > m and large logits (the merge's rescaling, pieces that see no key, a tile
       * that sees none). At d = 128 without the mask (264 slots): 80 tiles of 5 key tiles in thirds
       * of 1, 2 and 2; one tile of 3 in thirds of 1 with large logits (in 3 pieces at d < 128); and
       * 288 query tiles, more than the GPU holds at once, so that the first 264 run whole. The last
       * is also 144 tiles of 128 queries for em_attention_bf16_cuda on Hopper, more than the SMs:
       * some of version 5p's blocks take a second tile from its queue. */
      {2, 3, 130, 300, 0, 1.0f}, {1, 1, 400, 300, 1, 30.0f}, {1, 80, 1, 300, 0, 1.0f},
      {1, 1, 64, 129, 0, 30.0f}, {1, 9, 2048, 192, 0, 1.0f},
  };
  const int64_t ds[] = {16, 32, 64, 128};
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; ++i)
    for (int j = 0; j < 4; ++j) run(&shapes[i], ds[j], 0);
  for (int j = 0; j < 4; ++j) run(&shapes[3], ds[j], 1);

  float *p = NULL;
  em_cuda_alloc((void **)&p, 4096 * 4);
  em_cuda_fill_u32(p, 4096, 0u); /* zeros: the "normal call" below reads defined memory (initcheck) */
  expect("em_attention_cuda d = 48", em_attention_cuda(p, p, p, p, 1, 1, 4, 4, 48, 0), EM_EINVAL);
  expect("em_attention_tf32x3_cuda n = -1", em_attention_tf32x3_cuda(p, p, p, p, 1, 1, -1, 4, 16, 0), EM_EINVAL);
  expect("em_attention_bf16_cuda d = 0", em_attention_bf16_cuda((em_bf16 *)p, (em_bf16 *)p, (em_bf16 *)p,
                                                                (em_bf16 *)p, 1, 1, 4, 4, 0, 0), EM_EINVAL);
  expect("em_attention_naive_cuda d = 256", em_attention_naive_cuda(p, p, p, p, 1, 1, 4, 4, 256, 0), EM_EINVAL);
  expect("em_attention_cuda b = 0 (nothing to do)", em_attention_cuda(NULL, NULL, NULL, NULL, 0, 8, 4, 4, 64, 1),
         EM_OK);
  expect("em_attention_naive_cuda n = m = 2^30 (no memory)",
         em_attention_naive_cuda(p, p, p, p, 1, 1, (int64_t)1 << 30, (int64_t)1 << 30, 16, 0), EM_ENOMEM);
  expect("then a normal call still works", em_attention_cuda(p, p, p, p, 1, 1, 16, 16, 64, 0), EM_OK);
  expect("and the device is clean", em_cuda_sync(), EM_OK);
  em_cuda_free(p);

  printf("%d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}
