// Lab 8 reference, CUDA: the int8 quantised linear layer, y = x·Wᵀ + b with x and W quantised per
// row (include/em/qlinear.h has the contract: exact quantisation, exact int32 sums, the fused
// epilogue, the straight-through backward, the layer object).
//
// What bounds each step, and so what the kernels (reference/cuda/qlinear_kernels.cuh) are built for:
//   quantise   4 bytes read and 1 written per element: memory-bound. A row per warp or per block,
//              read once into registers, max|a| by shuffles, then s and q from the registers;
//   forward    2·M·N·K integer operations on N·K + M·K bytes: at M = N = K = 8192 some 2700
//              operations per byte, compute-bound, so int8 tensor cores (mma.sync m16n8k32 with
//              int32 accumulators) fed from a multi-stage cp.async pipeline, the dequantisation
//              and bias applied to the accumulators in registers before the only store;
//              at M ≤ 16 (decoding a token or a few) 2·M operations per byte of W: the same mma
//              with x padded to 16 rows, W streamed from DRAM once with nothing else in the way;
//   backward   two float32 products of 2·M·N·K FLOPs each (TF32 stays off: the contract asks for
//              float32). The int8 operand is exact in bfloat16 and the scaled float32 one splits
//              exactly into three bfloat16 pieces, so three bf16 tensor-core products per term,
//              each exact, leave only the float32 sums to round: float32's accuracy at 2.8x the FFMA
//              kernel's speed (121 against 43.8 TFLOP/s at 8192^3 on an H100). That kernel takes
//              the shapes it suits (rows a multiple of 16 bytes, sums of 16 terms or more:
//              kQlinTcMinJ says why); the rest go to a register-blocked FFMA SGEMM, the int8 operand
//              dequantised into shared memory. db, the column sums of dy, is computed by the blocks
//              of dW that load dy anyway.
// Measurements: bench/qlinear.cu (self-check of every kernel, then timings at the bar's sizes).
//
// Each function checks its arguments, launches on the default stream and returns without
// synchronising; an error of a launch comes back as EM_ECUDA with the kernel's name.
//
// The layer object. include/em/qlinear.h declares one opaque type, em_qlinear, for the CPU layer
// (em_qlinear_create) and the CUDA one (em_qlinear_create_cuda). Their contents differ (host or
// device buffers), and the CPU library defines struct em_qlinear; this file keeps its own struct,
// em__qlinear_cuda, and hands it out as an em_qlinear pointer (a pointer to an incomplete type,
// converted back here and never dereferenced as anything else). So the two kinds of handle are
// not interchangeable: pass a handle only to the functions of the create that made it. The CUDA
// layer's first field is a tag that its functions check, so that a CPU handle passed here by
// mistake is refused (EM_EINVAL) rather than taken for device buffers.
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>

#include "em/error.h"
#include "em/qlinear.h"

#include "qlinear_kernels.cuh"

namespace {

int launched(const char *fn, const char *kernel, cudaError_t e) {
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s: %s", fn, kernel, cudaGetErrorString(e));
}

// The sizes every product entry point accepts. The kernels index rows with int, and their grids
// (one block per tile) must stay below 2^31 blocks.
int check_sizes(const char *fn, int64_t M, int64_t N, int64_t K) {
  if (M < 1 || N < 1 || K < 1 || K > EM_QLINEAR_MAX_K)
    return em__fail(EM_EINVAL, "%s: M = %lld, N = %lld, K = %lld: each must be at least 1 and K at most 2^17", fn,
                    (long long)M, (long long)N, (long long)K);
  if (M > INT32_MAX || N > INT32_MAX)
    return em__fail(EM_EINVAL, "%s: M = %lld, N = %lld: at most 2^31 - 1 rows", fn, (long long)M, (long long)N);
  const int64_t tm = (M + kQlinBM - 1) / kQlinBM, tn = (N + 255) / 256;  // the forward's tiles
  const int64_t gm = (M + kQlinGemmBM - 1) / kQlinGemmBM, gn = (N + kQlinGemmBM - 1) / kQlinGemmBM,
                gk = (K + kQlinGemmBN - 1) / kQlinGemmBN;  // the backward's
  if (tm * tn > INT32_MAX || gm * gk > INT32_MAX || gn * gk > INT32_MAX)
    return em__fail(EM_EINVAL, "%s: M = %lld, N = %lld, K = %lld: more tiles than a grid holds", fn, (long long)M,
                    (long long)N, (long long)K);
  return EM_OK;
}

}  // namespace

