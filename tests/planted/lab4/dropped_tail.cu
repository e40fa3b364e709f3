// Planted bug (lab 4, CUDA): the grid's tile rows rounded down, G = m / TILE_ROWS: the last m % 128
// rows are never reduced (their dy never written, their terms missing from every dx), and for
// m < 128 the grid is empty, which CUDA refuses. Otherwise the skeleton's plan done right.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/relu_mul_backward.h"

#define TILE_COLS 128
#define TILE_ROWS 128

__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void partials_kernel(const float *x, const float *y, const float *dz, int64_t m, int64_t n,
                                float *dx_part, float *dy_part) {
  const int64_t row0 = (int64_t)blockIdx.y * TILE_ROWS, col0 = (int64_t)blockIdx.x * TILE_COLS;
  const int lane = threadIdx.x, w = threadIdx.y;
  float dx_acc[4] = {0, 0, 0, 0};
  for (int r = 0; r < TILE_ROWS / 8; ++r) {
    const int64_t i = row0 + w + 8 * r;
    if (i >= m) break;
    float row = 0.0f;
    for (int k = 0; k < 4; ++k) {
      const int64_t j = col0 + lane + 32 * k;
      if (j < n) {
        float t = x[j] * y[i] > 0.0f ? dz[i * n + j] : 0.0f;
        dx_acc[k] += t * y[i];
        row += t * x[j];
      }
    }
    row = warp_sum(row);
    if (lane == 0) dy_part[blockIdx.x * m + i] = row;
  }
  __shared__ float s[8][TILE_COLS];
  for (int k = 0; k < 4; ++k) s[w][lane + 32 * k] = dx_acc[k];
  __syncthreads();
  const int t = w * 32 + lane;
  if (t < TILE_COLS && col0 + t < n) {
    float sum = 0.0f;
    for (int q = 0; q < 8; ++q) sum += s[q][t];
    dx_part[blockIdx.y * n + col0 + t] = sum;
  }
}

__global__ void combine_kernel(const float *part, int64_t K, int64_t N, float *out) {
  const int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= N) return;
  double s = 0.0;
  for (int64_t k = 0; k < K; ++k) s += part[k * N + o];
  out[o] = (float)s;
}

float *partials_buffer(size_t floats) {
  static float *buf;
  static size_t have;
  if (floats > have) {
    if (buf) cudaFree(buf);
    buf = NULL;
    have = 0;
    if (cudaMalloc(&buf, floats * sizeof(float)) != cudaSuccess) return NULL;
    have = floats;
  }
  return buf;
}

void lab4_relu_mul_backward_cuda(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                                 int64_t n) {
  const int64_t G = m / TILE_ROWS, H = (n + TILE_COLS - 1) / TILE_COLS;
  float *part = partials_buffer((size_t)(G * n + H * m));
  float *dx_part = part, *dy_part = part + G * n;
  partials_kernel<<<dim3((unsigned)H, (unsigned)G), dim3(32, 8)>>>(x, y, dz, m, n, dx_part, dy_part);
  combine_kernel<<<(unsigned)((n + 255) / 256), 256>>>(dx_part, G, n, dx);
  combine_kernel<<<(unsigned)((m + 255) / 256), 256>>>(dy_part, H, m, dy);
}
