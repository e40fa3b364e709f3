/* em-archive's reader: unpack and list, for archives nobody vouches for.
 *
 * libarchive's own examples (untar.c, minitar) extract whatever an archive holds, and its secure
 * flags check paths, not link targets or sizes. So this reader trusts nothing in a header: every
 * entry must be a regular file or a folder with a plain relative name, and entries, bytes and the
 * compression ratio are counted from the data as it streams, never from the sizes headers claim.
 * It extracts into a folder it creates itself, and removes that folder on any refusal, so the
 * caller sees either the whole archive or nothing.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_tool.h"

/* What every refusal ends with: the student's way out. */
#define REPACK "re-pack your files with  make submit"

/* ---- names ------------------------------------------------------------------------------------ */

/* The length of the UTF-8 sequence at s (1 to 4), or 0 if it is not valid UTF-8: no overlong
 * forms, no surrogates, nothing above U+10FFFF. *cp gets the code point. */
static int utf8_seq(const unsigned char *s, uint32_t *cp) {
  if (s[0] < 0x80) return *cp = s[0], 1;
  int len;
  uint32_t c, min;
  if ((s[0] & 0xe0) == 0xc0) len = 2, c = s[0] & 0x1f, min = 0x80;
  else if ((s[0] & 0xf0) == 0xe0) len = 3, c = s[0] & 0x0f, min = 0x800;
  else if ((s[0] & 0xf8) == 0xf0) len = 4, c = s[0] & 0x07, min = 0x10000;
  else return 0;
  for (int i = 1; i < len; ++i) {
    if ((s[i] & 0xc0) != 0x80) return 0; /* also stops at the terminating NUL */
    c = c << 6 | (s[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  *cp = c;
  return len;
}

const char *em__arc_bad_name(const char *name) {
  if (!name || !*name) return "the name is empty";
  size_t len = strlen(name);
  if (len > EM__ARC_MAX_PATH) return "the name is longer than 1024 bytes";
  if (name[0] == '/') return "the name is an absolute path";
  const unsigned char *s = (const unsigned char *)name;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    int n = utf8_seq(s + i, &cp);
    if (n == 0) return "the name is not valid UTF-8";
    if (cp == '\\') return "the name contains a backslash (a Windows path? paths must use /)";
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) return "the name contains a control character";
    i += (size_t)n;
  }
  for (const char *c = name; *c;) {
    size_t clen = strcspn(c, "/");
    if (clen == 2 && c[0] == '.' && c[1] == '.') return "the name has a '..' component (it points outside the folder)";
    if (clen > EM__ARC_MAX_COMPONENT) return "a part of the name is longer than 255 bytes";
    c += clen;
    if (*c == '/') c++;
  }
  return NULL;
}

void em__arc_normalise(const char *name, char *out, size_t cap) {
  size_t used = 0;
  out[0] = 0;
  for (const char *c = name; *c;) {
    size_t clen = strcspn(c, "/");
    if (clen && !(clen == 1 && c[0] == '.') && used + clen + 2 <= cap) {
      if (used) out[used++] = '/';
      memcpy(out + used, c, clen);
      used += clen;
      out[used] = 0;
    }
    c += clen;
    if (*c == '/') c++;
  }
}

void em__arc_quote(const char *name, char *out, size_t cap) {
  if (!name) {
    snprintf(out, cap, "(no name)");
    return;
  }
  size_t used = 0, len = strlen(name), shown = 0;
  const size_t limit = 80;
  if (cap < 16) {
    if (cap) out[0] = 0;
    return;
  }
  out[used++] = '"';
  for (size_t i = 0; i < len && shown < limit && used + 8 < cap; ++i, ++shown) {
    unsigned char c = (unsigned char)name[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') out[used++] = (char)c;
    else used += (size_t)snprintf(out + used, cap - used, "\\x%02x", c);
  }
  out[used++] = '"';
  out[used] = 0;
  if (shown < len) snprintf(out + used, cap - used, "... (%zu bytes)", len);
}

/* ---- what a file is, when it is not an archive we take ------------------------------------------ */

static int starts(const unsigned char *b, size_t n, size_t at, const char *magic, size_t mlen) {
  return n >= at + mlen && memcmp(b + at, magic, mlen) == 0;
}

/* Formats and filters we refuse, named by their magic bytes; NULL for anything that may be tar,
 * zip, or tar under gzip, xz or zstd (libarchive decides those). Knowing the name lets the reason
 * say "this is a 7-Zip archive" rather than "unrecognized". */
static const char *sniff(const unsigned char *b, size_t n) {
  static const struct {
    size_t at;
    const char *magic;
    size_t len;
    const char *what;
  } known[] = {
      {0, "BZh", 3, "bzip2-compressed data"},
      {0, "7z\xbc\xaf\x27\x1c", 6, "a 7-Zip archive"},
      {0, "Rar!\x1a\x07", 6, "a RAR archive"},
      {0, "070707", 6, "a cpio archive"},
      {0, "070701", 6, "a cpio archive"},
      {0, "070702", 6, "a cpio archive"},
      {0, "\xc7\x71", 2, "a cpio archive"},
      {0, "\x71\xc7", 2, "a cpio archive"},
      {0, "!<arch>\n", 8, "an ar archive (a .a or .deb)"},
      {0x8001, "CD001", 5, "an ISO 9660 disc image"},
      {0, "xar!", 4, "a xar archive"},
      {0, "MSCF", 4, "a Microsoft cabinet archive"},
      {0, "\x04\x22\x4d\x18", 4, "lz4-compressed data"},
      {0, "LZIP", 4, "lzip-compressed data"},
      {0, "\x89LZO", 4, "lzop-compressed data"},
      {0, "\x1f\x9d", 2, "compress (.Z) data"},
      {0, "\x89PNG\r\n\x1a\n", 8, "a PNG image"},
      {0, "\xff\xd8\xff", 3, "a JPEG image"},
      {0, "GIF8", 4, "a GIF image"},
      {0, "%PDF", 4, "a PDF document"},
      {0, "\x7f" "ELF", 4, "an ELF program or object file"},
      {0, "MZ", 2, "a Windows program"},
      {0, "\xd0\xcf\x11\xe0", 4, "an old Microsoft Office document"},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i)
    if (starts(b, n, known[i].at, known[i].magic, known[i].len)) return known[i].what;
  return NULL;
}

/* For data no reader took: "a text file" or its first bytes in hex. */
static void describe_unknown(const unsigned char *b, size_t n, char *out, size_t cap) {
  size_t look = n < 512 ? n : 512, i = 0;
  int text = look > 0;
  while (i < look && text) {
    uint32_t cp;
    int len = utf8_seq(b + i, &cp);
    if (len == 0) {
      text = i + 4 > look; /* a sequence cut by the 512-byte window still counts as text */
      break;
    }
    if (cp < 0x20 && cp != '\n' && cp != '\r' && cp != '\t') text = 0;
    i += (size_t)len;
  }
  if (text) {
    snprintf(out, cap, "a text file");
    return;
  }
  size_t used = (size_t)snprintf(out, cap, "data of an unknown kind (it starts with");
  for (size_t k = 0; k < 8 && k < n && used + 4 < cap; ++k) used += (size_t)snprintf(out + used, cap - used, " %02x", b[k]);
  snprintf(out + used, cap - used, ")");
}

/* ---- the reader ----------------------------------------------------------------------------------- */

typedef struct reader {
  const em__arc_caps *caps;
  struct archive *a;    /* the archive being read */
  struct archive *disk; /* where entries go; NULL when listing */
  uint64_t entries, files, total;
  uint64_t zip_entries; /* what the zip's central directory lists */
  /* Every path seen (with the folders it implies), for duplicates and file/folder clashes:
   * open addressing, never more than half full. */
  struct seen {
    char *path;
    int is_dir;
  } *seen;
  size_t nseen, seen_cap;
  char *reason;
  size_t cap;
  unsigned char buf[64 * 1024];
} reader;

static int say(reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(reader *r, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->reason, r->cap, fmt, ap);
  va_end(ap);
  return code;
}

static const char *la_error(struct archive *a) {
  const char *s = archive_error_string(a);
  return s ? s : "no details from libarchive";
}

static void mib(uint64_t bytes, char *out, size_t cap) {
  if (bytes >= (1u << 20)) snprintf(out, cap, "%.1f MiB", (double)bytes / (1u << 20));
  else snprintf(out, cap, "%" PRIu64 " bytes", bytes);
}

/* A failed write to our own folder: the disk's fault (full, read-only) is an environment error;
 * anything else (a name that collides with a file, a folder where a file should go) is the
 * archive's. */
static int disk_failure(reader *r, const char *qname) {
  int e = archive_errno(r->disk);
  if (e == ENOSPC || e == EDQUOT || e == EROFS || e == EIO || e == ENOMEM || e == EMFILE || e == ENFILE)
    return say(r, EM__ARC_ENV, "cannot write %s: %s: free space or pick another folder, then try again", qname,
               la_error(r->disk));
  return say(r, EM__ARC_REFUSED, "cannot place %s: %s; " REPACK, qname, la_error(r->disk));
}

/* ---- names seen ---------------------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; ++i) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

/* The slot of path[0..len) in the table: its entry, or the empty slot where it would go. */
static struct seen *seen_slot(reader *r, const char *path, size_t len) {
  size_t mask = r->seen_cap - 1;
  for (size_t i = (size_t)fnv1a(path, len) & mask;; i = (i + 1) & mask) {
    struct seen *s = &r->seen[i];
    if (!s->path || (strlen(s->path) == len && memcmp(s->path, path, len) == 0)) return s;
  }
}

/* Adds path[0..len) as a file or folder; 0, or -1 out of memory. */
static int seen_add(reader *r, const char *path, size_t len, int is_dir) {
  if (2 * (r->nseen + 1) > r->seen_cap) {
    size_t old_cap = r->seen_cap, cap = old_cap ? 2 * old_cap : 1024;
    struct seen *old = r->seen, *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    r->seen = t, r->seen_cap = cap;
    for (size_t i = 0; i < old_cap; ++i)
      if (old[i].path) *seen_slot(r, old[i].path, strlen(old[i].path)) = old[i];
    free(old);
  }
  struct seen *s = seen_slot(r, path, len);
  if (!(s->path = strndup(path, len))) return -1;
  s->is_dir = is_dir;
  r->nseen++;
  return 0;
}

static void seen_free(reader *r) {
  for (size_t i = 0; i < r->seen_cap; ++i) free(r->seen[i].path);
  free(r->seen);
  r->seen = NULL, r->nseen = r->seen_cap = 0;
}

/* Records path (normalised, non-empty) and the folders above it; *fresh = 0 for a folder seen
 * before (tar lists folders again). Refuses a file seen twice, and a name that is a file in one
 * place and a folder in another. */
static int seen_check(reader *r, const char *path, int is_dir, const char *qname, int *fresh) {
  *fresh = 1;
  if (!r->seen_cap) { /* the first name: the table, before any lookup */
    if (!(r->seen = calloc(1024, sizeof *r->seen))) return say(r, EM__ARC_ENV, "out of memory");
    r->seen_cap = 1024;
  }
  for (const char *p = path;; ++p) {
    if (*p != '/' && *p) continue;
    size_t len = (size_t)(p - path);
    int dir_here = *p ? 1 : is_dir;
    struct seen *s = seen_slot(r, path, len);
    if (s->path) {
      if (!*p && !is_dir && !s->is_dir)
        return say(r, EM__ARC_REFUSED, "entry %s appears twice in the archive; " REPACK, qname);
      if (s->is_dir != dir_here)
        return say(r, EM__ARC_REFUSED, "entry %s: \"%.*s\" is both a file and a folder in the archive; " REPACK, qname,
                   (int)(len < 200 ? len : 200), path);
      if (!*p) return *fresh = 0, EM__ARC_OK;
    } else if (seen_add(r, path, len, dir_here) != 0) {
      return say(r, EM__ARC_ENV, "out of memory");
    }
    if (!*p) return EM__ARC_OK;
  }
}

/* ---- the zip's central directory ----------------------------------------------------------------
 * The streaming reader never looks at it, which is the point (see read_all), but two things live
 * only there: the Unix file type (a symlink in a zip is a local entry whose data is the target;
 * streamed, it would look like a small regular file), and how many entries the zip claims. So the
 * directory is read here first: an entry whose type is not a file or folder, or two entries that
 * share one local header (the overlapping-entry bomb), refuse the zip before anything is written;
 * after streaming, its count must match the entries streamed (no entry hidden or overlapped). */

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The end record (22 bytes plus a comment of at most 65535, at the very end; the zip64 locator, 20
 * bytes, just before it): how many entries the central directory lists, its size and its offset. */
static int zip_end_record(reader *r, int fd, uint64_t size, uint64_t *n, uint64_t *cd_size, uint64_t *cd_off) {
  size_t tail = size < 22 + 65535 + 20 ? (size_t)size : 22 + 65535 + 20;
  unsigned char *buf = malloc(tail ? tail : 1);
  if (!buf) return say(r, EM__ARC_ENV, "out of memory");
  int rc = EM__ARC_OK, found = 0;
  if (pread(fd, buf, tail, (off_t)(size - tail)) != (ssize_t)tail) {
    rc = say(r, EM__ARC_ENV, "cannot read the archive: %s", strerror(errno));
    goto out;
  }
  for (size_t i = tail >= 22 ? tail - 22 + 1 : 0; i-- > 0;) {
    if (memcmp(buf + i, "PK\x05\x06", 4) != 0 || i + 22 + le16(buf + i + 20) != tail) continue;
    found = 1;
    *n = le16(buf + i + 10), *cd_size = le32(buf + i + 12), *cd_off = le32(buf + i + 16);
    if ((*n == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu) && i >= 20 &&
        memcmp(buf + i - 20, "PK\x06\x07", 4) == 0) {
      uint64_t at = le64(buf + i - 20 + 8);
      unsigned char z[56];
      if (at > size || size - at < sizeof z || pread(fd, z, sizeof z, (off_t)at) != (ssize_t)sizeof z ||
          memcmp(z, "PK\x06\x06", 4) != 0) {
        rc = say(r, EM__ARC_REFUSED, "the zip's zip64 end record is damaged; " REPACK);
        goto out;
      }
      *n = le64(z + 32), *cd_size = le64(z + 40), *cd_off = le64(z + 48);
    }
    break;
  }
  if (!found) rc = say(r, EM__ARC_REFUSED, "the zip has no central directory (truncated?); " REPACK);
out:
  free(buf);
  return rc;
}

/* Made on Unix (3) or macOS (19), a record's external attributes hold st_mode in their high half:
 * anything but a file or a folder is refused by name. */
static int zip_entry_type(reader *r, const unsigned char *e, size_t nlen) {
  unsigned host = le16(e + 4) >> 8;
  uint32_t type = (le32(e + 38) >> 16) & 0170000;
  if (!(host == 3 || host == 19) || type == 0 || type == 0100000 || type == 0040000) return EM__ARC_OK;
  char name[EM__ARC_MAX_PATH + 1], q[200];
  snprintf(name, sizeof name, "%.*s", (int)(nlen < EM__ARC_MAX_PATH ? nlen : EM__ARC_MAX_PATH), (const char *)e + 46);
  em__arc_quote(name, q, sizeof q);
  const char *kind = type == 0120000 ? "a symbolic link" : type == 0020000 ? "a character device"
                     : type == 0060000 ? "a block device" : type == 0010000 ? "a FIFO (named pipe)"
                     : type == 0140000 ? "a socket" : "an entry of unknown type";
  return say(r, EM__ARC_REFUSED, "entry %s is %s: archives may hold only regular files and folders; " REPACK, q, kind);
}

/* The central directory's n records, each whole and of an allowed type; their local headers'
 * offsets into offsets[]. */
static int zip_records(reader *r, const unsigned char *cd, uint64_t cd_size, uint64_t n, uint64_t *offsets) {
  size_t at = 0;
  for (uint64_t k = 0; k < n; ++k) {
    const unsigned char *e = cd + at;
    if (cd_size - at < 46 || memcmp(e, "PK\x01\x02", 4) != 0)
      return say(r, EM__ARC_REFUSED, "the zip's central directory is damaged at entry %" PRIu64 "; " REPACK, k + 1);
    size_t nlen = le16(e + 28), rec = 46 + nlen + le16(e + 30) + le16(e + 32);
    if (cd_size - at < rec)
      return say(r, EM__ARC_REFUSED, "the zip's central directory is damaged at entry %" PRIu64 "; " REPACK, k + 1);
    int rc = zip_entry_type(r, e, nlen);
    if (rc) return rc;
    offsets[k] = le32(e + 42); /* a zip64 offset (0xffffffff) would need its extra field; equal ones still collide */
    at += rec;
  }
  return EM__ARC_OK;
}

static int zip_preflight(reader *r, int fd, uint64_t size, uint64_t *count) {
  uint64_t n = 0, cd_size = 0, cd_off = 0;
  int rc = zip_end_record(r, fd, size, &n, &cd_size, &cd_off);
  if (rc) return rc;
  if (n > r->caps->max_entries)
    return say(r, EM__ARC_REFUSED, "the zip's central directory lists %" PRIu64 " entries, more than %" PRIu64 "; " REPACK,
               n, r->caps->max_entries);
  if (cd_off > size || cd_size > size - cd_off || n > cd_size / 46) /* 46: a record's fixed part */
    return say(r, EM__ARC_REFUSED, "the zip's central directory lies outside the file (damaged or truncated); " REPACK);
  unsigned char *cd = malloc(cd_size ? cd_size : 1);
  uint64_t *offsets = malloc((n ? n : 1) * sizeof *offsets);
  if (!cd || !offsets) rc = say(r, EM__ARC_ENV, "out of memory");
  else if (pread(fd, cd, cd_size, (off_t)cd_off) != (ssize_t)cd_size)
    rc = say(r, EM__ARC_ENV, "cannot read the archive: %s", strerror(errno));
  else rc = zip_records(r, cd, cd_size, n, offsets);
  if (rc == EM__ARC_OK) {
    qsort(offsets, n, sizeof *offsets, cmp_u64);
    for (uint64_t k = 1; k < n && rc == EM__ARC_OK; ++k)
      if (offsets[k] == offsets[k - 1] && offsets[k] != 0xffffffffu)
        rc = say(r, EM__ARC_REFUSED,
                 "the zip's central directory points several entries at the same data (an overlapping-entry zip bomb); " REPACK);
  }
  if (rc == EM__ARC_OK) *count = n;
  free(cd);
  free(offsets);
  return rc;
}

/* Streams one file's data, counting as it goes. */
static int stream(reader *r, const char *qname) {
  const em__arc_caps *c = r->caps;
  uint64_t file = 0;
  char lim[32], lim2[32];
  for (;;) {
    la_ssize_t n = archive_read_data(r->a, r->buf, sizeof r->buf);
    if (n == 0) break;
    if (n < 0)
      return say(r, EM__ARC_REFUSED, "the archive is damaged or truncated in the data of %s: %s; " REPACK, qname,
                 la_error(r->a));
    file += (uint64_t)n;
    r->total += (uint64_t)n;
    if (file > c->max_file_bytes) {
      mib(c->max_file_bytes, lim, sizeof lim);
      return say(r, EM__ARC_REFUSED, "%s is larger than %s, the most one file may hold; submit only your source files (" REPACK ")",
                 qname, lim);
    }
    if (r->total > c->max_bytes) {
      mib(c->max_bytes, lim, sizeof lim);
      return say(r, EM__ARC_REFUSED, "the files together hold more than %s (reached in %s); submit only your source files (" REPACK ")",
                 lim, qname);
    }
    /* Raw bytes read from the file so far (the last filter is the file itself): a byte of input
     * inflates to at most max_ratio bytes of output, once past the floor. */
    int64_t consumed = archive_filter_bytes(r->a, -1);
    if (r->total > EM__ARC_RATIO_FLOOR && consumed > 0 && (double)r->total > c->max_ratio * (double)consumed) {
      mib(r->total, lim, sizeof lim);
      mib((uint64_t)consumed, lim2, sizeof lim2);
      return say(r, EM__ARC_REFUSED,
                 "compression ratio above %g (%s out of %s of archive, in %s): a compression bomb; " REPACK,
                 c->max_ratio, lim, lim2, qname);
    }
    if (r->disk && archive_write_data(r->disk, r->buf, (size_t)n) != n) return disk_failure(r, qname);
  }
  return EM__ARC_OK;
}

/* The kind of an entry we refuse, in words, or NULL for a file or folder. */
static const char *bad_kind(struct archive_entry *e, char *buf, size_t cap) {
  char target[200];
  if (archive_entry_hardlink(e)) {
    em__arc_quote(archive_entry_hardlink(e), target, sizeof target);
    snprintf(buf, cap, "a hard link to %s", target);
    return buf;
  }
  if (archive_entry_symlink(e) || archive_entry_filetype(e) == AE_IFLNK) {
    em__arc_quote(archive_entry_symlink(e), target, sizeof target);
    snprintf(buf, cap, "a symbolic link to %s", target);
    return buf;
  }
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      if (archive_entry_sparse_count(e) > 0) return "a sparse file";
      if (archive_entry_is_encrypted(e)) return "an encrypted file";
      return NULL;
    case AE_IFDIR: return NULL;
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFIFO: return "a FIFO (named pipe)";
    case AE_IFSOCK: return "a socket";
    default: return "an entry of unknown type";
  }
}

/* The first header failed: say what the file is, since it is no archive we read. */
static int unrecognised(reader *r, int fd) {
  unsigned char head[512];
  ssize_t n = pread(fd, head, sizeof head, 0);
  char what[160];
  int filter = archive_filter_code(r->a, 0);
  const char *err = la_error(r->a);
  if (archive_format(r->a) != 0 || !strstr(err, "Unrecognized archive format"))
    return say(r, EM__ARC_REFUSED, "the archive is damaged or truncated at its first entry: %s; " REPACK, la_error(r->a));
  if (filter == ARCHIVE_FILTER_GZIP || filter == ARCHIVE_FILTER_XZ || filter == ARCHIVE_FILTER_ZSTD)
    snprintf(what, sizeof what, "%s-compressed data that is not a tar archive", archive_filter_name(r->a, 0));
  else
    describe_unknown(head, n > 0 ? (size_t)n : 0, what, sizeof what);
  return say(r, EM__ARC_REFUSED, "not a tar or zip archive: this is %s (%s); " REPACK, what, la_error(r->a));
}

static int check_format(reader *r) {
  int base = archive_format(r->a) & ARCHIVE_FORMAT_BASE_MASK;
  int filters = archive_filter_count(r->a); /* the file itself counts as one */
  if (base != ARCHIVE_FORMAT_TAR && base != ARCHIVE_FORMAT_ZIP)
    return say(r, EM__ARC_REFUSED, "not a tar or zip archive: libarchive read it as %s; " REPACK,
               archive_format_name(r->a));
  if (base == ARCHIVE_FORMAT_ZIP && filters > 1)
    return say(r, EM__ARC_REFUSED, "a zip inside %s compression: give the zip itself, or " REPACK,
               archive_filter_name(r->a, 0));
  if (filters > 2)
    return say(r, EM__ARC_REFUSED, "the archive is compressed %d times over (%s over %s); compress once, or " REPACK,
               filters - 1, archive_filter_name(r->a, 0), archive_filter_name(r->a, 1));
  return EM__ARC_OK;
}

/* One entry: its name and kind checked, then written (or listed). */
static int entry(reader *r, struct archive_entry *e, int header_rc) {
  char qname[200], kind_buf[300], path[EM__ARC_MAX_PATH + 1];
  const char *name = archive_entry_pathname(e);
  em__arc_quote(name, qname, sizeof qname);
  const char *why = name ? em__arc_bad_name(name) : "the name cannot be decoded (not valid UTF-8?)";
  if (why) return say(r, EM__ARC_REFUSED, "entry %s: %s; " REPACK, qname, why);
  const char *kind = bad_kind(e, kind_buf, sizeof kind_buf);
  if (kind)
    return say(r, EM__ARC_REFUSED, "entry %s is %s: archives may hold only regular files and folders; " REPACK, qname,
               kind);
  if (header_rc != ARCHIVE_OK) /* a warning we have no better words for */
    return say(r, EM__ARC_REFUSED, "the archive has a problem at entry %s: %s; " REPACK, qname, la_error(r->a));

  em__arc_normalise(name, path, sizeof path);
  int is_dir = archive_entry_filetype(e) == AE_IFDIR;
  if (!is_dir && !path[0]) return say(r, EM__ARC_REFUSED, "entry %s: a file with no name; " REPACK, qname);
  if (!is_dir) r->files++;

  /* Names are checked against each other, not against the disk, so listing and unpacking give
   * the same verdict (NO_OVERWRITE stays as the second line). A folder seen before, or "./" (the
   * folder we made), needs nothing more. */
  int fresh = 0;
  if (path[0]) {
    int rc = seen_check(r, path, is_dir, qname, &fresh);
    if (rc) return rc;
  }
  if (is_dir) {
    if (fresh && !r->disk) printf("%12s  %s/\n", "folder", path);
    if (!fresh || !r->disk) return EM__ARC_OK;
  }
  if (!r->disk) {
    uint64_t before = r->total;
    int rc = stream(r, qname);
    if (rc == EM__ARC_OK) printf("%12" PRIu64 "  %s\n", r->total - before, path);
    return rc;
  }

  /* What goes to disk: the checked name, sane modes, no owner, nothing else the archive claims
   * (extended attributes, ACLs, flags are not restored: no EXTRACT_XATTR/ACL/FFLAGS options). The
   * size is unset because headers lie: write_disk would otherwise cut or pad to it. */
  archive_entry_set_pathname(e, path);
  archive_entry_set_perm(e, is_dir ? 0755 : 0644);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_uname(e, NULL);
  archive_entry_set_gname(e, NULL);
  archive_entry_unset_size(e);
  if (archive_write_header(r->disk, e) != ARCHIVE_OK) return disk_failure(r, qname);
  int rc = is_dir ? EM__ARC_OK : stream(r, qname);
  if (rc != EM__ARC_OK) return rc;
  if (archive_write_finish_entry(r->disk) != ARCHIVE_OK) return disk_failure(r, qname);
  return EM__ARC_OK;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  (void)remove(path); /* best effort: the rest must still go */
  return 0;
}

/* Reads the archive through r; returns the outcome. */
static int read_all(reader *r, int fd, uint64_t size) {
  const em__arc_caps *c = r->caps;
  struct archive *a = r->a;
  /* Zip: the streamable reader, on purpose. The seekable one walks the central directory, whose
   * entries may all point at one local entry (the overlapping-entry bomb: one compressed stream
   * inflated once per entry); the caps would still stop it, but the streaming reader reads local
   * entries in file order, each compressed byte once, so the ratio it reports is honest and no
   * entry can hide behind another. The central directory is then checked to agree (below). */
  if (archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_support_format_zip_streamable(a) != ARCHIVE_OK ||
      archive_read_support_filter_none(a) != ARCHIVE_OK || archive_read_support_filter_gzip(a) != ARCHIVE_OK)
    return say(r, EM__ARC_ENV, "libarchive cannot read tar, zip or gzip here: %s (reinstall libarchive-dev: make deps)",
               la_error(a));
  /* ARCHIVE_WARN here means libarchive was built without the library and would run an external
   * xz or zstd program on untrusted data: not in a grader. */
  if (archive_read_support_filter_xz(a) != ARCHIVE_OK || archive_read_support_filter_zstd(a) != ARCHIVE_OK)
    return say(r, EM__ARC_ENV,
               "this libarchive has no built-in xz or zstd support (%s): install Debian's libarchive13, or use .tar.gz",
               la_error(a));
  /* A zip (by its first bytes; libarchive's zip reader wants them there too): its central
   * directory first. A gzip'd zip is refused after the first header, by check_format. */
  unsigned char magic[4];
  if (pread(fd, magic, 4, 0) == 4 && (memcmp(magic, "PK\x03\x04", 4) == 0 || memcmp(magic, "PK\x05\x06", 4) == 0 ||
                                      memcmp(magic, "PK\x07\x08", 4) == 0)) {
    int rc = zip_preflight(r, fd, size, &r->zip_entries);
    if (rc) return rc;
  }
  /* Opening already bids for the format: a failure here is data no reader takes. */
  if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) return unrecognised(r, fd);

  for (;;) {
    struct archive_entry *e;
    int h = archive_read_next_header(a, &e);
    if (h == ARCHIVE_EOF) break;
    if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
      if (r->entries == 0) return unrecognised(r, fd);
      return say(r, EM__ARC_REFUSED, "the archive is damaged or truncated after %" PRIu64 " entries: %s; " REPACK,
                 r->entries, la_error(a));
    }
    if (++r->entries > c->max_entries)
      return say(r, EM__ARC_REFUSED, "more than %" PRIu64 " entries: a submission holds a few files; " REPACK,
                 c->max_entries);
    if (r->entries == 1) {
      int rc = check_format(r);
      if (rc) return rc;
    }
    int rc = entry(r, e, h);
    if (rc) return rc;
  }
  if (r->files == 0)
    return say(r, EM__ARC_REFUSED, "no files in the archive (%" PRIu64 " entries, none a regular file); " REPACK,
               r->entries);
  if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP && r->zip_entries != r->entries)
    return say(r, EM__ARC_REFUSED,
               "the zip's central directory lists %" PRIu64 " entries but the file holds %" PRIu64
               " (overlapping or hidden entries: a zip bomb or a damaged zip); " REPACK,
               r->zip_entries, r->entries);
  if (archive_read_close(a) != ARCHIVE_OK)
    return say(r, EM__ARC_REFUSED, "the archive is damaged at its end: %s; " REPACK, la_error(a));
  if (r->disk && archive_write_close(r->disk) != ARCHIVE_OK) return disk_failure(r, "the last entries");
  return EM__ARC_OK;
}

