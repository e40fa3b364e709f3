/* Lab 8, a worked example: one small network trained twice, side by side, on the same synthetic data
 * from the same initial weights, once with float32 linear layers and once with em_qlinear's int8
 * layers; it prints both loss curves, the time per step and the bytes of the weights, and writes
 * loss.csv and loss.svg (`make lab8-example`; the lab's README, "A worked example", reads the chart).
 *
 * The task: 10-way classification of x ∈ R^256 drawn from a mixture of 40 Gaussian blobs, 4 per
 * class (draw_samples). Every batch is fresh (the stream is endless), and the test set is a separate
 * stream neither run trains on.
 *
 * The network: 256 → 512 → ReLU → 10, softmax cross-entropy, SGD with momentum, batch 256.
 *   - float32: a plain OpenMP linear layer below (f32_forward, f32_backward).
 *   - int8: em_qlinear. The float32 weights stay the master copy; each step quantises them afresh
 *     (em_qlinear_create), runs forward and backward through int8, and SGD updates the float32
 *     master with the gradient the straight-through estimator gives (dW = dyᵀ·x̂, as if rounding
 *     were the identity). This is quantisation-aware training: the loss the optimiser sees is the
 *     quantised network's, so it learns weights that survive rounding, while updates far smaller
 *     than one int8 step still accumulate in the float32 master instead of rounding away.
 * At the end, the float32 run's weights also go through em_qlinear as they are (post-training
 * quantisation, no QAT): what int8 inference of a model trained in float32 loses.
 * Both runs see the same batches in the same order and start from the same weights; the steps
 * alternate between them (float32 first on odd steps, int8 first on even ones) so that the
 * machine's drift hits both alike.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "em/em.h"

/* Sizes: large enough that the matrix products, not the bookkeeping, take the time (a step is
 * about 0.2 GFLOP), small enough that a few hundred steps of both runs take seconds on two cores. */
enum {
  D_IN = 256,     /* a multiple of 4: one Philox block gives 4 normals */
  CLUSTERS = 4,   /* blobs per class */
  HIDDEN = 512,
  CLASSES = 10,
  BATCH = 256,
  N_TEST = 4096, /* a standard error of 0.3 points on an accuracy near 96 % */
};
/* Tried at 400 steps: 0.02 ends at 88 % test accuracy, 0.05 at 96.5 %, 0.1 at 97 %, and 0.2 stalls
 * near a test loss of 0.18 from step 150 on; 0.1 learns fastest without stalling. */
#define LEARNING_RATE 0.1f
#define MOMENTUM 0.9f
/* The centres' spread, against noise of 1: at 0.3 the classes overlap enough that both runs are still
 * learning at step 400 (test accuracy near 97 %, the loss more than a decade below its start); at 0.5
 * (learning rate 0.05) they were at 99 % by step 100, at 0.8 at 100 % by step 50, nothing left to compare. */
#define SEPARATION 0.3f
#define DEFAULT_STEPS 400
#define DEFAULT_EVAL_EVERY 25
#define DEFAULT_OUT "build/lab8-example"

/* The RNG's streams (em_rng_key.tensor_id): each use draws from its own, so drawing more test
 * samples never moves the training data or the weights. */
enum { S_CENTRES = 1, S_BLOB, S_NOISE, S_INIT1, S_INIT2 };
/* ... and the two sample streams (em_rng_key.case_id): training batches, the test set. */
enum { STREAM_TRAIN = 0, STREAM_TEST = 1 };

/* Exit codes, as the checker's: 0 done, 2 a usage or environment error (with a message). */
enum { EXIT_OK = 0, EXIT_ERROR = 2 };

/* ---- every buffer, freed together ------------------------------------------------------------------ */

typedef struct pool {
  void *p[128];
  int n;
} pool;

static pool g_pool;

/* An aligned buffer of n elements of `size` bytes, or NULL (the caller reports it). */
static void *take(size_t n, size_t size) {
  if (g_pool.n == (int)(sizeof g_pool.p / sizeof g_pool.p[0])) return NULL;
  void *p = em_host_alloc(n * size);
  if (p) g_pool.p[g_pool.n++] = p;
  return p;
}

static void free_all(void) {
  while (g_pool.n > 0) em_host_free(g_pool.p[--g_pool.n]);
}

/* What went wrong in this program, said once by main. A failing libem call leaves its own sentence
 * in em_error_detail() instead; em__fail is the library's, not a program's. */
static char g_error[512];

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_error, sizeof g_error, fmt, ap);
  va_end(ap);
  return err;
}

static int no_memory(const char *what) { return fail(EM_ENOMEM, "no memory for %s", what); }

/* ---- synthetic data ----------------------------------------------------------------------------------- */

/* Four standard normals from one Philox block (Box–Muller on two pairs). u1 is in (0, 1], never
 * 0, so the logarithm is finite. */
static void normals4(em_rng_key key, uint64_t block, float out[4]) {
  uint32_t w[4];
  em_rng_block(key, block, w);
  for (int p = 0; p < 2; ++p) {
    const double u1 = ((double)(w[2 * p] >> 8) + 1.0) * 0x1p-24, u2 = (double)(w[2 * p + 1] >> 8) * 0x1p-24;
    const double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
    out[2 * p] = (float)(r * cos(a));
    out[2 * p + 1] = (float)(r * sin(a));
  }
}

/* Rows first .. first+n−1 of a stream of D_IN standard normals each. */
static void draw_normals(float *x, em_rng_key key, int64_t first, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < D_IN; k += 4) normals4(key, (uint64_t)((first + i) * (D_IN / 4) + k / 4), &x[i * D_IN + k]);
}

/* Uniform in [−bound, bound): PyTorch's default initialisation of a Linear when bound = 1/√in. */
static void draw_uniform(float *a, int64_t n, em_rng_key key, float bound) {
  em_rng_fill_uniform_f32(a, n, key, -bound, bound);
}

/* The task: a mixture of Gaussians, CLUSTERS blobs per class. Blob j's centre is a random point
 * (normal, spread SEPARATION per coordinate); a sample is a blob picked uniformly, its centre plus
 * standard normal noise, labelled with the blob's class (j mod CLASSES). Several blobs per class, so
 * a class is no single direction the first layer could find at once. */
