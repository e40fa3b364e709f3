/* Lab 7's planted files share this: a plain, correct online-softmax attention (one query row at a
 * time, keys in tiles of TILE, the running maximum, sum and output rescaled per tile), in which
 * each planted file switches one mistake on before including it:
 *
 *   PLANT_NO_RESCALE_O     the running output is not rescaled when the maximum grows
 *   PLANT_NO_RESCALE_SUM   the running sum is not
 *   PLANT_SCALE_FORGOTTEN  no 1/sqrt(d)                PLANT_SCALE_TWICE   1/d instead
 *   PLANT_MASK_PLUS_ONE    a query also sees key i + m - n + 1 (the mask off by one)
 *   PLANT_MASK_TOP_LEFT    query i sees keys j <= i (right only when n = m)
 *   PLANT_DROP_LAST_TILE   the last, partial key tile is skipped
 *
 * It defines all three parts on the CPU track; part (c) widens to float32 and rounds the output.
 */
#ifndef EM_PLANTED_LAB7_ONLINE_H
#define EM_PLANTED_LAB7_ONLINE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "em/attention.h"

#define TILE 16

static int64_t planted_last_key(int64_t i, int64_t n, int64_t m, int causal) {
  if (!causal) return m - 1;
#ifdef PLANT_MASK_TOP_LEFT
  (void)n;
  int64_t last = i;
#elif defined(PLANT_MASK_PLUS_ONE)
  int64_t last = i + m - n + 1;
#else
  int64_t last = i + m - n;
#endif
  return last < m - 1 ? last : m - 1;
}

static void planted_row(const float *q, const float *k, const float *v, float *o, int64_t n, int64_t m, int64_t d,
                        int causal, int64_t i) {
#ifdef PLANT_SCALE_FORGOTTEN
  const float s = 1.0f;
#elif defined(PLANT_SCALE_TWICE)
  const float s = 1.0f / (float)d;
#else
  const float s = 1.0f / sqrtf((float)d);
#endif
  float acc[EM_ATTENTION_MAX_D], p[TILE];
  for (int64_t c = 0; c < d; ++c) acc[c] = 0.0f;
  float mx = -INFINITY, sum = 0.0f;
  int64_t keys = planted_last_key(i, n, m, causal) + 1;
#ifdef PLANT_DROP_LAST_TILE
  if (keys > TILE) keys -= keys % TILE;
#endif
  for (int64_t j0 = 0; j0 < keys; j0 += TILE) {
    int64_t len = keys - j0 < TILE ? keys - j0 : TILE;
    float tmax = -INFINITY;
    for (int64_t t = 0; t < len; ++t) {
      float dot = 0.0f;
      for (int64_t c = 0; c < d; ++c) dot += q[c] * k[(j0 + t) * d + c];
      p[t] = s * dot;
      tmax = fmaxf(tmax, p[t]);
    }
    float nmx = fmaxf(mx, tmax), alpha = expf(mx - nmx); /* exp(-inf) = 0 on the first tile */
#ifndef PLANT_NO_RESCALE_SUM
    sum *= alpha;
#endif
#ifndef PLANT_NO_RESCALE_O
    for (int64_t c = 0; c < d; ++c) acc[c] *= alpha;
#endif
    for (int64_t t = 0; t < len; ++t) {
      float e = expf(p[t] - nmx);
      sum += e;
      for (int64_t c = 0; c < d; ++c) acc[c] += e * v[(j0 + t) * d + c];
    }
    mx = nmx;
  }
  for (int64_t c = 0; c < d; ++c) o[c] = keys > 0 ? acc[c] / sum : 0.0f;
}

static void planted_heads(const float *q, const float *k, const float *v, float *o, int64_t heads, int64_t n,
                          int64_t m, int64_t d, int causal) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t g = 0; g < heads; ++g)
    for (int64_t i = 0; i < n; ++i)
      planted_row(q + (g * n + i) * d, k + g * m * d, v + g * m * d, o + (g * n + i) * d, n, m, d, causal, i);
}

void lab7_attention_a(const float *q, const float *k, const float *v, float *o, int64_t n, int64_t m, int64_t d) {
  planted_heads(q, k, v, o, 1, n, m, d, 0);
}

void lab7_attention_b(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h, int64_t n,
                      int64_t m, int64_t d, int causal) {
  planted_heads(q, k, v, o, b * h, n, m, d, causal);
}

static float *planted_widen(const em_bf16 *x, int64_t len) {
  float *f = (float *)malloc((size_t)len * sizeof *f);
  if (f)
    for (int64_t i = 0; i < len; ++i) f[i] = em_bf16_to_f32(x[i]);
  return f;
}

void lab7_attention_c(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b, int64_t h,
                      int64_t n, int64_t m, int64_t d, int causal) {
  int64_t nq = b * h * n * d, nk = b * h * m * d;
  float *fq = planted_widen(q, nq), *fk = planted_widen(k, nk), *fv = planted_widen(v, nk);
  float *fo = (float *)malloc((size_t)nq * sizeof *fo);
  if (fq && fk && fv && fo) {
    planted_heads(fq, fk, fv, fo, b * h, n, m, d, causal);
    for (int64_t i = 0; i < nq; ++i) o[i] = em_f32_to_bf16(fo[i]);
  }
  free(fq), free(fk), free(fv), free(fo);
}

#endif /* EM_PLANTED_LAB7_ONLINE_H */
