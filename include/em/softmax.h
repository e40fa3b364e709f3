/* Lab 6, long softmax: for x of b rows of t floats (row-major),
 *
 *     z[i][j] = exp(x[i][j] − m_i) / Σ_k exp(x[i][k] − m_i),     m_i = max_k x[i][k].
 *
 * Subtracting the row's maximum changes nothing mathematically (the factor exp(−m_i) cancels) and
 * everything numerically: every exponent is then ≤ 0, so no exp overflows however large the
 * logits (exp(89) is already infinite in float32), and the largest term is exactly 1, so the sum is
 * at least 1 and the division is safe. Entries may be −inf (a masked position: its z is 0); a row
 * always has at least one finite entry.
 *
 * Rows can be long (t = 2^20 and beyond), so the max and the sum are found the online way: one pass
 * keeps a running maximum m and a running sum s of exp(x − m), and when m grows to m' the sum is
 * rescaled, s' = s·exp(m − m') + exp(x − m'). The same rule merges the (max, sum) pairs of two
 * pieces of a row, so pieces can be reduced by different threads or blocks in any order.
 *
 * One graded part, (a), any b ≥ 1 and t ≥ 1. x and z do not overlap. The _cuda functions take
 * device pointers, launch on the default stream and return without synchronising.
 */
#ifndef EM_SOFTMAX_H
#define EM_SOFTMAX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest row the GPU reference keeps on chip: 32768 floats = 128 KiB, one block of 1024
 * threads holding 32 values each in registers (32 of the 64 registers a thread may have when 1024
 * of them share an SM's 64K). Such a row is read once and written once. Longer rows are cut into
 * chunks whose (max, sum) are combined, and x is read a second time to write z. */
#define EM_SOFTMAX_ONCHIP 32768

/* Ground truth in float64: z[i][j] = exp(x − m_i) / Σ exp(x − m_i), every step in double. */
void em_softmax_oracle(const float *x, double *z, int64_t b, int64_t t);

/* Reference solutions. */
void em_softmax_cpu(const float *x, float *z, int64_t b, int64_t t);  /* OpenMP + SIMD exp */
/* Row on chip for t ≤ EM_SOFTMAX_ONCHIP, else chunk statistics + a normalising pass. Keeps a small
 * device scratch buffer for the chunk statistics (8 bytes per chunk of 8192 and per row), grown as
 * needed and kept for later calls: not thread-safe. Returns EM_OK or EM_ECUDA / EM_ENOMEM / EM_EINVAL
 * with em_error_detail(). */
int em_softmax_cuda(const float *x, float *z, int64_t b, int64_t t);

/* Naive baselines: three plain passes per row (max, sum of exp, normalise). */
void em_softmax_naive_cpu(const float *x, float *z, int64_t b, int64_t t); /* scalar, one thread */
int em_softmax_naive_cuda(const float *x, float *z, int64_t b, int64_t t); /* one block per row */

/* Yours to write, in labs/lab6-softmax/ (the checker calls them; the names are fixed):
 *   softmax.c:  lab6_softmax        (host pointers)
 *   softmax.cu: lab6_softmax_cuda   (device pointers; launch on the default stream and return, the
 *               checker synchronises and checks for errors) */
void lab6_softmax(const float *x, float *z, int64_t b, int64_t t);
void lab6_softmax_cuda(const float *x, float *z, int64_t b, int64_t t);

#ifdef __cplusplus
}
#endif
#endif /* EM_SOFTMAX_H */
