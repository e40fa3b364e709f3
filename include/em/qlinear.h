/* Lab 8, int8 quantized linear layer: y = x·Wᵀ + b with x and W quantised to int8, symmetric, as
 * PyTorch's Linear lays them out. x is M×K (M rows: tokens, a batch), W is N×K (N outputs, K
 * inputs), b has N, y is M×N; row-major and contiguous.
 *
 * Quantise (per row of a matrix: W's rows are its output channels, x's rows its tokens):
 *     s[r]  = max_k |a[r][k]| / 127                         float32 division, correctly rounded
 *     aq[r][k] = clamp(rint(a[r][k] / s[r]), −127, 127)       the quotient a float32 division;
 *                                                            rint rounds half to even (2.5 → 2)
 * A row of zeros gets s = 0 and aq = 0 (never 0/0); so does a row whose max|a|/127 rounds to 0
 * in float32 (max|a| below 63.5·2^-149, subnormal): a/0 would be ±inf, and with s = 0 the
 * dequantised row s·aq is 0 whatever aq is. NaN and Inf inputs are outside the contract. With a
 * subnormal s the quotient can pass 127 (up to 190), which is what the clamp is for. These are
 * exact: the checker compares the scales and the int8 values bit for bit, so compute exactly this
 * (a·(1/s) or a·(127/max) differ from a/s in the last bit now and then, and that moves a value at
 * a .5 boundary).
 *
 * Forward: acc[r][o] = Σ_k xq[r][k]·Wq[o][k], summed exactly in int32 (|acc| ≤ 127²·K, below 2^31
 * for every K ≤ 2^17), then y[r][o] = (s_x[r]·s_w[o])·acc[r][o] + b[o] in float32, in the matrix
 * product's epilogue: the int32 tile in registers is scaled and stored once, never written out and
 * read back by a separate pass.
 *
 * Backward (straight-through estimator: the rounding is treated as the identity, its zero
 * derivative ignored), with x̂ = s_x·xq and Ŵ = s_w·Wq the dequantised operands the forward used:
 *     dx = dy·Ŵ   (M×K),   dW = dyᵀ·x̂   (N×K),   db[o] = Σ_r dy[r][o]   (N), float32.
 *
 * Work: the forward is 2·M·N·K integer operations (a multiply and an add per product); the
 * backward 4·M·N·K floating-point ones. Bytes of the forward with x quantised inside: x (4·M·K), W
 * as int8 (N·K) with its scales, y (4·M·N).
 *
 * Every function takes host pointers (CPU) or device pointers (_cuda: launched on the default
 * stream, returning without synchronising). Inputs are read-only and outputs do not overlap them.
 * The library's functions return EM_OK, or EM_EINVAL for sizes out of range (any of M, N, K below
 * 1, K above EM_QLINEAR_MAX_K), EM_ENOMEM / EM_ECUDA with em_error_detail().
 */
#ifndef EM_QLINEAR_H
#define EM_QLINEAR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest K whose int32 sums cannot overflow: 127²·K < 2^31. */
#define EM_QLINEAR_MAX_K ((int64_t)1 << 17)

/* ---- ground truth (float64 where it is not exact integer arithmetic) ---- */

/* The quantisation above, computed in float64 and rounded to float32 at each step (which gives the
 * float32 results exactly: a quotient of two floats rounded first to double then to float is the
 * correctly rounded float quotient). */
int em_qlinear_quantize_oracle(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale);
/* acc exactly (int64 sums, checked to fit int32: EM_ERANGE otherwise, which only int8 values of
 * −128, never produced by quantisation, can cause) and y = s_x·s_w·acc + b in float64. acc may be
 * NULL. */
int em_qlinear_forward_oracle(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                              int32_t *acc, double *y, int64_t M, int64_t N, int64_t K);
/* dx, dW, db in float64 from the dequantised operands. */
int em_qlinear_backward_oracle(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                               double *dx, double *dw, double *db, int64_t M, int64_t N, int64_t K);

/* ---- reference solutions ---- */

/* Quantise the rows of a (rows×cols): aq and one scale per row. */
int em_qlinear_quantize_cpu(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale);
int em_qlinear_quantize_cuda(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale);

/* Forward from quantised operands: y (M×N) with the dequantisation and bias in the epilogue; acc,
 * when not NULL, also gets the int32 sums (the checker asks for them on its small cases only, so
 * the speed cases time the fused product alone). CPU: int8 dot products with AVX-512 VNNI where
 * the CPU has it, AVX2 otherwise, a portable loop elsewhere, chosen at run time. CUDA: the int8
 * tensor cores (mma.sync m16n8k32, int32 accumulators). */
int em_qlinear_forward_cpu(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                           int32_t *acc, float *y, int64_t M, int64_t N, int64_t K);
int em_qlinear_forward_cuda(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                            int32_t *acc, float *y, int64_t M, int64_t N, int64_t K);
/* The CPU forward through its AVX2 kernels (bytes widened to int16, vpmaddwd) whatever more the CPU
 * has: what VNNI buys is the difference (`make bench` times the two side by side). EM_ENOTSUP
 * without AVX2 and FMA. */