// cols is the K of the matrix being quantised (x or W), so it has K's bounds.
extern "C" int em_qlinear_quantize_cuda(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  if (rows < 1 || cols < 1 || cols > EM_QLINEAR_MAX_K)
    return em__fail(EM_EINVAL, "em_qlinear_quantize_cuda: rows = %lld, cols = %lld: each at least 1, cols at most 2^17",
                    (long long)rows, (long long)cols);
  return launched("em_qlinear_quantize_cuda", "qlin_quantize_kernel", qlin_quantize_launch(a, rows, cols, aq, scale));
}

extern "C" int em_qlinear_forward_cuda(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                                       const float *b, int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
  int err = check_sizes("em_qlinear_forward_cuda", M, N, K);
  if (err != EM_OK) return err;
  const QlinFwdArgs a = qlin_fwd_args(xq, sx, wq, sw, b, acc, y, M, N, K);
  if (M > kQlinDecodeMaxM && em__device_is_sm90()) {
    const cudaError_t e = em__qlin_fwd_sm90a_launch(a);
    if (e != cudaErrorNoKernelImageForDevice && e != cudaErrorNotSupported)
      return launched("em_qlinear_forward_cuda", "qlin_fwd_wg_kernel", e);
    (void)cudaGetLastError();  // no sm_90a image in this build, or operands off 16 bytes: version 1
  }
  return launched("em_qlinear_forward_cuda",
                  M <= kQlinDecodeMaxM ? "qlin_fwd_decode_kernel" : "qlin_fwd_mma_kernel", qlin_fwd_launch(a));
}

extern "C" int em_qlinear_backward_cuda(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq,
                                        const float *sw, float *dx, float *dw, float *db, int64_t M, int64_t N,
                                        int64_t K) {
  int err = check_sizes("em_qlinear_backward_cuda", M, N, K);
  if (err != EM_OK) return err;
  return launched("em_qlinear_backward_cuda",
                  qlin_bwd_tc_fits(dy, xq, wq, M, N, K) ? "qlin_bwd_tc_kernel" : "qlin_sgemm_kernel",
                  qlin_bwd_tc_launch(dy, xq, sx, wq, sw, dx, dw, db, M, N, K));
}

// ---- the layer object on the device ---------------------------------------------------------------

namespace {

const uint64_t kLayerTag = 0x656d716c696e4355ull;  // "emqlinCU": made by em_qlinear_create_cuda

struct em__qlinear_cuda {
  uint64_t tag;
  int64_t N, K;
  int8_t *wq;      // N × K, quantised once by create
  float *sw, *b;   // N each
  int8_t *xq;      // the last forward's x, quantised: M × K, kept for backward
  float *sx;       // its M scales
  int64_t cap;     // rows xq and sx have room for; they grow, never shrink
  int64_t M;       // rows of the last forward; 0: none yet (or it failed), backward refuses
};

em__qlinear_cuda *layer_of(em_qlinear *h, const char *fn, int *err) {
  em__qlinear_cuda *l = reinterpret_cast<em__qlinear_cuda *>(h);
  if (!l || l->tag != kLayerTag) {
    *err = em__fail(EM_EINVAL, "%s: %s", fn,
                    l ? "this handle was not made by em_qlinear_create_cuda (a CPU layer's handle?)"
                      : "layer is NULL");
    return nullptr;
  }
  *err = EM_OK;
  return l;
}

int device_alloc(const char *fn, void **p, size_t bytes) {
  cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
  if (e == cudaSuccess) return EM_OK;
  *p = nullptr;
  cudaGetLastError();  // an allocation failure is not sticky: leave no error for the next call to find
  return em__fail(e == cudaErrorMemoryAllocation ? EM_ENOMEM : EM_ECUDA, "%s: cudaMalloc(%zu bytes): %s", fn, bytes,
                  cudaGetErrorString(e));
}

// cudaFree waits for the device, so no kernel still reads a buffer freed here.
void release(em__qlinear_cuda *l) {
  cudaFree(l->wq);
  cudaFree(l->sw);
  cudaFree(l->b);
  cudaFree(l->xq);
  cudaFree(l->sx);
  l->tag = 0;
  free(l);
}

}  // namespace

