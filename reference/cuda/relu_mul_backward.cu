// Lab 4 reference, CUDA: dx (column sums) and dy (row sums) of the ReLU-multiply backward, from ONE
// pass over dz.
//
// dz is the only large tensor (m·n floats, read once); about 1 FLOP per byte: memory-bound on any
// GPU (an H200 balances at ~15 FLOP/byte). Fast means streaming dz at the copy bandwidth while
// both reductions keep up, in two kernels:
//
//   1. rmb_tiles: the grid tiles dz; each block reads its tile once, coalesced (a warp reads
//      32·V consecutive floats of one row, 16 bytes per lane where the row allows), and produces
//        - partial column sums for dx: each lane sums its columns down the rows its warp takes,
//          the 8 warps' sums meet in shared memory;
//        - partial row sums for dy: each lane sums its V values, a warp-shuffle tree sums the row.
//      A grid that is one tile tall (or wide) writes dx (or dy) directly; otherwise the partials
//      go to a scratch buffer, one row of partials per tile row (or column).
//   2. rmb_finalize: sums the partials of each output in float64, in a fixed order, and writes
//      dx and dy. The partials are 1/128 (dx) and 1/256 (dy) of dz's size or less, so this costs
//      about 2% of the traffic plus one launch: the price of a deterministic result. (atomicAdd
//      into zeroed outputs would save the launch, and the same inputs would then give different
//      bits from run to run.)
//
// Tile shape: a block is 8 warps; a warp takes every 8th row of a run of 128 rows; a lane takes V
// columns (V = 8 where n ≥ 256: two float4 per lane, 256 columns per warp-row; fewer for narrow
// dz so that lanes are not idle). Tall dz gives each block several runs of 128 rows and wide dz
// several chunks of 32·V columns, so that there are at most kMaxGroups tile rows (or columns): the
// partials stay small and the finalize kernel short.
//
// Bytes in flight: at 110-128 registers a thread, 2 blocks (16 warps) fit an SM, and DRAM's
// latency (~700 ns at 4.8 TB/s over 132 SMs) wants ~25 KB of loads outstanding per SM. So a warp
// loads a batch of rows (4 rows of 8 floats a lane: 4 KB a warp, 64 KB an SM) before using any,
// and no load is under a branch (a load under an `if` waits for the code before it): rows past m
// read row m − 1 with y taken as 0, columns past n read the row's last vector with x = 0; either
// way the mask is off, so what they read never counts.
//
// Accuracy (float32 roundings on a term's way to the result; the checker allows ⌈log2 k⌉ + 32):
//   dx: its product (1), at most 15 additions in a warp's float run of 16 rows, float64 after
//       that (runs, warps, partials), one rounding of the tile's partial to float (1) and the final
//       one (1): at most 18;
//   dy: its product (1), the tree over a lane's V ≤ 8 values (3), at most 15 additions across a
//       block's chunks (kMaxChunks = 16), the 5 levels of the warp's shuffle tree, float64 in the
//       finalize and the final rounding (1): at most 25.
// The variants considered, timed side by side on a GPU: bench/relu_mul_backward.cu.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/relu_mul_backward.h"

