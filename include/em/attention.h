/* Lab 7, flash attention: for each of b·h (batch, head) pairs, with q (n×d), k and v (m×d),
 *
 *     o = softmax(q·kᵀ·s)·v,     s = 1/√d,     softmax along each row of the n×m score matrix,
 *
 * i.e. o[i] = Σ_j p_ij·v[j] / Σ_j p_ij with p_ij = exp(s·q[i]·k[j] − max_j' s·q[i]·k[j']).
 *
 * Layout: q and o are (b, h, n, d), k and v are (b, h, m, d), row-major and contiguous, so the pair
 * (batch β, head η) starts at q + ((β·h + η)·n)·d and at k, v + ((β·h + η)·m)·d. d is one of 16, 32,
 * 64, 128; n, m ≥ 1, any values (not multiples of any tile).
 *
 * Causal mask (causal ≠ 0): query i sees keys j ≤ i + m − n, the mask anchored at the bottom right
 * as in FlashAttention (the last query sees every key; when n = m, query i sees keys 0..i). With
 * n > m the first n − m queries see no key at all: their o is 0 (FlashAttention's convention; an
 * empty softmax has no other sensible value).
 *
 * The n×m score matrix is never stored: keys and values are visited in tiles, and each query keeps
 * a running maximum m_i, a running sum ℓ_i of exp(score − m_i) and a running output o_i. When a tile
 * raises the maximum to m', the old sum and output are rescaled by exp(m_i − m') first: lab 6's
 * online softmax, with a vector (the output row) riding along with the sum.
 *
 * Work: 4·b·h·n·m·d FLOPs (q·kᵀ and p·v, 2 per multiply-add), about half with the causal mask when
 * n = m. Bytes: q, k, v read and o written once, (2·n + 2·m)·d elements per head: for n = m = 4096
 * that is 4096 FLOPs per element moved (1024 per byte of float32), far above any machine's
 * balance (about 15 FLOPs per byte): compute-bound,
 * while the materialised score matrix (n·m floats written and read back) is memory-bound.
 *
 * Three graded parts: (a) one head (b = h = 1), float32, no mask; (b) batched multi-head with the
 * causal option, float32; (c) bfloat16 q, k, v and o (em_bf16, see em/bf16.h), products summed in
 * float32 — on the GPU, on the tensor cores; on the CPU, converting tiles to float32 is allowed.
 *
 * Every function takes host pointers (CPU) or device pointers (_cuda, launched on the default
 * stream, returning without synchronising). Inputs are read-only; o does not overlap them. The
 * library's functions return EM_OK, or EM_EINVAL for a d or size they do not support, EM_ENOMEM /
 * EM_ECUDA with em_error_detail().
 */
#ifndef EM_ATTENTION_H
#define EM_ATTENTION_H

#include <stdint.h>

#include "em/bf16.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The head sizes every implementation supports. */
#define EM_ATTENTION_MAX_D 128
static inline int em_attention_d_ok(int64_t d) { return d == 16 || d == 32 || d == 64 || d == 128; }

/* Ground truth in float64: scores, softmax and the weighted sum in double, one query row at a
 * time (a row of m doubles, never the whole matrix). q, k, v are float32; the bf16 part's are
 * widened exactly before the call. */
int em_attention_oracle(const float *q, const float *k, const float *v, double *o, int64_t b, int64_t h,
                        int64_t n, int64_t m, int64_t d, int causal);

/* Reference solutions, float32. CPU: OpenMP over (batch, head, query tile), SIMD inner products,
 * online softmax, key/value tiles sized to the caches. CUDA: k and v tiles in shared memory, the
 * online softmax in registers; em_attention_cuda with plain float32 FMAs, em_attention_tf32x3_cuda
 * on the tensor cores with error-compensated TF32 (each float32 split into a TF32 head and tail,
 * three products), both within the float32 tolerance. em_attention_cuda at d = 128 without the
 * mask splits the keys of its grid's last wave among three blocks each, and at every d a grid too
 * small to fill the GPU (decoding: a few queries, many keys) among up to 32; the partial results
 * meet in a device workspace the library keeps between calls: not for calls from several host
 * threads at once. */
int em_attention_cpu(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h, int64_t n,
                     int64_t m, int64_t d, int causal);
int em_attention_cuda(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h, int64_t n,
                      int64_t m, int64_t d, int causal);
int em_attention_tf32x3_cuda(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                             int64_t n, int64_t m, int64_t d, int causal);

/* Reference solutions, bfloat16 in and out, float32 accumulation. em_attention_bf16_cuda on Hopper
 * runs a block per SM, each taking query tiles from a queue in device memory that the library keeps
 * between calls: like em_attention_cuda's workspace, not for calls from several host threads at
 * once. */
int em_attention_bf16_cpu(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b,
                          int64_t h, int64_t n, int64_t m, int64_t d, int causal);
int em_attention_bf16_cuda(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b,
                           int64_t h, int64_t n, int64_t m, int64_t d, int causal);

/* Naive baselines: the textbook three steps, with the score matrix of one (batch, head) stored
 * whole (n·m floats, allocated per call): S = s·q·kᵀ, P = softmax(S) row by row, o = P·v. CPU: one
 * thread, scalar loops. CUDA: one kernel per step, S in global memory. */
int em_attention_naive_cpu(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                           int64_t n, int64_t m, int64_t d, int causal);
int em_attention_naive_cuda(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                            int64_t n, int64_t m, int64_t d, int causal);
int em_attention_bf16_naive_cpu(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b,
                                int64_t h, int64_t n, int64_t m, int64_t d, int causal);
int em_attention_bf16_naive_cuda(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b,
                                 int64_t h, int64_t n, int64_t m, int64_t d, int causal);

/* Yours to write, in labs/lab7-flash-attention/ (the checker calls them; the names are fixed):
 *   attention.c:  lab7_attention_a, lab7_attention_b, lab7_attention_c         (host pointers)
 *   attention.cu: lab7_attention_a_cuda, lab7_attention_b_cuda, lab7_attention_c_cuda (device
 *                 pointers; launch on the default stream and return, the checker synchronises
 *                 and checks for errors) */
void lab7_attention_a(const float *q, const float *k, const float *v, float *o, int64_t n, int64_t m, int64_t d);
void lab7_attention_b(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h, int64_t n,
                      int64_t m, int64_t d, int causal);
void lab7_attention_c(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b, int64_t h,
                      int64_t n, int64_t m, int64_t d, int causal);
void lab7_attention_a_cuda(const float *q, const float *k, const float *v, float *o, int64_t n, int64_t m,
                           int64_t d);
void lab7_attention_b_cuda(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h,
                           int64_t n, int64_t m, int64_t d, int causal);
void lab7_attention_c_cuda(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b,
                           int64_t h, int64_t n, int64_t m, int64_t d, int causal);

#ifdef __cplusplus
}
#endif
#endif /* EM_ATTENTION_H */
