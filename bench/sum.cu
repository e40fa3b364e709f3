// Lab 5 kernel variants, side by side on one GPU: the measurements behind reference/cuda/sum.cu.
// Build and run:  make bench-variants && build/bench/sum
// Each variant sums the rows of x (b x t floats, values in [0, 1), 1 GiB at every shape) into z;
// time = median of 22 runs (CUDA events, L2 flushed before each); GB/s counts the minimum bytes,
// 4 (b t + b). "err" is the worst row's |z - exact| / (2^-24 sum|x|), exact from a float64 sum on
// the host: the tolerance of the lab is ceil(log2 t) + 8 of these units (26 to 36 here).
// Rows 3 of 256x4 are the library's own kernels (reference/cuda/sum_kernels.cuh): sum_chunk_kernel,
// whose chunk length is an argument, and sum_partials_kernel, launched as em_sum_cuda launches
// them; the other versions are built from the library's pieces (sum_span, the loop of its chunk
// kernel, with other T and U; block_sum; add4), and hand their partial sums to the library's
// second pass where they have one.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../reference/cuda/sum_kernels.cuh"
#include "common.cuh"

// Values in [0, 1) from a hash of the index: cheap to make on the device, the same on the host.
__host__ __device__ inline float value_at(uint64_t i) {
  uint64_t h = i * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return (float)(h >> 40) * 0x1p-24f;
}

__global__ void fill_kernel(float *x, uint64_t n) {
  uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = value_at(i);
}

