/* em-archive: packs lab submissions and unpacks archives nobody vouches for (the grader's
 * submissions). The command line only; the reader is archive_read.c, the writer archive_pack.c.
 * Exit status: 0 done, 1 archive refused, 2 usage or environment error. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "archive_tool.h"
#include "em/version.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: em-archive COMMAND ARGS...\n"
          "Packs lab submissions and unpacks untrusted archives (libarchive; tar and zip).\n"
          "\n"
          "  em-archive pack OUT.tar.gz [--root DIR] PATH...\n"
          "      a gzip'd pax tar of the PATHs, named by their paths relative to DIR (default .);\n"
          "      a folder stands for every file under it, in name order. Regular files only (a\n"
          "      link or a device is refused), stored with mode 0644, owner 0:0, no user names,\n"
          "      their mtime; at most what unpack accepts by default. Never replaces an existing OUT.\n"
          "  em-archive unpack ARCHIVE DEST [caps]\n"
          "      extracts into DEST, which must not exist (it is created, mode 0700). Only regular\n"
          "      files and folders with plain relative UTF-8 names are accepted; tar (plain, .gz,\n"
          "      .xz, .zst) and zip are read, anything else is refused. On refusal DEST is removed.\n"
          "  em-archive list ARCHIVE [caps]\n"
          "      the same checks, extracting nothing: one line per entry (bytes, path).\n"
          "  em-archive submit --lab N --lab-dir DIR --results FILE [--user NAME] [--out-dir DIR]\n"
          "      what `make submit LAB=N` runs after the check: writes manifest.json (schema\n"
          "      em-manifest/1: SHA-256 and size of every file, harness version, toolchain, GPU,\n"
          "      claimed score, per track what ran or why not and the EM_TODO calls left in its\n"
          "      files, from FILE and DIR) and packs it with FILE (as results.json) and the\n"
          "      .c/.cu/.h/.cuh files of DIR (as labs/<DIR's name>/<file>) into\n"
          "      OUT-DIR/labN-<user>-<YYYYmmdd-HHMMSS, UTC>.tar.gz (OUT-DIR default submissions;\n"
          "      user default the login name, reduced to A-Z a-z 0-9 . _ -).\n"
          "\n"
          "caps, counted while the data streams (headers are never trusted):\n"
          "  --max-entries N      entries of any kind (default %d)\n"
          "  --max-bytes B        bytes of all files together (default 64M)\n"
          "  --max-file-bytes B   bytes of one file (default 16M)\n"
          "  --max-ratio R        bytes out per compressed byte in, judged past 1 MiB out (default %g)\n"
          "  B takes a K, M or G suffix (powers of 1024).\n"
          "\n"
          "Exit status: 0 done; 1 the archive is refused: the last line on stderr is\n"
          "  em-archive: refused: <reason>\n"
          "and DEST does not exist; 2 a usage or environment error, with what to do (an\n"
          "existing DEST is one: it is left as it was). Killed midway (a signal, a timeout),\n"
          "unpack may leave a partial DEST: unpack into a folder of your own.\n",
          EM__ARC_MAX_ENTRIES, EM__ARC_MAX_RATIO);
}

static int fail_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "em-archive: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(em-archive --help shows the commands)\n");
  return EM__ARC_ENV;
}

/* A positive integer with an optional K, M or G suffix (powers of 1024), at most 2^62. */
static int parse_size(const char *s, uint64_t *out) {
  char *end;
  if (!(s[0] >= '0' && s[0] <= '9')) return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno) return -1;
  int shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10, end++;
  else if (*end == 'M' || *end == 'm') shift = 20, end++;
  else if (*end == 'G' || *end == 'g') shift = 30, end++;
  if (*end || v == 0 || v > (1ull << (62 - shift))) return -1;
  *out = (uint64_t)v << shift;
  return 0;
}

static int finish(int rc, const char *msg) {
  if (rc == EM__ARC_REFUSED) fprintf(stderr, "em-archive: refused: %s\n", msg);
  else if (rc != EM__ARC_OK) fprintf(stderr, "em-archive: %s\n", msg);
  return rc;
}

