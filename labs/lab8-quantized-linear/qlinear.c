/* Lab 8, CPU track: an int8 quantized linear layer, y = x·Wᵀ + b as PyTorch's Linear lays it out:
 * x is M×K, W is N×K (a row per output), b has N, y is M×N; row-major, host pointers.
 * Read README.md in this folder first (the exact rules are in include/em/qlinear.h).
 * Build and check:   make lab8 && make check TRACK=cpu        one part:   ARGS="--part a"
 * Stuck?   make hint LAB=8 PART=a
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "em/lab.h"
#include "em/qlinear.h"

/* Part (a): quantise each row of a (rows×cols): scale[r] = max_k |a[r][k]| / 127.0f, and
 * aq[r][k] = a[r][k] / scale[r] rounded half to even (rintf) and clamped to [-127, 127]; a row of
 * zeros gets scale 0 and aq 0. The checker compares every bit: divide (a / s), do not multiply
 * by 1 / s. First step: exactly that, one row at a time. */
void lab8_quantize(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale) {
  (void)a, (void)rows, (void)cols, (void)aq, (void)scale;
  EM_TODO("lab8 (a): scale = max|row| / 127, aq = clamp(rint(a / scale), -127, 127)");
}

/* Part (b): acc[r][o] = sum_k xq[r][k] * wq[o][k] in int32 (exact), then
 * y[r][o] = (sx[r] * sw[o]) * acc[r][o] + b[o]. Write acc too when acc is not NULL.
 * First step: three loops, the sum in an int32_t, y computed right after each sum (the epilogue:
 * no second pass over a matrix of sums). */
void lab8_forward(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b, int32_t *acc,
                  float *y, int64_t M, int64_t N, int64_t K) {
  (void)xq, (void)sx, (void)wq, (void)sw, (void)b, (void)acc, (void)y, (void)M, (void)N, (void)K;
  EM_TODO("lab8 (b): int32 sums of int8 products, then y = sx*sw*acc + b");
}

/* Part (c): the straight-through backward, with x^ = sx*xq and W^ = sw*wq:
 * dx = dy·W^ (M×K), dW = dyᵀ·x^ (N×K), db[o] = sum_r dy[r][o].
 * First step: the three sums as written, in float. */
void lab8_backward(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, float *dx,
                   float *dw, float *db, int64_t M, int64_t N, int64_t K) {
  (void)dy, (void)xq, (void)sx, (void)wq, (void)sw, (void)dx, (void)dw, (void)db, (void)M, (void)N, (void)K;
  EM_TODO("lab8 (c): dx = dy W^, dW = dy^T x^, db = column sums of dy");
}

/* Part (d): the layer object, what a framework's module plus its autograd function hold. create
 * quantises W once; forward quantises x and keeps xq and sx for backward. First step: fill in the
 * struct and the four functions with parts (a)-(c). */
typedef struct lab8_layer {
  int64_t N, K;
  /* TODO(lab8-layer): what forward and backward need: wq, sw, b; and xq, sx, M from forward */
  int placeholder;
} lab8_layer;

static lab8_layer *lab8_layer_create(const float *w, const float *b, int64_t N, int64_t K) {
  (void)w, (void)b;
  lab8_layer *l = (lab8_layer *)calloc(1, sizeof *l);
  if (l) l->N = N, l->K = K;
  EM_TODO("lab8 (d): create: quantise W (part a), keep wq, sw and a copy of b");
  return l;
}

static void lab8_layer_forward(lab8_layer *l, const float *x, float *y, int64_t M) {
  (void)l, (void)x, (void)y, (void)M;
}

static void lab8_layer_backward(lab8_layer *l, const float *dy, float *dx, float *dw, float *db) {
  (void)l, (void)dy, (void)dx, (void)dw, (void)db;
}

static void lab8_layer_destroy(lab8_layer *l) { free(l); }

/* Given: one training step, as the checker calls it. */
void lab8_step(const float *w, const float *b, const float *x, const float *dy, float *y, float *dx, float *dw,
               float *db, int64_t M, int64_t N, int64_t K) {
  lab8_layer *l = lab8_layer_create(w, b, N, K);
  if (!l) return;
  lab8_layer_forward(l, x, y, M);
  lab8_layer_backward(l, dy, dx, dw, db);
  lab8_layer_destroy(l);
}
