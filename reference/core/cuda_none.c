/* Stand-ins for the CUDA half of libem's core in a build without nvcc: each says why the GPU is
 * not available, so callers report the CUDA track as skipped instead of failing to link. */
#include "em/cuda.h"
#include "em/error.h"
#include "em/memory.h"
#include "em/rng.h"

#define NO_CUDA() em__fail(EM_ENOCUDA, "this build has no CUDA support: nvcc was not found when libem was built (install the CUDA toolkit and run `make clean` and the build again)")

int em_cuda_built(void) { return 0; }
int em_cuda_probe(em_cuda_device *dev) {
  (void)dev;
  return NO_CUDA();
}
int em_cuda_check_launch(const char *what) {
  (void)what;
  return NO_CUDA();
}
int em_cuda_sync(void) { return NO_CUDA(); }
int em_cuda_alloc(void **out, size_t bytes) {
  (void)bytes;
  *out = NULL;
  return NO_CUDA();
}
int em_cuda_free(void *dev) { return dev ? NO_CUDA() : EM_OK; }
int em_cuda_copy_to_device(void *dev, const void *host, size_t bytes) {
  (void)dev, (void)host, (void)bytes;
  return NO_CUDA();
}
int em_cuda_copy_to_host(void *host, const void *dev, size_t bytes) {
  (void)dev, (void)host, (void)bytes;
  return NO_CUDA();
}
int em_cuda_fill_u32(void *dev, int64_t n, uint32_t pattern) {
  (void)dev, (void)n, (void)pattern;
  return NO_CUDA();
}
int em_cuda_rng_fill_u32(uint32_t *dev_x, int64_t n, em_rng_key key) {
  (void)dev_x, (void)n, (void)key;
  return NO_CUDA();
}
int em_cuda_rng_fill_uniform_f32(float *dev_x, int64_t n, em_rng_key key, float lo, float hi) {
  (void)dev_x, (void)n, (void)key, (void)lo, (void)hi;
  return NO_CUDA();
}
int em_cuda_time_run(em_cuda_work_fn fn, void *arg, int flush_l2, size_t written_bytes, double *seconds,
                     int *outlived) {
  (void)fn, (void)arg, (void)flush_l2, (void)written_bytes, (void)seconds, (void)outlived;
  return NO_CUDA();
}
void em_cuda_release_scratch(void) {}
int em_cuda_copy_device(void *dst, const void *src, size_t bytes) {
  (void)dst, (void)src, (void)bytes;
  return NO_CUDA();
}
int em_cuda_swap(void *a, void *b, size_t bytes) {
  (void)a, (void)b, (void)bytes;
  return NO_CUDA();
}
int em_cuda_flip_low_bits(void *p, int64_t n, int elem_bytes, uint64_t seed) {
  (void)p, (void)n, (void)elem_bytes, (void)seed;
  return NO_CUDA();
}
int em_cuda_count_mismatches(const void *got, const void *want, int64_t n, int cmp, double rtol, double atol,
                             int64_t *count, int64_t *first) {
  (void)got, (void)want, (void)n, (void)cmp, (void)rtol, (void)atol;
  *count = 0;
  *first = -1;
  return NO_CUDA();
}
