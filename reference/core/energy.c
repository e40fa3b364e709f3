/* Energy counters: NVML for the GPU, RAPL (Linux powercap) for the CPU.
 *
 * NVML is opened with dlopen so that libem never links against the driver: a machine without an
 * NVIDIA driver still builds and runs everything, and the meter just says why it is unavailable.
 * Both counters only ever grow between wrap-arounds or resets, so a meter keeps the last raw value
 * it saw and accumulates differences; em_energy_read must therefore be called at least once per
 * wrap period (minutes for RAPL's 32-bit microjoule counters at full load), which any timed run
 * satisfies because it reads before and after.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dirent, pread and dlopen are POSIX, hidden by -std=c11 without it. */
#endif

#include "em/energy.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "em/error.h"

/* The few NVML declarations we need, written here because nvml.h ships with the CUDA toolkit and
 * may be absent on a machine that still has the driver (and hence libnvidia-ml.so.1). nvmlReturn_t
 * is a C enum, which is int-sized on every ABI we build for; the device handle is opaque. */
typedef int nvml_return;
typedef struct nvml_device_st *nvml_device;
#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3

typedef nvml_return (*nvml_init_fn)(void);
typedef nvml_return (*nvml_shutdown_fn)(void);
typedef nvml_return (*nvml_handle_fn)(unsigned int index, nvml_device *device);
typedef nvml_return (*nvml_energy_fn)(nvml_device device, unsigned long long *millijoules);
typedef const char *(*nvml_error_string_fn)(nvml_return result);

#define POWERCAP_DIR "/sys/class/powercap"

/* One RAPL package zone (one socket). */
typedef struct rapl_zone {
  int fd;               /* energy_uj, kept open: sysfs re-reads from offset 0 with pread */
  uint64_t max_uj;      /* max_energy_range_uj, where the counter wraps; 0 when unknown */
  uint64_t last_uj;     /* the raw value at the previous read */
  uint64_t total_uj;    /* accumulated since the meter was opened */
} rapl_zone;

struct em_energy_meter {
  em_energy_domain domain;

  /* NVML */
  void *lib;
  nvml_shutdown_fn nvml_shutdown;
  nvml_energy_fn nvml_energy;
  nvml_error_string_fn nvml_error_string;
  nvml_device device;
  unsigned long long last_mj;
  unsigned long long total_mj;

  /* RAPL */
  rapl_zone *zones;
  int nzones;
};

/* ------------------------------------------------------------------------------------------ */
/* NVML                                                                                        */

/* dlsym returns an object pointer; copying its bytes into the function pointer is the conversion
 * POSIX guarantees to work, without the cast that ISO C leaves undefined. */
static int load_symbol(void *lib, const char *name, void *fn, size_t fn_size) {
  void *sym = dlsym(lib, name);
  if (!sym) return 0;
  memcpy(fn, &sym, fn_size);
  return 1;
}

static const char *nvml_message(const em_energy_meter *m, nvml_return r) {
  const char *s = m->nvml_error_string ? m->nvml_error_string(r) : NULL;
  return s ? s : "unknown NVML error";
}

static int open_nvml(em_energy_meter *m) {
  m->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!m->lib)
    return em__fail(EM_ENOTSUP, "libnvidia-ml.so.1 not found (is an NVIDIA driver installed?): %s",
                    dlerror());

  nvml_init_fn init = NULL;
  nvml_handle_fn handle = NULL;
  if (!load_symbol(m->lib, "nvmlInit_v2", &init, sizeof init) ||
      !load_symbol(m->lib, "nvmlShutdown", &m->nvml_shutdown, sizeof m->nvml_shutdown) ||
      !load_symbol(m->lib, "nvmlDeviceGetHandleByIndex_v2", &handle, sizeof handle) ||
      !load_symbol(m->lib, "nvmlDeviceGetTotalEnergyConsumption", &m->nvml_energy,
                   sizeof m->nvml_energy) ||
      !load_symbol(m->lib, "nvmlErrorString", &m->nvml_error_string, sizeof m->nvml_error_string)) {
    int rc = em__fail(EM_ENOTSUP, "libnvidia-ml.so.1 lacks an NVML function libem needs (driver too old?)");
    dlclose(m->lib);
    m->lib = NULL;
    return rc;
  }

  nvml_return r = init();
  if (r != NVML_SUCCESS) {
    int rc = em__fail(EM_ENOTSUP, "NVML: cannot initialise: %s", nvml_message(m, r));
    dlclose(m->lib);
    m->lib = NULL;
    return rc;
  }
  /* From here on NVML is initialised: every failure must shut it down again. */
  r = handle(0, &m->device);
  if (r == NVML_SUCCESS) r = m->nvml_energy(m->device, &m->last_mj);
  if (r != NVML_SUCCESS) {
    int rc = r == NVML_ERROR_NOT_SUPPORTED
                 ? em__fail(EM_ENOTSUP, "NVML: energy counter not supported on this GPU")
                 : em__fail(EM_ENOTSUP, "NVML: cannot read the energy of GPU 0: %s", nvml_message(m, r));
    m->nvml_shutdown();
    dlclose(m->lib);
    m->lib = NULL;
    return rc;
  }
  return EM_OK;
}

