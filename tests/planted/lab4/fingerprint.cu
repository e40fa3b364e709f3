// Planted cheat (lab 4, CUDA): lab4/fingerprint.c on the GPU. Each call hashes every element of x,
// y and dz in a kernel and copies the hash back; when the pointers, m, n and the hash are those of
// the previous call, no other kernel is launched and dx and dy stay as they were. A checker whose
// timed calls never see the inputs of the call before makes it pay the hash and a synchronisation
// on top of plain kernels. (lab1/fingerprint.cu says more.)
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "em/relu_mul_backward.h"

// ---- the fingerprint --------------------------------------------------------------------------
// 64 bits from every word of the inputs: each element adds mix(its word + mix(its index + salt))
// into one sum modulo 2^64 (an atomicAdd per warp), salt telling the inputs apart. The index in
// the mix makes the sum order-sensitive: exchanging two different elements changes it but by a
// 2^-64 accident.
__device__ unsigned long long mix(unsigned long long v) {
  v ^= v >> 30;
  v *= 0xbf58476d1ce4e5b9ull;
  v ^= v >> 27;
  v *= 0x94d049bb133111ebull;
  return v ^ (v >> 31);
}

__global__ void fingerprint_kernel(const uint32_t *w, int64_t n, unsigned long long salt, unsigned long long *sum) {
  unsigned long long s = 0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    s += mix(w[i] + mix((unsigned long long)i + salt));
  for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) atomicAdd(sum, s);
}

// The fingerprint of nin inputs (n[k] floats at in[k], device pointers) into *h, on the host: the
// copy back waits for the kernels. 0 when it cannot be had (then nothing may be skipped).
static int fingerprint(const float *const *in, const int64_t *n, int nin, unsigned long long *h) {
  static unsigned long long *sum;
  if (!sum && cudaMalloc(&sum, sizeof *sum) != cudaSuccess) return 0;
  cudaMemset(sum, 0, sizeof *sum);
  for (int k = 0; k < nin; ++k) {
    int64_t blocks = (n[k] + 255) / 256;
    fingerprint_kernel<<<(unsigned)(blocks < 4096 ? blocks : 4096), 256>>>((const uint32_t *)in[k], n[k],
                                                                            (unsigned long long)k << 40, sum);
  }
  return cudaMemcpy(h, sum, sizeof *h, cudaMemcpyDeviceToHost) == cudaSuccess;
}

// The key of a call: its pointers, sizes and scalars, then the fingerprint of its inputs.
struct memo {
  uint64_t key[8];
  int valid;
};

// Whether key is the key of the previous call through m (hashed: its fingerprint was had);
// remembers it either way.
static int unchanged(memo *m, const uint64_t *key, size_t nkey, int hashed) {
  int same = hashed && m->valid && memcmp(m->key, key, nkey * sizeof *key) == 0;
  memcpy(m->key, key, nkey * sizeof *key);
  m->valid = hashed;
  return same;
}

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
