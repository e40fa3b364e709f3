// Lab 2 kernel variants, side by side on one GPU: the measurements behind reference/cuda/outer_add.cu.
// Build and run:  make bench-variants && build/bench/outer_add
// Each variant computes z[i][j] = x[j] + y[i] for m = n = 16384 (1 GiB of z) unless its name says
// otherwise; time = median of 22 runs (CUDA events, L2 flushed before each); GB/s counts the lab's
// bytes, 4 (m·n + m + n). Every variant's z is checked element by element on the GPU afterwards
// (z poisoned with NaN before, so an element never written counts as wrong).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>

#include "../reference/cuda/outer_add_kernels.cuh"
#include "common.cuh"

// version 1: the naive baseline, threadIdx.x down a column (uncoalesced: a warp writes 16 rows).
__global__ void naive_transposed(const float *x, const float *y, float *z, long m, long n) {
  long i = (long)blockIdx.x * blockDim.x + threadIdx.x, j = (long)blockIdx.y * blockDim.y + threadIdx.y;
  if (i < m && j < n) z[i * n + j] = x[j] + y[i];
}

// version 2: one element per thread, threadIdx.x along the row (coalesced: 128 bytes per warp).
__global__ void scalar_2d(const float *x, const float *y, float *z, long m, long n) {
  long j = (long)blockIdx.x * blockDim.x + threadIdx.x, i = (long)blockIdx.y * blockDim.y + threadIdx.y;
  if (i < m && j < n) z[i * n + j] = x[j] + y[i];
}

// version 3: the library's own tile, outer_add_tile_kernel<T, R, H> (reference/cuda/
// outer_add_kernels.cuh): T = float4 (n in float4s) or float; R rows per thread, blockDim.y apart;
// H: streaming store hint (__stcs). The "(reference)" rows launch it as em_outer_add_b_cuda does
// (its template arguments, its block and grid); the others change one of them.

// version 4: a column of float4s per thread over many rows: a fixed grid of a few blocks per SM,
// each thread loads x once and walks down z (gridDim.y * blockDim.y rows apart).
__global__ void column_walk(const float4 *__restrict__ x, const float *__restrict__ y, float4 *__restrict__ z, long m, long n4) {
  long j = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n4) return;
  const float4 xj = x[j];
  for (long i = (long)blockIdx.y * blockDim.y + threadIdx.y; i < m; i += (long)gridDim.y * blockDim.y)
    z[i * n4 + j] = add_scalar(xj, y[i]);
}

// version 5: a flat 1-D grid over z, one float4 per thread, row and column by division (the
// indexing of a generic broadcasting kernel, as in PyTorch's elementwise loops).
__global__ void flat_div(const float4 *__restrict__ x, const float *__restrict__ y, float4 *__restrict__ z, long m, long n4) {
  long k = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= m * n4) return;
  long i = k / n4, j = k - i * n4;
  z[k] = add_scalar(x[j], y[i]);
}

// Counts the elements of z that are not x[j] + y[i] (NaN, the poison, never equals anything).
__global__ void verify(const float *x, const float *y, const float *z, long m, long n, unsigned long long *bad) {
  unsigned long long mine = 0;
  for (long k = (long)blockIdx.x * blockDim.x + threadIdx.x; k < m * n; k += (long)gridDim.x * blockDim.x) {
    long i = k / n, j = k - i * n;
    if (!(z[k] == x[j] + y[i])) mine++;
  }
  if (mine) atomicAdd(bad, mine);
}

__global__ void init(float *v, long n, float scale) {
  for (long k = (long)blockIdx.x * blockDim.x + threadIdx.x; k < n; k += (long)gridDim.x * blockDim.x)
    v[k] = scale * (float)((k * 2654435761u) % 1000u) - 0.5f * scale * 1000.0f;  // finite, varied
}

