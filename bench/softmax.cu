// Lab 6 kernel variants, side by side on one GPU: the measurements behind reference/cuda/softmax.cu.
// Build and run:  make bench-variants && build/bench/softmax
// Three shapes of 2^28 floats (1 GiB in, 1 GiB out): t = 4096, 32768 and 2^20. Time = median of
// 22 runs (CUDA events, L2 flushed before each); GB/s counts 8 bytes per element (x read once,
// z written once), whatever the variant really moves; "% copy" is against cudaMemcpy
// device-to-device on the same buffers. Every variant is checked on three rows against a double
// softmax on the host (max relative error printed): a fast wrong kernel shows as such.
// The bars (from the lab's brief): >= 85% of copy for t <= 32768, >= 60% for t = 2^20, and faster
// than torch.softmax, measured at 2652 GB/s (t = 32768) and 2059 GB/s (t = 2^20) on the H200.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace cg = cooperative_groups;

#define CHECK(call)                                                                                  \
  do {                                                                                               \
    cudaError_t e_ = (call);                                                                         \
    if (e_ != cudaSuccess) {                                                                         \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));    \
      std::exit(1);                                                                                  \
    }                                                                                                \
  } while (0)

// ---- shared pieces (as in reference/cuda/softmax.cu) ------------------------------------------

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float block_max(float v, float *red) {
  v = warp_max(v);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x % 32 < blockDim.x / 32 ? red[threadIdx.x % 32] : -INFINITY;
  return warp_max(v);
}
__device__ __forceinline__ float block_sum(float v, float *red) {
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x % 32 < blockDim.x / 32 ? red[threadIdx.x % 32] : 0.0f;
  return warp_sum(v);
}

// V values per thread in registers, float4 loads; slots past len hold -inf. (t % 4 == 0 here.)
template <int V>
__device__ __forceinline__ void load4(const float *src, int len, int tid, int nthreads, float (&v)[V]) {
  const float4 *s4 = reinterpret_cast<const float4 *>(src);
#pragma unroll
  for (int q = 0; q < V / 4; ++q) {
    const int i4 = q * nthreads + tid;
    float4 f = i4 * 4 < len ? s4[i4] : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
    v[4 * q] = f.x, v[4 * q + 1] = f.y, v[4 * q + 2] = f.z, v[4 * q + 3] = f.w;
  }
}
template <int V>
__device__ __forceinline__ void store4(float *dst, int len, int tid, int nthreads, const float (&v)[V], float k) {
  float4 *d4 = reinterpret_cast<float4 *>(dst);
#pragma unroll
  for (int q = 0; q < V / 4; ++q) {
    const int i4 = q * nthreads + tid;
    if (i4 * 4 < len) d4[i4] = make_float4(v[4 * q] * k, v[4 * q + 1] * k, v[4 * q + 2] * k, v[4 * q + 3] * k);
  }
}
template <int V, bool FAST>
__device__ __forceinline__ float exp_sum(float (&v)[V], float m) {
  float acc[4] = {0, 0, 0, 0};
#pragma unroll
  for (int k = 0; k < V; ++k) {
    v[k] = FAST ? __expf(v[k] - m) : expf(v[k] - m);
    acc[k % 4] += v[k];
  }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}
template <int V>
__device__ __forceinline__ float vmax(const float (&v)[V]) {
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < V; ++k) m = fmaxf(m, v[k]);
  return m;
}

// ---- rows on chip ------------------------------------------------------------------------------

// version 1 (the reference for 1024 < t <= 32768): one block per row, V values per thread in
// registers; FAST: __expf, else expf.
template <int V, bool FAST>
__global__ void __launch_bounds__(1024) row_regs(const float *x, float *z, int t) {
  __shared__ float rm[32], rs[32];
  float v[V];
  load4<V>(x + (long)blockIdx.x * t, t, threadIdx.x, blockDim.x, v);
  const float m = block_max(vmax(v), rm);
  const float s = block_sum(exp_sum<V, FAST>(v, m), rs);
  store4<V>(z + (long)blockIdx.x * t, t, threadIdx.x, blockDim.x, v, 1.0f / s);
}