typedef struct mixture {
  float centre[CLASSES * CLUSTERS][D_IN];
} mixture;

static void mixture_init(mixture *mx, uint64_t seed) {
  for (int j = 0; j < CLASSES * CLUSTERS; ++j) {
    draw_normals(mx->centre[j], (em_rng_key){seed, (uint32_t)j, S_CENTRES}, 0, 1);
    for (int k = 0; k < D_IN; ++k) mx->centre[j][k] *= SEPARATION;
  }
}

/* Samples first .. first+n−1 of a stream: sample i is a function of (seed, stream, first + i) alone,
 * so both runs, and any number of steps, see the same batches. */
static void draw_samples(const mixture *mx, float *x, int *label, int64_t n, uint64_t seed, uint32_t stream,
                         int64_t first) {
  const em_rng_key blob_key = {seed, stream, S_BLOB}, noise_key = {seed, stream, S_NOISE};
  draw_normals(x, noise_key, first, n);
  for (int64_t i = 0; i < n; ++i) {
    /* a 32-bit word to 0 .. 39 by multiply-shift: no modulo's bias toward low blobs */
    const int j = (int)(((uint64_t)em_rng_u32(blob_key, (uint64_t)(first + i)) * (CLASSES * CLUSTERS)) >> 32);
    for (int k = 0; k < D_IN; ++k) x[i * D_IN + k] += mx->centre[j][k];
    label[i] = j % CLASSES;
  }
}

/* ---- the float32 linear layer ------------------------------------------------------------------------- *
 * Plain loops, each output computed by one thread in a fixed order, so the results do not depend on
 * the thread count. `omp simd reduction` lets the compiler vectorise the dot product, which it may
 * not otherwise do (a float sum reordered is a different sum). No blocking for the caches: this is
 * the "first correct attempt" a student writes, and the summary prints its GFLOP/s. */

/* y = x·Wᵀ + b: x is m×k, W n×k, y m×n. */
static void f32_forward(const float *x, const float *w, const float *b, float *y, int64_t m, int64_t n, int64_t k) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m; ++r)
    for (int64_t o = 0; o < n; ++o) {
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int64_t i = 0; i < k; ++i) acc += x[r * k + i] * w[o * k + i];
      y[r * n + o] = acc + b[o];
    }
}

/* dx = dy·W, dW = dyᵀ·x, db = Σ_r dy[r]. */
static void f32_backward(const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int64_t m,
                         int64_t n, int64_t k) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m; ++r) {
    float *row = &dx[r * k];
    for (int64_t i = 0; i < k; ++i) row[i] = 0.0f;
    for (int64_t o = 0; o < n; ++o) {
      const float a = dy[r * n + o];
#pragma omp simd
      for (int64_t i = 0; i < k; ++i) row[i] += a * w[o * k + i];
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < n; ++o) {
    float *row = &dw[o * k];
    float sum = 0.0f;
    for (int64_t i = 0; i < k; ++i) row[i] = 0.0f;
    for (int64_t r = 0; r < m; ++r) {
      const float a = dy[r * n + o];
      sum += a;
#pragma omp simd
      for (int64_t i = 0; i < k; ++i) row[i] += a * x[r * k + i];
    }
    db[o] = sum;
  }
}

/* ---- one layer of either kind, and the model --------------------------------------------------------- */

typedef enum { KIND_F32, KIND_INT8, KINDS } kind;
static const char *const kind_name[KINDS] = {"float32", "int8 QAT"};

typedef struct layer {
  int64_t n, k;
  float *w, *b;   /* the master weights, float32 in both runs */
  float *dw, *db; /* this step's gradients */
  float *vw, *vb; /* SGD's velocity */
  em_qlinear *q;  /* int8 run: the layer quantised from w for this step; NULL in the float32 run */
} layer;

typedef struct model {
  kind kind;
  layer l1, l2;
  /* activations of up to BATCH rows: h = relu(x·W1ᵀ + b1), the logits, and their gradients; dx
   * is where layer 1's input gradient goes. The data needs none, but em_qlinear_backward always
   * computes it (dx may not be NULL), so the float32 layer computes it too: the same work in both. */
  float *h, *logits, *dlogits, *dh, *dx;
} model;

static int layer_init(layer *L, int64_t n, int64_t k, const float *w0, const float *b0) {
  L->n = n, L->k = k, L->q = NULL;
  if (!(L->w = take((size_t)(n * k), sizeof(float))) || !(L->dw = take((size_t)(n * k), sizeof(float))) ||
      !(L->vw = take((size_t)(n * k), sizeof(float))) || !(L->b = take((size_t)n, sizeof(float))) ||
      !(L->db = take((size_t)n, sizeof(float))) || !(L->vb = take((size_t)n, sizeof(float))))
    return no_memory("a layer's weights");
  memcpy(L->w, w0, (size_t)(n * k) * sizeof(float));
  memcpy(L->b, b0, (size_t)n * sizeof(float));
  memset(L->vw, 0, (size_t)(n * k) * sizeof(float));
  memset(L->vb, 0, (size_t)n * sizeof(float));
  return EM_OK;
}

/* The int8 run quantises the current master weights: em_qlinear keeps Wq and its scales from its
 * creation on, and has no call that re-quantises in place, so the layer is made afresh. */
static int layer_prepare(layer *L, kind kd) {
  if (kd == KIND_F32) return EM_OK;
  em_qlinear_destroy(L->q);
  L->q = NULL;
  return em_qlinear_create(&L->q, L->w, L->b, L->n, L->k);
}

static int layer_forward(layer *L, kind kd, const float *x, float *y, int64_t m) {
  if (kd == KIND_INT8) return em_qlinear_forward(L->q, x, y, m);
  f32_forward(x, L->w, L->b, y, m, L->n, L->k);
  return EM_OK;
}

/* x: the forward's input, which the float32 layer needs; the int8 layer kept its quantised copy. */
static int layer_backward(layer *L, kind kd, const float *x, const float *dy, float *dx, int64_t m) {
  if (kd == KIND_INT8) return em_qlinear_backward(L->q, dy, dx, L->dw, L->db);
  f32_backward(x, L->w, dy, dx, L->dw, L->db, m, L->n, L->k);
  return EM_OK;
}