namespace {

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kRun = 16;                     // rows per warp in one float run (15 additions)
constexpr int kRunRows = kWarps * kRun;      // 128 rows per block per run
constexpr int64_t kMaxGroups = 2048;         // tile rows / columns before blocks take more work
constexpr int kMaxChunks = 16;               // column chunks per block: dy's float run across them

// Where lane `lane` finds its k-th value of a warp-row that starts at column col0.
//   VEC: 16-byte (V ≥ 4) or 8-byte (V = 2) vectors, each instruction of the warp reading one
//        contiguous stretch: V = 8 reads columns col0 + 4·lane .. +3 and col0 + 128 + 4·lane .. +3.
//   scalar (rows not aligned for vectors: n odd, say): col0 + lane + 32·k, still coalesced.
template <int V, bool VEC>
__device__ __forceinline__ int64_t lane_col(int64_t col0, int lane, int k) {
  if (!VEC) return col0 + lane + 32 * k;
  if (V >= 4) return col0 + 128 * (k / 4) + 4 * lane + (k % 4);
  return col0 + V * lane + k;
}

// v[k] = x[lane_col(k)] for the columns below n, 0 beyond: the mask is then off there (0·y > 0 is
// false), whatever dz holds. In VEC mode n is a multiple of the vector width, so a vector is all
// in or all out.
template <int V, bool VEC>
__device__ __forceinline__ void load_x(const float *__restrict__ x, int64_t col0, int lane, int64_t n,
                                       float (&v)[V]) {
#pragma unroll
  for (int k = 0; k < V; ++k) {
    int64_t c = lane_col<V, VEC>(col0, lane, k);
    v[k] = c < n ? __ldg(x + c) : 0.f;
  }
}

// v[k] = row[lane_col(k)], with columns past n read at the row's last vector (their x is 0, so
// what they read never counts). No branch: the loads of a batch of rows can all be in flight at
// once (a load under an `if` waits for the code before it).
template <int V, bool VEC>
__device__ __forceinline__ void load_row(const float *__restrict__ row, int64_t col0, int lane, int64_t n,
                                         float (&v)[V]) {
  if (VEC && V >= 4) {
#pragma unroll
    for (int q = 0; q < V / 4; ++q) {
      int64_t c = lane_col<V, VEC>(col0, lane, 4 * q);
      float4 f = __ldg(reinterpret_cast<const float4 *>(row + (c < n ? c : n - 4)));
      v[4 * q] = f.x, v[4 * q + 1] = f.y, v[4 * q + 2] = f.z, v[4 * q + 3] = f.w;
    }
  } else if (VEC && V == 2) {
    int64_t c = lane_col<V, VEC>(col0, lane, 0);
    float2 f = __ldg(reinterpret_cast<const float2 *>(row + (c < n ? c : n - 2)));
    v[0] = f.x, v[1] = f.y;
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      int64_t c = lane_col<V, VEC>(col0, lane, k);
      v[k] = __ldg(row + (c < n ? c : n - 1));
    }
  }
}

// The sum over the warp, the same in every lane: a 5-level tree.
__device__ __forceinline__ float warp_sum(float s) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// version 3 (the reference): one pass over a tile, partial column and row sums.
// The block (bx, by) covers rows [by·runs·128, +runs·128) and columns [bx·chunks·32V, +chunks·32V).
// Column sums go to dx_dst[by·n + col], row sums to dy_dst[bx·m + row]: dx and dy themselves when
// the grid is one block tall (wide), else the partials.
template <int V, bool VEC>
__global__ void __launch_bounds__(kThreads, 2)
    rmb_tiles(const float *__restrict__ x, const float *__restrict__ y, const float *__restrict__ dz, int64_t m,
              int64_t n, int chunks, int runs, float *__restrict__ dx_dst, float *__restrict__ dy_dst) {
  constexpr int W = 32 * V;  // columns per warp-row
  // Rows a warp loads before it uses them: 16 floats per lane or more (V = 8: 4 rows of two float4),
  // enough bytes in flight to cover DRAM's latency with 16 to 24 warps per SM.
  constexpr int kBatch = V >= 4 ? 4 : 16 / V;
  __shared__ double warp_dx[kWarps][W];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row_base = (int64_t)blockIdx.y * runs * kRunRows;
  float dy_lane[kRun];  // this lane's share of each of its rows, across the block's chunks
#pragma unroll
  for (int r = 0; r < kRun; ++r) dy_lane[r] = 0.f;

  // Reduces dy_lane over the warp for the rows of the run starting at r0 and writes them.
  auto flush_rows = [&](int64_t r0) {
#pragma unroll
    for (int r = 0; r < kRun; ++r) {
      int64_t i = r0 + r * kWarps + warp;
      float s = warp_sum(dy_lane[r]);  // every lane takes part: i is the same for the whole warp
      if (lane == 0 && i < m) dy_dst[(int64_t)blockIdx.x * m + i] = s;
      dy_lane[r] = 0.f;
    }
  };

  for (int c = 0; c < chunks; ++c) {
    const int64_t col0 = ((int64_t)blockIdx.x * chunks + c) * W;
    if (col0 >= n) break;  // the same for the whole block
    float xv[V];
    load_x<V, VEC>(x, col0, lane, n, xv);
    double dx_run_sum[V];
#pragma unroll
    for (int k = 0; k < V; ++k) dx_run_sum[k] = 0.0;

    for (int run = 0; run < runs; ++run) {
      const int64_t r0 = row_base + (int64_t)run * kRunRows;
      if (r0 >= m) break;
      float dx_acc[V];
#pragma unroll
      for (int k = 0; k < V; ++k) dx_acc[k] = 0.f;
#pragma unroll
      for (int rb = 0; rb < kRun; rb += kBatch) {
        if (r0 + (int64_t)rb * kWarps >= m) break;  // the same for the whole block
        // Load a batch of rows, then use it: kBatch·V/4 loads of 16 bytes in flight per lane.
        // Rows past m read row m − 1 and count with y = 0, which turns their mask off.
        float d[kBatch][V], yb[kBatch];
#pragma unroll
        for (int b = 0; b < kBatch; ++b) {
          const int64_t i = r0 + (int64_t)(rb + b) * kWarps + warp, ic = i < m ? i : m - 1;
          const float yv = __ldg(y + ic);
          yb[b] = i < m ? yv : 0.f;
          load_row<V, VEC>(dz + ic * n, col0, lane, n, d[b]);
        }
#pragma unroll
        for (int b = 0; b < kBatch; ++b) {
          float p[V];
#pragma unroll
          for (int k = 0; k < V; ++k) {
            float t = xv[k] * yb[b] > 0.f ? d[b][k] : 0.f;  // the forward's float32 product decides
            dx_acc[k] += t * yb[b];
            p[k] = t * xv[k];
          }
#pragma unroll
          for (int h = V / 2; h > 0; h /= 2)  // a tree over the lane's V values
#pragma unroll
            for (int k = 0; k < h; ++k) p[k] += p[k + h];
          dy_lane[rb + b] += p[0];
        }
      }
#pragma unroll
      for (int k = 0; k < V; ++k) dx_run_sum[k] += (double)dx_acc[k];
      if (chunks == 1) flush_rows(r0);  // the row sums of this run are complete
    }

    // The 8 warps' column sums meet in shared memory; one thread per column adds them as a tree.
#pragma unroll
    for (int k = 0; k < V; ++k) warp_dx[warp][lane_col<V, VEC>(0, lane, k)] = dx_run_sum[k];
    __syncthreads();
    for (int q = threadIdx.x; q < W; q += kThreads) {
      const int64_t col = col0 + q;
      if (col < n) {
        double s = ((warp_dx[0][q] + warp_dx[1][q]) + (warp_dx[2][q] + warp_dx[3][q])) +
                   ((warp_dx[4][q] + warp_dx[5][q]) + (warp_dx[6][q] + warp_dx[7][q]));
        dx_dst[(int64_t)blockIdx.y * n + col] = (float)s;
      }
    }
    __syncthreads();  // warp_dx is rewritten by the next chunk
  }
  if (chunks > 1) flush_rows(row_base);  // (runs is 1 then) the rows' sums over every chunk
}

