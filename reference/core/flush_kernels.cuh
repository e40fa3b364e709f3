// The read pass of the L2 flush before every timed GPU run: the checker's (em_cuda_time_run in
// reference/core/cuda.cu) and the stand-alone benches' (bench/common.cuh), the same kernel, so that
// a bench's runs start from the L2 the checker's do.
#ifndef EM_REFERENCE_CORE_FLUSH_KERNELS_CUH
#define EM_REFERENCE_CORE_FLUSH_KERNELS_CUH

#include <cuda_runtime.h>
#include <stddef.h>

namespace em__flush {

// Reads every 16 bytes of p (n of them) and keeps their sum, so that nothing is optimised away: the
// flush's read pass (a buffer twice the L2, so that no line of the previous run survives it), and
// bench/l2_flush.cu's read-only stream.
static __global__ void read_sum_kernel(const uint4 *p, size_t n, unsigned *sink) {
  unsigned s = 0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const uint4 a = p[i];
    s += a.x ^ a.y ^ a.z ^ a.w;
  }
  if (s == 0x12345678u) atomicAdd(sink, s);  // never, for a buffer of zeros; the compiler cannot know
}

}  // namespace em__flush

#endif  // EM_REFERENCE_CORE_FLUSH_KERNELS_CUH
