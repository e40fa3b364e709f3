/* em-archive: hostile archives, made here at test time (no binary blobs), must be refused with a
 * reason that names the problem, leaving no DEST and nothing anywhere else; honest archives must
 * come back byte for byte; `em-archive submit` must write a manifest whose hashes are the files'.
 *
 * The tool runs as a subprocess (the built binary), so exit codes and leftovers are what is
 * tested. Archives are written with libarchive where it writes the hostile form, and by hand where
 * it would not (raw tar headers with odd names, a zip whose central directory repeats one entry).
 */
#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

#include "helpers.h"

#define T_ARC EM_BUILD_DIR "/em-archive"

/* ---- writing archives with libarchive ----------------------------------------------------------- */

enum { W_TAR, W_TGZ, W_TXZ, W_TZST, W_ZIP, W_USTAR_GZ };

static struct archive *w_open(const char *path, int kind) {
  struct archive *a = archive_write_new();
  cr_assert(a != NULL);
  int ok = 1;
  switch (kind) {
    case W_TAR: ok = archive_write_set_format_pax_restricted(a) == ARCHIVE_OK; break;
    case W_TGZ:
      ok = archive_write_set_format_pax_restricted(a) == ARCHIVE_OK && archive_write_add_filter_gzip(a) == ARCHIVE_OK &&
           /* level 1: the bombs below stream a GiB through it, and speed is what matters */
           archive_write_set_filter_option(a, "gzip", "compression-level", "1") == ARCHIVE_OK;
      break;
    case W_USTAR_GZ:
      ok = archive_write_set_format_ustar(a) == ARCHIVE_OK && archive_write_add_filter_gzip(a) == ARCHIVE_OK &&
           archive_write_set_filter_option(a, "gzip", "compression-level", "1") == ARCHIVE_OK;
      break;
    case W_TXZ:
      ok = archive_write_set_format_pax_restricted(a) == ARCHIVE_OK && archive_write_add_filter_xz(a) == ARCHIVE_OK;
      break;
    case W_TZST:
      ok = archive_write_set_format_pax_restricted(a) == ARCHIVE_OK && archive_write_add_filter_zstd(a) == ARCHIVE_OK;
      break;
    case W_ZIP: ok = archive_write_set_format_zip(a) == ARCHIVE_OK; break;
  }
  cr_assert(ok, "libarchive cannot set up writer %d: %s", kind, archive_error_string(a));
  cr_assert(archive_write_open_filename(a, path) == ARCHIVE_OK, "open %s: %s", path, archive_error_string(a));
  return a;
}

/* One entry; for regular files data (size bytes) follows. */
static void w_entry(struct archive *a, const char *name, unsigned type, const char *link, const void *data, size_t size) {
  struct archive_entry *e = archive_entry_new();
  cr_assert(e != NULL);
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
  archive_entry_set_mtime(e, 1700000000, 0);
  if (type == AE_IFLNK) archive_entry_set_symlink(e, link);
  else if (link) archive_entry_set_hardlink(e, link);
  if (type == AE_IFCHR) archive_entry_set_rdev(e, makedev(1, 3));
  if (type == AE_IFREG) archive_entry_set_size(e, (la_int64_t)size);
  cr_assert(archive_write_header(a, e) == ARCHIVE_OK, "header %s: %s", name, archive_error_string(a));
  if (size) cr_assert(archive_write_data(a, data, size) == (la_ssize_t)size, "data %s: %s", name, archive_error_string(a));
  archive_entry_free(e);
}

static void w_file(struct archive *a, const char *name, const char *text) {
  w_entry(a, name, AE_IFREG, NULL, text, strlen(text));
}

static void w_close(struct archive *a) {
  cr_assert(archive_write_close(a) == ARCHIVE_OK, "close: %s", archive_error_string(a));
  archive_write_free(a);
}

/* ---- writing tar headers by hand ------------------------------------------------------------------
 * For names libarchive's writer might tidy up: the bytes here are exactly what the test means. */
static void raw_tar_entry(FILE *f, const char *name, char type, const char *data, size_t size) {
  unsigned char h[512];
  memset(h, 0, sizeof h);
  cr_assert(strlen(name) <= 100);
  memcpy(h, name, strlen(name));
  snprintf((char *)h + 100, 8, "%07o", 0644);
  snprintf((char *)h + 108, 8, "%07o", 0);
  snprintf((char *)h + 116, 8, "%07o", 0);
  snprintf((char *)h + 124, 12, "%011zo", size);
  snprintf((char *)h + 136, 12, "%011o", 1700000000);
  memset(h + 148, ' ', 8);
  h[156] = (unsigned char)type;
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
  h[155] = ' ';
  cr_assert(fwrite(h, 1, 512, f) == 512);
  if (size) {
    static const char zeros[512];
    cr_assert(fwrite(data, 1, size, f) == size);
    if (size % 512) cr_assert(fwrite(zeros, 1, 512 - size % 512, f) == 512 - size % 512);
  }
}

/* A plain tar of one file called name (raw header), then the end-of-archive blocks. */
static void raw_tar_one(const char *path, const char *name) {
  FILE *f = fopen(path, "wb");
  cr_assert(f != NULL);
  raw_tar_entry(f, name, '0', "pwned\n", 6);
  static const char end[1024];
  cr_assert(fwrite(end, 1, sizeof end, f) == sizeof end && fclose(f) == 0);
}

/* ---- running the tool ---------------------------------------------------------------------------- */

