"""A stand-in for grader/sandbox.py (issue4-sandbox) with the contract's API, used only until the
real module is merged: bubblewrap when present (read-only root, private /tmp, no network, private
pid namespace), rlimits, and the whole process group killed at the wall limit. It does not switch
to an unprivileged uid, so process limits do not bind a root grader. Delete once sandbox.py lands."""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass


@dataclass
class Limits:
    wall_s: float = 600.0
    cpu_s: float = 600.0
    memory_bytes: int = 8 << 30
    processes: int = 512
    file_bytes: int = 2 << 30
    open_files: int = 1024


@dataclass
class Result:
    outcome: str
    returncode: int | None
    signal: int | None
    limit: str | None
    wall_s: float
    cpu_s: float
    stdout: bytes
    stderr: bytes
    isolation: str


_CAP = 64 << 10


def isolation() -> str:
    if shutil.which("bwrap"):
        return "bubblewrap (stand-in sandbox: no uid switch)"
    return "rlimits only (weaker: stand-in sandbox, no filesystem or network isolation)"


def run(argv, *, workdir, writable=(), limits=Limits(), gpu=False, env=None, ro_binds=(), stdin=None) -> Result:
    argv = [str(a) for a in argv]
    workdir = os.path.abspath(workdir)
    if shutil.which("bwrap"):
        pre = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
               "--unshare-all", "--die-with-parent", "--new-session"]
        for d in ro_binds:
            d = os.path.abspath(d)
            pre += ["--ro-bind", d, d]
        for d in [workdir, *writable]:
            d = os.path.abspath(d)
            pre += ["--bind", d, d]
        pre += ["--chdir", workdir]
        argv = pre + argv

    def limit():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CPU, (int(limits.cpu_s), int(limits.cpu_s) + 1))
        if not gpu:
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.Popen(argv, cwd=workdir, env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             stdout=out, stderr=err, preexec_fn=limit)
        timed_out = False
        try:
            p.wait(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        try:
            os.killpg(p.pid, signal.SIGKILL)  # stragglers of the tree
        except (ProcessLookupError, PermissionError):
            pass
        out.seek(max(0, out.seek(0, 2) - _CAP)); so = out.read()
        err.seek(max(0, err.seek(0, 2) - _CAP)); se = err.read()
    rc = p.returncode
    iso = isolation()
    if timed_out:
        return Result("timeout", None, signal.SIGKILL, None, wall, cpu, so, se, iso)
    if rc is not None and rc < 0:
        sig = -rc
        lim = {signal.SIGXCPU: "cpu", signal.SIGXFSZ: "file-size"}.get(sig)
        return Result("limit" if lim else "signaled", None, sig, lim, wall, cpu, so, se, iso)
    # bwrap reports a signaled child as 128 + signal
    if shutil.which("bwrap") and rc is not None and rc > 128 and rc - 128 < 65:
        sig = rc - 128
        lim = {signal.SIGXCPU: "cpu", signal.SIGXFSZ: "file-size"}.get(sig)
        return Result("limit" if lim else "signaled", None, sig, lim, wall, cpu, so, se, iso)
    return Result("exited", rc, None, None, wall, cpu, so, se, iso)
