// Lab 7's planted CUDA files share this: a plain, correct flash attention kernel (a block of 64
// threads per 64 queries of one head, one query per thread, keys and values in tiles of 32 through
// shared memory, the online softmax per key tile), in which each planted file switches one
// mistake on before including it:
//
//   PLANT_NO_BARRIER_AFTER_USE  no __syncthreads() between using a tile and loading the next over
//                               it: fast threads overwrite keys that slow ones still read (a race
//                               that often passes; compute-sanitizer's racecheck names it)
//   PLANT_MASK_TOP_LEFT         query i sees keys j <= i (right only when n = m)
//   PLANT_NO_RESCALE_O          the running output not rescaled when the maximum grows
//
// All three parts on the CUDA track; part (c) reads and writes bfloat16 and sums in float32.
#ifndef EM_PLANTED_LAB7_ONLINE_CUH
#define EM_PLANTED_LAB7_ONLINE_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/attention.h"

#define PTILE 32
#define PQ 64

__device__ inline float planted_load(const float *p, int64_t i) { return p[i]; }
__device__ inline float planted_load(const em_bf16 *p, int64_t i) {
  return __bfloat162float(reinterpret_cast<const __nv_bfloat16 *>(p)[i]);
}
__device__ inline void planted_store(float *p, int64_t i, float v) { p[i] = v; }
__device__ inline void planted_store(em_bf16 *p, int64_t i, float v) {
  reinterpret_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16(v);
}

template <typename T>
__global__ void planted_kernel(const T *q, const T *k, const T *v, T *o, int64_t n, int64_t m, int d, int causal,
                               int64_t qtiles) {
  __shared__ float ks[PTILE][EM_ATTENTION_MAX_D], vs[PTILE][EM_ATTENTION_MAX_D];
  const int64_t head = blockIdx.x / qtiles, i = (blockIdx.x % qtiles) * PQ + threadIdx.x;
  const T *qh = q + head * n * d, *kh = k + head * m * d, *vh = v + head * m * d;
  const float s = 1.0f / sqrtf((float)d);
  float acc[EM_ATTENTION_MAX_D];
  for (int c = 0; c < d; ++c) acc[c] = 0.0f;
  float mx = -INFINITY, sum = 0.0f;
  int64_t last = m - 1;
#ifdef PLANT_MASK_TOP_LEFT
  if (causal) last = i < m - 1 ? i : m - 1;
#else
  if (causal) last = i + m - n < m - 1 ? i + m - n : m - 1;
#endif
  // Every thread of the block walks every tile (the loads need all of them), whatever it sees.
  for (int64_t j0 = 0; j0 < m; j0 += PTILE) {
    for (int t = threadIdx.x; t < PTILE * d; t += blockDim.x) {
      int64_t j = j0 + t / d;
      ks[t / d][t % d] = j < m ? planted_load(kh, j * d + t % d) : 0.0f;
      vs[t / d][t % d] = j < m ? planted_load(vh, j * d + t % d) : 0.0f;
    }
    __syncthreads();
    if (i < n) {
      float p[PTILE], tmax = -INFINITY;
      for (int t = 0; t < PTILE; ++t) {
        float dot = 0.0f;
        for (int c = 0; c < d; ++c) dot += planted_load(qh, i * d + c) * ks[t][c];
        p[t] = j0 + t <= last ? s * dot : -INFINITY;
        tmax = fmaxf(tmax, p[t]);
      }
      float nmx = fmaxf(mx, tmax);
      if (nmx > -INFINITY) {
        float alpha = expf(mx - nmx);
        sum *= alpha;
#ifndef PLANT_NO_RESCALE_O
        for (int c = 0; c < d; ++c) acc[c] *= alpha;
#endif
        for (int t = 0; t < PTILE; ++t) {
          float e = expf(p[t] - nmx);
          sum += e;
          for (int c = 0; c < d; ++c) acc[c] += e * vs[t][c];
        }
        mx = nmx;
      }
    }
#ifndef PLANT_NO_BARRIER_AFTER_USE
    __syncthreads();
#endif
  }
  if (i < n)
    for (int c = 0; c < d; ++c) planted_store(o + head * n * d, i * d + c, sum > 0.0f ? acc[c] / sum : 0.0f);
}

template <typename T>
static void planted_launch(const T *q, const T *k, const T *v, T *o, int64_t heads, int64_t n, int64_t m, int64_t d,
                           int causal) {
  int64_t qtiles = (n + PQ - 1) / PQ;
  planted_kernel<T><<<(unsigned)(heads * qtiles), PQ>>>(q, k, v, o, n, m, (int)d, causal, qtiles);
}

void lab7_attention_a_cuda(const float *q, const float *k, const float *v, float *o, int64_t n, int64_t m,
                           int64_t d) {
  planted_launch(q, k, v, o, 1, n, m, d, 0);
}

void lab7_attention_b_cuda(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                           int64_t n, int64_t m, int64_t d, int causal) {
  planted_launch(q, k, v, o, b * h, n, m, d, causal);
}

void lab7_attention_c_cuda(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b, int64_t h,
                           int64_t n, int64_t m, int64_t d, int causal) {
  planted_launch(q, k, v, o, b * h, n, m, d, causal);
}

#endif  // EM_PLANTED_LAB7_ONLINE_CUH