// version 2: a cluster of two blocks per row (sm_90), each holding half of it in registers (512
// threads x 32 values for t = 32768): the halves exchange their max, then their sum, through
// distributed shared memory. Two 512-thread blocks per SM can overlap one's loads with the other's
// reductions, which one 1024-thread block per SM cannot.
template <int V>
__global__ void __cluster_dims__(2, 1, 1) __launch_bounds__(512) row_cluster2(const float *x, float *z, int t) {
  __shared__ float rm[32], rs[32];
  __shared__ float mine[2];  // [0] this half's max, [1] its sum
  cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  const long row = blockIdx.x / 2;
  const int half = t / 2, start = rank * half;  // t even here
  float v[V];
  load4<V>(x + row * t + start, half, threadIdx.x, blockDim.x, v);
  float m = block_max(vmax(v), rm);
  if (threadIdx.x == 0) mine[0] = m;
  cluster.sync();
  m = fmaxf(m, *cluster.map_shared_rank(&mine[0], rank ^ 1));
  float s = block_sum(exp_sum<V, true>(v, m), rs);
  if (threadIdx.x == 0) mine[1] = s;
  cluster.sync();
  s += *cluster.map_shared_rank(&mine[1], rank ^ 1);
  store4<V>(z + row * t + start, half, threadIdx.x, blockDim.x, v, 1.0f / s);
  cluster.sync();  // the partner may still be reading our shared memory: do not exit before it is done
}

// version 3: two passes through the L2: one block per row streams x computing each thread's
// online (max, sum), merges them, and streams x again (hoping for L2 hits) writing z. Few
// registers, so several blocks per SM; the L2 must hold the rows in flight between the passes.
__device__ __forceinline__ void online(float &m, float &s, float x) {
  if (x > m) {
    s = s * __expf(m - x) + 1.0f;  // m = -inf: s = 0 * 0 + 1
    m = x;
  } else if (x != -INFINITY) {
    s += __expf(x - m);
  }
}
__global__ void __launch_bounds__(1024) row_two_pass(const float *x, float *z, int t) {
  __shared__ float rm[32], rs[32];
  const float4 *x4 = reinterpret_cast<const float4 *>(x + (long)blockIdx.x * t);
  float4 *z4 = reinterpret_cast<float4 *>(z + (long)blockIdx.x * t);
  const int n4 = t / 4;
  float m = -INFINITY, s = 0.0f;
  for (int i = threadIdx.x; i < n4; i += blockDim.x) {
    float4 f = x4[i];
    online(m, s, f.x), online(m, s, f.y), online(m, s, f.z), online(m, s, f.w);
  }
  const float M = block_max(m, rm);
  const float S = block_sum(m == -INFINITY ? 0.0f : s * __expf(m - M), rs);
  const float k = 1.0f / S;
  for (int i = threadIdx.x; i < n4; i += blockDim.x) {
    float4 f = x4[i];
    z4[i] = make_float4(__expf(f.x - M) * k, __expf(f.y - M) * k, __expf(f.z - M) * k, __expf(f.w - M) * k);
  }
}

// ---- long rows: chunk statistics ---------------------------------------------------------------

