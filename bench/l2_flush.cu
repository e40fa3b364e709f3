// What the L2 flush before each timed run charges to the run it precedes.
// Build and run:  make build/bench/l2_flush && build/bench/l2_flush
//
// Every GPU time in emlab (the checker's em_cuda_time_run, bench/common.cuh, bench/torch_bench.py)
// is taken after a pass over a buffer twice the L2's size, so that no run finds its data left in
// the L2 by the run before. A pass that writes (cudaMemset, the usual way, and emlab's until this
// program measured it) leaves the L2 full of dirty lines, which the timed run then writes back to
// DRAM as its own accesses evict them: up to an L2's worth (50 MB on an H100 or H200) of writes
// that are not its own. A run that writes leaves as many of its own dirty at its end, unpaid, and
// the two cancel; a run that only reads just pays. Against a GB-long stream that is nothing;
// against lab 8's decode-like forward, which streams 67 MB of int8 weights in some 25-30 µs, it is
// a third more traffic. bench/common.cuh's L2Flush has three ways (kWrite, kRead, kMatched: what
// each leaves is written there); emlab now flushes the kMatched way, and this program times the
// same work after each, side by side:
//   - a launch with nothing to do, of 1 block to 8 per SM (what two events around one launch cost);
//   - a read-only kernel over 67 MB (W of N = K = 8192 in int8) and over 1 GiB; a write-only one
//     over the same sizes; a copy kernel of 256 MiB;
//   - lab 8's shipped decode forward at M = 16, N = K = 8192 (reference/cuda/qlinear_kernels.cuh),
//     and after the checker's flush (kMatched) its variants by rows per block (NT) and steps in
//     flight (U), then the shipped one with, before each run, what the checker does between two
//     timed calls (the GPU idle, another kernel, a row of W swapped): not yet run on a GPU;
// each as GB/s and as a share of the copy bandwidth (cudaMemcpy, 256 MiB, bytes counted twice,
// after the written flush). A read flush that did not evict would show as the 67 MB read beating
// the 1 GiB one.
// Measured on an H100 80GB HBM3 (2026-12-06, two runs in one call, copy 2961-2963 GB/s), as a share
// of copy after kWrite / kRead / kMatched: the 67 MB read 67% / 89% / 89%; the 1 GiB read 101% /
// 104% / 104%; the 67 MB write 94% / 103-104% / 94%; the 1 GiB write 107% / 108% / 107%; the
// 256 MiB copy 95% / 98-99% / 95%; the shipped decode forward (NT = 4, U = 2) 71% / 80% / 80%.
// kMatched times readers as kRead does and writers as kWrite does. After kRead the decode kernel's
// shapes: NT = 2 with U = 1 or 2 82%, NT = 4 with U = 1 or 4 80-81%, NT = 2 with U = 4 80%,
// NT = 2 with U = 3 75-76%, NT = 1 77-79%. A third run (kMatched; "pre" loads the epilogue's
// operands as each block starts): NT = 2 U = 2 83%, pre 77%; NT = 4 U = 2 81%, pre 82%; NT = 2 U = 4
// pre 83%; an empty launch 3.1 µs (1 block), 3.3 µs (132 or 256), 3.7-3.8 µs (1056). A fourth
// (2026-12-06, kMatched, copy 2978 GB/s): NT = 2 U = 2 85%, pre 78%, smem 86%; NT = 4 U = 2 83%,
// pre 84%, smem 82%; NT = 2 U = 4 82%, pre 85%; NT = 1 80%. "pre" (the operands in registers from
// the block's start) is gone since; smem is what the shipped NT = 2 does.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "../reference/cuda/qlinear_kernels.cuh"
#include "common.cuh"

namespace {

__global__ void write_kernel(uint4 *p, size_t n) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) p[i] = make_uint4(1u, 2u, 3u, 4u);
}

__global__ void swap_kernel(int8_t *p, int8_t *q, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const int8_t t = p[i];
    p[i] = q[i];
    q[i] = t;
  }
}

}  // namespace

