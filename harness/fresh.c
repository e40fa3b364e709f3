/* Fresh inputs for every timed call (fresh.h says what and why). */
#include "fresh.h"

#include "em/bf16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static size_t elem_size(em_dtype d) { return d == EM_I8 ? 1 : d == EM_BF16 ? 2 : 4; }

static size_t tensor_bytes(const em_tensor *t) { return (size_t)t->numel * elem_size(t->dtype); }

/* The buffer the code reads or writes: the working copy on the CPU track, the device's on CUDA. */
static void *code_buf(const em_fresh *f, int i) {
  return f->track == EM_TRACK_CUDA ? f->t[i].dev : f->t[i].work;
}

/* Rows along the first axis, or single elements where there is only one row. */
static int64_t rows_of(const em_tensor *t) {
  return t->ndim >= 1 && t->shape[0] >= 2 ? t->shape[0] : t->numel;
}

/* An input small beside the case's traffic: shuffled whole (fresh.h). */
static int is_small(const em_fresh *f, const em_tensor *t) { return (double)tensor_bytes(t) * 8.0 <= f->case_bytes; }

/* splitmix64: a fast, well-mixed stream; its state starts from the secret. */
static uint64_t next_u64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

static int64_t below(uint64_t *s, int64_t n) { return (int64_t)(next_u64(s) % (uint64_t)n); }

static uint64_t draw_secret(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) s = em_now_ns() ^ ((uint64_t)getpid() << 32);
  return s;
}

/* The comparison's tolerance: both outputs are within the output's tolerance of the exact answer,
 * so they may differ by twice it; a per-element tolerance (a sum's) was computed for the case's
 * first inputs, and its largest value, doubled again, covers the rows moved since. */
static void compare_tol(const em_tensor *x, double *rtol, double *atol) {
  double each = 0;
  if (x->atol_each)
    for (int64_t k = 0; k < x->numel; ++k) each = fmax(each, x->atol_each[k]);
  *rtol = 2 * x->rtol;
  *atol = 2 * x->atol + 4 * each;
}

int em_fresh_init(em_fresh *f, em_tensor *t, int nt, em_track track, double case_bytes) {
  memset(f, 0, sizeof *f);
  f->t = t;
  f->nt = nt;
  f->track = track;
  f->case_bytes = case_bytes;
  f->secret = draw_secret();
  double out_bytes = 0;
  for (int i = 0; i < nt; ++i) {
    const em_tensor *x = &t[i];
    if (x->is_scalar) continue;
    if (x->is_output) {
      out_bytes += (double)tensor_bytes(x);
      compare_tol(x, &f->rtol[i], &f->atol[i]);
      size_t bytes = (tensor_bytes(x) + 3) / 4 * 4;
      if (track == EM_TRACK_CUDA) {
        if (em_cuda_alloc(&f->snap[i], bytes) != EM_OK) return EM_ENOMEM;
      } else if (!(f->snap[i] = em_host_alloc(bytes))) {
        return EM_ENOMEM;
      }
      continue;
    }
    size_t need = is_small(f, x) ? tensor_bytes(x) : tensor_bytes(x) / (size_t)rows_of(x);
    if (need > f->scratch_bytes) f->scratch_bytes = need;
  }
  if (f->scratch_bytes && !(f->scratch = em_host_alloc(f->scratch_bytes))) return EM_ENOMEM;
  /* A small output makes a kept result cheap to copy out, so every call is compared; a large one
   * costs as much to copy as to compute, and half of the calls at random are enough. */
  f->compare_every = out_bytes * 8.0 <= case_bytes ? 1 : 2;
  return EM_OK;
}

void em_fresh_free(em_fresh *f) {
  for (int i = 0; i < EM_MAX_TENSORS; ++i) {
    if (f->track == EM_TRACK_CUDA) em_cuda_free(f->snap[i]);
    else em_host_free(f->snap[i]);
    f->snap[i] = NULL;
  }
  em_host_free(f->scratch);
  f->scratch = NULL;
}

static void swap_host(unsigned char *a, unsigned char *b, unsigned char *tmp, size_t bytes) {
  memcpy(tmp, a, bytes);
  memcpy(a, b, bytes);
  memcpy(b, tmp, bytes);
}

