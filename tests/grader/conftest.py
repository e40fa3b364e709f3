"""Shared pieces of the grader's tests: the repository, one pristine build for the whole session,
archive writers (archives are generated here, from strings: no binary blobs in the tree), the
student files of every behaviour the grader must grade rightly, and a runner for the CLI."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# pytest keeps every session's temporary folders under one root per user (/tmp/pytest-of-<user>)
# and, when a session starts, resets that root to 0700. The sandboxed runs need their folders
# searchable by the sandbox's uid (searchable() below), so a second pytest session starting on the
# same machine (another suite, another clone's `make test`) would cut this one off mid-run: rows
# turned "error" because the sandbox could no longer reach its run folder. Unless --basetemp is
# given, the suite takes a folder of its own under the temporary directory, which no other session
# touches; it is removed after a passing session and kept (and named) after a failing one.
_OWN_BASETEMP: str | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    global _OWN_BASETEMP
    if config.option.basetemp is None:
        _OWN_BASETEMP = tempfile.mkdtemp(prefix="emlab-grader-tests-")
        config.option.basetemp = _OWN_BASETEMP


def pytest_sessionfinish(session, exitstatus):
    if _OWN_BASETEMP is None:
        return
    if exitstatus == 0:
        shutil.rmtree(_OWN_BASETEMP, ignore_errors=True)
    else:
        print(f"\n[emlab] the grader tests' temporary folders are kept in {_OWN_BASETEMP}", file=sys.stderr)

# Small hidden cases so that a submission grades in about a second: correctness cases on both
# parts and one speed case (2^20 floats, 4 MiB per tensor) that carries performance points.
HIDDEN = {"seed": 918273645546372, "cases": [
    {"lab": 1, "part": "a", "name": "h-a1", "dims": [1], "values": "uniform", "tracks": "cpu", "points": 1},
    {"lab": 1, "part": "a", "name": "h-a33", "dims": [33], "values": "uniform", "tracks": "cpu", "points": 1},
    {"lab": 1, "part": "a", "name": "h-a1000", "dims": [1000], "values": "large", "tracks": "cpu", "points": 1},
    {"lab": 1, "part": "b", "name": "h-b1", "dims": [1], "values": "uniform", "tracks": "cpu", "points": 1},
    {"lab": 1, "part": "b", "name": "h-b4099", "dims": [4099], "values": "uniform", "tracks": "cpu", "points": 1},
    {"lab": 1, "part": "b", "name": "h-b65537", "dims": [65537], "values": "tiny", "tracks": "cpu", "points": 1},
    {"lab": 1, "part": "b", "name": "h-perf", "dims": [1048576], "values": "uniform", "tracks": "cpu",
     "points": 1, "perf_points": 2},
]}

HEAD = '#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include "em/add.h"\n#include "em/lab.h"\n'
LOOP_A = "void lab1_add_a(const float *x, float c, float *z, int64_t n) {\n  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;\n}\n"
LOOP_B = ("void lab1_add_b(const float *x, float c, float *z, int64_t n) {\n#pragma omp parallel for simd schedule(static)\n"
          "  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;\n}\n")

SRC = {
    "good": HEAD + LOOP_A + LOOP_B,
    "skeleton": (REPO / "labs/lab1-add/add.c").read_text(),
    "build_error": HEAD + "void lab1_add_a(const float *x, float c, float *z, int64_t n) { this is not C }\n" + LOOP_B,
    "calls_reference": HEAD + LOOP_A + "void lab1_add_b(const float *x, float c, float *z, int64_t n) { em_add_b_cpu(x, c, z, n); }\n",
    # Prints a perfect table and, at exit, overwrites the run's results with a perfect claim.
    "fake_score": HEAD + r'''
static void forge(void) {
  FILE *f = fopen("claimed.json", "w");
  if (f) { fputs("{\"schema\":\"em-results/1\",\"score\":{\"points\":25,\"max\":25},\"cases\":[]}", f); fclose(f); }
  f = fopen("results.json", "w");
  if (f) { fputs("{\"score\":{\"points\":25,\"max\":25}}", f); fclose(f); }
  printf("score cpu: 25.0 / 25.0\n20 passed, 0 failed, 0 skipped\n");
}
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  static int once; if (!once++) atexit(forge);
  (void)x, (void)c, (void)z, (void)n;
}
void lab1_add_b(const float *x, float c, float *z, int64_t n) { (void)x, (void)c, (void)z, (void)n; }
''',
    # Correct outputs, but it writes into its input afterwards.
    "modifies_inputs": HEAD + LOOP_A + '''
void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
  ((float *)x)[n - 1] = 0.0f;
}
''',
    # Remembers the last output by the input's pointer and size and returns it without computing.
    "caches": HEAD + LOOP_A + '''
static const float *last_x; static int64_t last_n; static float *last_z;
void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  if (x == last_x && n == last_n && last_z) {
    for (int64_t i = 0; i < n; ++i) z[i] = last_z[i];
    return;
  }
  free(last_z); last_z = malloc((size_t)n * sizeof *z);
  for (int64_t i = 0; i < n; ++i) z[i] = last_z[i] = x[i] + c;
  last_x = x; last_n = n;
}
''',
    "unwritten": HEAD + "void lab1_add_a(const float *x, float c, float *z, int64_t n) { (void)x, (void)c, (void)z, (void)n; }\n"
                        "void lab1_add_b(const float *x, float c, float *z, int64_t n) { (void)x, (void)c, (void)z, (void)n; }\n",
    "hangs": HEAD + "void lab1_add_a(const float *x, float c, float *z, int64_t n) { (void)x, (void)c, (void)z, (void)n; for (volatile int k = 0;; ++k) {} }\n" + LOOP_B,
    # Prints (what could be the hidden cases) to stderr, then crashes.
    "segfaults": HEAD + "void lab1_add_a(const float *x, float c, float *z, int64_t n) { (void)x, (void)c, (void)z, (void)n;"
                        " fputs(\"LEAKED-SECRET\\n\", stderr); *(volatile int *)16 = 1; }\n" + LOOP_B,
    # Starts processes in a storm (bounded, in case the scan misses it): the scan must stop it.
    "forks": HEAD + "#include <unistd.h>\n" + LOOP_A +
             "void lab1_add_b(const float *x, float c, float *z, int64_t n) {\n"
             "  for (int k = 0; k < 2000; ++k) if (fork() == 0) _exit(0);\n"
             "  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;\n}\n",
    "network": HEAD + "#include <sys/socket.h>\n#include <netinet/in.h>\n" + LOOP_A + r'''
void lab1_add_b(const float *x, float c, float *z, int64_t n) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr = {htonl(0x01010101)}};
  if (s >= 0) connect(s, (struct sockaddr *)&a, sizeof a);
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
''',
    # Replaces the clock the checker times with, to look fast.
    "fake_clock": "#define _GNU_SOURCE\n#include <time.h>\n" + HEAD + LOOP_A + LOOP_B + r'''
int clock_gettime(clockid_t id, struct timespec *ts) { (void)id; static long t; ts->tv_sec = 0; ts->tv_nsec = ++t; return 0; }
''',
    # Allocates without end, touching what it gets, and never checks malloc: dies at the limit.
    "allocates": HEAD + "#include <string.h>\n" + LOOP_A +
                 "void lab1_add_b(const float *x, float c, float *z, int64_t n) {\n"
                 "  (void)x, (void)c, (void)z, (void)n;\n"
                 "  for (;;) { char *p = malloc(64 << 20); memset(p, 1, 64 << 20); }\n}\n",
    # Writes a file in its folder until something stops it: the run's file-size limit (the batch
    # sets a small one, so that no disk is too slow to reach it), else its own bound, 64 MiB, after
    # which it does the work and the run is ok: a limit that did not hold fails the test, not the disk.
    "writes_gigabytes": HEAD + LOOP_A +
                        "void lab1_add_b(const float *x, float c, float *z, int64_t n) {\n"
                        "  static char buf[1 << 20];\n"
                        "  FILE *f = fopen(\"big.bin\", \"w\");\n"
                        "  for (int k = 0; f && k < 64 && fwrite(buf, 1, sizeof buf, f) == sizeof buf; ++k) {}\n"
                        "  if (f) fclose(f);\n"
                        "  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;\n}\n",
    # Tries to write where it must not: /tmp, the repository, the grader's output folder (the
    # paths come in through ESCAPE_TARGETS, replaced below); then does the work correctly.
    # Opens files it must not be able to see (the paths come in through READ_TARGETS, replaced
    # in the batch): the grader's checkout, the grader's list of the hidden cases, /etc/passwd.
    # Part (a) is right only if none of them opens.
    "reads_outside": HEAD + '''
static int opens(const char *p) { FILE *f = fopen(p, "r"); if (f) fclose(f); return f != NULL; }
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  static const char *const targets[] = {READ_TARGETS};
  int seen = 0;
  for (unsigned k = 0; k < sizeof targets / sizeof *targets; ++k) seen |= opens(targets[k]);
  for (int64_t i = 0; i < n; ++i) z[i] = seen ? 0.0f : x[i] + c;
}
''' + LOOP_B,
    "writes_outside": HEAD + '''
static void try_write(const char *p) { FILE *f = fopen(p, "w"); if (f) { fputs("escaped", f); fclose(f); } }
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  static const char *const targets[] = {ESCAPE_TARGETS};
  for (unsigned k = 0; k < sizeof targets / sizeof *targets; ++k) try_write(targets[k]);
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
''' + LOOP_B,
}


def forged_claim(timed_s: float, impossible: str | None = None) -> str:
    """The run's results as a forger would write them for HIDDEN: every case passed, as fast as
    the reference, each with timed_s seconds of timed calls; the case named `impossible` measured
    beyond the machine's peaks."""
    cases = [{"lab": 1, "part": c["part"], "name": c["name"], "track": "cpu", "hidden": True, "status": "pass",
              "reason": "", "speedup_vs_ref": 1.0, "time_ms": 1.0, "ref_time_ms": 1.0,
              "impossible_speed": c["name"] == impossible, "speed_note": "SPEED-NOTE-FROM-THE-RUN" if c["name"] == impossible else "",
              "timed_calls": 10, "timed_s": timed_s} for c in HIDDEN["cases"]]
    return json.dumps({"schema": "em-results/1", "lab": 1, "cases": cases,
                       "timing": {"timed_calls": 10 * len(cases), "timed_s": timed_s * len(cases)}})


