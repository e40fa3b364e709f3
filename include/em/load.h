/* Whether other programs are using this process's CPUs: the machine's busy time on the CPUs we may
 * run on (/proc/stat, hypervisor steal included) less our own CPU time, over wall time × those CPUs.
 *
 * A timing taken while others hold the cores is slower than the machine, and a roofline fraction
 * computed from it reads low; a ratio to the reference timed interleaved with it stays honest (both
 * sides lose alike). So every timed run takes these marks around each case's timing and says what
 * it saw, and the peaks use the same measure before they are cached.
 *
 * Linux only; elsewhere (or without /proc) a mark is not ok and the share is NAN ("not known").
 */
#ifndef EM_LOAD_H
#define EM_LOAD_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct em_load_mark {
  int ok;
  int cpus;        /* how many CPUs this process may use */
  double wall_s;   /* monotonic clock */
  double busy_s;   /* busy CPU-seconds so far of those CPUs: everything but idle and iowait */
  double ours_s;   /* this process's CPU time so far, all threads */
} em_load_mark;

/* The machine's clocks now. */
em_load_mark em_load_now(void);

/* The share of the CPUs' time between two marks that other programs (or the hypervisor) used: in
 * [0, 1], NAN when either mark is not ok or no time passed. Resolution: /proc/stat's tick (10 ms
 * per CPU), so a window of a second or more reads to about 1%. */
double em_load_others(em_load_mark from, em_load_mark to);

/* Others' share above this means the timing was contended: the peaks' quiet share (0.8) seen from
 * the other side. */
#define EM_LOAD_BUSY_SHARE 0.2
/* The shortest window whose share is worth a verdict: /proc/stat counts in 10 ms ticks per CPU, so
 * a window of 50 ms on 2 CPUs moves by 10% with one tick; half a second, by 1%. */
#define EM_LOAD_MIN_WINDOW_S 0.5

#ifdef __cplusplus
}
#endif
#endif /* EM_LOAD_H */
