// Lab 1 reference, CUDA: z[i] = x[i] + c.
//
// 8 bytes per element for one FLOP: memory-bound on every GPU. Fast means the DRAM is always busy,
// and the simplest kernel that does it wins:
//   - 16-byte accesses (float4): a warp moves 512 contiguous bytes per instruction, the fewest
//     memory instructions for the bytes;
//   - one float4 per thread and a grid that covers the array: the block scheduler keeps every SM
//     full of resident warps (8 blocks of 256 threads per SM), enough loads in flight to cover the
//     DRAM latency without unrolling;
//   - a scalar kernel for the ragged tail and for pointers that are not 16-byte aligned.
// The variants that lost to it (unrolled, cache hints, grid-stride), timed side by side by
// bench/add.cu: labs/lab1-add/README.md, section 4, "GPU".
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"
#include "em/error.h"

// The kernels and their launch constants (kThreads), shared with bench/add.cu.
#include "add_kernels.cuh"

static int launch_error(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

extern "C" int em_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  if (n <= 0) return EM_OK;
  if (n > EM_ADD_BLOCK)
    return em__fail(EM_EINVAL, "em_add_a_cuda: n = %lld is more than one block (%d)", (long long)n, EM_ADD_BLOCK);
  int threads = (int)((n + 31) / 32 * 32);  // whole warps
  add_block_kernel<<<1, threads>>>(x, c, z, (int)n);
  return launch_error("add_block_kernel");
}

extern "C" int em_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  if (n <= 0) return EM_OK;
  int64_t done = 0;
  if ((((uintptr_t)x | (uintptr_t)z) & 15) == 0) {
    int64_t n4 = n / 4;
    // 2^31 - 1 blocks of 1024 floats: arrays up to 8 TiB, beyond any GPU's memory.
    int64_t blocks = (n4 + kThreads - 1) / kThreads;
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
