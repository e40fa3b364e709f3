// Lab 7 naive baselines, CUDA: attention as the textbook writes it, three steps per (batch, head)
// with the n×m score matrix stored whole in global memory:
//   1. scores:  S[i][j] = s·q[i]·k[j] (−inf where the causal mask hides key j from query i), one
//               thread per score, a plain loop over d;
//   2. softmax: P = softmax(S) row by row in place, one block per row (max, sum, divide: lab 6's
//               naive kernel; a row with no visible key becomes zeros, its o = 0);
//   3. output:  o[i][c] = Σ_j P[i][j]·v[j][c], one thread per output element.
// Correct, and a lesson in what it costs: the n·m floats of S are written once and read three
// times (256 MiB per head at n = m = 16384), the first kernel reads k with a stride of d floats
// between neighbouring threads, and nothing is kept on chip between the steps.
//
// S is allocated on every call (the per-head scratch, reused by the heads of the call) and freed
// at its end with the stream-ordered allocator: cudaMallocAsync / cudaFreeAsync on the default
// stream, so that the call still returns without waiting for the GPU (cudaFree would synchronise).
// The bf16 variant reads bf16 q, k, v (widened exactly), keeps S and P in float32, sums in float32
// and rounds o to bf16 (round to nearest even).
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/attention.h"
#include "em/error.h"

namespace {

const int kThreads = 256;
const int64_t kMaxBlocks = 1 << 20;  // grid-stride loops beyond this

__device__ __forceinline__ float widen(float x) { return x; }
__device__ __forceinline__ float widen(uint16_t x) { return __uint_as_float((uint32_t)x << 16); }
__device__ __forceinline__ void narrow(float *p, float x) { *p = x; }
__device__ __forceinline__ void narrow(uint16_t *p, float x) { *p = __bfloat16_as_ushort(__float2bfloat16_rn(x)); }

template <typename T>
__global__ void scores_kernel(const T *q, const T *k, float *s, int64_t n, int64_t m, int64_t d, float scale,
                              int causal) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < n * m; idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = idx / m, j = idx % m;
    if (causal && j > i + m - n) {
      s[idx] = -INFINITY;
      continue;
    }
    float acc = 0.0f;
    for (int64_t c = 0; c < d; ++c) acc += widen(q[i * d + c]) * widen(k[j * d + c]);
    s[idx] = acc * scale;
  }
}

__global__ void softmax_rows_kernel(float *s, int64_t m) {
  __shared__ float red[kThreads];
  __shared__ double red_sum[kThreads];
  float *row = s + (int64_t)blockIdx.x * m;
  const int tid = threadIdx.x;

  float mx = -INFINITY;
  for (int64_t j = tid; j < m; j += kThreads) mx = fmaxf(mx, row[j]);
  red[tid] = mx;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (tid < w) red[tid] = fmaxf(red[tid], red[tid + w]);
    __syncthreads();
  }
  mx = red[0];
  if (mx == -INFINITY) {  // the query sees no key: P = 0, so o = 0 (and no exp(−inf − (−inf)) = NaN)
    for (int64_t j = tid; j < m; j += kThreads) row[j] = 0.0f;
    return;  // the whole block: mx is the same in every thread
  }

  double sum = 0.0;
  for (int64_t j = tid; j < m; j += kThreads) sum += expf(row[j] - mx);
  red_sum[tid] = sum;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (tid < w) red_sum[tid] += red_sum[tid + w];
    __syncthreads();
  }
  const float total = (float)red_sum[0];
  for (int64_t j = tid; j < m; j += kThreads) row[j] = expf(row[j] - mx) / total;
}

template <typename T>
__global__ void output_kernel(const float *p, const T *v, T *o, int64_t n, int64_t m, int64_t d) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < n * d; idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = idx / d, c = idx % d;
    float acc = 0.0f;
    for (int64_t j = 0; j < m; ++j) acc += p[i * m + j] * widen(v[j * d + c]);
    narrow(&o[idx], acc);
  }
}