/* How many names a folder holds (nothing may appear beside the archive and DEST). */
static int t_entries(const char *dir) {
  DIR *d = opendir(dir);
  cr_assert(d != NULL, "opendir %s", dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

/* The last line of text (without its newline). */
static const char *last_line(const char *text) {
  static char line[4096];
  size_t len = strlen(text);
  while (len && text[len - 1] == '\n') len--;
  size_t start = len;
  while (start && text[start - 1] != '\n') start--;
  snprintf(line, sizeof line, "%.*s", (int)(len - start), text + start);
  return line;
}

/* Unpacks archive (in dir) into dir/dest, with extra options; asserts the refusal: exit 1, the
 * last stderr line "em-archive: refused: ..." naming one of the words in why ("a|b"), no DEST,
 * nothing new in dir, all within seconds. */
static void expect_refused_opts(const char *dir, const char *archive, const char *why, const char *o1, const char *o2) {
  int before = t_entries(dir);
  const char *dest = t_str("%s/dest", dir);
  t_proc p;
  if (o1) t_run(&p, 30, T_ARC, "unpack", archive, dest, o1, o2);
  else t_run(&p, 30, T_ARC, "unpack", archive, dest);
  t_assert_exit(&p, 1);
  const char *last = last_line(p.err);
  cr_assert(strncmp(last, "em-archive: refused: ", 21) == 0, "the last stderr line is not a refusal: %s", last);
  int named = 0;
  char words[256];
  snprintf(words, sizeof words, "%s", why);
  for (char *w = strtok(words, "|"); w; w = strtok(NULL, "|")) named |= strstr(last, w) != NULL;
  /* T_SHOW_REASONS=1 prints every reason, to read them all at once */
  if (getenv("T_SHOW_REASONS")) fprintf(stderr, "%s\n", last);
  cr_assert(named, "the reason does not name the problem (%s): %s", why, last);
  cr_assert(strstr(last, "make submit"), "the reason does not say what to do: %s", last);
  cr_assert(!t_exists(dest), "%s was left behind after a refusal", dest);
  cr_assert_eq(t_entries(dir), before, "something appeared in %s", dir);
  /* list applies the same checks */
  t_proc q;
  if (o1) t_run(&q, 30, T_ARC, "list", archive, o1, o2);
  else t_run(&q, 30, T_ARC, "list", archive);
  t_assert_exit(&q, 1);
  t_proc_free(&q);
  t_proc_free(&p);
}

static void expect_refused(const char *dir, const char *archive, const char *why) {
  expect_refused_opts(dir, archive, why, NULL, NULL);
}

/* ---- traversal, links, special files ----------------------------------------------------------- */

Test(archive, tar_dotdot_libarchive) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/a.tar.gz", dir);
  struct archive *a = w_open(arc, W_TGZ);
  w_file(a, "ok.c", "int x;\n");
  w_file(a, "../x", "pwned\n");
  w_close(a);
  expect_refused(dir, arc, "'..'");
  cr_assert(!t_exists(t_str("%s/x", dir)));
}

Test(archive, tar_traversal_raw_names) {
  const char *dir = t_tmpdir();
  const char *abs_target = t_str("/tmp/emarc-abs-%d", (int)getpid());
  struct {
    const char *name, *why, *target;
  } cases[] = {
      {"../x", "'..'", "x"},
      {"a/../../x", "'..'", "x"},
      {"./../x", "'..'", "x"},
      {abs_target, "absolute", NULL},
      {"..\\x", "backslash", "..\\x"},
      {"a\\..\\..\\x", "backslash", "x"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const char *arc = t_str("%s/t%zu.tar", dir, i);
    raw_tar_one(arc, cases[i].name);
    expect_refused(dir, arc, cases[i].why);
    if (cases[i].target) cr_assert(!t_exists(t_str("%s/%s", dir, cases[i].target)), "%s was written", cases[i].target);
  }
  cr_assert(!t_exists(abs_target), "%s was written", abs_target);
}

Test(archive, zip_traversal) {
  const char *dir = t_tmpdir();
  const char *abs_target = t_str("/tmp/emarc-zabs-%d", (int)getpid());
  const char *names[] = {"../x", "a/../../x", abs_target, "..\\x"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    const char *arc = t_str("%s/z%zu.zip", dir, i);
    struct archive *a = w_open(arc, W_ZIP);
    w_file(a, "ok.c", "int x;\n");
    w_file(a, names[i], "pwned\n");
    w_close(a);
    /* libarchive's zip reader may turn a backslash into a slash: then it is the '..' */
    expect_refused(dir, arc, i == 2 ? "absolute" : i == 3 ? "backslash|'..'" : "'..'");
  }
  cr_assert(!t_exists(t_str("%s/x", dir)));
  cr_assert(!t_exists(abs_target));
}

Test(archive, symlink_out_and_write_through) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/s.tar", dir), *outside = t_str("%s/outside", dir);
  cr_assert(mkdir(outside, 0755) == 0);
  struct archive *a = w_open(arc, W_TAR);
  w_entry(a, "link", AE_IFLNK, outside, NULL, 0);
  w_file(a, "link/pwned", "pwned\n");
  w_close(a);
  expect_refused(dir, arc, "symbolic link");
  cr_assert(!t_exists(t_str("%s/pwned", outside)));
  /* the same in a zip */
  const char *z = t_str("%s/s.zip", dir);
  a = w_open(z, W_ZIP);
  w_entry(a, "link", AE_IFLNK, "/etc", NULL, 0);
  w_close(a);
  expect_refused(dir, z, "symbolic link");
}

Test(archive, hardlink_to_etc_passwd) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/h.tar", dir);
  struct archive *a = w_open(arc, W_TAR);
  w_file(a, "ok.c", "int x;\n");
  w_entry(a, "passwd", AE_IFREG, "/etc/passwd", NULL, 0);
  w_close(a);
  expect_refused(dir, arc, "hard link");
}

Test(archive, device_and_fifo) {
  const char *dir = t_tmpdir();
  struct {
    unsigned type;
    const char *why;
  } cases[] = {{AE_IFCHR, "character device"}, {AE_IFBLK, "block device"}, {AE_IFIFO, "FIFO"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const char *arc = t_str("%s/d%zu.tar", dir, i);
    struct archive *a = w_open(arc, W_TAR);
    w_file(a, "ok.c", "int x;\n");
    w_entry(a, "node", cases[i].type, NULL, NULL, 0);
    w_close(a);
    expect_refused(dir, arc, cases[i].why);
  }
}

/* ---- bombs ---------------------------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 1 GiB of zeros in one file, streamed through the writer (a few MiB on disk). The tool must stop
 * on the ratio after about 1 MiB of output, long before the whole GiB. */
Test(archive, gzip_bomb, .timeout = 60) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/bomb.tar.gz", dir);
  static char zeros[1 << 20];
  struct archive *a = w_open(arc, W_TGZ);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, "bomb.c");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 1ll << 30);
  cr_assert(archive_write_header(a, e) == ARCHIVE_OK);
  for (int i = 0; i < 1024; ++i) cr_assert(archive_write_data(a, zeros, sizeof zeros) == (la_ssize_t)sizeof zeros);
  archive_entry_free(e);
  w_close(a);
  double t0 = now_s();
  expect_refused(dir, arc, "compression bomb");
  cr_expect(now_s() - t0 < 5, "refusing the bomb took %.1f s: it should stop early", now_s() - t0);
  /* with the ratio cap lifted, the per-file and the total caps stop it */
  expect_refused_opts(dir, arc, "larger than", "--max-ratio", "1000000");
}

/* A zip whose central directory lists n entries that all point at one local entry (the kernel):
 * inflating each would give n times the kernel. libarchive will not write this, so it is spliced
 * from a one-entry zip libarchive wrote. */
