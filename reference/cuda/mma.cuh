// The tensor-core building blocks that more than one lab's kernels use (lab 7's attention, lab 8's
// quantised linear layer), each one PTX instruction wrapped once: the asynchronous 16-byte copy, the
// bf16 conversion and mma.sync, and Hopper's warpgroup MMA (wgmma) bookkeeping. Static inline: each
// program that includes it gets its own copy, as with the labs' *_kernels.cuh.
#ifndef EM_REFERENCE_CUDA_MMA_CUH
#define EM_REFERENCE_CUDA_MMA_CUH

#include <cuda_runtime.h>
#include <stdint.h>

// 16 bytes global -> shared (a shared-space address) without a register round trip; with in ==
// false, 16 zero bytes and no read at all (src-size 0). .cg: through the L2 only.
static __device__ __forceinline__ void em__cp16(uint32_t dst, const void *src, bool in) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(in ? 16 : 0) : "memory");
}

// Two floats to a bf16x2 word, round to nearest even: lo in the low half (the lower column).
static __device__ __forceinline__ uint32_t em__bf16x2(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// mma.sync.m16n8k16, bf16 × bf16 → f32 (PTX ISA, "matrix fragments for mma.m16n8k16"). With
// lane = 4·g + t: A (16×16) a[0] = row g, k 2t, 2t + 1 (the lower k in the low half); a[1] = row
// g + 8; a[2] = row g, k 8 + 2t..; a[3] = row g + 8, k 8 + 2t... B (16×8) b0 = k 2t, 2t + 1 of column
// g; b1 = k 8 + 2t... C: c[0], c[1] = row g, columns 2t, 2t + 1; c[2], c[3] = row g + 8. ldmatrix.x4
// of a [row][k] tile gives A's four words directly; ldmatrix.trans of a [k][row] tile (lane i
// receives rows 2t, 2t + 1 of column g) gives them, or B's, from the other layout.
static __device__ __forceinline__ void em__mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ---- Hopper's warpgroup MMA (sm_90a) ------------------------------------------------------------
// A shared-memory matrix descriptor with the 128-byte swizzle (PTX ISA, "matrix descriptor"):
// address, LBO and SBO in units of 16 bytes at bits 0, 16 and 32; the swizzle mode 1 at bit 62.
// K-major operands in rows of 128 bytes take LBO 16 (unused) and SBO 1024 (8 rows).
static __device__ __forceinline__ uint64_t em__wg_desc(uint32_t addr, uint32_t lbo = 16, uint32_t sbo = 1024) {
  return (uint64_t)((addr & 0x3FFFFu) >> 4) | ((uint64_t)((lbo & 0x3FFFFu) >> 4) << 16) |
         ((uint64_t)((sbo & 0x3FFFFu) >> 4) << 32) | (1ull << 62);
}

// Before the MMAs of a stage: the registers they read (accumulators, A fragments) as last written.
static __device__ __forceinline__ void em__wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
// The MMAs issued since the last commit become one group ...
static __device__ __forceinline__ void em__wg_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// ... and this returns once at most N groups of this warpgroup are still running.
template <int N>
static __device__ __forceinline__ void em__wg_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// A thread's cp.async (or st.shared) writes before the tensor cores' reads of the same shared
// memory (the async proxy); a barrier after it publishes every thread's.
static __device__ __forceinline__ void em__fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// ---- Hopper's arch-specific kernels (wgmma) ------------------------------------------------------
// They exist only as sm_90a code: reference/cuda/<name>_sm90a.cu is compiled for that target alone
// (the Makefile's rule), so a launcher there either runs Hopper's kernel or fails with
// cudaErrorNoKernelImageForDevice, never a kernel compiled empty for another target. The caller
// asks em__device_is_sm90() first (sm_90a code runs on compute capability 9.0 and nothing else)
// and falls back to its portable kernel on that error.
static inline bool em__device_is_sm90() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev))
    return false;
  return major == 9 && minor == 0;
}

#endif  // EM_REFERENCE_CUDA_MMA_CUH
