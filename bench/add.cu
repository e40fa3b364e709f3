// Lab 1 kernel variants, side by side on one GPU: the measurements behind reference/cuda/add.cu.
// Build and run:  make bench-variants && build/bench/add
// Each variant computes z = x + 1 over 2^28 floats; time = median of 22 runs (CUDA events, L2
// flushed before each); GB/s counts 8 bytes per element (read x, write z). The "(reference)" row
// is the library's own kernel (reference/cuda/add_kernels.cuh), launched as em_add_b_cuda launches
// it on aligned arrays: one float4 per thread, kThreads to a block.
#include <cuda_runtime.h>

#include <cstdio>

#include "../reference/cuda/add_kernels.cuh"
#include "common.cuh"

// version 1: a tile of T threads × V float4 per thread; H: streaming cache hints (__ldcs/__stcs).
template <int T, int V, bool H>
__global__ void __launch_bounds__(T) tile(const float4 *__restrict__ x, float c, float4 *__restrict__ z, long n4) {
  long base = (long)blockIdx.x * T * V + threadIdx.x;
  float4 v[V];
#pragma unroll
  for (int k = 0; k < V; k++) {
    long i = base + (long)k * T;
    if (i < n4) v[k] = H ? __ldcs(x + i) : x[i];
  }
#pragma unroll
  for (int k = 0; k < V; k++) {
    long i = base + (long)k * T;
    if (i < n4) {
      float4 r = make_float4(v[k].x + c, v[k].y + c, v[k].z + c, v[k].w + c);
      if (H) __stcs(z + i, r);
      else z[i] = r;
    }
  }
}

// version 2: a grid-stride loop over a fixed grid (a few blocks per SM), V float4 per step.
template <int T, int V>
__global__ void __launch_bounds__(T) stride(const float4 *__restrict__ x, float c, float4 *__restrict__ z, long n4) {
  for (long base = (long)blockIdx.x * T * V + threadIdx.x; base < n4; base += (long)gridDim.x * T * V) {
    float4 v[V];
#pragma unroll
    for (int k = 0; k < V; k++) {
      long i = base + (long)k * T;
      if (i < n4) v[k] = x[i];
    }
#pragma unroll
    for (int k = 0; k < V; k++) {
      long i = base + (long)k * T;
      if (i < n4) z[i] = make_float4(v[k].x + c, v[k].y + c, v[k].z + c, v[k].w + c);
    }
  }
}

int main() {
  const long n = 1L << 28, n4 = n / 4;
  float *x, *z;
  int sms;
  CHECK(cudaMalloc(&x, n * 4));
  CHECK(cudaMalloc(&z, n * 4));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  CHECK(cudaMemset(x, 0x3c, n * 4));  // 0x3c3c3c3c ≈ 0.0115: finite, not zero
  bench::Timer timer;
  const float4 *x4 = (const float4 *)x;
  float4 *z4 = (float4 *)z;

  auto run = [&](const char *name, auto launch) {
    std::printf("%-26s %7.0f GB/s\n", name, 8.0 * n / (timer.median_ms(launch) * 1e-3) / 1e9);
  };
  run("cudaMemcpy d2d", [&] { CHECK(cudaMemcpyAsync(z, x, n * 4, cudaMemcpyDeviceToDevice)); });
  run("tile 256 x 1 (reference)",
      [&] { add_vec4_kernel<<<(unsigned)((n4 + kThreads - 1) / kThreads), kThreads>>>(x4, 1.f, z4, n4); });
  run("tile 256 x 2", [&] { tile<256, 2, false><<<(n4 + 511) / 512, 256>>>(x4, 1.f, z4, n4); });
  run("tile 256 x 4", [&] { tile<256, 4, false><<<(n4 + 1023) / 1024, 256>>>(x4, 1.f, z4, n4); });
  run("tile 256 x 4, cache hints", [&] { tile<256, 4, true><<<(n4 + 1023) / 1024, 256>>>(x4, 1.f, z4, n4); });
  run("tile 256 x 8", [&] { tile<256, 8, false><<<(n4 + 2047) / 2048, 256>>>(x4, 1.f, z4, n4); });
  run("tile 512 x 4", [&] { tile<512, 4, false><<<(n4 + 2047) / 2048, 512>>>(x4, 1.f, z4, n4); });
  run("stride 256 x 4, 8/SM", [&] { stride<256, 4><<<sms * 8, 256>>>(x4, 1.f, z4, n4); });
  run("stride 512 x 4, 4/SM", [&] { stride<512, 4><<<sms * 4, 512>>>(x4, 1.f, z4, n4); });
  run("stride 1024 x 2, 2/SM", [&] { stride<1024, 2><<<sms * 2, 1024>>>(x4, 1.f, z4, n4); });
  CHECK(cudaFree(x));
  CHECK(cudaFree(z));
  return 0;
}
