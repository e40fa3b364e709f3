/* Shared helpers of the Criterion suites: temporary folders, running a program with its output
 * captured, reading files and results.json, the GPU gate, and at the end the scaffold every lab's
 * suite (tests/test_labN.c) is built from: its spec, solution, skeleton and planted files, checked
 * the same way for every lab.
 *
 * Every suite is one translation unit, so everything here is static inline (no unused-function
 * warnings, which -Werror would turn into build failures). The suites run from the project root,
 * as `make test` runs them; EM_BUILD_DIR (set by tests/tests.mk) is the build folder.
 */
#ifndef EM_TESTS_HELPERS_H
#define EM_TESTS_HELPERS_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "em/em.h"
#include "checker.h" /* em_case_shape, EM_STALE_REASON */
#include "lab_spec.h"

#ifndef EM_BUILD_DIR
#define EM_BUILD_DIR "build"
#endif

/* harness/candidate.c is compiled into each checker binary, not into libemharness.a, but the
 * harness objects the suites link (em_npy_write's check.o, the lab registry) refer to these two:
 * a suite is "a binary built for every lab, checking no candidate". */
const int em_candidate_is_solution = 0;
const int em_candidate_lab = 0;

extern char **environ;

/* The checker binaries tests/tests.mk builds, and the peaks cache they share (measured once). The
 * suites' cache is their own, not build/peaks.json: it is measured while the other suites load
 * every core (a 16-core machine once cached "copy 6.1 GB/s, FMA 1 GFLOP/s" there), and a later
 * `make check` would have reported against that. */
#define T_SOLUTION EM_BUILD_DIR "/tests/solution/lab1/em-check"
#define T_SKELETON EM_BUILD_DIR "/tests/skeleton/lab1/em-check"
#define T_PLANTED(bug) EM_BUILD_DIR "/tests/planted/lab1/" bug "/em-check"
#define T_PEAKS EM_BUILD_DIR "/tests/peaks.json"

/* ---- formatted strings ------------------------------------------------------------------------
 * A ring of buffers, so that a test can build paths inline (t_str("%s/x.npy", dir)) without
 * freeing each; 64 live strings are more than any test holds at once. */
static inline const char *t_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *t_str(const char *fmt, ...) {
  static char ring[64][1024];
  static int next;
  char *s = ring[next++ % 64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(s, sizeof ring[0], fmt, ap);
  va_end(ap);
  cr_assert(n >= 0 && (size_t)n < sizeof ring[0], "t_str: string too long for the ring (%d chars)", n);
  return s;
}

/* ---- temporary folders ------------------------------------------------------------------------
 * Created under $TMPDIR (else /tmp) and removed when the test's process exits, by the process that
 * created them (the runner process of Criterion never removes a test's folders). */
#define T_MAX_TMPDIRS 16
static char t_tmpdirs[T_MAX_TMPDIRS][256];
static pid_t t_tmpdir_owner[T_MAX_TMPDIRS];
static int t_ntmpdirs;

static inline int t_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  (void)remove(path); /* best effort: a leftover file must not stop the rest from going */
  return 0;
}

static inline void t_rm_rf(const char *path) { nftw(path, t_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

__attribute__((destructor)) static inline void t_cleanup_tmpdirs(void) {
  for (int i = 0; i < t_ntmpdirs; ++i)
    if (t_tmpdir_owner[i] == getpid()) t_rm_rf(t_tmpdirs[i]);
}

/* A fresh empty folder, removed at exit. */
static inline const char *t_tmpdir(void) {
  cr_assert(t_ntmpdirs < T_MAX_TMPDIRS, "too many temporary folders in one test");
  const char *base = getenv("TMPDIR");
  char *dir = t_tmpdirs[t_ntmpdirs];
  snprintf(dir, sizeof t_tmpdirs[0], "%s/emtest.XXXXXX", base && *base ? base : "/tmp");
  cr_assert(mkdtemp(dir) != NULL, "mkdtemp(%s): %s", dir, strerror(errno));
  t_tmpdir_owner[t_ntmpdirs++] = getpid();
  return dir;
}

/* This process's own scratch folder, for captured output and the like. */
static inline const char *t_scratch(void) {
  static char dir[256];
  static pid_t owner;
  if (!dir[0] || owner != getpid()) {
    snprintf(dir, sizeof dir, "%s", t_tmpdir());
    owner = getpid();
  }
  return dir;
}

/* ---- files ------------------------------------------------------------------------------------ */

/* The whole file, NUL-terminated (malloc'd; *len gets its size if len is not NULL), or NULL. */
static inline char *t_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    if (got == 0) break;
    n += got;
  }
  fclose(f);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

static inline void t_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert(f != NULL, "cannot write %s: %s", path, strerror(errno));
  cr_assert(fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

static inline int t_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* How many times needle occurs in hay. */
static inline int t_count(const char *hay, const char *needle) {
  int n = 0;
  size_t len = strlen(needle);
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += len) n++;
  return n;
}

/* ---- running programs -------------------------------------------------------------------------
 * A program runs in its own process group with stdin from /dev/null and stdout and stderr into
 * files (opened O_APPEND, so a child that appends to our stdout through /proc, as `make check`
 * does, cannot overwrite what another writer put there). A deadline kills the whole group: a hung
 * child must fail its test, not the suite. */
typedef struct t_proc {
  int exited;    /* 1 when the program exited; 0 when a signal ended it */
  int code;      /* its exit status, or the signal's number */
  int timed_out; /* killed at the deadline */
  char *out, *err, *all; /* stdout, stderr, and both (stdout first) */
  char cmd[1024];        /* the command line, for messages */
} t_proc;

/* The environment for children: ours without the variables by which the `make test` that runs us
 * would pass its command-line variables and jobserver to a make we start (make test BUILD=x must
 * not change the BUILD of a make inside a test), and without the Makefile's per-run knobs, which a
 * test sets on the command line when it wants them (an exported SOLUTION=1 would turn the
 * skeleton a test builds into the solution). Build configuration (NO_CUDA, CC, ...) passes. */
static inline char **t_child_env(void) {
  static const char *const drop[] = {"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=", "MAKEOVERRIDES=", "MAKE_TERMOUT=",
                                     "MAKE_TERMERR=", "BUILD=", "LABS=", "LAB=", "TRACK=", "SEED=", "ARGS=",
                                     "SOLUTION="};
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 1, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    int keep = 1;
    for (size_t d = 0; d < sizeof drop / sizeof drop[0]; ++d)
      if (strncmp(environ[i], drop[d], strlen(drop[d])) == 0) keep = 0;
    if (keep) env[k++] = environ[i];
  }
  env[k] = NULL;
  return env;
}

/* Runs argv (NULL-terminated; argv[0] is looked up in PATH) for at most timeout_s seconds. stdout
 * goes to out_fd when it is ≥ 0 (a socket, say), else it is captured. Asserts that it started. */
