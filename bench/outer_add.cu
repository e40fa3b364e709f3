// Lab 2 kernel variants, side by side on one GPU: the measurements behind reference/cuda/outer_add.cu.
// Build and run:  make bench-variants && build/bench/outer_add
// Each variant computes z[i][j] = x[j] + y[i] for m = n = 16384 (1 GiB of z) unless its name says
// otherwise; time = median of 22 runs (CUDA events, L2 flushed before each); GB/s counts the lab's
// bytes, 4 (m·n + m + n). Every variant's z is checked element by element on the GPU afterwards
// (z poisoned with NaN before, so an element never written counts as wrong).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#define CHECK(call)                                                                                \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

__device__ __forceinline__ float add1(float v, float s) { return v + s; }
__device__ __forceinline__ float4 add1(float4 v, float s) { return make_float4(v.x + s, v.y + s, v.z + s, v.w + s); }

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

// version 3: the reference's tile: T = float4 (n in float4s) or float; R rows per thread,
// blockDim.y apart; H: streaming store hint (__stcs). Grid-stride over row tiles past gridDim.y.
template <typename T, int R, bool H>
__global__ void tile(const T *__restrict__ x, const float *__restrict__ y, T *__restrict__ z, long m, long n) {
  long j = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  const T xj = x[j];
  const long rows = (long)blockDim.y * R;
  for (long i0 = (long)blockIdx.y * rows + threadIdx.y; i0 < m; i0 += (long)gridDim.y * rows) {
    float yv[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      long i = i0 + (long)r * blockDim.y;
      yv[r] = i < m ? y[i] : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      long i = i0 + (long)r * blockDim.y;
      if (i < m) {
        if (H) __stcs(z + i * n + j, add1(xj, yv[r]));
        else z[i * n + j] = add1(xj, yv[r]);
      }
    }
  }
}

// version 4: a column of float4s per thread over many rows: a fixed grid of a few blocks per SM,
// each thread loads x once and walks down z (gridDim.y * blockDim.y rows apart).
__global__ void column_walk(const float4 *__restrict__ x, const float *__restrict__ y, float4 *__restrict__ z, long m, long n4) {
  long j = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n4) return;
  const float4 xj = x[j];
  for (long i = (long)blockIdx.y * blockDim.y + threadIdx.y; i < m; i += (long)gridDim.y * blockDim.y) z[i * n4 + j] = add1(xj, y[i]);
}

