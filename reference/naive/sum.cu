// Lab 5 naive baseline, CUDA: the textbook first reduction kernel. One block of 1024 threads per
// row; each thread adds every 1024th element of the row (scalar loads), then the block adds its
// 1024 partial sums with a shared-memory tree, halving the active threads at each level with a
// __syncthreads() between levels. No warp shuffles, no float4, one load in flight per thread.
//
// Correct (1024 chains of t/1024 elements: their random rounding errors stay near 5·2^-24·Σ|x| even
// at t = 2^25, well within the tolerance), and a lesson in two ways: with b = 8 rows only 8 of the
// H200's 132 SMs have any work, and ten levels of __syncthreads() for 1024 numbers cost more than
// the five shuffles per warp that do the same.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/sum.h"

static const int kNaiveThreads = 1024; // the most a block may have: the most chains per row

__global__ void sum_naive_kernel(const float *x, float *z, int64_t t) {
  __shared__ float s[kNaiveThreads];
  const float *row = x + (int64_t)blockIdx.x * t;
  float a = 0.0f;
  for (int64_t j = threadIdx.x; j < t; j += kNaiveThreads) a += row[j];
  s[threadIdx.x] = a;
  __syncthreads();
  for (int h = kNaiveThreads / 2; h > 0; h >>= 1) {
    if ((int)threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
    __syncthreads();
  }
  if (threadIdx.x == 0) z[blockIdx.x] = s[0];
}

extern "C" int em_sum_naive_cuda(const float *x, float *z, int64_t b, int64_t t) {
  if (b <= 0) return EM_OK;
  if (b > INT32_MAX) return em__fail(EM_EINVAL, "em_sum_naive_cuda: b = %lld rows is more than 2^31 - 1", (long long)b);
  sum_naive_kernel<<<(unsigned)b, kNaiveThreads>>>(x, z, t);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "sum_naive_kernel: %s", cudaGetErrorString(e));
}
