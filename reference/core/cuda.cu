// The CUDA half of libem's core: device probe, checked allocations and copies, fills, the GPU
// random streams, and the timing of one GPU run. Built only when nvcc is present; cuda_none.c
// stands in for it otherwise.
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "em/cuda.h"
#include "em/error.h"
#include "em/memory.h"
#include "em/rng.h"
#include "em/stats.h"
#include "flush_kernels.cuh"

#define CUDA_TRY(call)                                                             \
  do {                                                                             \
    cudaError_t e__ = (call);                                                      \
    if (e__ != cudaSuccess)                                                        \
      return em__fail(EM_ECUDA, "%s: %s", #call, cudaGetErrorString(e__));         \
  } while (0)

extern "C" int em_cuda_built(void) { return 1; }

extern "C" int em_cuda_probe(em_cuda_device *dev) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice) {
    cudaGetLastError();  // not sticky: clear it so later calls start clean
    return em__fail(EM_ENODEV, "no NVIDIA GPU with a driver for CUDA %d.%d here (%s)", CUDART_VERSION / 1000,
                    CUDART_VERSION % 1000 / 10, cudaGetErrorString(e));
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    return em__fail(EM_ENODEV, "%s", cudaGetErrorString(e));
  }
  if (count == 0) return em__fail(EM_ENODEV, "no CUDA-capable device is detected");
  cudaDeviceProp p;
  e = cudaGetDeviceProperties(&p, 0);
  if (e != cudaSuccess) return em__fail(EM_ENODEV, "cudaGetDeviceProperties: %s", cudaGetErrorString(e));
  // A context must really come up (a driver older than the runtime fails only here).
  e = cudaFree(0);
  if (e != cudaSuccess) return em__fail(EM_ENODEV, "cannot create a CUDA context: %s", cudaGetErrorString(e));
  if (dev) {
    memset(dev, 0, sizeof *dev);
    snprintf(dev->name, sizeof dev->name, "%s", p.name);
    dev->major = p.major;
    dev->minor = p.minor;
    dev->sm_count = p.multiProcessorCount;
    dev->l2_bytes = (size_t)p.l2CacheSize;
    dev->global_bytes = p.totalGlobalMem;
    cudaDriverGetVersion(&dev->driver_version);
    cudaRuntimeGetVersion(&dev->runtime_version);
  }
  return EM_OK;
}

extern "C" int em_cuda_check_launch(const char *what) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e != cudaSuccess) return em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
  return EM_OK;
}

extern "C" int em_cuda_sync(void) {
  CUDA_TRY(cudaDeviceSynchronize());
  return EM_OK;
}

extern "C" int em_cuda_alloc(void **out, size_t bytes) {
  *out = NULL;
  cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    *out = NULL;
    return em__fail(EM_ECUDA, "cudaMalloc(%zu bytes): %s", bytes, cudaGetErrorString(e));
  }
  return EM_OK;
}

extern "C" int em_cuda_free(void *dev) {
  if (dev) CUDA_TRY(cudaFree(dev));
  return EM_OK;
}

extern "C" int em_cuda_copy_to_device(void *dev, const void *host, size_t bytes) {
  CUDA_TRY(cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice));
  return EM_OK;
}

extern "C" int em_cuda_copy_to_host(void *host, const void *dev, size_t bytes) {
  CUDA_TRY(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
  return EM_OK;
}

// 256 threads, grid-stride: fills are not timed, simple and always correct is enough.
static const int kFillThreads = 256;
static int fill_blocks(int64_t n) {
  int64_t b = (n + kFillThreads - 1) / kFillThreads;
  return (int)(b < 65535 ? (b > 0 ? b : 1) : 65535);
}

__global__ void fill_u32_kernel(uint32_t *p, int64_t n, uint32_t pattern) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    p[i] = pattern;
}

extern "C" int em_cuda_fill_u32(void *dev, int64_t n, uint32_t pattern) {
  if (n <= 0) return EM_OK;
  fill_u32_kernel<<<fill_blocks(n), kFillThreads>>>((uint32_t *)dev, n, pattern);
  return em_cuda_check_launch("fill_u32_kernel");
}

// One thread per Philox block of four words, exactly as em_rng_fill_* on the host.
template <typename T, typename Convert>
__global__ void rng_fill_kernel(T *x, int64_t n, em_rng_key key, Convert convert) {
  for (int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; b < (n + 3) / 4; b += (int64_t)gridDim.x * blockDim.x) {
    uint32_t w[4];
    em_rng_block(key, (uint64_t)b, w);
    for (int k = 0; k < 4 && 4 * b + k < n; ++k) x[4 * b + k] = convert(w[k]);
  }
}

struct as_word {
  __device__ uint32_t operator()(uint32_t w) const { return w; }
};
struct as_uniform {
  float lo, hi;
  __device__ float operator()(uint32_t w) const { return em_rng_uniform_f32(w, lo, hi); }
};