static void overlap_zip(const char *path, const void *kernel, size_t size, int n) {
  size_t cap = size + (1 << 20), used = 0;
  unsigned char *buf = malloc(cap);
  cr_assert(buf != NULL);
  struct archive *a = archive_write_new();
  cr_assert(archive_write_set_format_zip(a) == ARCHIVE_OK);
  cr_assert(archive_write_open_memory(a, buf, cap, &used) == ARCHIVE_OK);
  w_entry(a, "k0000.c", AE_IFREG, NULL, kernel, size);
  w_close(a);
  /* The end record (22 bytes, no comment) gives the central directory's offset. */
  cr_assert(used > 22 && memcmp(buf + used - 22, "PK\x05\x06", 4) == 0, "no end record where expected");
  const unsigned char *end = buf + used - 22;
  uint32_t cd_off = end[16] | end[17] << 8 | end[18] << 16 | (uint32_t)end[19] << 24;
  const unsigned char *cd = buf + cd_off;
  cr_assert(memcmp(cd, "PK\x01\x02", 4) == 0);
  size_t rec = 46 + (size_t)(cd[28] | cd[29] << 8) + (size_t)(cd[30] | cd[31] << 8) + (size_t)(cd[32] | cd[33] << 8);
  cr_assert((cd[28] | cd[29] << 8) == 7, "the kernel's name is k0000.c");

  FILE *f = fopen(path, "wb");
  cr_assert(f != NULL);
  cr_assert(fwrite(buf, 1, cd_off, f) == cd_off);
  unsigned char *r = malloc(rec);
  cr_assert(r != NULL);
  for (int i = 0; i < n; ++i) {
    memcpy(r, cd, rec);
    char name[8];
    snprintf(name, sizeof name, "k%04d", i % 10000);
    memcpy(r + 46, name, 5); /* local header offset (r + 42) stays: every entry is the kernel */
    cr_assert(fwrite(r, 1, rec, f) == rec);
  }
  unsigned char eocd[22] = {'P', 'K', 5, 6};
  uint32_t cd_size = (uint32_t)(rec * (size_t)n);
  eocd[8] = eocd[10] = (unsigned char)(n & 0xff);
  eocd[9] = eocd[11] = (unsigned char)(n >> 8);
  for (int k = 0; k < 4; ++k) eocd[12 + k] = (unsigned char)(cd_size >> 8 * k), eocd[16 + k] = (unsigned char)(cd_off >> 8 * k);
  cr_assert(fwrite(eocd, 1, sizeof eocd, f) == sizeof eocd && fclose(f) == 0);
  free(r);
  free(buf);
}

Test(archive, zip_overlapping_entries, .timeout = 60) {
  const char *dir = t_tmpdir();
  /* A kernel that does not compress: no ratio to catch, only the overlap (1000 x 256 KiB). */
  size_t size = 256 << 10;
  unsigned char *noise = malloc(size);
  cr_assert(noise != NULL);
  uint64_t s = 88172645463325252ull;
  for (size_t i = 0; i < size; ++i) s ^= s << 13, s ^= s >> 7, s ^= s << 17, noise[i] = (unsigned char)s;
  const char *arc = t_str("%s/overlap.zip", dir);
  overlap_zip(arc, noise, size, 1000);
  expect_refused(dir, arc, "central directory");
  free(noise);
  /* A kernel of zeros (8 MiB, 1000 times over: 8 GiB if each entry were inflated). */
  size = 8 << 20;
  unsigned char *zeros = calloc(size, 1);
  cr_assert(zeros != NULL);
  const char *arc2 = t_str("%s/overlap0.zip", dir);
  overlap_zip(arc2, zeros, size, 1000);
  double t0 = now_s();
  expect_refused(dir, arc2, "compression bomb|central directory");
  cr_expect(now_s() - t0 < 5, "refusing the zip bomb took %.1f s", now_s() - t0);
  free(zeros);
}

/* 1,000,001 empty files (ustar headers through gzip: ~10 MiB); the tool stops at entry 1001. */
Test(archive, a_million_entries, .timeout = 60) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/many.tar.gz", dir);
  struct archive *a = w_open(arc, W_USTAR_GZ);
  struct archive_entry *e = archive_entry_new();
  cr_assert(e != NULL);
  char name[32];
  for (int i = 0; i <= 1000000; ++i) {
    snprintf(name, sizeof name, "f%07d", i);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 0);
    cr_assert(archive_write_header(a, e) == ARCHIVE_OK);
  }
  archive_entry_free(e);
  w_close(a);
  double t0 = now_s();
  expect_refused(dir, arc, "more than 1000 entries");
  cr_expect(now_s() - t0 < 5, "refusing took %.1f s", now_s() - t0);
}

Test(archive, caps_from_the_command_line) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/c.tar", dir);
  struct archive *a = w_open(arc, W_TAR);
  w_file(a, "a.c", "aaaa");
  w_file(a, "b.c", "bbbb");
  w_file(a, "c.c", "cccc");
  w_close(a);
  expect_refused_opts(dir, arc, "more than 2 entries", "--max-entries", "2");
  expect_refused_opts(dir, arc, "more than 10 bytes", "--max-bytes", "10");
  expect_refused_opts(dir, arc, "larger than 3 bytes", "--max-file-bytes", "3");
}

/* ---- names ------------------------------------------------------------------------------------------ */

Test(archive, long_names) {
  const char *dir = t_tmpdir();
  char comp[301], deep[1400] = "";
  memset(comp, 'a', 300);
  comp[300] = 0;
  while (strlen(deep) < 1100) strcat(deep, "abcdefghij/");
  strcat(deep, "x.c");
  const char *arc = t_str("%s/l1.tar.gz", dir), *arc2 = t_str("%s/l2.tar.gz", dir);
  struct archive *a = w_open(arc, W_TGZ);
  w_file(a, comp, "x");
  w_close(a);
  expect_refused(dir, arc, "longer than 255");
  a = w_open(arc2, W_TGZ);
  w_file(a, deep, "x");
  w_close(a);
  expect_refused(dir, arc2, "longer than 1024");
}

