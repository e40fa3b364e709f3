"""Step 5: the student's checker in the sandbox, then the trusted verification.

The student's em-check runs the student's code in its own process, so everything it prints or
writes (its table, its results JSON, its exit status) is the student's to forge. What it writes
that counts is only the output tensors of each checked case (--outputs DIR, .npy files); the
reference checker, a binary with no student code, recomputes the inputs from the seed and the
oracle and judges those files (--verify DIR). Correctness comes only from that verdict.
Performance comes from the timing in the student's run (its results JSON: the interleaved ratio to
the reference), which is measured inside the student's process: it is trusted as far as the
symbol scan guarantees that the code neither replaces the checker's clocks nor calls the
reference, and it is counted only for cases the verification passed. The times it reports must
also add up against the wall-clock and CPU time the grader measures from outside (grader/timing.py)."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
from dataclasses import dataclass

from . import gpus as gpusmod, sandboxing, timing
from .text import clean, last_lines


@dataclass
class RunOptions:
    track: str            # cpu | cuda | all
    hidden: str | None    # the instructor's cases file (passed through)
    seed: int | None
    wall_s: float         # the whole run, every case
    case_timeout_s: float  # em-check --timeout: one call of the student's code
    budget_s: float | None  # em-check --budget
    threads: int | None   # em-check --threads
    memory_bytes: int = 8 << 30
    hidden_only: bool = False  # em-check --hidden-only: the instructor's cases alone
    # The largest file the run may write (RLIMIT_FSIZE; the output tensors of the largest case
    # must fit): past it the run is limit-exceeded. grade --file-size MB.
    file_bytes: int = 2 << 30


def checker_args(lab: int, o: RunOptions, hidden: str | None) -> list[str]:
    a = ["--lab", str(lab), "--track", o.track, "--color", "never"]
    if hidden:
        a += ["--cases", hidden]
        if o.hidden_only:
            a.append("--hidden-only")
    if o.seed is not None:
        a += ["--seed", str(o.seed)]
    return a


def _signame(sig: int | None) -> str:
    try:
        return signal.Signals(sig).name
    except (ValueError, TypeError):
        return f"signal {sig}"


# em-check catches SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGALRM in the student's code, prints this and
# exits 1 (harness/check.c on_fatal_signal): to the grader that is a crash or a hang.
_FATAL = re.compile(r"\*\*\* your code (crashed|did not finish in time)(?: \(([^)]*)\))?")
# The kinds of crash that message names; anything else in its place is not the checker's.
_CRASH_KINDS = ("segmentation fault: a read or write outside its arrays", "bus error: a misaligned or unmapped access",
                "arithmetic exception", "illegal instruction")

# Whatever follows this in a reason is the student's process's own output (its stderr's last
# lines): useful to the instructor, kept in the gradebook, but never shown to the student, since
# that process knows the hidden cases and the seed (grader/gradebook.py public_reason()).
STDERR_MARK = " | its last words: "


@dataclass
class StudentRun:
    status: str         # ok | timeout | crash | limit-exceeded | error
    reason: str
    isolation: str
    claimed: dict | None
    wall_s: float
    cpu_s: float | None = None  # the whole tree's CPU time, as the sandbox measured it
    contention_s: float = 0.0   # how long it could have waited for a busy CPU (grader/timing.py)
    others_share: float = math.nan  # the share of the CPUs other programs used meanwhile


def _hidden_copy(o: RunOptions, d: str) -> str | None:
    """The hidden cases as a file of the run's own folder (a private /tmp in the sandbox may hide
    the instructor's path)."""
    if not o.hidden:
        return None
    p = os.path.join(d, "hidden-cases.json")
    shutil.copyfile(o.hidden, p)
    os.chmod(p, 0o600)  # the run's uid gets it with its folder; no other run may read it
    return p


def _child_env(home: str) -> dict[str, str]:
    """A checker run's whole environment: none of the grader's, home and temporary files in its
    own folder, plain uncoloured output."""
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C", "NO_COLOR": "1"}