static inline void t_spawn(t_proc *p, double timeout_s, int out_fd, const char *const *argv) {
  static int serial;
  memset(p, 0, sizeof *p);
  for (size_t i = 0, used = 0; argv[i] && used < sizeof p->cmd; ++i)
    used += (size_t)snprintf(p->cmd + used, sizeof p->cmd - used, "%s%s", i ? " " : "", argv[i]);
  const char *dir = t_scratch();
  ++serial;
  const char *out_path = t_str("%s/stdout.%d", dir, serial), *err_path = t_str("%s/stderr.%d", dir, serial);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  else posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);

  /* Default signal dispositions and an empty mask: whatever the test runner set up must not leak
   * into the program under test (an ignored SIGALRM would defeat the checker's --timeout). */
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  char **env = t_child_env();
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, env);
  free(env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  cr_assert(rc == 0, "cannot start %s: %s (the suites run from the project root after make test-build)",
            argv[0], strerror(rc));

  struct timespec t0, now, nap = {0, 5 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    cr_assert(w == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec) > timeout_s) {
      p->timed_out = 1;
      kill(-pid, SIGKILL); /* the group we made for it: make and what make started */
      waitpid(pid, &status, 0);
      break;
    }
    nanosleep(&nap, NULL);
  }
  p->exited = WIFEXITED(status);
  p->code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
  p->out = t_read_file(out_path, NULL);
  if (!p->out) p->out = strdup("");
  p->err = t_read_file(err_path, NULL);
  if (!p->err) p->err = strdup("");
  size_t lo = strlen(p->out), le = strlen(p->err);
  p->all = malloc(lo + le + 2);
  memcpy(p->all, p->out, lo);
  p->all[lo] = '\n';
  memcpy(p->all + lo + 1, p->err, le + 1);
}

/* Busy programs that hold every core of this machine: two spinning children per online CPU, so
 * whatever else runs gets about a third of the time. t_load_stop ends them. For tests of what the
 * harness does when it is not alone on the machine. */
typedef struct t_load {
  int n;
  pid_t pid[512];
} t_load;

static inline void t_load_start(t_load *l) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  l->n = 0;
  for (long i = 0; i < 2 * (cpus > 0 ? cpus : 1) && l->n < (int)(sizeof l->pid / sizeof l->pid[0]); ++i) {
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
      alarm(120); /* never outlive a test that forgot to stop them */
      for (volatile unsigned long spin = 0;; ++spin) {
      }
    }
    l->pid[l->n++] = pid;
  }
  struct timespec settle = {0, 100 * 1000 * 1000};
  nanosleep(&settle, NULL);
}

static inline void t_load_stop(t_load *l) {
  for (int i = 0; i < l->n; ++i) kill(l->pid[i], SIGKILL);
  for (int i = 0; i < l->n; ++i) waitpid(l->pid[i], NULL, 0);
  l->n = 0;
}

static inline void t_proc_free(t_proc *p) {
  free(p->out);
  free(p->err);
  free(p->all);
  memset(p, 0, sizeof *p);
}

#define T_ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})
/* t_run(&p, 60, "make", "-s", "check") */
#define t_run(p, timeout_s, ...) t_spawn((p), (timeout_s), -1, T_ARGV(__VA_ARGS__))

/* Runs a checker binary with the defaults of these suites: the shared peaks cache (measured once
 * per build folder, not per test) and results written into json, plus the n arguments of args
 * (empty and NULL ones left out, so that a table's unused fields drop away). */
static inline void t_checker_list(t_proc *p, double timeout_s, const char *bin, const char *json, const char *const *args,
                                  int n) {
  const char *argv[64];
  int k = 0;
  argv[k++] = bin;
  argv[k++] = "--peaks";
  argv[k++] = T_PEAKS;
  argv[k++] = "--peaks-under-load"; /* the suites load the cores themselves, and time nothing that matters */
  argv[k++] = "--json";
  argv[k++] = json;
  for (int i = 0; i < n; ++i) {
    cr_assert(k < 63, "t_checker: too many arguments");
    if (args[i] && args[i][0]) argv[k++] = args[i];
  }
  argv[k] = NULL;
  cr_assert(t_exists(bin), "%s is missing: build it with  make test-build  (and run the suites from the project root)", bin);
  t_spawn(p, timeout_s, -1, argv);
}

/* The same with the arguments given in the call, NULL-terminated. */
static inline void t_checker_va(t_proc *p, double timeout_s, const char *bin, const char *json, va_list ap) {
  const char *args[64];
  int n = 0;
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL) {
    cr_assert(n < 57, "t_checker: too many arguments");
    args[n++] = a;
  }
  t_checker_list(p, timeout_s, bin, json, args, n);
}

static inline void t_checker(t_proc *p, double timeout_s, const char *bin, const char *json, ...) {
  va_list ap;
  va_start(ap, json);
  t_checker_va(p, timeout_s, bin, json, ap);
  va_end(ap);
}

/* Asserts the exit status, showing the program's output when it is not the one expected. */
#define t_assert_exit(p, want)                                                                         \
  cr_assert((p)->exited && !(p)->timed_out && (p)->code == (want),                                     \
            "%s\nwant exit status %d, got %s %d%s\n---- stdout ----\n%s\n---- stderr ----\n%s", (p)->cmd, \
            (want), (p)->exited ? "exit status" : "signal", (p)->code,                                  \
            (p)->timed_out ? " (killed at the deadline)" : "", (p)->out, (p)->err)

/* Asserts that the program's output (stdout and stderr together) contains text. */
#define t_assert_output_has(p, text)                                                              \
  cr_assert(strstr((p)->all, (text)) != NULL,                                                      \
            "%s\nthe output lacks \"%s\":\n---- stdout ----\n%s\n---- stderr ----\n%s", (p)->cmd, (text), \
            (p)->out, (p)->err)

/* ---- results.json ----------------------------------------------------------------------------- */

static inline json_t *t_load_json(const char *path) {
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  cr_assert(root != NULL, "cannot parse %s: %s (line %d)", path, jerr.text, jerr.line);
  return root;
}

static inline const char *t_str_or_empty(json_t *v) {
  const char *s = json_string_value(v);
  return s ? s : "";
}

/* The case (track, part, name) of a results.json, or NULL. */
static inline json_t *t_find_case(json_t *root, const char *track, char part, const char *name) {
  json_t *cases = json_object_get(root, "cases"), *c;
  size_t i;
  char p[2] = {part, 0};
  json_array_foreach(cases, i, c) {
    if (strcmp(t_str_or_empty(json_object_get(c, "track")), track) == 0 &&
        strcmp(t_str_or_empty(json_object_get(c, "part")), p) == 0 &&
        strcmp(t_str_or_empty(json_object_get(c, "name")), name) == 0)
      return c;
  }
  return NULL;
}

static inline json_t *t_get_case(json_t *root, const char *track, char part, const char *name) {
  json_t *c = t_find_case(root, track, part, name);
  cr_assert(c != NULL, "results.json has no %s case (%c) \"%s\"", track, part, name);
  return c;
}

