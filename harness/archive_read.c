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

#include "archive.h"

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

/* ---- the zip's central directory ---------------------------------------------------------------- */

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* How many entries the zip's central directory lists (its end record, or the zip64 one), or -1
 * if there is no end record (the file is cut short). */
static int64_t zip_central_count(int fd, uint64_t size) {
  /* The end record is 22 bytes plus a comment of at most 65535 bytes, at the end of the file. */
  size_t tail = size < 22 + 65535 + 20 ? (size_t)size : 22 + 65535 + 20;
  unsigned char *buf = malloc(tail ? tail : 1);
  if (!buf) return -2;
  int64_t count = -1;
  if (pread(fd, buf, tail, (off_t)(size - tail)) == (ssize_t)tail) {
    for (size_t i = tail >= 22 ? tail - 22 + 1 : 0; i-- > 0;) {
      if (memcmp(buf + i, "PK\x05\x06", 4) != 0 || i + 22 + le16(buf + i + 20) != tail) continue;
      count = le16(buf + i + 10);
      /* 0xffff: the real count is in the zip64 end record, found through its locator. */
      if (count == 0xffff && i >= 20 && memcmp(buf + i - 20, "PK\x06\x07", 4) == 0) {
        uint64_t at = le64(buf + i - 20 + 8);
        unsigned char z[56];
        if (at + sizeof z <= size && pread(fd, z, sizeof z, (off_t)at) == (ssize_t)sizeof z &&
            memcmp(z, "PK\x06\x06", 4) == 0)
          count = le64(z + 32) > INT64_MAX ? INT64_MAX : (int64_t)le64(z + 32);
      }
      break;
    }
  }
  free(buf);
  return count;
}

/* ---- the reader ----------------------------------------------------------------------------------- */

typedef struct reader {
  const em__arc_caps *caps;
  struct archive *a;    /* the archive being read */
  struct archive *disk; /* where entries go; NULL when listing */
  uint64_t entries, files, total;
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
    return say(r, EM__ARC_REFUSED, "the archive is compressed %d times over (%s, %s, ...); compress once, or " REPACK,
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

  if (!r->disk) {
    if (is_dir) {
      if (path[0]) printf("%12s  %s/\n", "folder", path);
      return EM__ARC_OK;
    }
    uint64_t before = r->total;
    int rc = stream(r, qname);
    if (rc == EM__ARC_OK) printf("%12" PRIu64 "  %s\n", r->total - before, path);
    return rc;
  }

  /* A name seen before: NO_OVERWRITE would refuse a second file, but an explicit check says
   * which name, and a folder listed twice (tar does that) is fine. We are in our fresh folder,
   * and it holds nothing but regular files and folders, so lstat sees only what we made. */
  struct stat st;
  if (path[0] && lstat(path, &st) == 0) {
    if (is_dir && S_ISDIR(st.st_mode)) return EM__ARC_OK;
    return say(r, EM__ARC_REFUSED, "entry %s appears twice in the archive; " REPACK, qname);
  }
  if (is_dir && !path[0]) return EM__ARC_OK; /* "./": the folder we made */

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
  if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP) {
    int64_t listed = zip_central_count(fd, size);
    if (listed == -2) return say(r, EM__ARC_ENV, "out of memory reading the zip's central directory");
    if (listed < 0)
      return say(r, EM__ARC_REFUSED, "the zip has no central directory (truncated?); " REPACK);
    if ((uint64_t)listed != r->entries)
      return say(r, EM__ARC_REFUSED,
                 "the zip's central directory lists %" PRId64 " entries but the file holds %" PRIu64
                 " (overlapping or hidden entries: a zip bomb or a damaged zip); " REPACK,
                 listed, r->entries);
  }
  if (archive_read_close(a) != ARCHIVE_OK)
    return say(r, EM__ARC_REFUSED, "the archive is damaged at its end: %s; " REPACK, la_error(a));
  if (r->disk && archive_write_close(r->disk) != ARCHIVE_OK) return disk_failure(r, "the last entries");
  return EM__ARC_OK;
}

