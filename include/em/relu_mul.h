/* Lab 3, fused ReLU-multiply: z[i][j] = relu(x[j] · y[i]) = max(x[j] · y[i], 0).
 *
 * x has n floats, y has m floats, z is m×n, row-major: z[i][j] is z[i * n + j]. Row i of z is the
 * row x scaled by y[i] and clipped at zero: an outer product with a ReLU on top, as in a gated
 * layer's forward pass. Fused: one pass writes z, with no temporary m×n buffer for the product.
 * One graded part, (a): any m ≥ 1, n ≥ 1.
 *
 * Every function takes host pointers (device pointers for the _cuda ones, which launch on the
 * default stream and return without synchronising). x, y and z do not overlap; x and y are
 * read-only.
 *
 * Work: 2·m·n FLOPs (a multiply and a max per element) for at least 4·(n + m + m·n) bytes (x and
 * y read once, z written once): 0.5 FLOP/byte at most, memory-bound on every machine. And z is
 * almost all of it: the kernel is a write stream of m·n floats.
 */
#ifndef EM_RELU_MUL_H
#define EM_RELU_MUL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ground truth in float64: z[i*n + j] = max((double)x[j] · (double)y[i], 0), where the product of
 * two floats is exact (24 + 24 significant bits fit in double's 53). */
void em_relu_mul_oracle(const float *x, const float *y, double *z, int64_t m, int64_t n);

/* Reference solutions. */
void em_relu_mul_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n); /* OpenMP + SIMD, one pass */
int em_relu_mul_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n); /* float4 tiles, full grid */

/* Naive baselines: the classic first attempt, unfused: the product into a temporary m×n buffer
 * (allocated per call), then a ReLU pass from it into z. Correct, and three passes over m×n floats
 * instead of one. The CUDA one returns EM_OK or an error (EM_ECUDA with em_error_detail()). */
void em_relu_mul_naive_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n);
int em_relu_mul_naive_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n);

/* Yours to write, in labs/lab3-relu-mul/ (the checker calls them; the names are fixed):
 *   relu_mul.c:  lab3_relu_mul        (host pointers)
 *   relu_mul.cu: lab3_relu_mul_cuda   (device pointers; launch on the default stream and return,
 *                                      the checker synchronises and checks for errors) */
void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n);
void lab3_relu_mul_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* EM_RELU_MUL_H */