// b may be NULL: a layer without bias (PyTorch's bias=False), its b kept as zeros.
extern "C" int em_qlinear_create_cuda(em_qlinear **layer, const float *w, const float *b, int64_t N, int64_t K) {
  const char *fn = "em_qlinear_create_cuda";
  if (!layer || !w) return em__fail(EM_EINVAL, "%s: %s is NULL", fn, layer ? "w" : "layer");
  *layer = nullptr;
  int err = check_sizes(fn, 1, N, K);
  if (err != EM_OK) return err;
  em__qlinear_cuda *l = (em__qlinear_cuda *)calloc(1, sizeof *l);
  if (!l) return em__fail(EM_ENOMEM, "%s: no memory for the layer", fn);
  l->tag = kLayerTag, l->N = N, l->K = K;
  if ((err = device_alloc(fn, (void **)&l->wq, (size_t)(N * K))) != EM_OK ||
      (err = device_alloc(fn, (void **)&l->sw, (size_t)N * sizeof(float))) != EM_OK ||
      (err = device_alloc(fn, (void **)&l->b, (size_t)N * sizeof(float))) != EM_OK) {
    release(l);
    return err;
  }
  cudaError_t e = b ? cudaMemcpyAsync(l->b, b, (size_t)N * sizeof(float), cudaMemcpyDeviceToDevice, 0)
                    : cudaMemsetAsync(l->b, 0, (size_t)N * sizeof(float), 0);
  err = e == cudaSuccess ? em_qlinear_quantize_cuda(w, N, K, l->wq, l->sw)
                         : em__fail(EM_ECUDA, "%s: copying b: %s", fn, cudaGetErrorString(e));
  if (err != EM_OK) {
    release(l);
    return err;
  }
  *layer = reinterpret_cast<em_qlinear *>(l);
  return EM_OK;
}

extern "C" int em_qlinear_forward_cuda_layer(em_qlinear *layer, const float *x, float *y, int64_t M) {
  const char *fn = "em_qlinear_forward_cuda_layer";
  int err;
  em__qlinear_cuda *l = layer_of(layer, fn, &err);
  if (!l) return err;
  if ((err = check_sizes(fn, M, l->N, l->K)) != EM_OK) return err;
  l->M = 0;  // until this forward has been queued whole, backward has nothing to use
  if (M > l->cap) {
    cudaFree(l->xq);
    cudaFree(l->sx);
    l->xq = nullptr, l->sx = nullptr, l->cap = 0;
    if ((err = device_alloc(fn, (void **)&l->xq, (size_t)(M * l->K))) != EM_OK ||
        (err = device_alloc(fn, (void **)&l->sx, (size_t)M * sizeof(float))) != EM_OK)
      return err;
    l->cap = M;
  }
  if ((err = em_qlinear_quantize_cuda(x, M, l->K, l->xq, l->sx)) != EM_OK) return err;
  if ((err = em_qlinear_forward_cuda(l->xq, l->sx, l->wq, l->sw, l->b, nullptr, y, M, l->N, l->K)) != EM_OK)
    return err;
  l->M = M;
  return EM_OK;
}

extern "C" int em_qlinear_backward_cuda_layer(em_qlinear *layer, const float *dy, float *dx, float *dw, float *db) {
  const char *fn = "em_qlinear_backward_cuda_layer";
  int err;
  em__qlinear_cuda *l = layer_of(layer, fn, &err);
  if (!l) return err;
  if (l->M == 0)
    return em__fail(EM_EINVAL, "%s: no forward to differentiate: call em_qlinear_forward_cuda_layer first", fn);
  return em_qlinear_backward_cuda(dy, l->xq, l->sx, l->wq, l->sw, dx, dw, db, l->M, l->N, l->K);
}

extern "C" void em_qlinear_destroy_cuda(em_qlinear *layer) {
  int err;
  em__qlinear_cuda *l = layer ? layer_of(layer, "em_qlinear_destroy_cuda", &err) : nullptr;
  if (l) release(l);
}