Test(archive, bad_characters_in_names) {
  const char *dir = t_tmpdir();
  struct {
    const char *name, *why;
  } cases[] = {
      {"bad\xff.c", "UTF-8"},
      {"over\xc0\xaflong.c", "UTF-8"},
      {"surrogate\xed\xa0\x80.c", "UTF-8"},
      {"tab\there.c", "control character"},
      {"esc\x1b[31m.c", "control character"},
      {"nl\nx.c", "control character"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const char *arc = t_str("%s/n%zu.tar", dir, i);
    raw_tar_one(arc, cases[i].name);
    expect_refused(dir, arc, cases[i].why);
  }
}

/* ---- not archives, damaged archives, empty archives ------------------------------------------------ */

Test(archive, truncated) {
  const char *dir = t_tmpdir();
  size_t size = 200 << 10;
  unsigned char *noise = malloc(size);
  cr_assert(noise != NULL);
  uint64_t s = 1234567;
  for (size_t i = 0; i < size; ++i) s ^= s << 13, s ^= s >> 7, s ^= s << 17, noise[i] = (unsigned char)s;
  const char *kinds[] = {"t.tar.gz", "t.tar", "t.tar.xz", "t.tar.zst", "t.zip"};
  int wk[] = {W_TGZ, W_TAR, W_TXZ, W_TZST, W_ZIP};
  for (size_t k = 0; k < 5; ++k) {
    const char *full = t_str("%s/full-%s", dir, kinds[k]), *cut = t_str("%s/%s", dir, kinds[k]);
    struct archive *a = w_open(full, wk[k]);
    w_entry(a, "noise.c", AE_IFREG, NULL, noise, size);
    w_file(a, "after.c", "int after;\n");
    w_close(a);
    size_t len;
    char *bytes = t_read_file(full, &len);
    cr_assert(bytes != NULL && len > 1000);
    FILE *f = fopen(cut, "wb");
    cr_assert(f != NULL && fwrite(bytes, 1, len / 2, f) == len / 2 && fclose(f) == 0);
    free(bytes);
    cr_assert(unlink(full) == 0);
    expect_refused(dir, cut, "truncated|damaged|central directory");
  }
  free(noise);
}

Test(archive, not_archives) {
  const char *dir = t_tmpdir();
  unsigned char noise[4096];
  uint64_t s = 99;
  for (size_t i = 0; i < sizeof noise; ++i) s ^= s << 13, s ^= s >> 7, s ^= s << 17, noise[i] = (unsigned char)s;
  noise[0] = 0x5a; /* no magic of any kind by chance */
  FILE *f = fopen(t_str("%s/random.bin", dir), "wb");
  cr_assert(f && fwrite(noise, 1, sizeof noise, f) == sizeof noise && fclose(f) == 0);
  expect_refused(dir, t_str("%s/random.bin", dir), "not a tar or zip archive");

  f = fopen(t_str("%s/image.png", dir), "wb");
  cr_assert(f && fwrite("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 1, 16, f) == 16 && fwrite(noise, 1, 512, f) == 512 &&
            fclose(f) == 0);
  expect_refused(dir, t_str("%s/image.png", dir), "PNG image");

  t_write_file(t_str("%s/notes.txt", dir), "int main(void) { return 0; }\nThis is a text file, not an archive.\n");
  expect_refused(dir, t_str("%s/notes.txt", dir), "text file");

  t_write_file(t_str("%s/empty.tar.gz", dir), "");
  expect_refused(dir, t_str("%s/empty.tar.gz", dir), "empty");

  /* Formats libarchive reads but we do not, each with the words the refusal must use. */
  static const struct {
    const char *file, *reason;
    int (*format)(struct archive *);
    int (*filter)(struct archive *); /* NULL: none */
  } others[] = {
      {"x.cpio", "cpio", archive_write_set_format_cpio_newc, NULL},
      {"x.7z", "7-Zip", archive_write_set_format_7zip, NULL},
      {"x.a", "ar archive", archive_write_set_format_ar_svr4, NULL},
      {"x.iso", "ISO 9660", archive_write_set_format_iso9660, NULL},
      {"x.tar.bz2", "bzip2", archive_write_set_format_pax_restricted, archive_write_add_filter_bzip2},
      {"x.gz", "gzip-compressed data that is not a tar", archive_write_set_format_raw, archive_write_add_filter_gzip},
  };
  for (size_t k = 0; k < sizeof others / sizeof others[0]; ++k) {
    const char *arc = t_str("%s/%s", dir, others[k].file);
    struct archive *a = archive_write_new();
    cr_assert(others[k].format(a) == ARCHIVE_OK && (!others[k].filter || others[k].filter(a) == ARCHIVE_OK) &&
                  archive_write_open_filename(a, arc) == ARCHIVE_OK,
              "cannot write %s: %s", others[k].file, archive_error_string(a));
    w_file(a, "a.c", "int main(void) { return 0; }\n");
    w_close(a);
    expect_refused(dir, arc, others[k].reason);
  }
}

Test(archive, empty_archives) {
  const char *dir = t_tmpdir();
  int kinds[] = {W_TAR, W_TGZ, W_ZIP};
  for (size_t k = 0; k < 3; ++k) {
    const char *arc = t_str("%s/e%zu", dir, k);
    w_close(w_open(arc, kinds[k]));
    expect_refused(dir, arc, "no files");
  }
  /* folders only: still no files */
  const char *arc = t_str("%s/dirs.tar", dir);
  struct archive *a = w_open(arc, W_TAR);
  w_entry(a, "a", AE_IFDIR, NULL, NULL, 0);
  w_entry(a, "a/b", AE_IFDIR, NULL, NULL, 0);
  w_close(a);
  expect_refused(dir, arc, "no files");
}

Test(archive, duplicate_names) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/dup.tar", dir);
  struct archive *a = w_open(arc, W_TAR);
  w_file(a, "a.c", "first\n");
  w_file(a, "./a.c", "second\n");
  w_close(a);
  expect_refused(dir, arc, "twice");
}

Test(archive, existing_dest_is_left_alone) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/ok.tar", dir), *dest = t_str("%s/dest", dir);
  struct archive *a = w_open(arc, W_TAR);
  w_file(a, "a.c", "int a;\n");
  w_close(a);
  cr_assert(mkdir(dest, 0755) == 0);
  t_write_file(t_str("%s/mine.txt", dest), "keep me\n");
  t_proc p;
  t_run(&p, 30, T_ARC, "unpack", arc, dest);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "already exists");
  char *kept = t_read_file(t_str("%s/mine.txt", dest), NULL);
  cr_assert(kept && strcmp(kept, "keep me\n") == 0, "the existing DEST was touched");
  cr_assert(!t_exists(t_str("%s/a.c", dest)));
  free(kept);
  t_proc_free(&p);
  /* an existing file, too */
  t_run(&p, 30, T_ARC, "unpack", arc, t_str("%s/dest/mine.txt", dir));
  t_assert_exit(&p, 2);
  t_proc_free(&p);
}

Test(archive, usage_errors_exit_2) {
  t_proc p;
  t_run(&p, 30, T_ARC, "unpack", "/nonexistent/archive.tar.gz", "/tmp/never");
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "cannot open");
  t_proc_free(&p);
  t_run(&p, 30, T_ARC, "explode");
  t_assert_exit(&p, 2);
  t_proc_free(&p);
  t_run(&p, 30, T_ARC, "unpack", "x");
  t_assert_exit(&p, 2);
  t_proc_free(&p);
  t_run(&p, 30, T_ARC, "--help");
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "refused: <reason>");
  t_proc_free(&p);
}

/* ---- honest archives come back byte for byte ---------------------------------------------------- */

