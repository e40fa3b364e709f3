// Lab 1 reference, CUDA: z[i] = x[i] + c.
//
// 8 bytes per element for one FLOP: memory-bound on every GPU. Fast means the DRAM is always busy:
//   - 16-byte accesses (float4): a warp moves 512 contiguous bytes per instruction, the fewest
//     memory instructions for the bytes;
//   - several independent loads in flight per thread before the first store (kVecPerThread), so
//     each SM keeps enough bytes outstanding to cover the DRAM latency;
//   - streaming cache hints (__ldcs/__stcs): every byte is touched once, so keep it out of L2's way;
//   - a plain scalar kernel for the ragged tail and for pointers that are not 16-byte aligned.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"
#include "em/error.h"

// version 1: part (a), one block, one thread per element.
__global__ void add_block_kernel(const float *__restrict__ x, float c, float *__restrict__ z, int n) {
  int i = threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}

// version 2: part (b), float4 with kVecPerThread loads in flight per thread.
static const int kThreads = 256;      // 8 warps: enough per block, and many blocks per SM
static const int kVecPerThread = 4;   // 4 × 16 B in flight per thread (64 B), enough on Hopper

__global__ void __launch_bounds__(kThreads) add_vec4_kernel(const float4 *__restrict__ x, float c,
                                                           float4 *__restrict__ z, int64_t n4) {
  int64_t base = (int64_t)blockIdx.x * kThreads * kVecPerThread + threadIdx.x;
  float4 v[kVecPerThread];
#pragma unroll
  for (int k = 0; k < kVecPerThread; ++k) {
    int64_t i = base + (int64_t)k * kThreads;  // a warp's k-th loads are one contiguous 512 B
    if (i < n4) v[k] = __ldcs(x + i);
  }
#pragma unroll
  for (int k = 0; k < kVecPerThread; ++k) {
    int64_t i = base + (int64_t)k * kThreads;
    if (i < n4) __stcs(z + i, make_float4(v[k].x + c, v[k].y + c, v[k].z + c, v[k].w + c));
  }
}

__global__ void add_scalar_kernel(const float *__restrict__ x, float c, float *__restrict__ z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}

static int launch_error(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

extern "C" int em_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  if (n <= 0) return EM_OK;
  if (n > EM_ADD_BLOCK) return em__fail(EM_EINVAL, "em_add_a_cuda: n = %lld is more than one block (%d)", (long long)n, EM_ADD_BLOCK);
  int threads = (int)((n + 31) / 32 * 32);  // whole warps
  add_block_kernel<<<1, threads>>>(x, c, z, (int)n);
  return launch_error("add_block_kernel");
}

extern "C" int em_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  if (n <= 0) return EM_OK;
  int64_t done = 0;
  if ((((uintptr_t)x | (uintptr_t)z) & 15) == 0) {
    int64_t n4 = n / 4;
    int64_t per_block = (int64_t)kThreads * kVecPerThread;
    int64_t blocks = (n4 + per_block - 1) / per_block;
    if (blocks > 0) {
      add_vec4_kernel<<<(unsigned)blocks, kThreads>>>((const float4 *)x, c, (float4 *)z, n4);
      int err = launch_error("add_vec4_kernel");
      if (err != EM_OK) return err;
    }
    done = n4 * 4;
  }
  int64_t rest = n - done;
  if (rest > 0) {
    add_scalar_kernel<<<(unsigned)((rest + kThreads - 1) / kThreads), kThreads>>>(x + done, c, z + done, rest);
    return launch_error("add_scalar_kernel");
  }
  return EM_OK;
}
