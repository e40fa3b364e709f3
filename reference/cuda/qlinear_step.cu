// Lab 8, part (d)'s reference on the device: one training step of the layer object (em/qlinear.h),
// every pointer a device pointer; launched on the default stream, nothing synchronised but what
// the layer's own create and destroy need.
#include "em/error.h"
#include "em/qlinear.h"

extern "C" int em_qlinear_step_cuda(const float *w, const float *b, const float *x, const float *dy, float *y,
                                    float *dx, float *dw, float *db, int64_t M, int64_t N, int64_t K) {
  em_qlinear *layer = NULL;
  int err = em_qlinear_create_cuda(&layer, w, b, N, K);
  if (err == EM_OK) err = em_qlinear_forward_cuda_layer(layer, x, y, M);
  if (err == EM_OK) err = em_qlinear_backward_cuda_layer(layer, dy, dx, dw, db);
  em_qlinear_destroy_cuda(layer);
  return err;
}