static const char *const RT_NAMES[] = {"labs/lab1-add/add.c", "labs/lab1-add/add.cu", "results.json", "empty.h", "deep/a/b/c.cuh"};
#define RT_N 5

static char *rt_content(size_t i, size_t *len) {
  /* text, and a binary-ish blob with every byte value, and an empty file */
  size_t n = i == 3 ? 0 : 3000 + 1000 * i;
  char *s = malloc(n + 1);
  cr_assert(s != NULL);
  for (size_t k = 0; k < n; ++k) s[k] = i == 2 ? (char)(k * 7 + i) : "int x = 1;\n"[k % 11];
  s[n] = 0;
  *len = n;
  return s;
}

static void rt_check(const char *dest) {
  for (size_t i = 0; i < RT_N; ++i) {
    size_t want_len, got_len;
    char *want = rt_content(i, &want_len);
    char *got = t_read_file(t_str("%s/%s", dest, RT_NAMES[i]), &got_len);
    cr_assert(got != NULL, "%s/%s missing", dest, RT_NAMES[i]);
    cr_assert(got_len == want_len && memcmp(got, want, want_len) == 0, "%s differs", RT_NAMES[i]);
    struct stat st;
    cr_assert(stat(t_str("%s/%s", dest, RT_NAMES[i]), &st) == 0);
    cr_expect(S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0, "%s: a regular file, not executable", RT_NAMES[i]);
    free(want);
    free(got);
  }
  struct stat st;
  cr_assert(stat(dest, &st) == 0 && (st.st_mode & 0777) == 0700, "DEST is created 0700");
}

Test(archive, round_trip_libarchive_formats) {
  const char *dir = t_tmpdir();
  int kinds[] = {W_TAR, W_TGZ, W_TXZ, W_TZST, W_ZIP};
  const char *names[] = {"rt.tar", "rt.tar.gz", "rt.tar.xz", "rt.tar.zst", "rt.zip"};
  for (size_t k = 0; k < 5; ++k) {
    const char *arc = t_str("%s/%s", dir, names[k]), *dest = t_str("%s/out-%zu", dir, k);
    struct archive *a = w_open(arc, kinds[k]);
    w_entry(a, "deep", AE_IFDIR, NULL, NULL, 0); /* folders are fine, listed or implied */
    for (size_t i = 0; i < RT_N; ++i) {
      size_t len;
      char *c = rt_content(i, &len);
      w_entry(a, RT_NAMES[i], AE_IFREG, NULL, c, len);
      free(c);
    }
    w_close(a);
    t_proc p;
    t_run(&p, 30, T_ARC, "unpack", arc, dest);
    t_assert_exit(&p, 0);
    rt_check(dest);
    t_proc_free(&p);
    t_run(&p, 30, T_ARC, "list", arc);
    t_assert_exit(&p, 0);
    t_assert_output_has(&p, "labs/lab1-add/add.cu");
    t_proc_free(&p);
  }
}

Test(archive, pack_then_unpack) {
  const char *dir = t_tmpdir(), *src = t_str("%s/src", dir);
  cr_assert(mkdir(src, 0755) == 0);
  for (size_t i = 0; i < RT_N; ++i) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", src, RT_NAMES[i]);
    for (char *p = path + strlen(src) + 1; *p; ++p)
      if (*p == '/') *p = 0, mkdir(path, 0755), *p = '/';
    size_t len;
    char *c = rt_content(i, &len);
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite(c, 1, len, f) == len && fclose(f) == 0);
    free(c);
  }
  const char *arc = t_str("%s/p.tar.gz", dir), *arc2 = t_str("%s/p2.tar.gz", dir);
  t_proc p;
  t_run(&p, 30, T_ARC, "pack", arc, "--root", src, RT_NAMES[0], RT_NAMES[1], RT_NAMES[2], RT_NAMES[3], RT_NAMES[4]);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  t_run(&p, 30, T_ARC, "unpack", arc, t_str("%s/out", dir));
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  rt_check(t_str("%s/out", dir));

  /* the archive itself: regular files, 0644, owner 0:0, no user names */
  struct archive *a = archive_read_new();
  archive_read_support_format_all(a);
  archive_read_support_filter_all(a);
  cr_assert(archive_read_open_filename(a, arc, 10240) == ARCHIVE_OK);
  struct archive_entry *e;
  int n = 0;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    cr_expect_eq(archive_entry_filetype(e), AE_IFREG);
    cr_expect_eq(archive_entry_perm(e), 0644);
    cr_expect_eq(archive_entry_uid(e), 0);
    cr_expect_eq(archive_entry_gid(e), 0);
    cr_expect(archive_entry_uname(e) == NULL || !*archive_entry_uname(e));
    n++;
  }
  cr_expect_eq(archive_filter_code(a, 0), ARCHIVE_FILTER_GZIP);
  archive_read_free(a);
  cr_assert_eq(n, RT_N);

  /* reproducible: the same files give the same bytes; an existing OUT is not replaced */
  t_run(&p, 30, T_ARC, "pack", arc2, "--root", src, RT_NAMES[0], RT_NAMES[1], RT_NAMES[2], RT_NAMES[3], RT_NAMES[4]);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
  size_t l1 = 0, l2 = 0;
  char *b1 = t_read_file(arc, &l1), *b2 = t_read_file(arc2, &l2);
  cr_expect(l1 == l2 && memcmp(b1, b2, l1) == 0, "packing twice gave different bytes");
  free(b1);
  free(b2);
  t_run(&p, 30, T_ARC, "pack", arc, "--root", src, RT_NAMES[0]);
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "already exists");
  t_proc_free(&p);
  /* pack refuses what unpack would refuse */
  t_run(&p, 30, T_ARC, "pack", t_str("%s/bad.tar.gz", dir), "--root", src, "../x");
  t_assert_exit(&p, 2);
  cr_assert(!t_exists(t_str("%s/bad.tar.gz", dir)));
  t_proc_free(&p);
}

/* ---- submit and its manifest ---------------------------------------------------------------------- */

