// Lab 8 reference, CUDA, Hopper only: the tiled int8 forward on wgmma (version 1b of
// reference/cuda/qlinear_kernels.cuh: m64n128k32 .s32.s8.s8, both operands K-major from
// 128-byte-swizzled shared memory, a cp.async ring of 4 stages, version 1's fused epilogue).
// Compiled for sm_90a alone (the Makefile), so the kernel exists only where it can run;
// em_qlinear_forward_cuda (qlinear.cu) calls here for M above the decode range on a compute
// capability 9.0 device and falls back to version 1 (mma.sync) when the build holds no sm_90a image
// or the operands are off 16 bytes (cudaErrorNotSupported).
#include <cuda_runtime.h>
#include <stdint.h>

#define EM_SM90A_TU 1  // version 1b alone: no portable kernels compiled again here
#include "qlinear_kernels.cuh"

cudaError_t em__qlin_fwd_sm90a_launch(const QlinFwdArgs &a) { return qlin_fwd_wg_launch<128, 4>(a); }
