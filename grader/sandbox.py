"""Runs one untrusted program under limits, for the grader.

    result = run(argv, workdir=..., limits=Limits(wall_s=60), ...)   # never raises for the child
    result.outcome in ("exited", "signaled", "timeout", "limit")

Two backends, chosen once per process (``isolation()`` says which, in words):

* ``bubblewrap`` (preferred: used when ``bwrap`` is installed and a probe run succeeds): a private
  view of the file system that holds only the machine's toolchain and system files, read-only
  (``system_view()``: /usr, /bin, /lib*, the pieces of /etc the loader and the compilers' links
  need, /sys), the work directory and the ``writable`` ones, the ``ro_binds``, a private ``/tmp``
  and ``/dev/shm`` (256 MiB tmpfs each at most, since they live in memory), a minimal /dev and
  /proc; private pid, ipc, uts, network, cgroup and user namespaces (no further user namespaces
  inside), and rlimits.  Everything else of the machine (the grader's checkout with the reference
  solutions, its output folder with other submissions, anyone's home) is not there at all, so
  whatever a run must read (its program, its inputs) goes in ``ro_binds``.  A program killed by
  signal N reaches us as bubblewrap's exit status 128 + N.
* ``rlimits+uid`` (the fallback): an unprivileged uid, a new session and the same rlimits, plus a
  user+network namespace when the kernel lets an unprivileged user make one (``isolation()``
  says "network open" when it cannot).  There is no private view: the run may read every
  world-readable file of the machine (isolation() says so) and write wherever its uid may
  (``/tmp``, ``/var/tmp``, ``/dev/shm``: what it leaves there at the top level is removed
  afterwards), and there is no pid namespace.

``EM_SANDBOX=rlimits`` (or ``run(..., backend="rlimits")``) forces the fallback, so that both can
be tested on one machine; ``EM_SANDBOX=bwrap`` insists on bubblewrap.

Every run has a helper process as its parent: a fresh Python running grader/sandbox_child.py
(Popen's preexec_fn is unsafe in a threaded grader), with the grader's uid, that is the child
subreaper of the whole tree.  When the program ends, or at the wall limit, it kills and reaps
every descendant that is left (daemons that double-forked included), so nothing outlives run()
and the tree's CPU time adds up in cpu_s.

Process limits only bind an unprivileged uid: RLIMIT_NPROC counts the processes of the run's real
uid, and root is exempt.  When the grader runs as root each run therefore takes a uid of its own
from a pool (60000 + slot, 64 slots, held with an flock under /run/emlab-sandbox), so that
concurrent runs (``--jobs N``) neither share one process budget (a fork storm in one run would
starve the others) nor kill each other's processes when a uid is swept (before each run, for
leftovers of a killed grader, at the wall limit, and after each run).  For the run the work
directory and the ``writable`` trees are chowned to that uid, except the ``ro_binds`` inside
them; afterwards what the uid owns there is chowned back to the tree's owner, with set-id bits
cleared.  Every directory above them must be searchable by others (o+x), or the unprivileged uid
could not reach them: run() raises SandboxError naming the directory otherwise.

Not limited: the total bytes and the number of files written to the work directory (only the
largest file, by RLIMIT_FSIZE; the wall limit bounds the rest), and, for GPU runs, memory.
The child's environment is ``env`` alone, or a minimal one: none of the grader's.
"""

from __future__ import annotations

import glob
import json
import os
import grp
import pwd
import resource
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Sequence, Union

# The last bytes of each stream that a Result keeps; the rest is read and dropped, so that a
# program printing gigabytes costs the grader neither memory nor disk.
CAPTURE_BYTES = 64 << 10

# The pool of unprivileged uids (and gids of the same number) that runs use when the grader is
# root.  Debian leaves 60000-64999 unassigned unless a package asks; a uid that has a passwd
# entry on this machine is skipped, so the pool never borrows a real account.
UID_BASE = int(os.environ.get("EM_SANDBOX_UID_BASE", "60000"))
UID_SLOTS = int(os.environ.get("EM_SANDBOX_UID_SLOTS", "64"))

# The uid that the one-time probes run as: they only run `true`, so nobody will do.
_PROBE_UID = 65534

# bubblewrap's own processes (the outer one and its pid namespace's init) have the run's uid and
# count against its process limit; they are added so that the program gets what Limits says.
_BWRAP_OWN_PROCESSES = 2

# The size of the private /tmp and /dev/shm under bubblewrap: they live in the machine's memory,
# which RLIMIT_AS does not cover, so they are kept small.
_BWRAP_TMPFS_BYTES = 256 << 20

# Messages with which C, C++ and Python runtimes report a failed allocation.  They come from the
# child, so they only ever decide between "crash" and "memory" for a run that already died.
_MEMORY_MESSAGES = (b"cannot allocate memory", b"std::bad_alloc", b"out of memory", b"memoryerror")

