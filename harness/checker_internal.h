/* The checker's internals, shared by its files and by nothing else (em__ names):
 *
 *   check.c      a case from start to verdict: buffers, the checked call, the verdict, --verify
 *   timing.c     step 4: the timed calls, the figures and the performance points
 *   anticache.c  step 5: the calls on inputs changed in place, and the inputs they get
 *   outputs.c    the --outputs files (for --verify) and the --dump folders
 *   npy.c        the .npy format: writing it, and reading a hostile file back
 */
#ifndef EM_HARNESS_CHECKER_INTERNAL_H
#define EM_HARNESS_CHECKER_INTERNAL_H

#include <string.h>

#include "checker.h"

/* Every tensor is followed by a guard of EM__GUARD_WORDS words. After an output, guard words that
 * must survive the run: a write past the end (i <= n, a kernel without its `if (i < n)`, up to
 * 1023 threads beyond) lands there and is reported instead of silently corrupting memory. After an
 * input, zeros, so that a read past the end gets 0.0 every time rather than whatever the allocator
 * left there (possibly a guard word, which would hide the stray write it feeds). */
#define EM__GUARD_WORDS 1024
#define EM__GUARD_BYTES (EM__GUARD_WORDS * 4)
/* Under a sanitizer (em_run_opts.sanitize) there are none: a read past the end of an input would
 * land in its zeros, inside the allocation, where neither AddressSanitizer nor compute-sanitizer's
 * memcheck can see it; a write past an output is the tool's finding then. (The data itself is still
 * whole words: an int8 tensor whose length is not a multiple of 4 keeps up to 3 bytes of slack.) */
static inline int64_t em__guard_words(const em_run_opts *o) { return o->sanitize ? 0 : EM__GUARD_WORDS; }
/* Not the output poison: a stray write of a value read from poisoned memory (NaN + c keeps the
 * NaN's payload) would leave the poison in place and go unseen. */
#define EM__GUARD_U32 0x7FDEAD11u

static inline size_t em__dtype_size(em_dtype d) { return d == EM_I8 ? 1 : d == EM_BF16 ? 2 : 4; }

/* The word an output is filled with before a run: the poison of its dtype, two to a word for
 * bfloat16 (the float32 poison's halves would read as two ordinary bfloat16 numbers). */
static inline uint32_t em__poison_word(em_dtype d) {
  if (d == EM_I8) return 0x80808080u; /* EM_POISON_I8 four to a word */
  return d == EM_BF16 ? (uint32_t)EM_POISON_BF16 << 16 | EM_POISON_BF16 : EM_POISON_U32;
}

/* A tensor's data in whole words; its guard follows. */
static inline size_t em__data_bytes(const em_tensor *t) {
  return ((size_t)t->numel * em__dtype_size(t->dtype) + 3) / 4 * 4;
}

extern const char *const em__track_names[EM_NTRACKS]; /* "cpu", "cuda" */

/* An empty result for a side verdict (an anti-cache variant, a --verify file) of case c of lab:
 * judging reads the lab (its inputs_at) and the case, so both are set. */
static inline void em__side_result(em_case_result *r, const em_lab *lab, const em_case *c) {
  memset(r, 0, sizeof *r);
  r->lab = lab;
  r->c = *c;
}

typedef struct em__bufs {
  em_tensor t[EM_MAX_TENSORS];
  int nt;
  int64_t guard_words; /* after each tensor: em__guard_words of the run */
} em__bufs;

/* One case on one track while it runs: what each of its steps needs. */
typedef struct em__ctx {
  const em_lab *lab;
  const em_part *part;
  const em_case *c;
  em_track track;      /* whose buffers: the verification's are on the host, whatever r->track */
  const em_run_opts *o;
  em_run *run;
  em_case_result *r;
  em__bufs b;
  em_call call;        /* the code under test */
  uint32_t case_id;    /* names the case's random streams */
  char what[384];      /* "lab 1 part (a) case ...": what a crash report says was running */
} em__ctx;