// version 3, second kernel: out[o] = Σ_k part[k·N + o] in float64, for two jobs at once (dx and dy).
// A block takes `ob` outputs and 256/ob slices of k; the slices meet as a tree in shared memory.
struct Finalize {
  const float *part;
  int64_t K, N;  // partials per output, outputs
  float *out;
  int ob;        // outputs per block: 32, 8 or 1 (more slices when there are few outputs)
  int64_t blocks;
};

__global__ void __launch_bounds__(kThreads) rmb_finalize(Finalize a, Finalize b) {
  const bool first = blockIdx.x < a.blocks;  // the same for the whole block
  const float *part = first ? a.part : b.part;
  float *out = first ? a.out : b.out;
  const int64_t K = first ? a.K : b.K, N = first ? a.N : b.N;
  const int ob = first ? a.ob : b.ob;
  const int64_t blk = first ? blockIdx.x : blockIdx.x - a.blocks;
  const int slices = kThreads / ob, s = threadIdx.x / ob;
  const int64_t o = blk * ob + threadIdx.x % ob;
  double acc = 0.0;
  if (o < N)
    for (int64_t k = s; k < K; k += slices) acc += (double)part[k * N + o];
  __shared__ double sh[kThreads];
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int h = slices / 2; h > 0; h /= 2) {
    if (s < h) sh[threadIdx.x] += sh[threadIdx.x + h * ob];
    __syncthreads();
  }
  if (s == 0 && o < N) out[o] = (float)sh[threadIdx.x];
}

// The partials' scratch: grown on demand and kept for the life of the process (as cuBLAS keeps its
// workspace), so no call but the first of a larger shape allocates. Not for concurrent callers.
float *g_scratch;
size_t g_scratch_floats;

