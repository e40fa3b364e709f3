// Lab 4 reference kernels, CUDA: dx (column sums) and dy (row sums) of the ReLU-multiply
// backward, from one pass over dz. Why they are as they are: reference/cuda/relu_mul_backward.cu,
// whose launcher includes this header; bench/relu_mul_backward.cu includes it too, so that the
// bench times the kernels and the tiling that ship (and its variants are these kernels with other
// template arguments), not copies of them that may have drifted.
// Everything is static, constexpr or a template: each program that includes the header gets its
// own copy, and none links against another's.
#ifndef EM_REFERENCE_CUDA_RELU_MUL_BACKWARD_KERNELS_CUH
#define EM_REFERENCE_CUDA_RELU_MUL_BACKWARD_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

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
static __device__ __forceinline__ float warp_sum(float s) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// Rows a warp loads before it uses them: 16 floats per lane or more (V = 8: 4 rows of two float4),
// enough bytes in flight to cover DRAM's latency with 16 to 24 warps per SM.
template <int V>
constexpr int kBatch = V >= 4 ? 4 : 16 / V;

// version 3 (the reference): one pass over a tile, partial column and row sums.
// The block (bx, by) covers rows [by·runs·128, +runs·128) and columns [bx·chunks·32V, +chunks·32V).
// Column sums go to dx_dst[by·n + col], row sums to dy_dst[bx·m + row]: dx and dy themselves when
// the grid is one block tall (wide), else the partials.
// The library launches <V, VEC> alone: kBatch<V> rows per batch, 2 blocks per SM promised to the
// compiler (__launch_bounds__, which caps the registers at 128 a thread), partials. The other
// values are there for bench/relu_mul_backward.cu, which times them against these: BATCH rows per
// batch, MINB blocks per SM promised, and ATOMIC: atomicAdd into zeroed dx and dy in place of the
// partials and rmb_finalize (one launch fewer, and bits that change from run to run).
template <int V, bool VEC, int BATCH = kBatch<V>, int MINB = 2, bool ATOMIC = false>
__global__ void __launch_bounds__(kThreads, MINB)
    rmb_tiles(const float *__restrict__ x, const float *__restrict__ y, const float *__restrict__ dz, int64_t m,
              int64_t n, int chunks, int runs, float *__restrict__ dx_dst, float *__restrict__ dy_dst) {
  constexpr int W = 32 * V;  // columns per warp-row
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
      if (lane == 0 && i < m) {
        if (ATOMIC) atomicAdd(dy_dst + i, s);
        else dy_dst[(int64_t)blockIdx.x * m + i] = s;
      }
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
      for (int rb = 0; rb < kRun; rb += BATCH) {
        if (r0 + (int64_t)rb * kWarps >= m) break;  // the same for the whole block
        // Load a batch of rows, then use it: BATCH·V/4 loads of 16 bytes in flight per lane.
        // Rows past m read row m − 1 and count with y = 0, which turns their mask off.
        float d[BATCH][V], yb[BATCH];
#pragma unroll
        for (int b = 0; b < BATCH; ++b) {
          const int64_t i = r0 + (int64_t)(rb + b) * kWarps + warp, ic = i < m ? i : m - 1;
          const float yv = __ldg(y + ic);
          yb[b] = i < m ? yv : 0.f;
          load_row<V, VEC>(dz + ic * n, col0, lane, n, d[b]);
        }
#pragma unroll
        for (int b = 0; b < BATCH; ++b) {
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
        if (ATOMIC) atomicAdd(dx_dst + col, (float)s);
        else dx_dst[(int64_t)blockIdx.y * n + col] = (float)s;
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

static __global__ void __launch_bounds__(kThreads) rmb_finalize(Finalize a, Finalize b) {
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

static Finalize finalize_job(const float *part, int64_t K, int64_t N, float *out) {
  Finalize f = {part, K, N, out, 1, 0};
  if (K <= 1) return f;  // written directly by the tiles: nothing to do
  // At least two blocks per SM's worth (264 on an H200) where the outputs allow, else more slices.
  f.ob = N >= 32 * 264 ? 32 : N >= 8 * 264 ? 8 : 1;
  f.blocks = (N + f.ob - 1) / f.ob;
  return f;
}

// Columns per lane, V: as many as keep the lanes busy on narrow dz.
static int lane_width(int64_t n) { return n >= 256 ? 8 : n >= 128 ? 4 : n >= 64 ? 2 : 1; }

// How the blocks cover an m × n dz with V columns per lane: each block takes `runs` runs of 128
// rows and `chunks` chunks of 32·V columns, doubled until at most max_groups tile rows (columns)
// remain, so that the partials stay small and the finalize short. The grid is H tile columns by G
// tile rows. The library plans with kMaxGroups; bench/relu_mul_backward.cu times other bounds.
struct TilePlan {
  int runs, chunks;
  int64_t G, H;
};

static TilePlan rmb_plan(int64_t m, int64_t n, int V, int64_t max_groups = kMaxGroups) {
  const int64_t W = 32 * V;
  const int64_t row_runs = (m + kRunRows - 1) / kRunRows, col_groups = (n + W - 1) / W;
  int runs = 1, chunks = 1;
  while ((row_runs + runs - 1) / runs > max_groups) runs *= 2;
  if (runs == 1)  // several chunks per block keep their rows' sums in registers: one run only
    while ((col_groups + chunks - 1) / chunks > max_groups && chunks < kMaxChunks) chunks *= 2;
  return TilePlan{runs, chunks, (row_runs + runs - 1) / runs, (col_groups + chunks - 1) / chunks};
}

#endif  // EM_REFERENCE_CUDA_RELU_MUL_BACKWARD_KERNELS_CUH
