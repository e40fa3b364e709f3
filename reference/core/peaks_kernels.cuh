// The kernels that measure a GPU's peaks: the copy bandwidth, the FP32 FMA rate and the tensor
// cores' rates on bfloat16 and int8 (mma.sync). The library's em_peaks_measure_cuda
// (reference/core/peaks_cuda.cu) runs them for the checker's roofs, and the stand-alone bench
// programs (bench/common.cuh) run the same ones, so that a bench's "% of copy" and "% of FMA" divide
// by what `make check` and `make bench` divide by.
// The benches once measured with a loop of their own (unrolled as the compiler chose, where this one
// is unrolled by 16 so that counting takes about 2% of the issue slots): 56.2-56.6 TFLOP/s on an
// H100 and an H200 whose checker measured 63.8-64.5, which put lab 7's FMA kernel at 72% of "the
// FMA rate" in the bench and at 62% in `make bench`. (reference/core/flush_kernels.cuh: the same
// for the L2 flush.)
#ifndef EM_REFERENCE_CORE_PEAKS_KERNELS_CUH
#define EM_REFERENCE_CORE_PEAKS_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

namespace em__peaks {

// 8 blocks of 256 threads is 2048 threads per SM, the most an SM of sm_80/sm_90 holds, so the
// grid fills every SM at full occupancy in one wave.
constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;
// The copy: two buffers of kCopyBytes each (halved while cudaMalloc refuses, down to
// kCopyMinBytes), twenty times the largest L2 (50 MiB on H100/H200), so that it streams from HBM;
// the better of cudaMemcpyAsync and this grid-stride kernel, the bytes counted twice (read and
// written). The bench on lab 8's decode once took cudaMemcpyAsync of 256 MiB alone: 2966-2973
// GB/s on H100s whose checker measured 2988-3009, which put the kernel 1% higher in "% of copy".
constexpr size_t kCopyBytes = size_t(1) << 30;
constexpr size_t kCopyMinBytes = size_t(64) << 20;

static __global__ void copy_kernel(const float4 *__restrict__ src, float4 *__restrict__ dst, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = src[i];
}

// Eight independent chains per thread hide the FMA latency (4 cycles) even when few warps are
// eligible; 8192 iterations make one launch last about half a millisecond on an H200, long enough
// that launch and tail effects do not count.
constexpr int kChains = 8;
constexpr int kFmaIters = 8192;

// x -> mul*x + add with mul < 1 converges (to add / (1 - mul)): no overflow, no denormals. The
// chains start from values that depend on the thread, and mul, add and iters are runtime values,
// so the compiler can neither merge the chains nor fold them; the sum goes to memory so the work
// counts as used.
static __global__ void fma_kernel(float *out, int iters, float mul, float add) {
  unsigned tid = blockIdx.x * blockDim.x + threadIdx.x;
  float a[kChains];
#pragma unroll
  for (int k = 0; k < kChains; ++k) a[k] = (float)tid * 1e-7f + 0.01f * (float)k;
#pragma unroll 16
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int k = 0; k < kChains; ++k) a[k] = fmaf(a[k], mul, add);
  }
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < kChains; ++k) s += a[k];
  out[tid] = s;
}

// The tensor cores on bfloat16: each warp keeps kMmaChains independent accumulator tiles, so that
// mma.sync's latency is hidden, and multiplies constant tiles into them (a = 1, b = 2^-10: the sums
// grow by 2^-6 per step, far from overflow). An m16n8k16 step is 2·16·8·16 = 4096 FLOPs per warp.
constexpr int kMmaChains = 4;
constexpr int kMmaIters = 4096;

static __global__ void mma_bf16_kernel(float *out, int iters) {
  float c[kMmaChains][4];
#pragma unroll
  for (int k = 0; k < kMmaChains; ++k) c[k][0] = c[k][1] = c[k][2] = c[k][3] = 0.0f;
  // bfloat16 pairs: 1.0 is 0x3F80, 2^-10 is 0x3A80; the thread index enters so nothing folds.
  const uint32_t one = 0x3F803F80u, tiny = 0x3A803A80u ^ (threadIdx.x & 1u);
#pragma unroll 4
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int k = 0; k < kMmaChains; ++k)
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
          "{%0,%1,%2,%3};\n"
          : "+f"(c[k][0]), "+f"(c[k][1]), "+f"(c[k][2]), "+f"(c[k][3])
          : "r"(one), "r"(one), "r"(one), "r"(one), "r"(tiny), "r"(tiny));
  }
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < kMmaChains; ++k) s += c[k][0] + c[k][1] + c[k][2] + c[k][3];
  out[(size_t)blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// The tensor cores on int8 (lab 8's product): as mma_bf16_kernel, with m16n8k32 steps of int8
// inputs into int32 sums, 2·16·8·32 = 8192 operations per warp. The sums wrap around on overflow
// (two's complement, as the instruction defines), which costs nothing and is never read but as a sink.
static __global__ void mma_int8_kernel(float *out, int iters) {
  int c[kMmaChains][4];
#pragma unroll
  for (int k = 0; k < kMmaChains; ++k) c[k][0] = c[k][1] = c[k][2] = c[k][3] = 0;
  const uint32_t one = 0x01010101u, two = 0x02020202u ^ (threadIdx.x & 1u);
#pragma unroll 4
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int k = 0; k < kMmaChains; ++k)
      asm volatile(
          "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
          "{%0,%1,%2,%3};\n"
          : "+r"(c[k][0]), "+r"(c[k][1]), "+r"(c[k][2]), "+r"(c[k][3])
          : "r"(one), "r"(one), "r"(one), "r"(one), "r"(two), "r"(two));
  }
  int s = 0;
#pragma unroll
  for (int k = 0; k < kMmaChains; ++k) s += c[k][0] + c[k][1] + c[k][2] + c[k][3];
  out[(size_t)blockIdx.x * blockDim.x + threadIdx.x] = (float)s;
}

// What one launch of each does, over a grid of `blocks` blocks of kThreads: FP32 FLOPs (an FMA is
// two), bfloat16 FLOPs and int8 operations.
inline double fma_flops(int blocks) { return 2.0 * kChains * (double)kFmaIters * (double)blocks * kThreads; }
inline double mma_bf16_flops(int blocks) { return 4096.0 * kMmaChains * (double)kMmaIters * blocks * (kThreads / 32); }
inline double mma_int8_ops(int blocks) { return 8192.0 * kMmaChains * (double)kMmaIters * blocks * (kThreads / 32); }

}  // namespace em__peaks

#endif  // EM_REFERENCE_CORE_PEAKS_KERNELS_CUH
