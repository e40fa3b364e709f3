// Lab 3 kernel variants, side by side on one GPU: the measurements behind reference/cuda/relu_mul.cu.
// Build and run:  make bench-variants && build/bench/relu_mul
// Each variant computes z[i][j] = max(x[j] * y[i], 0) for m = n = 16384 (1 GiB of z) unless its
// name says otherwise; time = median of 22 runs (CUDA events, L2 flushed before each); GB/s counts
// 4 * (m + n + m * n) bytes, as the checker does. Every variant's result is checked against the
// first one's, bit for bit, before it is timed. The "(reference)" row and the two scalar rows of
// 256 x 4 are the library's own kernel, relu_mul_tile (reference/cuda/relu_mul_kernels.cuh),
// launched as em_relu_mul_cuda launches it: on float4s, and on floats (n % 4 != 0, or x and z not
// 16-byte aligned).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../reference/cuda/relu_mul_kernels.cuh"
#include "common.cuh"

template <bool H, typename V>
__device__ __forceinline__ void put(V *p, V v) {
  if (H) __stcs(p, v);
  else *p = v;
}

// version 1 (the reference's family): a tile of T threads across a row, each thread one column of
// V (float or float4) in R rows; H: streaming cache hint on the stores (__stcs, evict-first). The
// reference itself, relu_mul_tile, is this tile at T = kThreads, R = kRows, no hint, with the rows
// of a block blockDim.y apart and a loop over row tiles past gridDim.y, neither of which matters
// at these sizes (a block is one row of threads and the grid covers all the rows).
template <int T, int R, bool H, typename V>
__global__ void __launch_bounds__(T) tile(const V *__restrict__ x, const float *__restrict__ y, V *__restrict__ z, long m,
                                          long cols) {
  long j = (long)blockIdx.x * T + threadIdx.x;
  if (j >= cols) return;
  V xv = x[j];
  long i0 = (long)blockIdx.y * R;
#pragma unroll
  for (int r = 0; r < R; ++r)
    if (i0 + r < m) put<H>(&z[(i0 + r) * cols + j], relu_scale(xv, y[i0 + r]));
}

// version 2: a flat 1-D grid over the float4s of z, the row and column from a division per thread
// (32-bit here: m * n / 4 < 2^32), as for an elementwise kernel.
__global__ void __launch_bounds__(256) flat(const float4 *__restrict__ x, const float *__restrict__ y, float4 *__restrict__ z,
                                            unsigned total4, unsigned cols) {
  unsigned k = blockIdx.x * 256u + threadIdx.x;
  if (k >= total4) return;
  unsigned i = k / cols, j = k - i * cols;
  z[k] = relu_scale(x[j], y[i]);
}

// version 3: one block per row, striding across it: y[i] once per block, no 2-D grid; gridDim.x
// = m (no 65535 limit on x).
__global__ void __launch_bounds__(256) row_block(const float4 *__restrict__ x, const float *__restrict__ y, float4 *__restrict__ z,
                                                 long cols) {
  long i = blockIdx.x;
  float yi = y[i];
  for (long j = threadIdx.x; j < cols; j += 256) z[i * cols + j] = relu_scale(x[j], yi);
}

// version 4: unfused, what the naive baseline does minus its per-call allocation: the product into
// a temporary, then the ReLU from it (float4 both times, so only the extra traffic shows).
__global__ void product4(const float4 *__restrict__ x, const float *__restrict__ y, float4 *__restrict__ t, long m, long cols) {
  long j = (long)blockIdx.x * 256 + threadIdx.x, i = blockIdx.y;
  if (j < cols) {
    float4 v = x[j];
    float s = y[i];
    t[i * cols + j] = make_float4(v.x * s, v.y * s, v.z * s, v.w * s);
  }
}
__global__ void relu4(const float4 *__restrict__ t, float4 *__restrict__ z, long total4) {
  long k = (long)blockIdx.x * 256 + threadIdx.x;
  if (k < total4) {
    float4 v = t[k];
    z[k] = make_float4(fmaxf(v.x, 0.f), fmaxf(v.y, 0.f), fmaxf(v.z, 0.f), fmaxf(v.w, 0.f));
  }
}

