// Lab 4, CUDA track: the backward of z[i][j] = relu(x[j]·y[i]).   Read README.md in this folder first.
//
//   dx[j] = Σ_i dz[i][j]·y[i]·[x[j]·y[i] > 0]      (n values: a sum down each column)
//   dy[i] = Σ_j dz[i][j]·x[j]·[x[j]·y[i] > 0]      (m values: a sum along each row)
//
// Build and check:   make lab4 && make check TRACK=cuda
// All pointers are DEVICE pointers: x (n), y (m), dz (m × n, row-major: element (i, j) is
// dz[i * n + j]); you write dx (n) and dy (m). Launch on the default stream and return: the checker
// waits for your kernels, checks for CUDA errors and times them with CUDA events.
//
// The plan: ONE pass over dz in tiles, each writing partial sums, then a small kernel that adds
// them up (partials_kernel, combine_kernel below). Hints, one at a time:
// `make hint LAB=4 TRACK=cuda`.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/lab.h"
#include "em/relu_mul_backward.h"

// The tile one block reads: with 128 × 128, the partial sums are 1/128 of dz or less, a few
// percent of the traffic.
#define TILE_COLS 128
#define TILE_ROWS 128

// Given: the sum of v over the 32 lanes of a warp, returned to every lane. Each step adds the value
// of the lane `o` places away (__shfl_xor_sync reads another lane's register): 16, 8, 4, 2, 1.
__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// TODO(lab4-tile): block (bx, by), of 32 × 8 threads, reads once the tile of TILE_ROWS rows ×
// TILE_COLS columns that starts at row by·TILE_ROWS, column bx·TILE_COLS, and writes
//   dx_part[by·n + j]  the tile's partial sum of column j (for each of its columns j < n),
//   dy_part[bx·m + i]  the tile's partial sum of row i (for each of its rows i < m).
// Indices in int64_t (m·n passes 2^31).
__global__ void partials_kernel(const float *x, const float *y, const float *dz, int64_t m, int64_t n,
                                float *dx_part, float *dy_part) {
  (void)x, (void)y, (void)dz, (void)m, (void)n, (void)dx_part, (void)dy_part;
}

// TODO(lab4-combine): out[o] = Σ_{k < K} part[k * N + o] for every output o < N, one thread each.
__global__ void combine_kernel(const float *part, int64_t K, int64_t N, float *out) {
  (void)part, (void)K, (void)N, (void)out;
}

// Given: a device buffer of at least `floats` floats for the partial sums, allocated on the first
// call and grown when a later call needs more; kept until the program ends (cudaMalloc on every
// call would be timed with your kernels). NULL if CUDA could not allocate it.
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
  // TODO(lab4-launch): partials_kernel over every tile of dz (its partials in partials_buffer),
  // then combine_kernel for dx and for dy; then delete the (void) line and the EM_TODO line.
  (void)x, (void)y, (void)dz, (void)dx, (void)dy, (void)m, (void)n;
  EM_TODO("lab4: launch partials_kernel over the tiles of dz, then combine_kernel for dx and for dy");
}