// version 4 (the reference for t > 32768): chunks of 8192 (256 threads x 32 values) reduced to
// (max, sum); one warp per row merges them; a third kernel re-reads x and writes z, walking the
// chunks in reverse (REV) or forward.
__global__ void __launch_bounds__(256) chunk_stats(const float *x, float2 *st, long t, int nch) {
  __shared__ float rm[32], rs[32];
  const long blk = blockIdx.x, row = blk / nch, start = (blk % nch) * 8192L;
  const int len = (int)(t - start < 8192 ? t - start : 8192);
  float v[32];
  load4<32>(x + row * t + start, len, threadIdx.x, 256, v);
  const float m = block_max(vmax(v), rm);
  float s = 0.0f;
  if (m != -INFINITY) s = block_sum(exp_sum<32, true>(v, m), rs);
  if (threadIdx.x == 0) st[blk] = make_float2(m, s);
}
__global__ void chunk_combine(const float2 *st, float2 *rows, long b, int nch) {
  const long row = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= b) return;
  float m = -INFINITY;
  for (int c = lane; c < nch; c += 32) m = fmaxf(m, st[row * nch + c].x);
  m = warp_max(m);
  double s = 0.0;
  for (int c = lane; c < nch; c += 32)
    if (st[row * nch + c].x != -INFINITY) s += (double)st[row * nch + c].y * expf(st[row * nch + c].x - m);
  for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) rows[row] = make_float2(m, (float)(1.0 / s));
}
template <bool REV>
__global__ void __launch_bounds__(256) chunk_write(const float *x, float *z, const float2 *rows, long t, int nch, long nblk) {
  const long blk = REV ? nblk - 1 - blockIdx.x : blockIdx.x, row = blk / nch, start = (blk % nch) * 8192L;
  const int len = (int)(t - start < 8192 ? t - start : 8192);
  const float2 r = rows[row];
  float v[32];
  load4<32>(x + row * t + start, len, threadIdx.x, 256, v);
#pragma unroll
  for (int k = 0; k < 32; ++k) v[k] = __expf(v[k] - r.x);
  store4<32>(z + row * t + start, len, threadIdx.x, 256, v, r.y);
}

// version 5: one pass for long rows. A block per chunk of 32768 (1024 threads x 32 values) takes a
// ticket (its place in launch order), reduces its chunk, publishes (max, sum), waits until every
// chunk of its row has published, merges them and writes z from its registers: x is read once.
// The wait is safe only while all blocks of a row can be resident at once (32 of 132 SMs' worth
// for t = 2^20): tickets make the blocks of the oldest unfinished row the oldest resident ones.
// A spin limit turns a would-be hang into an error on machines where that does not hold.
__global__ void __launch_bounds__(1024) single_pass(const float *x, float *z, float2 *st, unsigned *ticket,
                                                  unsigned *done, long t, int nch, unsigned *failed) {
  __shared__ float rm[32], rs[32];
  __shared__ unsigned my_ticket;
  __shared__ float2 row_stat;
  if (threadIdx.x == 0) my_ticket = atomicAdd(ticket, 1u);
  __syncthreads();
  const long blk = my_ticket, row = blk / nch, start = (blk % nch) * 32768L;
  const int len = (int)(t - start < 32768 ? t - start : 32768);
  float v[32];
  load4<32>(x + row * t + start, len, threadIdx.x, 1024, v);
  const float m = block_max(vmax(v), rm);
  float s = 0.0f;
  if (m != -INFINITY) s = block_sum(exp_sum<32, true>(v, m), rs);
  if (threadIdx.x == 0) {
    st[blk] = make_float2(m, s);
    __threadfence();
    atomicAdd(&done[row], 1u);
    const long long t0 = clock64();
    while (atomicAdd(&done[row], 0u) < (unsigned)nch) {
      __nanosleep(64);
      if (clock64() - t0 > 2000000000LL) {  // ~1 s of SM clock: give up rather than hang
        atomicExch(failed, 1u);
        break;
      }
    }
    __threadfence();
    float M = -INFINITY, S = 0.0f;
    for (int c = 0; c < nch; ++c) M = fmaxf(M, __ldcg(&st[row * nch + c]).x);
    for (int c = 0; c < nch; ++c) {
      float2 p = __ldcg(&st[row * nch + c]);
      if (p.x != -INFINITY) S += p.y * expf(p.x - M);
    }
    row_stat = make_float2(M, 1.0f / S);
  }
  __syncthreads();
  const float2 r = row_stat;
  const float k = r.y * (m == -INFINITY ? 0.0f : __expf(m - r.x));  // v holds exp(x - m): rescale to M
  store4<32>(z + row * t + start, len, threadIdx.x, 1024, v, k);
}

