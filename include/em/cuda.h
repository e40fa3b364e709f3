/* The GPU side of libem's core: is there a usable device, error checking after a launch, and the
 * timing of one GPU run (L2 flushed, CUDA events, a check that no work outlived the stop event).
 *
 * These are plain C functions: a build without nvcc gets versions that return EM_ENOCUDA, so the
 * harness and the tests call them unconditionally and report the CUDA track as skipped.
 */
#ifndef EM_CUDA_H
#define EM_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when libem was built with nvcc, else 0. */
int em_cuda_built(void);

typedef struct em_cuda_device {
  char name[256]; /* as long as cudaDeviceProp::name */
  int major, minor;     /* compute capability */
  int sm_count;
  size_t l2_bytes;
  size_t global_bytes;
  int driver_version, runtime_version;
} em_cuda_device;

/* EM_OK when device 0 can run kernels (fills *dev if not NULL); otherwise EM_ENOCUDA or EM_ENODEV
 * with the reason in em_error_detail() ("no CUDA-capable device is detected"). Creates the CUDA
 * context: under Criterion call it inside a test, never before the fork. */
int em_cuda_probe(em_cuda_device *dev);

/* After a launch of code under test: the launch error, then the execution error (synchronising).
 * On failure returns EM_ECUDA with "<what>: <CUDA's message>" as the detail. */
int em_cuda_check_launch(const char *what);

/* Synchronises the device; EM_ECUDA with the detail on an asynchronous error. */
int em_cuda_sync(void);

/* Times one GPU run of fn(arg), which launches work on the default stream:
 *   the L2 is flushed (a read over twice its size) so every run starts from device memory, and
 *   then min(written_bytes, L2) bytes of it are written: the L2 is left holding as many dirty
 *   lines as the run writes, as the run before would leave it, so that a run which only reads
 *   is not charged the write-back of a flush's writes, nor a run which writes spared its own;
 *   CUDA events bracket the call (the flush is queued before the start event, so the launch
 *   latency of the host hides behind it, as in Triton's do_bench);
 *   the device is then synchronised and, if that took longer than
 *   the margin below, work outlived the stop event (another stream, a forgotten dependency): the
 *   run is then timed by the host's clock around call + device synchronisation instead, and
 *   *outlived is set to 1 so the report can say so.
 * fn returns EM_OK or an error code, which is passed on. */
typedef int (*em_cuda_work_fn)(void *arg);
int em_cuda_time_run(em_cuda_work_fn fn, void *arg, int flush_l2, size_t written_bytes, double *seconds,
                     int *outlived);

/* Device-side helpers of the checker's timing (check.c, fresh.c): none of them is timed.
 * em_cuda_copy_device: cudaMemcpy device to device. em_cuda_swap: exchanges two non-overlapping
 * ranges of `bytes` bytes. em_cuda_count_mismatches: compares n elements of got with want on the
 * device, as float32 or bfloat16 values (the allclose rule |got − want| <= atol + rtol·|want|,
 * bitwise-equal values always agree, NaN in got never does) or as 32-bit words compared exactly;
 * *count gets how many differ and *first the first such index (−1 when none).
 * em_cuda_flip_low_bits: flips the lowest bit of each of n elements of elem_bytes (1, 2 or 4)
 * where a hash of (seed, index) says so, about half of them: fresh inputs for compute-bound labs
 * (an int8 of −127 is left alone, so int8 operands stay in [−127, 127]). */
enum { EM_CMP_BITS = 0, EM_CMP_F32 = 1, EM_CMP_BF16 = 2 };
int em_cuda_copy_device(void *dst, const void *src, size_t bytes);
int em_cuda_swap(void *a, void *b, size_t bytes);
int em_cuda_count_mismatches(const void *got, const void *want, int64_t n, int cmp, double rtol, double atol,
                             int64_t *count, int64_t *first);
int em_cuda_flip_low_bits(void *p, int64_t n, int elem_bytes, uint64_t seed);

/* Frees the scratch buffers (L2 flush buffer, events) held by em_cuda_time_run. */
void em_cuda_release_scratch(void);

#ifdef __cplusplus
}
#endif
#endif /* EM_CUDA_H */
