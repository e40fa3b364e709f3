/* Shared helpers of the Criterion suites: temporary folders, running a program with its output
 * captured, reading files and results.json, and the GPU gate.
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
 * per build folder, not per test) and results written into json, plus the given arguments
 * (NULL-terminated). */
static inline void t_checker(t_proc *p, double timeout_s, const char *bin, const char *json, ...) {
  const char *argv[64];
  int n = 0;
  argv[n++] = bin;
  argv[n++] = "--peaks";
  argv[n++] = T_PEAKS;
  argv[n++] = "--peaks-under-load"; /* the suites load the cores themselves, and time nothing that matters */
  argv[n++] = "--json";
  argv[n++] = json;
  va_list ap;
  va_start(ap, json);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL) {
    cr_assert(n < 63, "t_checker: too many arguments");
    argv[n++] = a;
  }
  va_end(ap);
  argv[n] = NULL;
  cr_assert(t_exists(bin), "%s is missing: build it with  make test-build  (and run the suites from the project root)", bin);
  t_spawn(p, timeout_s, -1, argv);
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
/* The peaks of one thread: a cache of their own, as the cache is kept for one thread count. */
#define T_PEAKS_ONE_THREAD EM_BUILD_DIR "/tests/peaks-1thread.json"

static inline void t_expect_no_gain_from_reuse(int number, const char *bin, const char *track, t_reuse want) {
  const char *json = t_str("%s/results.json", t_tmpdir());
  t_proc p;
  if (strcmp(track, "cpu") == 0)
    t_checker(&p, 120, bin, json, "--track", track, "--perf-only", "--budget", "0.05", "--threads", "1", "--peaks",
              T_PEAKS_ONE_THREAD, NULL);
  else
    t_checker(&p, 120, bin, json, "--track", track, "--perf-only", "--budget", "0.05", NULL);
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

#endif /* EM_TESTS_HELPERS_H */