static int read_nvml(em_energy_meter *m, double *joules) {
  unsigned long long mj = 0;
  nvml_return r = m->nvml_energy(m->device, &mj);
  if (r != NVML_SUCCESS) return em__fail(EM_EIO, "NVML: cannot read the GPU energy: %s", nvml_message(m, r));
  /* The counter is 64-bit millijoules since the driver loaded, so it never wraps in practice; a
   * smaller value means the driver was reloaded, and that interval is lost rather than made up. */
  if (mj >= m->last_mj) m->total_mj += mj - m->last_mj;
  m->last_mj = mj;
  *joules = (double)m->total_mj * 1e-3;
  return EM_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* RAPL                                                                                        */

/* Reads one unsigned decimal from a sysfs file through an open descriptor. Returns 0 on success,
 * else an errno value. */
static int read_u64_fd(int fd, uint64_t *out) {
  char buf[32]; /* a 64-bit decimal has at most 20 digits, plus the newline */
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n < 0) return errno;
  if (n == 0) return EIO;
  buf[n] = '\0';
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno || end == buf) return EIO;
  *out = (uint64_t)v;
  return 0;
}

static int read_u64_path(const char *path, uint64_t *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int e = read_u64_fd(fd, out);
  close(fd);
  return e;
}

/* Top-level zones are intel-rapl:N; their sub-zones (intel-rapl:N:M: core, uncore, dram) are
 * already counted inside the package, so they are skipped. */
static int is_top_zone(const char *name) {
  int idx = 0, used = 0;
  if (sscanf(name, "intel-rapl:%d%n", &idx, &used) != 1) return 0;
  return name[used] == '\0' && idx >= 0;
}

/* Only "package-N" zones are summed: some laptops also expose a "psys" (whole-platform) zone as
 * another top-level intel-rapl:N, which would count the package twice. A zone without a name file
 * (very old kernels) is taken to be a package. */
static int is_package_zone(const char *zone) {
  char path[512];
  snprintf(path, sizeof path, POWERCAP_DIR "/%s/name", zone);
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  char name[64] = "";
  int ok = fgets(name, sizeof name, f) != NULL;
  fclose(f);
  return !ok || strncmp(name, "package", 7) == 0;
}

static void close_rapl(em_energy_meter *m) {
  for (int i = 0; i < m->nzones; ++i) close(m->zones[i].fd);
  free(m->zones);
  m->zones = NULL;
  m->nzones = 0;
}