/* v = μ·v + g, w −= η·v */
static void sgd(float *w, float *v, const float *g, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    v[i] = MOMENTUM * v[i] + g[i];
    w[i] -= LEARNING_RATE * v[i];
  }
}

static int model_init(model *md, kind kd, const float *w1, const float *b1, const float *w2, const float *b2) {
  md->kind = kd;
  int err = layer_init(&md->l1, HIDDEN, D_IN, w1, b1);
  if (!err) err = layer_init(&md->l2, CLASSES, HIDDEN, w2, b2);
  if (err) return err;
  if (!(md->h = take(BATCH * HIDDEN, sizeof(float))) || !(md->dh = take(BATCH * HIDDEN, sizeof(float))) ||
      !(md->logits = take(BATCH * CLASSES, sizeof(float))) || !(md->dlogits = take(BATCH * CLASSES, sizeof(float))) ||
      !(md->dx = take(BATCH * D_IN, sizeof(float))))
    return no_memory("the activations");
  return EM_OK;
}

static void model_free(model *md) {
  em_qlinear_destroy(md->l1.q);
  em_qlinear_destroy(md->l2.q);
  md->l1.q = md->l2.q = NULL;
}

/* Mean softmax cross-entropy of m rows of logits (in double: the curve is read down to small
 * values), the count of rows whose argmax is the label, and, when dz is not NULL, the gradient of
 * the mean: (softmax − onehot)/m. */
static double cross_entropy(const float *z, const int *label, int64_t m, float *dz, int64_t *correct) {
  double total = 0.0;
  for (int64_t r = 0; r < m; ++r) {
    const float *zr = &z[r * CLASSES];
    int arg = 0;
    for (int c = 1; c < CLASSES; ++c)
      if (zr[c] > zr[arg]) arg = c;
    double sum = 0.0;
    for (int c = 0; c < CLASSES; ++c) sum += exp((double)zr[c] - zr[arg]);
    total += log(sum) - ((double)zr[label[r]] - zr[arg]);
    *correct += arg == label[r];
    if (dz)
      for (int c = 0; c < CLASSES; ++c)
        dz[r * CLASSES + c] = (float)((exp((double)zr[c] - zr[arg]) / sum - (c == label[r])) / (double)m);
  }
  return total / (double)m;
}

static int model_forward(model *md, const float *x, int64_t m) {
  int err = layer_forward(&md->l1, md->kind, x, md->h, m);
  if (err) return err;
  for (int64_t i = 0; i < m * HIDDEN; ++i) md->h[i] = md->h[i] > 0.0f ? md->h[i] : 0.0f;
  return layer_forward(&md->l2, md->kind, md->h, md->logits, m);
}

static int model_backward(model *md, const float *x, int64_t m) {
  int err = layer_backward(&md->l2, md->kind, md->h, md->dlogits, md->dh, m);
  if (err) return err;
  for (int64_t i = 0; i < m * HIDDEN; ++i) /* relu': h > 0 exactly where its input was */
    if (md->h[i] <= 0.0f) md->dh[i] = 0.0f;
  return layer_backward(&md->l1, md->kind, x, md->dh, md->dx, m);
}

/* The phases of a step, timed apart: the int8 run's costs are not where the float32 run's are. */
enum { PH_QUANTISE, PH_FORWARD, PH_BACKWARD, PH_UPDATE, PHASES };
static const char *const phase_name[PHASES] = {"quantise W", "forward + loss", "backward", "SGD update"};

static int train_step(model *md, const float *x, const int *label, double *loss, double sec[PHASES]) {
  int64_t correct = 0;
  double t0 = em_now_s();
  int err = layer_prepare(&md->l1, md->kind);
  if (!err) err = layer_prepare(&md->l2, md->kind);
  double t1 = em_now_s();
  if (!err) err = model_forward(md, x, BATCH);
  if (!err) *loss = cross_entropy(md->logits, label, BATCH, md->dlogits, &correct);
  double t2 = em_now_s();
  if (!err) err = model_backward(md, x, BATCH);
  double t3 = em_now_s();
  if (err) return err;
  sgd(md->l1.w, md->l1.vw, md->l1.dw, HIDDEN * D_IN);
  sgd(md->l1.b, md->l1.vb, md->l1.db, HIDDEN);
  sgd(md->l2.w, md->l2.vw, md->l2.dw, CLASSES * HIDDEN);
  sgd(md->l2.b, md->l2.vb, md->l2.db, CLASSES);
  double t4 = em_now_s();
  sec[PH_QUANTISE] = t1 - t0, sec[PH_FORWARD] = t2 - t1, sec[PH_BACKWARD] = t3 - t2, sec[PH_UPDATE] = t4 - t3;
  return EM_OK;
}

/* Loss and accuracy on the test set with the current weights (the int8 run: quantised afresh, as
 * it would be deployed), in chunks of BATCH rows through the training buffers. Not timed. */
static int evaluate(model *md, const float *x, const int *label, double *loss, double *acc) {
  int err = layer_prepare(&md->l1, md->kind);
  if (!err) err = layer_prepare(&md->l2, md->kind);
  double total = 0.0;
  int64_t correct = 0;
  for (int64_t r = 0; !err && r < N_TEST; r += BATCH) {
    const int64_t m = N_TEST - r < BATCH ? N_TEST - r : BATCH;
    err = model_forward(md, &x[r * D_IN], m);
    if (!err) total += cross_entropy(md->logits, &label[r], m, NULL, &correct) * (double)m;
  }
  *loss = total / N_TEST;
  *acc = (double)correct / N_TEST;
  return err;
}

/* ---- the run, and what it records --------------------------------------------------------------------- */

typedef struct options {
  int steps, eval_every;
  uint64_t seed;
  const char *out;
} options;

/* Per step s (index s − 1) and run: the training batch's loss (before that step's update), the
 * test loss and accuracy after the update (NAN where not evaluated), and the phases' seconds. */
typedef struct record {
  int steps;
  double *train[KINDS], *test[KINDS], *acc[KINDS];
  double *sec[KINDS][PHASES];
} record;