static void sha256_hex(const char *data, size_t len, char hex[65]) {
  struct sha256_ctx ctx;
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_init(&ctx);
  sha256_update(&ctx, len, (const uint8_t *)data);
  sha256_digest(&ctx, sizeof d, d);
  for (int i = 0; i < SHA256_DIGEST_SIZE; ++i) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The CPU track checked (one case with full points, one slow), the CUDA track skipped as a machine
 * without a GPU skips it: the score counts the cases that ran. */
static const char *RESULTS_OK =
    "{\"schema\": \"em-results/1\", \"version\": \"0.1.0\", \"lab\": 1, \"name\": \"add\", \"solution\": false,\n"
    " \"machine\": {\"cpu\": \"x\", \"compiler\": \"gcc 12.2.0\", \"nvcc\": \"13.0\", \"gpu\": null},\n"
    " \"cases\": [\n"
    "  {\"track\": \"cpu\", \"status\": \"pass\", \"reason\": \"\", \"score\": {\"points\": 5, \"max\": 5}},\n"
    "  {\"track\": \"cpu\", \"status\": \"pass\", \"reason\": \"\", \"score\": {\"points\": 2.5, \"max\": 5}},\n"
    "  {\"track\": \"cuda\", \"status\": \"skip\", \"reason\": \"no GPU\\nhere\", \"score\": {\"points\": 0, \"max\": 5}},\n"
    "  {\"track\": \"cuda\", \"status\": \"skip\", \"reason\": \"no GPU\\nhere\", \"score\": {\"points\": 0, \"max\": 5}}],\n"
    " \"score\": {\"points\": 7.5, \"max\": 10}}\n";

static const char *submit_setup(const char *dir, const char *results) {
  const char *lab = t_str("%s/labs/lab1-add", dir);
  cr_assert(mkdir(t_str("%s/labs", dir), 0755) == 0 && mkdir(lab, 0755) == 0);
  t_write_file(t_str("%s/add.c", lab), "void lab1_add(void) {}\n");
  t_write_file(t_str("%s/add.cu", lab), "__global__ void k() {}\n");
  t_write_file(t_str("%s/README.md", lab), "not a student file\n");
  t_write_file(t_str("%s/.#add.c", lab), "an editor's lock\n");
  t_write_file(t_str("%s/results.json", dir), results);
  return lab;
}

Test(archive, submit_writes_a_true_manifest) {
  const char *dir = t_tmpdir(), *lab = submit_setup(dir, RESULTS_OK), *subs = t_str("%s/subs", dir);
  t_proc p;
  t_run(&p, 30, T_ARC, "submit", "--lab", "1", "--lab-dir", lab, "--results", t_str("%s/results.json", dir), "--user",
        "al ice/..!", "--out-dir", subs);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "labs/lab1-add/add.cu");
  /* per track: what ran, or why not (the reason on one line), and the TODOs; the score's scope */
  t_assert_output_has(&p, "  cpu:  checked, all 2 cases passed, 7.5 / 10 points; no TODO left in add.c\n");
  t_assert_output_has(&p, "  cuda: not run here (no GPU here); no TODO left in add.cu\n");
  t_assert_output_has(&p, "claimed score: 7.5 / 10, the cpu track only (cuda not run here)\n");

  /* exactly one archive, named labN-<user>-<YYYYmmdd-HHMMSS>.tar.gz */
  DIR *d = opendir(subs);
  cr_assert(d != NULL);
  struct dirent *e;
  char name[256] = "";
  int count = 0;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') snprintf(name, sizeof name, "%s", e->d_name), count++;
  closedir(d);
  cr_assert_eq(count, 1);
  cr_assert(strncmp(name, "lab1-alice..-", 13) == 0 && strlen(name) == 13 + 15 + 7 &&
                strcmp(name + strlen(name) - 7, ".tar.gz") == 0,
            "unexpected archive name %s", name);
  t_assert_output_has(&p, name);
  t_proc_free(&p);

  const char *out = t_str("%s/u", dir);
  t_run(&p, 30, T_ARC, "unpack", t_str("%s/%s", subs, name), out);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "unpacked 4 files");
  t_proc_free(&p);
  cr_assert(!t_exists(t_str("%s/labs/lab1-add/README.md", out)));

  json_t *m = t_load_json(t_str("%s/manifest.json", out));
  cr_expect_str_eq(t_json_str(m, "schema"), "em-manifest/1");
  cr_expect_eq(json_integer_value(json_object_get(m, "lab")), 1);
  cr_expect_str_eq(t_json_str(m, "lab_name"), "add");
  cr_expect_str_eq(t_json_str(m, "user"), "alice..");
  cr_expect_str_eq(t_json_str(m, "harness_version"), EM_VERSION);
  const char *created = t_json_str(m, "created");
  cr_expect(strlen(created) == 20 && created[10] == 'T' && created[19] == 'Z', "created: %s", created);
  json_t *tc = json_object_get(m, "toolchain");
  cr_expect_str_eq(t_json_str(tc, "cc"), "gcc 12.2.0");
  cr_expect_str_eq(t_json_str(tc, "nvcc"), "13.0");
  cr_expect(json_is_null(json_object_get(m, "gpu")));
  json_t *cs = json_object_get(m, "claimed_score");
  cr_expect_float_eq(t_json_num(cs, "points"), 7.5, 1e-12);
  cr_expect_float_eq(t_json_num(cs, "max"), 10, 1e-12);
  json_t *covered = json_object_get(cs, "tracks");
  cr_expect(json_is_array(covered) && json_array_size(covered) == 1 &&
                strcmp(t_str_or_empty(json_array_get(covered, 0)), "cpu") == 0,
            "the claimed score covers the cpu track alone");
  cr_expect_str_eq(t_json_str(cs, "covers"), "the cpu track only (cuda not run here)");
  json_t *cpu = json_object_get(json_object_get(m, "tracks"), "cpu");
  json_t *cuda = json_object_get(json_object_get(m, "tracks"), "cuda");
  cr_expect_str_eq(t_json_str(cpu, "status"), "checked");
  cr_expect(json_is_null(json_object_get(cpu, "reason")));
  cr_expect_eq(json_integer_value(json_object_get(cpu, "passed")), 2);
  cr_expect_float_eq(t_json_num(cpu, "points"), 7.5, 1e-12);
  cr_expect_eq(json_integer_value(json_object_get(json_object_get(cpu, "todos"), "labs/lab1-add/add.c")), 0);
  cr_expect_str_eq(t_json_str(cuda, "status"), "skipped");
  cr_expect_str_eq(t_json_str(cuda, "reason"), "no GPU here");
  cr_expect_eq(json_integer_value(json_object_get(cuda, "skipped")), 2);
  cr_expect_eq(json_integer_value(json_object_get(cuda, "todo_count")), 0);
  cr_expect_str_eq(t_json_str(cuda, "note"), "not run here (no GPU here); no TODO left in add.cu");

  json_t *files = json_object_get(m, "files");
  cr_assert(json_is_array(files) && json_array_size(files) == 3, "files: results.json and the two student files");
  const char *want[] = {"results.json", "labs/lab1-add/add.c", "labs/lab1-add/add.cu"};
  for (size_t i = 0; i < 3; ++i) {
    json_t *f = json_array_get(files, i);
    cr_expect_str_eq(t_json_str(f, "path"), want[i]);
    size_t len;
    char *data = t_read_file(t_str("%s/%s", out, want[i]), &len);
    cr_assert(data != NULL);
    char hex[65];
    sha256_hex(data, len, hex);
    cr_expect_str_eq(t_json_str(f, "sha256"), hex, "%s: manifest hash differs from the file's", want[i]);
    cr_expect_eq((size_t)json_integer_value(json_object_get(f, "bytes")), len);
    free(data);
  }
  /* and the results file is the one checked, byte for byte */
  char *res = t_read_file(t_str("%s/results.json", out), NULL);
  cr_expect_str_eq(res, RESULTS_OK);
  free(res);
  json_decref(m);
}