static inline const char *t_json_str(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  cr_assert(json_is_string(v), "\"%s\" is not a string", key);
  return json_string_value(v);
}

static inline double t_json_num(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  cr_assert(json_is_number(v), "\"%s\" is not a number", key);
  return json_number_value(v);
}

/* ---- .npy files ------------------------------------------------------------------------------ */

/* Reads an .npy file and checks the preamble; returns the header text (after the length field)
 * and points *data at the array. */
static inline char *t_read_npy(const char *path, size_t *file_len, const unsigned char **data, char *header, size_t cap) {
  char *buf = t_read_file(path, file_len);
  cr_assert(buf != NULL, "%s was not written", path);
  const unsigned char *u = (const unsigned char *)buf;
  cr_assert(*file_len >= 10 && memcmp(u, "\x93NUMPY", 6) == 0, "%s: not an .npy file (magic)", path);
  cr_expect(u[6] == 1 && u[7] == 0, "%s: version %d.%d, want 1.0", path, u[6], u[7]);
  size_t hlen = (size_t)u[8] | (size_t)u[9] << 8;
  cr_expect_eq((10 + hlen) % 64, 0, "%s: the data starts at %zu, not a multiple of 64", path, 10 + hlen);
  cr_assert(10 + hlen <= *file_len, "%s: header longer than the file", path);
  cr_assert(hlen < cap);
  memcpy(header, buf + 10, hlen);
  header[hlen] = 0;
  cr_expect_eq(header[hlen - 1], '\n', "%s: the header must end with a newline", path);
  *data = u + 10 + hlen;
  return buf;
}

/* ---- the GPU gate -----------------------------------------------------------------------------
 * Called inside a test (never before Criterion forks: a CUDA context does not survive a fork). */
/* ---- the lab spec and the files, as every suite sees them --------------------------------------- */

static inline const em_lab *t_lab(int number) {
  const em_lab *lab = em_lab_find(number);
  cr_assert(lab != NULL, "lab %d is not in the registry", number);
  return lab;
}

static inline em_track t_track(const char *name) { return strcmp(name, "cuda") == 0 ? EM_TRACK_CUDA : EM_TRACK_CPU; }

static inline int t_runs_on(const em_case *c, em_track track) {
  return c->tracks == 0 || (c->tracks & EM_TRACK_BIT(track));
}

/* How many of lab number's cases run on track (part 0: all parts). */
static inline int t_spec_count(int number, em_track track, char part) {
  const em_lab *lab = t_lab(number);
  int n = 0;
  for (int i = 0; i < lab->ncases; ++i)
    n += t_runs_on(&lab->cases[i], track) && (!part || lab->cases[i].part == part);
  return n;
}

/* The case of lab number called name (in part, unless 0); fails the test if there is none. */
static inline const em_case *t_spec_case(int number, char part, const char *name) {
  const em_lab *lab = t_lab(number);
  for (int i = 0; i < lab->ncases; ++i)
    if ((!part || lab->cases[i].part == part) && strcmp(lab->cases[i].name, name) == 0) return &lab->cases[i];
  cr_assert_fail("lab %d has no case \"%s\"", number, name);
  return NULL;
}

static inline int t_json_ncases(json_t *root) {
  json_t *cases = json_object_get(root, "cases");
  cr_assert(json_is_array(cases), "results.json has no \"cases\" array");
  return (int)json_array_size(cases);
}

/* The line numbers of the EM_TODO calls in a student file, in order. */
static inline int t_todo_lines(const char *path, int *lines, int max) {
  char *text = t_read_file(path, NULL);
  cr_assert(text != NULL, "cannot read %s", path);
  int n = 0, line = 1;
  for (char *p = text; *p && n < max; ++p) {
    if (*p == '\n') line++;
    else if (strncmp(p, "EM_TODO(", 8) == 0 && (p == text || p[-1] != '_')) lines[n++] = line;
  }
  free(text);
  return n;
}

/* The number of the first line of path that holds text (where a planted file marks its bug). */
static inline int t_line_of(const char *path, const char *text) {
  char *s = t_read_file(path, NULL);
  cr_assert(s != NULL, "cannot read %s", path);
  const char *at = strstr(s, text);
  cr_assert(at != NULL, "%s has no \"%s\"", path, text);
  int line = 1;
  for (const char *p = s; p < at; ++p) line += *p == '\n';
  free(s);
  return line;
}

/* The line of the first EM_TODO call after the first line holding `after` in a student file. */
static inline int t_todo_line_after(const char *path, const char *after) {
  const int line = t_line_of(path, after);
  int lines[64], n = t_todo_lines(path, lines, 64);
  for (int k = 0; k < n; ++k)
    if (lines[k] >= line) return lines[k];
  cr_assert_fail("%s has no EM_TODO after \"%s\"", path, after);
  return 0;
}

static inline void t_copy_file(const char *from, const char *to) {
  size_t len;
  char *data = t_read_file(from, &len);
  cr_assert(data != NULL, "cannot read %s", from);
  FILE *f = fopen(to, "wb");
  cr_assert(f != NULL, "cannot write %s: %s", to, strerror(errno));
  cr_assert(fwrite(data, 1, len, f) == len && fclose(f) == 0, "cannot write %s", to);
  free(data);
}

/* The one folder --dump made in dir for a run of one case. */
static inline const char *t_only_subdir(const char *dir) {
  DIR *d = opendir(dir);
  cr_assert(d != NULL, "--dump did not create %s", dir);
  const char *found = NULL;
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    found = t_str("%s/%s", dir, e->d_name);
    count++;
  }
  closedir(d);
  cr_assert_eq(count, 1, "one case ran, so one folder in %s (found %d)", dir, count);
  return found;
}

static inline void t_need_gpu(void) {
  em_cuda_device dev;
  int err = em_cuda_probe(&dev);
  if (err != EM_OK) cr_skip_test("no usable GPU: %s (%s)", em_err_name(err), em_error_detail());
}

/* ---- work reused between timed calls -----------------------------------------------------------
 * A planted file that keeps work from call to call (tests/planted/labN/fingerprint*: skip the work
 * when the inputs look unchanged) must gain nothing from it. t_expect_no_gain_from_reuse times it on
 * lab number's speed cases (small budget: only ratios taken side by side are judged) and asserts
 * what want says of each; none may be flagged impossible_speed and keep performance points. Then
 * every case passes untimed: the code is right, only its timing trick is not.
 *
 * On the CPU track the reference runs on one thread too (--threads 1), as the planted code does:
 * with both on one core, the ratio does not depend on how many cores other programs leave (the
 * suites run their tests in parallel; a two-thread reference on a busy two-core machine measured
 * from 0.4x to 1x a plain loop's speed, one thread 0.5x to 0.6x). */
#define T_REUSED "reused work while timing"