PathLike = Union[str, os.PathLike]


class SandboxError(RuntimeError):
    """The grader's own mistake or this machine's setup, never something the child did."""


@dataclass
class Limits:
    wall_s: float = 600.0  # whole process tree killed after this
    cpu_s: float = 600.0
    memory_bytes: int = 8 << 30  # address space / data (not applied to GPU runs; stated)
    processes: int = 512
    file_bytes: int = 2 << 30  # largest file the run may write
    open_files: int = 1024


@dataclass
class Result:
    outcome: str  # "exited" | "signaled" | "timeout" | "limit"
    returncode: int | None  # exit status when outcome == "exited"
    signal: int | None  # the signal when "signaled" / "limit"
    limit: str | None  # "cpu" | "file-size" | "memory" | "processes" when known
    wall_s: float
    cpu_s: float
    stdout: bytes  # capped (last 64 KiB)
    stderr: bytes  # capped (last 64 KiB)
    isolation: str  # "bubblewrap" or "rlimits+uid (weaker: ...)"
    notes: list[str] = field(default_factory=list)  # what the sandbox itself noticed
    max_rss_bytes: int = 0  # the largest resident set of any process of the tree


# ---- the helper that stands between the grader and the program ------------------------------
# Every run, probe and sweep is a fresh Python running grader/sandbox_child.py (its docstring says
# what it does and what it says on the status pipe).  It is started by its absolute path, found
# once here, so that it works whatever the grader's working directory (each run's helper starts in
# the run's work directory) and however the grader was imported.  The helper runs as the
# grader's uid and outside any bubblewrap view (it is what starts bubblewrap), so it needs no
# bind: the program's view never holds the grader's folder.
_CHILD_PATH = os.path.join(os.path.dirname(os.path.realpath(__file__)), "sandbox_child.py")


def _python() -> str:
    """The interpreter that runs the helper (as the grader, before its child drops the uid)."""
    return sys.executable or "/usr/bin/python3"


def _spawn_helper(cfg: dict, **popen: object) -> tuple[subprocess.Popen, int]:
    """Starts the helper with cfg; returns it and the read end of its status pipe."""
    rfd, wfd = os.pipe()
    cfg = dict(cfg, status_fd=wfd, ppid=os.getpid())
    try:
        proc = subprocess.Popen(
            [_python(), "-I", "-S", _CHILD_PATH, json.dumps(cfg)],
            pass_fds=(wfd,), close_fds=True, env={}, start_new_session=True,
            **popen)  # type: ignore[arg-type]
    except BaseException:
        os.close(rfd)
        raise
    finally:
        os.close(wfd)
    return proc, rfd