/* ---- check.c ---- */

/* Before and after each call of the code under test: arms the crash report (and the --timeout
 * alarm) with x->what, and disarms it. */
void em__watch(const em__ctx *x);
void em__unwatch(void);
/* Fresh inputs, poisoned outputs and their guards before a checked call. */
int em__prepare(em_track track, em__bufs *b);
/* Compares outputs and inputs after a checked call; fills the verdict of r. EM_OK, or an
 * environment error (copying back from the GPU failed). */
int em__judge(em_track track, em__bufs *b, em_case_result *r);
/* The checker itself failed (not the code under test): the case errs, the run exits 2. */
void em__env_fail(em_run *run, em_case_result *r, int err, const char *doing);
/* After a CUDA error in the code under test the context may be unusable (an illegal address is
 * sticky): probe it once; if it is gone, the remaining CUDA cases are skipped with the reason. */
void em__probe_cuda_context(em_track track);

/* ---- timing.c ---- */

/* Step 4: the code interleaved with the reference and the naive baseline. Returns 1 when the
 * anti-cache calls come next: the case passed, or failed for reused work. */
int em__time_case(em__ctx *x);
/* Its figures once time_s and ref_time_s are in: GB/s, GFLOP/s and the roof of the case's mix of
 * reads and writes (never below the reference's own rate in the run); then the impossible-speed
 * flag (checker.h, EM_IMPOSSIBLE_ROOF). */
void em__roofline(em_track track, const em_run_opts *o, const em__bufs *b, em_case_result *r);
void em__flag_impossible(em_track track, const em_run_opts *o, const em__bufs *b, em_case_result *r);

/* ---- anticache.c ---- */

/* Which call of a case: the first (checked) one, or one of the anti-cache calls after the timing. */
enum { EM__VARIANT_MAIN = 0, EM__VARIANT_REFILL = 1, EM__VARIANT_SWAP = 2, EM__NVARIANTS = 3 };

/* Turns the inputs' host buffers into those of the variant (from the seed alone, so that a run and
 * --verify agree); 0 when the variant does not apply to the case. */
int em__vary_inputs(em__ctx *x, int variant);
/* The oracle again, for changed inputs. */
void em__rerun_oracle(em__ctx *x);
/* A digest of the outputs' host buffers ("the same output as the call before"), and whether the
 * call wrote no output element at all. */
uint64_t em__outputs_digest(const em__bufs *b);
int em__outputs_untouched(const em__bufs *b);
/* The verdict of an anti-cache call (judged into vr) folded into the case's result. */
void em__anti_cache_verdict(em_case_result *r, const em_case_result *vr, int stale);
/* Step 5: the anti-cache calls of a case that passed and was timed; before: the digest of the
 * outputs of the first call. */
void em__anti_cache(em__ctx *x, uint64_t before);

/* ---- outputs.c ---- */

int em__write_outputs(const em__ctx *x, int variant);
/* Reads the outputs of a call another run wrote (--verify); 1, or 0 with why. */
int em__read_outputs(em__ctx *x, const char *dir, em_track track, int variant, char *why, size_t len);
/* More than this much in one --dump run is worth a warning (a lab 3 run writes 1.1 GB). */
#define EM__DUMP_WARN_BYTES 300e6
int em__dump_case(const em__ctx *x, em_run *run); /* counts the files and bytes in run */

/* ---- npy.c ---- */

/* The .npy descriptor of a dtype: "<f4", "|i1", "<i4". */
const char *em__npy_descr(em_dtype d);
/* Reads the output tensor t from the .npy file at path (file: its name for messages) into t->host;
 * the file is hostile. 1, or 0 with why (naming the file). */
int em__npy_read(const char *path, const char *file, const em_tensor *t, char *why, size_t len);

#endif /* EM_HARNESS_CHECKER_INTERNAL_H */