typedef enum t_reuse {
  /* Fails as reused work, or passes slower than the reference: speedup_vs_ref ≤ 1.2 and less than
   * full performance points. For files whose work alone is slower than the reference's: plain loops
   * against tuned ones, or an input read once more (to hash it) than the work reads it. */
  T_REUSE_SLOWER,
  /* Fails as reused work, or passes no faster than T_SKIP_SPEEDUP times the reference. For a
   * memory-bound lab whose output is thousands of times its inputs (labs 2 and 3): a plain loop that
   * does the work may come as near the reference as full points (measured 1.0x to 1.6x here), and a
   * call that skips it reads kilobytes where the work writes hundreds of megabytes. */
  T_REUSE_NO_SKIP,
  /* Fails as reused work on at least one speed case (one whose inputs change where its samples do
   * not look); a case that passes is held to T_REUSE_SLOWER. */
  T_REUSE_CAUGHT,
} t_reuse;

#define T_SKIP_SPEEDUP 10.0
/* Speed cases get 5x the budget: 1 s each, a dozen rounds or more of calls of tens of
 * milliseconds. With the 0.25 s of a budget of 0.05 (three rounds), the lab 1 file that does more
 * work than the reference once read 1.02x it while the other suites loaded both cores. */
#define T_REUSE_BUDGET "0.2"
/* The peaks of one thread: a cache of their own, as the cache is kept for one thread count. */
#define T_PEAKS_ONE_THREAD EM_BUILD_DIR "/tests/peaks-1thread.json"

static inline void t_expect_no_gain_from_reuse(int number, const char *bin, const char *track, t_reuse want) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  if (strcmp(track, "cpu") == 0)
    t_checker(&p, 200, bin, json, "--track", track, "--perf-only", "--budget", T_REUSE_BUDGET, "--threads", "1", "--peaks",
              T_PEAKS_ONE_THREAD, NULL);
  else
    t_checker(&p, 200, bin, json, "--track", track, "--perf-only", "--budget", T_REUSE_BUDGET, NULL);
  cr_assert(p.exited && !p.timed_out && (p.code == 0 || p.code == 1), "%s\nexit %d%s\n%s", p.cmd, p.code,
            p.timed_out ? " (killed at the deadline)" : "", p.all);
  const em_lab *lab = t_lab(number);
  int nspeed = 0, caught = 0;
  for (int k = 0; k < lab->ncases; ++k) nspeed += t_runs_on(&lab->cases[k], t_track(track)) && lab->cases[k].perf_points > 0;
  json_t *root = t_load_json(json), *c;
  size_t i;
  cr_expect_eq(t_json_ncases(root), nspeed, "--perf-only ran %d cases, want the %d speed cases", t_json_ncases(root), nspeed);
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    const char *name = t_json_str(c, "name"), *status = t_json_str(c, "status"), *reason = t_json_str(c, "reason");
    const em_case *sc = t_spec_case(number, t_json_str(c, "part")[0], name);
    double perf = t_json_num(json_object_get(c, "score"), "points") - sc->points;
    cr_expect(!(json_is_true(json_object_get(c, "impossible_speed")) && perf > 0),
              "\"%s\": flagged impossible_speed, yet %g performance points", name, perf);
    if (strcmp(status, "fail") == 0 && strstr(reason, T_REUSED) == reason) {
      caught++;
      continue;
    }
    if (strcmp(status, "pass") != 0) {
      cr_expect_fail("\"%s\": %s, want a pass or a failure as " T_REUSED ": %s", name, status, reason);
      continue;
    }
    double s = t_json_num(c, "speedup_vs_ref");
    if (want == T_REUSE_NO_SKIP) {
      cr_expect(s > 0 && s <= T_SKIP_SPEEDUP, "\"%s\" ran %.1fx the reference's speed: a timed call skipped the work",
                name, s);
      continue;
    }
    cr_expect(s > 0 && s <= 1.2, "\"%s\" ran %.2fx the reference's speed: reused work paid off", name, s);
    cr_expect(perf < sc->perf_points, "\"%s\" earned full performance points (%g of %g, %.2fx the reference's "
              "speed): reused work paid off", name, perf, sc->perf_points, s);
  }
  if (want == T_REUSE_CAUGHT) {
    cr_expect(caught > 0, "no speed case failed as " T_REUSED ":\n%s", p.all);
    t_assert_exit(&p, 1);
  }
  json_decref(root);
  t_proc_free(&p);

  t_checker(&p, 120, bin, json, "--track", track, "--no-timing", NULL);
  t_assert_exit(&p, 0);
  root = t_load_json(json);
  cr_expect_eq(t_json_ncases(root), t_spec_count(number, t_track(track), 0), "every %s case ran", track);
  json_decref(root);
  t_proc_free(&p);
}

/* ---- one scaffold for every lab's suite -----------------------------------------------------------
 * What each tests/test_labN.c checks of its lab the same way: the spec's cases, the reference
 * solution, the untouched skeleton and the planted wrong files, through the binaries tests.mk
 * builds for every lab. A lab's suite adds only what is its own. Suites are named labN_spec,
 * labN_solution, labN_skeleton, labN_planted (and labN_<what> for the rest), each with its timeout
 * set once by TestSuite. */

#define T_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static inline const char *t_solution_bin(int number) { return t_str(EM_BUILD_DIR "/tests/solution/lab%d/em-check", number); }
static inline const char *t_skeleton_bin(int number) { return t_str(EM_BUILD_DIR "/tests/skeleton/lab%d/em-check", number); }

/* The checker of tests/planted/lab<number>/<bug>.c, or of <bug>.cu on the CUDA track. */
static inline const char *t_planted_bin(int number, const char *bug, const char *track) {
  return t_str(EM_BUILD_DIR "/tests/planted/lab%d/%s%s/em-check", number, bug, strcmp(track, "cuda") == 0 ? ".cu" : "");
}

/* The student's file of a track: labs/<folder>/<file>. */
static inline const char *t_student_file(int number, const char *track) {
  const em_lab *lab = t_lab(number);
  return t_str("labs/%s/%s", lab->folder, lab->student_file[t_track(track)]);
}

/* Every case of results.json on track (and of part, unless 0) has status want. */
static inline void t_expect_all_status(json_t *root, const char *track, char part, const char *want) {
  json_t *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    if (strcmp(t_json_str(c, "track"), track) != 0) continue;
    if (part && t_json_str(c, "part")[0] != part) continue;
    cr_expect_str_eq(t_json_str(c, "status"), want, "case (%s) \"%s\" on %s: status %s, want %s (reason: %s)",
                     t_json_str(c, "part"), t_json_str(c, "name"), track, t_json_str(c, "status"), want,
                     t_json_str(c, "reason"));
  }
}

/* What every lab's spec test says of its lab, checked alike by t_check_spec. */
typedef struct {
  int number;
  const char *name;   /* "add" */
  const char *folder; /* "lab1-add" */
  const char *parts;  /* the part letters in order: "ab" */
  const char *dims;   /* the dimension names, space-separated: "b h n m d causal" */
  int fresh_mode;     /* EM_FRESH_ROWS (memory-bound) or EM_FRESH_PERTURB (compute-bound) */
  int fits_table;     /* every case name fits the table's column of 16 characters (labs 4 and 6
                       * name some cases in full, and the table cuts them) */
} t_spec_id;