/* What the options of a command ask for. */
typedef struct opts {
  em__arc_caps caps;
  em__arc_submit_opts so;
  const char *root;
  int caps_given, submit_given, root_given;
} opts;

enum { O_ROOT = 256, O_ENTRIES, O_BYTES, O_FILE_BYTES, O_RATIO, O_LAB, O_LAB_DIR, O_RESULTS, O_USER, O_OUT_DIR, O_HELP };
static const struct option longopts[] = {
    {"root", required_argument, 0, O_ROOT},           {"max-entries", required_argument, 0, O_ENTRIES},
    {"max-bytes", required_argument, 0, O_BYTES},     {"max-file-bytes", required_argument, 0, O_FILE_BYTES},
    {"max-ratio", required_argument, 0, O_RATIO},     {"lab", required_argument, 0, O_LAB},
    {"lab-dir", required_argument, 0, O_LAB_DIR},     {"results", required_argument, 0, O_RESULTS},
    {"user", required_argument, 0, O_USER},           {"out-dir", required_argument, 0, O_OUT_DIR},
    {"help", no_argument, 0, O_HELP},                 {0, 0, 0, 0}};

/* parse_option's "go on": any other value is the exit status to end with. */
#define GO_ON (-1)

/* The caps of unpack and list: GO_ON, or the usage error. */
static int option_cap(opts *o, int opt, const char *arg) {
  o->caps_given = 1;
  if (opt == O_ENTRIES && parse_size(arg, &o->caps.max_entries))
    return fail_usage("bad --max-entries '%s': give a positive integer", arg);
  if (opt == O_BYTES && parse_size(arg, &o->caps.max_bytes))
    return fail_usage("bad --max-bytes '%s': give bytes, e.g. 64M", arg);
  if (opt == O_FILE_BYTES && parse_size(arg, &o->caps.max_file_bytes))
    return fail_usage("bad --max-file-bytes '%s': give bytes, e.g. 16M", arg);
  if (opt == O_RATIO) {
    char *end;
    errno = 0;
    o->caps.max_ratio = strtod(arg, &end);
    if (errno || end == arg || *end || !(o->caps.max_ratio >= 1))
      return fail_usage("bad --max-ratio '%s': give a number of at least 1, e.g. 200", arg);
  }
  return GO_ON;
}

static int parse_option(opts *o, int opt, const char *arg, const char *as_given) {
  uint64_t v;
  switch (opt) {
    case O_ROOT: o->root = arg, o->root_given = 1; break;
    case O_ENTRIES: case O_BYTES: case O_FILE_BYTES: case O_RATIO: return option_cap(o, opt, arg);
    case O_LAB:
      if (parse_size(arg, &v) || v > INT_MAX) return fail_usage("bad --lab '%s': give the lab's number", arg);
      o->so.lab = (int)v;
      o->submit_given = 1;
      break;
    case O_LAB_DIR: o->so.lab_dir = arg, o->submit_given = 1; break;
    case O_RESULTS: o->so.results = arg, o->submit_given = 1; break;
    case O_USER: o->so.user = arg, o->submit_given = 1; break;
    case O_OUT_DIR: o->so.out_dir = arg, o->submit_given = 1; break;
    case O_HELP: usage(stdout); return 0;
    default: return fail_usage("unknown or incomplete option '%s'", as_given);
  }
  return GO_ON;
}

/* The options after the command (defaults first), and whether they belong to it: GO_ON, or the
 * exit status to end with. */
static int parse_options(opts *o, const char *cmd, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->caps = (em__arc_caps){EM__ARC_MAX_ENTRIES, EM__ARC_MAX_BYTES, EM__ARC_MAX_FILE_BYTES, EM__ARC_MAX_RATIO};
  o->so.out_dir = "submissions";
  o->root = ".";
  int opt, rc;
  opterr = 0;
  optind = 2; /* after the command */
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1)
    if ((rc = parse_option(o, opt, optarg, argv[optind - 1])) != GO_ON) return rc;
  int is_read = strcmp(cmd, "unpack") == 0 || strcmp(cmd, "list") == 0;
  if (o->caps_given && !is_read) return fail_usage("the --max-* caps belong to unpack and list, not %s", cmd);
  if (o->submit_given && strcmp(cmd, "submit"))
    return fail_usage("--lab, --lab-dir, --results, --user and --out-dir belong to submit, not %s", cmd);
  if (o->root_given && strcmp(cmd, "pack")) return fail_usage("--root belongs to pack, not %s", cmd);
  return GO_ON;
}