int get_scratch(size_t floats, float **out) {
  if (floats > g_scratch_floats) {
    if (g_scratch) cudaFree(g_scratch);  // synchronises: no earlier kernel still uses it
    g_scratch = nullptr;
    g_scratch_floats = 0;
    cudaError_t e = cudaMalloc(&g_scratch, floats * sizeof(float));
    if (e != cudaSuccess) {
      g_scratch = nullptr;
      return em__fail(EM_ECUDA, "em_relu_mul_backward_cuda: cudaMalloc(%zu bytes) for partial sums: %s",
                      floats * sizeof(float), cudaGetErrorString(e));
    }
    g_scratch_floats = floats;
  }
  *out = g_scratch;
  return EM_OK;
}

int launch_error(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

template <int V, bool VEC>
void launch_tiles(dim3 grid, const float *x, const float *y, const float *dz, int64_t m, int64_t n, int chunks,
                  int runs, float *dx_dst, float *dy_dst) {
  rmb_tiles<V, VEC><<<grid, kThreads>>>(x, y, dz, m, n, chunks, runs, dx_dst, dy_dst);
}

Finalize finalize_job(const float *part, int64_t K, int64_t N, float *out) {
  Finalize f = {part, K, N, out, 1, 0};
  if (K <= 1) return f;  // written directly by the tiles: nothing to do
  // At least two blocks per SM's worth (264 on an H200) where the outputs allow, else more slices.
  f.ob = N >= 32 * 264 ? 32 : N >= 8 * 264 ? 8 : 1;
  f.blocks = (N + f.ob - 1) / f.ob;
  return f;
}

}  // namespace

extern "C" int em_relu_mul_backward_cuda(const float *x, const float *y, const float *dz, float *dx, float *dy,
                                         int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return EM_OK;
  // Lanes' width: as many columns per lane as keep the lanes busy on narrow dz.
  const int V = n >= 256 ? 8 : n >= 128 ? 4 : n >= 64 ? 2 : 1;
  const int vec_floats = V >= 4 ? 4 : V;  // floats per vector load
  const uintptr_t align = (uintptr_t)vec_floats * sizeof(float);
  const bool vec = n % vec_floats == 0 && ((uintptr_t)dz % align) == 0;  // then every row is aligned too
  const int64_t W = 32 * V;

  const int64_t row_runs = (m + kRunRows - 1) / kRunRows, col_groups = (n + W - 1) / W;
  int runs = 1, chunks = 1;
  while ((row_runs + runs - 1) / runs > kMaxGroups) runs *= 2;
  if (runs == 1)  // several chunks per block keep their rows' sums in registers: one run only
    while ((col_groups + chunks - 1) / chunks > kMaxGroups && chunks < kMaxChunks) chunks *= 2;
  const int64_t G = (row_runs + runs - 1) / runs, H = (col_groups + chunks - 1) / chunks;

  float *part = nullptr;
  const size_t dx_part = G > 1 ? (size_t)G * (size_t)n : 0, dy_part = H > 1 ? (size_t)H * (size_t)m : 0;
  if (dx_part + dy_part > 0) {
    int err = get_scratch(dx_part + dy_part, &part);
    if (err != EM_OK) return err;
  }
  float *dx_dst = G > 1 ? part : dx, *dy_dst = H > 1 ? part + dx_part : dy;

  const dim3 grid((unsigned)H, (unsigned)G);  // G ≤ kMaxGroups: within the 65535 of gridDim.y
  switch (V * 2 + (vec ? 1 : 0)) {
    case 17: launch_tiles<8, true>(grid, x, y, dz, m, n, chunks, runs, dx_dst, dy_dst); break;
    case 16: launch_tiles<8, false>(grid, x, y, dz, m, n, chunks, runs, dx_dst, dy_dst); break;
    case 9: launch_tiles<4, true>(grid, x, y, dz, m, n, chunks, runs, dx_dst, dy_dst); break;
    case 8: launch_tiles<4, false>(grid, x, y, dz, m, n, chunks, runs, dx_dst, dy_dst); break;
    case 5: launch_tiles<2, true>(grid, x, y, dz, m, n, chunks, runs, dx_dst, dy_dst); break;
    case 4: launch_tiles<2, false>(grid, x, y, dz, m, n, chunks, runs, dx_dst, dy_dst); break;
    default: launch_tiles<1, true>(grid, x, y, dz, m, n, chunks, runs, dx_dst, dy_dst); break;
  }
  int err = launch_error("rmb_tiles");
  if (err != EM_OK || (G <= 1 && H <= 1)) return err;

  Finalize a = finalize_job(part, G, n, dx), b = finalize_job(part + dx_part, H, m, dy);
  rmb_finalize<<<(unsigned)(a.blocks + b.blocks), kThreads>>>(a, b);
  return launch_error("rmb_finalize");
}
