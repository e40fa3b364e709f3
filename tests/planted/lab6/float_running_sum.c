/* Planted (lab 6, CPU): a correct algorithm with a float running sum, s += exp(x - m) one term
 * after another. Each addition rounds to the ulp of the growing partial sum, and once that sum
 * is large the small terms vanish altogether: over a row of 2^20 terms the sum ends up 8e-4 too
 * small (~13000*2^-24) against the (32 + 2*20)*2^-24 the checker allows. Long rows fail, every
 * element off by the same factor; rows of a thousand pass. (Summing in blocks, or in double,
 * fixes it.) */
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * t;
    float m = -INFINITY;
    for (int64_t j = 0; j < t; ++j) m = xi[j] > m ? xi[j] : m;
    float s = 0.0f;
    for (int64_t j = 0; j < t; ++j) s += expf(xi[j] - m);
    float inv = 1.0f / s;
    for (int64_t j = 0; j < t; ++j) z[i * t + j] = expf(xi[j] - m) * inv;
  }
}
