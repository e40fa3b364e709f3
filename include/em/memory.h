/* Aligned host buffers and device buffers.
 *
 * Host buffers are aligned to 64 bytes (a cache line, and the widest SIMD load) so that vector
 * code never splits a load across lines; large ones are aligned to 2 MiB so the kernel can back
 * them with huge pages, which matters for bandwidth-bound loops over gigabytes. Free a buffer with
 * the function of the family that allocated it.
 */
#ifndef EM_MEMORY_H
#define EM_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EM_HOST_ALIGN 64

/* Returns a buffer of at least `bytes` bytes (uninitialised), or NULL with EM_ENOMEM's detail set.
 * bytes == 0 returns a valid, freeable pointer. */
void *em_host_alloc(size_t bytes);
void em_host_free(void *p);

/* Device memory through cudaMalloc (never managed memory). *out is NULL after a failure. */
int em_cuda_alloc(void **out, size_t bytes);
int em_cuda_free(void *dev);
int em_cuda_copy_to_device(void *dev, const void *host, size_t bytes);
int em_cuda_copy_to_host(void *host, const void *dev, size_t bytes);

/* Fills n 32-bit words with one pattern (the poison of the checker, on host or device). */
void em_fill_u32(void *p, int64_t n, uint32_t pattern);
int em_cuda_fill_u32(void *dev, int64_t n, uint32_t pattern);

#ifdef __cplusplus
}
#endif
#endif /* EM_MEMORY_H */