/* Fisher-Yates over the rows of a host buffer. */
static void shuffle_rows(unsigned char *p, int64_t rows, size_t row_bytes, uint64_t *s) {
  unsigned char tmp[256];
  for (int64_t k = rows - 1; k > 0; --k) {
    int64_t j = below(s, k + 1);
    if (j == k) continue;
    for (size_t o = 0; o < row_bytes; o += sizeof tmp) {
      size_t len = row_bytes - o < sizeof tmp ? row_bytes - o : sizeof tmp;
      swap_host(p + (size_t)k * row_bytes + o, p + (size_t)j * row_bytes + o, tmp, len);
    }
  }
}

static int vary_one(em_fresh *f, int i, uint64_t *s) {
  em_tensor *x = &f->t[i];
  int64_t rows = rows_of(x);
  size_t row_bytes = tensor_bytes(x) / (size_t)rows;
  unsigned char *p = (unsigned char *)code_buf(f, i);
  if (is_small(f, x)) {
    if (f->track == EM_TRACK_CPU) {
      shuffle_rows(p, rows, row_bytes, s);
      return EM_OK;
    }
    int err = em_cuda_copy_to_host(f->scratch, p, tensor_bytes(x));
    if (err != EM_OK) return err;
    shuffle_rows((unsigned char *)f->scratch, rows, row_bytes, s);
    return em_cuda_copy_to_device(p, f->scratch, tensor_bytes(x));
  }
  int64_t r = below(s, rows), q = (r + 1 + below(s, rows - 1)) % rows;
  if (f->track == EM_TRACK_CUDA) return em_cuda_swap(p + (size_t)r * row_bytes, p + (size_t)q * row_bytes, row_bytes);
  swap_host(p + (size_t)r * row_bytes, p + (size_t)q * row_bytes, (unsigned char *)f->scratch, row_bytes);
  return EM_OK;
}

/* Element k's lowest bit flips when bit k % 64 of mix(seed ^ k / 64) is set: the same rule as
 * em_cuda_flip_low_bits, so both tracks see the same kind of change. */
static uint64_t mix64(uint64_t z) { return next_u64(&z); }

static void flip_host(unsigned char *p, int64_t n, size_t elem, uint64_t seed) {
#pragma omp parallel for schedule(static)
  for (int64_t w = 0; w < (n + 63) / 64; ++w) {
    uint64_t bits = mix64(seed ^ (uint64_t)w);
    int64_t end = (w + 1) * 64 < n ? (w + 1) * 64 : n;
    for (int64_t k = w * 64; k < end; ++k)
      /* little-endian: the lowest byte; an int8 of −127 stays (its flip is −128, which no quantised
       * operand holds) */
      if (((bits >> (k & 63)) & 1) && !(elem == 1 && p[k] == 0x81u)) p[(size_t)k * elem] ^= 1u;
  }
}

static int perturb_one(em_fresh *f, int i, uint64_t *s) {
  em_tensor *x = &f->t[i];
  uint64_t seed = next_u64(s);
  if (f->track == EM_TRACK_CUDA) return em_cuda_flip_low_bits(code_buf(f, i), x->numel, (int)elem_size(x->dtype), seed);
  flip_host((unsigned char *)code_buf(f, i), x->numel, elem_size(x->dtype), seed);
  return EM_OK;
}

int em_fresh_vary(em_fresh *f) {
  uint64_t s = f->secret ^ (0xA24BAED4963EE407u * ++f->step);
  for (int i = 0; i < f->nt; ++i) {
    const em_tensor *x = &f->t[i];
    if (x->is_output || x->is_scalar || x->numel < 1) continue;
    if (!f->perturb && x->numel < 2) continue;
    int err = f->perturb ? perturb_one(f, i, &s) : vary_one(f, i, &s);
    if (err != EM_OK) return err;
  }
  return EM_OK;
}

/* Only float outputs: the poison is a NaN no right float result can be, while any int8 or int32
 * word may be a right result. */
static int poisonable(const em_tensor *x) {
  return x->is_output && !x->is_scalar && (x->dtype == EM_F32 || x->dtype == EM_BF16 || x->dtype == EM_I8) &&
         x->numel > 0;
}

