"""Step 3: the pristine build (once per batch, trusted, outside the sandbox) and each submission's
build against it (inside the sandbox, writable: the submission's work dir only; readable: the
pristine build, whose public view of the repository is make's directory, and the toolchain)."""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

from . import includes, sandboxing
from .labs import discover
from .text import clean


@dataclass
class Pristine:
    repo: str
    build: str                 # the pristine build dir (never written after prepare())
    verifier: str              # em-check linked with the reference solutions, every lab
    em_archive: str | None
    make_vars: list = field(default_factory=list)   # NO_CUDA=1 ...
    peaks: str | None = None
    log: str = ""
    public: str = ""           # the public view of the repo (public_view()): make -C runs there
    system_includes: tuple = ()  # the compilers' own header folders (includes.system_include_dirs)


class PristineBuildFailed(RuntimeError):
    """The pristine build cannot be made: the batch stops before grading anything (its words say
    what to fix)."""


def has_gpu() -> bool:
    if not os.path.exists("/dev/nvidia0") or not shutil.which("nvidia-smi"):
        return False
    try:
        r = subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=20)
        return r.returncode == 0 and b"GPU" in r.stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def _make(repo: str, build: str, targets: list, make_vars: list, jobs: int, log: list) -> subprocess.CompletedProcess:
    argv = ["make", "-C", repo, f"-j{jobs}", f"BUILD={build}", *make_vars, *targets]
    log.append("$ " + " ".join(argv))
    r = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "CI": "1"})
    log.append(r.stdout[-4000:] + r.stderr[-4000:])
    return r


def prepare(repo: str, build: str, cuda: bool, em_archive: str | None, say) -> Pristine:
    """Builds libem, the harness and the reference checker into `build` with the repo's own
    Makefile (the repo's files are only read; an existing build there is brought up to date by
    make, so a folder can serve many batches). Raises PristineBuildFailed with what to fix."""
    repo = os.path.abspath(repo)
    build = os.path.abspath(build)
    make_vars = [] if cuda else ["NO_CUDA=1"]
    log: list[str] = []
    say(f"[grader] building the pristine library and the reference checker: make -C {repo} BUILD={build} {' '.join(make_vars)}")
    verifier = os.path.join(build, "demo", "em-check")
    r = _make(repo, build, ["all", verifier], make_vars, os.cpu_count() or 2, log)
    if r.returncode != 0:
        raise PristineBuildFailed("the pristine build failed (make -C %s BUILD=%s): %s" % (repo, build, clean(r.stderr, 800)))
    with open(os.path.join(repo, "Makefile"), encoding="utf-8") as f:
        makefile = f.read()
    tool = em_archive
    if not tool and "em-archive" in makefile:
        target = os.path.join(build, "em-archive")
        if _make(repo, build, [target], make_vars, 2, log).returncode == 0 and os.access(target, os.X_OK):
            tool = target
    if not tool:
        for p in (os.path.join(repo, "build", "em-archive"), shutil.which("em-archive")):
            if p and os.access(p, os.X_OK):
                tool = p
                break
    if "PREBUILT" not in makefile:
        raise PristineBuildFailed(f"{repo}/Makefile has no PREBUILT= knob (out-of-tree builds): this grader needs a newer emlab (update the repository)")
    configured = _configured(build)
    cc = next((w.split("=", 1)[1] for w in configured if w.startswith("CC=")), "gcc")
    return Pristine(repo, build, verifier, tool, make_vars + configured, None, "\n".join(log),
                    public=public_view(repo, build), system_includes=includes.system_include_dirs(cc))


# What `make labN PREBUILT=...` reads of the repository: the Makefile and the file it includes,
# the public headers, the harness's headers and candidate.c (compiled into every checker), and
# the names of each lab's student files (which files of a submission to compile). A submission's
# build runs make in a copy of just these, so that nothing else of the checkout (the reference
# solutions above all) is near it: under bubblewrap nothing else is even in its view; in the
# fallback it is where relative paths lead.
PUBLIC_FILES = ("Makefile", "tests/tests.mk", "include/**/*", "harness/*.h", "harness/candidate.c")


def public_view(repo: str, build: str) -> str:
    """The public view of the repo: a folder public-<hash of its contents> of the pristine build,
    made once (a batch that finds it there uses it as it is; a changed repo gets a new one)."""
    files = {}
    for pattern in PUBLIC_FILES:
        for p in glob.glob(os.path.join(repo, pattern), recursive=True):
            if os.path.isfile(p):
                files[os.path.relpath(p, repo)] = p
    for lab in discover(repo).values():
        for name in lab.files:
            rel = os.path.join("labs", lab.folder, name)
            files[rel] = os.path.join(repo, rel)
    h = hashlib.sha256()
    for rel in sorted(files):
        with open(files[rel], "rb") as f:
            h.update(rel.encode() + b"\0" + hashlib.sha256(f.read()).digest())
    view = os.path.join(build, "public-" + h.hexdigest()[:16])
    if os.path.isdir(view):
        return view
    tmp = tempfile.mkdtemp(prefix=".public-", dir=build)
    for rel, src in files.items():
        dest = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o644)  # the sandbox's unprivileged uid reads it
    for d, _, _ in os.walk(tmp):
        os.chmod(d, 0o755)
    try:
        os.rename(tmp, view)
    except OSError:  # another batch made the same view meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return view


def _configured(build: str) -> list[str]:
    """CC=... and CUDA_ARCH=... as the pristine build resolved them (its config.mk): the students'
    builds run with the sandbox's minimal environment, where a CC set in the grader's (a compiler
    under /opt) would be missing, and the Makefile refuses to link objects of another
    configuration against the pristine library."""
    try:
        with open(os.path.join(build, "config.mk"), encoding="utf-8") as f:
            words = f.read().split()
    except OSError:
        return []
    return [w for w in words if w.startswith(("CC=", "CUDA_ARCH=")) and len(w.split("=", 1)[1]) > 0]


