/* Lab 7, CPU track: flash attention. For each (batch, head), with s = 1/sqrt(d),
 *
 *     o[i] = sum_j p_ij * v[j] / sum_j p_ij,    p_ij = exp(s * q[i].k[j] - max_j' s * q[i].k[j'])
 *
 * q and o are n x d, k and v are m x d (row-major; host pointers; d is 16, 32, 64 or 128).
 * Read README.md in this folder first. Build and check:   make lab7 && make check TRACK=cpu
 * One part at a time:   make check TRACK=cpu ARGS="--part a"      Stuck?   make hint LAB=7
 */
#include <math.h>
#include <stdint.h>

#include "em/attention.h"
#include "em/lab.h"

/* Part (a): one head, float32, no mask.
 * First step: a correct version, one query row i at a time. Keep a running maximum (start at
 * -INFINITY), a running sum of exp(score - max) and a running output row of d floats; when a key's
 * score raises the maximum, first rescale the sum and the output row by exp(old max - new max)
 * (lab 6's online softmax, with a vector riding along). At the end, divide the row by the sum.
 * The n x m score matrix is never stored. */
void lab7_attention_a(const float *q, const float *k, const float *v, float *o, int64_t n, int64_t m, int64_t d) {
  (void)q, (void)k, (void)v, (void)o, (void)n, (void)m, (void)d;
  EM_TODO("lab7 (a): one head: o = softmax(q k^T / sqrt(d)) v, one query row at a time, online");
}

/* Part (b): b*h heads, one after another in memory: head g = beta*h + eta starts at q + g*n*d and
 * at k, v + g*m*d. With causal != 0, query i sees only keys j <= i + m - n (anchored at the bottom
 * right: the last query sees every key); a query that sees no key (when n > m) gets o = 0.
 * First step: part (a)'s loop for every head, with the mask in the loop over keys. */
void lab7_attention_b(const float *q, const float *k, const float *v, float *o, int64_t b, int64_t h, int64_t n,
                      int64_t m, int64_t d, int causal) {
  (void)q, (void)k, (void)v, (void)o, (void)b, (void)h, (void)n, (void)m, (void)d, (void)causal;
  EM_TODO("lab7 (b): every head, and the causal mask (query i sees keys j <= i + m - n)");
}

/* Part (c): part (b) with bfloat16 q, k, v and o (em/bf16.h: em_bf16_to_f32, em_f32_to_bf16). On
 * the CPU you may widen tiles to float32, compute as in part (b), and round o at the end.
 * First step: exactly that. */
void lab7_attention_c(const em_bf16 *q, const em_bf16 *k, const em_bf16 *v, em_bf16 *o, int64_t b, int64_t h,
                      int64_t n, int64_t m, int64_t d, int causal) {
  (void)q, (void)k, (void)v, (void)o, (void)b, (void)h, (void)n, (void)m, (void)d, (void)causal;
  EM_TODO("lab7 (c): bfloat16 in and out: widen to float32, compute as in (b), round o");
}
