// Lab 1 kernel variants, side by side on one GPU: the measurements behind reference/cuda/add.cu.
// Build and run:  make bench-variants && build/bench/add
// Each variant computes z = x + 1 over 2^28 floats; time = median of 22 runs (CUDA events, L2
// flushed before each); GB/s counts 8 bytes per element (read x, write z).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#define CHECK(call)                                                              \
  do {                                                                           \
    cudaError_t e_ = (call);                                                     \
    if (e_ != cudaSuccess) {                                                     \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      return 1;                                                                  \
    }                                                                            \
  } while (0)

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
  void *flush;
  int sms, l2;
  CHECK(cudaMalloc(&x, n * 4));
  CHECK(cudaMalloc(&z, n * 4));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  CHECK(cudaMalloc(&flush, 2 * (size_t)l2));
  CHECK(cudaMemset(x, 0x3c, n * 4));  // 0x3c3c3c3c ≈ 0.0115: finite, not zero
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  const float4 *x4 = (const float4 *)x;
  float4 *z4 = (float4 *)z;

  auto run = [&](const char *name, auto launch) -> int {
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
    std::printf("%-26s %7.0f GB/s\n", name, 8.0 * n / (ms[ms.size() / 2] * 1e-3) / 1e9);
    return 0;
  };
  int bad = 0;
  bad |= run("cudaMemcpy d2d", [&] { cudaMemcpyAsync(z, x, n * 4, cudaMemcpyDeviceToDevice); });
  bad |= run("tile 256 x 1", [&] { tile<256, 1, false><<<(n4 + 255) / 256, 256>>>(x4, 1.f, z4, n4); });
  bad |= run("tile 256 x 2", [&] { tile<256, 2, false><<<(n4 + 511) / 512, 256>>>(x4, 1.f, z4, n4); });
  bad |= run("tile 256 x 4", [&] { tile<256, 4, false><<<(n4 + 1023) / 1024, 256>>>(x4, 1.f, z4, n4); });
  bad |= run("tile 256 x 4, cache hints", [&] { tile<256, 4, true><<<(n4 + 1023) / 1024, 256>>>(x4, 1.f, z4, n4); });
  bad |= run("tile 256 x 8", [&] { tile<256, 8, false><<<(n4 + 2047) / 2048, 256>>>(x4, 1.f, z4, n4); });
  bad |= run("tile 512 x 4", [&] { tile<512, 4, false><<<(n4 + 2047) / 2048, 512>>>(x4, 1.f, z4, n4); });
  bad |= run("stride 256 x 4, 8/SM", [&] { stride<256, 4><<<sms * 8, 256>>>(x4, 1.f, z4, n4); });
  bad |= run("stride 512 x 4, 4/SM", [&] { stride<512, 4><<<sms * 4, 512>>>(x4, 1.f, z4, n4); });
  bad |= run("stride 1024 x 2, 2/SM", [&] { stride<1024, 2><<<sms * 2, 1024>>>(x4, 1.f, z4, n4); });
  return bad;
}