static int record_init(record *rec, int steps) {
  rec->steps = steps;
  for (int k = 0; k < KINDS; ++k) {
    if (!(rec->train[k] = take((size_t)steps, sizeof(double))) || !(rec->test[k] = take((size_t)steps, sizeof(double))) ||
        !(rec->acc[k] = take((size_t)steps, sizeof(double))))
      return no_memory("the loss record");
    for (int p = 0; p < PHASES; ++p)
      if (!(rec->sec[k][p] = take((size_t)steps, sizeof(double)))) return no_memory("the timing record");
    for (int s = 0; s < steps; ++s) rec->test[k][s] = rec->acc[k][s] = NAN;
  }
  return EM_OK;
}

static double step_seconds(const record *rec, int k, int s) {
  double t = 0.0;
  for (int p = 0; p < PHASES; ++p) t += rec->sec[k][p][s];
  return t;
}

/* The data both runs share: the mixture, one training batch at a time, the test set. */
typedef struct data {
  mixture *mixture;
  float *x, *test_x;
  int *label, *test_label;
} data;

static int data_init(data *d, uint64_t seed) {
  if (!(d->mixture = take(1, sizeof(mixture))) || !(d->x = take(BATCH * D_IN, sizeof(float))) ||
      !(d->label = take(BATCH, sizeof(int))) || !(d->test_x = take(N_TEST * D_IN, sizeof(float))) ||
      !(d->test_label = take(N_TEST, sizeof(int))))
    return no_memory("the data");
  mixture_init(d->mixture, seed);
  draw_samples(d->mixture, d->test_x, d->test_label, N_TEST, seed, STREAM_TEST, 0);
  return EM_OK;
}

/* Both models from the same initial weights (PyTorch's Linear default: U(±1/√in) for W and b). */
static int models_init(model md[KINDS], uint64_t seed) {
  float *w1 = take(HIDDEN * D_IN, sizeof(float)), *b1 = take(HIDDEN, sizeof(float));
  float *w2 = take(CLASSES * HIDDEN, sizeof(float)), *b2 = take(CLASSES, sizeof(float));
  if (!w1 || !b1 || !w2 || !b2) return no_memory("the initial weights");
  const float bound1 = 1.0f / sqrtf((float)D_IN), bound2 = 1.0f / sqrtf((float)HIDDEN);
  draw_uniform(w1, HIDDEN * D_IN, (em_rng_key){seed, 0, S_INIT1}, bound1);
  draw_uniform(b1, HIDDEN, (em_rng_key){seed, 1, S_INIT1}, bound1);
  draw_uniform(w2, CLASSES * HIDDEN, (em_rng_key){seed, 0, S_INIT2}, bound2);
  draw_uniform(b2, CLASSES, (em_rng_key){seed, 1, S_INIT2}, bound2);
  for (int k = 0; k < KINDS; ++k) {
    int err = model_init(&md[k], (kind)k, w1, b1, w2, b2);
    if (err) return err;
  }
  return EM_OK;
}

static void print_progress(const record *rec, int s) {
  static int lines;
  if (lines++ % 20 == 0) /* the header again now and then, for long runs */
    printf("%6s  %-17s %-17s %-17s %-17s\n%6s  %8s %8s %8s %8s %8s %8s %8s %8s\n", "", "train loss", "test loss",
           "test accuracy", "step ms", "step", "float32", "int8", "float32", "int8", "float32", "int8", "float32",
           "int8");
  printf("%6d  %8.4f %8.4f %8.4f %8.4f %7.2f%% %7.2f%% %8.2f %8.2f\n", s + 1, rec->train[KIND_F32][s],
         rec->train[KIND_INT8][s], rec->test[KIND_F32][s], rec->test[KIND_INT8][s], 100.0 * rec->acc[KIND_F32][s],
         100.0 * rec->acc[KIND_INT8][s], 1e3 * step_seconds(rec, KIND_F32, s), 1e3 * step_seconds(rec, KIND_INT8, s));
  fflush(stdout);
}

static int train(const options *opt, model md[KINDS], data *d, record *rec) {
  for (int s = 0; s < opt->steps; ++s) {
    draw_samples(d->mixture, d->x, d->label, BATCH, opt->seed, STREAM_TRAIN, (int64_t)s * BATCH);
    for (int i = 0; i < KINDS; ++i) {
      const int k = (s % 2 == 0) ? i : KINDS - 1 - i; /* alternate which run goes first */
      double sec[PHASES];
      int err = train_step(&md[k], d->x, d->label, &rec->train[k][s], sec);
      if (err) return err;
      for (int p = 0; p < PHASES; ++p) rec->sec[k][p][s] = sec[p];
    }
    if ((s + 1) % opt->eval_every == 0 || s + 1 == opt->steps) {
      for (int k = 0; k < KINDS; ++k) {
        int err = evaluate(&md[k], d->test_x, d->test_label, &rec->test[k][s], &rec->acc[k][s]);
        if (err) return err;
      }
      print_progress(rec, s);
    }
  }
  return EM_OK;
}

/* ---- the summary --------------------------------------------------------------------------------------- */

/* Medians and spreads of what the record holds, for the printed summary and the chart. */
typedef struct summary {
  em_stats phase[KINDS][PHASES], step[KINDS];
  em_stats ratio;               /* per step, int8 time / float32 time: the drift-cancelling comparison */
  double train_tail[KINDS];     /* mean training loss over the last tenth of the steps */
  double test[KINDS], acc[KINDS];
  double ptq_test, ptq_acc;     /* the float32 run's final weights through int8 layers */
  size_t bytes[KINDS];          /* of the weights as the run would ship them */
  char machine[160];
} summary;

/* Bytes of both layers' weights and biases: float32 for the float32 run; for the int8 run what
 * em_qlinear holds, the int8 W, one float32 scale per output channel and the float32 bias. */
static size_t weight_bytes(kind kd) {
  const size_t w = (size_t)HIDDEN * D_IN + (size_t)CLASSES * HIDDEN, n = HIDDEN + CLASSES;
  return kd == KIND_F32 ? 4 * (w + n) : w + 4 * n + 4 * n;
}