unsigned grid_for(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return (unsigned)(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

template <typename T>
int naive(const char *fn, const T *q, const T *k, const T *v, T *o, int64_t b, int64_t h, int64_t n, int64_t m,
          int64_t d, int causal) {
  if (!em_attention_d_ok(d)) return em__fail(EM_EINVAL, "%s: d = %lld, must be 16, 32, 64 or 128", fn, (long long)d);
  if (b < 0 || h < 0 || n < 0 || m < 0)
    return em__fail(EM_EINVAL, "%s: negative size (b = %lld, h = %lld, n = %lld, m = %lld)", fn, (long long)b,
                    (long long)h, (long long)n, (long long)m);
  if (b == 0 || h == 0 || n == 0) return EM_OK;
  if (n > INT32_MAX || m > INT32_MAX || b > INT32_MAX / h)
    return em__fail(EM_EINVAL, "%s: n = %lld, m = %lld, b·h = %lld·%lld: past 2^31 - 1 (a block per query row)", fn,
                    (long long)n, (long long)m, (long long)b, (long long)h);
  if (m == 0) {  // no key at all: every query's o is 0
    cudaError_t e = cudaMemsetAsync(o, 0, (size_t)(b * h * n * d) * sizeof(T), 0);
    return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: cudaMemsetAsync: %s", fn, cudaGetErrorString(e));
  }

  float *s = nullptr;
  const size_t bytes = (size_t)n * (size_t)m * sizeof(float);
  cudaError_t e = cudaMallocAsync((void **)&s, bytes, 0);
  if (e != cudaSuccess) {
    cudaGetLastError();  // an allocation failure is not sticky: leave no error for the next call to find
    return em__fail(e == cudaErrorMemoryAllocation ? EM_ENOMEM : EM_ECUDA,
                    "%s: cudaMallocAsync(%zu bytes) for the %lld × %lld score matrix: %s", fn, bytes, (long long)n,
                    (long long)m, cudaGetErrorString(e));
  }
  const float scale = (float)(1.0 / sqrt((double)d));
  const char *what = "scores_kernel";
  for (int64_t head = 0; head < b * h && e == cudaSuccess; ++head) {
    const T *qh = q + head * n * d, *kh = k + head * m * d, *vh = v + head * m * d;
    T *oh = o + head * n * d;
    scores_kernel<T><<<grid_for(n * m), kThreads>>>(qh, kh, s, n, m, d, scale, causal);
    what = "scores_kernel";
    if ((e = cudaGetLastError()) != cudaSuccess) break;
    softmax_rows_kernel<<<(unsigned)n, kThreads>>>(s, m);
    what = "softmax_rows_kernel";
    if ((e = cudaGetLastError()) != cudaSuccess) break;
    output_kernel<T><<<grid_for(n * d), kThreads>>>(s, vh, oh, n, m, d);
    what = "output_kernel";
    e = cudaGetLastError();
  }
  // Queued after the kernels: the memory returns to the pool once they are done with it.
  cudaError_t f = cudaFreeAsync(s, 0);
  if (e != cudaSuccess) return em__fail(EM_ECUDA, "%s: %s: %s", fn, what, cudaGetErrorString(e));
  if (f != cudaSuccess) return em__fail(EM_ECUDA, "%s: cudaFreeAsync: %s", fn, cudaGetErrorString(f));
  return EM_OK;
}

}  // namespace

extern "C" int em_attention_naive_cuda(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                                       int64_t n, int64_t m, int64_t d, int causal) {
  return naive("em_attention_naive_cuda", q, k, v, o, b, h, n, m, d, causal);
}

extern "C" int em_attention_bf16_naive_cuda(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o,
                                            int64_t b, int64_t h, int64_t n, int64_t m, int64_t d, int causal) {
  return naive("em_attention_bf16_naive_cuda", q, k, v, o, b, h, n, m, d, causal);
}