/* Both tracks ran and passed: the receipt says so, and counts the EM_TODO( calls left in each
 * track's files: calls only, not the name in a comment or a string, nor a longer name. */
static const char *RESULTS_BOTH =
    "{\"schema\": \"em-results/1\", \"lab\": 1, \"name\": \"add\", \"solution\": false, \"machine\": {},\n"
    " \"cases\": [{\"track\": \"cpu\", \"status\": \"pass\", \"score\": {\"points\": 4, \"max\": 4}},\n"
    "           {\"track\": \"cuda\", \"status\": \"pass\", \"score\": {\"points\": 6, \"max\": 6}}],\n"
    " \"score\": {\"points\": 10, \"max\": 10}}\n";

Test(archive, submit_counts_todos_per_track) {
  const char *dir = t_tmpdir(), *lab = submit_setup(dir, RESULTS_BOTH), *subs = t_str("%s/subs", dir);
  t_write_file(t_str("%s/add.c", lab), "void lab1_add(void) { EM_TODO(\"write it\"); }\n");
  t_write_file(t_str("%s/add.cu", lab),
               "// EM_TODO(\"in a comment\") that goes on \\\n"
               "   EM_TODO(\"on the next line\")\n"
               "/* delete the EM_TODO(\"...\") line */\n"
               "static const char *s = \"EM_TODO(\\\"in a string\\\")\", c = '\"';\n"
               "#define MY_EM_TODO(x)\n"
               "void f(void) { MY_EM_TODO(1); EM_TODO (\"one\"); EM_TODO_X(2); }\n"
               "void g(void) {\n  EM_TODO\n    (\"two\");\n}\n");
  t_write_file(t_str("%s/helper.cuh", lab), "EM_TODO(\"three\");\n");
  t_proc p;
  t_run(&p, 30, T_ARC, "submit", "--lab", "1", "--lab-dir", lab, "--results", t_str("%s/results.json", dir), "--out-dir",
        subs);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "  cpu:  checked, its 1 case passed, 4 / 4 points; add.c still has 1 TODO\n");
  t_assert_output_has(&p, "  cuda: checked, its 1 case passed, 6 / 6 points; add.cu still has 2 TODOs, helper.cuh 1 TODO\n");
  t_assert_output_has(&p, "claimed score: 10 / 10, the cpu and cuda tracks\n");
  t_proc_free(&p);
}

/* A check of one track (TRACK=cpu): the other is named as not checked, and the score as the cpu
 * track's alone. */
Test(archive, submit_names_a_track_left_out) {
  const char *results =
      "{\"schema\": \"em-results/1\", \"lab\": 1, \"solution\": false, \"machine\": {},\n"
      " \"cases\": [{\"track\": \"cpu\", \"status\": \"fail\", \"score\": {\"points\": 0, \"max\": 4}},\n"
      "           {\"track\": \"cpu\", \"status\": \"error\", \"score\": {\"points\": 0, \"max\": 1}},\n"
      "           {\"track\": \"cpu\", \"status\": \"pass\", \"score\": {\"points\": 1, \"max\": 1}}],\n"
      " \"score\": {\"points\": 1, \"max\": 6}}\n";
  const char *dir = t_tmpdir(), *lab = submit_setup(dir, results), *subs = t_str("%s/subs", dir);
  t_write_file(t_str("%s/add.cu", lab), "void f(void) { EM_TODO(\"launch\"); }\n");
  t_proc p;
  t_run(&p, 30, T_ARC, "submit", "--lab", "1", "--lab-dir", lab, "--results", t_str("%s/results.json", dir), "--out-dir",
        subs);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "  cpu:  checked, 1 of 3 cases passed, 1 failed, 1 with an error, 1 / 6 points;");
  t_assert_output_has(&p, "  cuda: not checked (this check ran the cpu track only");
  t_assert_output_has(&p, "add.cu still has 1 TODO\n");
  t_assert_output_has(&p, "claimed score: 1 / 6, the cpu track only (cuda not checked)\n");
  t_proc_free(&p);
}

Test(archive, submit_refuses_wrong_results) {
  struct {
    const char *results, *needle;
  } cases[] = {
      {"{\"schema\": \"em-results/1\", \"lab\": 1, \"solution\": true, \"machine\": {}, \"score\": {\"points\": 10, \"max\": 10}}",
       "reference solution"},
      {"{\"schema\": \"em-results/1\", \"lab\": 2, \"solution\": false, \"machine\": {}, \"score\": {\"points\": 1, \"max\": 10}}",
       "another lab"},
      {"{\"what\": 1}", "not a results file"},
      {"not json", "make check"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const char *dir = t_tmpdir(), *lab = submit_setup(dir, cases[i].results), *subs = t_str("%s/subs", dir);
    t_proc p;
    t_run(&p, 30, T_ARC, "submit", "--lab", "1", "--lab-dir", lab, "--results", t_str("%s/results.json", dir),
          "--out-dir", subs);
    t_assert_exit(&p, 2);
    t_assert_output_has(&p, cases[i].needle);
    cr_assert(!t_exists(subs), "nothing is written when submit refuses");
    t_proc_free(&p);
  }
}

/* ---- odd but not hostile-looking: still refused, with the reason ------------------------------- */

Test(archive, file_and_folder_of_one_name) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/clash.tar", dir);
  struct archive *a = w_open(arc, W_TAR);
  w_file(a, "a", "a file\n");
  w_file(a, "a/b.c", "inside a file?\n");
  w_close(a);
  expect_refused(dir, arc, "both a file and a folder");
}

Test(archive, encrypted_zip) {
  const char *dir = t_tmpdir(), *arc = t_str("%s/enc.zip", dir);
  struct archive *a = archive_write_new();
  cr_assert(archive_write_set_format_zip(a) == ARCHIVE_OK);
  if (archive_write_set_options(a, "zip:encryption=zipcrypt") != ARCHIVE_OK) {
    archive_write_free(a);
    cr_skip_test("this libarchive cannot write encrypted zips");
  }
  cr_assert(archive_write_set_passphrase(a, "secret") == ARCHIVE_OK);
  cr_assert(archive_write_open_filename(a, arc) == ARCHIVE_OK);
  w_file(a, "a.c", "int a;\n");
  w_close(a);
  expect_refused(dir, arc, "encrypted");
}