/* "AMD EPYC, 2 threads, 2026-01-31 12:00 UTC": where and when, for the chart. */
static void describe_machine(char *out, size_t size) {
  char cpu[96] = "unknown CPU", line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "model name", 10) == 0) {
      const char *v = strchr(line, ':');
      if (v) {
        snprintf(cpu, sizeof cpu, "%s", v + 1 + (v[1] == ' '));
        cpu[strcspn(cpu, "\n")] = 0;
      }
      break;
    }
  if (f) fclose(f);
  int threads = 1;
#if defined(_OPENMP)
  threads = omp_get_max_threads();
#endif
  char when[40] = "";
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  snprintf(out, size, "%s, %d thread%s, %s", cpu, threads, threads == 1 ? "" : "s", when);
}

/* Post-training quantisation: the float32 model's weights as they are, through int8 layers. The
 * copy shares the float32 model's buffers; only its layers' em_qlinear objects are its own. */
static int evaluate_ptq(const model *f32, const data *d, summary *sum) {
  model ptq = *f32;
  ptq.kind = KIND_INT8;
  ptq.l1.q = ptq.l2.q = NULL;
  int err = evaluate(&ptq, d->test_x, d->test_label, &sum->ptq_test, &sum->ptq_acc);
  model_free(&ptq);
  return err;
}

static int summarise(const record *rec, summary *sum) {
  const int n = rec->steps;
  double *v = take((size_t)n, sizeof(double));
  if (!v) return no_memory("the summary");
  for (int k = 0; k < KINDS; ++k) {
    for (int p = 0; p < PHASES; ++p) {
      for (int s = 0; s < n; ++s) v[s] = 1e3 * rec->sec[k][p][s];
      em_stats_of(v, (size_t)n, &sum->phase[k][p]);
    }
    for (int s = 0; s < n; ++s) v[s] = 1e3 * step_seconds(rec, k, s);
    em_stats_of(v, (size_t)n, &sum->step[k]);
    const int tail = n / 10 > 0 ? n / 10 : 1;
    double t = 0.0;
    for (int s = n - tail; s < n; ++s) t += rec->train[k][s];
    sum->train_tail[k] = t / tail;
    sum->test[k] = rec->test[k][n - 1], sum->acc[k] = rec->acc[k][n - 1];
    sum->bytes[k] = weight_bytes((kind)k);
  }
  for (int s = 0; s < n; ++s) v[s] = step_seconds(rec, KIND_INT8, s) / step_seconds(rec, KIND_F32, s);
  em_stats_of(v, (size_t)n, &sum->ratio);
  describe_machine(sum->machine, sizeof sum->machine);
  return EM_OK;
}

static void print_summary(const options *opt, const summary *sum) {
  const double fwd = 2.0 * BATCH * ((double)D_IN * HIDDEN + (double)HIDDEN * CLASSES); /* FLOPs (int8: ops) */
  printf("\nafter %d steps of %d samples (%s; seed %llu), test set of %d held-out samples:\n", opt->steps, BATCH,
         sum->machine, (unsigned long long)opt->seed, N_TEST);
  printf("  %-34s %12s %12s\n", "", kind_name[KIND_F32], kind_name[KIND_INT8]);
  printf("  %-34s %12.4f %12.4f\n", "train loss, mean of the last 10%", sum->train_tail[0], sum->train_tail[1]);
  printf("  %-34s %12.4f %12.4f\n", "test loss", sum->test[0], sum->test[1]);
  printf("  %-34s %11.2f%% %11.2f%%\n", "test accuracy", 100.0 * sum->acc[0], 100.0 * sum->acc[1]);
  printf("  %-34s %12.4f %11.2f%%   (no QAT: float32 weights quantised after training)\n",
         "float32 run through int8 layers", sum->ptq_test, 100.0 * sum->ptq_acc);
  if (!isfinite(sum->test[0]) || !isfinite(sum->test[1]))
    printf("  (a loss is not finite: training diverged; with inputs far larger than the defaults, lower "
           "LEARNING_RATE)\n");
  printf("  time per step, ms: median [p10, p90]\n");
  for (int p = 0; p < PHASES; ++p) {
    printf("    %-32s", phase_name[p]);
    for (int k = 0; k < KINDS; ++k)
      if (k == KIND_F32 && p == PH_QUANTISE) printf(" %23s", "-");
      else printf(" %6.3f [%6.3f, %6.3f]", sum->phase[k][p].median, sum->phase[k][p].p10, sum->phase[k][p].p90);
    printf("\n");
  }
  printf("    %-32s", "whole step");
  for (int k = 0; k < KINDS; ++k)
    printf(" %6.3f [%6.3f, %6.3f]", sum->step[k].median, sum->step[k].p10, sum->step[k].p90);
  printf("\n  %-34s %12.1f %12.1f   (int8: G int8 ops/s)\n", "forward GFLOP/s (median step)",
         fwd / (1e6 * sum->phase[0][PH_FORWARD].median), fwd / (1e6 * sum->phase[1][PH_FORWARD].median));
  printf("  %-34s %12.1f %12.1f   (both float32 arithmetic)\n", "backward GFLOP/s (median step)",
         2.0 * fwd / (1e6 * sum->phase[0][PH_BACKWARD].median), 2.0 * fwd / (1e6 * sum->phase[1][PH_BACKWARD].median));
  printf("  int8 step time / float32 step time, per step: median %.3f [p10 %.3f, p90 %.3f]\n", sum->ratio.median,
         sum->ratio.p10, sum->ratio.p90);
  printf("  weights (both layers, with biases): float32 %zu bytes; int8 %zu bytes (int8 W + float32 scale and\n"
         "    bias per output): %.2fx smaller. Training keeps the float32 master and its momentum besides.\n",
         sum->bytes[0], sum->bytes[1], (double)sum->bytes[0] / (double)sum->bytes[1]);
}

/* ---- the CSV and the chart -------------------------------------------------------------------------- */

