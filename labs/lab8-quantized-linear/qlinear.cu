// Lab 8, CUDA track: an int8 quantized linear layer, y = x·Wᵀ + b as PyTorch's Linear lays it out:
// x is M×K, W is N×K, b has N, y is M×N; row-major DEVICE pointers. Launch on the default stream
// and return: the checker waits, checks for CUDA errors and times with CUDA events.
// Read README.md in this folder first (the exact rules are in include/em/qlinear.h).
// Build and check:   make lab8 && make check TRACK=cuda        one part:   ARGS="--part a"
// Stuck?   make hint LAB=8 TRACK=cuda PART=a
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/lab.h"
#include "em/qlinear.h"

// Part (a): scale[r] = max_k |a[r][k]| / 127 (__fdiv_rn: the checker compares every bit), aq =
// clamp(rintf(__fdiv_rn(a, scale)), -127, 127); a zero row gets 0 and 0.
// First step: a block per row: a max reduction, then the row's values.
void lab8_quantize_cuda(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  (void)a, (void)rows, (void)cols, (void)aq, (void)scale;
  EM_TODO("lab8 (a) cuda: a block per row: max |a|, scale, then aq");
}

// Part (b): acc = xq·wqᵀ in int32, y = (sx[r]*sw[o])*acc + b[o] in the same kernel; acc written
// only when not NULL. First step: a thread per output element, __dp4a on four int8 at a time.
void lab8_forward_cuda(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                       int32_t *acc, float *y, int64_t M, int64_t N, int64_t K) {
  (void)xq, (void)sx, (void)wq, (void)sw, (void)b, (void)acc, (void)y, (void)M, (void)N, (void)K;
  EM_TODO("lab8 (b) cuda: a thread per output, int32 sums, the epilogue in the same kernel");
}

// Part (c): dx = dy·(sw*wq), dW = dyᵀ·(sx*xq), db = column sums of dy, in float32.
// First step: a thread per output element of each.
void lab8_backward_cuda(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                        float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K) {
  (void)dy, (void)xq, (void)sx, (void)wq, (void)sw, (void)dx, (void)dw, (void)db, (void)M, (void)N, (void)K;
  EM_TODO("lab8 (c) cuda: dx, dW and db, a thread per output element");
}

// Part (d): one training step of the layer: quantise W and x (part a) into device buffers you
// allocate (cudaMalloc, freed at the end), forward (part b, acc NULL), backward (part c).
void lab8_step_cuda(const float *w, const float *b, const float *x, const float *dy, float *y, float *dx, float *dw,
                    float *db, int64_t M, int64_t N, int64_t K) {
  (void)w, (void)b, (void)x, (void)dy, (void)y, (void)dx, (void)dw, (void)db, (void)M, (void)N, (void)K;
  EM_TODO("lab8 (d) cuda: quantise W and x, forward, backward, with buffers of your own");
}