extern "C" int em_cuda_rng_fill_u32(uint32_t *dev_x, int64_t n, em_rng_key key) {
  if (n <= 0) return EM_OK;
  rng_fill_kernel<<<fill_blocks((n + 3) / 4), kFillThreads>>>(dev_x, n, key, as_word{});
  return em_cuda_check_launch("rng_fill_kernel");
}

extern "C" int em_cuda_rng_fill_uniform_f32(float *dev_x, int64_t n, em_rng_key key, float lo, float hi) {
  if (n <= 0) return EM_OK;
  rng_fill_kernel<<<fill_blocks((n + 3) / 4), kFillThreads>>>(dev_x, n, key, as_uniform{lo, hi});
  return em_cuda_check_launch("rng_fill_kernel");
}

// ---- timing one run ------------------------------------------------------------------------

static void *flush_buf = NULL;
static size_t flush_bytes = 0, l2_bytes = 0;
static unsigned *flush_sink = NULL;
static int flush_blocks = 0;
static cudaEvent_t ev_start, ev_stop;
static int events_ready = 0;

// A device synchronisation after the stop event has completed should find nothing left to do and
// return in a few microseconds. Longer than this, and work ran past the stop event.
static const double kOutlivedMarginS = 50e-6;

extern "C" void em_cuda_release_scratch(void) {
  if (flush_buf) cudaFree(flush_buf);
  if (flush_sink) cudaFree(flush_sink);
  flush_buf = NULL;
  flush_sink = NULL;
  flush_bytes = l2_bytes = 0;
  if (events_ready) {
    cudaEventDestroy(ev_start);
    cudaEventDestroy(ev_stop);
    events_ready = 0;
  }
}

static int ensure_scratch(void) {
  if (!events_ready) {
    CUDA_TRY(cudaEventCreate(&ev_start));
    CUDA_TRY(cudaEventCreate(&ev_stop));
    events_ready = 1;
  }
  if (!flush_buf) {
    int l2 = 0, sms = 0;
    CUDA_TRY(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
    CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    // Twice the L2: after going through it, none of the previous run's lines can still be resident.
    l2_bytes = (size_t)(l2 > 0 ? l2 : (8 << 20));
    flush_bytes = 2 * l2_bytes;
    flush_blocks = 8 * (sms > 0 ? sms : 1);
    CUDA_TRY(cudaMalloc(&flush_buf, flush_bytes));
    CUDA_TRY(cudaMalloc(&flush_sink, sizeof *flush_sink));
    CUDA_TRY(cudaMemset(flush_buf, 0, flush_bytes));  // the read pass reads initialised memory
    CUDA_TRY(cudaMemset(flush_sink, 0, sizeof *flush_sink));
  }
  return EM_OK;
}

// Evicts the previous run's lines and leaves the L2 as the run itself will leave it for the next:
// a read over twice the L2 (the L2 is then clean), then min(written, L2) bytes dirtied, the last
// ones read, still resident. A write over the whole buffer (cudaMemset, as Triton's do_bench) would
// leave an L2 full of dirty lines that a run which only reads must write back as it goes: 50 MB of
// someone else's traffic, a third of lab 8's decode case (bench/l2_flush.cu: a read of 67 MB at 67%
// of copy after it, 89% after this flush on an H100). A read alone would let a run that writes leave
// up to an L2 of its own writes unpaid at its end; dirtying as many lines as it writes makes each
// run pay for about as many write-backs as it causes, the steady state of a kernel called again
// and again (the same H100: writes and copies timed alike after this flush and after cudaMemset).
static int flush_l2_for(size_t written_bytes) {
  em__flush::read_sum_kernel<<<flush_blocks, 256>>>((const uint4 *)flush_buf, flush_bytes / sizeof(uint4), flush_sink);
  CUDA_TRY(cudaGetLastError());
  size_t dirty = written_bytes < l2_bytes ? written_bytes : l2_bytes;
  if (dirty) CUDA_TRY(cudaMemsetAsync((char *)flush_buf + flush_bytes - dirty, 0, dirty, 0));
  return EM_OK;
}

extern "C" int em_cuda_time_run(em_cuda_work_fn fn, void *arg, int flush_l2, size_t written_bytes, double *seconds,
                                int *outlived) {
  int err = ensure_scratch();
  if (err != EM_OK) return err;
  if (outlived) *outlived = 0;
  // Everything before this run is finished; the flush is then queued ahead of the start event and
  // the host queues the launch while the GPU flushes, so the events time the GPU's work, not the
  // host's launch latency (as Triton's do_bench does).
  CUDA_TRY(cudaDeviceSynchronize());
  if (flush_l2 && (err = flush_l2_for(written_bytes)) != EM_OK) return err;
  double wall0 = em_now_s();
  CUDA_TRY(cudaEventRecord(ev_start, 0));
  err = fn(arg);
  if (err != EM_OK) return err;
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return em__fail(EM_ECUDA, "launch: %s", cudaGetErrorString(e));
  CUDA_TRY(cudaEventRecord(ev_stop, 0));
  CUDA_TRY(cudaEventSynchronize(ev_stop));
  double sync0 = em_now_s();
  e = cudaDeviceSynchronize();
  double wall1 = em_now_s();
  if (e != cudaSuccess) return em__fail(EM_ECUDA, "while running: %s", cudaGetErrorString(e));
  float ms = 0.0f;
  CUDA_TRY(cudaEventElapsedTime(&ms, ev_start, ev_stop));
  double t = ms * 1e-3;
  if (wall1 - sync0 > kOutlivedMarginS) {
    // Some of the work was not ordered before the stop event: the events would under-count it.
    // The host clock (which also counts the launch and part of the flush) is the honest bound.
    if (outlived) *outlived = 1;
    t = wall1 - wall0;
  }
  *seconds = t;
  return EM_OK;
}

// ---- the checker's untimed helpers ---------------------------------------------------------------

extern "C" int em_cuda_copy_device(void *dst, const void *src, size_t bytes) {
  if (bytes) CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
  return EM_OK;
}

// Bytes, grid-stride: a swapped row may be any length of int8 as well as of floats.
__global__ void swap_kernel(unsigned char *a, unsigned char *b, size_t bytes) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < bytes; i += (size_t)gridDim.x * blockDim.x) {
    unsigned char t = a[i];
    a[i] = b[i];
    b[i] = t;
  }
}

