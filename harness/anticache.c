/* Step 5 of a case, the anti-cache check: after the timing, the inputs are refilled in place (same
 * pointers) from another stream, then two rows of one input swapped, and each time the code runs
 * once more and its output is judged again. Code that caches its results between calls (keyed on
 * the pointers, the size or a few sampled elements) looks fast in step 4 and fails here.
 *
 * The inputs are shared by the run (which calls the code on them) and --verify (which recomputes
 * what the code should have produced): both derive them from the seed alone, in the same order.
 */
#include "checker_internal.h"

#include <stdio.h>
#include <string.h>

/* Stream names of the anti-cache inputs: mixed into the case id, so the refill draws from streams
 * no case of the run uses for its first call (same value distribution, other values). */
#define REFILL_STREAM 0x9E3779B9u
#define SWAP_STREAM 0x85EBCA6Bu

/* REFILL fills every input from other streams; SWAP (applied after REFILL) exchanges two rows
 * (along the first axis; two elements when the tensor has one row) of the largest input, so every
 * row stays a valid row of the case and only a few elements move: a cache keyed on a few sampled
 * elements does not see the change. Returns 0 when the variant does not apply (no input with two
 * rows or elements to swap). */
int em__vary_inputs(em__ctx *x, int variant) {
  em_tensor *t = x->b.t;
  if (variant == EM__VARIANT_REFILL) {
    x->lab->fill(x->c, x->o->seed, x->case_id ^ REFILL_STREAM, t);
    return 1;
  }
  em_tensor *big = NULL;
  for (int i = 0; i < x->b.nt; ++i)
    if (!t[i].is_output && !t[i].is_scalar && (!big || t[i].numel > big->numel)) big = &t[i];
  if (!big || big->numel < 2) return 0;
  int64_t rows = big->ndim >= 1 && big->shape[0] >= 2 ? big->shape[0] : big->numel;
  size_t slab = (size_t)(big->numel / rows) * em__dtype_size(big->dtype);
  em_rng_key key = {x->o->seed, x->case_id ^ SWAP_STREAM, 0};
  int64_t r = (int64_t)(em_rng_u32(key, 0) % (uint64_t)rows);
  int64_t s = (r + 1 + (int64_t)(em_rng_u32(key, 1) % (uint64_t)(rows - 1))) % rows;
  unsigned char *a = (unsigned char *)big->host + (size_t)r * slab, *b = (unsigned char *)big->host + (size_t)s * slab;
  for (size_t i = 0; i < slab; ++i) {
    unsigned char tmp = a[i];
    a[i] = b[i];
    b[i] = tmp;
  }
  return 1;
}

/* The oracle allocates the per-element tolerances afresh. */
void em__rerun_oracle(em__ctx *x) {
  for (int i = 0; i < x->b.nt; ++i) {
    em_host_free(x->b.t[i].atol_each);
    x->b.t[i].atol_each = NULL;
  }
  x->lab->oracle(x->c, x->b.t);
}

/* Not cryptographic: equal digests only ever name a result that is wrong anyway, so a forged
 * collision gains nothing. */
uint64_t em__outputs_digest(const em__bufs *b) {
  uint64_t h = 0xcbf29ce484222325u;
  for (int i = 0; i < b->nt; ++i) {
    if (!b->t[i].is_output) continue;
    const uint32_t *w = (const uint32_t *)b->t[i].host;
    int64_t words = (int64_t)(em__data_bytes(&b->t[i]) / 4);
    for (int64_t k = 0; k < words; ++k) h = (h ^ w[k]) * 0x100000001b3u;
    h = (h ^ (uint64_t)i) * 0x100000001b3u;
  }
  return h;
}

/* All poison still: after a call that did write, the mark of code that skips its work when it
 * thinks it has seen the inputs before. */
int em__outputs_untouched(const em__bufs *b) {
  for (int i = 0; i < b->nt; ++i) {
    const em_tensor *t = &b->t[i];
    if (!t->is_output) continue;
    const uint32_t *w = (const uint32_t *)t->host;
    int64_t words = (int64_t)((size_t)t->numel * em__dtype_size(t->dtype) / 4);
    for (int64_t k = 0; k < words; ++k)
      if (w[k] != em__poison_word(t->dtype)) return 0;
  }
  return 1;
}

void em__anti_cache_verdict(em_case_result *r, const em_case_result *vr, int stale) {
  r->status = EM_FAIL;
  r->points = 0;
  r->close = vr->close;
  r->have_close = vr->have_close;
  r->output = vr->output;
  r->same_cause = 0;
  if (stale) {
    r->kind = EM_FAIL_STALE;
    snprintf(r->reason, sizeof r->reason, EM_STALE_REASON);
    snprintf(r->hint, sizeof r->hint,
             "the output must be computed from the inputs on every call; the checker changes them in place "
             "after timing, so a result kept from an earlier call is found");
  } else {
    r->kind = vr->kind;
    snprintf(r->reason, sizeof r->reason, "on a later call, after the checker changed the inputs in place (same pointers): %s", vr->reason);
    snprintf(r->hint, sizeof r->hint, "%s", vr->hint);
  }
}

/* One anti-cache call of the code under test, its inputs in place: EM_OK when it ran (its output
 * is then judged), else the case errs. */
static int call_again(em__ctx *x) {
  int err = em__prepare(x->track, &x->b);
  if (err != EM_OK) {
    em__env_fail(x->run, x->r, err, "preparing the anti-cache inputs");
    return err;
  }
  em__watch(x);
  err = x->lab->invoke(&x->call);
  if (err == EM_OK && x->track == EM_TRACK_CUDA) err = em_cuda_check_launch(x->part->student_name[x->track]);
  em__unwatch();
  if (err != EM_OK) {
    em_case_result *r = x->r;
    r->status = EM_ERROR;
    r->kind = EM_FAIL_ERROR;
    r->points = 0;
    snprintf(r->reason, sizeof r->reason, "on a later call, after the checker changed the inputs in place: %s",
             *em_error_detail() ? em_error_detail() : em_strerror(err));
    em__probe_cuda_context(x->track);
  }
  return err;
}

/* Each variant's inputs go into the same buffers the timed calls used, the code runs once more,
 * and its output is judged (and written to --outputs, for --verify to judge again). Only after the
 * timing, which it must not disturb; only when timing ran, since without repeated calls a cache
 * gains nothing. */
void em__anti_cache(em__ctx *x, uint64_t before) {
  for (int v = EM__VARIANT_REFILL; v < EM__NVARIANTS; ++v) {
    if (!em__vary_inputs(x, v)) continue;
    em__rerun_oracle(x);
    if (call_again(x) != EM_OK) return;
    em_case_result vr;
    em__side_result(&vr, x->lab, x->c);
    int err = em__judge(x->track, &x->b, &vr);
    if (err != EM_OK) {
      em__env_fail(x->run, x->r, err, "reading the anti-cache results back");
      return;
    }
    if (x->o->outputs_dir && (err = em__write_outputs(x, v)) != EM_OK) {
      em__env_fail(x->run, x->r, err, "writing --outputs");
      return;
    }
    uint64_t now = em__outputs_digest(&x->b);
    if (vr.status != EM_PASS) {
      if (x->r->status == EM_PASS) em__anti_cache_verdict(x->r, &vr, now == before || em__outputs_untouched(&x->b));
      return;
    }
    before = now;
  }
}