def correct_but_rewrites_its_results(claim: str) -> str:
    """Correct code (the verification passes it) that replaces the run's results at exit."""
    return HEAD + f"static const char claim[] = {json.dumps(claim)};\n" + r'''
static void forge(void) {
  FILE *f = fopen("claimed.json", "w");
  if (f) { fputs(claim, f); fclose(f); }
}
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  static int once; if (!once++) atexit(forge);
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
''' + LOOP_B


# Reports 500 s of timed calls per case: more than the run's whole wall-clock time.
SRC["forged_times"] = correct_but_rewrites_its_results(forged_claim(500.0))
# Reports the speed case as measured beyond the machine's peaks (the checker's own flag).
SRC["impossible_speed"] = correct_but_rewrites_its_results(forged_claim(0.001, impossible="h-perf"))


def including(path: str) -> str:
    """Issue 10's finding: the reference solution compiled in by an #include, its functions renamed
    so that the symbol scan sees only the student's own names."""
    return ("#define em_add_a_cpu stolen_add_a\n#define em_add_b_cpu stolen_add_b\n"
            f'#include "{path}"\n' + HEAD +
            "void lab1_add_a(const float *x, float c, float *z, int64_t n) { stolen_add_a(x, c, z, n); }\n"
            "void lab1_add_b(const float *x, float c, float *z, int64_t n) { stolen_add_b(x, c, z, n); }\n")


