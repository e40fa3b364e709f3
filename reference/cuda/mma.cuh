// The tensor-core building blocks that more than one lab's kernels use (lab 7's attention, lab 8's
// quantised linear layer), each one PTX instruction wrapped once: the asynchronous 16-byte copy, the
// bf16 conversion and mma.sync, and Hopper's warpgroup MMA (wgmma) bookkeeping. Static inline: each
// program that includes it gets its own copy, as with the labs' *_kernels.cuh.
#ifndef EM_REFERENCE_CUDA_MMA_CUH
#define EM_REFERENCE_CUDA_MMA_CUH

#include <cuda.h>  // CUtensorMap and its enums (types only: the driver is reached through the runtime)
#include <cuda_runtime.h>
#include <cudaTypedefs.h>
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

// ---- barriers in shared memory and the bulk copies they count (sm_90) ---------------------------
// An mbarrier (8 bytes of shared memory, at a shared-space address) completes a phase when its
// count of arrivals has come and every byte announced by arrive.expect_tx has landed; waiting on
// a phase's parity is how a consumer learns that a producer's copies are in shared memory, and a
// producer that the consumers are done with a buffer. A fresh barrier counts the phase before its
// phase 0 as complete: a wait for parity 1 passes at once.
static __device__ __forceinline__ void em__mbar_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// After one thread's em__mbar_init calls: the barriers as initialised, seen by the async proxy (the
// copies that will complete them) as well as by the threads; a block barrier then publishes them.
static __device__ __forceinline__ void em__mbar_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
static __device__ __forceinline__ void em__mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
static __device__ __forceinline__ void em__mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Returns once the phase of the given parity has completed (acquire: the copies' bytes, or the
// consumers' reads, are then ordered before what follows).
static __device__ __forceinline__ void em__mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
// Named barrier id (1-15; 0 is __syncthreads') of n threads: sync waits for the other n - 1 arrivals,
// arrive adds this thread's and goes on. Two groups of threads take turns with a pair of them.
static __device__ __forceinline__ void em__bar_sync(int id, int n) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}
static __device__ __forceinline__ void em__bar_arrive(int id, int n) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}
// One box of a 3-D tensor (the tensor map's box at coordinates c0, c1, c2, innermost first) into
// shared memory at dst by the TMA, its bytes counted on bar; the map is a __grid_constant__ kernel
// parameter (its generic address), boxes past the tensor's edge land as zeros.
static __device__ __forceinline__ void em__tma_load_3d(uint32_t dst, const void *map, int c0, int c1, int c2,
                                                       uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], "
      "[%5];\n" ::"r"(dst),
      "l"((uint64_t)map), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}

// The driver's tensor-map encoder, asked of the runtime once (cudaGetDriverEntryPointByVersion), so
// that nothing links libcuda; null where the driver has none. A function-local static: the first
// call from any host thread initialises it, the others wait for it (C++11).
static inline PFN_cuTensorMapEncodeTiled_v12000 em__tmap_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void *fn = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      (void)cudaGetLastError();  // not left behind for the caller's next check
      fn = nullptr;
    }
    return (PFN_cuTensorMapEncodeTiled_v12000)fn;
  }();
  return encode;
}

// The tensor map em__tma_load_3d reads: a contiguous bf16 tensor of mats × rows × cols (cols
// innermost), boxes of box_rows × box_cols (box_cols · 2 ≤ 128 bytes) written with the 128-byte
// swizzle, wgmma's layout (em__wg_desc). base 16-byte aligned, cols·2 a multiple of 16 (the
// encoder's rules); cudaErrorNotSupported where the driver has no encoder, cudaErrorInvalidValue
// where it refuses the shape.
static inline cudaError_t em__tmap_bf16_3d(CUtensorMap *map, const void *base, uint64_t cols, uint64_t rows,
                                           uint64_t mats, uint32_t box_cols, uint32_t box_rows) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = em__tmap_encoder();
  if (!encode) return cudaErrorNotSupported;
  const cuuint64_t dims[3] = {cols, rows, mats};
  const cuuint64_t strides[2] = {cols * 2, rows * cols * 2};  // bytes, of dims 1 and 2
  const cuuint32_t box[3] = {box_cols, box_rows, 1}, step[3] = {1, 1, 1};
  const CUresult r =
      encode(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, const_cast<void *>(base), dims, strides, box, step,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
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
