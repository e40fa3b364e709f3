/* em-archive's writer: pack, and submit (the manifest plus the archive of one lab).
 *
 * Archives are gzip + pax restricted (plain ustar unless a name needs more), regular files only,
 * mode 0644, owner 0:0 without user names, mtime in whole seconds and no gzip timestamp: packing
 * the same files twice gives the same bytes, and nothing about the student's machine leaks but
 * what the manifest states on purpose.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nettle/sha2.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive_tool.h"
#include "em/version.h"

static int say(char *msg, size_t cap, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t cap, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, cap, fmt, ap);
  va_end(ap);
  return code;
}

void em__arc_sha256_hex(const unsigned char *data, size_t size, char hex[65]) {
  struct sha256_ctx ctx;
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_init(&ctx);
  sha256_update(&ctx, size, data);
  sha256_digest(&ctx, sizeof digest, digest);
  for (int i = 0; i < SHA256_DIGEST_SIZE; ++i) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

int em__arc_load(const char *fs_path, const char *name, em__arc_file *f, char *msg, size_t cap) {
  memset(f, 0, sizeof *f);
  const char *why = em__arc_bad_name(name);
  if (why) return say(msg, cap, EM__ARC_ENV, "cannot pack \"%s\": %s: give a plain relative path", name, why);
  em__arc_normalise(name, f->path, sizeof f->path);
  if (!f->path[0]) return say(msg, cap, EM__ARC_ENV, "cannot pack \"%s\": it names no file", name);

  struct stat st;
  if (lstat(fs_path, &st) != 0)
    return say(msg, cap, EM__ARC_ENV, "cannot pack %s: %s", fs_path, strerror(errno));
  if (S_ISLNK(st.st_mode))
    return say(msg, cap, EM__ARC_ENV, "cannot pack %s: it is a symbolic link; put the file itself there", fs_path);
  if (!S_ISREG(st.st_mode)) return say(msg, cap, EM__ARC_ENV, "cannot pack %s: not a regular file", fs_path);
  /* What unpack accepts by default, so a packed archive always unpacks. */
  if ((uint64_t)st.st_size > EM__ARC_MAX_FILE_BYTES)
    return say(msg, cap, EM__ARC_ENV, "cannot pack %s: %lld bytes, more than the 16 MiB one file may hold", fs_path,
               (long long)st.st_size);

  /* The whole file in memory: student files are small, and the bytes hashed are then exactly the
   * bytes packed, even if the file changes meanwhile. */
  int fd = open(fs_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return say(msg, cap, EM__ARC_ENV, "cannot open %s: %s", fs_path, strerror(errno));
  size_t want = (size_t)st.st_size, got = 0;
  f->data = malloc(want ? want : 1);
  if (!f->data) {
    close(fd);
    return say(msg, cap, EM__ARC_ENV, "out of memory reading %s", fs_path);
  }
  while (got < want) {
    ssize_t n = read(fd, f->data + got, want - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (got != want) {
    free(f->data);
    f->data = NULL;
    return say(msg, cap, EM__ARC_ENV, "cannot read %s: it changed while being read; try again", fs_path);
  }
  f->size = want;
  f->mtime = (int64_t)st.st_mtime;
  return EM__ARC_OK;
}

static const char *la_error(struct archive *a) {
  const char *s = archive_error_string(a);
  return s ? s : "no details from libarchive";
}

static int write_entries(struct archive *a, const em__arc_file *files, size_t n, char *msg, size_t cap) {
  for (size_t i = 0; i < n; ++i) {
    struct archive_entry *e = archive_entry_new();
    if (!e) return say(msg, cap, EM__ARC_ENV, "out of memory");
    archive_entry_set_pathname(e, files[i].path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)files[i].size);
    archive_entry_set_mtime(e, (time_t)files[i].mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int ok = archive_write_header(a, e) == ARCHIVE_OK &&
             (files[i].size == 0 || archive_write_data(a, files[i].data, files[i].size) == (la_ssize_t)files[i].size);
    archive_entry_free(e);
    if (!ok) return say(msg, cap, EM__ARC_ENV, "cannot write %s into the archive: %s", files[i].path, la_error(a));
  }
  return EM__ARC_OK;
}

int em__arc_write(const char *out, const em__arc_file *files, size_t n, char *msg, size_t cap) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid()) >= (int)sizeof tmp)
    return say(msg, cap, EM__ARC_ENV, "the output path is too long");
  struct stat st;
  if (lstat(out, &st) == 0)
    return say(msg, cap, EM__ARC_ENV, "%s already exists: remove it or choose another name", out);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return say(msg, cap, EM__ARC_ENV, "cannot create %s: %s", tmp, strerror(errno));

  int rc = EM__ARC_OK;
  struct archive *a = archive_write_new();
  if (!a) {
    rc = say(msg, cap, EM__ARC_ENV, "out of memory");
  } else if (archive_write_add_filter_gzip(a) != ARCHIVE_OK || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
             /* No time of packing in the gzip header: the same files give the same bytes. */
             archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
             archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    rc = say(msg, cap, EM__ARC_ENV, "libarchive cannot write %s: %s", out, la_error(a));
  } else {
    rc = write_entries(a, files, n, msg, cap);
    if (archive_write_close(a) != ARCHIVE_OK && rc == EM__ARC_OK)
      rc = say(msg, cap, EM__ARC_ENV, "cannot finish %s: %s", out, la_error(a));
  }
  if (a) archive_write_free(a);
  if (close(fd) != 0 && rc == EM__ARC_OK) rc = say(msg, cap, EM__ARC_ENV, "cannot write %s: %s", tmp, strerror(errno));
  /* link, not rename: never replaces an out that appeared meanwhile. */
  if (rc == EM__ARC_OK && link(tmp, out) != 0)
    rc = say(msg, cap, EM__ARC_ENV, "cannot create %s: %s%s", out, strerror(errno),
             errno == EEXIST ? ": remove it or choose another name" : "");
  unlink(tmp);
  return rc;
}