/* The poison of an output's dtype, in its own width (little-endian, as the buffers hold it); int8
 * outputs are quantised values, which never take EM_POISON_I8 (−128). */
static uint32_t poison_of(const em_tensor *x) {
  if (x->dtype == EM_I8) return (uint8_t)EM_POISON_I8;
  return x->dtype == EM_BF16 ? EM_POISON_BF16 : EM_POISON_U32;
}

int em_fresh_poison(em_fresh *f) {
  uint64_t s = f->secret ^ (0xD1B54A32D192ED03u * (uint64_t)(f->calls + 1));
  for (int i = 0; i < f->nt; ++i) {
    if (!poisonable(&f->t[i])) continue;
    uint32_t poison = poison_of(&f->t[i]);
    size_t elem = elem_size(f->t[i].dtype);
    for (int k = 0; k < EM_FRESH_POKES; ++k) {
      int64_t at = f->poke[i][k] = below(&s, f->t[i].numel);
      unsigned char *p = (unsigned char *)code_buf(f, i) + (size_t)at * elem;
      if (f->track == EM_TRACK_CPU) memcpy(p, &poison, elem);
      else {
        int err = em_cuda_copy_to_device(p, &poison, elem);
        if (err != EM_OK) return err;
      }
    }
  }
  return EM_OK;
}

/* Element `at` (of elem bytes, 2 or 4) of a buffer the code wrote, zero-extended. */
static int elem_at(const em_fresh *f, const void *base, int64_t at, size_t elem, uint32_t *w) {
  const unsigned char *p = (const unsigned char *)base + (size_t)at * elem;
  *w = 0;
  if (f->track == EM_TRACK_CPU) {
    memcpy(w, p, elem);
    return EM_OK;
  }
  return em_cuda_copy_to_host(w, p, elem);
}


static int poison_left(em_fresh *f) {
  for (int i = 0; i < f->nt; ++i) {
    if (!poisonable(&f->t[i])) continue;
    for (int k = 0; k < EM_FRESH_POKES; ++k) {
      uint32_t w;
      int err = elem_at(f, code_buf(f, i), f->poke[i][k], elem_size(f->t[i].dtype), &w);
      if (err != EM_OK) return err;
      if (w != poison_of(&f->t[i])) continue;
      snprintf(f->reason, sizeof f->reason,
               "reused work while timing: after timed call %d of the code, %s[%lld] still held the NaN the checker "
               "wrote there just before the call; the call returned without computing its whole output (every "
               "timed call gets inputs changed since the previous call)",
               f->calls, f->t[i].name, (long long)f->poke[i][k]);
      return EM_EREUSED;
    }
  }
  return EM_OK;
}

static void count_host_f32(const float *got, const float *want, int64_t n, double rtol, double atol, int64_t *count,
                           int64_t *first) {
  int64_t c = 0, at = n;
#pragma omp parallel for reduction(+ : c) reduction(min : at)
  for (int64_t k = 0; k < n; ++k) {
    uint32_t a, b;
    memcpy(&a, &got[k], 4);
    memcpy(&b, &want[k], 4);
    if (a == b || fabs((double)got[k] - (double)want[k]) <= atol + rtol * fabs((double)want[k])) continue;
    c++;
    if (k < at) at = k;
  }
  *count = c;
  *first = c ? at : -1;
}

static void count_host_bf16(const uint16_t *got, const uint16_t *want, int64_t n, double rtol, double atol,
                            int64_t *count, int64_t *first) {
  int64_t c = 0, at = n;
#pragma omp parallel for reduction(+ : c) reduction(min : at)
  for (int64_t k = 0; k < n; ++k) {
    if (got[k] == want[k]) continue;
    double g = em_bf16_to_f32(got[k]), w = em_bf16_to_f32(want[k]);
    if (fabs(g - w) <= atol + rtol * fabs(w)) continue;
    c++;
    if (k < at) at = k;
  }
  *count = c;
  *first = c ? at : -1;
}

