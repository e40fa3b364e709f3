// Planted bug (lab 3, CUDA): float4 stores into every row, whatever n is (with a scalar loop for
// the last n % 4 columns). Row i starts at z + i * n, 16-byte aligned only when n % 4 == 0: for any
// other n, row 1 already starts between two 16-byte boundaries, and the GPU refuses the store with
// "misaligned address", an error that leaves the CUDA context unusable. Shapes with n % 4 == 0,
// and a single row, are right.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/relu_mul.h"

__global__ void relu_mul_vec4_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t n4 = n / 4;
  for (int64_t i = blockIdx.y; i < m; i += gridDim.y) {
    if (t < n4) {
      float4 v = reinterpret_cast<const float4 *>(x)[t];
      float yi = y[i];
      reinterpret_cast<float4 *>(z + i * n)[t] =
          make_float4(fmaxf(v.x * yi, 0.0f), fmaxf(v.y * yi, 0.0f), fmaxf(v.z * yi, 0.0f), fmaxf(v.w * yi, 0.0f));
    } else if (t == n4) {
      for (int64_t j = 4 * n4; j < n; ++j) z[i * n + j] = fmaxf(x[j] * y[i], 0.0f);
    }
  }
}

void lab3_relu_mul_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t threads = n / 4 + 1;  // one per float4, and one for the tail
  dim3 grid((unsigned)((threads + 255) / 256), (unsigned)(m < 65535 ? m : 65535));
  relu_mul_vec4_kernel<<<grid, 256>>>(x, y, z, m, n);
}
