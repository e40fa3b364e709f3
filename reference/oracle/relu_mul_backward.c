/* Lab 4 oracle: the backward of z[i][j] = relu(x[j]·y[i]), in float64, written to be obviously right.
 *
 *   dx[j] = Σ_i dz[i][j]·y[i]·[x[j]·y[i] > 0],   dy[i] = Σ_j dz[i][j]·x[j]·[x[j]·y[i] > 0]
 *
 * The mask is the float32 product, as the forward computed it: C evaluates `x[j] * y[i]` in float32
 * where FLT_EVAL_METHOD is 0 (checked below; x87 code would keep extra bits and see an underflowed
 * product as positive). Each term is exact in float64: two floats multiply to at most 48
 * significant bits. The sums are float64 in row order; their own rounding error, at most
 * k·2^-53·Σ|term| for k terms, is part of the checker's tolerance.
 */
#include "em/relu_mul_backward.h"

#include <float.h>

#if FLT_EVAL_METHOD != 0
#error "the oracle needs float arithmetic evaluated in float (FLT_EVAL_METHOD 0): build with SSE, not x87"
#endif

void em_relu_mul_backward_oracle(const float *x, const float *y, const float *dz, double *dx, double *dy,
                                 double *dx_abs, double *dy_abs, int64_t m, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    dx[j] = 0.0;
    if (dx_abs) dx_abs[j] = 0.0;
  }
  for (int64_t i = 0; i < m; ++i) {
    double row = 0.0, row_abs = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      float product = x[j] * y[i];
      if (!(product > 0.0f)) continue;
      double g = (double)dz[i * n + j];
      double to_x = g * (double)y[i], to_y = g * (double)x[j];
      dx[j] += to_x;
      row += to_y;
      if (dx_abs) dx_abs[j] += to_x < 0 ? -to_x : to_x;
      row_abs += to_y < 0 ? -to_y : to_y;
    }
    dy[i] = row;
    if (dy_abs) dy_abs[i] = row_abs;
  }
}
