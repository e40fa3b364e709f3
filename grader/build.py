"""Step 3: the pristine build (once per batch, trusted, outside the sandbox) and each submission's
build against it (inside the sandbox, writable: the submission's work dir only)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from . import sandboxing
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
    make, so a folder can serve many batches). Raises RuntimeError with what to fix."""
    repo = os.path.abspath(repo)
    build = os.path.abspath(build)
    make_vars = [] if cuda else ["NO_CUDA=1"]
    log: list[str] = []
    say(f"[grader] building the pristine library and the reference checker: make -C {repo} BUILD={build} {' '.join(make_vars)}")
    verifier = os.path.join(build, "demo", "em-check")
    r = _make(repo, build, ["all", verifier], make_vars, os.cpu_count() or 2, log)
    if r.returncode != 0:
        raise RuntimeError("the pristine build failed (make -C %s BUILD=%s): %s" % (repo, build, clean(r.stderr, 800)))
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
        raise RuntimeError(f"{repo}/Makefile has no PREBUILT= knob (out-of-tree builds): this grader needs a newer emlab (update the repository)")
    return Pristine(repo, build, verifier, tool, make_vars + _configured(build), None, "\n".join(log))


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


def build(pristine: Pristine, lab, labs_dir: str, workdir: str, timeout_s: float = 300) -> BuildResult:
    bdir = os.path.join(workdir, "build")
    # Out of tree: only the pristine lab folder's file names are compiled, into bdir, linked
    # against the pristine library; nothing is written outside bdir.
    argv = ["make", "-C", pristine.repo, f"lab{lab.number}", f"LABS={labs_dir}", f"BUILD={bdir}",
            f"PREBUILT={pristine.build}", *pristine.make_vars]
    lim = sandboxing.Limits(wall_s=timeout_s, cpu_s=timeout_s, memory_bytes=4 << 30, processes=256,
                            file_bytes=512 << 20, open_files=1024)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": workdir, "LANG": "C", "CI": "1",
           "TMPDIR": workdir}
    r = sandboxing.run(argv, workdir=workdir, limits=lim, env=env,
                       ro_binds=[pristine.build, pristine.repo])
    sdir = os.path.join(bdir, f"lab{lab.number}", "student")
    objects = sorted(os.path.join(sdir, f) for f in os.listdir(sdir) if f.endswith(".o")) if os.path.isdir(sdir) else []
    binary = os.path.join(bdir, f"lab{lab.number}", "em-check")
    text = (r.stdout + b"\n" + r.stderr).decode("utf-8", "replace")
    subst = {labs_dir + "/": "", workdir + "/": "", pristine.repo + "/": ""}
    if r.outcome == "exited" and r.returncode == 0 and os.access(binary, os.X_OK):
        return BuildResult(True, binary, objects, "", clean(text, 4000, subst))
    if r.outcome == "timeout":
        reason = f"the build took longer than {timeout_s:g} s"
    elif r.outcome != "exited":
        reason = f"the build was stopped ({r.outcome}{': ' + r.limit if r.limit else ''})"
    else:
        lines = clean(text, 1 << 16, subst).splitlines()
        first = next((i for i, l in enumerate(lines) if re.search(r"\berror\b|undefined reference", l)), None)
        pick = lines[first:first + 4] if first is not None else [l for l in lines if l.strip()][-4:]
        reason = clean(" | ".join(l.strip() for l in pick), 500)
    return BuildResult(False, binary, objects, reason or "the build failed", clean(text, 4000, subst))