/* The spec of every lab: registered under its number with its name, folder, parts, dimension names
 * and way of refreshing timed inputs; each case valid for its part, named once in its part, worth
 * points; a speed case on each track. */
static inline void t_check_spec(t_spec_id want) {
  const em_lab *lab = t_lab(want.number);
  cr_expect_str_eq(lab->name, want.name);
  cr_expect_str_eq(lab->folder, want.folder);
  char parts[16] = "", dims[128] = "";
  for (int i = 0; i < lab->nparts && i < 15; ++i) parts[i] = lab->parts[i].id;
  for (int i = 0; i < lab->ndims; ++i)
    snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%s", i ? " " : "", lab->dim_names[i]);
  cr_expect_str_eq(parts, want.parts, "lab %d's parts", want.number);
  cr_expect_str_eq(dims, want.dims, "lab %d's dimensions", want.number);
  cr_expect_eq(lab->fresh_mode, want.fresh_mode, "lab %d: %s", want.number,
               want.fresh_mode == EM_FRESH_PERTURB ? "compute-bound: every input element may change between timed calls"
                                                   : "memory-bound: timed calls get rows exchanged");
  int perf[EM_NTRACKS] = {0, 0};
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *c = &lab->cases[i];
    cr_expect(lab->invalid(c) == NULL, "case (%c) \"%s\" is invalid: %s", c->part, c->name, lab->invalid(c));
    if (want.fits_table) cr_expect(strlen(c->name) <= 16, "case name \"%s\" is longer than the table's column", c->name);
    cr_expect(c->points > 0, "case \"%s\" is worth points", c->name);
    for (int k = 0; k < i; ++k)
      cr_expect(!(lab->cases[k].part == c->part && strcmp(lab->cases[k].name, c->name) == 0),
                "two cases of part (%c) are called \"%s\"", c->part, c->name);
    for (int t = 0; t < EM_NTRACKS; ++t) perf[t] += c->perf_points > 0 && t_runs_on(c, (em_track)t);
  }
  cr_expect(perf[EM_TRACK_CPU] > 0 && perf[EM_TRACK_CUDA] > 0, "speed cases: cpu %d, cuda %d", perf[EM_TRACK_CPU],
            perf[EM_TRACK_CUDA]);
}

/* Lab N's spec suite (calls of its own under TIMEOUT seconds) and its first test, the lab as
 * registered: T_SPEC_SUITE(8, 120, "qlinear", "lab8-quantized-linear", .parts = "abcd", ...), the
 * fields of t_spec_id after its number. The lab's own spec tests follow in labN_spec. */
#define T_SPEC_SUITE(N, TIMEOUT, ...)               \
  TestSuite(lab##N##_spec, .timeout = (TIMEOUT)); \
  Test(lab##N##_spec, registered_and_valid) { t_check_spec((t_spec_id){N, __VA_ARGS__}); }

/* ---- the reference solution ---- */

/* The solution on a track without timing (more arguments after, NULL-ended): exit 0, and results.json
 * has every case of the spec on that track, each passing with its points and its shape, or, on the
 * CUDA track of a machine without a GPU, skipped saying why. Returns results.json (json_decref it). */
static inline json_t *t_check_solution(int number, const char *track, ...) {
  const em_lab *lab = t_lab(number);
  const char *json = t_str("%s/results.json", t_tmpdir());
  em_cuda_device dev;
  int skip = t_track(track) == EM_TRACK_CUDA && em_cuda_probe(&dev) != EM_OK;
  t_proc p;
  const char *head[] = {"--track", track, "--no-timing"}, *more[16];
  int n = 0;
  for (; n < T_COUNT(head); ++n) more[n] = head[n];
  va_list ap;
  va_start(ap, track);
  for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < T_COUNT(more);) more[n++] = a;
  va_end(ap);
  t_checker_list(&p, 280, t_solution_bin(number), json, more, n);
  t_assert_exit(&p, 0);
  t_assert_output_has(&p, " 0 failed");
  json_t *root = t_load_json(json);
  cr_expect_eq(json_integer_value(json_object_get(root, "lab")), number, "\"lab\" must be %d", number);
  cr_expect_str_eq(t_json_str(root, "name"), lab->name);
  cr_assert_eq(t_json_ncases(root), t_spec_count(number, t_track(track), 0), "one result per %s case of the spec", track);
  for (int i = 0; i < lab->ncases; ++i) {
    const em_case *sc = &lab->cases[i];
    if (!t_runs_on(sc, t_track(track))) continue;
    json_t *c = t_get_case(root, track, sc->part, sc->name);
    char shape[64];
    em_case_shape(lab, sc, shape, sizeof shape);
    cr_expect_str_eq(t_json_str(c, "status"), skip ? "skip" : "pass", "case (%c) \"%s\": %s", sc->part, sc->name,
                     t_json_str(c, "reason"));
    cr_expect_str_eq(t_json_str(c, "shape"), shape);
    if (skip) cr_expect(strlen(t_json_str(c, "reason")) > 10, "a skip says why: \"%s\"", t_json_str(c, "reason"));
    else cr_expect_eq(t_json_num(json_object_get(c, "score"), "points"), sc->points, "case \"%s\": its points", sc->name);
  }
  t_proc_free(&p);
  return root;
}

/* The solution passes the CPU track under each run's arguments (other seeds, other thread counts). */
static inline void t_solution_passes_with(int number, const char *const (*runs)[4], int nruns) {
  /* Copies: every run takes strings from t_str's ring, which would come round to these. */
  char json[1024], bin[1024];
  snprintf(json, sizeof json, "%s/results.json", t_tmpdir());
  snprintf(bin, sizeof bin, "%s", t_solution_bin(number));
  for (int r = 0; r < nruns; ++r) {
    t_proc p;
    const char *args[] = {"--track", "cpu", "--no-timing", runs[r][0], runs[r][1], runs[r][2], runs[r][3]};
    t_checker_list(&p, 280, bin, json, args, T_COUNT(args));
    t_assert_exit(&p, 0);
    t_proc_free(&p);
  }
}

/* One timed case of the solution (a small budget: the numbers must exist and agree with each other,
 * never reach a speed): its byte and FLOP counts are these, GB/s is bytes over time, and it was
 * compared with the naive baseline. */
static inline void t_check_timed_case(int number, char part, const char *name, double bytes, double flops) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 100, t_solution_bin(number), json, "--track", "cpu", "--case", t_str("=%s", name), "--budget", "0.02", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  cr_assert_eq(t_json_ncases(root), 1, "--case =%s selects one case", name);
  json_t *c = t_get_case(root, "cpu", part, name);
  double t = t_json_num(c, "time_ms"), gbps = t_json_num(c, "gbps");
  cr_expect_eq(t_json_num(c, "bytes"), bytes, "\"%s\": bytes", name);
  cr_expect_eq(t_json_num(c, "flops"), flops, "\"%s\": flops", name);
  cr_expect(t > 0 && gbps > 0 && fabs(gbps - bytes / (t * 1e-3) * 1e-9) <= 1e-9 * gbps, "gbps %g is not bytes / time", gbps);
  cr_expect(t_json_num(c, "speedup_vs_naive") > 0);
  json_decref(root);
  t_proc_free(&p);
}