int main() {
  const long m = 16384, n = 16384, n4 = n / 4;
  const long nr = n + 1;  // the ragged row length, for the scalar path
  float *x, *y, *z, *t;
  CHECK(cudaMalloc(&x, nr * 4));
  CHECK(cudaMalloc(&y, m * 4));
  CHECK(cudaMalloc(&z, m * nr * 4));
  CHECK(cudaMalloc(&t, m * n * 4));
  {  // inputs with both signs: x[j] = (j % 7 - 3) / 4, y[i] = (i % 5 - 2) / 2
    std::vector<float> hx(nr), hy(m);
    for (long j = 0; j < nr; ++j) hx[j] = (float)(j % 7 - 3) / 4;
    for (long i = 0; i < m; ++i) hy[i] = (float)(i % 5 - 2) / 2;
    CHECK(cudaMemcpy(x, hx.data(), nr * 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(y, hy.data(), m * 4, cudaMemcpyHostToDevice));
  }
  bench::Timer timer;
  const float4 *x4 = (const float4 *)x;
  float4 *z4 = (float4 *)z;
  std::vector<float> want, got;

  // rows: the row length the variant writes (n, or nr for the ragged one), for bytes and checking.
  auto run = [&](const char *name, long rows_len, bool check, auto launch) -> int {
    CHECK(cudaMemset(z, 0xff, m * nr * 4));  // NaN everywhere: an element never written shows
    launch();
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    if (check) {
      got.resize(m * rows_len);
      CHECK(cudaMemcpy(got.data(), z, m * rows_len * 4, cudaMemcpyDeviceToHost));
      if (want.empty() && rows_len == n) want = got;
      if (rows_len == n && std::memcmp(got.data(), want.data(), m * n * 4) != 0) {
        std::fprintf(stderr, "%s: result differs from the first variant's\n", name);
        return 1;
      }
    }
    const float med = timer.median_ms(launch);
    double bytes = 4.0 * (m + rows_len + (double)m * rows_len);
    std::printf("%-34s %7.3f ms %7.0f GB/s\n", name, med, bytes / (med * 1e-3) / 1e9);
    return 0;
  };
  dim3 g1((unsigned)((n4 + 255) / 256), (unsigned)m), g2((unsigned)((n4 + 255) / 256), (unsigned)(m / 2)),
      g4((unsigned)((n4 + 255) / 256), (unsigned)(m / 4)), g8((unsigned)((n4 + 255) / 256), (unsigned)(m / 8));
  dim3 g128((unsigned)((n4 + 127) / 128), (unsigned)(m / 4)), g512((unsigned)((n4 + 511) / 512), (unsigned)(m / 4));
  // The library's launch for rows of kThreads columns or more (float4s or floats): a block is one
  // row of kThreads threads and takes kRows rows; one block row per tile of rows, up to kMaxGridY.
  const long row_tiles = (m + kRows - 1) / kRows;
  const unsigned ref_gy = (unsigned)std::min(row_tiles, (long)kMaxGridY);
  const dim3 ref_block(kThreads, 1), ref4((unsigned)((n4 + kThreads - 1) / kThreads), ref_gy);
  int bad = 0;
  bad |= run("tile 256 x 1 row, float4", n, true, [&] { tile<256, 1, false><<<g1, 256>>>(x4, y, z4, m, n4); });
  bad |= run("tile 256 x 2 rows, float4", n, true, [&] { tile<256, 2, false><<<g2, 256>>>(x4, y, z4, m, n4); });
  bad |= run("tile 256 x 4 rows, float4 (reference)", n, true,
             [&] { relu_mul_tile<float4><<<ref4, ref_block>>>(x4, y, z4, m, n4, row_tiles); });
  bad |= run("tile 256 x 8 rows, float4", n, true, [&] { tile<256, 8, false><<<g8, 256>>>(x4, y, z4, m, n4); });
  bad |= run("tile 128 x 4 rows, float4", n, true, [&] { tile<128, 4, false><<<g128, 128>>>(x4, y, z4, m, n4); });
  bad |= run("tile 512 x 4 rows, float4", n, true, [&] { tile<512, 4, false><<<g512, 512>>>(x4, y, z4, m, n4); });
  bad |= run("tile 256 x 4 rows, float4, __stcs", n, true, [&] { tile<256, 4, true><<<g4, 256>>>(x4, y, z4, m, n4); });
  bad |= run("tile 256 x 1 row, float4, __stcs", n, true, [&] { tile<256, 1, true><<<g1, 256>>>(x4, y, z4, m, n4); });
  bad |= run("flat 1-D, float4, a division each", n, true, [&] {
    flat<<<(unsigned)((m * n4 + 255) / 256), 256>>>(x4, y, z4, (unsigned)(m * n4), (unsigned)n4);
  });
  bad |= run("one block per row, float4", n, true, [&] { row_block<<<(unsigned)m, 256>>>(x4, y, z4, n4); });
  dim3 gs((unsigned)((n + kThreads - 1) / kThreads), ref_gy);
  bad |= run("tile 256 x 4 rows, scalar floats", n, true,
             [&] { relu_mul_tile<float><<<gs, ref_block>>>(x, y, z, m, n, row_tiles); });
  dim3 gr((unsigned)((nr + kThreads - 1) / kThreads), ref_gy);
  bad |= run("tile 256 x 4, scalar, n = 16385", nr, false,
             [&] { relu_mul_tile<float><<<gr, ref_block>>>(x, y, z, m, nr, row_tiles); });
  bad |= run("unfused: product, then ReLU", n, true, [&] {
    product4<<<dim3((unsigned)((n4 + 255) / 256), (unsigned)m), 256>>>(x4, y, (float4 *)t, m, n4);
    relu4<<<(unsigned)((m * n4 + 255) / 256), 256>>>((const float4 *)t, z4, m * n4);
  });
  // Ceilings: writing 1 GiB with the driver's memset, and copying 1 GiB (GB/s counts z's bytes,
  // the copy's read and write together, as the checker's copy bandwidth does, over 2 * 512 MiB).
  bad |= run("cudaMemset of z (write ceiling)", n, false, [&] { CHECK(cudaMemsetAsync(z, 0, m * n * 4)); });
  bad |= run("cudaMemcpy d2d 512 MiB (copy)", n, false, [&] {
    CHECK(cudaMemcpyAsync(t, (const char *)z + m * n * 2, m * n * 2, cudaMemcpyDeviceToDevice));
  });
  return bad;
}
