/* Lab 7 naive baseline, CPU: attention as the formula reads, the three steps of the textbook, one
 * (batch, head) pair after another on one thread, scalar:
 *
 *   S = s·q·kᵀ      the whole n×m score matrix of the pair, in a buffer allocated per call;
 *   P = softmax(S)  row by row, in place: max, expf(x − max) (libm's, one call per element), sum;
 *   o = P·v         each output row a weighted sum of the value rows.
 *
 * What it costs is what flash attention avoids: S is written and read back in full (n·m floats,
 * 16 MiB for n = m = 2048, far past the caches), and nothing is vectorised (this file is compiled
 * without auto-vectorisation, see the Makefile) or spread over the cores. Masked scores are −inf,
 * so expf gives them 0; a row with no visible key gets o = 0 (em/attention.h).
 *
 * The sums of a row's weights and of its output are accumulated in double, as lab 6's naive
 * softmax does: a float running sum over m terms is off by up to m·2^-24 relatively, and a baseline
 * must never be the code that a tolerance made for blocked float sums fails. In scalar code a
 * double add costs what a float one does.
 *
 * The bfloat16 variant widens each pair's q, k and v to float32 (exactly), runs the same steps,
 * and rounds o to bfloat16 once at the end. */
#include "em/attention.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "em/error.h"

static int check_args(const char *fn, int64_t b, int64_t h, int64_t n, int64_t m, int64_t d) {
  if (!em_attention_d_ok(d)) return em__fail(EM_EINVAL, "%s: d = %lld (supported: 16, 32, 64, 128)", fn, (long long)d);
  if (b < 1 || h < 1 || n < 1 || m < 1)
    return em__fail(EM_EINVAL, "%s: b = %lld, h = %lld, n = %lld, m = %lld (each must be at least 1)", fn,
                    (long long)b, (long long)h, (long long)n, (long long)m);
  return EM_OK;
}

/* One (batch, head) pair: q is n×d, k and v are m×d, o is n×d; S is n·m floats of scratch. */
static void attention_pair(const float *q, const float *k, const float *v, float *o, int64_t n, int64_t m,
                           int64_t d, int causal, float *S) {
  const float s = (float)(1.0 / sqrt((double)d)); /* 1/√d rounded once */
  /* S = s·q·kᵀ, −inf where the mask hides the key */
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      if (causal && j > i + m - n) {
        S[i * m + j] = -INFINITY;
        continue;
      }
      float dot = 0.0f;
      for (int64_t c = 0; c < d; ++c) dot += q[i * d + c] * k[j * d + c];
      S[i * m + j] = s * dot;
    }
  /* P = softmax(S), row by row */
  for (int64_t i = 0; i < n; ++i) {
    float *row = S + i * m;
    float mx = -INFINITY;
    for (int64_t j = 0; j < m; ++j)
      if (row[j] > mx) mx = row[j];
    if (mx == -INFINITY) { /* no visible key: all weights 0, and o = 0 below */
      for (int64_t j = 0; j < m; ++j) row[j] = 0.0f;
      continue;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < m; ++j) {
      row[j] = expf(row[j] - mx);
      sum += row[j];
    }
    for (int64_t j = 0; j < m; ++j) row[j] = (float)(row[j] / sum);
  }
  /* o = P·v */
  double acc[EM_ATTENTION_MAX_D];
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < d; ++c) acc[c] = 0.0;
    for (int64_t j = 0; j < m; ++j) {
      const float p = S[i * m + j];
      for (int64_t c = 0; c < d; ++c) acc[c] += (double)p * v[j * d + c];
    }
    for (int64_t c = 0; c < d; ++c) o[i * d + c] = (float)acc[c];
  }
}

/* n·m floats of S (and `extra` more), or NULL; the size checked against overflow first. */
static float *scratch(int64_t n, int64_t m, int64_t extra) {
  if ((uint64_t)n > (SIZE_MAX / sizeof(float) - (uint64_t)extra) / (uint64_t)m) return NULL;
  return malloc(((size_t)n * (size_t)m + (size_t)extra) * sizeof(float));
}

int em_attention_naive_cpu(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                           int64_t n, int64_t m, int64_t d, int causal) {
  int err = check_args("em_attention_naive_cpu", b, h, n, m, d);
  if (err) return err;
  float *S = scratch(n, m, 0);
  if (!S)
    return em__fail(EM_ENOMEM, "em_attention_naive_cpu: no memory for the %lld x %lld score matrix", (long long)n,
                    (long long)m);
  for (int64_t pair = 0; pair < b * h; ++pair)
    attention_pair(q + pair * n * d, k + pair * m * d, v + pair * m * d, o + pair * n * d, n, m, d, causal, S);
  free(S);
  return EM_OK;
}

int em_attention_bf16_naive_cpu(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b,
                                int64_t h, int64_t n, int64_t m, int64_t d, int causal) {
  int err = check_args("em_attention_bf16_naive_cpu", b, h, n, m, d);
  if (err) return err;
  /* S, then one pair's q, k, v and o in float32: (2·n + 2·m)·d more floats */
  float *S = scratch(n, m, (2 * n + 2 * m) * d);
  if (!S)
    return em__fail(EM_ENOMEM, "em_attention_bf16_naive_cpu: no memory for the %lld x %lld score matrix",
                    (long long)n, (long long)m);
  float *qf = S + n * m, *kf = qf + n * d, *vf = kf + m * d, *of = vf + m * d;
  for (int64_t pair = 0; pair < b * h; ++pair) {
    for (int64_t e = 0; e < n * d; ++e) qf[e] = em_bf16_to_f32(q[pair * n * d + e]);
    for (int64_t e = 0; e < m * d; ++e) kf[e] = em_bf16_to_f32(k[pair * m * d + e]);
    for (int64_t e = 0; e < m * d; ++e) vf[e] = em_bf16_to_f32(v[pair * m * d + e]);
    attention_pair(qf, kf, vf, of, n, m, d, causal, S);
    for (int64_t e = 0; e < n * d; ++e) o[pair * n * d + e] = em_f32_to_bf16(of[e]);
  }
  free(S);
  return EM_OK;
}