/* ---- the untouched skeleton ---- */

/* The skeleton on a track fails every case, pointing at the TODOs it meets: one per part, the first
 * ones in the track's student file after the line holding `after` (NULL: from its start). The table
 * and each case's hint name the file and line, nothing was written, nothing scores. Returns
 * results.json (json_decref it). */
static inline json_t *t_check_skeleton(int number, const char *track, const char *after) {
  if (t_track(track) == EM_TRACK_CUDA) t_need_gpu();
  const em_lab *lab = t_lab(number);
  char file[512]; /* a copy: the loop below takes a string from t_str's ring per case */
  snprintf(file, sizeof file, "%s", t_student_file(number, track));
  const char *base = strrchr(file, '/') + 1;
  int lines[8], n = t_todo_lines(file, lines, 8), first = after ? t_todo_line_after(file, after) : lines[0], from = 0;
  while (from < n && lines[from] != first) from++;
  cr_assert(from + lab->nparts <= n, "%s has %d EM_TODO, want one for each of the %d parts", file, n - from, lab->nparts);
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, t_skeleton_bin(number), json, "--track", track, "--no-timing", NULL);
  t_assert_exit(&p, 1);
  for (int k = 0; k < lab->nparts; ++k) t_assert_output_has(&p, t_str("%s:%d: TODO not done yet", file, lines[from + k]));
  t_assert_output_has(&p, t_str("0 passed, %d failed", t_spec_count(number, t_track(track), 0)));
  json_t *root = t_load_json(json), *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    int part = 0;
    while (part + 1 < lab->nparts && lab->parts[part].id != t_json_str(c, "part")[0]) part++;
    cr_expect_str_eq(t_json_str(c, "status"), "fail", "case \"%s\": %s", t_json_str(c, "name"), t_json_str(c, "reason"));
    cr_expect(strstr(t_json_str(c, "hint"), t_str("%s:%d", base, lines[from + part])) != NULL, "hint: %s", t_json_str(c, "hint"));
    cr_expect_eq(json_integer_value(json_object_get(c, "unwritten")), json_integer_value(json_object_get(c, "mismatches")),
                 "case \"%s\": nothing written", t_json_str(c, "name"));
    cr_expect_eq(t_json_num(json_object_get(c, "score"), "points"), 0.0);
  }
  t_proc_free(&p);
  return root;
}

/* A lab's skeleton suite when it needs nothing beyond t_check_skeleton: both tracks fail every case,
 * pointing at the TODOs from the top of each student file. */
