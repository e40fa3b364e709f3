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
// The plan: ONE pass over dz in tiles, then a small second kernel.
//   1. partials_kernel: block (bx, by) reads the tile of TILE_ROWS rows × TILE_COLS columns that
//      starts at row by·TILE_ROWS, column bx·TILE_COLS, and writes
//        dx_part[by·n + j]  the tile's partial sum of column j (for its TILE_COLS columns),
//        dy_part[bx·m + i]  the tile's partial sum of row i (for its TILE_ROWS rows).
//   2. combine_kernel: out[o] = Σ_k part[k·N + o], once for dx (K = tile rows) and once for dy
//      (K = tile columns).
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/lab.h"
#include "em/relu_mul_backward.h"

// A block is 32 × 8 threads: threadIdx.x is the lane (0..31), threadIdx.y the warp (0..7).
// Lane l takes the 4 columns col0 + l, col0 + l + 32, col0 + l + 64, col0 + l + 96 (so that each
// load instruction of a warp reads 128 consecutive bytes); warp w takes the rows row0 + w,
// row0 + w + 8, ... (16 rows of the tile).
#define TILE_COLS 128
#define TILE_ROWS 128

// Given: the sum of v over the 32 lanes of a warp, returned to every lane. Each step adds the value
// of the lane `o` places away (__shfl_xor_sync reads another lane's register): 16, 8, 4, 2, 1.
__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// TODO(lab4-tile): one tile, read once.
//   row0 = blockIdx.y * TILE_ROWS, col0 = blockIdx.x * TILE_COLS, lane = threadIdx.x,
//   w = threadIdx.y. Use int64_t for indices (m·n passes 2^31).
//   - float dx_acc[4] = {0}: this thread's sums for its 4 columns.
//   - for each of the warp's rows i = row0 + w + 8r (r = 0..15) with i < m:
//       float row = 0; for k = 0..3, with j = col0 + lane + 32k and j < n:
//         float t = x[j] * y[i] > 0.0f ? dz[i * n + j] : 0.0f;   (exactly this float product)
//         dx_acc[k] += t * y[i];  row += t * x[j];
//       row = warp_sum(row) (every lane of the warp must call it, also those with j >= n);
//       lane 0 writes dy_part[blockIdx.x * m + i] = row.
//   - the 8 warps' dx_acc meet in shared memory: __shared__ float s[8][TILE_COLS]; each thread
//     stores its 4 sums at s[w][lane + 32k]; __syncthreads(); then thread t = w·32 + lane, if
//     t < TILE_COLS and col0 + t < n, writes dx_part[blockIdx.y * n + col0 + t] = Σ_w s[w][t].
__global__ void partials_kernel(const float *x, const float *y, const float *dz, int64_t m, int64_t n,
                                float *dx_part, float *dy_part) {
  (void)x, (void)y, (void)dz, (void)m, (void)n, (void)dx_part, (void)dy_part;
}

// TODO(lab4-combine): one thread per output o < N (o = blockIdx.x * blockDim.x + threadIdx.x):
// out[o] = Σ_{k < K} part[k * N + o], summed in a double and stored as a float.
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
  // TODO(lab4-launch):
  //   G = ceil(m / TILE_ROWS) tile rows, H = ceil(n / TILE_COLS) tile columns;
  //   float *part = partials_buffer(G * n + H * m): dx_part = part, dy_part = part + G * n;
  //   partials_kernel<<<dim3(H, G), dim3(32, 8)>>>(x, y, dz, m, n, dx_part, dy_part);
  //   combine_kernel<<<ceil(n / 256), 256>>>(dx_part, G, n, dx);
  //   combine_kernel<<<ceil(m / 256), 256>>>(dy_part, H, m, dy);
  // (gridDim.y stops at 65535: m up to 8 million rows with TILE_ROWS = 128; beyond that, give each
  // block several tiles.) Then delete the (void) line and the EM_TODO line, check, and make it
  // fast: README.md, "What fast looks like".
  (void)x, (void)y, (void)dz, (void)dx, (void)dy, (void)m, (void)n;
  EM_TODO("lab4: launch partials_kernel over the tiles of dz, then combine_kernel for dx and for dy");
}