def run_student(binary: str, lab: int, scratch: str, o: RunOptions, peaks: str | None, gpu: bool,
                device: str | None = None, nodes: list[str] | None = None) -> StudentRun:
    """scratch: the only writable folder of the run (outputs, the claimed results, peaks);
    device: the one GPU CUDA may use (None: what the machine shows); nodes: that GPU's device
    nodes (gpus.nodes_of), the only ones the run then sees, or None: every GPU's node, with
    CUDA_VISIBLE_DEVICES naming device (which the run's own code could undo)."""
    out = os.path.join(scratch, "out")
    claimed_path = os.path.join(scratch, "claimed.json")
    peaks_copy = os.path.join(scratch, "peaks.json")
    if peaks:
        shutil.copyfile(peaks, peaks_copy)
    argv = [binary, *checker_args(lab, o, _hidden_copy(o, scratch)), "--outputs", out, "--json", claimed_path,
            "--peaks", peaks_copy, "--timeout", f"{o.case_timeout_s:g}"]
    if o.budget_s is not None:
        argv += ["--budget", f"{o.budget_s:g}"]
    if o.threads:
        argv += ["--threads", str(o.threads)]
    env = _child_env(scratch)
    if device is not None and not nodes:  # with nodes, the one GPU there is CUDA's device 0
        env |= {"CUDA_VISIBLE_DEVICES": device, "CUDA_DEVICE_ORDER": gpusmod.DEVICE_ORDER}
    lim = sandboxing.Limits(wall_s=o.wall_s, cpu_s=o.wall_s * max(1, os.cpu_count() or 1),
                            memory_bytes=o.memory_bytes, processes=256, file_bytes=o.file_bytes, open_files=1024)
    before = timing.snapshot()
    r = sandboxing.run(argv, workdir=scratch, limits=lim, gpu=gpu, env=env,
                       ro_binds=[os.path.dirname(os.path.dirname(binary))], gpu_nodes=nodes)
    after = timing.snapshot()
    contention = timing.contention_s(before, after, r.cpu_s)
    others = timing.others_share(before, after, r.cpu_s)
    subst = {scratch + "/": "", os.path.dirname(binary) + "/": ""}
    tail = last_lines(r.stderr or r.stdout, 3, 300, subst)
    said = STDERR_MARK + tail if tail else ""
    if r.outcome == "timeout":
        return StudentRun("timeout", f"the checker ran longer than {o.wall_s:g} s (whole process tree killed)",
                          r.isolation, None, r.wall_s)
    if r.outcome == "limit":
        what = {"cpu": "CPU time", "memory": "memory", "file-size": "file size", "processes": "processes"}.get(r.limit, r.limit or "a")
        return StudentRun("limit-exceeded", f"{what} limit exceeded" + (f" ({_signame(r.signal)})" if r.signal else ""),
                          r.isolation, None, r.wall_s)
    if r.outcome == "signaled":
        return StudentRun("crash", f"killed by {_signame(r.signal)}{said}",
                          r.isolation, None, r.wall_s)
    rc = r.returncode
    m = _FATAL.search(clean(r.stderr, 1 << 16))
    if m and rc == 1:
        if m.group(1) == "did not finish in time":
            return StudentRun("timeout", f"a call of the student's code ran longer than {o.case_timeout_s:g} s{said}",
                              r.isolation, None, r.wall_s)
        kind = m.group(2) if m.group(2) in _CRASH_KINDS else "fatal signal"
        # The checker catches the student's crash itself, so the sandbox sees an ordinary exit:
        # a crash with the memory limit nearly used up is code that kept allocating (malloc
        # returned NULL at the limit and the code wrote through it), the limit, not a bug to hunt.
        if not gpu and r.max_rss_bytes >= 0.75 * lim.memory_bytes:
            return StudentRun("limit-exceeded", f"memory limit exceeded ({r.max_rss_bytes >> 20} MB in use of "
                              f"{lim.memory_bytes >> 20} MB, then {kind}){said}", r.isolation, None, r.wall_s)
        return StudentRun("crash", f"crashed ({kind}){said}", r.isolation, None, r.wall_s)
    if rc == 2:
        return StudentRun("error", f"the checker stopped with a usage or environment error{said}",
                          r.isolation, None, r.wall_s)
    if rc not in (0, 1):
        return StudentRun("crash", f"the checker exited with unexpected status {rc}{said}", r.isolation, None, r.wall_s)
    claimed = None
    try:
        if os.path.isfile(claimed_path) and os.path.getsize(claimed_path) < 16 << 20:
            with open(claimed_path, "rb") as f:
                claimed = json.loads(f.read().decode("utf-8", "replace"))
            if not isinstance(claimed, dict):
                claimed = None
    except ValueError:
        claimed = None
    return StudentRun("ok", "", r.isolation, claimed, r.wall_s, r.cpu_s, contention, others)


@dataclass
class Verified:
    ok: bool
    results: dict | None
    reason: str