int main() {
  cudaDeviceProp p;
  CHECK(cudaGetDeviceProperties(&p, 0));
  std::printf("%s, %d SMs, L2 %d MB\n", p.name, p.multiProcessorCount, p.l2CacheSize >> 20);
  const int blocks = p.multiProcessorCount * 8;

  const size_t big = (size_t)1 << 30, w_bytes = (size_t)8192 * 8192, copy_bytes = (size_t)256 << 20;
  uint4 *g = nullptr, *dst = nullptr;
  unsigned *sink = nullptr;
  CHECK(cudaMalloc(&g, big));
  CHECK(cudaMalloc(&dst, copy_bytes));
  CHECK(cudaMalloc(&sink, sizeof *sink));
  CHECK(cudaMemset(g, 1, big));
  CHECK(cudaMemset(sink, 0, sizeof *sink));

  // Lab 8's decode forward: x (16 rows) and W share nothing with g's first 67 MB but their sizes.
  const int M = 16, N = 8192, K = 8192;
  int8_t *xq = nullptr, *wq = nullptr;
  float *sx = nullptr, *sw = nullptr, *b = nullptr, *y = nullptr;
  CHECK(cudaMalloc(&xq, (size_t)M * K));
  CHECK(cudaMalloc(&wq, (size_t)N * K));
  CHECK(cudaMalloc(&sx, M * sizeof(float)));
  CHECK(cudaMalloc(&sw, N * sizeof(float)));
  CHECK(cudaMalloc(&b, N * sizeof(float)));
  CHECK(cudaMalloc(&y, (size_t)M * N * sizeof(float)));
  CHECK(cudaMemset(xq, 3, (size_t)M * K));
  CHECK(cudaMemset(wq, 5, (size_t)N * K));
  CHECK(cudaMemset(sx, 0, M * sizeof(float)));
  CHECK(cudaMemset(sw, 0, N * sizeof(float)));
  CHECK(cudaMemset(b, 0, N * sizeof(float)));
  const QlinFwdArgs a = qlin_fwd_args(xq, sx, wq, sw, b, nullptr, y, M, N, K);

  double copy_gbs = 0.0;
  {
    bench::Timer t(22, 3, bench::L2Flush::kWrite);
    const float ms = t.median_ms([&] { CHECK(cudaMemcpyAsync(dst, g, copy_bytes, cudaMemcpyDeviceToDevice)); });
    copy_gbs = 2.0 * copy_bytes / (ms * 1e-3) / 1e9;
    std::printf("copy (cudaMemcpy, 256 MiB, after a written flush): %.0f GB/s\n\n", copy_gbs);
  }
  auto row = [&](const char *what, double bytes, float ms) {
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    std::printf("  %-44s %9.4f ms %7.0f GB/s %4.0f%% of copy\n", what, ms, gbs, 100.0 * gbs / copy_gbs);
  };
  const char *names[] = {"written (cudaMemset)", "read", "read, then dirty as the work leaves it (kMatched)"};
  for (bench::L2Flush::Kind kind : {bench::L2Flush::kWrite, bench::L2Flush::kRead, bench::L2Flush::kMatched}) {
    std::printf("after a %s flush:\n", names[kind]);
    bench::Timer t(22, 3, kind);
    t.set_dirty_bytes(0);
    // What the events and one launch cost whatever the work: by grid size, from one block to the
    // read kernels' grid (the decode forward launches N / (8·NT) = 512 blocks at NT = 2).
    for (int nb : {1, p.multiProcessorCount, 256, blocks}) {
      const float empty = t.median_ms([&] { em__flush::read_sum_kernel<<<nb, 256>>>(g, 0, sink); });
      std::printf("  a launch with nothing to read, %4d blocks    %9.4f ms\n", nb, empty);
    }
    auto read = [&](size_t bytes) { em__flush::read_sum_kernel<<<blocks, 256>>>(g, bytes / 16, sink); };
    row("read of 67 MB", (double)w_bytes, t.median_ms([&] { read(w_bytes); }));
    row("read of 1 GiB", (double)big, t.median_ms([&] { read(big); }));
    t.set_dirty_bytes(w_bytes);
    row("write of 67 MB", (double)w_bytes, t.median_ms([&] { write_kernel<<<blocks, 256>>>(g, w_bytes / 16); }));
    t.set_dirty_bytes(big);
    row("write of 1 GiB", (double)big, t.median_ms([&] { write_kernel<<<blocks, 256>>>(g, big / 16); }));
    t.set_dirty_bytes(copy_bytes);
    row("copy of 256 MiB (bytes counted twice)", 2.0 * copy_bytes,
        t.median_ms([&] { em__peaks::copy_kernel<<<blocks, 256>>>((const float4 *)g, (float4 *)dst, copy_bytes / 16); }));
    t.set_dirty_bytes((size_t)M * N * sizeof(float));  // y
    row("lab 8 decode forward, M=16 N=K=8192 (W's bytes)", (double)w_bytes,
        t.median_ms([&] { CHECK(qlin_fwd_launch(a)); }));
    if (kind == bench::L2Flush::kMatched) {  // the decode kernel's shapes: rows per block (NT), steps in flight (U)
      // "smem": the epilogue's operands copied into shared memory as each block starts (kQlinEpiShared;
      // NT = 2 U = 2 smem is the shipped forward, timed above); otherwise read after W's stream.
      row("  decode NT=4 U=2", (double)w_bytes, t.median_ms([&] { CHECK((qlin_fwd_decode_launch<4, 2>(a))); }));
      row("  decode NT=4 U=1", (double)w_bytes, t.median_ms([&] { CHECK((qlin_fwd_decode_launch<4, 1>(a))); }));
      row("  decode NT=2 U=1", (double)w_bytes, t.median_ms([&] { CHECK((qlin_fwd_decode_launch<2, 1>(a))); }));
      row("  decode NT=2 U=2", (double)w_bytes, t.median_ms([&] { CHECK((qlin_fwd_decode_launch<2, 2>(a))); }));
      row("  decode NT=4 U=2 smem", (double)w_bytes,
          t.median_ms([&] { CHECK((qlin_fwd_decode_launch<4, 2, kQlinEpiShared>(a))); }));
      row("  decode NT=2 U=4", (double)w_bytes, t.median_ms([&] { CHECK((qlin_fwd_decode_launch<2, 4>(a))); }));
      row("  decode NT=1 U=2", (double)w_bytes, t.median_ms([&] { CHECK((qlin_fwd_decode_launch<1, 2>(a))); }));
      row("  decode NT=1 U=4", (double)w_bytes, t.median_ms([&] { CHECK((qlin_fwd_decode_launch<1, 4>(a))); }));
      // The checker times this kernel about 0.8 µs (3%) slower than this program does, after the
      // same flush. What differs is what comes between two timed calls: the checker synchronises,
      // changes a row of the inputs (harness/fresh.c), poisons the outputs, runs the other
      // implementations of the interleaved timer (the naive baseline's decode takes some 60 µs)
      // and compares outputs. Each of those, untimed before every run here, in turn:
      std::printf("  the shipped forward, with before each run's flush (untimed):\n");
      const auto idle = [](int us) {
        CHECK(cudaDeviceSynchronize());
        std::this_thread::sleep_for(std::chrono::microseconds(us));
      };
      const auto shipped = [&] { CHECK(qlin_fwd_launch(a)); };
      row("    nothing (as above)", (double)w_bytes, t.median_ms(shipped));
      row("    the GPU idle 0.2 ms", (double)w_bytes, t.median_ms_after([&] { idle(200); }, shipped));
      row("    the GPU idle 2 ms", (double)w_bytes, t.median_ms_after([&] { idle(2000); }, shipped));
      float *fma_out = nullptr;
      CHECK(cudaMalloc(&fma_out, (size_t)blocks * 256 * sizeof(float)));
      const auto busy = [&] {  // FMA chains of the checker's rate kernel, about 60 µs on an H100
        em__peaks::fma_kernel<<<p.multiProcessorCount * em__peaks::kBlocksPerSm, em__peaks::kThreads>>>(
            fma_out, 1024, 0.999f, 0.001f);
        CHECK(cudaGetLastError());
      };
      row("    a 60 us compute kernel", (double)w_bytes, t.median_ms_after(busy, shipped));
      const auto swap_row = [&](int r) {  // rows r and r + 1 of W exchanged, as harness/fresh.c varies W
        swap_kernel<<<4, 256>>>(wq + (size_t)r * K, wq + (size_t)(r + 1) * K, K);
        CHECK(cudaGetLastError());
      };
      int r = 0;
      row("    a row of W swapped", (double)w_bytes, t.median_ms_after([&] { swap_row(r = (r + 2) % (N - 1)); }, shipped));
      row("    all three, as the checker", (double)w_bytes, t.median_ms_after([&] {
            swap_row(r = (r + 2) % (N - 1));
            busy();
            idle(200);
          }, shipped));
      CHECK(cudaFree(fma_out));
    }
  }
  CHECK(cudaFree(g));
  CHECK(cudaFree(dst));
  CHECK(cudaFree(sink));
  for (void *q : {(void *)xq, (void *)wq, (void *)sx, (void *)sw, (void *)b, (void *)y}) CHECK(cudaFree(q));
  return 0;
}
