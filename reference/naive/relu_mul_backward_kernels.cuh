// Lab 4 naive baseline kernels, CUDA: dy as one block per row reducing in float64 shared memory,
// dx as float64 partial column sums over slices of rows, then a sum of the slices. Two passes over
// dz where the reference makes one. reference/naive/relu_mul_backward.cu launches them for the
// checker's "naive" column; bench/relu_mul_backward.cu includes this header too, so its "v1 naive"
// row times these kernels, not a copy of them.
// Everything is static, constexpr or a template: each program that includes the header gets its
// own copy, and none links against another's.
#ifndef EM_REFERENCE_NAIVE_RELU_MUL_BACKWARD_KERNELS_CUH
#define EM_REFERENCE_NAIVE_RELU_MUL_BACKWARD_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

constexpr int kNaiveThreads = 256;  // one block of every naive kernel

static __global__ void naive_dy(const float *x, const float *y, const float *dz, int64_t n, float *dy) {
  const int64_t i = blockIdx.x;
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += kNaiveThreads)
    if (x[j] * y[i] > 0.f) s += (double)dz[i * n + j] * x[j];
  __shared__ double sh[kNaiveThreads];
  sh[threadIdx.x] = s;
  __syncthreads();
  for (int h = kNaiveThreads / 2; h > 0; h /= 2) {
    if (threadIdx.x < h) sh[threadIdx.x] += sh[threadIdx.x + h];
    __syncthreads();
  }
  if (threadIdx.x == 0) dy[i] = (float)sh[0];
}

// Slice blockIdx.y's rows [i0, i0 + slice_rows) of column j, summed in float64.
static __global__ void naive_dx_slices(const float *x, const float *y, const float *dz, int64_t m, int64_t n,
                                       int64_t slice_rows, double *slices) {
  const int64_t j = (int64_t)blockIdx.x * kNaiveThreads + threadIdx.x;
  if (j >= n) return;
  const int64_t i0 = (int64_t)blockIdx.y * slice_rows, i1 = i0 + slice_rows < m ? i0 + slice_rows : m;
  double s = 0.0;
  for (int64_t i = i0; i < i1; ++i)
    if (x[j] * y[i] > 0.f) s += (double)dz[i * n + j] * y[i];
  slices[blockIdx.y * n + j] = s;
}

static __global__ void naive_dx_sum(const double *slices, int64_t nslices, int64_t n, float *dx) {
  const int64_t j = (int64_t)blockIdx.x * kNaiveThreads + threadIdx.x;
  if (j >= n) return;
  double s = 0.0;
  for (int64_t k = 0; k < nslices; ++k) s += slices[k * n + j];
  dx[j] = (float)s;
}

#endif