def verify(verifier: str, lab: int, scratch: str, vdir: str, o: RunOptions) -> Verified:
    """The reference checker recomputes every case's verdict from the student's output files
    (scratch/out, read-only to it). It runs sandboxed too, since it reads what the student's
    process wrote; vdir, fresh and the student's process never saw it, is its only writable place."""
    out = os.path.join(scratch, "out")
    os.makedirs(vdir, mode=0o700)
    vjson = os.path.join(vdir, "verified.json")
    if not os.path.isdir(out) or os.path.islink(out):
        return Verified(True, {"cases": []}, "")  # nothing written: every case fails
    # The verifier runs as another uid: the student's files must be readable to it whatever
    # modes the student's process gave them (links are left alone: the verifier refuses them).
    os.chmod(scratch, 0o711)
    for d, dirs, files in os.walk(out):
        os.chmod(d, 0o755)
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                os.chmod(p, 0o644)
    argv = [verifier, *checker_args(lab, o, _hidden_copy(o, vdir)), "--verify", out, "--json", vjson,
            "--peaks", os.path.join(vdir, "peaks.json")]
    env = _child_env(vdir)
    lim = sandboxing.Limits(wall_s=max(120.0, o.wall_s), cpu_s=600 * max(1, os.cpu_count() or 1),
                            memory_bytes=o.memory_bytes, processes=256, file_bytes=64 << 20, open_files=1024)
    r = sandboxing.run(argv, workdir=vdir, limits=lim, env=env,
                       ro_binds=[os.path.dirname(os.path.dirname(verifier)), out])
    if not (r.outcome == "exited" and r.returncode in (0, 1)):
        return Verified(False, None, "the verification (reference checker) failed: %s %s: %s" % (
            r.outcome, r.returncode if r.outcome == "exited" else _signame(r.signal), last_lines(r.stderr, 3, 300)))
    try:
        with open(vjson, "rb") as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        return Verified(False, None, f"the verification wrote no readable results ({clean(str(e), 200)}): "
                                     f"{last_lines(r.stderr, 3, 300)}")
    return Verified(True, res, "")


def gpu_alone_works(verifier: str, nodes: list[str], scratch: str, peaks: str | None = None) -> tuple[bool, str]:
    """Whether CUDA runs in the sandbox when only `nodes` (one GPU's and the driver's control
    nodes) are there: the reference checker on lab 1's smallest CUDA case, untimed (peaks: the
    batch's, copied, so that it measures none). (True, "") or (False, what went wrong)."""
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    peaks_copy = os.path.join(scratch, "peaks.json")
    if peaks:
        shutil.copyfile(peaks, peaks_copy)
    argv = [verifier, "--lab", "1", "--part", "a", "--case", "=n=1", "--track", "cuda", "--no-timing",
            "--color", "never", "--json", os.path.join(scratch, "probe.json"), "--peaks", peaks_copy]
    env = _child_env(scratch)
    lim = sandboxing.Limits(wall_s=120.0, cpu_s=600.0, memory_bytes=8 << 30, processes=256, file_bytes=64 << 20,
                            open_files=1024)
    r = sandboxing.run(argv, workdir=scratch, limits=lim, gpu=True, env=env,
                       ro_binds=[os.path.dirname(os.path.dirname(verifier))], gpu_nodes=nodes)
    if r.outcome == "exited" and r.returncode == 0 and "1 passed" in (r.stdout or ""):
        return True, ""
    return False, f"{r.outcome} {r.returncode}: {last_lines(r.stderr or r.stdout, 2, 200)}"


def verify_supported(verifier: str) -> bool:
    import subprocess
    r = subprocess.run([verifier, "--help"], capture_output=True, text=True, timeout=30)
    return "--verify" in r.stdout and "--outputs" in r.stdout


def case_table(verifier: str, lab: int, scratch: str, o: RunOptions, peaks: str | None) -> dict:
    """Every case of the lab (built-in and hidden) on the track, with its points: the reference
    solution run once without timing. (track, part, name, hidden) -> (points, perf_points)."""
    import subprocess
    # The grader's alone: the list names the hidden cases and the seed.
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    os.chmod(scratch, 0o700)
    j = os.path.join(scratch, f"cases-lab{lab}.json")
    p = os.path.join(scratch, "peaks.json")
    if peaks:
        shutil.copyfile(peaks, p)
    r = subprocess.run([verifier, *checker_args(lab, o, o.hidden), "--no-timing", "--json", j, "--peaks", p],
                       capture_output=True, text=True, timeout=900)
    if r.returncode not in (0, 1) or not os.path.exists(j):
        raise RuntimeError(f"the reference checker could not list lab {lab}'s cases: {last_lines(r.stderr, 3)}")
    with open(j) as f:
        res = json.load(f)
    table = {}
    for c in res.get("cases", []):
        if c.get("status") == "skip":
            continue
        pts = float(c["score"]["points"]) if c.get("status") == "pass" else None
        mx = float(c["score"]["max"])
        if pts is None:
            raise RuntimeError(f"the reference solution fails lab {lab} case {c.get('name')!r}: {c.get('reason')}")
        table[case_key(c)] = (pts, mx - pts)
    return table


def case_key(c: dict) -> tuple:
    return (c.get("track"), c.get("part"), c.get("name"), bool(c.get("hidden")))