/* The archive file itself, before any reader sees it: not empty, never larger than what it may
 * unpack to plus its headers (a tar spends up to 1 KiB per entry on header and padding; 2 KiB
 * leaves room for pax records), and not a file of another kind. */
static int check_input(reader *r, int fd, uint64_t size) {
  const em__arc_caps *caps = r->caps;
  uint64_t max_input = caps->max_entries > (UINT64_MAX >> 12) || caps->max_bytes > (UINT64_MAX >> 1)
                           ? UINT64_MAX /* caps that large: no limit but theirs */
                           : caps->max_bytes + 2048 * caps->max_entries + (1u << 20);
  unsigned char head[0x8001 + 8];
  ssize_t got = pread(fd, head, sizeof head, 0);
  const char *kind = got > 0 ? sniff(head, (size_t)got) : NULL;
  char lim[32], lim2[32];
  if (size == 0) return say(r, EM__ARC_REFUSED, "the file is empty (0 bytes), not an archive; " REPACK);
  if (size > max_input) {
    mib(size, lim, sizeof lim);
    mib(max_input, lim2, sizeof lim2);
    return say(r, EM__ARC_REFUSED, "the archive is %s, more than the %s allowed; submit only your source files (" REPACK ")",
               lim, lim2);
  }
  if (kind)
    return say(r, EM__ARC_REFUSED, "not a tar or zip archive: this is %s (tar, tar.gz, tar.xz, tar.zst and zip are read); " REPACK,
               kind);
  return EM__ARC_OK;
}