def _run_helper(cfg: dict) -> tuple[int, list[str]]:
    """Runs a short helper (probe, sweep) to its end; returns its status and what it said."""
    proc, rfd = _spawn_helper(cfg, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    with os.fdopen(rfd, "rb") as r:
        said = r.read().decode(errors="replace").splitlines()
    return proc.wait(timeout=60), said


# ---- uid pool -------------------------------------------------------------------------------
_MY_UID = os.getuid()


def _lock_dir() -> Path:
    """Where the uid pool's lock files live: root's own /run when root, else a private tmp dir."""
    if _MY_UID == 0 and os.path.isdir("/run"):
        d = Path("/run/emlab-sandbox")
    else:
        d = Path(os.environ.get("TMPDIR", "/tmp")) / f"emlab-sandbox-{_MY_UID}"
    d.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != _MY_UID:
        raise SandboxError(f"{d} is not a directory of uid {_MY_UID}: remove it and run again")
    return d


def _pool_uids() -> list[int]:
    """The pool's uids that no account or group of this machine uses (each run's gid = its uid)."""
    uids = []
    for uid in range(UID_BASE, UID_BASE + UID_SLOTS):
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(uid)
            continue
        except KeyError:
            uids.append(uid)
    return uids


class _UidSlot:
    """One uid of the pool, held with an flock for the length of a run (threads and processes)."""

    def __init__(self) -> None:
        self.uid: int = -1
        self._fd: int = -1

    def __enter__(self) -> "_UidSlot":
        import fcntl
        uids = _pool_uids()
        if not uids:
            raise SandboxError(f"every uid of {UID_BASE}..{UID_BASE + UID_SLOTS - 1} has an "
                               "account or a group: set EM_SANDBOX_UID_BASE to a free range")
        d = _lock_dir()
        while True:
            for uid in uids:
                fd = os.open(d / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                self.uid, self._fd = uid, fd
                return self
            # More concurrent runs than uids: wait for one to finish.
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


def _uid_has_processes(uid: int) -> bool:
    """Whether any process (a zombie included) has uid as its real, effective or saved uid."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        if str(uid).encode() in line.split()[1:4]:
                            return True
                        break
        except OSError:
            continue
    return False


def _sweep_uid(uid: int, only_if_needed: bool = False) -> None:
    """Kills every process of uid, from a helper that takes that uid (kill(-1) spares itself)."""
    if only_if_needed and not _uid_has_processes(uid):
        return
    _, said = _run_helper({"mode": "sweep", "uid": uid, "gid": uid, "netns": False})
    if any(s.startswith("error") for s in said):
        raise SandboxError(f"cannot sweep the processes of uid {uid}: {said}")


# ---- backend choice -------------------------------------------------------------------------
_probe_lock = threading.Lock()
_probed: dict[str, bool] = {}


# What every run sees of the machine under bubblewrap, read-only: the toolchain (compilers, make,
# the shell and tools a Makefile calls, the loader and its libraries, system and CUDA headers, all
# under /usr on a merged-/usr system, whose /bin, /lib ... are links into it), the pieces of /etc
# that the loader (ld.so.cache) and the tools' Debian alternatives (cc, awk) read, and /sys, the
# kernel's description of the hardware: the checker reads the CPU's cache sizes there, and CUDA
# and NVML their PCI devices. Nothing of /etc beyond that (no passwd), no /home, /root, /opt,
# /srv, /var: a path a run needs beyond these is bound by its caller (ro_binds).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/sys")

# The grader's own checkout (the reference solutions live there): hidden even where it lies inside
# the system view (a checkout under /usr/local/src).
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def _toolchain_dirs() -> list[str]:
    """Directories of the toolchain outside SYSTEM_PATHS: those the grader's _TOOLCHAIN_VARS name
    (libraries unpacked under /tmp/emdeps, a conda prefix), the target of /usr/local/cuda where
    it links elsewhere (/opt/cuda), and EM_SANDBOX_SYSTEM's (a colon-separated list, for a
    compiler under /opt)."""
    names = [os.path.realpath("/usr/local/cuda")] if os.path.lexists("/usr/local/cuda") else []
    for var in (*_TOOLCHAIN_VARS, "EM_SANDBOX_SYSTEM"):
        names += [p for p in os.environ.get(var, "").split(":") if p.startswith("/")]
    out: list[str] = []
    for p in names:
        p = os.path.realpath(p)
        if p != "/" and os.path.isdir(p) and p not in out:
            out.append(p)
    return out


def system_view() -> tuple[list[str], list[str]]:
    """bubblewrap's arguments for the machine's part of a run's view (SYSTEM_PATHS, a minimal /dev
    and /proc), and the toolchain directories outside it, to be bound once the private /tmp is
    there."""
    args: list[str] = []
    bound: list[str] = []
    for p in SYSTEM_PATHS:
        if os.path.islink(p):
            # /bin -> usr/bin: the same link inside, so that both spellings work.
            args += ["--symlink", os.readlink(p), p]
        elif os.path.exists(p):
            args += ["--ro-bind", p, p]
            bound.append(p)
    args += ["--dev", "/dev", "--proc", "/proc"]
    extra = [d for d in _toolchain_dirs() if not any(_within(d, b) for b in bound)]
    return args, extra


def _bwrap_argv(workdir: str, tmpfs_bytes: int, rw: Sequence[str] = (), ro: Sequence[str] = (),
                devices: Sequence[str] = ()) -> list[str]:
    """bubblewrap's command line up to the program: the system view, the private /tmp and
    /dev/shm, the run's folders (rw: writable; ro: read-only; outer ones first, so that a
    read-only path inside a writable one stays read-only, and a work folder inside a read-only
    one stays writable), devices; then the root and any mask read-only, since bubblewrap's own
    root is a tmpfs in memory that no size limit covers."""
    size = str(tmpfs_bytes)
    sysargs, extra = system_view()
    cmd = ["bwrap", *sysargs, "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/dev/shm"]
    for d in extra:  # after the private /tmp, which would hide /tmp/emdeps
        cmd += ["--ro-bind", d, d]
    masked = [_CHECKOUT] if any(_within(_CHECKOUT, b) for b in (*SYSTEM_PATHS, *extra)) else []
    for m in masked:
        cmd += ["--tmpfs", m]
    binds = [(r.rstrip("/").count("/"), 0, "--bind", r) for r in rw]
    binds += [(r.rstrip("/").count("/"), 1, "--ro-bind", r) for r in ro]
    for _, _, how, r in sorted(binds):
        cmd += [how, r, r]
    for dev in devices:
        cmd += ["--dev-bind", dev, dev]
    for m in ("/", *masked):
        cmd += ["--remount-ro", m]
    return cmd + ["--unshare-all", "--unshare-user", "--disable-userns",
                  "--die-with-parent", "--new-session", "--chdir", workdir]


def _probe(name: str) -> bool:
    """Runs once per process: does bubblewrap (or an unprivileged network namespace) work here?"""
    with _probe_lock:
        if name not in _probed:
            _probed[name] = _probe_now(name)
        return _probed[name]


def _probe_now(name: str) -> bool:
    uid = _PROBE_UID if _MY_UID == 0 else None
    if name == "bwrap":
        cfg = {"mode": "run", "argv": _bwrap_argv("/", 1 << 20) + ["--", "true"], "netns": False,
               "env": {"PATH": "/usr/bin:/bin"}, "rlimits": [], "no_new_privs": False}
    else:
        cfg = {"mode": "probe", "netns": True}
    try:
        _, said = _run_helper(dict(cfg, uid=uid, gid=uid))
    except (OSError, subprocess.SubprocessError):
        return False
    return ("exit 0" if name == "bwrap" else "netns") in said


def _backend(requested: str | None) -> str:
    want = (requested or os.environ.get("EM_SANDBOX") or "auto").strip().lower()
    if want in ("rlimits", "rlimits+uid", "fallback"):
        return "rlimits"
    if want in ("bwrap", "bubblewrap"):
        if not _probe("bwrap"):
            raise SandboxError("EM_SANDBOX=bwrap but bubblewrap does not run here: "
                               "apt-get install bubblewrap, and allow unprivileged user namespaces")
        return "bwrap"
    if want != "auto":
        raise SandboxError(f"EM_SANDBOX={want!r}: use auto, bwrap or rlimits")
    return "bwrap" if _probe("bwrap") else "rlimits"


def _describe(backend: str, uid: str, gpu: bool, netns: bool, gpu_alone: bool = False) -> str:
    """The isolation a run gets, in words; the weaknesses are named, never implied."""
    weaker = []
    if backend == "bwrap":
        if _MY_UID != 0:
            weaker.append("runs as the grader's own uid, so the process limit counts the grader's "
                          "processes too")
    else:
        weaker.append(f"no read-only view: the run may write wherever {uid} may, "
                      "e.g. /tmp, /var/tmp, /dev/shm, and read every world-readable file of the "
                      "machine (the grader's checkout and its reference solutions included)")
        weaker.append("no private /tmp or pid namespace: the tree is ended by a reaping parent"
                      + (" and by killing every process of its uid" if _MY_UID == 0 else ""))
        if _MY_UID != 0:
            weaker.append("runs as the grader's own uid: it may change the grader's files, "
                          "read-only paths included, and signal the grader's processes, and the "
                          "process limit counts them too")
        weaker.append("network cut by a user+network namespace" if netns else "network open")
    if gpu:
        # gpu_alone: bubblewrap's /dev holds the lent GPU's node and the driver's control nodes
        # only, so CUDA in the run sees that GPU alone (gpus.nodes_of).
        seen = ("only its own GPU's /dev/nvidiaN and the driver's control nodes exposed"
                if gpu_alone and backend == "bwrap" else "/dev/nvidia* exposed")
        weaker.append(f"gpu: {seen}, no address-space or data limit (CUDA reserves huge ranges)")
    name = "bubblewrap" if backend == "bwrap" else "rlimits+uid"
    return f"{name} (weaker: {'; '.join(weaker)})" if weaker else name


def isolation(backend: str | None = None, gpu: bool = False) -> str:
    """What run() will use on this machine, in words."""
    b = _backend(backend)
    return _describe(b, _uid_words(), gpu, b == "rlimits" and _probe("netns"))


def _uid_words() -> str:
    # The same words for every run, so that grading a submission twice gives the same row.
    if _MY_UID == 0:
        return f"its unprivileged uid (one of {UID_BASE}..{UID_BASE + UID_SLOTS - 1})"
    return f"uid {_MY_UID}"


# ---- work directory ownership ---------------------------------------------------------------
def _entries(d: str) -> Iterable[tuple[str, os.stat_result]]:
    """The entries of folder d with their lstat, skipping what cannot be read: a run may leave
    folders it made unreadable, or entries that vanish while they are looked at."""
    try:
        entries = list(os.scandir(d))
    except OSError:
        return
    for e in entries:
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        yield e.path, st


def _walk(root: str) -> Iterable[tuple[str, os.stat_result]]:
    """Every entry under root (root included), without following symlinks.

    Iterative, not os.walk: a run may leave directories nested thousands deep, which would take
    a recursive walk past Python's recursion limit and make run() raise for the child's doing.
    """
    yield root, os.lstat(root)
    stack = [root]
    while stack:
        for path, st in _entries(stack.pop()):
            yield path, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(path)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class _Handover:
    """Gives the writable trees to the run's uid and takes them back afterwards.

    Paths in ro_binds inside a writable tree stay the grader's; their ancestors inside the tree
    stay the grader's too, made group-writable for the run's gid and sticky, so that the run can
    add files next to them but can neither change, rename nor delete them.
    """

    def __init__(self, roots: Sequence[str], ro: Sequence[str], uid: int | None) -> None:
        # uid None: the grader is not root and the run has the grader's uid; nothing changes
        # hands, and take_back() only clears the set-id and write-for-others bits.
        self.roots, self.ro, self.uid = roots, ro, uid
        self.owner: dict[str, tuple[int, int]] = {}
        self.modes: dict[str, int] = {}

    def _protected(self, root: str) -> tuple[set[str], set[str]]:
        keep, sticky = set(), set()
        for r in self.ro:
            if _within(r, root):
                keep.add(r)
                p = os.path.dirname(r)
                while _within(p, root):
                    sticky.add(p)
                    if p == root:
                        break
                    p = os.path.dirname(p)
        return keep, sticky

    def give(self) -> None:
        if self.uid is None:
            self.owner = {root: (os.getuid(), os.getgid()) for root in self.roots}
            return
        for root in self.roots:
            st = os.lstat(root)
            self.owner[root] = (st.st_uid, st.st_gid)
            keep, sticky = self._protected(root)
            for p, s in _walk(root):
                if any(_within(p, k) for k in keep):
                    continue
                if p in sticky:
                    self.modes[p] = stat.S_IMODE(s.st_mode)
                    os.lchown(p, -1, self.uid)
                    os.chmod(p, stat.S_IMODE(s.st_mode) | 0o1070)
                else:
                    os.lchown(p, self.uid, self.uid)

    def take_back(self) -> None:
        # Only what the run's uid owns is taken back, so a hard link to someone else's file
        # changes nothing.  Set-id bits are dropped, so that no program of the run becomes the
        # grader's, and so are write bits for others, so that a later run (another uid) cannot
        # change what this one left.
        for root in self.roots:
            if root not in self.owner:
                continue  # give() failed before this tree: it was never handed over
            uid, gid = self.owner[root]
            for p, s in _walk(root):
                try:
                    if p in self.modes:
                        os.lchown(p, -1, gid)
                        os.chmod(p, self.modes[p])
                    elif self.uid is None or s.st_uid == self.uid or s.st_gid == self.uid:
                        if self.uid is not None:
                            os.lchown(p, uid, gid)
                        mode = stat.S_IMODE(s.st_mode)
                        if not stat.S_ISLNK(s.st_mode) and mode & 0o6022:
                            os.chmod(p, mode & ~(0o6022 if stat.S_ISREG(s.st_mode) else 0o022))
                except OSError:
                    # Not the grader's to change (a non-root grader, another user's file): the
                    # run is over either way, and run() must not fail for what the child left.
                    continue


def _remove_owned(uid: int, dirs: Sequence[str] = ("/tmp", "/var/tmp", "/dev/shm")) -> None:
    """Fallback only: removes what the run's uid left in the shared world-writable directories."""
    import shutil
    for d in dirs:
        for path, st in _entries(d):
            if st.st_uid != uid:
                continue
            try:
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except (OSError, RecursionError):
                continue  # what cannot be removed stays; the run is over either way


