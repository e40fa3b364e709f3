// What every kernel-variant program in bench/ shares: the checked CUDA call, the L2 flush and the
// median timer. One copy, so that every program times its variants the same way and a fix to the
// method reaches all of them. (The method is llm.c's dev/cuda/common.h: events around the launch,
// the L2 flushed before each run, warm-up runs thrown away, the median of the rest.)
#ifndef EM_BENCH_COMMON_CUH
#define EM_BENCH_COMMON_CUH

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../reference/core/flush_kernels.cuh"
#include "../reference/core/peaks_kernels.cuh"

// CHECK(call): a CUDA runtime call that must succeed. On failure it prints where (file, line),
// what (the call as written) and why (cudaGetErrorString), and ends the program with status 1:
// these are stand-alone programs, and any number measured after a failed call would mean nothing.
// An exit rather than a return, so that it works the same in main, in helpers and in lambdas.
#define CHECK(call)                                                                                \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

namespace bench {

// A device buffer twice the size of the L2 cache: going through all of it evicts whatever a
// variant's previous run left in the L2, so that no run is faster for finding its data there (the
// large tensors of a real call never are: 1 GiB against an L2 of 50-60 MB).
// How it goes through the buffer decides what the L2 holds when the timed run starts, and so what
// that run pays besides its own traffic (bench/l2_flush.cu times each way side by side):
//   kWrite   cudaMemset, as Triton's do_bench does: the L2 is left full of dirty
//            lines, which the timed run writes back to DRAM as its own accesses evict them. A run
//            that writes leaves about as many of its own lines dirty at its end, unpaid, so for a
//            writer the two cancel; a run that only reads pays up to an L2's worth (50 MB) of
//            writes that are not its own: nothing against a 1 GB stream, much against 67 MB (on an
//            H100 a read of 67 MB ran at 68% of copy after it, 90% after kRead).
//   kRead    a read pass: the L2 is left clean. Fair to a reader; a writer now leaves up to an L2
//            of its own writes dirty and unpaid at its end.
//   kMatched a read pass, then dirty_bytes (at most an L2) written: the L2 left as a run that
//            writes dirty_bytes leaves it for the next, so each run pays for about as many
//            write-backs as it causes, the steady state of a kernel run again and again. The
//            checker's flush (em_cuda_time_run) and bench/torch_bench.py's, with the case's output
//            bytes. On an H100 it timed a read of 67 MB as kRead did (89% of copy) and writes of
//            67 MB and 1 GiB and a 256 MiB copy as kWrite did (94%, 107%, 95%).
// The benches time with kMatched and dirty_bytes an L2 unless a program says how much its work
// writes (set_dirty_bytes): an L2 of dirty lines is what kWrite leaves, so a bench that does not
// say is timed as before, and one whose work writes less than an L2 (bench/qlinear.cu's decode
// rows, bench/l2_flush.cu) says so and is timed as the checker times it.
class L2Flush {
 public:
  enum Kind { kWrite, kRead, kMatched };
  explicit L2Flush(Kind kind = kMatched) : kind_(kind) {
    int device = 0, l2 = 0;
    CHECK(cudaGetDevice(&device));
    CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
    CHECK(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, device));
    l2_bytes_ = (size_t)l2;
    dirty_bytes_ = l2_bytes_;
    CHECK(cudaMalloc(&buf_, 2 * l2_bytes_));
    CHECK(cudaMalloc(&sink_, sizeof *sink_));
    CHECK(cudaMemset(buf_, 0, 2 * l2_bytes_));  // the read passes read initialised memory
    CHECK(cudaMemset(sink_, 0, sizeof *sink_));
  }
  ~L2Flush() {
    CHECK(cudaFree(buf_));
    CHECK(cudaFree(sink_));
  }
  L2Flush(const L2Flush &) = delete;  // one owner of the buffer: a copy would free it twice
  L2Flush &operator=(const L2Flush &) = delete;

  // kMatched: how many bytes the timed work writes (the flush dirties at most an L2 of them).
  void set_dirty_bytes(size_t bytes) { dirty_bytes_ = bytes < l2_bytes_ ? bytes : l2_bytes_; }

  // Queues the flush on the default stream, where the timed launches go: it ends before they start.
  void operator()() const {
    if (kind_ == kWrite) {
      CHECK(cudaMemsetAsync(buf_, 0, 2 * l2_bytes_));
      return;
    }
    em__flush::read_sum_kernel<<<sms_ * 8, 256>>>((const uint4 *)buf_, 2 * l2_bytes_ / 16, sink_);
    CHECK(cudaGetLastError());
    // The last dirty_bytes of the buffer: the lines the read pass brought in last, still resident,
    // so the write dirties them in place rather than evicting others.
    if (kind_ == kMatched && dirty_bytes_ > 0)
      CHECK(cudaMemsetAsync((char *)buf_ + 2 * l2_bytes_ - dirty_bytes_, 0, dirty_bytes_));
  }
  size_t l2_bytes() const { return l2_bytes_; }

