// Lab 8 reference, CUDA, Hopper only: the tiled int8 forward on wgmma (version 1b of
// reference/cuda/qlinear_kernels.cuh: m64n128k32 or m64n256k32 .s32.s8.s8, both operands K-major
// from 128-byte-swizzled shared memory, a cp.async ring of 4 stages, version 1's fused epilogue).
// Compiled for sm_90a alone (the Makefile), so the kernel exists only where it can run;
// em_qlinear_forward_cuda (qlinear.cu) calls here for M above the decode range on a compute
// capability 9.0 device and falls back to version 1 (mma.sync) when the build holds no sm_90a image
// or the operands are off 16 bytes (cudaErrorNotSupported).
#include <cuda_runtime.h>
#include <stdint.h>

#define EM_SM90A_TU 1  // version 1b alone: no portable kernels compiled again here
#include "qlinear_kernels.cuh"

// The tile by the product's size. 128 x 256 tiles (197 KB of shared memory, one block per SM) ran
// 1.14-1.16x the 128 x 128 ones at M = N = K = 8192 on an H100 (1020-1025 against 885-903 TOP/s,
// two runs): half the reloads of x per byte of W. But they are half as many, and a product of few
// tiles leaves SMs idle in its last wave: so the wide tile only where there are at least
// kWideTiles of them, some eight waves of an H100's or H200's 132 SMs, where the last wave's idle
// share is small.
static const int64_t kWideTiles = 1024;

cudaError_t em__qlin_fwd_sm90a_launch(const QlinFwdArgs &a) {
  const int64_t wide = ((a.M + 127) / 128) * ((a.N + 255) / 256);
  return wide >= kWideTiles ? qlin_fwd_wg_launch<256, 4>(a) : qlin_fwd_wg_launch<128, 4>(a);
}