/* dest, which must not exist, created (0700) and entered, and r's disk writer with the secure flags.
 * *made once dest exists, *cwd (where we started) once we are about to leave it. */
static int open_dest(reader *r, const char *dest, int *cwd, int *made) {
  struct stat st;
  if (lstat(dest, &st) == 0)
    return say(r, EM__ARC_ENV, "%s already exists: give a folder that does not exist yet (em-archive creates it)", dest);
  if (mkdir(dest, 0700) != 0) {
    int e = errno;
    return say(r, EM__ARC_ENV, "cannot create %s: %s%s", dest, strerror(e), e == ENOENT ? ": create the folder above it first" : "");
  }
  *made = 1;
  *cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  /* Into the new folder: write_disk's NOABSOLUTEPATHS refuses absolute names, so entries are
   * written relative to it rather than prefixed with dest. */
  if (*cwd < 0 || chdir(dest) != 0) return say(r, EM__ARC_ENV, "cannot enter %s: %s", dest, strerror(errno));
  r->disk = archive_write_disk_new();
  if (!r->disk) return say(r, EM__ARC_ENV, "out of memory");
  /* The secure flags are a second line behind our own name checks; NO_OVERWRITE behind our
   * duplicate check. No EXTRACT_PERM/OWNER/TIME/XATTR/ACL: nothing of the archive's metadata
   * but the names and the bytes reaches the disk. */
  if (archive_write_disk_set_options(r->disk, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_NO_OVERWRITE) !=
      ARCHIVE_OK)
    return say(r, EM__ARC_ENV, "libarchive: %s", la_error(r->disk));
  return EM__ARC_OK;
}