 private:
  Kind kind_;
  void *buf_ = nullptr;
  unsigned *sink_ = nullptr;
  size_t l2_bytes_ = 0, dirty_bytes_ = 0;
  int sms_ = 0;
};

// Times a launch: `warmup` runs thrown away (the first launch of a kernel loads its module, and
// the first runs find clocks and TLBs cold), then the median of `runs` runs, each between two
// events on the default stream after an L2 flush that is not timed. The median, not the mean:
// one run slowed by something else on the machine must not move the figure.
class Timer {
 public:
  explicit Timer(int runs = 22, int warmup = 3, L2Flush::Kind flush = L2Flush::kMatched)
      : flush_(flush), runs_(runs), warmup_(warmup) {
    CHECK(cudaEventCreate(&start_));
    CHECK(cudaEventCreate(&stop_));
  }
  ~Timer() {
    CHECK(cudaEventDestroy(start_));
    CHECK(cudaEventDestroy(stop_));
  }
  Timer(const Timer &) = delete;  // one owner of the events
  Timer &operator=(const Timer &) = delete;

  // The median time of launch() in milliseconds. launch() queues its work on the default stream
  // (kernels, cudaMemcpyAsync, ...) and checks the calls it makes; a kernel launch's own error is
  // checked here, right after it, while the line that failed is still the one to blame.
  template <typename Launch>
  float median_ms(Launch &&launch) {
    return median_ms_after([] {}, launch);
  }

  // The same, with before() run ahead of each run's flush, untimed: the work a caller does between
  // two timed calls (the checker's fresh inputs, other implementations), whose effect on the timed
  // run is what is being measured (bench/l2_flush.cu).
  template <typename Before, typename Launch>
  float median_ms_after(Before &&before, Launch &&launch) {
    std::vector<float> ms;
    for (int r = 0; r < warmup_ + runs_; ++r) {
      before();
      flush_();
      CHECK(cudaEventRecord(start_));
      launch();
      CHECK(cudaGetLastError());
      CHECK(cudaEventRecord(stop_));
      CHECK(cudaEventSynchronize(stop_));
      float t = 0.0f;
      CHECK(cudaEventElapsedTime(&t, start_, stop_));
      if (r >= warmup_) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];  // the upper middle of an even count: a time that was measured
  }

  size_t l2_bytes() const { return flush_.l2_bytes(); }
  // L2Flush::kMatched: the bytes the next launches write (an L2's worth until said).
  void set_dirty_bytes(size_t bytes) { flush_.set_dirty_bytes(bytes); }

 private:
  L2Flush flush_;
  cudaEvent_t start_, stop_;
  int runs_, warmup_;
};

// The copy bandwidth of this GPU in GB/s, as the checker measures it (em_peaks_measure_cuda): two
// buffers of 1 GiB (halved while cudaMalloc refuses), the better of cudaMemcpyAsync and the
// checker's copy kernel and grid (reference/core/peaks_kernels.cuh), the bytes counted twice: what
// the benches' "% of copy" columns divide by.
inline double copy_peak_gbps(Timer &timer) {
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  void *src = nullptr, *dst = nullptr;
  size_t bytes = em__peaks::kCopyBytes;
  for (;; bytes /= 2) {
    cudaError_t e = cudaMalloc(&src, bytes);
    if (e == cudaSuccess && (e = cudaMalloc(&dst, bytes)) != cudaSuccess) CHECK(cudaFree(src));
    if (e == cudaSuccess) break;
    if (e != cudaErrorMemoryAllocation || bytes / 2 < em__peaks::kCopyMinBytes) CHECK(e);
    (void)cudaGetLastError();  // an out-of-memory error is not sticky: clear it and try smaller
  }
  CHECK(cudaMemset(src, 0, bytes));
  const float ms_memcpy = timer.median_ms([&] { CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice)); });
  const float ms_kernel = timer.median_ms([&] {
    em__peaks::copy_kernel<<<sms * em__peaks::kBlocksPerSm, em__peaks::kThreads>>>(
        (const float4 *)src, (float4 *)dst, bytes / sizeof(float4));
  });
  CHECK(cudaFree(src));
  CHECK(cudaFree(dst));
  return 2.0 * bytes / (std::min(ms_memcpy, ms_kernel) * 1e-3) / 1e9;
}

// The FP32 FMA rate of this GPU in TFLOP/s, measured with the checker's own kernel and grid
// (reference/core/peaks_kernels.cuh): what the benches' "% of FMA" columns divide by.
inline double fma_peak_tflops(Timer &timer) {
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const int blocks = sms * em__peaks::kBlocksPerSm;
  float *out = nullptr;
  CHECK(cudaMalloc(&out, (size_t)blocks * em__peaks::kThreads * sizeof(float)));
  const float ms = timer.median_ms(
      [&] { em__peaks::fma_kernel<<<blocks, em__peaks::kThreads>>>(out, em__peaks::kFmaIters, 0.999f, 0.001f); });
  CHECK(cudaFree(out));
  return em__peaks::fma_flops(blocks) / (ms * 1e-3) / 1e12;
}

}  // namespace bench

#endif  // EM_BENCH_COMMON_CUH