static int compare_output(em_fresh *f, int i, int64_t *count, int64_t *first) {
  const em_tensor *x = &f->t[i];
  int cmp = x->dtype == EM_F32 ? EM_CMP_F32 : x->dtype == EM_BF16 ? EM_CMP_BF16 : EM_CMP_BITS;
  int64_t words = cmp != EM_CMP_BITS ? x->numel : (int64_t)((tensor_bytes(x) + 3) / 4);
  double rtol = f->rtol[i], atol = f->atol[i];
  if (f->track == EM_TRACK_CUDA)
    return em_cuda_count_mismatches(f->snap[i], code_buf(f, i), words, cmp, rtol, atol, count, first);
  if (cmp == EM_CMP_F32) {
    count_host_f32((const float *)f->snap[i], (const float *)code_buf(f, i), words, rtol, atol, count, first);
  } else if (cmp == EM_CMP_BF16) {
    count_host_bf16((const uint16_t *)f->snap[i], (const uint16_t *)code_buf(f, i), words, rtol, atol, count, first);
  } else {
    int64_t at = em_first_difference(f->snap[i], code_buf(f, i), words, 4);
    *first = at;
    *count = at >= 0;
  }
  return EM_OK;
}

static int snapshot(em_fresh *f) {
  for (int i = 0; i < f->nt; ++i) {
    const em_tensor *x = &f->t[i];
    if (!x->is_output || x->is_scalar) continue;
    size_t bytes = (tensor_bytes(x) + 3) / 4 * 4;
    if (f->track == EM_TRACK_CUDA) {
      int err = em_cuda_copy_device(f->snap[i], x->dev, bytes);
      if (err != EM_OK) return err;
    } else {
      memcpy(f->snap[i], x->work, bytes);
    }
  }
  return EM_OK;
}

static void mismatch_reason(em_fresh *f, int i, int64_t count, int64_t first) {
  const em_tensor *x = &f->t[i];
  char vals[160] = "";
  if (x->dtype == EM_F32 || x->dtype == EM_BF16) {
    size_t elem = elem_size(x->dtype);
    uint32_t g = 0, w = 0;
    if (elem_at(f, f->snap[i], first, elem, &g) == EM_OK && elem_at(f, code_buf(f, i), first, elem, &w) == EM_OK) {
      float gf, wf;
      if (elem == 2) g <<= 16, w <<= 16; /* a bfloat16 is the top half of a float32 */
      memcpy(&gf, &g, 4);
      memcpy(&wf, &w, 4);
      snprintf(vals, sizeof vals, ": got %.9g, the reference %.9g", gf, wf);
    }
  }
  snprintf(f->reason, sizeof f->reason,
           "reused work while timing: after timed call %d of the code, %lld of %lld elements of %s differ from the "
           "reference solution's for the same inputs (first at [%lld]%s); every timed call gets inputs changed since "
           "the previous call, so a result kept from an earlier call shows here (or the results are outside the "
           "tolerance on these inputs)",
           f->calls, (long long)count, (long long)x->numel, x->name, (long long)first, vals);
}

static int compare_with_reference(em_fresh *f, const em_call *ref) {
  int err = snapshot(f);
  if (err != EM_OK) return err;
  if ((err = ref->lab->invoke(ref)) == EM_OK && f->track == EM_TRACK_CUDA) err = em_cuda_sync();
  if (err != EM_OK) {
    f->ref_error = 1;
    return err;
  }
  f->compared++;
  for (int i = 0; i < f->nt; ++i) {
    if (!f->t[i].is_output || f->t[i].is_scalar) continue;
    int64_t count, first;
    if ((err = compare_output(f, i, &count, &first)) != EM_OK) return err;
    if (count > 0) {
      mismatch_reason(f, i, count, first);
      return EM_EREUSED;
    }
  }
  return EM_OK;
}

int em_fresh_check(em_fresh *f, const em_call *ref) {
  f->calls++;
  int err = poison_left(f);
  if (err != EM_OK) return err;
  uint64_t s = f->secret ^ (0x9FB21C651E98DF25u * (uint64_t)f->calls);
  if (f->compare_every > 1 && next_u64(&s) % f->compare_every) return EM_OK;
  return compare_with_reference(f, ref);
}
