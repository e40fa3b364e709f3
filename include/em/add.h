/* Lab 1, add: z[i] = x[i] + c.
 *
 * Part (a): n fits one block (GPU: one thread block of at most EM_ADD_BLOCK threads) or one chunk
 *           (CPU: one thread, one SIMD loop over at most EM_ADD_BLOCK elements).
 * Part (b): any n ≥ 1: many blocks (GPU), all cores in chunks (CPU).
 *
 * Every function takes x and z of n floats (device pointers for the _cuda ones, which launch on
 * the default stream and return without synchronising). x and z do not overlap.
 */
#ifndef EM_ADD_H
#define EM_ADD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest n of part (a): 1024 is the most threads one CUDA block may have on every GPU since
 * compute capability 2.0, so "n fits one block" means n ≤ 1024 on both tracks. */
#define EM_ADD_BLOCK 1024

/* Ground truth in float64: z[i] = (double)x[i] + (double)c. */
void em_add_oracle(const float *x, float c, double *z, int64_t n);

/* Reference solutions. */
void em_add_a_cpu(const float *x, float c, float *z, int64_t n); /* one thread, SIMD */
void em_add_b_cpu(const float *x, float c, float *z, int64_t n); /* OpenMP + SIMD, one core for small n */
int em_add_a_cuda(const float *x, float c, float *z, int64_t n); /* one block */
int em_add_b_cuda(const float *x, float c, float *z, int64_t n); /* 16-byte accesses, full grid */

/* Naive baselines: what a first attempt looks like, the floor a solution should clear. */
void em_add_naive_cpu(const float *x, float c, float *z, int64_t n);  /* scalar, one thread */
int em_add_naive_cuda(const float *x, float c, float *z, int64_t n);  /* one block strides over all */

/* Yours to write, in labs/lab1-add/ (the checker calls them; the names are fixed):
 *   add.c:  part (a) lab1_add_a, part (b) lab1_add_b   (host pointers)
 *   add.cu: part (a) lab1_add_a_cuda, part (b) lab1_add_b_cuda   (device pointers; launch on the
 *           default stream and return, the checker synchronises and checks for errors) */
void lab1_add_a(const float *x, float c, float *z, int64_t n);
void lab1_add_b(const float *x, float c, float *z, int64_t n);
void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n);
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* EM_ADD_H */