// version 1: the naive baseline: a block of 1024 per row, scalar loads, shared-memory tree with
// __syncthreads() at every level.
__global__ void naive_kernel(const float *x, float *z, long t) {
  __shared__ float s[1024];
  const float *row = x + (long)blockIdx.x * t;
  float a = 0.0f;
  for (long j = threadIdx.x; j < t; j += 1024) a += row[j];
  s[threadIdx.x] = a;
  __syncthreads();
  for (int h = 512; h > 0; h >>= 1) {
    if ((int)threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
    __syncthreads();
  }
  if (threadIdx.x == 0) z[blockIdx.x] = s[0];
}

// version 2: a block per row, warp shuffles, float4 loads, U in flight per thread. Rows are 16-byte
// aligned here (t % 4 == 0). As good as it gets when b fills the GPU; b = 8 uses 8 SMs of 132.
template <int T, int U>
__global__ void __launch_bounds__(T) row_kernel(const float4 *__restrict__ x, float *__restrict__ z, long t4) {
  float4 acc[U];
  sum_span<T, U>(x + (long)blockIdx.x * t4, 0, t4, acc);
#pragma unroll
  for (int u = 1; u < U; ++u) acc[0] = add4(acc[0], acc[u]);
  float s = block_sum<T>((acc[0].x + acc[0].z) + (acc[0].y + acc[0].w));
  if (threadIdx.x == 0) z[blockIdx.x] = s;
}

// The body of version 3 and later: block `blk` sums chunk c of row r, T x U x S float4.
template <int T, int U, int S>
__device__ __forceinline__ float chunk_sum(const float4 *__restrict__ x, long t4, unsigned r, unsigned c) {
  long lo = (long)c * T * U * S, hi = min(lo + (long)T * U * S, t4);
  float4 acc[U];
  sum_span<T, U>(x + (long)r * t4, lo, hi, acc);
  for (int h = U / 2; h > 0; h /= 2)
#pragma unroll
    for (int u = 0; u < h; ++u) acc[u] = add4(acc[u], acc[u + h]);
  return block_sum<T>((acc[0].x + acc[0].z) + (acc[0].y + acc[0].w));
}

// version 3: rows split into chunks of T x U x S float4, a block per chunk, partial sums to a
// scratch array, then a second kernel adds each row's partials in a fixed order: the reference,
// sum_chunk_kernel and sum_partials_kernel, at T = kThreads and U = kUnroll. Other T and U need
// another kernel: this one, the library's loop (sum_span) on float4 rows alone (t % 4 == 0 here,
// so the reference's scalar head and tail would be empty), its partial sums to em__sum_partials
// for the library's pass 2.
template <int T, int U, int S>
__global__ void __launch_bounds__(T) chunk_kernel(const float4 *__restrict__ x, float *__restrict__ part, long t4,
                                                  unsigned chunks) {
  unsigned r = blockIdx.x / chunks, c = blockIdx.x - r * chunks;
  float s = chunk_sum<T, U, S>(x, t4, r, c);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// version 4: one launch: the last block to finish a row adds its partials (a counter per row,
// __threadfence before counting, as in the CUDA samples' threadFenceReduction). Still a fixed order.
template <int T, int U, int S>
__global__ void __launch_bounds__(T) chunk_last_kernel(const float4 *__restrict__ x, float *part, unsigned *count,
                                                       float *__restrict__ z, long t4, unsigned chunks) {
  __shared__ bool last;
  unsigned r = blockIdx.x / chunks, c = blockIdx.x - r * chunks;
  float s = chunk_sum<T, U, S>(x, t4, r, c);
  if (threadIdx.x == 0) {
    part[blockIdx.x] = s;
    __threadfence();
    last = atomicAdd(&count[r], 1u) == chunks - 1;
  }
  __syncthreads();
  if (!last) return;
  float a = 0.0f;
  for (unsigned i = threadIdx.x; i < chunks; i += T) a += __ldcg(part + (size_t)r * chunks + i); // from L2, not a stale L1
  a = block_sum<T>(a);
  if (threadIdx.x == 0) {
    z[r] = a;
    count[r] = 0; // ready for the next call
  }
}

// version 5: chunks adding into z with atomicAdd (z zeroed first, inside the timing): one pass, but
// the order of the additions changes from run to run, and so may the bits of the result.
template <int T, int U, int S>
__global__ void __launch_bounds__(T) chunk_atomic_kernel(const float4 *__restrict__ x, float *z, long t4, unsigned chunks) {
  unsigned r = blockIdx.x / chunks, c = blockIdx.x - r * chunks;
  float s = chunk_sum<T, U, S>(x, t4, r, c);
  if (threadIdx.x == 0) atomicAdd(&z[r], s);
}

// version 6: a persistent grid (blocks_per_sm x SMs) striding over the chunks, then the second pass.
template <int T, int U, int S>
__global__ void __launch_bounds__(T) chunk_persistent_kernel(const float4 *__restrict__ x, float *__restrict__ part,
                                                             long t4, unsigned chunks, unsigned items) {
  for (unsigned k = blockIdx.x; k < items; k += gridDim.x) {
    unsigned r = k / chunks, c = k - r * chunks;
    float s = chunk_sum<T, U, S>(x, t4, r, c);
    if (threadIdx.x == 0) part[k] = s;
    __syncthreads(); // block_sum's shared array is reused by the next item
  }
}

int main() {
  const long total = 1L << 28; // 1 GiB of x at every shape
  struct shape {
    long b, t;
  } shapes[] = {{1024, 1L << 18}, {8, 1L << 25}, {1, 1L << 28}};
  float *x, *z, *part, *copy_dst;
  unsigned *count;
  int sms;
  CHECK(cudaMalloc(&x, total * sizeof(float)));
  CHECK(cudaMalloc(&z, 1024 * sizeof(float)));
  // Every version's partial sums go where the library's pass 2 (sum_partials_kernel) reads them:
  // this program's own em__sum_partials (the header's static array), EM_SUM_SCRATCH floats.
  CHECK(cudaGetSymbolAddress((void **)&part, em__sum_partials));
  CHECK(cudaMalloc(&copy_dst, total / 2 * sizeof(float)));
  CHECK(cudaMalloc(&count, 1024 * sizeof(unsigned)));
  CHECK(cudaMemset(count, 0, 1024 * sizeof(unsigned)));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  fill_kernel<<<(unsigned)(total / 256), 256>>>(x, (uint64_t)total);
  CHECK(cudaGetLastError());
  bench::Timer timer;
  const float4 *x4 = (const float4 *)x;

  // The exact row sums (float64 on the host) and sum |x| = sum x (all values are positive).
  std::vector<float> host(total);
  CHECK(cudaMemcpy(host.data(), x, total * sizeof(float), cudaMemcpyDeviceToHost));

  int bad = 0;
  for (const shape &sh : shapes) {
    const long b = sh.b, t = sh.t, t4 = t / 4;
    std::vector<double> exact(b);
    for (long i = 0; i < b; ++i) {
      double s = 0;
      for (long j = 0; j < t; ++j) s += host[i * t + j];
      exact[i] = s;
    }
    const double bytes = 4.0 * (double)(b * t + b);
    std::printf("\nb = %ld, t = %ld (%.0f MiB)\n", b, t, bytes / (1 << 20));
    std::printf("%-44s %9s %9s %7s\n", "variant", "time", "GB/s", "err");

    auto run = [&](const char *name, auto launch, bool sums = true) -> int {
      const double med = timer.median_ms(launch);
      std::printf("%-44s %7.3f ms %9.0f", name, med, bytes / (med * 1e-3) / 1e9);
      if (sums) {
        std::vector<float> got(b);
        CHECK(cudaMemcpy(got.data(), z, b * sizeof(float), cudaMemcpyDeviceToHost));
        double err = 0;
        for (long i = 0; i < b; ++i) err = std::max(err, std::fabs(got[i] - exact[i]) / (0x1p-24 * exact[i]));
        std::printf(" %7.1f", err);
        CHECK(cudaMemset(z, 0xff, b * sizeof(float))); // NaN: a variant that writes nothing shows it
      }
      std::printf("\n");
      return 0;
    };
    // Chunks of per_block4 float4 per row. Their partial sums go to em__sum_partials: never more
    // than it holds (2^15 of its 2^18 floats at these shapes).
    auto chunks_of = [&](long per_block4) {
      const unsigned ch = (unsigned)((t4 + per_block4 - 1) / per_block4);
      if (b * ch > EM_SUM_SCRATCH) {
        std::fprintf(stderr, "%ld rows of %u chunks: more partial sums than em__sum_partials holds\n", b, ch);
        std::exit(1);
      }
      return ch;
    };

    // The same bytes as a copy: 512 MiB read and 512 MiB written.
    bad |= run("cudaMemcpy d2d of 512 MiB (copy, for scale)",
               [&] { CHECK(cudaMemcpyAsync(copy_dst, x, total / 2 * sizeof(float), cudaMemcpyDeviceToDevice)); },
               false);
    if (b >= 8) bad |= run("1 naive: block of 1024 per row, smem tree", [&] { naive_kernel<<<(unsigned)b, 1024>>>(x, z, t); });
    if (b >= 8) {
      bad |= run("2 block per row 256 x float4 x4", [&] { row_kernel<256, 4><<<(unsigned)b, 256>>>(x4, z, t4); });
      bad |= run("2 block per row 1024 x float4 x4", [&] { row_kernel<1024, 4><<<(unsigned)b, 1024>>>(x4, z, t4); });
    }
    // The library's two passes as em_sum_cuda launches them on rows longer than kWarpMax, with
    // chunks of chunk4 float4 (kChunk4 ships). That is its launch while a row has several chunks
    // (one chunk: sum_chunk_kernel<false> alone) and their partial sums fit em__sum_partials (more:
    // longer chunks), as at every shape here.
    auto reference = [&](long chunk4, const char *label) {
      const unsigned ch = chunks_of(chunk4);
      if (ch < 2) {
        std::fprintf(stderr, "%s: rows of one chunk, which em_sum_cuda sums in one pass\n", label);
        std::exit(1);
      }
      bad |= run(label, [&] {
        sum_chunk_kernel<true><<<(unsigned)(b * ch), kThreads>>>(x, z, t, ch, chunk4);
        sum_partials_kernel<<<(unsigned)b, kPassThreads>>>(z, ch);
      });
    };
#define TWO_PASS(T, U, S, label)                                                              \
  do {                                                                                        \
    unsigned ch = chunks_of((long)T * U * S);                                                 \
    bad |= run(label, [&] {                                                                   \
      chunk_kernel<T, U, S><<<(unsigned)(b * ch), T>>>(x4, part, t4, ch);                     \
      sum_partials_kernel<<<(unsigned)b, kPassThreads>>>(z, ch);                              \
    });                                                                                       \
  } while (0)
    reference(kChunk4, "3 chunks 256x4x4 (16 Ki) + pass 2: reference");
    reference((long)kThreads * kUnroll * 2, "3 chunks 256x4x2 (8 Ki) + pass 2");
    reference((long)kThreads * kUnroll * 8, "3 chunks 256x4x8 (32 Ki) + pass 2");
    reference((long)kThreads * kUnroll * 16, "3 chunks 256x4x16 (64 Ki) + pass 2");
    TWO_PASS(256, 2, 8, "3 chunks 256x2x8 (16 Ki) + pass 2");
    TWO_PASS(256, 8, 2, "3 chunks 256x8x2 (16 Ki) + pass 2");
    TWO_PASS(512, 4, 2, "3 chunks 512x4x2 (16 Ki) + pass 2");
    TWO_PASS(128, 4, 8, "3 chunks 128x4x8 (16 Ki) + pass 2");
    {
      unsigned ch = chunks_of(256 * 4 * 4);
      bad |= run("4 chunks 16 Ki, last block adds (1 launch)", [&] {
        chunk_last_kernel<256, 4, 4><<<(unsigned)(b * ch), 256>>>(x4, part, count, z, t4, ch);
      });
      bad |= run("5 chunks 16 Ki, atomicAdd (memset + 1 launch)", [&] {
        CHECK(cudaMemsetAsync(z, 0, b * sizeof(float)));
        chunk_atomic_kernel<256, 4, 4><<<(unsigned)(b * ch), 256>>>(x4, z, t4, ch);
      });
      for (int per_sm : {4, 8}) {
        unsigned grid = (unsigned)(sms * per_sm), items = (unsigned)(b * ch);
        bad |= run(per_sm == 4 ? "6 persistent 4/SM over 16 Ki chunks + pass 2" : "6 persistent 8/SM over 16 Ki chunks + pass 2",
                   [&] {
                     chunk_persistent_kernel<256, 4, 4><<<grid, 256>>>(x4, part, t4, ch, items);
                     sum_partials_kernel<<<(unsigned)b, kPassThreads>>>(z, ch);
                   });
      }
    }
  }
  return bad;
}