/* ---- submit ------------------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_student_file(const char *name) {
  static const char *const ext[] = {".c", ".cu", ".h", ".cuh"};
  size_t len = strlen(name);
  /* Hidden files are editors' (emacs's .#add.c lock is a symbolic link), never the student's. */
  if (name[0] == '.') return 0;
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; ++i) {
    size_t el = strlen(ext[i]);
    if (len > el && strcmp(name + len - el, ext[i]) == 0) return 1;
  }
  return 0;
}

/* The user name reduced to [A-Za-z0-9._-], so it is safe in a file name; the login name when
 * none is given, "student" when neither gives anything. */
static void clean_user(const char *user, char *out, size_t cap) {
  if (!user || !*user) {
    struct passwd *pw = getpwuid(getuid());
    user = pw && pw->pw_name ? pw->pw_name : "";
  }
  size_t n = 0;
  for (const char *p = user; *p && n + 1 < cap && n < 64; ++p)
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
        *p == '-')
      out[n++] = *p;
  out[n] = 0;
  if (!n) snprintf(out, cap, "student");
}

static void free_files(em__arc_file *files, size_t n) {
  for (size_t i = 0; i < n; ++i) free(files[i].data);
  free(files);
}

/* The student files of the lab folder, sorted, into files[first..]; returns the new count. */
static int load_lab_files(const em__arc_submit_opts *o, const char *folder, em__arc_file **files, size_t *n, char *msg,
                          size_t cap) {
  DIR *d = opendir(o->lab_dir);
  if (!d) return say(msg, cap, EM__ARC_ENV, "cannot read the lab folder %s: %s", o->lab_dir, strerror(errno));
  char **names = NULL;
  size_t nn = 0, room = 0;
  int rc = EM__ARC_OK;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!is_student_file(de->d_name)) continue;
    if (nn == room) {
      room = room ? 2 * room : 16;
      char **more = realloc(names, room * sizeof *names);
      if (!more) {
        rc = say(msg, cap, EM__ARC_ENV, "out of memory");
        break;
      }
      names = more;
    }
    if (!(names[nn] = strdup(de->d_name))) {
      rc = say(msg, cap, EM__ARC_ENV, "out of memory");
      break;
    }
    nn++;
  }
  closedir(d);
  if (rc == EM__ARC_OK && nn == 0)
    rc = say(msg, cap, EM__ARC_ENV, "no .c, .cu, .h or .cuh files in %s: nothing to submit", o->lab_dir);
  if (rc == EM__ARC_OK) {
    qsort(names, nn, sizeof *names, cmp_str);
    em__arc_file *more = realloc(*files, (*n + nn) * sizeof **files);
    if (!more) rc = say(msg, cap, EM__ARC_ENV, "out of memory");
    else *files = more;
  }
  for (size_t i = 0; i < nn && rc == EM__ARC_OK; ++i) {
    char fs[4096], name[EM__ARC_MAX_PATH + 1];
    snprintf(fs, sizeof fs, "%s/%s", o->lab_dir, names[i]);
    snprintf(name, sizeof name, "labs/%s/%s", folder, names[i]);
    rc = em__arc_load(fs, name, &(*files)[*n], msg, cap);
    if (rc == EM__ARC_OK) ++*n;
  }
  for (size_t i = 0; i < nn; ++i) free(names[i]);
  free(names);
  return rc;
}

