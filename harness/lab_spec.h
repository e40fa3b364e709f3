/* The lab spec (harness side; include/em/lab.h is the students' TODO marker): everything the checker
 * needs to know about one lab, in one struct.
 *
 * A lab is data plus six small callbacks: which tensors a case has, how to fill the inputs, the
 * oracle, how to call an implementation, its FLOP and byte counts, and which cases are valid for a
 * part. The checker (check.c) does the rest identically for every lab: poisoning, input
 * checksums, closeness, timing, the report. Adding a lab = one harness/specs/<name>.c defining
 * em_lab_<name> (its case table in rows: specs/spec.h) plus one line in registry.c's EM_LABS.
 */
#ifndef EM_HARNESS_LAB_SPEC_H
#define EM_HARNESS_LAB_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "em/em.h"

/* How many elements an array has: the counts of a spec (parts, cases, value kinds, dims) come from
 * its arrays, so a row added is a row counted. */
#define EM_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Any function pointer, cast back to its real type by the lab's invoke(). */
typedef void (*em_fn)(void);
#define EM_FN(f) ((em_fn)(f))

/* Reference CUDA functions exist only in builds with nvcc; a spec names them through this. */
#if EM_HAVE_CUDA
#define EM_CUDA_FN(f) EM_FN(f)
#else
#define EM_CUDA_FN(f) ((em_fn)0)
#endif

typedef enum em_track { EM_TRACK_CPU = 0, EM_TRACK_CUDA = 1, EM_NTRACKS = 2 } em_track;
#define EM_TRACK_BIT(t) (1u << (t))
#define EM_TRACKS_ALL (EM_TRACK_BIT(EM_TRACK_CPU) | EM_TRACK_BIT(EM_TRACK_CUDA))

/* Who is called: the code under test (the student's, or in SOLUTION mode the reference), the
 * reference solution, the naive baseline. */
typedef enum em_impl { EM_IMPL_CANDIDATE = 0, EM_IMPL_REFERENCE = 1, EM_IMPL_NAIVE = 2, EM_NIMPLS = 3 } em_impl;

/* EM_BF16: bfloat16 as uint16 bits (em/bf16.h); outputs are compared after exact widening. */
typedef enum em_dtype { EM_F32 = 0, EM_I8 = 1, EM_I32 = 2, EM_BF16 = 3 } em_dtype;

#define EM_MAX_TENSORS 8
/* A tensor has at most 4 axes (attention's batch, head, sequence, feature); a case is described
 * by up to 6 numbers (attention's b, h, n, m, d and the causal flag). */
#define EM_MAX_DIMS 4
#define EM_MAX_CASE_DIMS 6

typedef struct em_tensor {
  const char *name;
  em_dtype dtype;
  int is_output;
  int is_scalar;   /* passed by value; lives on the host only */
  int ndim;
  int64_t shape[EM_MAX_DIMS];
  int64_t numel;
  /* Tolerance of an output, with the reason printed beside it. */
  double rtol, atol;
  const char *tol_why;
  /* Optional per-element absolute tolerance, added to atol: allocated (em_host_alloc) and filled
   * by the lab's oracle when an element's error bound is not proportional to its value (a sum's
   * grows with Σ|x|); freed by the checker. */
  double *atol_each;
  /* Buffers, owned by the checker. host: the pristine inputs / the result read back. work: what
   * the CPU code gets. dev: what the GPU code gets. want: the oracle (float64 for float outputs,
   * want_i32 for exact integer outputs). */
  void *host, *work, *dev;
  double *want;
  int32_t *want_i32;
} em_tensor;

/* A case. dim[] and values mean what the lab says (lab 1: dim[0] = n). */
typedef struct em_case {
  char part;
  char name[48];
  int64_t dim[EM_MAX_CASE_DIMS];
  int values;           /* index into the lab's value_kinds */
  unsigned tracks;      /* EM_TRACK_BIT mask; 0 means both */
  double points;        /* correctness points when the case passes */
  double perf_points;   /* performance points: full at ≤ 1.2× the reference time */
  int hidden;           /* from the instructor's file: shape and values not printed */
} em_case;

typedef struct em_part {
  char id;
  const char *title;
  /* Per track: the student's function name (for messages), and the three implementations. */
  const char *student_name[EM_NTRACKS];
  em_fn student[EM_NTRACKS];
  em_fn reference[EM_NTRACKS];
  em_fn naive[EM_NTRACKS];
} em_part;