/* The names pack stores: a FILE as given, a folder's regular files (and those of its folders) in
 * name order, so the same tree packs into the same bytes wherever readdir lists it otherwise. */
typedef struct name_list {
  char **v;
  size_t n, room;
} name_list;

static int names_add(name_list *l, const char *name, char *msg, size_t cap) {
  /* Past unpack's default cap the archive could not be unpacked: say so now, not there. */
  if (l->n >= EM__ARC_MAX_ENTRIES) {
    snprintf(msg, cap, "more than %d files to pack: em-archive unpack would refuse the archive; pack fewer",
             EM__ARC_MAX_ENTRIES);
    return EM__ARC_ENV;
  }
  if (l->n == l->room) {
    size_t room = l->room ? 2 * l->room : 64;
    char **more = realloc(l->v, room * sizeof *more);
    if (!more) return snprintf(msg, cap, "out of memory"), EM__ARC_ENV;
    l->v = more, l->room = room;
  }
  if (!(l->v[l->n] = strdup(name))) return snprintf(msg, cap, "out of memory"), EM__ARC_ENV;
  l->n++;
  return EM__ARC_OK;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Deeper than this is a loop through a bind mount or a mistake, never a source tree. */
#define PACK_MAX_DEPTH 32

/* name (relative to root) into l: itself, or, for a folder, every file under it. Links and other
 * non-regular files are added as they are, for em__arc_load to refuse with its reason. */
static int names_walk(const char *root, const char *name, int depth, name_list *l, char *msg, size_t cap) {
  char fs[4096];
  if (snprintf(fs, sizeof fs, "%s/%s", root, name) >= (int)sizeof fs)
    return snprintf(msg, cap, "the path of %s is too long", name), EM__ARC_ENV;
  struct stat st;
  /* A name unpack would refuse ("../x") is never walked: em__arc_load refuses it with its reason. */
  if (em__arc_bad_name(name) || lstat(fs, &st) != 0 || !S_ISDIR(st.st_mode)) return names_add(l, name, msg, cap);
  if (depth >= PACK_MAX_DEPTH)
    return snprintf(msg, cap, "cannot pack %s: folders nested more than %d deep", fs, PACK_MAX_DEPTH), EM__ARC_ENV;
  DIR *d = opendir(fs);
  if (!d) return snprintf(msg, cap, "cannot read the folder %s: %s", fs, strerror(errno)), EM__ARC_ENV;
  name_list here = {0};
  int rc = EM__ARC_OK;
  struct dirent *de;
  while (rc == EM__ARC_OK && (de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    char child[4096];
    if (snprintf(child, sizeof child, "%s/%s", name, de->d_name) >= (int)sizeof child)
      rc = (snprintf(msg, cap, "the path of %s/%s is too long", name, de->d_name), EM__ARC_ENV);
    else rc = names_add(&here, child, msg, cap);
  }
  closedir(d);
  if (here.n) qsort(here.v, here.n, sizeof *here.v, cmp_name);
  for (size_t i = 0; i < here.n && rc == EM__ARC_OK; ++i) rc = names_walk(root, here.v[i], depth + 1, l, msg, cap);
  for (size_t i = 0; i < here.n; ++i) free(here.v[i]);
  free(here.v);
  return rc;
}

/* The files, loaded; EM__ARC_ENV with the reason for a file that cannot be packed, a name given
 * twice, or more bytes than unpack's default cap (the archive would not unpack). */
static int load_all(const char *root, const name_list *l, em__arc_file *files, char *msg, size_t cap) {
  int rc = EM__ARC_OK;
  uint64_t total = 0;
  for (size_t i = 0; i < l->n && rc == EM__ARC_OK; ++i) {
    char fs[4096];
    if (snprintf(fs, sizeof fs, "%s/%s", root, l->v[i]) >= (int)sizeof fs)
      return snprintf(msg, cap, "the path of %s is too long", l->v[i]), EM__ARC_ENV;
    rc = em__arc_load(fs, l->v[i], &files[i], msg, cap);
    total += files[i].size;
    if (rc == EM__ARC_OK && total > EM__ARC_MAX_BYTES)
      rc = (snprintf(msg, cap, "more than %llu MiB to pack: em-archive unpack would refuse the archive; pack less",
                     EM__ARC_MAX_BYTES >> 20), EM__ARC_ENV);
  }
  for (size_t i = 0; i < l->n && rc == EM__ARC_OK; ++i)
    for (size_t j = 0; j < i; ++j)
      if (strcmp(files[i].path, files[j].path) == 0) {
        snprintf(msg, cap, "%s is given twice", files[i].path);
        return EM__ARC_ENV;
      }
  return rc;
}

/* `pack OUT PATH...`: the files and folders (named relative to root) into OUT. */
static int pack(const char *root, char **args, int nargs) {
  if (nargs < 2) return fail_usage("%s", "pack takes OUT.tar.gz and at least one FILE or FOLDER");
  char msg[EM__ARC_REASON];
  msg[0] = 0;
  name_list l = {0};
  int rc = EM__ARC_OK;
  for (int i = 1; i < nargs && rc == EM__ARC_OK; ++i) rc = names_walk(root, args[i], 0, &l, msg, sizeof msg);
  em__arc_file *files = NULL;
  if (rc == EM__ARC_OK && !l.n) rc = (snprintf(msg, sizeof msg, "nothing to pack: the folders given hold no file"), EM__ARC_ENV);
  if (rc == EM__ARC_OK && !(files = calloc(l.n, sizeof *files))) rc = (snprintf(msg, sizeof msg, "out of memory"), EM__ARC_ENV);
  if (rc == EM__ARC_OK) rc = load_all(root, &l, files, msg, sizeof msg);
  if (rc == EM__ARC_OK) rc = em__arc_write(args[0], files, l.n, msg, sizeof msg);
  if (rc == EM__ARC_OK) printf("packed %zu files into %s\n", l.n, args[0]);
  for (size_t i = 0; i < l.n; ++i) {
    if (files) free(files[i].data);
    free(l.v[i]);
  }
  free(files);
  free(l.v);
  return finish(rc, msg);
}

/* unpack, list and submit, their options parsed. */
static int read_or_submit(const char *cmd, const opts *o, char **args, int nargs) {
  char msg[EM__ARC_REASON];
  msg[0] = 0;
  if (strcmp(cmd, "unpack") == 0) {
    if (nargs != 2) return fail_usage("%s", "unpack takes ARCHIVE DEST (DEST must not exist yet)");
    return finish(em__arc_read(args[0], args[1], &o->caps, msg, sizeof msg), msg);
  }
  if (strcmp(cmd, "list") == 0) {
    if (nargs != 1) return fail_usage("%s", "list takes one ARCHIVE");
    return finish(em__arc_read(args[0], NULL, &o->caps, msg, sizeof msg), msg);
  }
  if (nargs) return fail_usage("unexpected argument '%s': submit takes only options", args[0]);
  if (!o->so.lab || !o->so.lab_dir || !o->so.results)
    return fail_usage("%s", "submit needs --lab N --lab-dir labs/labN-name --results build/labN/results.json");
  return finish(em__arc_submit(&o->so, msg, sizeof msg), msg);
}

int main(int argc, char **argv) {
  /* Names in tar and zip are UTF-8 (pax and zip say so; ustar by convention): libarchive hands
   * them over as they are only in a UTF-8 locale, and in "C" would fail to convert them. */
  if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "");

  if (argc < 2) {
    usage(stderr);
    return EM__ARC_ENV;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("em-archive %s\n", EM_VERSION);
    return 0;
  }
  if (strcmp(cmd, "pack") && strcmp(cmd, "unpack") && strcmp(cmd, "list") && strcmp(cmd, "submit"))
    return fail_usage("unknown command '%s': use pack, unpack, list or submit", cmd);
  opts o;
  int rc = parse_options(&o, cmd, argc, argv);
  if (rc != GO_ON) return rc;
  if (strcmp(cmd, "pack") == 0) return pack(o.root, argv + optind, argc - optind);
  return read_or_submit(cmd, &o, argv + optind, argc - optind);
}
