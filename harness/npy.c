/* .npy files (format version 1.0, little-endian, C order): writing one (--dump, --outputs), and
 * reading back one another process wrote. That file is hostile, written by the student's process
 * for --verify: opened without following links or blocking on a FIFO, required to be a regular file
 * whose header names exactly the tensor's dtype and shape and whose size is exactly the header
 * plus the data. */
#include "checker_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *em__npy_descr(em_dtype d) {
  /* bfloat16 has no numpy dtype: its bits as little-endian uint16 (widen with
   * (a.astype(np.uint32) << 16).view(np.float32), exactly). */
  static const char *const descr[] = {"<f4", "|i1", "<i4", "<u2"};
  return descr[d];
}

int em_npy_write(const char *path, const char *descr, size_t elem, const void *data, int ndim,
                 const int64_t *shape) {
  char header[256], dims[160] = "";
  size_t used = 0;
  int64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    used += (size_t)snprintf(dims + used, sizeof dims - used, "%lld,%s", (long long)shape[d],
                             d + 1 < ndim ? " " : "");
    numel *= shape[d];
  }
  if (ndim > 1) dims[strlen(dims) - 1] = 0; /* (3, 4) but (3,) */
  int len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     descr, dims);
  /* Magic (6) + version (2) + header length (2) + header + '\n', padded to a multiple of 64. */
  int total = 10 + len + 1;
  int pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  if (!f) return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(errno));
  uint16_t hlen = (uint16_t)(len + pad + 1);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
  int ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(header, 1, (size_t)len, f) == (size_t)len;
  for (int i = 0; i < pad; ++i) ok &= fputc(' ', f) != EOF;
  ok &= fputc('\n', f) != EOF;
  ok &= fwrite(data, elem, (size_t)numel, f) == (size_t)numel;
  int e = errno;
  if (fclose(f) != 0 || !ok) return em__fail(EM_EIO, "cannot write %s: %s", path, strerror(ok ? errno : e));
  return EM_OK;
}

/* ---- reading a hostile file ------------------------------------------------------------------- */

/* A shape as Python writes a tuple: "1025," "3, 4" "". */
static void fmt_shape(char *buf, size_t len, const int64_t *shape, int ndim) {
  size_t u = 0;
  buf[0] = 0;
  for (int k = 0; k < ndim && u < len; ++k)
    u += (size_t)snprintf(buf + u, len - u, "%s%lld", k ? ", " : "", (long long)shape[k]);
  if (ndim == 1 && u < len) snprintf(buf + u, len - u, ",");
}

/* The file opened for reading, a regular file (*st filled); -1 with why. */
static int open_regular(const char *path, const char *file, struct stat *st, char *why, size_t len) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) snprintf(why, len, "output file %s is missing", file);
    else if (errno == ELOOP) snprintf(why, len, "output file %s is a symbolic link", file);
    else snprintf(why, len, "output file %s cannot be opened: %s", file, strerror(errno));
    return -1;
  }
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    snprintf(why, len, "output file %s is not a regular file", file);
    close(fd);
    return -1;
  }
  return fd;
}

/* The preamble (magic, version 1.0, the header's length) and the header text after it, NUL-ended
 * (malloc'd; its length in *hlen); NULL with why. */
static char *read_header(int fd, const char *file, size_t *hlen, char *why, size_t len) {
  unsigned char pre[10];
  if (read(fd, pre, sizeof pre) != (ssize_t)sizeof pre || memcmp(pre, "\x93NUMPY", 6) != 0) {
    snprintf(why, len, "output file %s is not an .npy file", file);
    return NULL;
  }
  if (pre[6] != 1 || pre[7] != 0) {
    snprintf(why, len, "output file %s: .npy version %d.%d, want 1.0", file, pre[6], pre[7]);
    return NULL;
  }
  *hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
  char *header = (char *)malloc(*hlen + 1);
  if (!header) {
    snprintf(why, len, "output file %s: out of memory for its header", file);
    return NULL;
  }
  if (read(fd, header, *hlen) != (ssize_t)*hlen) {
    snprintf(why, len, "output file %s is truncated in its header", file);
    free(header);
    return NULL;
  }
  header[*hlen] = 0;
  return header;
}

