// Lab 6 kernel variants, side by side on one GPU: the measurements behind reference/cuda/softmax.cu.
// Build and run:  make bench-variants && build/bench/softmax
// Three shapes of 2^28 floats (1 GiB in, 1 GiB out): t = 4096, 32768 and 2^20. Time = median of
// 22 runs (CUDA events, L2 flushed before each); GB/s counts 8 bytes per element (x read once,
// z written once), whatever the variant really moves; "% copy" is against cudaMemcpy
// device-to-device on the same buffers. Every variant is checked on three rows against a double
// softmax on the host (max relative error printed): a fast wrong kernel shows as such.
// The bars (from the lab's brief): >= 85% of copy for t <= 32768, >= 60% for t = 2^20, and faster
// than torch.softmax, measured at 2652 GB/s (t = 32768) and 2059 GB/s (t = 2^20) on the H200.
// Versions 1 and 4 are the library's own kernels (reference/cuda/softmax_kernels.cuh): the
// "(reference)" rows as em_softmax_cuda launches them, the others with other template arguments;
// versions 2, 3 and 5 are built from the library's reductions, loads and stores.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "../reference/cuda/softmax_kernels.cuh"
#include "common.cuh"

namespace cg = cooperative_groups;

// ---- rows on chip ------------------------------------------------------------------------------

// version 1 (the reference for 1024 < t <= 32768): one block per row, V values per thread in
// registers: softmax_block_kernel<V, VEC, FAST>, FAST: __expf, else expf. (t % 4 == 0 here, and
// cudaMalloc'd rows: VEC, the float4 path.)

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
  load_values<V, true>(x + row * t + start, half, threadIdx.x, blockDim.x, v);
  float m = block_max(thread_max(v), rm);
  if (threadIdx.x == 0) mine[0] = m;
  cluster.sync();
  m = fmaxf(m, *cluster.map_shared_rank(&mine[0], rank ^ 1));
  float s = block_sum(exp_and_sum(v, m), rs);
  if (threadIdx.x == 0) mine[1] = s;
  cluster.sync();
  s += *cluster.map_shared_rank(&mine[1], rank ^ 1);
  store_values<V, true>(z + row * t + start, half, threadIdx.x, blockDim.x, v, 1.0f / s);
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

// version 4 (the reference for t > 32768): chunks of kChunk = 8192 (256 threads x 32 values)
// reduced to (max, sum) by softmax_chunk_stats_kernel; one warp per row merges them
// (softmax_combine_kernel); softmax_chunk_write_kernel<VEC, REV> re-reads x and writes z, walking
// the chunks in reverse (REV) or forward.

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
  load_values<32, true>(x + row * t + start, len, threadIdx.x, 1024, v);
  const float m = block_max(thread_max(v), rm);
  float s = 0.0f;
  if (m != -INFINITY) s = block_sum(exp_and_sum(v, m), rs);
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
  store_values<32, true>(z + row * t + start, len, threadIdx.x, 1024, v, k);
}

// ---- driver ------------------------------------------------------------------------------------

struct Bench {
  float *x, *z;
  bench::Timer timer;
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
  const double gbps = 8.0 * B.n / (B.timer.median_ms(launch) * 1e-3) / 1e9;
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
  int sms;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const int l2 = (int)B.timer.l2_bytes();
  CHECK(cudaMalloc(&B.x, B.n * 4));
  CHECK(cudaMalloc(&B.z, B.n * 4));
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
  B.copy_gbps = run(B, "cudaMemcpy d2d (100%)", 0, 0,
                    [&] { CHECK(cudaMemcpyAsync(B.z, B.x, B.n * 4, cudaMemcpyDeviceToDevice)); });

  {
    const long t = 4096, b = B.n / t;
    std::printf("t = 4096, b = %ld\n", b);
    // em_softmax_cuda: kValues a thread, t / kValues threads (a power of 2 here, and at least 64).
    run(B, "regs, 128 threads x 32 values (reference)", b, t,
        [&] { softmax_block_kernel<kValues, true><<<b, t / kValues>>>(B.x, B.z, t); });
    run(B, "regs, 256 x 16", b, t, [&] { softmax_block_kernel<16, true><<<b, 256>>>(B.x, B.z, t); });
    run(B, "regs, 512 x 8", b, t, [&] { softmax_block_kernel<8, true><<<b, 512>>>(B.x, B.z, t); });
    run(B, "regs, 1024 x 4", b, t, [&] { softmax_block_kernel<4, true><<<b, 1024>>>(B.x, B.z, t); });
    run(B, "regs, 128 x 32, expf instead of __expf", b, t,
        [&] { softmax_block_kernel<32, true, false><<<b, 128>>>(B.x, B.z, t); });
    run(B, "two passes through L2, 512 threads", b, t, [&] { row_two_pass<<<b, 512>>>(B.x, B.z, t); });
  }
  {
    const long t = 32768, b = B.n / t;
    std::printf("t = 32768, b = %ld (torch.softmax: 2652 GB/s)\n", b);
    run(B, "regs, 1024 threads x 32 values (reference)", b, t,
        [&] { softmax_block_kernel<kValues, true><<<b, t / kValues>>>(B.x, B.z, t); });
    run(B, "regs, 1024 x 32, expf instead of __expf", b, t,
        [&] { softmax_block_kernel<32, true, false><<<b, 1024>>>(B.x, B.z, t); });
    run(B, "cluster of 2 blocks, 512 x 32 each", b, t, [&] { row_cluster2<32><<<2 * b, 512>>>(B.x, B.z, t); });
    run(B, "two passes through L2, 512 threads", b, t, [&] { row_two_pass<<<b, 512>>>(B.x, B.z, t); });
    run(B, "two passes through L2, 1024 threads", b, t, [&] { row_two_pass<<<b, 1024>>>(B.x, B.z, t); });
  }
  {
    const long t = 1L << 20, b = B.n / t, nch = t / kChunk, nblk = b * nch;
    std::printf("t = 2^20, b = %ld (torch.softmax: 2059 GB/s; 12 bytes/element caps at 67%% copy)\n", b);
    // em_softmax_cuda's three launches: a block of kChunkThreads per chunk, a warp per row in
    // blocks of 8 warps, a block per chunk again (rev: in reverse, as it ships).
    auto chunks = [&](bool rev) {
      softmax_chunk_stats_kernel<true><<<nblk, kChunkThreads>>>(B.x, st, t, nch);
      softmax_combine_kernel<<<(b + 7) / 8, 8 * 32>>>(st, rows, b, nch);
      if (rev) softmax_chunk_write_kernel<true><<<nblk, kChunkThreads>>>(B.x, B.z, rows, t, nch, nblk);
      else softmax_chunk_write_kernel<true, false><<<nblk, kChunkThreads>>>(B.x, B.z, rows, t, nch, nblk);
    };
    run(B, "chunk stats + merge + write, reversed (ref.)", b, t, [&] { chunks(true); });
    run(B, "chunk stats + merge + write, forward", b, t, [&] { chunks(false); });
    run(B, "two passes through L2, 1024 threads per row", b, t, [&] { row_two_pass<<<b, 1024>>>(B.x, B.z, t); });
    const int nch1 = (int)(t / 32768);
    int per_sm = 0;
    CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, single_pass, 1024, 0));
    if (per_sm * sms >= nch1) {
      run(B, "single pass, blocks of a row wait for each other", b, t, [&] {
        CHECK(cudaMemsetAsync(counters, 0, (2 + b) * sizeof(unsigned)));
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