// ---- driver ------------------------------------------------------------------------------------

struct Bench {
  float *x, *z;
  void *flush;
  size_t flush_bytes;
  cudaEvent_t a, b;
  double copy_gbps = 0;
  long n;
};

// Relative error of three rows of z against a double softmax of x on the host.
static double check_rows(const Bench &B, long b, long t) {
  std::vector<float> hx(t), hz(t);
  double worst = 0;
  for (long row : {0L, b / 2, b - 1}) {
    CHECK(cudaMemcpy(hx.data(), B.x + row * t, t * 4, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(hz.data(), B.z + row * t, t * 4, cudaMemcpyDeviceToHost));
    double m = -INFINITY, s = 0;
    for (long j = 0; j < t; ++j) m = std::max(m, (double)hx[j]);
    for (long j = 0; j < t; ++j) s += std::exp(hx[j] - m);
    for (long j = 0; j < t; ++j) {
      double want = std::exp(hx[j] - m) / s, err = std::fabs(hz[j] - want) / want;
      if (!(err <= worst)) worst = err;  // NaN sticks
    }
  }
  return worst;
}

template <typename F>
static double run(Bench &B, const char *name, long b, long t, F launch) {
  std::vector<float> ms;
  for (int r = 0; r < 25; r++) {
    CHECK(cudaMemsetAsync(B.flush, 0, B.flush_bytes));
    CHECK(cudaEventRecord(B.a));
    launch();
    CHECK(cudaGetLastError());
    CHECK(cudaEventRecord(B.b));
    CHECK(cudaEventSynchronize(B.b));
    float dt;
    CHECK(cudaEventElapsedTime(&dt, B.a, B.b));
    if (r >= 3) ms.push_back(dt);  // the first runs warm up
  }
  std::sort(ms.begin(), ms.end());
  const double gbps = 8.0 * B.n / (ms[ms.size() / 2] * 1e-3) / 1e9;
  if (t > 0)
    std::printf("  %-44s %7.0f GB/s  %4.0f%% copy   max rel err %.1e\n", name, gbps, 100 * gbps / B.copy_gbps,
                check_rows(B, b, t));
  else
    std::printf("  %-44s %7.0f GB/s\n", name, gbps);
  return gbps;
}

int main() {
  Bench B;
  B.n = 1L << 28;
  int sms, l2;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  CHECK(cudaMalloc(&B.x, B.n * 4));
  CHECK(cudaMalloc(&B.z, B.n * 4));
  B.flush_bytes = 2 * (size_t)l2;
  CHECK(cudaMalloc(&B.flush, B.flush_bytes));
  CHECK(cudaEventCreate(&B.a));
  CHECK(cudaEventCreate(&B.b));
  // Inputs in [-10, 10): a cheap hash of the index, the same on every run.
  {
    std::vector<float> h(1 << 24);
    for (size_t i = 0; i < h.size(); ++i) h[i] = (float)((i * 2654435761u) % 20000u) * 1e-3f - 10.0f;
    for (long off = 0; off < B.n; off += (long)h.size())
      CHECK(cudaMemcpy(B.x + off, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
  }
  float2 *st, *rows;
  unsigned *counters;  // [0] ticket, [1] failed, [2..] per-row done
  CHECK(cudaMalloc(&st, (B.n / 8192) * sizeof(float2)));
  CHECK(cudaMalloc(&rows, (B.n / 4096) * sizeof(float2)));
  CHECK(cudaMalloc(&counters, (2 + B.n / 4096) * sizeof(unsigned)));

  std::printf("%d SMs, %d MB L2; 2^28 floats per tensor\n", sms, l2 >> 20);
  B.copy_gbps = run(B, "cudaMemcpy d2d (100%)", 0, 0, [&] { cudaMemcpyAsync(B.z, B.x, B.n * 4, cudaMemcpyDeviceToDevice); });

  {
    const long t = 4096, b = B.n / t;
    std::printf("t = 4096, b = %ld\n", b);
    run(B, "regs, 128 threads x 32 values (reference)", b, t, [&] { row_regs<32, true><<<b, 128>>>(B.x, B.z, t); });
    run(B, "regs, 256 x 16", b, t, [&] { row_regs<16, true><<<b, 256>>>(B.x, B.z, t); });
    run(B, "regs, 512 x 8", b, t, [&] { row_regs<8, true><<<b, 512>>>(B.x, B.z, t); });
    run(B, "regs, 1024 x 4", b, t, [&] { row_regs<4, true><<<b, 1024>>>(B.x, B.z, t); });
    run(B, "regs, 128 x 32, expf instead of __expf", b, t, [&] { row_regs<32, false><<<b, 128>>>(B.x, B.z, t); });
    run(B, "two passes through L2, 512 threads", b, t, [&] { row_two_pass<<<b, 512>>>(B.x, B.z, t); });
  }
  {
    const long t = 32768, b = B.n / t;
    std::printf("t = 32768, b = %ld (torch.softmax: 2652 GB/s)\n", b);
    run(B, "regs, 1024 threads x 32 values (reference)", b, t, [&] { row_regs<32, true><<<b, 1024>>>(B.x, B.z, t); });
    run(B, "regs, 1024 x 32, expf instead of __expf", b, t, [&] { row_regs<32, false><<<b, 1024>>>(B.x, B.z, t); });
    run(B, "cluster of 2 blocks, 512 x 32 each", b, t, [&] { row_cluster2<32><<<2 * b, 512>>>(B.x, B.z, t); });
    run(B, "two passes through L2, 512 threads", b, t, [&] { row_two_pass<<<b, 512>>>(B.x, B.z, t); });
    run(B, "two passes through L2, 1024 threads", b, t, [&] { row_two_pass<<<b, 1024>>>(B.x, B.z, t); });
  }
  {
    const long t = 1L << 20, b = B.n / t, nch = t / 8192, nblk = b * nch;
    std::printf("t = 2^20, b = %ld (torch.softmax: 2059 GB/s; 12 bytes/element caps at 67%% copy)\n", b);
    auto chunks = [&](bool rev) {
      chunk_stats<<<nblk, 256>>>(B.x, st, t, nch);
      chunk_combine<<<(b + 7) / 8, 256>>>(st, rows, b, nch);
      if (rev) chunk_write<true><<<nblk, 256>>>(B.x, B.z, rows, t, nch, nblk);
      else chunk_write<false><<<nblk, 256>>>(B.x, B.z, rows, t, nch, nblk);
    };
    run(B, "chunk stats + merge + write, reversed (ref.)", b, t, [&] { chunks(true); });
    run(B, "chunk stats + merge + write, forward", b, t, [&] { chunks(false); });
    run(B, "two passes through L2, 1024 threads per row", b, t, [&] { row_two_pass<<<b, 1024>>>(B.x, B.z, t); });
    const int nch1 = (int)(t / 32768);
    int per_sm = 0;
    CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, single_pass, 1024, 0));
    if (per_sm * sms >= nch1) {
      run(B, "single pass, blocks of a row wait for each other", b, t, [&] {
        cudaMemsetAsync(counters, 0, (2 + b) * sizeof(unsigned));
        single_pass<<<b * nch1, 1024>>>(B.x, B.z, st, counters, counters + 2, t, nch1, counters + 1);
      });
      unsigned failed = 0;
      CHECK(cudaMemcpy(&failed, counters + 1, 4, cudaMemcpyDeviceToHost));
      if (failed) std::printf("    (the single pass gave up waiting: its blocks were not all resident)\n");
    } else {
      std::printf("  single pass: skipped, %d resident blocks < %d chunks per row\n", per_sm * sms, nch1);
    }
  }
  return 0;
}