static int write_csv(const char *path, const record *rec) {
  FILE *f = fopen(path, "w");
  if (!f) return fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  fprintf(f, "step,train_loss_f32,train_loss_int8,test_loss_f32,test_loss_int8,test_acc_f32,test_acc_int8,"
             "step_ms_f32,step_ms_int8\n");
  for (int s = 0; s < rec->steps; ++s) {
    fprintf(f, "%d,%.6f,%.6f", s + 1, rec->train[0][s], rec->train[1][s]);
    /* a test value only where one was measured: an empty field, which CSV readers take as missing */
    for (int k = 0; k < KINDS; ++k)
      if (isnan(rec->test[k][s])) fputc(',', f);
      else fprintf(f, ",%.6f", rec->test[k][s]);
    for (int k = 0; k < KINDS; ++k)
      if (isnan(rec->acc[k][s])) fputc(',', f);
      else fprintf(f, ",%.4f", rec->acc[k][s]);
    fprintf(f, ",%.4f,%.4f\n", 1e3 * step_seconds(rec, 0, s), 1e3 * step_seconds(rec, 1, s));
  }
  if (ferror(f) | fclose(f)) return fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  return EM_OK;
}

/* The chart: the losses on a log axis above, and below, on a linear axis, how far the int8 run's
 * test loss is from the float32 run's, in per cent: the curves above lie on top of each other, and
 * the gap is what int8 costs. One x axis (training steps) for both panels. */
enum {
  SVG_W = 880, SVG_H = 660,
  PLOT_L = 80, PLOT_R = 860, /* both panels */
  LOSS_T = 80, LOSS_B = 450, /* the loss panel */
  GAP_T = 480, GAP_B = 590,  /* the gap panel; the x axis's labels under it */
};
static const char *const colour[KINDS] = {"#0072b2", "#d55e00"}; /* blue and vermilion: told apart by most eyes */

typedef struct panel {
  double top, bottom, lo, hi;
  int log; /* a log axis (lo > 0) or a linear one */
} panel;

static double px(double steps, double step) { return PLOT_L + (PLOT_R - PLOT_L) * step / steps; }
static double py(const panel *p, double v) {
  const double t = p->log ? (log10(fmax(v, p->lo)) - log10(p->lo)) / (log10(p->hi) - log10(p->lo)) /* 0 loss: on the axis */
                          : (v - p->lo) / (p->hi - p->lo);
  return p->bottom - (p->bottom - p->top) * t;
}

/* Text into XML: the machine's name comes from /proc and could hold '&' or '<'. */
static void xml_text(FILE *f, const char *s) {
  for (; *s; ++s) switch (*s) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      default: fputc(*s, f);
    }
}

/* The 1, 2 or 5 × 10^k at or below v (down = 1) or at or above it (down = 0). */
static double nice(double v, int down) {
  const double d = pow(10.0, floor(log10(v))), m[4] = {1.0, 2.0, 5.0, 10.0};
  if (down) {
    for (int i = 3; i >= 0; --i)
      if (m[i] * d <= v * (1 + 1e-12)) return m[i] * d;
    return d;
  }
  for (int i = 0; i < 4; ++i)
    if (m[i] * d >= v * (1 - 1e-12)) return m[i] * d;
  return 10.0 * d;
}

/* The losses' panel: from the 1-2-5 value below the smallest loss to the one above the largest. */
static panel loss_panel(const record *rec) {
  double lo = INFINITY, hi = 0.0;
  for (int k = 0; k < KINDS; ++k)
    for (int s = 0; s < rec->steps; ++s) {
      const double v[2] = {rec->train[k][s], rec->test[k][s]};
      for (int i = 0; i < 2; ++i)
        if (isfinite(v[i]) && v[i] > 0.0) lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
    }
  if (!(lo <= hi)) lo = 0.1, hi = 10.0; /* nothing plottable: an empty chart still has axes */
  panel p = {LOSS_T, LOSS_B, nice(lo, 1), nice(hi, 0), 1};
  if (p.hi <= p.lo) p.hi = nice(p.lo * 1.5, 0);
  return p;
}

/* 100·(int8 − float32)/float32 of the test losses at step s, NAN where none was measured. */
static double gap(const record *rec, int s) {
  return 100.0 * (rec->test[KIND_INT8][s] - rec->test[KIND_F32][s]) / rec->test[KIND_F32][s];
}

static double ptq_gap(const record *rec, const summary *sum) {
  return 100.0 * (sum->ptq_test - rec->test[KIND_F32][rec->steps - 1]) / rec->test[KIND_F32][rec->steps - 1];
}

/* The gap's panel: symmetric about 0, to the 1-2-5 value above the largest gap (at least 0.1 %). */
static panel gap_panel(const record *rec, const summary *sum) {
  double m = 0.1;
  for (int s = 0; s < rec->steps; ++s)
    if (isfinite(gap(rec, s))) m = fmax(m, fabs(gap(rec, s)));
  if (isfinite(ptq_gap(rec, sum))) m = fmax(m, fabs(ptq_gap(rec, sum)));
  m = nice(m, 0);
  return (panel){GAP_T, GAP_B, -m, m, 0};
}

static void hline(FILE *f, double y, const char *stroke) {
  fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n", PLOT_L, y, PLOT_R, y, stroke);
}

static void ylabel(FILE *f, double y, double v, const char *unit) {
  fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%g%s</text>\n", PLOT_L - 6,
          y, v, unit);
}

/* Log y: a line and a label per decade; in between, lines at 2..9 × 10^d, the 2 and 5 labelled when
 * the panel spans three decades or less (more would crowd them), so the reader has a number near
 * every curve. */
static void loss_grid(FILE *f, const panel *p) {
  const int label_25 = log10(p->hi / p->lo) <= 3.01;
  for (double d = pow(10.0, floor(log10(p->lo) + 1e-9)); d < p->hi * 1.001; d *= 10.0)
    for (int m = 1; m <= 9; ++m) {
      const double v = d * m;
      if (v < p->lo * 0.999 || v > p->hi * 1.001) continue;
      hline(f, py(p, v), m == 1 ? "#bbbbbb" : "#eeeeee");
      if (m == 1 || (label_25 && (m == 2 || m == 5))) ylabel(f, py(p, v), v, "");
    }
  fprintf(f, "<text x=\"22\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 22 %.1f)\">cross-entropy "
             "loss (log scale)</text>\n", (p->top + p->bottom) / 2, (p->top + p->bottom) / 2);
}

