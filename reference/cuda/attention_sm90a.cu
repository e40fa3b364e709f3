// Lab 7 reference, CUDA, Hopper only: the bf16 kernel on wgmma (version 5p of
// reference/cuda/attention_kernels.cuh: a producer warpgroup brings Q, K and V through the TMA into
// 128-byte-swizzled shared memory, two consumer warpgroups of 64 queries (three at d = 64) take
// turns at the tensor cores, each overlapping its softmax with its own P·V; one block per SM taking
// query tiles from a queue; keys by 128, the fastest on an H100: 1.56x version 4 at the bar's shape).
// This file is compiled for sm_90a alone (the Makefile), so its kernels exist only where they can
// run; em_attention_bf16_cuda (attention.cu) calls here on a compute capability 9.0 device and
// falls back to version 3 (mma.sync) when this build holds no sm_90a image, and for what version
// 5 does not take (d = 16, 32, tensors off 16 bytes, no keys: cudaErrorNotSupported).
#include <cuda_runtime.h>
#include <stdint.h>

#define EM_SM90A_TU 1  // version 4 alone: no portable kernels compiled again here
#include "attention_kernels.cuh"

cudaError_t em__attn_bf16_sm90a_launch(const AttnArgs &a, int d, int64_t blocks) {
  return attn_wg_best_launch(a, d, blocks);
}
