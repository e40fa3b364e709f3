// Planted bug (lab 6, CUDA): rows split into chunks of 1024, one block (one element per thread)
// per chunk: each block writes its chunk's (max, sum of exp(x - max)), a second kernel merges them
// per row, a third writes z. A chunk of nothing but -inf has max -inf, and x - max =
// -inf - (-inf) = NaN: its sum is NaN, and so is every z of its row. Rows without a whole chunk
// of -inf (short rows, sparse -inf) are right; the long masked rows come out NaN.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

#define CHUNK 1024

__global__ void chunk_stats(const float *x, float2 *stats, int64_t t, int64_t nchunks) {
  __shared__ float red[CHUNK];
  const int64_t row = blockIdx.x / nchunks, start = (blockIdx.x % nchunks) * CHUNK + threadIdx.x;
  const float v = start < t ? x[row * t + start] : -INFINITY;
  red[threadIdx.x] = v;
  __syncthreads();
  for (int w = CHUNK / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + w]);
    __syncthreads();
  }
  const float m = red[0];
  __syncthreads();
  red[threadIdx.x] = expf(v - m);  // NaN when v and m are both -inf
  __syncthreads();
  for (int w = CHUNK / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) stats[blockIdx.x] = make_float2(m, red[0]);
}

__global__ void combine_rows(const float2 *stats, float2 *rows, int64_t b, int64_t nchunks) {
  const int64_t row = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= b) return;
  const float2 *st = stats + row * nchunks;
  float m = -INFINITY, s = 0.0f;
  for (int64_t c = 0; c < nchunks; ++c) m = fmaxf(m, st[c].x);
  for (int64_t c = 0; c < nchunks; ++c) s += st[c].y * expf(st[c].x - m);
  rows[row] = make_float2(m, s);
}

__global__ void chunk_write(const float *x, float *z, const float2 *rows, int64_t t, int64_t nchunks) {
  const int64_t row = blockIdx.x / nchunks, j = (blockIdx.x % nchunks) * CHUNK + threadIdx.x;
  const float2 r = rows[row];
  if (j < t) z[row * t + j] = expf(x[row * t + j] - r.x) / r.y;
}

static float2 *g_stats;
static int64_t g_cap;

void lab6_softmax_cuda(const float *x, float *z, int64_t b, int64_t t) {
  const int64_t nchunks = (t + CHUNK - 1) / CHUNK;
  if (b * nchunks + b > g_cap) {
    cudaFree(g_stats);
    cudaMalloc(&g_stats, (size_t)(b * nchunks + b) * sizeof(float2));
    g_cap = b * nchunks + b;
  }
  float2 *rows = g_stats + b * nchunks;
  chunk_stats<<<(unsigned)(b * nchunks), CHUNK>>>(x, g_stats, t, nchunks);
  combine_rows<<<(unsigned)((b + 255) / 256), 256>>>(g_stats, rows, b, nchunks);
  chunk_write<<<(unsigned)(b * nchunks), CHUNK>>>(x, z, rows, t, nchunks);
}