// version 5: a flat 1-D grid over z, one float4 per thread, row and column by division (the
// indexing of a generic broadcasting kernel, as in PyTorch's elementwise loops).
__global__ void flat_div(const float4 *__restrict__ x, const float *__restrict__ y, float4 *__restrict__ z, long m, long n4) {
  long k = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= m * n4) return;
  long i = k / n4, j = k - i * n4;
  z[k] = add1(x[j], y[i]);
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
  void *flush;
  unsigned long long *bad;
  int sms, l2;
  CHECK(cudaMalloc(&x, N * 4));
  CHECK(cudaMalloc(&y, M * 4));
  CHECK(cudaMalloc(&z, M * N * 4));
  CHECK(cudaMalloc(&bad, sizeof *bad));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  CHECK(cudaMalloc(&flush, 2 * (size_t)l2));
  init<<<256, 256>>>(x, N, 1e-3f);
  init<<<256, 256>>>(y, M, 1e-2f);
  CHECK(cudaGetLastError());
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  const float4 *x4 = (const float4 *)x;
  float4 *z4 = (float4 *)z;

  // Times launch() on an m x n problem; checks z unless check is false (cudaMemset writes no sums).
  auto run = [&](const char *name, long m, long n, bool check, auto launch) -> int {
    CHECK(cudaMemset(z, 0xff, m * n * 4));  // NaN everywhere: unwritten elements fail the check
    std::vector<float> ms;
    for (int r = 0; r < 25; r++) {
      CHECK(cudaMemsetAsync(flush, 0, 2 * (size_t)l2));
      CHECK(cudaEventRecord(a));
      launch();
      CHECK(cudaGetLastError());
      CHECK(cudaEventRecord(b));
      CHECK(cudaEventSynchronize(b));
      float t;
      CHECK(cudaEventElapsedTime(&t, a, b));
      if (r >= 3) ms.push_back(t);  // the first runs warm up
    }
    std::sort(ms.begin(), ms.end());
    unsigned long long wrong = 0;
    if (check) {
      CHECK(cudaMemset(bad, 0, sizeof *bad));
      verify<<<sms * 8, 256>>>(x, y, z, m, n, bad);
      CHECK(cudaGetLastError());
      CHECK(cudaMemcpy(&wrong, bad, sizeof wrong, cudaMemcpyDeviceToHost));
    }
    double med = ms[ms.size() / 2];
    std::printf("%-34s %8.3f ms %7.0f GB/s%s\n", name, med, 4.0 * (m * n + m + n) / (med * 1e-3) / 1e9,
                !check ? "" : wrong ? "  WRONG" : "  ok");
    return wrong ? 1 : 0;
  };
  // The reference's launch shape: bx float4 columns x by rows of threads, R rows per thread,
  // gridDim.y capped at 65535.
  auto grid_for = [](long m, long ncols, int bx, int by, int R) {
    long gy = (m + (long)by * R - 1) / ((long)by * R);
    return dim3((unsigned)((ncols + bx - 1) / bx), (unsigned)std::min(gy, 65535L));
  };
  const long N4 = N / 4;
  int bad_runs = 0;
  bad_runs |= run("cudaMemset (writes only, ceiling)", M, N, false, [&] { cudaMemsetAsync(z, 0, M * N * 4); });
  bad_runs |= run("naive: threadIdx.x down a column", M, N, true,
                  [&] { naive_transposed<<<dim3(M / 16, N / 16), dim3(16, 16)>>>(x, y, z, M, N); });
  bad_runs |= run("scalar, 1 per thread, 32x8", M, N, true,
                  [&] { scalar_2d<<<dim3(N / 32, M / 8), dim3(32, 8)>>>(x, y, z, M, N); });
  bad_runs |= run("float4, 1 row per thread, 32x8", M, N, true,
                  [&] { tile<float4, 1, false><<<grid_for(M, N4, 32, 8, 1), dim3(32, 8)>>>(x4, y, z4, M, N4); });
  bad_runs |= run("float4, 2 rows per thread, 32x8", M, N, true,
                  [&] { tile<float4, 2, false><<<grid_for(M, N4, 32, 8, 2), dim3(32, 8)>>>(x4, y, z4, M, N4); });
  bad_runs |= run("float4, 4 rows, 32x8 (reference)", M, N, true,
                  [&] { tile<float4, 4, false><<<grid_for(M, N4, 32, 8, 4), dim3(32, 8)>>>(x4, y, z4, M, N4); });
  bad_runs |= run("float4, 8 rows per thread, 32x8", M, N, true,
                  [&] { tile<float4, 8, false><<<grid_for(M, N4, 32, 8, 8), dim3(32, 8)>>>(x4, y, z4, M, N4); });
  bad_runs |= run("float4, 16 rows per thread, 32x8", M, N, true,
                  [&] { tile<float4, 16, false><<<grid_for(M, N4, 32, 8, 16), dim3(32, 8)>>>(x4, y, z4, M, N4); });
  bad_runs |= run("float4, 4 rows, 64x4", M, N, true,
                  [&] { tile<float4, 4, false><<<grid_for(M, N4, 64, 4, 4), dim3(64, 4)>>>(x4, y, z4, M, N4); });
  bad_runs |= run("float4, 4 rows, 256x1", M, N, true,
                  [&] { tile<float4, 4, false><<<grid_for(M, N4, 256, 1, 4), dim3(256, 1)>>>(x4, y, z4, M, N4); });
  bad_runs |= run("float4, 4 rows, 32x8, __stcs", M, N, true,
                  [&] { tile<float4, 4, true><<<grid_for(M, N4, 32, 8, 4), dim3(32, 8)>>>(x4, y, z4, M, N4); });
  bad_runs |= run("float4 column walk, 8 blocks/SM", M, N, true, [&] {
    unsigned gx = (unsigned)(N4 / 32), gy = (unsigned)std::max(1L, (long)sms * 8 / gx);
    column_walk<<<dim3(gx, gy), dim3(32, 8)>>>(x4, y, z4, M, N4);
  });
  bad_runs |= run("float4 flat 1-D, division", M, N, true,
                  [&] { flat_div<<<(unsigned)((M * N4 + 255) / 256), 256>>>(x4, y, z4, M, N4); });
  // Ragged rows (n % 4 != 0): no float4 path; the reference's scalar tile against one per thread.
  bad_runs |= run("n=16383: scalar, 1 per thread", M, NR, true,
                  [&] { scalar_2d<<<dim3((NR + 31) / 32, M / 8), dim3(32, 8)>>>(x, y, z, M, NR); });
  bad_runs |= run("n=16383: scalar, 4 rows (reference)", M, NR, true,
                  [&] { tile<float, 4, false><<<grid_for(M, NR, 32, 8, 4), dim3(32, 8)>>>(x, y, z, M, NR); });
  bad_runs |= run("n=16383: scalar, 8 rows per thread", M, NR, true,
                  [&] { tile<float, 8, false><<<grid_for(M, NR, 32, 8, 8), dim3(32, 8)>>>(x, y, z, M, NR); });
  if (bad_runs) std::printf("some variant computed wrong results (WRONG above)\n");
  return bad_runs;
}
