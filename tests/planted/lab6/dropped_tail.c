/* Planted bug (lab 6, CPU): the statistics pass is hand-unrolled by 8 and forgets the remainder,
 * so the last t mod 8 entries of a row are left out of its max and its sum; the output loop is
 * complete. Rows whose length is a multiple of 8 come out right (t = 32, 1024, 4096); the others
 * are all off by the missing terms' share of the sum (t = 1023: every element, about 0.7% too
 * large), and for t < 8 the sum is 0 and z = inf. */
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b; ++i) {
    const float *xi = x + i * t;
    float m = -INFINITY;
    for (int64_t j = 0; j + 8 <= t; j += 8)
      for (int k = 0; k < 8; ++k) m = xi[j + k] > m ? xi[j + k] : m;
    double s = 0.0;
    if (m != -INFINITY)
      for (int64_t j = 0; j + 8 <= t; j += 8)
        for (int k = 0; k < 8; ++k) s += expf(xi[j + k] - m);
    for (int64_t j = 0; j < t; ++j) z[i * t + j] = (float)(expf(xi[j] - m) / s);
  }
}
