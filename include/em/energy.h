/* Energy counters: NVML on NVIDIA GPUs (loaded with dlopen, so nothing links against the driver),
 * RAPL through the Linux powercap files on CPUs. Where neither is readable the meter cannot be
 * opened (EM_ENOTSUP) and reports say "n/a": never a made-up number.
 */
#ifndef EM_ENERGY_H
#define EM_ENERGY_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum em_energy_domain { EM_ENERGY_CPU = 0, EM_ENERGY_GPU = 1 } em_energy_domain;

typedef struct em_energy_meter em_energy_meter;

/* Opens a meter for the domain (GPU: device 0). EM_ENOTSUP with the reason in em_error_detail()
 * when no counter is readable here. */
int em_energy_open(em_energy_meter **out, em_energy_domain domain);

/* Cumulative joules since an arbitrary origin; take differences. Handles counter wrap-around. */
int em_energy_read(em_energy_meter *m, double *joules);

/* "NVML", "RAPL" */
const char *em_energy_source(const em_energy_meter *m);

void em_energy_close(em_energy_meter *m);

#ifdef __cplusplus
}
#endif
#endif /* EM_ENERGY_H */
