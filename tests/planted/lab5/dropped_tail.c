/* Planted bug (lab 5, CPU): eight accumulators, eight elements per step, and no loop for the rest:
 * the last t % 8 elements of every row are dropped (all of them when t < 8). Rows whose length is
 * a multiple of 8 (t = 32, 256, 1024) come out right. */
#include <stdint.h>

#include "em/sum.h"

void lab5_sum(const float *x, float *z, int64_t b, int64_t t) {
#pragma omp parallel for
  for (int64_t i = 0; i < b; ++i) {
    const float *row = x + i * t;
    float acc[8] = {0};
    for (int64_t j = 0; j + 8 <= t; j += 8)
      for (int l = 0; l < 8; ++l) acc[l] += row[j + l];
    z[i] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  }
}
