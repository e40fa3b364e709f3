#include "em/memory.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "em/error.h"

/* From 4 MiB up, align to 2 MiB: transparent huge pages can then back the buffer from its first
 * byte, which saves TLB misses in bandwidth-bound loops over large tensors. */
#define HUGE_ALIGN ((size_t)2 << 20)
#define HUGE_FROM ((size_t)4 << 20)

#ifdef EM_SANITIZE
/* The AddressSanitizer build (make labN SANITIZE=1): exactly the bytes asked for, so that the first
 * byte past a tensor is past its allocation, where ASan sees a stray read or write. The rounding up
 * below would hand out up to 63 bytes (2 MiB for large buffers) that belong to nobody but are
 * nonetheless ours to touch. posix_memalign keeps the alignment without aligned_alloc's rule that
 * the size be a multiple of it (which ASan enforces). No huge pages: nothing is timed here. */
void *em_host_alloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, EM_HOST_ALIGN, bytes ? bytes : 1) != 0) {
    em__fail(EM_ENOMEM, "host allocation of %zu bytes failed", bytes);
    return NULL;
  }
  return p;
}
#else
void *em_host_alloc(size_t bytes) {
  size_t align = bytes >= HUGE_FROM ? HUGE_ALIGN : EM_HOST_ALIGN;
  /* aligned_alloc wants a multiple of the alignment; round up (and never ask for 0). */
  size_t rounded = (bytes + align - 1) / align * align;
  if (rounded < bytes) {
    em__fail(EM_ENOMEM, "host allocation of %zu bytes overflows", bytes);
    return NULL;
  }
  void *p = aligned_alloc(align, rounded ? rounded : align);
  if (!p) {
    em__fail(EM_ENOMEM, "host allocation of %zu bytes failed", bytes);
    return NULL;
  }
#ifdef MADV_HUGEPAGE
  /* Where the kernel grants huge pages only on request (THP "madvise", a common default), ask:
   * faulting a large tensor in takes half the time, and bandwidth-bound loops over it run a few
   * percent faster. A refusal only costs that time, so its result is ignored. */
  if (align == HUGE_ALIGN) (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}
#endif

void em_host_free(void *p) { free(p); }

void em_fill_u32(void *p, int64_t n, uint32_t pattern) {
  uint32_t *w = (uint32_t *)p;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) w[i] = pattern;
}
