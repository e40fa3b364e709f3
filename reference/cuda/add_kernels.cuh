// Lab 1 reference kernels, CUDA: z[i] = x[i] + c. Why they are as they are: reference/cuda/add.cu,
// whose launchers include this header; bench/add.cu includes it too, so that the bench times the
// kernel that ships, not a copy of it that may have drifted.
// Everything is static: each program that includes the header gets its own copy, and none links
// against another's. [[maybe_unused]]: the bench launches add_vec4_kernel alone.
#ifndef EM_REFERENCE_CUDA_ADD_KERNELS_CUH
#define EM_REFERENCE_CUDA_ADD_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

// version 1: part (a), one block, one thread per element.
[[maybe_unused]] static __global__ void add_block_kernel(const float *__restrict__ x, float c, float *__restrict__ z,
                                                         int n) {
  int i = threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}

// version 2: part (b), one float4 per thread.
static const int kThreads = 256;  // 8 warps: the SM holds 8 such blocks, 64 warps, its maximum

static __global__ void __launch_bounds__(kThreads) add_vec4_kernel(const float4 *__restrict__ x, float c,
                                                                  float4 *__restrict__ z, int64_t n4) {
  int64_t i = (int64_t)blockIdx.x * kThreads + threadIdx.x;
  if (i < n4) {
    float4 v = x[i];
    z[i] = make_float4(v.x + c, v.y + c, v.z + c, v.w + c);
  }
}

[[maybe_unused]] static __global__ void add_scalar_kernel(const float *__restrict__ x, float c, float *__restrict__ z,
                                                          int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}

#endif  // EM_REFERENCE_CUDA_ADD_KERNELS_CUH
