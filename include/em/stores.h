/* How the CPU references store a large output: plain stores or non-temporal (streaming) ones.
 *
 * A plain store to a line that is not in the cache first reads the line (read for ownership), so
 * writing an output larger than the caches moves its bytes twice over the memory bus. A
 * non-temporal store writes whole lines straight to memory and skips that read, but the line is
 * then not in any cache: a win only for outputs nobody reads soon, and only where the memory
 * system takes streaming stores well. Which way is faster is the machine's business: on the AMD
 * EPYC course VMs streaming stores write up to twice as fast as plain ones; on the Intel Xeon VMs
 * they were slower. So the choice is measured, once per machine, with the peaks (peaks.c), and
 * cached with them; a program that never measured the peaks measures it on its first question.
 *
 * EM_STORES=plain|stream in the environment overrides the measurement and the size rule below (for
 * side-by-side timing).
 */
#ifndef EM_STORES_H
#define EM_STORES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when an output of out_bytes should be written with non-temporal stores on this machine:
 * streaming stores measured faster here for this kind of loop (write_share: the written bytes'
 * share of all bytes the loop moves; at 0.75 or more it counts as writing only, below as a copy;
 * today one answer serves both, peaks.c says why) and the output is larger than half the
 * last-level cache (a smaller one stays in the cache for the next call or reader, where plain
 * stores win; the other half is the inputs' and everyone else's). Safe to call from any thread;
 * the first call in a program that has not measured the peaks takes a few hundred milliseconds to
 * measure. */
int em_cpu_stream_stores(size_t out_bytes, double write_share);

/* Decides it without measuring (em_peaks_get does, from the peaks): 1 streaming stores are faster
 * here for writing only / for copying, 0 plain ones are; -1 forgets (the next question measures). */
void em_cpu_set_store_policy(int stream_writes, int stream_copies);

/* The size of the largest cache, in bytes (a guess of 32 MiB where the system does not say). */
size_t em_cpu_llc_bytes(void);

#ifdef __cplusplus
}
#endif
#endif /* EM_STORES_H */
