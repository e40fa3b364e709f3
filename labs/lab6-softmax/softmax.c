/* Lab 6, CPU track: row softmax, z[i][j] = exp(x[i][j] - m_i) / sum_k exp(x[i][k] - m_i) with
 * m_i = max_k x[i][k].   Read README.md in this folder first.
 *
 * Build and check:   make lab6 && make check TRACK=cpu
 * x and z are b rows of t floats (row i starts at x + i*t); host pointers, never overlapping.
 * Entries of x may be -inf (a masked position: its z is 0); every row has a finite entry.
 */
#include <math.h>
#include <stdint.h>

#include "em/lab.h"
#include "em/softmax.h"

/* Step 1: the statistics of one row, in ONE pass over it: its maximum m and
 * s = sum over j of exp(x[j] - m).
 * TODO(lab6-stats): the online rule of README.md, section 1 ("The online softmax"), -inf entries
 * included. Then delete the two lines below the TODO and the EM_TODO line. */
static void row_stats(const float *x, int64_t t, float *m_out, double *s_out) {
  (void)x, (void)t;
  *m_out = 0.0f, *s_out = 1.0;
  EM_TODO("lab6 step 1: row_stats: the row's max m and s = sum of exp(x[j] - m), in one pass");
}

/* Step 2: z[j] = exp(x[j] - m) / s for every 0 <= j < t.
 * TODO(lab6-write): one loop. */
static void row_write(const float *x, float *z, int64_t t, float m, double s) {
  (void)x, (void)z, (void)t, (void)m, (void)s;
  EM_TODO("lab6 step 2: row_write: z[j] = exp(x[j] - m) / s for every j < t");
}

/* Every row: its statistics, then its output. This is correct as it is once steps 1 and 2 are.
 * TODO(lab6-fast): then make it fast. Hints, one at a time: `make hint LAB=6`. */
void lab6_softmax(const float *x, float *z, int64_t b, int64_t t) {
  for (int64_t i = 0; i < b; ++i) {
    float m;
    double s;
    row_stats(x + i * t, t, &m, &s);
    row_write(x + i * t, z + i * t, t, m, s);
  }
}