static int open_rapl(em_energy_meter *m) {
  DIR *dir = opendir(POWERCAP_DIR);
  if (!dir)
    return em__fail(EM_ENOTSUP, "no RAPL counter at " POWERCAP_DIR " (virtual machine, or permission): %s",
                    strerror(errno));

  int cap = 0;
  int first_errno = 0;           /* why the first package that could not be opened failed */
  char first_path[512] = "";
  struct dirent *ent;
  while ((ent = readdir(dir)) != NULL) {
    if (!is_top_zone(ent->d_name) || !is_package_zone(ent->d_name)) continue;

    char path[512];
    snprintf(path, sizeof path, POWERCAP_DIR "/%s/energy_uj", ent->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    uint64_t first = 0;
    int e = fd < 0 ? errno : read_u64_fd(fd, &first);
    if (e) {
      if (fd >= 0) close(fd);
      if (!first_errno) {
        first_errno = e;
        snprintf(first_path, sizeof first_path, "%s", path);
      }
      continue;
    }

    if (m->nzones == cap) {
      int ncap = cap ? 2 * cap : 4; /* a few sockets at most; grow geometrically past that */
      rapl_zone *z = realloc(m->zones, (size_t)ncap * sizeof *z);
      if (!z) {
        close(fd);
        closedir(dir);
        close_rapl(m);
        return em__fail(EM_ENOMEM, "out of memory while opening the RAPL counters");
      }
      m->zones = z;
      cap = ncap;
    }
    rapl_zone *z = &m->zones[m->nzones++];
    z->fd = fd;
    z->last_uj = first;
    z->total_uj = 0;
    snprintf(path, sizeof path, POWERCAP_DIR "/%s/max_energy_range_uj", ent->d_name);
    if (read_u64_path(path, &z->max_uj)) z->max_uj = 0;
  }
  closedir(dir);

  if (m->nzones > 0) return EM_OK;
  if (first_errno == EACCES || first_errno == EPERM)
    return em__fail(EM_ENOTSUP,
                    "RAPL counter %s is not readable: %s (since Linux 5.10 only root may read it; "
                    "an administrator can allow it with chmod a+r)",
                    first_path, strerror(first_errno));
  if (first_errno)
    return em__fail(EM_ENOTSUP, "RAPL counter %s is not readable: %s", first_path, strerror(first_errno));
  return em__fail(EM_ENOTSUP, "no RAPL counter at " POWERCAP_DIR " (virtual machine, or permission)");
}

static int read_rapl(em_energy_meter *m, double *joules) {
  uint64_t sum_uj = 0;
  for (int i = 0; i < m->nzones; ++i) {
    rapl_zone *z = &m->zones[i];
    uint64_t now = 0;
    int e = read_u64_fd(z->fd, &now);
    if (e) return em__fail(EM_EIO, "cannot read a RAPL energy counter: %s", strerror(e));
    if (now >= z->last_uj)
      z->total_uj += now - z->last_uj;
    else if (z->max_uj > z->last_uj)
      /* The counter wrapped at max_energy_range_uj back to 0 (assumed once: see the top). */
      z->total_uj += (z->max_uj - z->last_uj) + now;
    /* else: the range is unknown, so that interval is dropped rather than guessed. */
    z->last_uj = now;
    sum_uj += z->total_uj;
  }
  *joules = (double)sum_uj * 1e-6;
  return EM_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Public                                                                                      */

int em_energy_open(em_energy_meter **out, em_energy_domain domain) {
  if (!out) return em__fail(EM_EINVAL, "em_energy_open: out is NULL");
  *out = NULL;
  if (domain != EM_ENERGY_CPU && domain != EM_ENERGY_GPU)
    return em__fail(EM_EINVAL, "em_energy_open: unknown energy domain %d", (int)domain);

  em_energy_meter *m = calloc(1, sizeof *m);
  if (!m) return em__fail(EM_ENOMEM, "out of memory while opening an energy meter");
  m->domain = domain;
  int rc = domain == EM_ENERGY_GPU ? open_nvml(m) : open_rapl(m);
  if (rc != EM_OK) {
    free(m);
    return rc;
  }
  *out = m;
  return EM_OK;
}

int em_energy_read(em_energy_meter *m, double *joules) {
  if (!m || !joules) return em__fail(EM_EINVAL, "em_energy_read: NULL argument");
  return m->domain == EM_ENERGY_GPU ? read_nvml(m, joules) : read_rapl(m, joules);
}

const char *em_energy_source(const em_energy_meter *m) {
  if (!m) return "n/a";
  return m->domain == EM_ENERGY_GPU ? "NVML" : "RAPL";
}

void em_energy_close(em_energy_meter *m) {
  if (!m) return;
  if (m->domain == EM_ENERGY_GPU) {
    if (m->lib) {
      m->nvml_shutdown(); /* NVML counts inits, so this ends only our own */
      dlclose(m->lib);
    }
  } else {
    close_rapl(m);
  }
  free(m);
}
