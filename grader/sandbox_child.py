"""The sandbox's helper: the process that stands between the grader and one untrusted program.

grader/sandbox.py starts it by its absolute path, ``python3 -I -S sandbox_child.py CONFIG``, as a
fresh, single-threaded Python (Popen's preexec_fn is unsafe in a threaded grader: the forked child
may deadlock on a lock another thread held).  It runs as the grader's uid, outside any bubblewrap
view (it is what starts bubblewrap), so it reads this file the way the grader reads its own
modules; ``-I`` keeps its folder, the user's site and PYTHON* variables off its path.  Standard
library only, and nothing of the grader imported: it must not depend on what the grader's folder
holds beside it.

CONFIG is a JSON object: ``mode`` ("run", "sweep" or "probe"), ``status_fd`` (the write end of the
status pipe), ``ppid`` (the grader's pid), ``uid``/``gid`` (None: keep the grader's), ``netns``,
and for "run" ``argv``, ``env``, ``rlimits`` ([name, value] pairs) and ``no_new_privs``.

In "run" mode it stays as the parent and child subreaper of the whole tree: its child takes the
unprivileged uid, the network namespace and the rlimits and execs the program (or bubblewrap);
every descendant that loses its parent is reparented to the helper, which reaps it, so nothing is
left as a zombie of the run's uid (zombies count against the next run's process limit) and the
tree's CPU time adds up in the helper's rusage.  It speaks on the status pipe: "error ..." (set-up
failed: the grader's problem), "netns" / "no-netns ...", "child PID", and "exit STATUS" when the
program itself ends.  SIGTERM from the grader (the wall limit), like the program's own end, makes
it kill every descendant that is left; it exits when none is.

"sweep" takes a uid and kills every process of it; "probe" only tries to take the uid and the
network namespace, and says whether that worked.
"""

import json
import os
import resource
import signal
import sys

# Everything the helper's child needs is imported now: once it has the unprivileged uid it may no
# longer read the grader's Python library (a pyenv under /root, say).
import ctypes
import warnings

_IMPORTED_BEFORE_THE_UID_CHANGES = (ctypes, warnings)

# prctl(2) options and unshare(2) flags (linux/prctl.h, linux/sched.h).
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

# The helper's own exit status when the set-up failed (the grader reads "error ..." first), and
# the child's when the program could not be started (as a shell says it).
SETUP_FAILED = 125
CANNOT_RUN = 127