static json_t *str_or_null(json_t *v) { return json_is_string(v) && *json_string_value(v) ? json_copy(v) : json_null(); }

/* The lab folder's name, labN-name, which is the archive's labs/labN-name/. */
static int lab_folder(const em__arc_submit_opts *o, char *folder, size_t len, char *msg, size_t cap) {
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s", o->lab_dir);
  size_t tl = strlen(tmp);
  while (tl > 1 && tmp[tl - 1] == '/') tmp[--tl] = 0;
  const char *base = strrchr(tmp, '/');
  snprintf(folder, len, "%s", base ? base + 1 : tmp);
  char prefix[32];
  snprintf(prefix, sizeof prefix, "lab%d-", o->lab);
  if (strncmp(folder, prefix, strlen(prefix)) != 0 || em__arc_bad_name(folder))
    return say(msg, cap, EM__ARC_ENV, "%s is not lab %d's folder (labs/lab%d-<name>)", o->lab_dir, o->lab, o->lab);
  return EM__ARC_OK;
}

/* results.json into f, and parsed from the very bytes that are packed and hashed into *res: it
 * must be this checker's results of lab o->lab, from the student's code. */
static int load_results(const em__arc_submit_opts *o, em__arc_file *f, json_t **res, char *msg, size_t cap) {
  *res = NULL;
  int rc = em__arc_load(o->results, "results.json", f, msg, cap);
  if (rc) {
    if (access(o->results, F_OK) != 0)
      return say(msg, cap, EM__ARC_ENV, "there is no %s: run  make lab%d && make check  first", o->results, o->lab);
    return rc;
  }
  json_error_t jerr;
  json_t *r = json_loadb((const char *)f->data, f->size, 0, &jerr);
  json_t *score = json_object_get(r, "score");
  const char *schema = json_string_value(json_object_get(r, "schema"));
  if (!r)
    rc = say(msg, cap, EM__ARC_ENV, "cannot read %s: %s: run  make check LAB=%d  again", o->results, jerr.text, o->lab);
  else if (!schema || strcmp(schema, EM_RESULTS_SCHEMA) != 0 || !json_is_number(json_object_get(score, "points")) ||
           !json_is_number(json_object_get(score, "max")) || !json_is_object(json_object_get(r, "machine")))
    rc = say(msg, cap, EM__ARC_ENV, "%s is not a results file of this checker (schema %s): run  make lab%d && make check  again",
             o->results, EM_RESULTS_SCHEMA, o->lab);
  else if (!json_is_integer(json_object_get(r, "lab")) || json_integer_value(json_object_get(r, "lab")) != o->lab)
    rc = say(msg, cap, EM__ARC_ENV, "%s holds the results of another lab, not lab %d: run  make lab%d && make check  again",
             o->results, o->lab, o->lab);
  else if (json_is_true(json_object_get(r, "solution")))
    rc = say(msg, cap, EM__ARC_ENV,
             "lab %d was built from the reference solution (SOLUTION=1), not your code: run  make lab%d  and submit again",
             o->lab, o->lab);
  if (rc) json_decref(r);
  else *res = r;
  return rc;
}

