/* Lab 4, CPU track: the backward of z[i][j] = relu(x[j]·y[i]).   Read README.md in this folder first.
 *
 *   dx[j] = Σ_i dz[i][j]·y[i]·[x[j]·y[i] > 0]      (n values: a sum down each column)
 *   dy[i] = Σ_j dz[i][j]·x[j]·[x[j]·y[i] > 0]      (m values: a sum along each row)
 *
 * Build and check:   make lab4 && make check TRACK=cpu
 * The checker calls your function with host pointers: x (n), y (m), dz (m × n, row-major: element
 * (i, j) is dz[i * n + j]); you write dx (n) and dy (m). Inputs are read-only.
 */
#include <stdint.h>

#include "em/lab.h"
#include "em/relu_mul_backward.h"

/* TODO(lab4): compute dx and dy reading dz ONCE, row after row: each element dz[i * n + j], where
 * the float product x[j] * y[i] is > 0 (exactly that product, not the signs of x and y: README.md,
 * "tiny products"), goes into dx[j] times y[i] and into dy[i] times x[j]. First step: right, on
 * one thread. Hints, one at a time: `make hint LAB=4`. */
void lab4_relu_mul_backward(const float *x, const float *y, const float *dz, float *dx, float *dy, int64_t m,
                            int64_t n) {
  (void)x, (void)y, (void)dz, (void)dx, (void)dy, (void)m, (void)n;
  EM_TODO("lab4: compute dx and dy from one pass over dz (one loop nest over rows, then columns)");
}