int em_qlinear_forward_avx2_cpu(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                                int32_t *acc, float *y, int64_t M, int64_t N, int64_t K);
/* Whether this CPU runs em_qlinear_forward_avx2_cpu: NULL, or why not. */
const char *em_qlinear_avx2_unavailable(void);

/* Backward: dx, dW, db from dy and the forward's quantised operands. */
int em_qlinear_backward_cpu(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                            float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K);
int em_qlinear_backward_cuda(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                             float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K);

/* ---- naive baselines: what a first correct attempt looks like ---- */

/* CPU: one thread, scalar loops. CUDA: a thread per output element; the forward with dp4a (four
 * int8 products summed into an int32 in one instruction). */
int em_qlinear_quantize_naive_cpu(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale);
int em_qlinear_forward_naive_cpu(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                                 int32_t *acc, float *y, int64_t M, int64_t N, int64_t K);
int em_qlinear_backward_naive_cpu(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq,
                                  const float *sw, float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K);
int em_qlinear_quantize_naive_cuda(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale);
int em_qlinear_forward_naive_cuda(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                                  const float *b, int32_t *acc, float *y, int64_t M, int64_t N, int64_t K);
int em_qlinear_backward_naive_cuda(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq,
                                   const float *sw, float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K);

/* ---- the layer object: a custom autograd function plus its module ----
 *
 * em_qlinear_create quantises W once (per output channel) and keeps Wq, s_w and b; forward
 * quantises x (per row), runs the fused product and keeps xq and s_x for backward, which returns
 * dx, dW and db. One layer, one forward before each backward; M may change between forwards (the
 * kept buffers grow). On the CUDA side (em_qlinear_create_cuda) every pointer is a device pointer
 * and the layer's buffers live on the device. Not thread-safe. */
typedef struct em_qlinear em_qlinear;

int em_qlinear_create(em_qlinear **layer, const float *w, const float *b, int64_t N, int64_t K);
int em_qlinear_forward(em_qlinear *layer, const float *x, float *y, int64_t M);
int em_qlinear_backward(em_qlinear *layer, const float *dy, float *dx, float *dw, float *db);
void em_qlinear_destroy(em_qlinear *layer);

int em_qlinear_create_cuda(em_qlinear **layer, const float *w, const float *b, int64_t N, int64_t K);
int em_qlinear_forward_cuda_layer(em_qlinear *layer, const float *x, float *y, int64_t M);
int em_qlinear_backward_cuda_layer(em_qlinear *layer, const float *dy, float *dx, float *dw, float *db);
void em_qlinear_destroy_cuda(em_qlinear *layer);

/* One training step of a layer, for the checker's part (d): create from W and b, forward x, backward
 * dy, destroy. The library's, on the CPU and on the device. */
int em_qlinear_step_cpu(const float *w, const float *b, const float *x, const float *dy, float *y, float *dx,
                        float *dw, float *db, int64_t M, int64_t N, int64_t K);
int em_qlinear_step_cuda(const float *w, const float *b, const float *x, const float *dy, float *y, float *dx,
                         float *dw, float *db, int64_t M, int64_t N, int64_t K);

/* Yours to write, in labs/lab8-quantized-linear/ (the checker calls them; the names are fixed):
 *   qlinear.c:  lab8_quantize, lab8_forward, lab8_backward (parts a-c, host pointers) and the layer
 *               lab8_layer_create / _forward / _backward / _destroy, which the given lab8_step
 *               (part d) calls in order;
 *   qlinear.cu: the same names with _cuda (device pointers; launch on the default stream and
 *               return, the checker synchronises and checks for errors).
 * acc in lab8_forward may be NULL: then only y is wanted (the speed cases). */
void lab8_quantize(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale);
void lab8_forward(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b, int32_t *acc,
                  float *y, int64_t M, int64_t N, int64_t K);
void lab8_backward(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, float *dx,
                   float *dw, float *db, int64_t M, int64_t N, int64_t K);
void lab8_step(const float *w, const float *b, const float *x, const float *dy, float *y, float *dx, float *dw,
               float *db, int64_t M, int64_t N, int64_t K);
void lab8_quantize_cuda(const float *a, int64_t rows, int64_t cols, int8_t *aq, float *scale);
void lab8_forward_cuda(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw, const float *b,
                       int32_t *acc, float *y, int64_t M, int64_t N, int64_t K);
void lab8_backward_cuda(const float *dy, const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                        float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K);
void lab8_step_cuda(const float *w, const float *b, const float *x, const float *dy, float *y, float *dx, float *dw,
                    float *db, int64_t M, int64_t N, int64_t K);

#ifdef __cplusplus
}
#endif
#endif /* EM_QLINEAR_H */