/* The claimed score: results.json's, with the tracks it covers (those whose cases ran) and that
 * in words. NULL when out of memory. */
static json_t *claimed_json(json_t *score, const em__arc_track *tracks) {
  char scope[512];
  em__arc_claim_scope(tracks, scope, sizeof scope);
  json_t *claimed = json_object(), *covered = em__arc_checked_tracks_json(tracks);
  if (!claimed || !covered) {
    json_decref(claimed), json_decref(covered);
    return NULL;
  }
  json_object_set_new(claimed, "points", json_real(json_number_value(json_object_get(score, "points"))));
  json_object_set_new(claimed, "max", json_real(json_number_value(json_object_get(score, "max"))));
  json_object_set_new(claimed, "tracks", covered);
  json_object_set_new(claimed, "covers", json_string(scope));
  return claimed;
}

/* manifest.json into files[0]: what the archive holds (files[1..n), their SHA-256 and sizes), and
 * what results.json (res) says of the check that made it, per track too. */
static int add_manifest(const em__arc_submit_opts *o, const char *folder, const char *user, const char *created,
                        time_t now, json_t *res, const em__arc_track *tracks, em__arc_file *files, size_t n, char *msg,
                        size_t cap) {
  json_t *mach = json_object_get(res, "machine"), *score = json_object_get(res, "score");
  json_t *man = json_object(), *tool = json_object(), *claimed = claimed_json(score, tracks), *list = json_array();
  json_t *per_track = em__arc_tracks_json(tracks, files + 2, n - 2);
  if (!man || !tool || !claimed || !list || !per_track) {
    json_decref(man), json_decref(tool), json_decref(claimed), json_decref(list), json_decref(per_track);
    return say(msg, cap, EM__ARC_ENV, "out of memory");
  }
  json_object_set_new(man, "schema", json_string("em-manifest/1"));
  json_object_set_new(man, "lab", json_integer(o->lab));
  json_object_set_new(man, "lab_name", str_or_null(json_object_get(res, "name")));
  json_object_set_new(man, "lab_dir", json_sprintf("labs/%s", folder));
  json_object_set_new(man, "user", json_string(user));
  json_object_set_new(man, "created", json_string(created));
  json_object_set_new(man, "harness_version", json_string(EM_VERSION));
  json_object_set_new(tool, "cc", str_or_null(json_object_get(mach, "compiler")));
  json_object_set_new(tool, "nvcc", str_or_null(json_object_get(mach, "nvcc")));
  json_object_set_new(man, "toolchain", tool);
  json_object_set_new(man, "gpu", str_or_null(json_object_get(mach, "gpu")));
  json_object_set_new(man, "claimed_score", claimed);
  json_object_set_new(man, "tracks", per_track);
  for (size_t i = 1; i < n; ++i) {
    char hex[65];
    em__arc_sha256_hex(files[i].data, files[i].size, hex);
    json_t *f = json_object();
    if (!f) break;
    json_object_set_new(f, "path", json_string(files[i].path));
    json_object_set_new(f, "sha256", json_string(hex));
    json_object_set_new(f, "bytes", json_integer((json_int_t)files[i].size));
    json_array_append_new(list, f);
  }
  json_object_set_new(man, "files", list);
  char *text = json_dumps(man, JSON_INDENT(2) | JSON_ENSURE_ASCII);
  int complete = json_array_size(list) == n - 1;
  json_decref(man);
  if (!text || !complete) {
    free(text);
    return say(msg, cap, EM__ARC_ENV, "out of memory");
  }
  size_t len = strlen(text);
  files[0].data = (unsigned char *)text; /* malloc'd by jansson's default allocator */
  text[len] = '\n';                       /* over the NUL: a text file ends with a newline */
  files[0].size = len + 1;
  files[0].mtime = (int64_t)now;
  snprintf(files[0].path, sizeof files[0].path, "manifest.json");
  return EM__ARC_OK;
}