static void gap_grid(FILE *f, const panel *p) {
  for (int i = -2; i <= 2; ++i) {
    const double v = p->hi * i / 2.0;
    hline(f, py(p, v), i == 0 ? "#888888" : "#eeeeee");
    ylabel(f, py(p, v), v, "%");
  }
  fprintf(f, "<text x=\"22\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 22 %.1f)\">int8 vs "
             "float32</text>\n", (p->top + p->bottom) / 2, (p->top + p->bottom) / 2);
  fprintf(f, "<text x=\"%d\" y=\"%.1f\" fill=\"#444444\">test loss, int8 − float32, in %% of float32 "
             "(above 0: int8 worse)</text>\n", PLOT_L + 8, p->top + 14);
}

/* x: 1, 2 or 5 × 10^k per tick, the step that gives 5 to 10 of them; grid lines in both panels,
 * labels under the lower one. */
static void x_axis(FILE *f, int steps, const panel *const *panels, int npanels) {
  double tick = pow(10.0, floor(log10(steps / 5.0)));
  if (steps / (tick * 5.0) >= 5.0) tick *= 5.0;
  else if (steps / (tick * 2.0) >= 5.0) tick *= 2.0;
  for (double s = 0.0; s <= steps + 1e-9; s += tick) {
    const double x = px(steps, s);
    for (int i = 0; i < npanels; ++i)
      fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>\n", x, panels[i]->top, x,
              panels[i]->bottom);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000000\"/>\n", x, GAP_B, x, GAP_B + 5);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", x, GAP_B + 20, s);
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">training step</text>\n", (PLOT_L + PLOT_R) / 2,
          GAP_B + 40);
}

static void frame(FILE *f, const panel *p) {
  fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"none\" stroke=\"#000000\"/>\n", PLOT_L,
          p->top, PLOT_R - PLOT_L, p->bottom - p->top);
}

/* A cross: the float32 run's final weights quantised after training, at the last step. */
static void cross(FILE *f, double x, double y) {
  fprintf(f, "<path d=\"M%.1f,%.1f l10,10 m0,-10 l-10,10\" stroke=\"#000000\" stroke-width=\"2\"/>\n", x - 5, y - 5);
}

/* The losses: each training batch's, thin and light (it is noisy); the test loss, bold, with a dot
 * where it was measured; the int8 run dashed, so that where the two coincide both still show. */
static void loss_curves(FILE *f, const panel *p, const record *rec, const summary *sum) {
  const double n = rec->steps;
  for (int k = 0; k < KINDS; ++k) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1\" stroke-opacity=\"0.45\" points=\"",
            colour[k]);
    for (int s = 0; s < rec->steps; ++s) fprintf(f, "%s%.1f,%.1f", s ? " " : "", px(n, s + 1), py(p, rec->train[k][s]));
    fprintf(f, "\"/>\n");
  }
  for (int k = 0; k < KINDS; ++k) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"%s points=\"", colour[k],
            k == KIND_INT8 ? " stroke-dasharray=\"7 4\"" : "");
    for (int s = 0, first = 1; s < rec->steps; ++s)
      if (!isnan(rec->test[k][s])) {
        fprintf(f, "%s%.1f,%.1f", first ? "" : " ", px(n, s + 1), py(p, rec->test[k][s]));
        first = 0;
      }
    fprintf(f, "\"/>\n");
    for (int s = 0; s < rec->steps; ++s)
      if (!isnan(rec->test[k][s]))
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(n, s + 1), py(p, rec->test[k][s]),
                colour[k]);
  }
  cross(f, px(n, n), py(p, sum->ptq_test));
}

static void gap_curve(FILE *f, const panel *p, const record *rec, const summary *sum) {
  const double n = rec->steps;
  fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour[KIND_INT8]);
  for (int s = 0, first = 1; s < rec->steps; ++s)
    if (isfinite(gap(rec, s))) {
      fprintf(f, "%s%.1f,%.1f", first ? "" : " ", px(n, s + 1), py(p, gap(rec, s)));
      first = 0;
    }
  fprintf(f, "\"/>\n");
  for (int s = 0; s < rec->steps; ++s)
    if (isfinite(gap(rec, s)))
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(n, s + 1), py(p, gap(rec, s)),
              colour[KIND_INT8]);
  if (isfinite(ptq_gap(rec, sum))) cross(f, px(n, n), py(p, ptq_gap(rec, sum)));
}

static void legend(FILE *f, const summary *sum) {
  const int x = PLOT_R - 390, y = LOSS_T + 12;
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"380\" height=\"116\" fill=\"#ffffff\" fill-opacity=\"0.9\" "
             "stroke=\"#999999\"/>\n", x, y);
  for (int k = 0; k < KINDS; ++k) {
    const int yy = y + 16 + 38 * k;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-opacity=\"0.45\"/>\n", x + 10, yy,
            x + 40, yy, colour[k]);
    fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">%s, each training batch</text>\n", x + 48, yy,
            kind_name[k]);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n", x + 10,
            yy + 18, x + 40, yy + 18, colour[k], k == KIND_INT8 ? " stroke-dasharray=\"7 4\"" : "");
    fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">%s, test set: %.2f%% right</text>\n", x + 48,
            yy + 18, kind_name[k], 100.0 * sum->acc[k]);
  }
  cross(f, x + 25, y + 16 + 38 * KINDS);
  fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">float32 weights quantised after training, test: "
             "%.2f%%</text>\n", x + 48, y + 16 + 38 * KINDS, 100.0 * sum->ptq_acc);
}

static void header(FILE *f, const summary *sum) {
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "font-family=\"sans-serif\" font-size=\"13\">\n",
          SVG_W, SVG_H, SVG_W, SVG_H);
  fprintf(f, "<title>Lab 8: int8 quantisation-aware training beside float32</title>\n");
  fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W, SVG_H);
  fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"18\" font-weight=\"bold\">Lab 8: int8 (em_qlinear, QAT) beside "
             "float32, MLP %d-%d-%d, batch %d</text>\n", PLOT_L, D_IN, HIDDEN, CLASSES, BATCH);
  fprintf(f, "<text x=\"%d\" y=\"50\" fill=\"#444444\">", PLOT_L);
  xml_text(f, sum->machine);
  fprintf(f, "</text>\n<text x=\"%d\" y=\"68\" fill=\"#444444\">median step %.2f ms float32, %.2f ms int8; weights "
             "%zu bytes float32, %zu bytes int8</text>\n",
          PLOT_L, sum->step[0].median, sum->step[1].median, sum->bytes[0], sum->bytes[1]);
}

