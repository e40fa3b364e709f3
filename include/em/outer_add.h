/* Lab 2, outer add: z[i][j] = x[j] + y[i].
 *
 * x has n floats, y has m floats, z is m × n, row-major: z[i][j] is z[i * n + j]. Every row of z is
 * the whole of x shifted by one number, y[i]; every column is the whole of y shifted by x[j]. (The
 * "outer" is as in the outer product x ⊗ y, with + in place of ×: z = y[:, None] + x[None, :] in
 * NumPy's broadcasting.)
 *
 * Part (a): m ≤ EM_OUTER_ADD_BLOCK and n ≤ EM_OUTER_ADD_BLOCK (GPU: one 2-D thread block; CPU: one
 *           thread, a plain double loop).
 * Part (b): any m, n ≥ 1 (GPU: a 2-D grid of tiles; CPU: all cores).
 *
 * Every function takes x (n floats), y (m floats) and z (m·n floats); device pointers for the _cuda
 * ones, which launch on the default stream and return without synchronising. z overlaps neither
 * x nor y.
 */
#ifndef EM_OUTER_ADD_H
#define EM_OUTER_ADD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest m and n of part (a): a block of 32 × 32 threads is 1024, the most one CUDA block may
 * have, so "fits one block" means m ≤ 32 and n ≤ 32 on both tracks. */
#define EM_OUTER_ADD_BLOCK 32

/* Ground truth in float64: z[i*n + j] = (double)x[j] + (double)y[i]. */
void em_outer_add_oracle(const float *x, const float *y, double *z, int64_t m, int64_t n);

/* Reference solutions. */
void em_outer_add_a_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n); /* one thread, SIMD rows */
void em_outer_add_b_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n); /* OpenMP + SIMD + prefetch */
int em_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n); /* one 2-D block */
int em_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n); /* float4 row tiles */

/* Naive baselines: what a first attempt looks like, the floor a solution should clear. */
void em_outer_add_naive_cpu(const float *x, const float *y, float *z, int64_t m, int64_t n); /* scalar, one thread */
int em_outer_add_naive_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n);  /* threadIdx.x down a column */

/* Yours to write, in labs/lab2-outer-add/ (the checker calls them; the names are fixed):
 *   outer_add.c:  part (a) lab2_outer_add_a, part (b) lab2_outer_add_b   (host pointers)
 *   outer_add.cu: part (a) lab2_outer_add_a_cuda, part (b) lab2_outer_add_b_cuda   (device pointers;
 *                 launch on the default stream and return, the checker synchronises and checks for
 *                 errors) */
void lab2_outer_add_a(const float *x, const float *y, float *z, int64_t m, int64_t n);
void lab2_outer_add_b(const float *x, const float *y, float *z, int64_t m, int64_t n);
void lab2_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n);
void lab2_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* EM_OUTER_ADD_H */
