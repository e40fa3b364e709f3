/* Error codes of libem.
 *
 * Every fallible libem function returns EM_OK (0) or one negative code from the table below; the
 * library never prints and never exits: the program decides what to tell the user. Where a code
 * alone says too little (which CUDA call failed, and why), the function also leaves a sentence in
 * a per-thread buffer that em_error_detail() returns until the next failure on that thread.
 */
#ifndef EM_ERROR_H
#define EM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message): one row per error, so the enum and both lookup functions cannot drift. */
#define EM_ERRNO_MAP(X)                                                                 \
  X(OK, 0, "success")                                                                   \
  X(EINVAL, -1, "invalid argument")                                                     \
  X(ENOMEM, -2, "out of memory")                                                        \
  X(EIO, -3, "input/output error")                                                      \
  X(ENOENT, -4, "no such file or entry")                                                \
  X(EPARSE, -5, "malformed input")                                                      \
  X(ENOCUDA, -6, "this build has no CUDA support (nvcc was not found when it was built)") \
  X(ENODEV, -7, "no usable CUDA device")                                                \
  X(ECUDA, -8, "a CUDA call failed")                                                    \
  X(ENOTSUP, -9, "not supported on this machine")                                       \
  X(ERANGE, -10, "value out of range")                                                  \
  X(EREUSED, -11, "a result was reused instead of computed from the call's inputs")

typedef enum em_err {
#define EM__ERR_ENUM(name, value, msg) EM_##name = (value),
  EM_ERRNO_MAP(EM__ERR_ENUM)
#undef EM__ERR_ENUM
} em_err;

/* A sentence for the code, e.g. "out of memory"; "unknown error" for codes not in the table. */
const char *em_strerror(int err);

/* The code's name, e.g. "EM_ENOMEM"; "EM_UNKNOWN" for codes not in the table. */
const char *em_err_name(int err);

/* The detail the last failing libem call on this thread left ("cudaMalloc(1073741824 bytes):
 * out of memory"), or "" when it left none. The pointer stays valid until the next libem call. */
const char *em_error_detail(void);

/* Records a printf-style detail for em_error_detail() and returns err, so that a failure path
 * reads `return em__fail(EM_ECUDA, "cudaMalloc: %s", msg);`. Internal to libem and its harness. */
int em__fail(int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif /* EM_ERROR_H */