int em__arc_read(const char *archive, const char *dest, const em__arc_caps *caps, char *reason, size_t cap) {
  static reader r; /* static: 64 KiB buffer; one archive per process */
  memset(&r, 0, sizeof r);
  r.caps = caps;
  r.reason = reason;
  r.cap = cap;
  reason[0] = 0;

  int fd = open(archive, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return say(&r, EM__ARC_ENV, "cannot open %s: %s: check the path", archive, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return say(&r, EM__ARC_ENV, "%s is not a regular file: give the path of an archive file", archive);
  }
  uint64_t size = (uint64_t)st.st_size;
  /* The archive itself: never larger than what it may unpack to, plus its headers (a tar spends
   * up to 1 KiB per entry on header and padding; 2 KiB leaves room for pax records). */
  uint64_t max_input = caps->max_bytes + 2048 * caps->max_entries + (1u << 20);
  unsigned char head[0x8001 + 8];
  ssize_t got = pread(fd, head, sizeof head, 0);
  const char *kind = got > 0 ? sniff(head, (size_t)got) : NULL;
  int rc = EM__ARC_OK;
  char lim[32], lim2[32];
  if (size == 0) {
    rc = say(&r, EM__ARC_REFUSED, "the file is empty (0 bytes), not an archive; " REPACK);
  } else if (size > max_input) {
    mib(size, lim, sizeof lim);
    mib(max_input, lim2, sizeof lim2);
    rc = say(&r, EM__ARC_REFUSED, "the archive is %s, more than the %s allowed; submit only your source files (" REPACK ")",
             lim, lim2);
  } else if (kind) {
    rc = say(&r, EM__ARC_REFUSED,
             "not a tar or zip archive: this is %s (tar, tar.gz, tar.xz, tar.zst and zip are read); " REPACK, kind);
  }
  if (rc) {
    close(fd);
    return rc;
  }

  int cwd = -1, made = 0;
  if (dest) {
    if (lstat(dest, &st) == 0) {
      close(fd);
      return say(&r, EM__ARC_ENV, "%s already exists: give a folder that does not exist yet (em-archive creates it)", dest);
    }
    if (mkdir(dest, 0700) != 0) {
      int e = errno;
      close(fd);
      return say(&r, EM__ARC_ENV, "cannot create %s: %s%s", dest, strerror(e),
                 e == ENOENT ? ": create the folder above it first" : "");
    }
    made = 1;
    cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* Into the new folder: write_disk's NOABSOLUTEPATHS refuses absolute names, so entries are
     * written relative to it rather than prefixed with dest. */
    if (cwd < 0 || chdir(dest) != 0) {
      rc = say(&r, EM__ARC_ENV, "cannot enter %s: %s", dest, strerror(errno));
      goto done;
    }
    r.disk = archive_write_disk_new();
    if (!r.disk) {
      rc = say(&r, EM__ARC_ENV, "out of memory");
      goto done;
    }
    /* The secure flags are a second line behind our own name checks; NO_OVERWRITE behind our
     * duplicate check. No EXTRACT_PERM/OWNER/TIME/XATTR/ACL: nothing of the archive's metadata
     * but the names and the bytes reaches the disk. */
    if (archive_write_disk_set_options(r.disk, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                                                   ARCHIVE_EXTRACT_NO_OVERWRITE) != ARCHIVE_OK) {
      rc = say(&r, EM__ARC_ENV, "libarchive: %s", la_error(r.disk));
      goto done;
    }
  }
  r.a = archive_read_new();
  if (!r.a) {
    rc = say(&r, EM__ARC_ENV, "out of memory");
    goto done;
  }
  rc = read_all(&r, fd, size);

done:
  if (r.a) archive_read_free(r.a);
  if (r.disk) archive_write_free(r.disk);
  close(fd);
  int back = 1; /* dest is named relative to where we started: remove it only from there */
  if (cwd >= 0) {
    back = fchdir(cwd) == 0;
    if (!back && rc == EM__ARC_OK) rc = say(&r, EM__ARC_ENV, "cannot return to the working folder");
    close(cwd);
  }
  if (rc != EM__ARC_OK && made && back) nftw(dest, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (rc == EM__ARC_OK) {
    if (dest) printf("unpacked %" PRIu64 " files (%" PRIu64 " bytes) into %s\n", r.files, r.total, dest);
    else printf("%" PRIu64 " files, %" PRIu64 " bytes\n", r.files, r.total);
  }
  return rc;
}
