// Lab 8 naive baselines, CUDA: the quantised linear layer as a first correct attempt writes it,
// one thread per result:
//   quantise   a thread per row: one loop for max|a|, one for q (a warp reads 32 rows at once,
//              each lane its own, 4·cols bytes apart: no two lanes share a memory transaction);
//   forward    a thread per output y[r][o]: the dot product of x's row r and W's row o with dp4a
//              (four int8 products added into an int32 in one instruction), then the epilogue;
//              every thread reads a whole row of W (neighbours different rows) and nothing is
//              shared through shared memory or registers, so W is read M times;
//   backward   a thread per element of dx, dW and db: each a loop over the sum's index, W and x
//              dequantised element by element as they are read.
// Correct (exact int32 sums, the contract's quantisation and epilogue to the bit), and the
// distance to the reference is the lesson: tiles, tensor cores, register blocking.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/qlinear.h"

namespace {

const int kThreads = 256;
const int64_t kMaxBlocks = 1 << 20;  // grid-stride loops beyond this

unsigned grid_for(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return (unsigned)(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

int launched(const char *fn, const char *kernel) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s: %s", fn, kernel, cudaGetErrorString(e));
}

int check_sizes(const char *fn, int64_t M, int64_t N, int64_t K) {
  if (M < 1 || N < 1 || K < 1 || K > EM_QLINEAR_MAX_K)
    return em__fail(EM_EINVAL, "%s: M = %lld, N = %lld, K = %lld: each must be at least 1 and K at most 2^17", fn,
                    (long long)M, (long long)N, (long long)K);
  return EM_OK;
}

__global__ void quantize_rows(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < rows; r += (int64_t)gridDim.x * blockDim.x) {
    const float *ar = a + r * cols;
    float m = 0.0f;
    for (int64_t k = 0; k < cols; ++k) m = fmaxf(m, fabsf(ar[k]));
    const float s = __fdiv_rn(m, 127.0f);  // the contract's correctly rounded division
    scale[r] = s;
    for (int64_t k = 0; k < cols; ++k) {
      // s == 0: a zero row (or one whose max/127 underflows): q = 0, never 0/0.
      const float q = s == 0.0f ? 0.0f : fminf(fmaxf(rintf(__fdiv_rn(ar[k], s)), -127.0f), 127.0f);
      aq[r * cols + k] = (int8_t)(int)q;
    }
  }
}

// Four int8 of p from byte k on as one word (lowest address lowest), zeros past K: a word load
// when rows and pointers allow it, bytes otherwise.
__device__ int word_at(const int8_t *p, int64_t k, int64_t K, bool aligned4) {
  if (aligned4) return *(const int *)(p + k);
  uint32_t w = 0;
  for (int e = 0; e < 4; ++e)
    if (k + e < K) w |= (uint32_t)(uint8_t)p[k + e] << (8 * e);
  return (int)w;
}

__global__ void forward_outputs(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                                int32_t *acc, float *y, int64_t M, int64_t N, int64_t K, bool aligned4) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < M * N; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / N, o = i % N;
    const int8_t *xr = xq + r * K, *wr = wq + o * K;
    int s = 0;
    for (int64_t k = 0; k < K; k += 4) s = __dp4a(word_at(xr, k, K, aligned4), word_at(wr, k, K, aligned4), s);
    // The contract's epilogue, in the reference's order: (s_x·s_w) rounded, then one FMA.
    y[i] = __fmaf_rn(__fmul_rn(sx[r], sw[o]), __int2float_rn(s), b[o]);
    if (acc) acc[i] = s;
  }
}

// dx[r][k] = Σ_o dy[r][o]·Ŵ[o][k], Ŵ = s_w·Wq.
__global__ void backward_dx(const float *dy, const int8_t *wq, const float *sw, float *dx, int64_t M, int64_t N,
                            int64_t K) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < M * K; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / K, k = i % K;
    float s = 0.0f;
    for (int64_t o = 0; o < N; ++o) s = fmaf(dy[r * N + o], sw[o] * (float)wq[o * K + k], s);
    dx[i] = s;
  }
}

// dW[o][k] = Σ_r dy[r][o]·x̂[r][k], x̂ = s_x·xq.
__global__ void backward_dw(const float *dy, const int8_t *xq, const float *sx, float *dw, int64_t M, int64_t N,
                            int64_t K) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N * K; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = i / K, k = i % K;
    float s = 0.0f;
    for (int64_t r = 0; r < M; ++r) s = fmaf(dy[r * N + o], sx[r] * (float)xq[r * K + k], s);
    dw[i] = s;
  }
}

__global__ void backward_db(const float *dy, float *db, int64_t M, int64_t N) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < N; o += (int64_t)gridDim.x * blockDim.x) {
    float s = 0.0f;
    for (int64_t r = 0; r < M; ++r) s += dy[r * N + o];
    db[o] = s;
  }
}

}  // namespace

extern "C" int em_qlinear_quantize_naive_cuda(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  if (rows < 1 || cols < 1 || cols > EM_QLINEAR_MAX_K)
    return em__fail(EM_EINVAL,
                    "em_qlinear_quantize_naive_cuda: rows = %lld, cols = %lld: each at least 1, cols at most 2^17",
                    (long long)rows, (long long)cols);
  quantize_rows<<<grid_for(rows), kThreads>>>(a, rows, cols, aq, scale);
  return launched("em_qlinear_quantize_naive_cuda", "quantize_rows");
}

extern "C" int em_qlinear_forward_naive_cuda(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                                             const float *b, int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
  int err = check_sizes("em_qlinear_forward_naive_cuda", M, N, K);
  if (err != EM_OK) return err;
  const bool aligned4 = ((uintptr_t)xq & 3) == 0 && ((uintptr_t)wq & 3) == 0 && K % 4 == 0;
  forward_outputs<<<grid_for(M * N), kThreads>>>(xq, sx, wq, sw, b, acc, y, M, N, K, aligned4);
  return launched("em_qlinear_forward_naive_cuda", "forward_outputs");
}

extern "C" int em_qlinear_backward_naive_cuda(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq,
                                              const float *sw, float *dx, float *dw, float *db, int64_t M, int64_t N,
                                              int64_t K) {
  const char *fn = "em_qlinear_backward_naive_cuda";
  int err = check_sizes(fn, M, N, K);
  if (err != EM_OK) return err;
  backward_dx<<<grid_for(M * K), kThreads>>>(dy, wq, sw, dx, M, N, K);
  if ((err = launched(fn, "backward_dx")) != EM_OK) return err;
  backward_dw<<<grid_for(N * K), kThreads>>>(dy, xq, sx, dw, M, N, K);
  if ((err = launched(fn, "backward_dw")) != EM_OK) return err;
  backward_db<<<grid_for(N), kThreads>>>(dy, db, M, N);
  return launched(fn, "backward_db");
}