REFERENCE_ADD = REPO / "reference" / "cpu" / "add.c"
# By the checkout's absolute path.
SRC["includes_reference"] = including(str(REFERENCE_ADD))
# By a relative path: up from the student's folder to the root (more ../ than any work folder is
# deep), then down into the checkout.
SRC["includes_reference_relative"] = including("../" * 24 + str(REFERENCE_ADD).lstrip("/"))
# Relative to include/ (-Iinclude): the checkout's reference/ when make ran in the checkout.
SRC["includes_reference_via_include"] = including("../reference/cpu/add.c")
# Any file of the machine, whose lines the compiler's errors would quote.
SRC["includes_passwd"] = '#include "/etc/passwd"\n' + HEAD + LOOP_A + LOOP_B
# Correct code of its own, with the reference's text beside it (never compiled): the similarity
# note, and the score of the code that runs.
_RENAMES = {"add_simd": "plus_vec", "add_stream": "plus_nt", "em_add_a_cpu": "plus_a", "em_add_b_cpu": "plus_b"}
SRC["copies_reference"] = SRC["good"] + "#if 0\n" + re.sub(
    r"\b(" + "|".join(_RENAMES) + r")\b", lambda m: _RENAMES[m.group(1)], REFERENCE_ADD.read_text()) + "\n#endif\n"


def student_tar(path: Path, source: str, *, lab_dir="labs/lab1-add", manifest: dict | None = None) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
        add_bytes(t, f"{lab_dir}/add.c", source.encode())
        if manifest is not None:
            add_bytes(t, "manifest.json", json.dumps(manifest).encode())
    return path


def add_bytes(t: tarfile.TarFile, name: str, data: bytes, **kw) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    for k, v in kw.items():
        setattr(info, k, v)
    t.addfile(info, io.BytesIO(data))


