// GPU peaks: the copy bandwidth and FP32 FMA rate of the current CUDA device, measured the way
// the harness times student kernels (CUDA events, warm-up, median), so that a roofline fraction
// compares like with like. Built only when nvcc exists; peaks.c stands in otherwise.
#include <cuda_runtime.h>

#include <string.h>

#include "em/error.h"
#include "em/peaks.h"
#include "em/stats.h"
#include "peaks_kernels.cuh"

namespace {

using namespace em__peaks;

// Two untimed runs take the clocks up and fault in anything lazy; ten timed runs give a median
// that one disturbed run cannot move. Both stay well under a second on an H200.
constexpr int kWarmups = 2;
constexpr int kTimed = 10;
// Read-only: every float4 summed, one word per thread written so the loads count as used.
__global__ void read_kernel(const float4 *__restrict__ src, size_t n, float *out) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  float s = 0.0f;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float4 v = src[i];
    s += (v.x + v.y) + (v.z + v.w);
  }
  out[(size_t)blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// Write-only: a value the compiler cannot know, so the stores are real.
__global__ void write_kernel(float4 *__restrict__ dst, size_t n, float v) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = make_float4(v, v, v, v);
}

// Everything the measurement holds, released on every way out of it.
struct Resources {
  void *src = nullptr, *dst = nullptr;
  float *out = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  ~Resources() {
    if (src) cudaFree(src);
    if (dst) cudaFree(dst);
    if (out) cudaFree(out);
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
  }
};

}  // namespace

// On failure: the name of the call and CUDA's message. A non-sticky error is cleared as well, so
// that the caller's next CUDA call does not trip over ours.
#define TRY(what, call)                                                              \
  do {                                                                               \
    cudaError_t e_ = (call);                                                         \
    if (e_ != cudaSuccess) {                                                         \
      cudaGetLastError();                                                            \
      return em__fail(EM_ECUDA, "%s: %s", (what), cudaGetErrorString(e_));            \
    }                                                                                \
  } while (0)

