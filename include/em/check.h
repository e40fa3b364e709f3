/* The closeness check: is a float32 result close to its float64 oracle, and if not, where and how.
 *
 * The rule is numpy's allclose, element-wise: |got − want| ≤ atol + rtol·|want|, with these
 * non-finite rules:
 *   - want finite, got NaN or ±Inf: a mismatch (a kernel that overflows or divides by zero fails);
 *   - want NaN: got must be NaN;  want ±Inf: got must be the same infinity;
 *   - −0 and +0 are equal (allclose compares values, not bit patterns).
 * An element still holding the checker's poison (EM_POISON_U32) was never written by the code under
 * test; it counts as a mismatch and, separately, as unwritten, so the message can say so.
 */
#ifndef EM_CHECK_H
#define EM_CHECK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A quiet NaN with a payload no arithmetic produces (hardware makes 0x7FC00000 or 0xFFC00000), so
 * "never written" and "computed NaN" can be told apart. Also used as the int32 poison. */
#define EM_POISON_U32 0x7FDEAD00u
/* The bfloat16 poison: a quiet NaN whose payload (0x5E) no conversion or tensor core produces
 * (they make 0x7FC0 / 0xFFC0). A bfloat16 output is filled with it two to a word. */
#define EM_POISON_BF16 0x7FDEu
/* The int8 poison: −128, which symmetric quantisation never produces (it clamps to ±127). */
#define EM_POISON_I8 ((int8_t)-128)

typedef struct em_close_report {
  int64_t n;             /* elements compared */
  int64_t mismatches;    /* elements outside the tolerance (unwritten ones included) */
  int64_t unwritten;     /* elements still holding EM_POISON_U32 */
  int64_t nonfinite;     /* NaN/Inf where the oracle is finite */
  int64_t first_index;   /* first mismatching element, −1 if none */
  double first_got, first_want;
  double first_tol;      /* what was allowed there: atol (+ atol_each) + rtol·|want| */
  int first_unwritten;   /* the first mismatch still holds the poison */
  int64_t worst_index;   /* element with the largest error relative to its tolerance, −1 if n == 0 */
  double worst_got, worst_want, worst_tol;
  double worst_tol_ratio; /* |got − want| / (atol + rtol·|want|) there; > 1 fails (∞ for NaN) */
  double max_abs_err;    /* over finite pairs */
  double max_rel_err;    /* |got − want| / |want| over finite pairs with want ≠ 0 */
  double rtol, atol;
} em_close_report;

/* Compares got[0..n) with want[0..n); fills *r; returns 1 when every element is close, else 0. */
int em_allclose_f32(const float *got, const double *want, int64_t n, double rtol, double atol,
                    em_close_report *r);

/* The same with a per-element absolute tolerance added: element i may be off by
 * atol + atol_each[i] + rtol·|want[i]| (atol_each may be NULL). For results whose rounding error
 * scales with something other than the result itself, such as a sum's with Σ|x| rather than |Σx|. */
int em_allclose_f32_each(const float *got, const double *want, const double *atol_each, int64_t n,
                         double rtol, double atol, em_close_report *r);

/* The same for bfloat16 results (em/bf16.h: the top half of a float32, as uint16 bits), each
 * widened exactly to float32 before the comparison; an element still holding EM_POISON_BF16 was
 * never written. */
int em_allclose_bf16_each(const uint16_t *got, const double *want, const double *atol_each, int64_t n,
                          double rtol, double atol, em_close_report *r);

/* Exact comparison for integer results (the int32 accumulators of lab 8): tolerances are zero. */
int em_equal_i32(const int32_t *got, const int32_t *want, int64_t n, em_close_report *r);
/* The same for int8 results (lab 8's quantised values); an element still holding EM_POISON_I8 was
 * never written. */
int em_equal_i8(const int8_t *got, const int32_t *want, int64_t n, em_close_report *r);

/* Index of the first byte-level difference between two buffers of n elements of `elem` bytes, or
 * −1 if they are equal (used to say which input element the code under test overwrote). */
int64_t em_first_difference(const void *a, const void *b, int64_t n, size_t elem);

#ifdef __cplusplus
}
#endif
#endif /* EM_CHECK_H */
