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

// The kernels, their launch constants and the tiling plan, shared with bench/relu_mul_backward.cu.
#include "relu_mul_backward_kernels.cuh"

namespace {

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
      cudaGetLastError();  // an allocation failure is not sticky: leave no error for the next launch's check
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

}  // namespace

extern "C" int em_relu_mul_backward_cuda(const float *x, const float *y, const float *dz, float *dx, float *dy,
                                         int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return EM_OK;
  const int V = lane_width(n);
  const int vec_floats = V >= 4 ? 4 : V;  // floats per vector load
  const uintptr_t align = (uintptr_t)vec_floats * sizeof(float);
  const bool vec = n % vec_floats == 0 && ((uintptr_t)dz % align) == 0;  // then every row is aligned too

  const TilePlan plan = rmb_plan(m, n, V);
  const int runs = plan.runs, chunks = plan.chunks;
  const int64_t G = plan.G, H = plan.H;

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