def bad_archives(d: Path, victim: str) -> dict[str, Path]:
    """Archives em-archive must refuse; `victim`: an absolute path the hostile entries aim at."""
    good = SRC["good"].encode()
    out = {}
    p = d / "bad-traversal.tar.gz"
    with tarfile.open(p, "w:gz") as t:
        add_bytes(t, "labs/lab1-add/add.c", good)
        add_bytes(t, "../" * 8 + victim.lstrip("/"), b"escaped")
    out["traversal"] = p
    p = d / "bad-absolute.tar"
    with tarfile.open(p, "w") as t:
        add_bytes(t, "labs/lab1-add/add.c", good)
        add_bytes(t, victim, b"escaped")
    out["absolute"] = p
    p = d / "bad-symlink.tar.gz"
    with tarfile.open(p, "w:gz") as t:
        info = tarfile.TarInfo("labs/lab1-add/add.c")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        t.addfile(info)
    out["symlink"] = p
    p = d / "bad-zip-traversal.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("add.c", good)
        z.writestr("../../" + victim.lstrip("/"), b"escaped")
    out["zip_traversal"] = p
    p = d / "bad-not-an-archive.tar.gz"
    p.write_bytes(b"this is a text file, not an archive\n" * 20)
    out["not_archive"] = p
    p = d / "bad-empty.tar.gz"
    with tarfile.open(p, "w:gz"):
        pass
    out["empty"] = p
    p = d / "bad-zero-bytes.tar.gz"
    p.write_bytes(b"")
    out["zero_bytes"] = p
    full = d / "full.tar.gz"
    with tarfile.open(full, "w:gz") as t:
        add_bytes(t, "labs/lab1-add/add.c", os.urandom(200_000))  # incompressible: the cut is mid-data
    p = d / "bad-truncated.tar.gz"
    p.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    out["truncated"] = p
    p = d / "bad-many.tar.gz"
    with tarfile.open(p, "w:gz") as t:
        add_bytes(t, "labs/lab1-add/add.c", good)
        for k in range(5000):
            add_bytes(t, f"f{k}.c", b"x")
    out["many_entries"] = p
    p = d / "bad-duplicate.tar"
    with tarfile.open(p, "w") as t:
        add_bytes(t, "labs/lab1-add/add.c", good)
        add_bytes(t, "labs/lab1-add/add.c", SRC["skeleton"].encode())
    out["duplicate"] = p
    p = d / "bad-newline.tar"
    with tarfile.open(p, "w") as t:
        add_bytes(t, "labs/lab1-add/add.c", good)
        add_bytes(t, "labs/lab1-add/add\n.c", good)
    out["newline_name"] = p
    p = d / "bad-zip-symlink.zip"
    with zipfile.ZipFile(p, "w") as z:
        info = zipfile.ZipInfo("labs/lab1-add/add.c")
        info.external_attr = (0o120777) << 16  # S_IFLNK
        z.writestr(info, "/etc/passwd")
    out["zip_symlink"] = p
    p = d / "bad-xz-bomb.tar.xz"
    with tarfile.open(p, "w:xz", preset=1) as t:
        add_bytes(t, "labs/lab1-add/add.c", good)
        add_bytes(t, "zeros.bin", bytes(200 << 20))
    out["xz_bomb"] = p
    p = d / "bad-huge-source.tar.gz"
    with tarfile.open(p, "w:gz", compresslevel=1) as t:  # incompressible: caught by its size, not its ratio
        add_bytes(t, "labs/lab1-add/add.c", good + b"/*" + os.urandom(10 << 20).hex().encode() + b"*/\n")
    out["huge_source"] = p
    return out


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pristine") / "build"


@pytest.fixture(scope="session")
def hidden_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("hidden") / "hidden.json"
    p.write_text(json.dumps(HIDDEN))
    p.chmod(0o600)  # the grader refuses a hidden file the sandboxed runs could read
    return p


def em_archive_args() -> list[str]:
    """The grader builds build/em-archive into the pristine build itself."""
    return []


def searchable(p: Path) -> None:
    """pytest's temporary folders are 0700; the sandbox's unprivileged uid must traverse them to
    reach the run folders (the grader refuses to start otherwise, naming the folder)."""
    p = Path(p).resolve()
    p.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.gettempdir()).resolve()
    for d in [p, *p.parents]:
        if d == tmp or tmp not in d.parents:
            break
        d.chmod(d.stat().st_mode | 0o001)


def grade(out: Path, inputs, pristine: Path, hidden: Path | None, *extra, timeout=900, check=True, env=None):
    searchable(out)
    searchable(pristine)
    argv = [sys.executable, "-m", "grader", "grade", *map(str, inputs), "--out", str(out),
            "--pristine", str(pristine), "--track", "cpu", *em_archive_args()]
    if hidden:
        argv += ["--hidden", str(hidden), "--hidden-only"]
    argv += list(map(str, extra))
    r = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                       env=None if env is None else {**os.environ, **env})
    if check:
        assert r.returncode == 0, r.stderr
    return r


def rows_of(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by = {}
    for r in rows:
        assert r["submission"] not in by, f"two rows for {r['submission']}"
        by[r["submission"]] = r
    return by