/* A zip under gzip, and a tar compressed twice: nothing make submit writes, so refused by name. */
Test(archive, nested_compression) {
  const char *dir = t_tmpdir();
  const char *arc = t_str("%s/zip.gz", dir);
  struct archive *a = archive_write_new();
  cr_assert(archive_write_set_format_zip(a) == ARCHIVE_OK && archive_write_add_filter_gzip(a) == ARCHIVE_OK &&
            archive_write_open_filename(a, arc) == ARCHIVE_OK);
  w_file(a, "a.c", "int a;\n");
  w_close(a);
  expect_refused(dir, arc, "zip inside gzip");
  arc = t_str("%s/twice.tar.gz.gz", dir);
  a = archive_write_new();
  cr_assert(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK && archive_write_add_filter_gzip(a) == ARCHIVE_OK &&
            archive_write_add_filter_gzip(a) == ARCHIVE_OK && archive_write_open_filename(a, arc) == ARCHIVE_OK);
  w_file(a, "a.c", "int a;\n");
  w_close(a);
  expect_refused(dir, arc, "compressed 2 times");
}

/* ---- make submit ------------------------------------------------------------------------------------
 * On a build folder holding only the skeleton's checker (built by tests/tests.mk), so nothing but
 * em-archive is compiled; submissions go to a temporary SUBMIT_DIR, never the project's. */

/* A build folder whose lab N checker is bin (a link to it, made now: newer than any lab file made
 * before, so make submit takes the lab as built). */
static const char *fake_build(int lab, const char *bin) {
  const char *build = t_str("%s/build", t_tmpdir());
  char target[PATH_MAX];
  cr_assert(realpath(bin, target) != NULL, "%s: %s (build it with  make test-build)", bin, strerror(errno));
  cr_assert(mkdir(build, 0777) == 0 && mkdir(t_str("%s/lab%d", build, lab), 0777) == 0);
  cr_assert(symlink(target, t_str("%s/lab%d/em-check", build, lab)) == 0);
  t_write_file(t_str("%s/current-lab", build), t_str("%d\n", lab));
  if (t_exists(T_PEAKS)) t_copy_file(T_PEAKS, t_str("%s/peaks.json", build));
  return build;
}

static const char *fake_build_of_skeleton(void) { return fake_build(1, T_SKELETON); }

Test(make_submit, packs_a_failing_check_and_stops_on_errors, .timeout = 240) {
  const char *build = fake_build_of_skeleton(), *subs = t_str("%s/subs", t_tmpdir());
  t_proc p;
  /* The skeleton fails its cases: it still submits, claiming what it scored. */
  t_run(&p, 200, "make", "-s", "submit", "LAB=1", t_str("BUILD=%s", build), t_str("SUBMIT_DIR=%s", subs), "USER=tester",
        "TRACK=cpu", "ARGS=--no-timing --case n=1");
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, t_str("submission: %s/lab1-tester-", subs));
  t_assert_output_has(&p, "claimed score: 0 / ");
  t_assert_output_has(&p, "labs/lab1-add/add.c");
  /* TRACK=cpu: the receipt says the cuda track was not checked, and the skeleton's TODOs are left */
  t_assert_output_has(&p, "  cpu:  checked, 0 of ");
  t_assert_output_has(&p, "add.c still has ");
  t_assert_output_has(&p, "  cuda: not checked (this check ran the cpu track only");
  t_assert_output_has(&p, "add.cu still has ");
  t_assert_output_has(&p, ", the cpu track only (cuda not checked)");
  cr_assert_eq(t_entries(subs), 1);
  t_proc_free(&p);

  /* A checker error (exit 2) stops it, with the reason. */
  t_run(&p, 200, "make", "-s", "submit", "LAB=1", t_str("BUILD=%s", build), t_str("SUBMIT_DIR=%s", subs), "TRACK=cpu",
        "ARGS=--no-timing --seed -1");
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "bad seed");
  t_assert_output_has(&p, "the check could not run");
  cr_assert_eq(t_entries(subs), 1, "nothing new is packed after a checker error");
  t_proc_free(&p);

  /* No build of the lab: says to build it. */
  const char *empty = t_str("%s/build", t_tmpdir());
  t_run(&p, 200, "make", "-s", "submit", "LAB=1", t_str("BUILD=%s", empty), t_str("SUBMIT_DIR=%s", subs));
  t_assert_exit(&p, 2);
  t_assert_output_has(&p, "make lab1");
  t_proc_free(&p);
}

/* Issue 12's receipt: lab 3 with relu_mul.c finished (the planted correct file with streaming
 * stores) and relu_mul.cu the untouched skeleton, checked where the CUDA track cannot run (no GPU
 * visible: CUDA_VISIBLE_DEVICES is empty, so a GPU machine skips it too). The claimed score is
 * full, and the receipt must not let it read as a finished lab. */
Test(make_submit, receipt_names_the_skipped_track_and_its_todos, .timeout = 240) {
  const char *labs = t_str("%s/labs", t_tmpdir()), *lab = t_str("%s/lab3-relu-mul", labs);
  cr_assert(mkdir(labs, 0755) == 0 && mkdir(lab, 0755) == 0);
  t_copy_file("tests/planted/lab3/nontemporal.c", t_str("%s/relu_mul.c", lab));
  t_copy_file("labs/lab3-relu-mul/relu_mul.cu", t_str("%s/relu_mul.cu", lab));
  /* older than the build by a minute, whatever the clock's resolution */
  struct timeval past[2];
  gettimeofday(&past[0], NULL);
  past[0].tv_sec -= 60, past[1] = past[0];
  cr_assert(utimes(t_str("%s/relu_mul.c", lab), past) == 0 && utimes(t_str("%s/relu_mul.cu", lab), past) == 0);
  const char *build = fake_build(3, t_planted_bin(3, "nontemporal", "cpu")), *subs = t_str("%s/subs", t_tmpdir());
  cr_assert(setenv("CUDA_VISIBLE_DEVICES", "", 1) == 0);
  t_proc p;
  t_run(&p, 200, "make", "-s", "submit", "LAB=3", t_str("LABS=%s", labs), t_str("BUILD=%s", build),
        t_str("SUBMIT_DIR=%s", subs), "USER=tester", "ARGS=--no-timing --case m=31");
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, "  cpu:  checked, its 1 case passed, 1 / 1 points; no TODO left in relu_mul.c\n");
  t_assert_output_has(&p, "  cuda: not run here (");
  t_assert_output_has(&p, "); relu_mul.cu still has 1 TODO\n");
  t_assert_output_has(&p, "claimed score: 1 / 1, the cpu track only (cuda not run here)\n");
  cr_assert_eq(t_entries(subs), 1);
  t_proc_free(&p);
}
