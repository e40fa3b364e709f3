/* Machine peaks, measured on this machine, the denominators of every roofline fraction.
 *
 * Datasheet numbers are leads, not ceilings: what a course machine, a laptop or a shared GPU really
 * sustains is what a student's kernel is judged against. Measured once and cached as JSON under
 * build/ (keyed by CPU model, thread count and GPU name, so a different machine re-measures).
 *
 *   copy bandwidth: the best of a few large copies (plain loop, memcpy per thread and a loop of
 *                   non-temporal stores on the CPU; cudaMemcpy device-to-device and a vectorised
 *                   copy kernel on the GPU), counting bytes read plus bytes written, as the labs
 *                   count their bytes;
 *   read bandwidth: a sum over a large array (read only);
 *   write bandwidth: filling a large array, the better of plain and non-temporal stores on the
 *                   CPU (a plain store first reads its line: see em/stores.h);
 *   each case's roof is the bandwidth of its own mix of reads and writes, em_peaks_pattern_gbps;
 *   FMA rate:       independent fused multiply-add chains, 2 FLOP each, all cores / all SMs;
 *   int8 rate:      independent int8 dot-product chains, 2 operations per product: on the CPU the
 *                   instruction lab 8's reference uses (AVX-512 VNNI, AVX2, plain C), on the GPU
 *                   the tensor cores (mma.sync m16n8k32 s8 with int32 sums).
 */
#ifndef EM_PEAKS_H
#define EM_PEAKS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct em_peaks {
  char cpu_name[128];
  int cpu_threads;          /* OpenMP threads the CPU numbers were measured with */
  double cpu_copy_gbps;     /* GB/s = 1e9 bytes/s, read + write: the better of the two below */
  double cpu_fma_gflops;
  double cpu_int8_gops;     /* int8 products and their sums, 1e9 per second: the roof of int8 matrix work */
  double cpu_read_gbps;     /* read only */
  double cpu_write_gbps;    /* write only: the better of the two below */
  double cpu_copy_plain_gbps, cpu_copy_nt_gbps;   /* plain stores; non-temporal stores (0: none here) */
  double cpu_write_plain_gbps, cpu_write_nt_gbps;
  int have_gpu;
  char gpu_name[128];
  double gpu_copy_gbps;
  double gpu_fma_gflops;
  /* The tensor cores' rate on bfloat16 inputs with float32 sums (mma.sync m16n8k16), the roof of
   * bfloat16 matrix work; Hopper's wgmma can pass it, and the roof is then the reference's rate. */
  double gpu_bf16_tc_gflops;
  /* The tensor cores' rate on int8 inputs with int32 sums (mma.sync m16n8k32), the roof of int8
   * matrix work (lab 8's product); wgmma can pass it, and the roof is then the reference's rate. */
  double gpu_int8_tc_gops;
  double gpu_read_gbps, gpu_write_gbps;
  int from_cache;           /* 1 when loaded from the cache file rather than measured now */
  /* Of the CPU measurement's wall time × the threads that could run at once (cpu_threads, at most
   * the cores this process may use), the share its threads really ran: near 1 on a quiet machine.
   * 0 when the CPU numbers came from the cache. */
  double cpu_share;
  /* cpu_share was below EM_PEAKS_QUIET_SHARE: other programs had the cores part of the time, so
   * the CPU numbers are low; they serve this run but are not cached. */
  int cpu_contended;
  /* The CPU numbers are not this machine's limits: measured contended now, or loaded from a cache
   * that a contended measurement was written to (EM_PEAKS_CACHE_UNDER_LOAD). No speed is called
   * impossible against them. */
  int cpu_unreliable;
} em_peaks;

/* The least cpu_share of a measurement worth caching. A quiet 2-core VM measured 0.95-1.0; with
 * one other busy program per core, about 0.5. */
#define EM_PEAKS_QUIET_SHARE 0.8

/* Measures the CPU peaks with `threads` OpenMP threads (0: the OpenMP default). */
int em_peaks_measure_cpu(em_peaks *p, int threads);

/* Measures the GPU peaks (EM_ENOCUDA / EM_ENODEV where there is none). */
int em_peaks_measure_cuda(em_peaks *p);

/* Flags of em_peaks_get. */
enum {
  EM_PEAKS_GPU = 1,              /* the GPU part too */
  EM_PEAKS_CACHE_UNDER_LOAD = 2, /* cache a contended CPU measurement too (runs that time nothing) */
};

/* Loads the peaks for this machine from cache_path, or measures what is missing (the GPU part only
 * with EM_PEAKS_GPU) and rewrites the file, except after a contended CPU measurement (unless
 * EM_PEAKS_CACHE_UNDER_LOAD): that one serves this run only. A missing or unreadable cache is not
 * an error: it is re-measured; failing to write it is reported in em_error_detail() but still
 * returns EM_OK. */
int em_peaks_get(const char *cache_path, int threads, unsigned flags, em_peaks *p);

/* The bandwidth (GB/s, reads plus writes) that a mix of reads and writes can reach, write_share
 * being the written bytes' share of all bytes (0 read only, 0.5 a copy, 1 write only): the time per
 * byte interpolated linearly between the three measured mixes. 0 where the peaks lack a number. */
double em_peaks_pattern_gbps(const em_peaks *p, int gpu, double write_share);

/* The CPU's model name from /proc/cpuinfo ("unknown CPU" elsewhere). */
void em_cpu_name(char *buf, unsigned long len);

#ifdef __cplusplus
}
#endif
#endif /* EM_PEAKS_H */
