// Lab 6 naive baseline, CUDA: one block of 256 threads per row and the three passes of the
// textbook, each a strided loop over the row: the max, the sum of exp (in double, to be correct on
// long rows), the division. Correct, and a lesson in what it costs: x is read three times (12
// bytes per element moved from DRAM or L2 instead of 8 where the row does not stay in L2), exp is
// computed twice, the reductions go through shared memory with a __syncthreads per level, and
// 256 threads of 4-byte loads keep too few bytes in flight for a long row.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/error.h"
#include "em/softmax.h"

static const int kNaiveThreads = 256;

static __global__ void softmax_naive_kernel(const float *x, float *z, int64_t t) {
  __shared__ float red[kNaiveThreads];
  __shared__ double red_sum[kNaiveThreads];
  const float *xr = x + (int64_t)blockIdx.x * t;
  float *zr = z + (int64_t)blockIdx.x * t;
  const int tid = threadIdx.x;

  float m = -INFINITY;
  for (int64_t j = tid; j < t; j += kNaiveThreads) m = fmaxf(m, xr[j]);
  red[tid] = m;
  __syncthreads();
  for (int w = kNaiveThreads / 2; w > 0; w /= 2) {
    if (tid < w) red[tid] = fmaxf(red[tid], red[tid + w]);
    __syncthreads();
  }
  m = red[0];

  double s = 0.0;
  for (int64_t j = tid; j < t; j += kNaiveThreads) s += expf(xr[j] - m);
  red_sum[tid] = s;
  __syncthreads();
  for (int w = kNaiveThreads / 2; w > 0; w /= 2) {
    if (tid < w) red_sum[tid] += red_sum[tid + w];
    __syncthreads();
  }
  const float total = (float)red_sum[0];

  for (int64_t j = tid; j < t; j += kNaiveThreads) zr[j] = expf(xr[j] - m) / total;
}

extern "C" int em_softmax_naive_cuda(const float *x, float *z, int64_t b, int64_t t) {
  if (b <= 0 || t <= 0) return EM_OK;
  if (b > INT32_MAX) return em__fail(EM_EINVAL, "em_softmax_naive_cuda: b = %lld rows is more than a grid holds", (long long)b);
  softmax_naive_kernel<<<(unsigned)b, kNaiveThreads>>>(x, z, t);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "softmax_naive_kernel: %s", cudaGetErrorString(e));
}