def _check_reachable(path: str, uid: int | None) -> None:
    """The run's uid must be able to reach its work directory: every ancestor searchable."""
    if uid is None:
        return
    p = os.path.dirname(path)
    while True:
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            raise SandboxError(f"{path}: the sandbox's unprivileged uid cannot reach it, because "
                               f"{p} is not searchable by others (chmod o+x it, or keep work "
                               "directories under a directory every user may pass through)")
        if p == "/":
            return
        p = os.path.dirname(p)


# ---- running --------------------------------------------------------------------------------
def _default_env(workdir: str) -> dict[str, str]:
    # The grader's environment may hold secrets (a seed, tokens); the run gets none of it.
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": "/tmp",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


# Where the machine keeps its toolchain's libraries and headers, when not in the standard places
# (a conda prefix, libraries unpacked under /opt): without them the compiler cannot find jansson
# and em-archive cannot even load libarchive. They name places, not secrets, so every run gets the
# grader's values unless its env sets them itself.
_TOOLCHAIN_VARS = ("LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "PKG_CONFIG_PATH")


def _with_toolchain(env: dict[str, str]) -> dict[str, str]:
    return {**{k: os.environ[k] for k in _TOOLCHAIN_VARS if os.environ.get(k)}, **env}


def _rlimits(limits: Limits, gpu: bool, extra_processes: int) -> list[tuple[str, int]]:
    out = [("RLIMIT_CPU", max(1, int(limits.cpu_s + 0.999))),
           ("RLIMIT_NPROC", limits.processes + extra_processes),
           ("RLIMIT_FSIZE", limits.file_bytes),
           ("RLIMIT_NOFILE", limits.open_files),
           ("RLIMIT_CORE", 0)]
    if not gpu:
        out += [("RLIMIT_AS", limits.memory_bytes), ("RLIMIT_DATA", limits.memory_bytes)]
    return out


class _Tail:
    """Keeps the last CAPTURE_BYTES of a stream."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.buf += chunk
        if len(self.buf) > 2 * CAPTURE_BYTES:
            cut = len(self.buf) - CAPTURE_BYTES
            self.dropped += cut
            del self.buf[:cut]

    def value(self) -> bytes:
        return bytes(self.buf[-CAPTURE_BYTES:])


def run(argv: Sequence[str], *, workdir: PathLike, writable: Sequence[PathLike] = (),
        limits: Limits = Limits(), gpu: bool = False, env: dict[str, str] | None = None,
        ro_binds: Sequence[PathLike] = (), stdin: bytes | int | IO[bytes] | None = None,
        backend: str | None = None, gpu_nodes: Sequence[str] | None = None) -> Result:
    """Runs argv in workdir under limits and returns how it ended; never raises for the child.

    workdir and the writable directories are the only places the run may write; ro_binds are
    what else it reads (under bubblewrap nothing of the machine is there but the system view,
    system_view(), and these), and stay read-only even inside the writable ones.  env is the
    child's whole environment (None: a minimal one, none of the grader's), plus the grader's
    library and header search paths (_TOOLCHAIN_VARS) where env does not set them.  stdin is
    bytes to feed, a file descriptor or file, or None for /dev/null.  backend ("bwrap" /
    "rlimits") overrides EM_SANDBOX.  gpu: the GPU's device nodes are there, every /dev/nvidia*,
    or under bubblewrap only gpu_nodes where given (gpus.nodes_of: one GPU and the control nodes).
    """
    if not argv:
        raise SandboxError("run() needs a program")
    wd = os.path.realpath(workdir)
    if not os.path.isdir(wd):
        raise SandboxError(f"work directory {workdir} does not exist")
    roots = [wd]
    for w in writable:
        p = os.path.realpath(w)
        if not os.path.isdir(p):
            raise SandboxError(f"writable directory {w} does not exist")
        roots.append(p)
    ro = []
    for r in ro_binds:
        p = os.path.realpath(r)
        if not os.path.exists(p):
            raise SandboxError(f"read-only path {r} does not exist")
        ro.append(p)
    b = _backend(backend)
    if _MY_UID == 0:
        with _UidSlot() as slot:
            return _run_as(argv, wd, roots, ro, limits, gpu, env, stdin, b, slot.uid, gpu_nodes)
    return _run_as(argv, wd, roots, ro, limits, gpu, env, stdin, b, None, gpu_nodes)


def _run_as(argv: Sequence[str], wd: str, roots: list[str], ro: list[str], limits: Limits,
            gpu: bool, env: dict[str, str] | None, stdin: bytes | int | IO[bytes] | None,
            backend: str, uid: int | None, gpu_nodes: Sequence[str] | None = None) -> Result:
    for r in (*roots, *ro):
        _check_reachable(r, uid)
    child_env = _with_toolchain(dict(env) if env is not None else _default_env(wd))
    netns = False
    if backend == "bwrap":
        devices = (list(gpu_nodes) if gpu_nodes else sorted(glob.glob("/dev/nvidia*"))) if gpu else []
        cmd = [*_bwrap_argv(wd, min(_BWRAP_TMPFS_BYTES, limits.file_bytes), roots, ro, devices),
               "--", *argv]
        extra = _BWRAP_OWN_PROCESSES
    else:
        cmd = list(argv)
        netns = _probe("netns")
        extra = 0
    iso = _describe(backend, _uid_words(), gpu, netns, bool(gpu_nodes))
    notes: list[str] = []
    handover = _Handover(roots, ro, uid)
    if uid is not None:
        _sweep_uid(uid, only_if_needed=True)  # a grader killed mid-run may have left some
    try:
        handover.give()
        res = _spawn_and_watch(cmd, wd, child_env, stdin, limits, gpu, backend, uid, netns, extra,
                               iso, notes)
    finally:
        if uid is not None:
            # The helper has reaped its whole tree by now; this only makes sure of it.
            _sweep_uid(uid, only_if_needed=True)
            if backend == "rlimits":
                _remove_owned(uid)
        handover.take_back()
    return res


def _spawn_and_watch(cmd: list[str], wd: str, env: dict[str, str],
                     stdin: bytes | int | IO[bytes] | None, limits: Limits, gpu: bool,
                     backend: str, uid: int | None, netns: bool, extra: int, iso: str,
                     notes: list[str]) -> Result:
    cfg = {"mode": "run", "argv": cmd, "env": env, "uid": uid, "gid": uid, "netns": netns,
           "rlimits": _rlimits(limits, gpu, extra), "no_new_privs": backend == "rlimits"}
    feed: bytes | None = None
    if stdin is None:
        stdin_arg: object = subprocess.DEVNULL
    elif isinstance(stdin, (bytes, bytearray)):
        stdin_arg, feed = subprocess.PIPE, bytes(stdin)
    else:
        stdin_arg = stdin
    start = time.monotonic()
    proc, status_fd = _spawn_helper(cfg, stdin=stdin_arg, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=wd)
    pidfd = -1
    try:
        pidfd = os.pidfd_open(proc.pid)
        watch = _Watch(proc, pidfd, status_fd, start, feed, limits, uid, notes)
        watch.run()
        return _result(watch, limits, backend, gpu, netns, iso)
    finally:
        if proc.returncode is None:
            # Only reached when the grader itself failed mid-run: leave nothing running.
            _stop(proc, pidfd)
        for fd in (pidfd, status_fd):
            if fd >= 0:
                os.close(fd)
        for f in (proc.stdin, proc.stdout, proc.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass


def _stop(proc: subprocess.Popen, pidfd: int) -> None:
    """Kills the helper (the tree goes with it: bubblewrap dies with its parent) and reaps it."""
    try:
        if pidfd >= 0:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass
    os.waitpid(proc.pid, 0)
    proc.returncode = -signal.SIGKILL


# ---- watching a run -------------------------------------------------------------------------
class _Watch:
    """One run as the grader sees it, from the helper's start until it has reaped the whole tree:
    the streams' tails, the stdin still to feed, what the helper said, the program's status.

    run() repeats one round until the helper is reaped and the streams are closed: the wall
    limit (_on_deadline), the escalation when the tree will not end (_on_stuck), and one poll of
    the pipes (_poll), which reaps the helper when it exits (_reap_helper)."""

    def __init__(self, proc: subprocess.Popen, pidfd: int, status_fd: int, start: float,
                 feed: bytes | None, limits: Limits, uid: int | None, notes: list[str]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc, self.pidfd, self.status_fd, self.uid, self.notes = proc, pidfd, status_fd, uid, notes
        self.start, self.deadline = start, start + limits.wall_s
        self.out_fd, self.err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        self.tails = {self.out_fd: _Tail(), self.err_fd: _Tail()}
        self.open_streams = set(self.tails)
        self.poller = select.poll()
        for fd in (*self.tails, status_fd):
            os.set_blocking(fd, False)
            self.poller.register(fd, select.POLLIN)
        self.poller.register(pidfd, select.POLLIN)
        self.feed, self.in_fd = feed, -1
        if feed is not None and proc.stdin is not None:
            self.in_fd = proc.stdin.fileno()
            os.set_blocking(self.in_fd, False)
            self.poller.register(self.in_fd, select.POLLOUT)
        self.said = b""
        self.main_status: int | None = None  # the program's wait status, once the helper says it
        self.main_end = 0.0
        self.timed_out = False
        self.stop_at = 0.0  # when the helper, asked to end the tree, is killed if it has not
        self.helper: tuple[int, int, resource.struct_rusage] | None = None  # its wait4()
        self.give_up = 0.0  # when, the helper gone, the streams are no longer waited for

    def run(self) -> None:
        while True:
            now = time.monotonic()
            self._on_deadline(now)
            self._on_stuck(now)
            if self.helper is not None and (not self.open_streams or now >= self.give_up):
                break
            self._poll(self._wait_s(now))
        self._drain_status()

    def _on_deadline(self, now: float) -> None:
        """The wall limit: the helper kills the program and everything under it, and the uid
        sweep catches whatever escaped the helper's tree."""
        if self.main_status is not None or self.timed_out or now < self.deadline:
            return
        self.timed_out, self.stop_at = True, now + 5
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if self.uid is not None:
            _sweep_uid(self.uid)

    def _on_stuck(self, now: float) -> None:
        """A process that will not die (stuck in the kernel) must not hang the grader."""
        if not self.stop_at or self.helper is not None or now <= self.stop_at:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.uid is not None:
            _sweep_uid(self.uid)
        self.notes.append("the tree did not end within seconds of the program's end or the wall "
                          "limit: its helper was killed")
        self.stop_at = 0.0

    def _wait_s(self, now: float) -> float:
        if self.helper is not None:
            return self.give_up - now
        if self.main_status is None and not self.timed_out:
            return self.deadline - now
        return 1.0

    def _poll(self, wait_s: float) -> None:
        """Waits (a second at most) for the pipes or the helper's end, and serves what is ready."""
        for fd, _ev in self.poller.poll(max(0.0, min(wait_s, 1.0)) * 1000):
            if fd == self.pidfd:
                self._reap_helper()
            elif fd == self.status_fd:
                self._read_status()
            elif fd == self.in_fd:
                self._feed_stdin()
            else:
                self._read_stream(fd)

    def _reap_helper(self) -> None:
        self.poller.unregister(self.pidfd)
        self.helper = os.wait4(self.proc.pid, 0)
        self.proc.returncode = self.helper[1]  # so that Popen never waits on a reused pid
        self.give_up = time.monotonic() + 2.0

    def _read_status(self) -> None:
        try:
            chunk = os.read(self.status_fd, 4096)
        except BlockingIOError:
            return
        if not chunk:
            self.poller.unregister(self.status_fd)
            return
        self.said += chunk
        for line in self.said.decode(errors="replace").splitlines():
            if line.startswith("exit ") and self.main_status is None:
                self.main_status, self.main_end = int(line[5:]), time.monotonic()
                self.stop_at = self.main_end + 10

    def _feed_stdin(self) -> None:
        assert self.feed is not None and self.proc.stdin is not None
        try:
            n = os.write(self.in_fd, self.feed[:65536])
            self.feed = self.feed[n:]
        except BlockingIOError:
            pass
        except OSError:
            self.feed = b""
        if not self.feed:
            self.poller.unregister(self.in_fd)
            self.proc.stdin.close()
            self.in_fd = -1

    def _read_stream(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if chunk:
            self.tails[fd].add(chunk)
        else:
            self.poller.unregister(fd)
            self.open_streams.discard(fd)

    def _drain_status(self) -> None:
        """The helper has exited: what it said last may still sit in the pipe, unread."""
        while True:
            try:
                chunk = os.read(self.status_fd, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            self.said += chunk
        for line in self.lines():
            if line.startswith("exit ") and self.main_status is None:
                self.main_status = int(line[5:])

    def lines(self) -> list[str]:
        return self.said.decode(errors="replace").splitlines()


# ---- what a run came to ---------------------------------------------------------------------
def _result(w: _Watch, limits: Limits, backend: str, gpu: bool, netns: bool, iso: str) -> Result:
    """The Result of a watched run; raises SandboxError when the helper could not set it up."""
    lines = w.lines()
    errors = [line[6:] for line in lines if line.startswith("error ")]
    if errors:
        raise SandboxError(f"the sandbox could not set up the run: {errors[0]}")
    notes = w.notes
    if backend == "rlimits" and netns and "netns" not in lines:
        iso = _describe(backend, _uid_words(), gpu, False)
        notes.append("the network namespace could not be made for this run: network open")
    if w.open_streams:
        notes.append("a process outside the sandbox's reach kept the output open; "
                     "capture cut short")
    assert w.helper is not None
    wall = (w.main_end or time.monotonic()) - w.start
    ru = w.helper[2]
    cpu = ru.ru_utime + ru.ru_stime
    out, err = w.tails[w.out_fd], w.tails[w.err_fd]
    for label, t in (("stdout", out), ("stderr", err)):
        if t.dropped:
            notes.append(f"{label}: {t.dropped + len(t.buf) - len(t.value())} bytes dropped, "
                         f"the last {len(t.value())} kept")
    res = Result(outcome="exited", returncode=None, signal=None, limit=None, wall_s=round(wall, 3),
                 cpu_s=round(cpu, 3), stdout=out.value(), stderr=err.value(), isolation=iso,
                 notes=notes, max_rss_bytes=ru.ru_maxrss * 1024)
    if w.timed_out:
        res.outcome = "timeout"
    elif w.main_status is None:
        # The helper died without a word about the program: only an outside kill does that.
        res.outcome = "signaled"
        res.signal = -w.helper[1] if os.WIFSIGNALED(w.helper[1]) else None
        notes.append("the sandbox's helper ended before the program's status was known")
    else:
        _classify(res, w.main_status, backend, limits, bytes(err.buf), cpu)
    return res


def _classify(res: Result, main_status: int, backend: str, limits: Limits, stderr: bytes,
              cpu: float) -> None:
    """Sets res's outcome from the program's wait status: exited, signaled, or the limit that
    the signal stands for (stderr: what the program's stderr kept, for the memory messages)."""
    sig = None
    if os.WIFSIGNALED(main_status):
        sig = os.WTERMSIG(main_status)
    else:
        code = os.WEXITSTATUS(main_status)
        # bubblewrap reports a program killed by signal N as its own exit status 128 + N.  A
        # program that exits with 128 + N on purpose reads as signaled: that can only fail it.
        if backend == "bwrap" and 128 < code < 128 + 65:
            sig = code - 128
        else:
            res.returncode = code
    if sig is None:
        return
    res.outcome, res.signal = "signaled", sig
    memory_hint = any(m in stderr.lower() for m in _MEMORY_MESSAGES)
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_s - 0.05):
        res.outcome, res.limit = "limit", "cpu"
    elif sig == signal.SIGXFSZ:
        res.outcome, res.limit = "limit", "file-size"
    elif sig in (signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT) and (
            memory_hint or res.max_rss_bytes >= 0.75 * limits.memory_bytes):
        res.outcome, res.limit = "limit", "memory"