def measure_peaks(pristine: Pristine, threads: int | None, say=None) -> str | None:
    """The machine's peaks (copy bandwidth, FMA rate) for the thread count the runs will use,
    measured once and handed to every run as a copy: em-check caches one thread count per file
    and measures again (about a second) on any other. Kept even when measured while other programs
    held the cores (--peaks-under-load): scores do not use them (performance points come from each
    run's ratio to the reference), only the roof column of the students' reports does, and
    measuring again in every run, under the batch's own load, would be slower and no better. The
    instructor is told (say)."""
    peaks = os.path.join(pristine.build, f"peaks-t{threads or 'all'}.json")
    if not os.path.exists(peaks):
        probe = os.path.join(pristine.build, "peaks-probe.json")
        argv = [pristine.verifier, "--lab", "1", "--track", "cpu", "--part", "a", "--case", "=n=1", "--no-timing",
                "--color", "never", "--json", probe, "--peaks", peaks, "--peaks-under-load"]
        if threads:
            argv += ["--threads", str(threads)]
        subprocess.run(argv, capture_output=True, timeout=300)
        try:
            with open(probe) as f:
                measured = json.load(f)["machine"]["peaks"]
        except (OSError, ValueError, KeyError, TypeError):
            measured = {}
        if say and measured.get("cpu_contended"):
            say(f"[grader] the CPU peaks were measured while other programs held the cores "
                f"({100 * (measured.get('cpu_share') or 0):.0f}% of the time ours): the roof column of the "
                f"students' reports will read high (scores do not use it); delete {peaks} and grade again "
                f"on a quiet machine for honest ones")
    return peaks if os.path.exists(peaks) else None


@dataclass
class BuildResult:
    ok: bool
    binary: str
    objects: list
    reason: str
    output: str
    foreign: str | None = None   # a file the compiles read from outside what they may: why


def build(pristine: Pristine, lab, labs_dir: str, workdir: str, timeout_s: float = 300) -> BuildResult:
    bdir = os.path.join(workdir, "build")
    # Out of tree: only the pristine lab folder's file names are compiled, into bdir, linked
    # against the pristine library; nothing is written outside bdir. make runs in the public view
    # of the repo, which lies inside the pristine build: the one folder it reads besides its own.
    argv = ["make", "-C", pristine.public, f"lab{lab.number}", f"LABS={labs_dir}", f"BUILD={bdir}",
            f"PREBUILT={pristine.build}", *pristine.make_vars]
    lim = sandboxing.Limits(wall_s=timeout_s, cpu_s=timeout_s, memory_bytes=4 << 30, processes=256,
                            file_bytes=512 << 20, open_files=1024)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": workdir, "LANG": "C", "CI": "1",
           "TMPDIR": workdir}
    r = sandboxing.run(argv, workdir=workdir, limits=lim, env=env, ro_binds=[pristine.build])
    sdir = os.path.join(bdir, f"lab{lab.number}", "student")
    objects = sorted(os.path.join(sdir, f) for f in os.listdir(sdir) if f.endswith(".o")) if os.path.isdir(sdir) else []
    binary = os.path.join(bdir, f"lab{lab.number}", "em-check")
    student = os.path.join(labs_dir, lab.folder)
    allowed = includes.Allowed(os.path.realpath(student), os.path.realpath(pristine.public), pristine.system_includes,
                               (os.path.realpath(os.path.join(pristine.repo, "include")),))
    paths = includes.Paths({labs_dir: "", workdir: "", pristine.public: "", pristine.build: "<prebuilt>",
                            pristine.repo: "emlab", os.path.dirname(os.path.dirname(workdir)): "<grader>",
                            os.path.expanduser("~"): "~"})
    sources = {(f[:-2] + ".o" if f.endswith(".c") else f + ".o"): os.path.join(student, f)
               for f in lab.files if f.endswith((".c", ".cu"))}
    found = includes.foreign(sdir, allowed, sources, paths) if os.path.isdir(sdir) else None
    raw = (r.stdout + b"\n" + r.stderr).decode("utf-8", "replace")
    full = paths.sub(raw)
    if r.outcome == "exited" and r.returncode == 0 and os.access(binary, os.X_OK):
        return BuildResult(True, binary, objects, "", clean(full, 4000), found)
    if r.outcome == "timeout":
        reason = f"the build took longer than {timeout_s:g} s"
    elif r.outcome != "exited":
        reason = f"the build was stopped ({r.outcome}{': ' + r.limit if r.limit else ''})"
    else:
        # The student sees the compiler's words about their own files and the public headers;
        # what it says about any other file (and quotes of it) only the instructor does.
        reason = _first_error(includes.for_student(raw, allowed, paths))
        everything = _first_error(full)
        if everything != reason:
            reason = f"{reason}{COMPILER_MARK}{everything}"
    return BuildResult(False, binary, objects, reason or "the build failed", clean(full, 4000), found)


# What follows this in a build-error's reason is the compiler's output as it was, with the text of
# files outside the submission: for the instructor only (grader/gradebook.py public_reason()).
COMPILER_MARK = " | the compiler's whole words, for the instructor: "


def _first_error(text: str) -> str:
    """The first error and the three lines after it (its quote and caret), else the last four."""
    lines = clean(text, 1 << 16).splitlines()
    first = next((i for i, l in enumerate(lines) if re.search(r"\berror\b|undefined reference", l)), None)
    pick = lines[first:first + 4] if first is not None else [l for l in lines if l.strip()][-4:]
    return clean(" | ".join(l.strip() for l in pick), 500)
