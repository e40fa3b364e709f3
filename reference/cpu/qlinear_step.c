/* Lab 8, part (d)'s reference: one training step of the layer object (em/qlinear.h), the order a
 * framework would call it in. */
#include "em/qlinear.h"

#include <stddef.h>

#include "em/error.h"

int em_qlinear_step_cpu(const float *w, const float *b, const float *x, const float *dy, float *y, float *dx,
                        float *dw, float *db, int64_t M, int64_t N, int64_t K) {
  em_qlinear *layer = NULL;
  int err = em_qlinear_create(&layer, w, b, N, K);
  if (err == EM_OK) err = em_qlinear_forward(layer, x, y, M);
  if (err == EM_OK) err = em_qlinear_backward(layer, dy, dx, dw, db);
  em_qlinear_destroy(layer);
  return err;
}
