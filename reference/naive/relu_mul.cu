// Lab 3 naive baseline, CUDA: the classic first attempt, unfused, as `relu(y[:, None] * x[None, :])`
// runs in an array library: one kernel writes the product into a temporary m×n buffer, a second
// reads it back and writes its ReLU into z. Each kernel is a plain one-thread-per-element kernel
// over the flat index k = i*n + j (i = k / n, j = k % n: a 64-bit division per element, which the
// memory traffic hides). Correct, and three passes over m*n floats where the fused kernel makes
// one. The temporary is allocated and freed on every call (cudaFree waits for the kernels), and
// the checker's timing includes that: it is part of what an unfused operation costs without a
// caching allocator.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/relu_mul.h"

static const int kThreads = 256;

__global__ void product_kernel(const float *x, const float *y, float *t, int64_t m, int64_t n) {
  int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (k < m * n) {
    int64_t i = k / n, j = k % n;
    t[k] = x[j] * y[i];
  }
}

__global__ void relu_kernel(const float *t, float *z, int64_t count) {
  int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (k < count) z[k] = t[k] > 0.0f ? t[k] : 0.0f;
}

extern "C" int em_relu_mul_naive_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return EM_OK;
  int64_t count = m * n;
  int64_t blocks = (count + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffff)
    return em__fail(EM_EINVAL, "em_relu_mul_naive_cuda: %lld elements need more blocks than a grid has", (long long)count);
  float *t = NULL;
  cudaError_t e = cudaMalloc((void **)&t, (size_t)count * sizeof(float));
  if (e != cudaSuccess)
    return em__fail(EM_ECUDA, "em_relu_mul_naive_cuda: cudaMalloc of the %lld-byte temporary: %s",
                    (long long)count * 4, cudaGetErrorString(e));
  product_kernel<<<(unsigned)blocks, kThreads>>>(x, y, t, m, n);
  const char *what = "product_kernel";
  e = cudaGetLastError();
  if (e == cudaSuccess) {
    relu_kernel<<<(unsigned)blocks, kThreads>>>(t, z, count);
    what = "relu_kernel";
    e = cudaGetLastError();
  }
  // cudaFree waits for both kernels; it also reports an error either of them hit while running.
  cudaError_t f = cudaFree(t);
  if (e != cudaSuccess) return em__fail(EM_ECUDA, "em_relu_mul_naive_cuda: %s: %s", what, cudaGetErrorString(e));
  if (f != cudaSuccess) return em__fail(EM_ECUDA, "em_relu_mul_naive_cuda: cudaFree: %s", cudaGetErrorString(f));
  return EM_OK;
}
