// Planted cheat (lab 4, CUDA): lab4/fingerprint.c on the GPU. Each call hashes every element of x,
// y and dz in a kernel and copies the hash back; when the pointers, m, n and the hash are those of
// the previous call, no other kernel is launched and dx and dy stay as they were. A checker whose
// timed calls never see the inputs of the call before makes it pay the hash and a synchronisation
// on top of plain kernels. (lab1/fingerprint.cu says more.)
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "em/relu_mul_backward.h"
#include "../fingerprint.cuh"

// Rows per block of dx_kernel: each thread adds up a column's terms over ROWS rows in float64
// and adds them into acc[j] (float64 atomics), so tall dz keeps many blocks busy.
#define ROWS 256

__global__ void dx_kernel(const float *x, const float *y, const float *dz, double *acc, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  int64_t lo = (int64_t)blockIdx.y * ROWS, hi = lo + ROWS < m ? lo + ROWS : m;
  double s = 0.0;
  for (int64_t i = lo; i < hi; ++i)
    if (x[j] * y[i] > 0.0f) s += (double)dz[i * n + j] * y[i];
  atomicAdd(&acc[j], s);
}

__global__ void to_float(const double *acc, float *dx, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j < n) dx[j] = (float)acc[j];
}

// One block of 256 threads per row: float64 partial sums, then a tree in shared memory.
__global__ void dy_kernel(const float *x, const float *y, const float *dz, float *dy, int64_t n) {
  __shared__ double part[256];
  int64_t i = blockIdx.x;
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    if (x[j] * y[i] > 0.0f) s += (double)dz[i * n + j] * x[j];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) dy[i] = (float)part[0];
}

static memo last;

void lab4_relu_mul_backward_cuda(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                                 int64_t n) {
  static double *acc;
  static int64_t acc_n;
  unsigned long long h = 0;
  const float *in[3] = {x, y, dz};
  int64_t len[3] = {n, m, m * n};
  int hashed = fingerprint(in, len, 3, &h);
  uint64_t key[8] = {(uintptr_t)x, (uintptr_t)y, (uintptr_t)dz, (uintptr_t)dx, (uintptr_t)dy, (uint64_t)m,
                     (uint64_t)n, h};
  if (unchanged(&last, key, 8, hashed)) return; // "already computed"
  if (n > acc_n) {
    cudaFree(acc);
    acc_n = cudaMalloc(&acc, (size_t)n * sizeof *acc) == cudaSuccess ? n : 0;
  }
  cudaMemsetAsync(acc, 0, (size_t)n * sizeof *acc);
  dim3 grid((unsigned)((n + 255) / 256), (unsigned)((m + ROWS - 1) / ROWS));
  dx_kernel<<<grid, 256>>>(x, y, dz, acc, m, n);
  to_float<<<(unsigned)((n + 255) / 256), 256>>>(acc, dx, n);
  dy_kernel<<<(unsigned)m, 256>>>(x, y, dz, dy, n);
}