/* Back where we started; dest removed when the archive was refused (only from there: dest is named
 * relative to it); the totals said when it was not. */
static int leave_dest(reader *r, const char *dest, int cwd, int made, int rc) {
  int back = 1;
  if (cwd >= 0) {
    back = fchdir(cwd) == 0;
    if (!back && rc == EM__ARC_OK) rc = say(r, EM__ARC_ENV, "cannot return to the working folder");
    close(cwd);
  }
  if (rc != EM__ARC_OK && made && back) nftw(dest, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (rc == EM__ARC_OK) {
    if (dest) printf("unpacked %" PRIu64 " files (%" PRIu64 " bytes) into %s\n", r->files, r->total, dest);
    else printf("%" PRIu64 " files, %" PRIu64 " bytes\n", r->files, r->total);
  }
  return rc;
}

int em__arc_read(const char *archive, const char *dest, const em__arc_caps *caps, char *reason, size_t cap) {
  static reader r; /* static: 64 KiB buffer; one archive per process */
  memset(&r, 0, sizeof r);
  r.caps = caps;
  r.reason = reason;
  r.cap = cap;
  reason[0] = 0;

  int fd = open(archive, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return say(&r, EM__ARC_ENV, "cannot open %s: %s: check the path", archive, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return say(&r, EM__ARC_ENV, "%s is not a regular file: give the path of an archive file", archive);
  }
  uint64_t size = (uint64_t)st.st_size;
  int rc = check_input(&r, fd, size);
  if (rc) {
    close(fd);
    return rc;
  }
  int cwd = -1, made = 0;
  if (dest) rc = open_dest(&r, dest, &cwd, &made);
  if (rc == EM__ARC_OK && !(r.a = archive_read_new())) rc = say(&r, EM__ARC_ENV, "out of memory");
  if (rc == EM__ARC_OK) rc = read_all(&r, fd, size);
  if (r.a) archive_read_free(r.a);
  if (r.disk) archive_write_free(r.disk);
  seen_free(&r);
  close(fd);
  return leave_dest(&r, dest, cwd, made, rc);
}
