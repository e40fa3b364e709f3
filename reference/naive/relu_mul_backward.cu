// Lab 4 naive baseline, CUDA: each output computed on its own, in the most direct parallel form:
//   dy: one block per row; its threads stride along the row and meet in a shared-memory tree;
//   dx: one thread per column, walking down a slice of rows (one thread walking all m rows would
//       leave a tall dz with a handful of threads); a second kernel adds the slices.
// Correct (float64 sums, so it meets the checker's tolerance at every size) and a lesson: dz is
// read twice, once per output, with 4-byte loads, so it reaches well under half of what one fused
// pass does.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/relu_mul_backward.h"
#include "relu_mul_backward_kernels.cuh"

namespace {

constexpr int64_t kSliceRows = 1024;  // more for very tall dz: gridDim.y stops at 65535 slices

// The slices' buffer, grown on demand and kept (allocating on every call would time cudaMalloc).
double *g_slices;
size_t g_slices_len;

int launched(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

}  // namespace

extern "C" int em_relu_mul_backward_naive_cuda(const float *x, const float *y, const float *dz, float *dx,
                                               float *dy, int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return EM_OK;
  int64_t slice_rows = kSliceRows;
  while ((m + slice_rows - 1) / slice_rows > 65535) slice_rows *= 2;
  const int64_t nslices = (m + slice_rows - 1) / slice_rows;
  const size_t need = (size_t)nslices * (size_t)n;
  if (need > g_slices_len) {
    if (g_slices) cudaFree(g_slices);
    g_slices = nullptr;
    g_slices_len = 0;
    cudaError_t e = cudaMalloc(&g_slices, need * sizeof(double));
    if (e != cudaSuccess) {
      g_slices = nullptr;
      return em__fail(EM_ECUDA, "em_relu_mul_backward_naive_cuda: cudaMalloc: %s", cudaGetErrorString(e));
    }
    g_slices_len = need;
  }
  naive_dy<<<(unsigned)m, kNaiveThreads>>>(x, y, dz, n, dy);
  int err = launched("naive_dy");
  if (err != EM_OK) return err;
  const unsigned col_blocks = (unsigned)((n + kNaiveThreads - 1) / kNaiveThreads);
  naive_dx_slices<<<dim3(col_blocks, (unsigned)nslices), kNaiveThreads>>>(x, y, dz, m, n, slice_rows, g_slices);
  if ((err = launched("naive_dx_slices")) != EM_OK) return err;
  naive_dx_sum<<<col_blocks, kNaiveThreads>>>(g_slices, nslices, n, dx);
  return launched("naive_dx_sum");
}