namespace {

// Median seconds of one launch() over kTimed runs after kWarmups, bracketed by CUDA events on the
// default stream. launch() returns the launch error (cudaGetLastError for a kernel); errors during
// execution surface at the event synchronisation.
template <class Launch>
int time_median(Resources &r, const char *what, Launch launch, double *seconds) {
  for (int i = 0; i < kWarmups; ++i) TRY(what, launch());
  double v[kTimed];
  for (int i = 0; i < kTimed; ++i) {
    TRY("cudaEventRecord", cudaEventRecord(r.start, 0));
    TRY(what, launch());
    TRY("cudaEventRecord", cudaEventRecord(r.stop, 0));
    TRY(what, cudaEventSynchronize(r.stop));
    float ms = 0.0f;
    TRY("cudaEventElapsedTime", cudaEventElapsedTime(&ms, r.start, r.stop));
    v[i] = (double)ms * 1e-3;
  }
  *seconds = em_median(v, kTimed);
  return EM_OK;
}

// Two equal buffers, as large as the device grants up to kCopyBytes (peaks_kernels.cuh).
int alloc_pair(Resources &r, size_t *bytes) {
  for (size_t b = kCopyBytes;; b /= 2) {
    cudaError_t e = cudaMalloc(&r.src, b);
    if (e == cudaSuccess) {
      e = cudaMalloc(&r.dst, b);
      if (e != cudaSuccess) {
        cudaFree(r.src);
        r.src = nullptr;
      }
    } else {
      r.src = nullptr;
    }
    if (e == cudaSuccess) {
      *bytes = b;
      return EM_OK;
    }
    cudaGetLastError();  // an out-of-memory error is not sticky: clear it and try smaller
    r.dst = nullptr;
    if (e != cudaErrorMemoryAllocation || b / 2 < kCopyMinBytes)
      return em__fail(EM_ECUDA, "cudaMalloc(2 x %zu bytes): %s", b, cudaGetErrorString(e));
  }
}

// The bandwidths, in GB/s as the labs count bytes (a copy moves its bytes twice: read and written):
// the copy the better of the driver's copy and a plain vectorised kernel; then read-only and
// write-only, since a case that mostly reads (a row sum) or mostly writes (an outer product) has
// its own roof (em_peaks_pattern_gbps). The big buffers are released here, whatever happens.
int time_bandwidths(Resources &r, int blocks, em_peaks *p) {
  size_t bytes = 0;
  int rc = alloc_pair(r, &bytes);
  if (rc != EM_OK) return rc;
  TRY("cudaMemset", cudaMemset(r.src, 0, bytes));
  double t_memcpy = 0.0, t_kernel = 0.0, t_read = 0.0, t_write = 0.0;
  const size_t n4 = bytes / sizeof(float4);
  const float4 *src = static_cast<const float4 *>(r.src);
  float4 *dst = static_cast<float4 *>(r.dst);
  rc = time_median(
      r, "cudaMemcpyAsync (device to device)",
      [&] { return cudaMemcpyAsync(r.dst, r.src, bytes, cudaMemcpyDeviceToDevice, 0); }, &t_memcpy);
  if (rc == EM_OK)
    rc = time_median(
        r, "copy_kernel",
        [&] {
          copy_kernel<<<blocks, kThreads>>>(src, dst, n4);
          return cudaGetLastError();
        },
        &t_kernel);
  // The read's per-thread sums go to dst.
  if (rc == EM_OK)
    rc = time_median(
        r, "read_kernel",
        [&] {
          read_kernel<<<blocks, kThreads>>>(src, n4, static_cast<float *>(r.dst));
          return cudaGetLastError();
        },
        &t_read);
  if (rc == EM_OK)
    rc = time_median(
        r, "write_kernel",
        [&] {
          write_kernel<<<blocks, kThreads>>>(dst, n4, 1.5f);
          return cudaGetLastError();
        },
        &t_write);
  if (rc != EM_OK) return rc;
  void *s = r.src, *d = r.dst;
  r.src = r.dst = nullptr;  // released here whatever happens, never twice
  cudaError_t e_src = cudaFree(s), e_dst = cudaFree(d);
  TRY("cudaFree", e_src);
  TRY("cudaFree", e_dst);
  const double t_copy = t_memcpy < t_kernel ? t_memcpy : t_kernel;
  p->gpu_copy_gbps = 2.0 * (double)bytes / t_copy / 1e9;
  p->gpu_read_gbps = (double)bytes / t_read / 1e9;
  p->gpu_write_gbps = (double)bytes / t_write / 1e9;
  return EM_OK;
}

// The FP32 FMA rate in GFLOP/s (an FMA is two FLOPs); the kernel writes one float per thread.
int time_fma(Resources &r, int blocks, em_peaks *p) {
  const size_t nthreads = (size_t)blocks * kThreads;
  TRY("cudaMalloc", cudaMalloc(&r.out, nthreads * sizeof(float)));
  double t_fma = 0.0;
  int rc = time_median(
      r, "fma_kernel",
      [&] {
        fma_kernel<<<blocks, kThreads>>>(r.out, kFmaIters, 0.999f, 0.001f);
        return cudaGetLastError();
      },
      &t_fma);
  if (rc != EM_OK) return rc;
  p->gpu_fma_gflops = fma_flops(blocks) / t_fma / 1e9;
  return EM_OK;
}

// The tensor cores' rates, bfloat16 in GFLOP/s and int8 in GOP/s, into the buffer time_fma allocated
// (one float per thread).
int time_mma(Resources &r, int blocks, em_peaks *p) {
  double t = 0.0;
  int rc = time_median(
      r, "mma_bf16_kernel",
      [&] {
        mma_bf16_kernel<<<blocks, kThreads>>>(r.out, kMmaIters);
        return cudaGetLastError();
      },
      &t);
  if (rc != EM_OK) return rc;
  p->gpu_bf16_tc_gflops = mma_bf16_flops(blocks) / t / 1e9;
  rc = time_median(
      r, "mma_int8_kernel",
      [&] {
        mma_int8_kernel<<<blocks, kThreads>>>(r.out, kMmaIters);
        return cudaGetLastError();
      },
      &t);
  if (rc != EM_OK) return rc;
  p->gpu_int8_tc_gops = mma_int8_ops(blocks) / t / 1e9;
  return EM_OK;
}

}  // namespace

extern "C" int em_peaks_measure_cuda(em_peaks *p) {
  if (!p) return em__fail(EM_EINVAL, "em_peaks_measure_cuda: p is NULL");

  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return em__fail(EM_ENODEV, "no usable CUDA device: %s", cudaGetErrorString(e));
  }
  if (count == 0) return em__fail(EM_ENODEV, "no CUDA-capable device is detected");

  int dev = 0;
  TRY("cudaGetDevice", cudaGetDevice(&dev));
  cudaDeviceProp prop;
  TRY("cudaGetDeviceProperties", cudaGetDeviceProperties(&prop, dev));
  const int blocks = prop.multiProcessorCount * kBlocksPerSm;

  Resources r;
  TRY("cudaEventCreate", cudaEventCreate(&r.start));
  TRY("cudaEventCreate", cudaEventCreate(&r.stop));
  // Measured into a copy: p changes only when everything was measured.
  em_peaks m = *p;
  int rc = time_bandwidths(r, blocks, &m);
  if (rc == EM_OK) rc = time_fma(r, blocks, &m);
  if (rc == EM_OK) rc = time_mma(r, blocks, &m);
  if (rc != EM_OK) return rc;

  *p = m;
  p->have_gpu = 1;
  size_t len = strlen(prop.name);
  if (len >= sizeof p->gpu_name) len = sizeof p->gpu_name - 1;
  memcpy(p->gpu_name, prop.name, len);
  p->gpu_name[len] = '\0';
  return EM_OK;
}