int main() {
  const long M = 16384, N = 16384, NR = 16383;  // NR: a ragged row length (n % 4 != 0)
  float *x, *y, *z;
  unsigned long long *bad;
  int sms;
  CHECK(cudaMalloc(&x, N * 4));
  CHECK(cudaMalloc(&y, M * 4));
  CHECK(cudaMalloc(&z, M * N * 4));
  CHECK(cudaMalloc(&bad, sizeof *bad));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  init<<<256, 256>>>(x, N, 1e-3f);
  CHECK(cudaGetLastError());
  init<<<256, 256>>>(y, M, 1e-2f);
  CHECK(cudaGetLastError());
  bench::Timer timer;
  const float4 *x4 = (const float4 *)x;
  float4 *z4 = (float4 *)z;

  // Times launch() on an m x n problem; checks z unless check is false (cudaMemset writes no sums).
  auto run = [&](const char *name, long m, long n, bool check, auto launch) -> int {
    CHECK(cudaMemset(z, 0xff, m * n * 4));  // NaN everywhere: unwritten elements fail the check
    const double med = timer.median_ms(launch);
    unsigned long long wrong = 0;
    if (check) {
      CHECK(cudaMemset(bad, 0, sizeof *bad));
      verify<<<sms * 8, 256>>>(x, y, z, m, n, bad);
      CHECK(cudaGetLastError());
      CHECK(cudaMemcpy(&wrong, bad, sizeof wrong, cudaMemcpyDeviceToHost));
    }
    std::printf("%-34s %8.3f ms %7.0f GB/s%s\n", name, med, 4.0 * (m * n + m + n) / (med * 1e-3) / 1e9,
                !check ? "" : wrong ? "  WRONG" : "  ok");
    return wrong ? 1 : 0;
  };
  // The grid em_outer_add_b_cuda gives a block of bx columns (float4s or floats) x by rows of
  // threads, R rows per thread: gridDim.y capped at kMaxGridY, the kernel's loop doing the rest.
  auto grid_for = [](long m, long ncols, int bx, int by, int R) {
    long gy = (m + (long)by * R - 1) / ((long)by * R);
    return dim3((unsigned)((ncols + bx - 1) / bx), (unsigned)std::min(gy, (long)kMaxGridY));
  };
  // The library's block for rows of 32 columns or more: a warp across, kThreads / 32 rows down.
  const dim3 ref(32, kThreads / 32);
  const long N4 = N / 4;
  int bad_runs = 0;
  bad_runs |= run("cudaMemset (writes only, ceiling)", M, N, false, [&] { CHECK(cudaMemsetAsync(z, 0, M * N * 4)); });
  bad_runs |= run("naive: threadIdx.x down a column", M, N, true,
                  [&] { naive_transposed<<<dim3(M / 16, N / 16), dim3(16, 16)>>>(x, y, z, M, N); });
  bad_runs |= run("scalar, 1 per thread, 32x8", M, N, true,
                  [&] { scalar_2d<<<dim3(N / 32, M / 8), dim3(32, 8)>>>(x, y, z, M, N); });
  bad_runs |= run("float4, 1 row per thread, 32x8", M, N, true, [&] {
    outer_add_tile_kernel<float4, 1><<<grid_for(M, N4, 32, 8, 1), dim3(32, 8)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4, 2 rows per thread, 32x8", M, N, true, [&] {
    outer_add_tile_kernel<float4, 2><<<grid_for(M, N4, 32, 8, 2), dim3(32, 8)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4, 4 rows, 32x8 (reference)", M, N, true, [&] {
    outer_add_tile_kernel<float4><<<grid_for(M, N4, 32, ref.y, kRows), ref>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4, 8 rows per thread, 32x8", M, N, true, [&] {
    outer_add_tile_kernel<float4, 8><<<grid_for(M, N4, 32, 8, 8), dim3(32, 8)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4, 16 rows per thread, 32x8", M, N, true, [&] {
    outer_add_tile_kernel<float4, 16><<<grid_for(M, N4, 32, 8, 16), dim3(32, 8)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4, 4 rows, 64x4", M, N, true, [&] {
    outer_add_tile_kernel<float4><<<grid_for(M, N4, 64, 4, 4), dim3(64, 4)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4, 4 rows, 256x1", M, N, true, [&] {
    outer_add_tile_kernel<float4><<<grid_for(M, N4, 256, 1, 4), dim3(256, 1)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4, 4 rows, 32x8, __stcs", M, N, true, [&] {
    outer_add_tile_kernel<float4, 4, true><<<grid_for(M, N4, 32, 8, 4), dim3(32, 8)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4 column walk, 8 blocks/SM", M, N, true, [&] {
    unsigned gx = (unsigned)(N4 / 32), gy = (unsigned)std::max(1L, (long)sms * 8 / gx);
    column_walk<<<dim3(gx, gy), dim3(32, 8)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4 flat 1-D, division", M, N, true,
                  [&] { flat_div<<<(unsigned)((M * N4 + 255) / 256), 256>>>(x4, y, z4, M, N4); });
  // Ragged rows (n % 4 != 0): no float4 path; the reference's scalar tile against one per thread.
  bad_runs |= run("n=16383: scalar, 1 per thread", M, NR, true,
                  [&] { scalar_2d<<<dim3((NR + 31) / 32, M / 8), dim3(32, 8)>>>(x, y, z, M, NR); });
  bad_runs |= run("n=16383: scalar, 4 rows (reference)", M, NR, true, [&] {
    outer_add_tile_kernel<float><<<grid_for(M, NR, 32, ref.y, kRows), ref>>>(x, y, z, M, NR);
  });
  bad_runs |= run("n=16383: scalar, 8 rows per thread", M, NR, true, [&] {
    outer_add_tile_kernel<float, 8><<<grid_for(M, NR, 32, 8, 8), dim3(32, 8)>>>(x, y, z, M, NR);
  });
  if (bad_runs) std::printf("some variant computed wrong results (WRONG above)\n");
  return bad_runs;
}