static int write_svg(const char *path, const record *rec, const summary *sum) {
  FILE *f = fopen(path, "w");
  if (!f) return fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  const panel lp = loss_panel(rec), gp = gap_panel(rec, sum);
  const panel *const panels[2] = {&lp, &gp};
  header(f, sum);
  x_axis(f, rec->steps, panels, 2);
  loss_grid(f, &lp);
  gap_grid(f, &gp);
  loss_curves(f, &lp, rec, sum);
  gap_curve(f, &gp, rec, sum);
  frame(f, &lp);
  frame(f, &gp);
  legend(f, sum);
  fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#444444\">Train loss at step s: batch s, before its update; test loss "
             "at step s: after it. Same seed, data, initial weights.</text>\n</svg>\n",
          PLOT_L, SVG_H - 14);
  if (ferror(f) | fclose(f)) return fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  return EM_OK;
}

/* mkdir -p: the default folder's parent, build/, may not exist yet when the program runs alone. */
static int make_dirs(const char *path) {
  char p[4096];
  if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) return fail(EM_EINVAL, "--out %s: path too long", path);
  for (char *c = p + 1;; ++c)
    if (*c == '/' || *c == 0) {
      const char keep = *c;
      *c = 0;
      if (mkdir(p, 0777) != 0 && errno != EEXIST) return fail(EM_EIO, "cannot create %s: %s", p, strerror(errno));
      if (!keep) break;
      *c = keep;
    }
  return EM_OK;
}

/* ---- main --------------------------------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f, "usage: train [--steps N] [--eval-every N] [--seed S] [--out DIR]\n"
             "  trains a %d-%d-%d MLP twice on the same synthetic data, with float32 and with int8 (em_qlinear)\n"
             "  linear layers; prints the losses, the time per step and the bytes of the weights, and writes\n"
             "  DIR/loss.csv and DIR/loss.svg.\n"
             "  --steps N       training steps (default %d)\n"
             "  --eval-every N  test-set evaluation every N steps, and after the last (default %d)\n"
             "  --seed S        the data's and the initial weights' seed (default 1)\n"
             "  --out DIR       where the files go (default %s)\n",
          D_IN, HIDDEN, CLASSES, DEFAULT_STEPS, DEFAULT_EVAL_EVERY, DEFAULT_OUT);
}

/* A whole decimal number in [lo, hi], or −1. */
static long long parse_int(const char *s, long long lo, long long hi) {
  char *end;
  errno = 0;
  const long long v = strtoll(s, &end, 10);
  return (errno || end == s || *end || v < lo || v > hi) ? -1 : v;
}

/* 0: parsed; 1: --help printed; 2: a usage error, said on stderr. */
static int parse_args(int argc, char **argv, options *opt) {
  *opt = (options){DEFAULT_STEPS, DEFAULT_EVAL_EVERY, 1, DEFAULT_OUT};
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long long n = -1;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout), 1;
    if (!v || (strcmp(a, "--steps") && strcmp(a, "--eval-every") && strcmp(a, "--seed") && strcmp(a, "--out"))) {
      fprintf(stderr, "train: %s %s\n", v ? "unknown option" : "missing value after", a);
      return usage(stderr), 2;
    }
    ++i;
    if (!strcmp(a, "--out")) {
      opt->out = v;
      continue;
    }
    if ((n = parse_int(v, !strcmp(a, "--seed") ? 0 : 1, !strcmp(a, "--seed") ? INT64_MAX : 1000000)) < 0) {
      fprintf(stderr, "train: %s %s: want a whole number%s\n", a, v, strcmp(a, "--seed") ? " from 1 to 1000000" : " >= 0");
      return 2;
    }
    if (!strcmp(a, "--steps")) opt->steps = (int)n;
    else if (!strcmp(a, "--eval-every")) opt->eval_every = (int)n;
    else opt->seed = (uint64_t)n;
  }
  return 0;
}

static int run(const options *opt) {
  model md[KINDS] = {0};
  data d = {0};
  record rec = {0};
  summary sum;
  char csv[4200], svg[4200];
  snprintf(csv, sizeof csv, "%s/loss.csv", opt->out);
  snprintf(svg, sizeof svg, "%s/loss.svg", opt->out);
  int err = make_dirs(opt->out);
  if (!err) err = data_init(&d, opt->seed);
  if (!err) err = models_init(md, opt->seed);
  if (!err) err = record_init(&rec, opt->steps);
  if (!err) {
    printf("lab 8 example: MLP %d-%d-%d, batch %d, SGD lr %g momentum %g, %d steps; float32 beside int8 "
           "(em_qlinear, quantisation-aware)\n\n", D_IN, HIDDEN, CLASSES, BATCH, LEARNING_RATE, MOMENTUM, opt->steps);
    err = train(opt, md, &d, &rec);
  }
  if (!err) err = summarise(&rec, &sum);
  if (!err) err = evaluate_ptq(&md[KIND_F32], &d, &sum);
  if (!err) print_summary(opt, &sum);
  if (!err) err = write_csv(csv, &rec);
  if (!err) err = write_svg(svg, &rec, &sum);
  if (!err) printf("\nwrote %s (every step's numbers) and %s (the chart: open it in a browser)\n", csv, svg);
  for (int k = 0; k < KINDS; ++k) model_free(&md[k]);
  return err;
}

int main(int argc, char **argv) {
  options opt;
  const int parsed = parse_args(argc, argv, &opt);
  if (parsed) return parsed == 1 ? EXIT_OK : EXIT_ERROR;
  const int err = run(&opt);
  free_all();
  if (err) {
    const char *detail = g_error[0] ? g_error : em_error_detail();
    fprintf(stderr, "train: %s%s%s\n", em_strerror(err), *detail ? ": " : "", detail);
    return EXIT_ERROR;
  }
  return EXIT_OK;
}