#define T_SKELETON_SUITE(N)                                                                              \
  TestSuite(lab##N##_skeleton, .timeout = 600);                                                          \
  Test(lab##N##_skeleton, cpu_fails_pointing_at_the_todo) { json_decref(t_check_skeleton(N, "cpu", NULL)); } \
  Test(lab##N##_skeleton, cuda_fails_pointing_at_the_todo) { json_decref(t_check_skeleton(N, "cuda", NULL)); }

/* ---- planted wrong files ---- */

/* Where a planted file's mistake first shows. */
#define T_ANY (-2)         /* any index */
#define T_NO_MISMATCH (-3) /* none: the output is right, the mistake is elsewhere (an input, past the end) */

/* One planted wrong file and what the checker must say of it. Unused fields are empty or 0. */
typedef struct t_planted {
  char bug[32];         /* tests/planted/labN/<bug>.c, or <bug>.cu on the CUDA track */
  char track[8];        /* "cpu" or "cuda" */
  char args[4][24];     /* more arguments of the run (--part, --case, --threads ...) */
  char part;            /* the part of the case that must fail (0: 'a') */
  char fails[32];       /* its name */
  char fails2[32];      /* another case that must fail */
  char kind[16];        /* the case's "kind" in results.json ("": not checked) */
  char reason[48];      /* in the case's reason */
  long long first;      /* its first mismatching index, T_ANY or T_NO_MISMATCH */
  int unwritten;        /* 1: some elements never written; 0: none; -1: not checked */
  int all_wrong;        /* every element of the output it names is wrong */
  char good_part;       /* every case of this part passes */
  int all_fail;         /* every case of the run fails */
  char passes[4][32];   /* cases it gets right ("*": every case but fails and fails2); one the run
                         * did not include is run on its own (--case) */
  char expect[3][96];   /* in the output of the run */
} t_planted;

#define T_PLANTED_PARAMS(table) cr_make_param_array(t_planted, table, T_COUNT(table))

/* A lab's planted suite over its table labN_planted_files: each row one parameterised test. */
#define T_PLANTED_SUITE(N)                                                                          \
  TestSuite(lab##N##_planted, .timeout = 600);                                                      \
  ParameterizedTestParameters(lab##N##_planted, fails_as_it_should) {                               \
    return T_PLANTED_PARAMS(lab##N##_planted_files);                                                \
  }                                                                                                 \
  ParameterizedTest(t_planted *t, lab##N##_planted, fails_as_it_should) { t_check_planted(N, t); }

/* A planted row whose mistake shows on one case of one part: the run takes that case alone
 * (exact name) and it is the one that must fail. */
#define T_ONLY(p, name) .args = {"--part", p, "--case", "=" name}, .part = p[0], .fails = name
/* The commonest row: bug on track fails case name of part p alone, wherever its first mismatch
 * falls, with every element written. */
#define T_FAILS(b, tr, p, name) .bug = b, .track = tr, T_ONLY(p, name), .first = T_ANY, .unwritten = 0

/* A case's tensors on the host as the checker makes them: described, the inputs filled (seed 7,
 * one thread) and every output's oracle written (want; want_i32 for integer outputs), for a spec
 * test to look at. Returns how many; t_free_tensors releases them. */
static inline int t_case_tensors(const em_lab *lab, const em_case *c, em_tensor *t) {
  memset(t, 0, sizeof(em_tensor) * EM_MAX_TENSORS);
  int nt = lab->describe(c, t);
  for (int i = 0; i < nt; ++i) {
    t[i].numel = 1;
    for (int d = 0; d < t[i].ndim; ++d) t[i].numel *= t[i].shape[d];
    size_t size = t[i].dtype == EM_I8 ? 1 : t[i].dtype == EM_BF16 ? 2 : 4;
    cr_assert((t[i].host = em_host_alloc((size_t)t[i].numel * size)) != NULL);
    if (!t[i].is_output) continue;
    if (t[i].dtype == EM_I8 || t[i].dtype == EM_I32)
      cr_assert((t[i].want_i32 = em_host_alloc((size_t)t[i].numel * sizeof(int32_t))) != NULL);
    else
      cr_assert((t[i].want = em_host_alloc((size_t)t[i].numel * sizeof(double))) != NULL);
  }
  lab->fill(c, 7, 1, t);
  lab->oracle(c, t);
  return nt;
}

static inline void t_free_tensors(em_tensor *t, int nt) {
  for (int i = 0; i < nt; ++i) {
    em_host_free(t[i].host);
    em_host_free(t[i].want);
    em_host_free(t[i].want_i32);
    em_host_free(t[i].atol_each);
  }
}

/* How many elements the output called name of a lab's case has. */
static inline int64_t t_output_numel(int number, const em_case *sc, const char *name) {
  em_tensor t[EM_MAX_TENSORS];
  memset(t, 0, sizeof t);
  int nt = t_lab(number)->describe(sc, t);
  for (int i = 0; i < nt; ++i) {
    if (strcmp(t[i].name, name) != 0) continue;
    int64_t numel = 1;
    for (int d = 0; d < t[i].ndim; ++d) numel *= t[i].shape[d];
    return numel;
  }
  cr_assert_fail("lab %d has no output called %s", number, name);
  return 0;
}

/* The first mismatch of the failing case c as t says, named in its reason as results.json names it
 * (index, got and want); returns its index (-1 when there is none). */
static inline long long t_expect_first_mismatch(int number, const t_planted *t, json_t *c) {
  const char *reason = t_json_str(c, "reason");
  if (t->first == T_NO_MISMATCH) {
    cr_expect_eq(json_integer_value(json_object_get(c, "mismatches")), 0, "%s: the output itself is right", t->bug);
    return -1;
  }
  json_t *fm = json_object_get(c, "first_mismatch");
  cr_assert(json_is_object(fm), "%s: no first_mismatch (reason: %s)", t->bug, reason);
  long long at = json_integer_value(json_object_get(fm, "index"));
  if (t->first >= 0) cr_expect_eq(at, t->first, "%s: first mismatch at %lld, want %lld", t->bug, at, t->first);
  cr_expect(strstr(reason, t_str("first at [%lld]", at)) != NULL, "%s: reason: %s", t->bug, reason);
  json_t *got = json_object_get(fm, "got"), *want = json_object_get(fm, "want");
  if (json_is_string(got)) cr_expect(json_integer_value(json_object_get(c, "unwritten")) > 0, "got \"unwritten\", yet none is");
  if (json_is_number(got) && json_is_number(want))
    cr_expect(strstr(reason, t_str("got %.9g, want %.9g", json_number_value(got), json_number_value(want))) != NULL,
              "%s: reason: %s", t->bug, reason);
  if (t->all_wrong) {
    const em_case *sc = t_spec_case(number, t->part ? t->part : 'a', t->fails);
    cr_expect_eq(json_integer_value(json_object_get(c, "mismatches")), t_output_numel(number, sc, t_json_str(c, "output")),
                 "%s: every element of \"%s\" is wrong", t->bug, t->fails);
  }
  return at;
}

/* The cases t gets right pass: in the run's results, or run on their own. */
static inline void t_expect_planted_passes(int number, const t_planted *t, json_t *root) {
  char part = t->part ? t->part : 'a';
  if (t->good_part) t_expect_all_status(root, t->track, t->good_part, "pass");
  for (int k = 0; k < 4 && t->passes[k][0]; ++k) {
    if (strcmp(t->passes[k], "*") == 0) {
      json_t *c;
      size_t i;
      json_array_foreach(json_object_get(root, "cases"), i, c) {
        const char *name = t_json_str(c, "name");
        if (strcmp(name, t->fails) && strcmp(name, t->fails2))
          cr_expect_str_eq(t_json_str(c, "status"), "pass", "%s: \"%s\": %s", t->bug, name, t_json_str(c, "reason"));
      }
      continue;
    }
    json_t *c = t_find_case(root, t->track, part, t->passes[k]);
    if (c) {
      cr_expect_str_eq(t_json_str(c, "status"), "pass", "%s gets \"%s\" right: %s", t->bug, t->passes[k], t_json_str(c, "reason"));
      continue;
    }
    t_proc p;
    t_checker(&p, 280, t_planted_bin(number, t->bug, t->track), t_str("%s/r.json", t_tmpdir()), "--track", t->track,
              "--no-timing", "--case", t->passes[k], NULL);
    t_assert_exit(&p, 0);
    t_proc_free(&p);
  }
}

/* A planted file through its checker, without timing: it fails (exit 1) with what t expects; its
 * failing case's first mismatch is where t says, and the cases it gets right pass. Returns that
 * first mismatch's index (-1: none). Skipped on the CUDA track without a GPU. */
static inline long long t_check_planted(int number, const t_planted *t) {
  if (t_track(t->track) == EM_TRACK_CUDA) t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  const char *args[] = {"--track", t->track, "--no-timing", t->args[0], t->args[1], t->args[2], t->args[3]};
  t_proc p;
  t_checker_list(&p, 280, t_planted_bin(number, t->bug, t->track), json, args, T_COUNT(args));
  t_assert_exit(&p, 1);
  for (int k = 0; k < 3; ++k)
    if (t->expect[k][0]) t_assert_output_has(&p, t->expect[k]);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, t->track, t->part ? t->part : 'a', t->fails);
  cr_expect_str_eq(t_json_str(c, "status"), "fail", "%s: case \"%s\": %s", t->bug, t->fails, t_json_str(c, "reason"));
  if (t->kind[0]) cr_expect_str_eq(t_json_str(c, "kind"), t->kind, "%s: case \"%s\": its kind", t->bug, t->fails);
  if (t->reason[0])
    cr_expect(strstr(t_json_str(c, "reason"), t->reason) != NULL, "%s: reason: %s", t->bug, t_json_str(c, "reason"));
  long long at = t_expect_first_mismatch(number, t, c);
  long long unwritten = json_integer_value(json_object_get(c, "unwritten"));
  if (t->unwritten >= 0)
    cr_expect(t->unwritten ? unwritten > 0 : unwritten == 0, "%s: %lld elements unwritten", t->bug, unwritten);
  if (t->fails2[0])
    cr_expect_str_eq(t_json_str(t_get_case(root, t->track, t->part ? t->part : 'a', t->fails2), "status"), "fail",
                     "%s: case \"%s\"", t->bug, t->fails2);
  if (t->all_fail) t_expect_all_status(root, t->track, 0, "fail");
  t_expect_planted_passes(number, t, root);
  json_decref(root);
  t_proc_free(&p);
  return at;
}

/* The code a lab's planted files share, with no mistake switched on (tests/planted/labN/<name>.c
 * or .cu): every case of the track passes, so each planted file's failure is its own mistake's.
 * Skipped on the CUDA track without a GPU. */
static inline void t_planted_core_passes(int number, const char *name, const char *track) {
  if (t_track(track) == EM_TRACK_CUDA) t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 500, t_planted_bin(number, name, track), json, "--track", track, "--no-timing", NULL);
  t_assert_exit(&p, 0);
  t_proc_free(&p);
}

/* A CUDA planted file whose mistake is a CUDA error (error, in the output and in the case's reason)
 * on case fails of part: that case errs; every case of good_part (unless 0) and those of passes (up
 * to 3, "" for none) pass; and when the error leaves the context unusable (a sticky one), the CUDA
 * case later, run after it, is skipped saying why. Skipped without a GPU. */
static inline void t_check_cuda_error(int number, const char *bug, char part, const char *fails, const char *error,
                                      const char *later, char good_part, const char *const passes[3]) {
  t_need_gpu();
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, t_planted_bin(number, bug, "cuda"), json, "--track", "cuda", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  t_assert_output_has(&p, error);
  json_t *root = t_load_json(json);
  json_t *c = t_get_case(root, "cuda", part, fails);
  cr_expect_str_eq(t_json_str(c, "status"), "error");
  cr_expect_str_eq(t_json_str(c, "kind"), "error");
  cr_expect(strstr(t_json_str(c, "reason"), error) != NULL, "reason: %s", t_json_str(c, "reason"));
  if (good_part) t_expect_all_status(root, "cuda", good_part, "pass");
  for (int k = 0; k < 3 && passes[k][0]; ++k)
    cr_expect_str_eq(t_json_str(t_get_case(root, "cuda", part, passes[k]), "status"), "pass", "\"%s\"", passes[k]);
  if (later) {
    json_t *l = t_get_case(root, "cuda", part, later);
    cr_expect_str_eq(t_json_str(l, "status"), "skip");
    cr_expect_str_eq(t_json_str(l, "kind"), "after_cuda_error");
    cr_expect(strstr(t_json_str(l, "reason"), "earlier CUDA error") != NULL, "reason: %s", t_json_str(l, "reason"));
  }
  json_decref(root);
  t_proc_free(&p);
}

/* The CUDA planted file bug defines only the CUDA functions: its checker reports each CPU one
 * missing, by name, and fails every case. */
static inline void t_check_missing_function(int number, const char *bug) {
  const em_lab *lab = t_lab(number);
  const char *bin = t_planted_bin(number, bug, "cuda");
  if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 50, bin, json, "--track", "cpu", "--no-timing", NULL);
  t_assert_exit(&p, 1);
  for (int k = 0; k < lab->nparts; ++k)
    t_assert_output_has(&p, t_str("%s is not defined in %s", lab->parts[k].student_name[EM_TRACK_CPU],
                                  t_student_file(number, "cpu")));
  json_t *root = t_load_json(json), *c;
  size_t i;
  json_array_foreach(json_object_get(root, "cases"), i, c) {
    cr_expect_str_eq(t_json_str(c, "status"), "fail", "case \"%s\"", t_json_str(c, "name"));
    cr_expect_str_eq(t_json_str(c, "kind"), "missing", "case \"%s\"", t_json_str(c, "name"));
  }
  json_decref(root);
  t_proc_free(&p);
}

/* A planted file that is right but slow, on one speed case (small budget): it passes, with
 * speedup_vs_ref above 0 and below max_speedup, and performance points in proportion: full at 1.2x
 * the reference's time, proportional beyond. */
static inline void t_check_loses_perf_points(int number, const char *bug, char part, const char *name, double max_speedup) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  t_checker(&p, 280, t_planted_bin(number, bug, "cpu"), json, "--track", "cpu", "--case", t_str("=%s", name), "--budget",
            "0.05", NULL);
  t_assert_exit(&p, 0);
  json_t *root = t_load_json(json);
  const em_case *sc = t_spec_case(number, part, name);
  cr_assert(sc->perf_points > 0, "\"%s\" is a speed case", name);
  json_t *c = t_get_case(root, "cpu", part, name);
  cr_assert_str_eq(t_json_str(c, "status"), "pass", "correct results pass: %s", t_json_str(c, "reason"));
  double s = t_json_num(c, "speedup_vs_ref"), perf = t_json_num(json_object_get(c, "score"), "points") - sc->points;
  cr_expect(s > 0 && s < max_speedup, "%s: speedup_vs_ref %g, want below %g", bug, s, max_speedup);
  cr_expect(perf > 0 && perf < sc->perf_points, "performance points %g of %g: proportional, not zero", perf, sc->perf_points);
  cr_expect(fabs(perf - sc->perf_points * fmin(1.0, 1.2 * s)) <= 1e-6 * sc->perf_points,
            "performance points %g, want %g for speedup %g", perf, sc->perf_points * fmin(1.0, 1.2 * s), s);
  cr_expect_eq(t_json_num(json_object_get(c, "score"), "max"), sc->points + sc->perf_points);
  json_decref(root);
  t_proc_free(&p);
}

/* The planted fingerprint file of the track (tests/planted/labN/fingerprint.c, .cu) gains nothing
 * from the work it keeps between calls (t_expect_no_gain_from_reuse). */
static inline void t_check_fingerprint(int number, const char *track, t_reuse want) {
  const char *bin = t_planted_bin(number, "fingerprint", track);
  if (t_track(track) == EM_TRACK_CUDA) {
    t_need_gpu();
    if (!t_exists(bin)) cr_skip_test("%s is built only where nvcc is", bin);
  }
  t_expect_no_gain_from_reuse(number, bin, track, want);
}

/* ---- the instructor's hidden cases ---- */

/* A cases file the solution must refuse (exit 2), saying expect on stderr. */
static inline void t_check_hidden_refused(int number, const char *cases_json, const char *expect) {
  const char *tmp = t_tmpdir(), *cases = t_str("%s/cases.json", tmp);
  t_write_file(cases, cases_json);
  t_proc p;
  t_checker(&p, 50, t_solution_bin(number), t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--cases", cases, NULL);
  t_assert_exit(&p, 2);
  cr_expect(strstr(p.err, expect) != NULL, "for %s\nstderr lacks \"%s\":\n%s", cases_json, expect, p.err);
  t_proc_free(&p);
}

/* A cases file whose hidden cases the solution passes, alone, without printing secret (a dim). */
static inline void t_check_hidden_passes(int number, const char *cases_json, const char *secret) {
  const char *tmp = t_tmpdir(), *cases = t_str("%s/cases.json", tmp);
  t_write_file(cases, cases_json);
  t_proc p;
  t_checker(&p, 50, t_solution_bin(number), t_str("%s/r.json", tmp), "--track", "cpu", "--no-timing", "--cases", cases,
            "--hidden-only", NULL);
  t_assert_exit(&p, 0);
  cr_expect(strstr(p.all, secret) == NULL, "the output gives the hidden shape away (%s):\n%s", secret, p.all);
  t_proc_free(&p);
}

#endif /* EM_TESTS_HELPERS_H */
