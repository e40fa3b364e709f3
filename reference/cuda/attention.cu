// Lab 7 reference, CUDA: flash attention, o = softmax(q·kᵀ/√d)·v per (batch, head), the n×m
// score matrix never stored.
//
// Work: 4·n·m·d FLOPs per head against (2n + 2m)·d elements moved: at n = m = 4096, d = 128 about
// 1000 FLOPs per element, compute-bound on any GPU. So the kernels are about arithmetic:
//   em_attention_cuda         float32 FMAs, register-blocked like an SGEMM (the version the lab
//                             asks of students, at its best): bound by FP32 FMA throughput and by
//                             the shared-memory port that feeds it;
//   em_attention_tf32x3_cuda  float32 on the tensor cores: each operand split into two TF32
//                             halves, three MMAs per product: float32 accuracy, and room to beat
//                             the FMAs (an H200's dense TF32 is ~7× its FP32; mma.sync reaches
//                             only part of that, and the splits cost ALU instructions);
//   em_attention_bf16_cuda    bf16 operands on the tensor cores, float32 accumulation: the
//                             FlashAttention-2 structure with mma.sync, and on Hopper
//                             FlashAttention-3's (wgmma, the TMA fed by a producer warpgroup,
//                             consumer warpgroups taking turns: attention_sm90a.cu).
// All three (Hopper's bf16 kernel aside): a block of 4 warps per 64 queries of one head, k and v
// in tiles of 64 through shared memory by cp.async, the online softmax in registers, exp2 with
// log2(e)/√d folded into the scale, causal tiles skipped or masked. The kernels and why they look as they do:
// reference/cuda/attention_kernels.cuh (shared with bench/attention.cu, which times them and
// their variants).
//
// em_attention_cuda splits the keys of its grid's last, partly filled wave in thirds at d = 128
// without the mask (4.8% faster at the bar's shape on an H100; attn_fma_split_kernel says why), and
// a grid of less than one wave in as many pieces as the slots hold (halves for one head of 8192
// queries; attn_fma_best_launch); a small grid (decoding: a few queries, many keys) in up to 32
// pieces at every d and under the mask (attn_fma_pieces_run). The pieces' states meet in a device
// workspace that the library keeps between calls, grown when a call needs more (up to 32 MB on an
// H100 or H200), so calls that split must not run at once from several host threads, as with
// em_softmax_cuda's scratch.
//
// Each function checks its arguments, launches one kernel on the default stream and returns
// without synchronising; an error of the launch itself comes back as EM_ECUDA (EM_ENOMEM where the
// workspace cannot be allocated).
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/attention.h"
#include "em/error.h"

#include "attention_kernels.cuh"

namespace {

// The shape checks every entry point shares. EM_OK with *blocks = 0: nothing to compute.
int prepare(const char *fn, const void *q, const void *k, const void *v, void *o, int64_t b, int64_t h, int64_t n,
            int64_t m, int64_t d, int causal, AttnArgs *args, int64_t *blocks) {
  *blocks = 0;
  if (!em_attention_d_ok(d)) return em__fail(EM_EINVAL, "%s: d = %lld, must be 16, 32, 64 or 128", fn, (long long)d);
  if (b < 0 || h < 0 || n < 0 || m < 0)
    return em__fail(EM_EINVAL, "%s: negative size (b = %lld, h = %lld, n = %lld, m = %lld)", fn, (long long)b,
                    (long long)h, (long long)n, (long long)m);
  if (b == 0 || h == 0 || n == 0) return EM_OK;
  if (n > kAttnMaxLen || m > kAttnMaxLen)
    return em__fail(EM_EINVAL, "%s: n = %lld, m = %lld: at most 2^30 queries and keys per head", fn, (long long)n,
                    (long long)m);
  const int64_t qtiles = (n + kAttnBM - 1) / kAttnBM;
  if (b > INT32_MAX / h || b * h > INT32_MAX / qtiles)
    return em__fail(EM_EINVAL, "%s: b·h = %lld·%lld heads of %lld query tiles: more blocks than a grid holds", fn,
                    (long long)b, (long long)h, (long long)qtiles);
  *blocks = attn_args(args, q, k, v, o, b * h, n, m, d, causal);
  return EM_OK;
}

int result(const char *kernel, cudaError_t e) {
  if (e == cudaErrorMemoryAllocation)
    return em__fail(EM_ENOMEM, "%s: no device memory for the workspace of the keys' split (up to 32 MB): %s; "
                    "free some GPU memory and call again", kernel, cudaGetErrorString(e));
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", kernel, cudaGetErrorString(e));
}

// em_attention_cuda's workspace for the split tiles' partial states (attn_fma_best_launch).
AttnSplitSpace g_split;

}  // namespace

extern "C" int em_attention_cuda(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                                 int64_t n, int64_t m, int64_t d, int causal) {
  AttnArgs a;
  int64_t blocks;
  int err = prepare("em_attention_cuda", q, k, v, o, b, h, n, m, d, causal, &a, &blocks);
  if (err != EM_OK || blocks == 0) return err;
  return result("attn_fma_kernel / attn_fma_split_kernel", attn_fma_best_launch(a, (int)d, blocks, g_split));
}

extern "C" int em_attention_tf32x3_cuda(const float *q, const float *k, const float *v, float *o, int64_t b,
                                        int64_t h, int64_t n, int64_t m, int64_t d, int causal) {
  AttnArgs a;
  int64_t blocks;
  int err = prepare("em_attention_tf32x3_cuda", q, k, v, o, b, h, n, m, d, causal, &a, &blocks);
  if (err != EM_OK || blocks == 0) return err;
  return result("attn_tf32_kernel", attn_tf32_launch(a, (int)d, blocks));
}

extern "C" int em_attention_bf16_cuda(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b,
                                      int64_t h, int64_t n, int64_t m, int64_t d, int causal) {
  AttnArgs a;
  int64_t blocks;
  int err = prepare("em_attention_bf16_cuda", q, k, v, o, b, h, n, m, d, causal, &a, &blocks);
  if (err != EM_OK || blocks == 0) return err;
  if (em__device_is_sm90()) {
    const cudaError_t e = em__attn_bf16_sm90a_launch(a, (int)d, blocks);
    if (e != cudaErrorNoKernelImageForDevice && e != cudaErrorNotSupported) return result("attn_ws_kernel", e);
    (void)cudaGetLastError();  // no sm_90a image in this build, or a shape version 5 leaves: version 3
  }
  return result("attn_bf16_kernel", attn_bf16_launch(a, (int)d, blocks));
}