extern "C" int em_cuda_swap(void *a, void *b, size_t bytes) {
  if (!bytes) return EM_OK;
  swap_kernel<<<fill_blocks((int64_t)bytes), kFillThreads>>>((unsigned char *)a, (unsigned char *)b, bytes);
  return em_cuda_check_launch("swap_kernel");
}

// counts[0]: mismatches; counts[1]: the first mismatching index (starts at the largest value).
__global__ void mismatch_kernel(const void *got_v, const void *want_v, int64_t n, int cmp, float rtol, float atol,
                                unsigned long long *counts) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    uint32_t g, w;
    if (cmp == EM_CMP_BF16) {  // a bfloat16 is the top half of a float32: widened exactly
      g = (uint32_t)((const uint16_t *)got_v)[i] << 16;
      w = (uint32_t)((const uint16_t *)want_v)[i] << 16;
    } else {
      g = ((const uint32_t *)got_v)[i];
      w = ((const uint32_t *)want_v)[i];
    }
    bool same = g == w;
    if (!same && cmp != EM_CMP_BITS) {
      float gf = __uint_as_float(g), wf = __uint_as_float(w);
      same = fabsf(gf - wf) <= atol + rtol * fabsf(wf);  // false for a NaN on either side
    }
    if (!same) {
      atomicAdd(&counts[0], 1ull);
      atomicMin(&counts[1], (unsigned long long)i);
    }
  }
}

// One splitmix64 output per 64 elements: element i flips when bit i % 64 of hash(seed, i / 64) is set.
__device__ __host__ inline uint64_t em__mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__global__ void flip_kernel(unsigned char *p, int64_t n, int elem_bytes, uint64_t seed) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    if (!((em__mix64(seed ^ (uint64_t)(i >> 6)) >> (i & 63)) & 1)) continue;
    // The lowest byte of a little-endian element holds its lowest bit. An int8 of −127 stays: its
    // flip would be −128, which no quantised operand holds.
    if (elem_bytes == 1 && p[i] == 0x81u) continue;
    p[i * elem_bytes] ^= 1u;
  }
}

extern "C" int em_cuda_flip_low_bits(void *p, int64_t n, int elem_bytes, uint64_t seed) {
  if (n <= 0) return EM_OK;
  if (elem_bytes != 1 && elem_bytes != 2 && elem_bytes != 4)
    return em__fail(EM_EINVAL, "em_cuda_flip_low_bits: elements of %d bytes", elem_bytes);
  flip_kernel<<<fill_blocks(n), kFillThreads>>>((unsigned char *)p, n, elem_bytes, seed);
  return em_cuda_check_launch("flip_kernel");
}

extern "C" int em_cuda_count_mismatches(const void *got, const void *want, int64_t n, int cmp, double rtol,
                                        double atol, int64_t *count, int64_t *first) {
  *count = 0;
  *first = -1;
  if (n <= 0) return EM_OK;
  unsigned long long *d = NULL, h[2] = {0ull, ~0ull};
  CUDA_TRY(cudaMalloc((void **)&d, sizeof h));
  int err = EM_OK;
  cudaError_t e = cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) {
    mismatch_kernel<<<fill_blocks(n), kFillThreads>>>(got, want, n, cmp, (float)rtol, (float)atol, d);
    err = em_cuda_check_launch("mismatch_kernel");
    if (err == EM_OK) e = cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
  }
  cudaFree(d);
  if (err != EM_OK) return err;
  if (e != cudaSuccess) return em__fail(EM_ECUDA, "em_cuda_count_mismatches: %s", cudaGetErrorString(e));
  *count = (int64_t)h[0];
  *first = h[0] ? (int64_t)h[1] : -1;
  return EM_OK;
}
