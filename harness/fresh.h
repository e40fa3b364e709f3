/* Fresh inputs for every timed call: the time the checker reports is that of computing outputs
 * from inputs the code has not seen in its previous call, whatever the code keeps between calls.
 *
 * Before every timed call (of the code under test, the reference and the naive baseline alike,
 * outside the timed region) every input changes: an input that is small beside the case's traffic
 * (x and y of an outer product) is shuffled whole, so that every output element moves and no
 * fix-up of an old result is cheaper than computing it; a large one has two of its rows (two
 * elements of a 1-D input) exchanged, so that telling what changed means reading all of it. Which
 * rows, and which calls are checked below, come from a secret drawn when the case starts: the
 * code cannot predict them from the seed.
 *
 * A compute-bound lab (em_lab.fresh_mode = EM_FRESH_PERTURB: attention, a matrix product) gets
 * every input element's lowest bit flipped at random instead: there, a change to two rows would
 * leave most of the output as it was (the other heads, the other queries) for code that keeps
 * results per head to copy out, while one pass over the inputs costs little beside the work.
 *
 * Before each timed call of the code under test a few output elements get the checker's poison,
 * and after it they must have been written: code that skips the call is caught every time. After
 * some of its calls (every call when the outputs are small, so copying a kept result out is cheap;
 * every other call on average otherwise) its whole output is compared with the reference
 * solution's on the same inputs: a result kept from an earlier call is caught there.
 */
#ifndef EM_HARNESS_FRESH_H
#define EM_HARNESS_FRESH_H

#include "lab_spec.h"

#define EM_FRESH_POKES 4

typedef struct em_fresh {
  em_tensor *t;
  int nt;
  em_track track;
  double case_bytes;
  int perturb;       /* EM_FRESH_PERTURB: flip low bits of every input instead of moving rows */
  uint64_t secret;   /* drawn per case from the system's entropy: the code cannot know it */
  uint64_t step;     /* calls varied so far */
  int64_t poke[EM_MAX_TENSORS][EM_FRESH_POKES];
  void *snap[EM_MAX_TENSORS];   /* the candidate's outputs while the reference recomputes them */
  double rtol[EM_MAX_TENSORS], atol[EM_MAX_TENSORS]; /* each output's comparison tolerance (fresh.c) */
  void *scratch;                /* a shuffled input on its way (host), or a row in transit */
  size_t scratch_bytes;
  unsigned compare_every;       /* 1: every candidate call; 2: half of them, at random */
  int calls, compared;          /* the candidate's timed calls so far, and how many were compared */
  int ref_error;                /* the reference itself failed while comparing (not the code's fault) */
  char reason[768];             /* why the case failed (EM_EREUSED) */
} em_fresh;

/* Prepares f for the case whose tensors are t (buffers allocated, inputs in place). EM_OK or
 * EM_ENOMEM. */
int em_fresh_init(em_fresh *f, em_tensor *t, int nt, em_track track, double case_bytes);
void em_fresh_free(em_fresh *f);

/* Before any timed call: changes every input in the buffers the code reads. */
int em_fresh_vary(em_fresh *f);

/* Before a timed call of the code under test: poisons a few output elements. */
int em_fresh_poison(em_fresh *f);

/* After that call: the poisoned elements must be written, and at times the whole output must agree
 * with the reference's (called through ref on the same inputs). EM_OK, EM_EREUSED with f->reason
 * set, or the error of a failing step (a CUDA call, the reference). */
int em_fresh_check(em_fresh *f, const em_call *ref);

#endif
