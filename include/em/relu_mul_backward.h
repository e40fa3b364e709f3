/* Lab 4, backward of the fused ReLU-multiply.
 *
 * The forward pass (lab 3) is z[i][j] = relu(x[j] · y[i]) for x of n floats, y of m floats and z of
 * m × n (row-major). Given the gradient dz of the loss with respect to z (m × n), the backward pass
 * returns the gradients with respect to x and y:
 *
 *   dx[j] = Σ_i dz[i][j] · y[i] · [x[j]·y[i] > 0]     (a column sum: m terms, for 0 ≤ j < n)
 *   dy[i] = Σ_j dz[i][j] · x[j] · [x[j]·y[i] > 0]     (a row sum:    n terms, for 0 ≤ i < m)
 *
 * The mask [x[j]·y[i] > 0] is relu's derivative at the forward's input, which the forward computed
 * as a float32 product: it is exactly `x[j] * y[i] > 0.0f` in float32, so a product that underflows
 * to zero (|x·y| below about 7e-46) masks its term off, as it did in the forward, even when x and y
 * have the same sign. relu'(0) is taken as 0, as in PyTorch.
 *
 * dz is the only large tensor: both reductions are to come from ONE pass over it (a column
 * reduction and a row reduction at once), so dz is read exactly once.
 *
 * Every function takes x (n), y (m), dz (m × n) and writes dx (n) and dy (m); the _cuda ones take
 * device pointers, launch on the default stream and return without synchronising. Outputs do not
 * overlap inputs.
 */
#ifndef EM_RELU_MUL_BACKWARD_H
#define EM_RELU_MUL_BACKWARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ground truth in float64. The mask is the float32 product, as above; each term is then exact in
 * float64 (a product of two floats has at most 48 significant bits) and the sums are float64.
 * dx_abs and dy_abs, when not NULL, receive Σ|term| of each sum: the scale of the rounding error
 * that any float32 summation of those terms can make (the checker's tolerance is built on it). */
void em_relu_mul_backward_oracle(const float *x, const float *y, const float *dz, double *dx, double *dy,
                                 double *dx_abs, double *dy_abs, int64_t m, int64_t n);

/* Reference solutions: one pass over dz, deterministic (the same inputs and thread count give the
 * same bits). Each float32 rounding chain is short: a term meets at most 32 float32 roundings on
 * its way to the result, whatever m and n (see the files for the count). */
void em_relu_mul_backward_cpu(const float *x, const float *y, const float *dz, float *dx, float *dy,
                              int64_t m, int64_t n);  /* OpenMP + SIMD */
int em_relu_mul_backward_cuda(const float *x, const float *y, const float *dz, float *dx, float *dy,
                              int64_t m, int64_t n);  /* tiles with partial sums, then a combine */

/* Naive baselines: two separate passes over dz, one per output, plain loops with float64
 * accumulators (so they pass the checker at every size), scalar, one thread / simple kernels. */
void em_relu_mul_backward_naive_cpu(const float *x, const float *y, const float *dz, float *dx, float *dy,
                                    int64_t m, int64_t n);
int em_relu_mul_backward_naive_cuda(const float *x, const float *y, const float *dz, float *dx, float *dy,
                                    int64_t m, int64_t n);

/* Yours to write, in labs/lab4-relu-mul-backward/ (the checker calls them; the names are fixed):
 *   relu_mul_backward.c:  lab4_relu_mul_backward        (host pointers)
 *   relu_mul_backward.cu: lab4_relu_mul_backward_cuda   (device pointers; launch on the default
 *                         stream and return, the checker synchronises and checks for errors) */
void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n);
void lab4_relu_mul_backward_cuda(const float *x, const float *y, const float *dz, float *dx, float *dy,
                                 int64_t m, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* EM_RELU_MUL_BACKWARD_H */
