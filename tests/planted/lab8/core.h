/* Lab 8's planted files share this: a plain, correct int8 linear layer on the CPU (all four parts),
 * in which each planted file switches one mistake on before including it:
 *
 *   PLANT_ROUND_AWAY      roundf (half away from zero) instead of rintf (half to even)
 *   PLANT_TRUNCATE        (int) of the quotient: rounds toward zero
 *   PLANT_PER_TENSOR      one scale for the whole matrix (its largest |value| / 127) for every row
 *   PLANT_CLAMP_128       the scale max/127.5 and a clamp to [-128, 127]: the asymmetric int8 range
 *   PLANT_INT16_ACC       the sums in int16: they wrap past 32767
 *   PLANT_FLOAT_ACC       the products summed in a float: exact only below 2^24
 *   PLANT_DEQUANT_FIRST   each product dequantised, then summed in float: the epilogue not fused,
 *                         and float rounding over K terms
 *   PLANT_BIAS_TWICE      the bias added twice
 *   PLANT_TRANSPOSED_W    W read as K×N instead of N×K
 *   PLANT_DW_NO_SX        dW = dyᵀ·xq without the activation scale
 */
#ifndef EM_PLANTED_LAB8_CORE_H
#define EM_PLANTED_LAB8_CORE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "em/qlinear.h"

static void planted_quantize(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
#ifdef PLANT_PER_TENSOR
  float all = 0.0f;
  for (int64_t i = 0; i < rows * cols; ++i) all = fabsf(a[i]) > all ? fabsf(a[i]) : all;
#endif
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = a + r * cols;
    float mx = 0.0f;
    for (int64_t k = 0; k < cols; ++k) mx = fabsf(row[k]) > mx ? fabsf(row[k]) : mx;
#ifdef PLANT_PER_TENSOR
    mx = all;
#endif
#ifdef PLANT_CLAMP_128
    float s = mx / 127.5f;
    const float lo = -128.0f;
#else
    float s = mx / 127.0f;
    const float lo = -127.0f;
#endif
    scale[r] = s;
    for (int64_t k = 0; k < cols; ++k) {
      float q = s > 0.0f ? row[k] / s : 0.0f;
#ifdef PLANT_ROUND_AWAY
      q = roundf(q);
#elif defined(PLANT_TRUNCATE)
      q = truncf(q);
#else
      q = rintf(q);
#endif
      aq[r * cols + k] = (int8_t)(q < lo ? lo : q > 127.0f ? 127.0f : q);
    }
  }
}

static int8_t planted_w(const int8_t *wq, int64_t o, int64_t k, int64_t N, int64_t K) {
#ifdef PLANT_TRANSPOSED_W
  (void)K;
  return wq[k * N + o];
#else
  (void)N;
  return wq[o * K + k];
#endif
}

static void planted_forward(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                            int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < M; ++r)
    for (int64_t o = 0; o < N; ++o) {
#ifdef PLANT_INT16_ACC
      int16_t s = 0;
#elif defined(PLANT_FLOAT_ACC)
      float s = 0.0f;
#else
      int32_t s = 0;
#endif
      float deq = 0.0f;
      for (int64_t k = 0; k < K; ++k) {
        int p = xq[r * K + k] * planted_w(wq, o, k, N, K);
        s = s + p;
        deq += (sx[r] * xq[r * K + k]) * (sw[o] * planted_w(wq, o, k, N, K));
      }
      if (acc) acc[r * N + o] = (int32_t)s;
#ifdef PLANT_DEQUANT_FIRST
      float v = deq + b[o];
#else
      (void)deq;
      float v = (sx[r] * sw[o]) * (float)s + b[o];
#endif
#ifdef PLANT_BIAS_TWICE
      v += b[o];
#endif
      y[r * N + o] = v;
    }
}

static void planted_backward(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                             float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < M; ++r)
    for (int64_t k = 0; k < K; ++k) {
      float s = 0.0f;
      for (int64_t o = 0; o < N; ++o) s += dy[r * N + o] * (sw[o] * (float)planted_w(wq, o, k, N, K));
      dx[r * K + k] = s;
    }
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < N; ++o) {
    for (int64_t k = 0; k < K; ++k) {
      float s = 0.0f;
#ifdef PLANT_DW_NO_SX
      (void)sx;
      for (int64_t r = 0; r < M; ++r) s += dy[r * N + o] * (float)xq[r * K + k];
#else
      for (int64_t r = 0; r < M; ++r) s += dy[r * N + o] * (sx[r] * (float)xq[r * K + k]);
#endif
      dw[o * K + k] = s;
    }
    float s = 0.0f;
    for (int64_t r = 0; r < M; ++r) s += dy[r * N + o];
    db[o] = s;
  }
}

void lab8_quantize(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  planted_quantize(a, rows, cols, aq, scale);
}

void lab8_forward(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b, int32_t *acc,
                  float *y, int64_t M, int64_t N, int64_t K) {
  planted_forward(xq, sx, wq, sw, b, acc, y, M, N, K);
}

void lab8_backward(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, float *dx,
                   float *dw, float *db, int64_t M, int64_t N, int64_t K) {
  planted_backward(dy, xq, sx, wq, sw, dx, dw, db, M, N, K);
}

void lab8_step(const float *w, const float *b, const float *x, const float *dy, float *y, float *dx, float *dw,
               float *db, int64_t M, int64_t N, int64_t K) {
  int8_t *wq = (int8_t *)malloc((size_t)(N * K)), *xq = (int8_t *)malloc((size_t)(M * K));
  float *sw = (float *)malloc((size_t)N * sizeof(float)), *sx = (float *)malloc((size_t)M * sizeof(float));
  if (wq && xq && sw && sx) {
    planted_quantize(w, N, K, wq, sw);
    planted_quantize(x, M, K, xq, sx);
    planted_forward(xq, sx, wq, sw, b, NULL, y, M, N, K);
    planted_backward(dy, xq, sx, wq, sw, dx, dw, db, M, N, K);
  }
  free(wq), free(xq), free(sw), free(sx);
}

#endif /* EM_PLANTED_LAB8_CORE_H */