/* The archive OUT_DIR/lab<N>-<user>-<stamp>.tar.gz, and on stdout what it holds and claims, with
 * what the check covered per track. */
static int write_submission(const em__arc_submit_opts *o, const char *user, const char *stamp, const em__arc_file *files,
                            size_t n, json_t *res, const em__arc_track *tracks, char *msg, size_t cap) {
  if (mkdir(o->out_dir, 0755) != 0 && errno != EEXIST)
    return say(msg, cap, EM__ARC_ENV, "cannot create %s: %s", o->out_dir, strerror(errno));
  /* Two submissions within one second would share the stamp: the second takes -2, -3, ... (never
   * overwriting the first, which may already be handed in). */
  char out[4096];
  struct stat st;
  snprintf(out, sizeof out, "%s/lab%d-%s-%s.tar.gz", o->out_dir, o->lab, user, stamp);
  for (int k = 2; lstat(out, &st) == 0 && k < 100; ++k)
    snprintf(out, sizeof out, "%s/lab%d-%s-%s-%d.tar.gz", o->out_dir, o->lab, user, stamp, k);
  int rc = em__arc_write(out, files, n, msg, cap);
  if (rc != EM__ARC_OK) return rc;
  json_t *score = json_object_get(res, "score");
  printf("submission: %s\n", out);
  for (size_t i = 0; i < n; ++i) printf("  %-40s %10zu bytes\n", files[i].path, files[i].size);
  printf("what your check covered, per track:\n");
  for (int k = 0; k < EM__ARC_NTRACKS; ++k) /* "cpu:  ...", "cuda: ...": the notes aligned */
    printf("  %s:%*s%s\n", tracks[k].name, (int)(5 - strlen(tracks[k].name)), "", tracks[k].note);
  char scope[512];
  em__arc_claim_scope(tracks, scope, sizeof scope);
  printf("claimed score: %g / %g, %s\n", json_number_value(json_object_get(score, "points")),
         json_number_value(json_object_get(score, "max")), scope);
  printf("  (the grader re-runs your code with its own cases: this is what your check found)\n");
  printf("upload %s\n", out);
  return EM__ARC_OK;
}

int em__arc_submit(const em__arc_submit_opts *o, char *msg, size_t cap) {
  char folder[256];
  int rc = lab_folder(o, folder, sizeof folder, msg, cap);
  if (rc) return rc;
  /* files[0] is manifest.json (filled in last), [1] results.json, then the student's files. */
  size_t n = 2;
  em__arc_file *files = calloc(n, sizeof *files);
  if (!files) return say(msg, cap, EM__ARC_ENV, "out of memory");
  json_t *res;
  if ((rc = load_results(o, &files[1], &res, msg, cap)) != EM__ARC_OK) {
    free_files(files, n);
    return rc;
  }
  rc = load_lab_files(o, folder, &files, &n, msg, cap);
  char user[80], stamp[32], created[32];
  clean_user(o->user, user, sizeof user);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  /* files[2..n) are the student's: the tracks' TODOs are counted in the very bytes packed. */
  em__arc_track tracks[EM__ARC_NTRACKS];
  if (rc == EM__ARC_OK) em__arc_tracks_tally(res, files + 2, n - 2, tracks);
  if (rc == EM__ARC_OK) rc = add_manifest(o, folder, user, created, now, res, tracks, files, n, msg, cap);
  if (rc == EM__ARC_OK) rc = write_submission(o, user, stamp, files, n, res, tracks, msg, cap);
  json_decref(res);
  free_files(files, n);
  return rc;
}
