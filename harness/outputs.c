/* The files a run writes of its calls: --outputs (the outputs of every checked call, which
 * em-check --verify judges again in a process with no student code in it) and --dump (a case's
 * inputs, outputs and the oracle's answer, for a student to load into numpy).
 *
 * --outputs: one flat folder; each output tensor of each call in its own file:
 *   <DIR>/lab<N>-<track>-<part>-<slug>[.refill|.swap].<tensor>.npy
 * where slug is the case name with every byte but [A-Za-z0-9] written as _ and two hex digits
 * ("n=4099 prime" -> n_3d4099_20prime): one name per case, whatever its name holds.
 */
#include "checker_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The part of an --outputs file name that says which call wrote it. */
static const char *const variant_suffix[EM__NVARIANTS] = {"", ".refill", ".swap"};

static int is_alnum(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static void case_key(const em_lab *lab, em_track track, const em_case *c, char *buf, size_t len) {
  int n = snprintf(buf, len, "lab%d-%s-%c-", lab->number, em__track_names[track], c->part);
  size_t j = n > 0 ? (size_t)n : 0;
  for (const unsigned char *p = (const unsigned char *)c->name; *p && j + 4 < len; ++p) {
    if (is_alnum(*p)) buf[j++] = (char)*p;
    else j += (size_t)snprintf(buf + j, len - j, "_%02x", *p);
  }
  buf[j] = 0;
}

static void output_path(const char *dir, const em_lab *lab, em_track track, const em_case *c, int variant,
                        const em_tensor *t, char *buf, size_t len) {
  char key[256];
  case_key(lab, track, c, key, sizeof key);
  snprintf(buf, len, "%s/%s%s.%s.npy", dir, key, variant_suffix[variant], t->name);
}

int em__write_outputs(const em__ctx *x, int variant) {
  const char *dir = x->o->outputs_dir;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return em__fail(EM_EIO, "cannot create the outputs folder %s: %s", dir, strerror(errno));
  for (int i = 0; i < x->b.nt; ++i) {
    const em_tensor *t = &x->b.t[i];
    if (!t->is_output) continue;
    char path[1400];
    output_path(dir, x->lab, x->track, x->c, variant, t, path, sizeof path);
    int err = em_npy_write(path, em__npy_descr(t->dtype), em__dtype_size(t->dtype), t->host, t->ndim, t->shape);
    if (err != EM_OK) return err;
  }
  return EM_OK;
}

int em__read_outputs(em__ctx *x, const char *dir, em_track track, int variant, char *why, size_t len) {
  for (int i = 0; i < x->b.nt; ++i) {
    em_tensor *t = &x->b.t[i];
    if (!t->is_output) continue;
    char path[1400];
    output_path(dir, x->lab, track, x->c, variant, t, path, sizeof path);
    const char *slash = strrchr(path, '/');
    if (!em__npy_read(path, slash ? slash + 1 : path, t, why, len)) return 0;
  }
  return 1;
}

/* --dump DIR: DIR/lab<N>-<track>-<part>-<name, non-alphanumerics as _>/<tensor>.npy, and
 * <output>_want.npy beside each output (float64, or int32 for exact outputs). DIR exists (em-check
 * made it). Past EM__DUMP_WARN_BYTES in all, once, a warning with the way to dump less. Returns
 * EM_OK or the error of a file that could not be written. */
int em__dump_case(const em__ctx *x, em_run *run) {
  char dir[1024], slug[64];
  size_t j = 0;
  for (const char *p = x->c->name; *p && j + 1 < sizeof slug; ++p) slug[j++] = is_alnum((unsigned char)*p) ? *p : '_';
  slug[j] = 0;
  double bytes = 0;
  for (int i = 0; i < x->b.nt; ++i)
    bytes += (double)x->b.t[i].numel * (double)(em__dtype_size(x->b.t[i].dtype) + (x->b.t[i].is_output ? 8 : 0));
  if (!run->dump_warned && run->dump_bytes + bytes > EM__DUMP_WARN_BYTES) {
    run->dump_warned = 1;
    fprintf(stderr, "em-check: --dump is writing %.0f MB for case \"%s\" (%.0f MB so far): dump one case with "
            "--case NAME (em-check --list shows the names)\n", bytes / 1e6, x->c->name, run->dump_bytes / 1e6);
  }
  snprintf(dir, sizeof dir, "%s/lab%d-%s-%c-%s", x->o->dump_dir, x->lab->number, em__track_names[x->track], x->c->part,
           slug);
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) return em__fail(EM_EIO, "cannot create %s: %s", dir, strerror(errno));
  for (int i = 0; i < x->b.nt; ++i) {
    const em_tensor *t = &x->b.t[i];
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.npy", dir, t->name);
    int err = em_npy_write(path, em__npy_descr(t->dtype), em__dtype_size(t->dtype), t->host, t->ndim, t->shape);
    if (err == EM_OK && t->is_output) {
      run->dump_files++;
      snprintf(path, sizeof path, "%s/%s_want.npy", dir, t->name);
      err = t->want ? em_npy_write(path, "<f8", 8, t->want, t->ndim, t->shape)
                    : em_npy_write(path, "<i4", 4, t->want_i32, t->ndim, t->shape);
    }
    if (err != EM_OK) return err;
    run->dump_files++;
  }
  run->dump_bytes += bytes;
  return EM_OK;
}