/* The 'descr' value of a header with no NUL inside, or "" when there is none. */
static void header_descr(const char *header, size_t hlen, char *descr, size_t cap) {
  descr[0] = 0;
  const char *d = strstr(header, "'descr':");
  if (strlen(header) != hlen || !d) return;
  d += 8;
  while (*d == ' ') d++;
  size_t k = 0;
  if (*d == '\'')
    for (++d; *d && *d != '\'' && k + 1 < cap; ++d) descr[k++] = *d;
  descr[k] = 0;
  if (*d != '\'') descr[0] = 0;
}

/* The tuple after 'shape': ("(3, 4)", "(5,)", "()"); 1 when it is well formed, with its dims. */
static int header_shape(const char *sh, int64_t shape[EM_MAX_DIMS + 1], int *ndim) {
  *ndim = 0;
  for (sh += 8; *sh == ' '; ++sh) {
  }
  if (*sh != '(') return 0;
  for (const char *p = sh + 1;;) {
    while (*p == ' ') p++;
    if (*p == ')') return 1;
    if (!(*p >= '0' && *p <= '9') || *ndim > EM_MAX_DIMS) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || v < 0) return 0;
    shape[(*ndim)++] = v;
    p = end;
    while (*p == ' ') p++;
    if (*p == ',') p++;
    else if (*p != ')') return 0;
  }
}

/* Whether the header describes exactly t: its dtype, C order, its shape; else why not. */
static int header_matches(const char *header, size_t hlen, const char *file, const em_tensor *t, char *why, size_t len) {
  /* {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
  char descr[16];
  header_descr(header, hlen, descr, sizeof descr);
  const char *f = strstr(header, "'fortran_order':"), *sh = strstr(header, "'shape':");
  if (!descr[0] || !f || !sh) {
    snprintf(why, len, "output file %s: malformed .npy header", file);
    return 0;
  }
  if (strcmp(descr, em__npy_descr(t->dtype)) != 0) {
    snprintf(why, len, "output file %s: dtype '%s', want '%s'", file, descr, em__npy_descr(t->dtype));
    return 0;
  }
  for (f += 16; *f == ' '; ++f) {
  }
  if (strncmp(f, "False", 5) != 0) {
    snprintf(why, len, "output file %s: not in C order", file);
    return 0;
  }
  int64_t shape[EM_MAX_DIMS + 1];
  int ndim;
  int shape_ok = header_shape(sh, shape, &ndim);
  int same = shape_ok && ndim == t->ndim;
  for (int k = 0; same && k < ndim; ++k) same = shape[k] == t->shape[k];
  if (same) return 1;
  char want[128], got[128];
  fmt_shape(want, sizeof want, t->shape, t->ndim);
  fmt_shape(got, sizeof got, shape, shape_ok ? ndim : 0);
  if (shape_ok) snprintf(why, len, "output file %s: shape (%s), want (%s)", file, got, want);
  else snprintf(why, len, "output file %s: malformed shape in its header, want (%s)", file, want);
  return 0;
}

/* The data after a header of hlen bytes: exactly t's size, nothing after it, into t->host. */
static int read_data(int fd, const struct stat *st, size_t hlen, const char *file, const em_tensor *t, char *why,
                     size_t len) {
  size_t data = (size_t)t->numel * em__dtype_size(t->dtype);
  off_t want_size = (off_t)(10 + hlen + data);
  if (st->st_size != want_size) {
    long long have = (long long)st->st_size - (long long)(10 + hlen);
    if (st->st_size < want_size)
      snprintf(why, len, "output file %s is truncated: %lld bytes of data, want %zu", file, have < 0 ? 0 : have, data);
    else
      snprintf(why, len, "output file %s has %lld bytes after its data", file, have - (long long)data);
    return 0;
  }
  for (size_t got = 0; got < data;) {
    ssize_t n = read(fd, (char *)t->host + got, data - got);
    if (n <= 0) {
      snprintf(why, len, "output file %s is truncated: %zu bytes of data, want %zu", file, got, data);
      return 0;
    }
    got += (size_t)n;
  }
  return 1;
}

int em__npy_read(const char *path, const char *file, const em_tensor *t, char *why, size_t len) {
  struct stat st;
  int fd = open_regular(path, file, &st, why, len);
  if (fd < 0) return 0;
  size_t hlen;
  char *header = read_header(fd, file, &hlen, why, len);
  int ok = header && header_matches(header, hlen, file, t, why, len) && read_data(fd, &st, hlen, file, t, why, len);
  free(header);
  close(fd);
  return ok;
}