class Status:
    """The status pipe to the grader: one line per report, never an error if the grader is gone."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def say(self, message: str) -> None:
        try:
            os.write(self.fd, (message + "\n").encode())
        except OSError:
            pass


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def become(status: Status, uid, gid, netns: bool) -> ctypes.CDLL:
    """Takes uid and gid (None: keeps the grader's) and, with netns, a user+network namespace of
    its own (reported as "netns", or "no-netns WHY" where the kernel refuses one)."""
    libc = _libc()
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    if netns:
        # A process that changed its uid is not dumpable, which makes /proc/self/*_map root's;
        # and inside the new namespace the ids read as the overflow id until mapped.
        libc.prctl(PR_SET_DUMPABLE, 1)
        u, g = os.getuid(), os.getgid()
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
            maps = (("setgroups", "deny"), ("uid_map", f"{u} {u} 1"), ("gid_map", f"{g} {g} 1"))
            for name, text in maps:
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
            status.say("netns")
        else:
            status.say("no-netns " + os.strerror(ctypes.get_errno()))
    return libc


def sweep_or_probe(cfg: dict, status: Status) -> None:
    """Takes the configured uid (and namespace); a sweep then kills every process of that uid."""
    try:
        become(status, cfg["uid"], cfg["gid"], cfg["netns"])
    except BaseException as e:
        status.say("error " + repr(e))
        os._exit(SETUP_FAILED)
    if cfg["mode"] == "sweep":
        # Kill every process of this uid (kill(-1) spares the caller) until none is left.
        for _ in range(1000):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                break
    os._exit(0)


def limit_pair(name: str, value: int, hard: int) -> tuple[int, int]:
    """The (soft, hard) pair that sets rlimit name to value under the current hard limit: never
    above it (an unprivileged process cannot raise it).  CPU: SIGXCPU at the limit (told apart as
    "cpu"), SIGKILL a second later."""
    if hard != resource.RLIM_INFINITY and value > hard:
        value = hard
    hard_value = value + 1 if name == "RLIMIT_CPU" else value
    if hard != resource.RLIM_INFINITY:
        hard_value = min(hard_value, hard)
    return value, hard_value


def _confine(cfg: dict, status: Status, helper: int) -> None:
    """In the helper's child, before the exec: the session, the uid, the rlimits."""
    os.setsid()
    libc = become(status, cfg["uid"], cfg["gid"], cfg["netns"])
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a change of uid clears it
    if cfg["no_new_privs"]:
        # Without it a set-uid-root program on the machine (su, mount, ...) would hand the run
        # root again.  bubblewrap sets it for the program itself.
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if os.getppid() != helper:
        os._exit(SETUP_FAILED)  # the helper, and so the grader, is gone already
    os.set_inheritable(status.fd, False)
    # Python ignores SIGPIPE and SIGXFSZ, and ignored signals survive exec: restore them, so that
    # a write past the file-size limit kills the program as it would anywhere else.
    for s in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(s, signal.SIG_DFL)
    for name, value in cfg["rlimits"]:
        which = getattr(resource, name)
        resource.setrlimit(which, limit_pair(name, value, resource.getrlimit(which)[1]))


def exec_program(cfg: dict, status: Status, helper: int) -> None:
    """The helper's child: confined, it becomes the program; it never returns."""
    try:
        _confine(cfg, status, helper)
    except BaseException as e:
        status.say("error " + repr(e))
        os._exit(SETUP_FAILED)
    argv = cfg["argv"]
    try:
        os.execvpe(argv[0], argv, cfg["env"])
    except BaseException as e:
        why = getattr(e, "strerror", None) or repr(e)
        os.write(2, f"sandbox: cannot run {argv[0]}: {why}\n".encode())
    os._exit(CANNOT_RUN)


def children_of(pid: int) -> list[str]:
    """The pids of pid's children: the kernel's own list where it keeps one
    (CONFIG_PROC_CHILDREN), else a scan of /proc."""
    me = str(pid)
    try:
        with open(f"/proc/{me}/task/{me}/children") as f:
            return f.read().split()
    except OSError:
        pass
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[1] == me:
                    children.append(entry)
        except (OSError, IndexError):
            continue
    return children


class Reaper:
    """The helper as the tree's subreaper: reaps every process of the tree, reports the program's
    own end, and once the program has ended (or the grader asked, by SIGTERM) kills what is left."""

    def __init__(self, pid: int, status: Status) -> None:
        self.pid = pid
        self.status = status
        self.main = os.pidfd_open(pid)
        self.main_alive = True
        self.ending = False

    def kill_descendants(self) -> None:
        # Our children are the program (until it ends) and every orphan of the tree; killing them
        # orphans their own children onto us, and each reap repeats this until none is left.
        for child in children_of(os.getpid()):
            try:
                os.kill(int(child), signal.SIGKILL)
            except OSError:
                pass

    def on_term(self, signum, frame) -> None:
        self.ending = True
        try:
            signal.pidfd_send_signal(self.main, signal.SIGKILL)
        except OSError:
            pass
        self.kill_descendants()

    def reaped(self, pid: int, wait_status: int) -> None:
        if pid == self.pid:
            self.main_alive = False
            self.status.say(f"exit {wait_status}")

    def loop(self) -> None:
        """Reaps until the helper has no child left."""
        flags = 0
        while True:
            try:
                p, ws = os.waitpid(-1, flags)
            except ChildProcessError:
                return
            if p:
                self.reaped(p, ws)
            if self.ending or not self.main_alive:
                # Reap what is already dead before the next round of kills, which orphans their
                # children onto us; block only when nothing is ready.
                if p:
                    flags = os.WNOHANG
                    continue
                self.kill_descendants()
                flags = 0


def supervise(cfg: dict, status: Status) -> None:
    """"run" mode: starts the program as a child and stays as the subreaper of its tree."""
    libc = _libc()
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the helper dies with the grader
    if os.getppid() != cfg["ppid"]:
        os._exit(SETUP_FAILED)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    helper = os.getpid()
    pid = os.fork()
    if pid == 0:
        exec_program(cfg, status, helper)
    # Only the program and the tree hold the standard streams: their end is the tree's end.
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    reaper = Reaper(pid, status)
    signal.signal(signal.SIGTERM, reaper.on_term)
    status.say(f"child {pid}")
    reaper.loop()
    os._exit(0)


def main(argv: list[str]) -> None:
    cfg = json.loads(argv[1])
    status = Status(cfg["status_fd"])
    if cfg["mode"] in ("sweep", "probe"):
        sweep_or_probe(cfg, status)
    supervise(cfg, status)


if __name__ == "__main__":
    main(sys.argv)
