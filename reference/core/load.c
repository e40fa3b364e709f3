/* em/load.h: others' use of our CPUs, from /proc/stat. */
#include "em/load.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "em/stats.h"

static double our_cpu_s(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return -1.0;
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

em_load_mark em_load_now(void) {
  em_load_mark m = {0};
  m.wall_s = em_now_s();
  m.ours_s = our_cpu_s();
#if defined(__linux__) && defined(CPU_ISSET)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return m;
  long tick = sysconf(_SC_CLK_TCK);
  FILE *f = fopen("/proc/stat", "r");
  if (!f || tick <= 0) {
    if (f) fclose(f);
    return m;
  }
  char line[512];
  unsigned long long busy = 0;
  int cpus = 0;
  while (fgets(line, sizeof line, f)) {
    int cpu;
    unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
    /* "cpuN user nice system idle iowait irq softirq steal ...": the aggregate "cpu " line has no
     * number and is skipped; guest time is already inside user. */
    if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &user, &nice, &sys, &idle, &iowait, &irq,
               &softirq, &steal) != 9)
      continue;
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &set)) continue;
    busy += user + nice + sys + irq + softirq + steal;
    cpus++;
  }
  fclose(f);
  if (cpus == 0 || m.ours_s < 0) return m;
  m.busy_s = (double)busy / (double)tick;
  m.cpus = cpus;
  m.ok = 1;
#endif
  return m;
}

double em_load_others(em_load_mark from, em_load_mark to) {
  double wall = to.wall_s - from.wall_s;
  if (!from.ok || !to.ok || from.cpus != to.cpus || !(wall > 0)) return NAN;
  double others = (to.busy_s - from.busy_s) - (to.ours_s - from.ours_s);
  double share = others / (wall * (double)from.cpus);
  return share < 0 ? 0.0 : share > 1 ? 1.0 : share;
}
