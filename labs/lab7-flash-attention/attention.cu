// Lab 7, CUDA track: flash attention. For each (batch, head), with s = 1/sqrt(d),
//
//     o[i] = sum_j p_ij * v[j] / sum_j p_ij,    p_ij = exp(s * q[i].k[j] - max_j' s * q[i].k[j'])
//
// q and o are n x d, k and v are m x d, row-major DEVICE pointers; d is 16, 32, 64 or 128. Launch
// your kernels on the default stream and return: the checker waits, checks for CUDA errors and
// times them with CUDA events.
// Read README.md in this folder first. Build and check:   make lab7 && make check TRACK=cuda
// One part at a time:   make check TRACK=cuda ARGS="--part a"      Stuck?   make hint LAB=7
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/attention.h"
#include "em/lab.h"

// Part (a): one head, float32, no mask.
// First step: a correct kernel with one thread per query row: the online softmax of the CPU
// track's first step (running maximum, sum and output row, rescaled when the maximum grows), the
// output row in registers or local memory. Then see README.md, "What fast looks like": a block of
// queries, k and v tiles through shared memory.
void lab7_attention_a_cuda(const float *q, const float *k, const float *v, float *o, int64_t n, int64_t m,
                           int64_t d) {
  (void)q, (void)k, (void)v, (void)o, (void)n, (void)m, (void)d;
  EM_TODO("lab7 (a) cuda: one head: a kernel with a thread per query row, online softmax");
}

// Part (b): b*h heads one after another (head g starts at q + g*n*d, at k, v + g*m*d); with causal,
// query i sees keys j <= i + m - n, and a query that sees none gets o = 0.
// First step: part (a)'s kernel with the head in blockIdx.y and the mask in the loop over keys.
void lab7_attention_b_cuda(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                           int64_t n, int64_t m, int64_t d, int causal) {
  (void)q, (void)k, (void)v, (void)o, (void)b, (void)h, (void)n, (void)m, (void)d, (void)causal;
  EM_TODO("lab7 (b) cuda: every head, and the causal mask (query i sees keys j <= i + m - n)");
}

// Part (c), the bonus: bfloat16 q, k, v and o (em_bf16 holds __nv_bfloat16's bits), float32 sums,
// on the tensor cores (mma.sync m16n8k16 bf16). First step: part (b)'s kernel reading bfloat16
// (__bfloat162float) and writing it (__float2bfloat16): correct, not yet fast.
void lab7_attention_c_cuda(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b, int64_t h,
                           int64_t n, int64_t m, int64_t d, int causal) {
  (void)q, (void)k, (void)v, (void)o, (void)b, (void)h, (void)n, (void)m, (void)d, (void)causal;
  EM_TODO("lab7 (c) cuda: bfloat16 in and out, float32 sums; then the tensor cores");
}
