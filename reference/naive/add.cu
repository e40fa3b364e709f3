// Lab 1 naive baseline, CUDA: the part (a) kernel stretched over any n, one block striding over
// the whole array. Correct, and a lesson: one block runs on one SM of the GPU's dozens (132 on an
// H200), so it reaches a small fraction of the bandwidth however well each thread behaves.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"
#include "em/error.h"

__global__ void add_naive_kernel(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) z[i] = x[i] + c;
}

extern "C" int em_add_naive_cuda(const float *x, float c, float *z, int64_t n) {
  if (n <= 0) return EM_OK;
  add_naive_kernel<<<1, 256>>>(x, c, z, n);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "add_naive_kernel: %s", cudaGetErrorString(e));
}
