/* Lab 5, long sum: z[i] = Σ_j x[i][j] for 0 ≤ i < b, 0 ≤ j < t.
 *
 * x is b×t, row-major and contiguous (row i starts at x + i·t, so rows are 16-byte aligned only
 * when t is a multiple of 4); z has b floats. t is typically much longer than a thread block: one
 * row may be millions of elements, and there may be only one row.
 *
 * Accuracy is part of the task. In float32 the error of a sum grows with how many roundings each
 * element's contribution passes through (the depth of the summation tree) and with Σ_j |x[i][j]|,
 * not with |Σ_j x[i][j]| (the result may cancel to almost nothing while the error does not).
 * The checker allows, per row,
 *
 *     |z[i] − exact| ≤ γ(t) · Σ_j |x[i][j]|,   γ(t) = (⌈log2 t⌉ + EM_SUM_SLACK) · 2^-24
 *
 * which every tree-shaped order meets (pairwise, blocked, SIMD lanes, threads, warps, blocks:
 * each element goes through about log2 t additions), and which one float accumulator running
 * sequentially along a long row does not (its error grows like √t to t rounding units). See
 * harness/specs/sum.c for the derivation and labs/lab5-sum/README.md for the lesson.
 *
 * Every function takes x (b·t floats) and z (b floats); host pointers for the CPU ones, device
 * pointers for the _cuda ones, which launch on the default stream and return without
 * synchronising. x and z do not overlap; x is read-only.
 */
#ifndef EM_SUM_H
#define EM_SUM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The slack c of the tolerance above, in additions beyond the ⌈log2 t⌉ of a perfect pairwise sum:
 * the short sequential chains a fast kernel keeps at the leaves (a few elements per SIMD lane or
 * per thread before the tree starts), its unbalanced levels, the final rounding to float32, and
 * the oracle's own float64 error. Derived in harness/specs/sum.c. */
#define EM_SUM_SLACK 8

/* Ground truth in float64: z[i] = Σ_j (double)x[i][j], added in order. The float64 error,
 * ≤ (t − 1)·2^-53·Σ|x|, is below 2^-28·Σ|x| for every t ≤ 2^25: 1/16 of a float32 rounding. */
void em_sum_oracle(const float *x, double *z, int64_t b, int64_t t);

/* Reference solutions. Both are deterministic (the same inputs give the same bits on the same
 * machine and thread count), and sum each row as a tree of depth at most ⌈log2 t⌉ + 5. */
void em_sum_cpu(const float *x, float *z, int64_t b, int64_t t); /* OpenMP + SIMD, blocked pairwise */
int em_sum_cuda(const float *x, float *z, int64_t b, int64_t t); /* thread, warp or blocks per row */

/* Naive baselines: what a first correct attempt looks like, the floor a solution should clear. */
void em_sum_naive_cpu(const float *x, float *z, int64_t b, int64_t t); /* one thread, one double chain */
int em_sum_naive_cuda(const float *x, float *z, int64_t b, int64_t t); /* one block per row, no shuffles */

/* Yours to write, in labs/lab5-sum/ (the checker calls them; the names are fixed):
 *   sum.c:  lab5_sum        (host pointers)
 *   sum.cu: lab5_sum_cuda   (device pointers; launch on the default stream and return, the
 *                            checker synchronises and checks for errors) */
void lab5_sum(const float *x, float *z, int64_t b, int64_t t);
void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t);

#ifdef __cplusplus
}
#endif
#endif /* EM_SUM_H */