/* Another of the reference library's implementations of a part, timed beside the reference
 * solution by `make bench` (em-check --alternatives, speed cases only) so that its table shows
 * what else the library offers at the same work: lab 7's float32 attention on the tensor cores
 * (3xTF32) beside the FMA kernel the students write, lab 8's int8 forward with AVX2 beside VNNI.
 * Never a candidate, never scored. fn[track] NULL: none on that track. unavailable: NULL, or why
 * this machine cannot run it (the row is skipped with that reason). */
typedef struct em_alternative {
  char part;
  const char *label;      /* short: "3xTF32", "avx2" */
  em_fn fn[EM_NTRACKS];
  const char *(*unavailable)(em_track track);
} em_alternative;

/* Everything one call needs: invoke() picks pointers out of t by track. */
typedef struct em_call {
  const struct em_lab *lab;
  const em_case *c;
  em_track track;
  em_impl impl;
  int student_code; /* 1 when fn is the student's own (its CUDA functions return void) */
  em_fn fn;
  em_tensor *t;
  int nt;
} em_call;

/* The pointer a call hands to the code for tensor i: work (CPU) or dev (CUDA). */
static inline void *em_call_arg(const em_call *call, int i) {
  return call->track == EM_TRACK_CUDA ? call->t[i].dev : call->t[i].work;
}

/* em_lab.fresh_mode */
enum { EM_FRESH_ROWS = 0, EM_FRESH_PERTURB = 1 };

typedef struct em_lab {
  int number;
  const char *name;       /* "add": the name of every file of the lab */
  const char *folder;     /* "lab1-add" */
  const char *title;      /* "add a constant" */
  const char *student_file[EM_NTRACKS]; /* "add.c", "add.cu" within labs/<folder>/ */
  const em_part *parts;
  int nparts;
  const em_case *cases;
  int ncases;
  const char *const *value_kinds; /* names of the value distributions, for hidden-case files */
  int nvalue_kinds;
  int ndims;              /* how many of dim[] a case uses */
  const char *const *dim_names;

  /* Describes the tensors of case c (names, shapes, dtypes, tolerances); returns their count. */
  int (*describe)(const em_case *c, em_tensor *t);
  /* Fills the inputs' host buffers; tensor i draws from the stream (seed, case, i). */
  void (*fill)(const em_case *c, uint64_t seed, uint32_t case_id, em_tensor *t);
  /* Writes want / want_i32 of every output from the inputs' host buffers. */
  void (*oracle)(const em_case *c, em_tensor *t);
  /* Calls call->fn; returns EM_OK or an error (CUDA reference launches report launch errors). */
  int (*invoke)(const em_call *call);
  double (*flops)(const em_case *c);
  double (*bytes)(const em_case *c);  /* fewest bytes: each input read once, each output written once */
  /* How timed calls get fresh inputs (fresh.h): 0, rows exchanged or small inputs shuffled, for
   * memory-bound labs; EM_FRESH_PERTURB, every element's lowest bit flipped at random, for
   * compute-bound ones, where one pass over the inputs costs little beside the work and where a
   * change to a few rows would leave most of the output (other heads, other rows) as it was. */
  int fresh_mode;
  /* Optional: how many of case c's operations (of flops(c)) are int8 products summed in int32 (lab
   * 8's forward, alone in part (b) and inside the layer's step in part (d)). Those are held to the
   * int8 rate (em_peaks cpu_int8_gops, gpu_int8_tc_gops), which int8 dot-product instructions
   * reach at several times the float32 FMA rate, and the rest to the FMA rate: the roof's time is
   * the sum of the two. NULL: no int8 products in the lab. */
  double (*int8_ops)(const em_case *c);
  /* NULL when the case is valid for its part, else why not (hidden cases are checked with it). */
  const char *(*invalid)(const em_case *c);
  /* Optional: writes into buf the inputs that element `index` of output tensor t[out] is computed
   * from ("x[5] = 0.25, y[3] = -1.5"), read from the inputs' host buffers; the first wrong
   * element's inputs are what reveals most bugs (a ReLU of an input instead of the product shows
   * as a negative input beside a zero output). NULL: not shown. */
  void (*inputs_at)(const em_case *c, const em_tensor *t, int out, int64_t index, char *buf, size_t len);
  /* Optional: the library's other implementations of some parts (em_alternative). */
  const em_alternative *alternatives;
  int nalternatives;
} em_lab;

/* The registry (registry.c): every lab, in course order. */
extern const em_lab *const em_labs[];
extern const int em_nlabs;
const em_lab *em_lab_find(int number);

/* Whether this binary's candidate is the reference solution (candidate.c, set by SOLUTION=1). */
extern const int em_candidate_is_solution;
/* The lab this binary was built for, 0 for all (candidate.c). */
extern const int em_candidate_lab;

#endif /* EM_HARNESS_LAB_SPEC_H */
