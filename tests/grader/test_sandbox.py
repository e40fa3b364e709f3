"""Tests of grader/sandbox.py against hostile programs, over both backends.

Every program is C source written here and compiled with gcc at test time (no binary blobs).
The hostile ones are bounded by themselves (the fork storm stops after 3000 children, the writer
after 256 MiB), so that a broken sandbox fails a test instead of taking the machine down.  No
outcome races a clock against the machine's speed: a limit under test is one the program reaches
by what it does (bytes, CPU seconds, processes), and the wall limit of a run that must end by
itself is far beyond what it needs on a slow or busy machine.  A
process left behind is found by scanning /proc for command lines under this run's own temporary
directory, so that other sandboxes running on the machine at the same time do not disturb it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from grader import sandbox, sandbox_child  # noqa: E402
from grader.sandbox import Limits, SandboxError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

AS_ROOT = os.getuid() == 0

PROGRAMS = {
    # Sleeps forever, with a child in a session of its own, so that only a tree kill ends both.
    "hang": r"""
        #include <unistd.h>
        int main(void) {
            if (fork() == 0) { setsid(); for (;;) pause(); }
            for (;;) pause();
        }""",
    # Forks children that stay alive; stops at 3000 whatever happens and reports the count.
    "forkstorm": r"""
        #include <stdio.h>
        #include <unistd.h>
        int main(void) {
            int n = 0;
            for (int i = 0; i < 3000; i++) {
                pid_t p = fork();
                if (p == 0) { for (;;) pause(); }
                if (p < 0) break;
                n++;
            }
            FILE *f = fopen("forks.txt", "w");
            if (f) { fprintf(f, "%d\n", n); fclose(f); }
            return 0;
        }""",
    # Allocates and touches memory without end, never checking malloc.
    "alloc": r"""
        #include <stdlib.h>
        #include <string.h>
        int main(void) {
            for (;;) { char *p = malloc(1 << 20); memset(p, 1, 1 << 20); }
        }""",
    # Allocates without end but checks, reports and exits as a careful program would.
    "alloc_checked": r"""
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        int main(void) {
            for (;;) {
                char *p = malloc(1 << 20);
                if (!p) { perror("malloc"); return 3; }
                memset(p, 1, 1 << 20);
            }
        }""",
    # Writes 256 MiB to a file in its directory (16 times the file-size limit of FAST).
    "bigwrite": r"""
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        int main(void) {
            static char buf[1 << 20];
            memset(buf, 'x', sizeof buf);
            FILE *f = fopen("big.bin", "wb");
            if (!f) return 2;
            for (int i = 0; i < 256; i++)
                if (fwrite(buf, 1, sizeof buf, f) != sizeof buf) return 4;
            return fclose(f) ? 5 : 0;
        }""",
    "segv": r"""
        int main(void) { *(volatile int *)0 = 1; return 0; }""",
    # Tries to create each path given; writes "path ok" or "path errno" lines to escape.txt.
    "escape": r"""
        #include <errno.h>
        #include <fcntl.h>
        #include <stdio.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            FILE *out = fopen("escape.txt", "w");
            if (!out) return 2;
            for (int i = 1; i < argc; i++) {
                int fd = open(argv[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd >= 0) {
                    (void)!write(fd, "pwned\n", 6);
                    close(fd);
                    fprintf(out, "%s ok\n", argv[i]);
                }
                else fprintf(out, "%s %d\n", argv[i], errno);
            }
            return fclose(out);
        }""",
    # Connects to 127.0.0.1:argv[1]; prints "connected" or "failed".
    "net": r"""
        #include <arpa/inet.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <sys/socket.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            if (argc < 2) return 2;
            int s = socket(AF_INET, SOCK_STREAM, 0);
            if (s < 0) { puts("failed"); return 0; }
            struct sockaddr_in a = {0};
            a.sin_family = AF_INET;
            a.sin_port = htons((unsigned short)atoi(argv[1]));
            a.sin_addr.s_addr = htonl(0x7f000001);
            puts(connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? "connected" : "failed");
            close(s);
            return 0;
        }""",
    "cpuburn": r"""
        int main(void) { volatile unsigned long x = 0; for (;;) x++; }""",
    # Two threads, each computing until its own CPU clock reads 0.4 s: 0.8 s of CPU time
    # whatever the machine's load (a busy machine only stretches the wall time).
    "threads": r"""
        #include <pthread.h>
        #include <time.h>
        static void *burn(void *arg) {
            struct timespec t;
            volatile unsigned long x = 0;
            do { for (int i = 0; i < 100000; i++) x++; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); }
            while (t.tv_sec + t.tv_nsec * 1e-9 < 0.4);
            return arg;
        }
        int main(void) {
            pthread_t a, b;
            if (pthread_create(&a, 0, burn, 0) || pthread_create(&b, 0, burn, 0)) return 2;
            pthread_join(a, 0);
            pthread_join(b, 0);
            return 0;
        }""",
    # 64 MiB of 'a' on stdout (a thousand times what a Result keeps), then a recognisable end.
    "bigout": r"""
        #include <stdio.h>
        #include <string.h>
        int main(void) {
            static char buf[1 << 16];
            memset(buf, 'a', sizeof buf);
            for (int i = 0; i < 1024; i++) fwrite(buf, 1, sizeof buf, stdout);
            fputs("END\n", stdout);
            return 0;
        }""",
    # Double fork: the grandchild leaves the session and outlives its parent, which exits 0.
    "daemon": r"""
        #include <stdio.h>
        #include <unistd.h>
        int main(void) {
            pid_t p = fork();
            if (p == 0) {
                setsid();
                if (fork() == 0) { for (;;) pause(); }
                _exit(0);
            }
            puts("parent done");
            return 0;
        }""",
    # Prints its working directory and the file named by argv[1].
    "reader": r"""
        #include <stdio.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            char cwd[4096];
            if (!getcwd(cwd, sizeof cwd)) return 2;
            printf("cwd=%s\n", cwd);
            if (argc > 1) {
                FILE *f = fopen(argv[1], "r");
                if (!f) { perror(argv[1]); return 3; }
                int c;
                while ((c = fgetc(f)) != EOF) putchar(c);
                fclose(f);
            }
            return 0;
        }""",
    # Prints its effective uid: installed set-uid root, it must still not be root in a run.
    "euid": r"""
        #include <stdio.h>
        #include <unistd.h>
        int main(void) { printf("%d\n", (int)geteuid()); return 0; }""",
    # Tries to change, rename and delete argv[1], then creates new.txt next to it.
    "tamper": r"""
        #include <stdio.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            if (argc < 2) return 2;
            FILE *f = fopen(argv[1], "w");
            printf("write %s\n", f ? "ok" : "failed");
            if (f) { fputs("tampered\n", f); fclose(f); }
            printf("rename %s\n", rename(argv[1], "moved.txt") == 0 ? "ok" : "failed");
            printf("unlink %s\n", unlink(argv[1]) == 0 ? "ok" : "failed");
            FILE *g = fopen("new.txt", "w");
            printf("create %s\n", g ? "ok" : "failed");
            if (g) fclose(g);
            return 0;
        }""",
}


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    """A directory every uid may pass through, on disk (bubblewrap's private /tmp hides /tmp)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the hostile programs")
    d = Path(tempfile.mkdtemp(prefix="emlab-sandbox-test-", dir="/var/tmp"))
    d.chmod(0o755)
    (d / "bin").mkdir(mode=0o755)
    for name, source in PROGRAMS.items():
        src = d / "bin" / f"{name}.c"
        src.write_text(source)
        subprocess.run(["gcc", "-O1", "-pthread", "-o", str(d / "bin" / name), str(src)], check=True,
                       capture_output=True)
    (d / "data").mkdir(mode=0o755)
    (d / "data" / "input.txt").write_text("outside data\n")
    (d / "data").joinpath("input.txt").chmod(0o644)
    (d / "outside").mkdir(mode=0o755)
    yield d
    _kill_leftovers(d)
    _remove(d)


def _remove(path: Path) -> None:
    """rm -rf: shutil.rmtree recurses, and a run may leave directories nested too deep for it."""
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def _live(marker: Path) -> list[int]:
    """Processes (zombies aside) whose command line names a path under marker."""
    found = []
    needle = str(marker).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmd and state not in ("Z", "X"):
            found.append(int(entry))
    return found


def _left_behind(marker: Path, wait_s: float = 20.0) -> list[int]:
    """Processes still alive after a while: SIGKILLed ones need a moment to go, longer on a busy
    machine (a sandbox that works returns none at once)."""
    end = time.monotonic() + wait_s
    while True:
        pids = _live(marker)
        if not pids or time.monotonic() > end:
            return pids
        time.sleep(0.05)


def _kill_leftovers(marker: Path) -> None:
    for pid in _live(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture(params=["bwrap", "rlimits"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "bwrap":
        try:
            sandbox.isolation("bwrap")
        except SandboxError as e:
            pytest.skip(f"bubblewrap does not run here: {e}")
    return request.param


@pytest.fixture
def work(base: Path) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="work-", dir=base))
    d.chmod(0o755)
    yield d
    _remove(d)


def prog(base: Path, name: str) -> str:
    return str(base / "bin" / name)


def run_bin(base: Path, argv: list, ro_binds=(), **kw) -> sandbox.Result:
    """sandbox.run of a program of base/bin: under bubblewrap a run sees only the machine's
    toolchain and what it is given, so the folder of the programs is given."""
    return sandbox.run(argv, ro_binds=[base / "bin", *ro_binds], **kw)


# Small limits that a program under test reaches quickly by what it does; the wall limit is only
# a safety net for programs that must end by themselves, far beyond what they need.
FAST = Limits(wall_s=60, cpu_s=10, memory_bytes=256 << 20, processes=64, file_bytes=16 << 20)


def test_happy_path(base: Path, work: Path, backend: str) -> None:
    t = time.monotonic()
    r = run_bin(base, [prog(base, "reader")], workdir=work, backend=backend, limits=FAST)
    elapsed = time.monotonic() - t
    assert (r.outcome, r.returncode, r.signal, r.limit) == ("exited", 0, None, None)
    assert r.stdout == f"cwd={work}\n".encode()
    assert r.isolation == sandbox.isolation(backend)
    # Measured, and within the call: CPU seconds do not grow with the machine's load.
    assert 0 <= r.cpu_s < 5 and 0 < r.wall_s <= elapsed


def test_sees_only_the_system_and_what_it_is_given(base: Path, work: Path, backend: str) -> None:
    data = str(base / "data" / "input.txt")
    r = run_bin(base, [prog(base, "reader"), data], workdir=work, backend=backend, limits=FAST,
                ro_binds=[base / "data"])
    assert (r.outcome, r.returncode) == ("exited", 0), r.stderr
    assert r.stdout.endswith(b"outside data\n")
    # Not given: under bubblewrap not there at all (the grader's checkout with the reference
    # solutions, a file beside the run's folder, /etc/passwd); the fallback says it cannot hide them.
    secrets = [data, str(REPO / "reference" / "cpu" / "add.c"), "/etc/passwd", sandbox._CHILD_PATH]
    for path in secrets:
        r = run_bin(base, [prog(base, "reader"), path], workdir=work, backend=backend, limits=FAST)
        if backend == "bwrap":
            assert (r.outcome, r.returncode) == ("exited", 3) and b"No such file" in r.stderr, (path, r)
        else:
            assert "read every world-readable file" in r.isolation
    # The toolchain is there: a compiler and what it needs to build and run a program.
    src = work / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("built"); return 0; }\n')
    r = sandbox.run(["sh", "-c", "cc -O1 -o hello hello.c -lm && ./hello"], workdir=work,
                    backend=backend, limits=Limits(wall_s=120, cpu_s=60, memory_bytes=2 << 30))
    assert (r.outcome, r.returncode, r.stdout) == ("exited", 0, b"built\n"), r


def test_stdin_bytes_and_env(base: Path, work: Path, backend: str) -> None:
    data = os.urandom(200 << 10)
    r = sandbox.run(["cat"], workdir=work, backend=backend, limits=FAST, stdin=data)
    assert (r.outcome, r.returncode) == ("exited", 0)
    assert r.stdout == data[-sandbox.CAPTURE_BYTES:]
    # The grader's environment never reaches the run unless passed on purpose.
    os.environ["EMLAB_SECRET_FOR_TEST"] = "s3cret"
    try:
        r = sandbox.run(["env"], workdir=work, backend=backend, limits=FAST)
        assert b"s3cret" not in r.stdout and f"HOME={work}".encode() in r.stdout
        r = sandbox.run(["env"], workdir=work, backend=backend, limits=FAST, env={"A": "b"})
        # bubblewrap's --chdir adds PWD, and the grader's library and header search paths pass
        # (a toolchain outside the standard places); nothing else is added.
        passed = {f"{k}={os.environ[k]}".encode() for k in sandbox._TOOLCHAIN_VARS if os.environ.get(k)}
        assert set(r.stdout.splitlines()) - {f"PWD={work}".encode()} == {b"A=b"} | passed
    finally:
        del os.environ["EMLAB_SECRET_FOR_TEST"]


def test_toolchain_paths_pass_unless_set(work: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Libraries unpacked outside the standard places (the GPU machine's /tmp/emdeps) must still load.
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/emlab-test/lib")
    r = sandbox.run(["env"], workdir=work, backend=backend, limits=FAST)
    assert b"LD_LIBRARY_PATH=/opt/emlab-test/lib" in r.stdout.splitlines()
    r = sandbox.run(["env"], workdir=work, backend=backend, limits=FAST, env={"LD_LIBRARY_PATH": "/x"})
    assert b"LD_LIBRARY_PATH=/x" in r.stdout.splitlines()


def test_hang_is_killed_with_its_whole_tree(base: Path, work: Path, backend: str) -> None:
    t = time.monotonic()
    r = run_bin(base, [prog(base, "hang")], workdir=work, backend=backend,
                    limits=Limits(wall_s=1.0))
    assert r.outcome == "timeout"
    # Killed at the limit by the helper itself (the grader's escalation, seconds later, leaves a
    # note); the bound on the whole call is loose, for a busy machine's set-up and teardown.
    assert r.wall_s >= 1.0 and not any("did not end" in n for n in r.notes), r
    assert time.monotonic() - t < 60
    assert _left_behind(base / "bin" / "hang") == []


def test_fork_storm_is_bounded(base: Path, work: Path, backend: str) -> None:
    try:
        r = run_bin(base, [prog(base, "forkstorm")], workdir=work, backend=backend,
                        limits=Limits(wall_s=120, processes=64))
        assert (r.outcome, r.returncode) == ("exited", 0), r
        forks = int((work / "forks.txt").read_text())
        if AS_ROOT:
            # The limit binds because the run has an unprivileged uid of its own.
            assert 1 <= forks <= 64, forks
        assert _left_behind(base / "bin" / "forkstorm") == []
    finally:
        _kill_leftovers(base / "bin" / "forkstorm")


def test_allocating_without_end_hits_the_memory_limit(base: Path, work: Path, backend: str) -> None:
    r = run_bin(base, [prog(base, "alloc")], workdir=work, backend=backend, limits=FAST)
    assert (r.outcome, r.limit) == ("limit", "memory"), r
    assert r.signal in (signal.SIGSEGV, signal.SIGKILL, signal.SIGBUS, signal.SIGABRT)


def test_careful_allocation_failure_is_an_exit(base: Path, work: Path, backend: str) -> None:
    # A program that handles the failure exits as it decides: the sandbox says exited, and the
    # message is there for whoever reads it.
    r = run_bin(base, [prog(base, "alloc_checked")], workdir=work, backend=backend, limits=FAST)
    assert (r.outcome, r.returncode) == ("exited", 3), r
    assert b"Cannot allocate memory" in r.stderr


def test_writing_past_the_file_size_limit_stops_there(base: Path, work: Path,
                                                      backend: str) -> None:
    # The program would write 16 times the limit and exit 0: the outcome alone says the limit
    # stopped it, however slow the disk (no clock in this test).
    r = run_bin(base, [prog(base, "bigwrite")], workdir=work, backend=backend, limits=FAST)
    assert (r.outcome, r.limit, r.signal) == ("limit", "file-size", signal.SIGXFSZ), r
    assert (work / "big.bin").stat().st_size <= FAST.file_bytes


def test_segfault_is_signaled(base: Path, work: Path, backend: str) -> None:
    r = run_bin(base, [prog(base, "segv")], workdir=work, backend=backend, limits=FAST)
    assert (r.outcome, r.signal, r.limit, r.returncode) == ("signaled", signal.SIGSEGV, None, None)
    assert not any(p.name.startswith("core") for p in work.iterdir())


def _shares_graders_uid(backend: str) -> bool:
    """Without root the fallback runs as the grader itself, and isolation() says what that means."""
    if backend == "rlimits" and not AS_ROOT:
        assert "may change the grader's files" in sandbox.isolation(backend)
        return True
    return False


def test_writes_outside_workdir_leave_nothing(base: Path, work: Path, backend: str) -> None:
    if _shares_graders_uid(backend):
        return
    tag = work.name
    targets = [base / "outside" / f"{tag}.txt", Path("/etc") / f"emlab-{tag}",
               Path("/root") / f"emlab-{tag}", Path("/tmp") / f"emlab-{tag}",
               Path("/var/tmp") / f"emlab-{tag}", Path("/dev/shm") / f"emlab-{tag}"]
    try:
        r = run_bin(base, [prog(base, "escape"), *map(str, targets)], workdir=work,
                        backend=backend, limits=FAST)
        assert (r.outcome, r.returncode) == ("exited", 0), r
        lines = (work / "escape.txt").read_text().splitlines()
        report = dict(line.rsplit(" ", 1) for line in lines)
        for t in targets:
            assert not os.path.lexists(t), f"{t} was written ({report[str(t)]})"
        for t in targets[:3]:
            assert report[str(t)] != "ok", t
    finally:
        for t in targets:
            try:
                t.unlink()
            except OSError:
                pass


def test_network(base: Path, work: Path, backend: str) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        port = server.getsockname()[1]
        r = run_bin(base, [prog(base, "net"), str(port)], workdir=work, backend=backend,
                        limits=FAST)
        assert (r.outcome, r.returncode) == ("exited", 0), r
        iso = sandbox.isolation(backend)
        if backend == "bwrap":
            assert r.stdout == b"failed\n"
        elif "network open" in iso:
            # The fallback says so when it cannot cut the network, and then it is not cut.
            assert r.stdout == b"connected\n"
        else:
            assert "network cut" in iso and r.stdout == b"failed\n"
    finally:
        server.close()


def test_network_open_in_the_fallback_is_said(base: Path, work: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the kernel refuses an unprivileged network namespace the fallback cannot cut the
    # network: the words say "network open" and the connection indeed goes through.
    monkeypatch.setitem(sandbox._probed, "netns", False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        r = run_bin(base, [prog(base, "net"), str(server.getsockname()[1])], workdir=work,
                        backend="rlimits", limits=FAST)
        assert "network open" in sandbox.isolation("rlimits") and "network open" in r.isolation
        assert (r.outcome, r.returncode, r.stdout) == ("exited", 0, b"connected\n"), r
    finally:
        server.close()


def test_cpu_burn_hits_the_cpu_limit(base: Path, work: Path, backend: str) -> None:
    # On a busy machine the second of CPU takes longer to come: the wall limit is far away, so
    # that the CPU limit is what ends it on any machine.
    r = run_bin(base, [prog(base, "cpuburn")], workdir=work, backend=backend,
                    limits=Limits(wall_s=120, cpu_s=1))
    assert (r.outcome, r.limit) == ("limit", "cpu"), r
    assert 0.8 <= r.cpu_s < 4


def test_cpu_time_adds_up_every_thread(base: Path, work: Path, backend: str) -> None:
    # The grader holds a run's reported call times against this figure (grader/timing.py): it
    # must count the program's threads through bubblewrap's processes too.
    r = run_bin(base, [prog(base, "threads")], workdir=work, backend=backend, limits=FAST)
    assert (r.outcome, r.returncode) == ("exited", 0), r
    assert 0.8 <= r.cpu_s < 5, r.cpu_s


def test_huge_stdout_is_capped(base: Path, work: Path, backend: str) -> None:
    r = run_bin(base, [prog(base, "bigout")], workdir=work, backend=backend, limits=FAST)
    assert (r.outcome, r.returncode) == ("exited", 0), r
    assert len(r.stdout) == sandbox.CAPTURE_BYTES and r.stdout.endswith(b"a" * 1000 + b"END\n")
    assert any("dropped" in n for n in r.notes)


def test_daemon_does_not_outlive_the_run(base: Path, work: Path, backend: str) -> None:
    r = run_bin(base, [prog(base, "daemon")], workdir=work, backend=backend, limits=FAST)
    assert (r.outcome, r.returncode, r.stdout) == ("exited", 0, b"parent done\n"), r
    # The helper ended the paused grandchild itself, without the grader's escalation.
    assert not any("did not end" in n for n in r.notes), r.notes
    assert _left_behind(base / "bin" / "daemon") == []


@pytest.mark.skipif(not AS_ROOT, reason="without root the run shares the grader's uid, as "
                    "isolation() says, and kill(-1) would reach the grader")
def test_killing_everything_it_may_kills_only_its_own(base: Path, work: Path, backend: str) -> None:
    # kill(-1) reaches every process the run's uid may signal: its own tree, never the grader.
    r = sandbox.run(["sh", "-c", "sleep 30 & kill -KILL -1; echo alive"], workdir=work,
                    backend=backend, limits=FAST)
    assert (r.outcome, r.returncode, r.stdout) == ("exited", 0, b"alive\n"), r
    assert r.wall_s < 30  # the sleep did not hold the run


@pytest.mark.skipif(not AS_ROOT, reason="only root can make a set-uid-root program")
def test_set_uid_root_programs_give_no_root(base: Path, work: Path, backend: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The fallback's user namespace alone would ignore the set-uid bit; without it (a kernel
    # that refuses unprivileged namespaces) only no_new_privs stands in the way: test that case.
    monkeypatch.setitem(sandbox._probed, "netns", False)
    suid = base / "bin" / "euid-suid"
    if not suid.exists():
        shutil.copy(base / "bin" / "euid", suid)
        os.chown(suid, 0, 0)
        suid.chmod(0o4755)
    assert subprocess.run([str(suid)], capture_output=True).stdout == b"0\n"
    r = run_bin(base, [str(suid)], workdir=work, backend=backend, limits=FAST)
    assert (r.outcome, r.returncode) == ("exited", 0), r
    assert r.stdout != b"0\n" and int(r.stdout) >= sandbox.UID_BASE


def test_read_only_paths_inside_workdir(base: Path, work: Path, backend: str) -> None:
    if _shares_graders_uid(backend):
        return
    inputs = work / "inputs"
    inputs.mkdir()
    case = inputs / "case.json"
    case.write_text("original\n")
    r = run_bin(base, [prog(base, "tamper"), str(case)], workdir=work, ro_binds=[inputs],
                    backend=backend, limits=FAST)
    assert r.stdout == b"write failed\nrename failed\nunlink failed\ncreate ok\n", r
    assert case.read_text() == "original\n"
    # Ownership comes back to the grader, and the work directory is whole again.
    assert all(p.lstat().st_uid == os.getuid() for p in [work, *work.rglob("*")])


def test_a_work_folder_inside_a_read_only_one_stays_writable(base: Path, work: Path, backend: str) -> None:
    # A program next to its work folder is bound read-only around it: the folder stays the run's.
    r = sandbox.run(["sh", "-c", f"echo a > here.txt; cat {base}/data/input.txt; echo b > {base}/outside/{work.name}"],
                    workdir=work, ro_binds=[base], backend=backend, limits=FAST)
    assert (work / "here.txt").read_text() == "a\n" and r.stdout == b"outside data\n", r
    if not _shares_graders_uid(backend):
        assert not (base / "outside" / work.name).exists()


def test_writable_dirs_and_ownership_restored(base: Path, work: Path, backend: str) -> None:
    extra = Path(tempfile.mkdtemp(prefix="extra-", dir=base))
    extra.chmod(0o755)
    try:
        r = sandbox.run(["sh", "-c", f"echo a > {extra}/x && echo b > y && chmod 4777 y && "
                         "mkdir d && chmod 777 d"],
                        workdir=work, writable=[extra], backend=backend, limits=FAST)
        assert (r.outcome, r.returncode) == ("exited", 0), r
        assert (extra / "x").read_text() == "a\n"
        # Taken back: the grader's again, no set-id bits, nothing writable by a later run.
        for p in (extra / "x", work / "y", work / "d"):
            st = p.lstat()
            assert st.st_uid == os.getuid() and not st.st_mode & 0o6022, (p, oct(st.st_mode))
    finally:
        shutil.rmtree(extra, ignore_errors=True)


def test_deeply_nested_leftovers_are_handled(base: Path, work: Path, backend: str) -> None:
    # 1500 levels of directories: more than a recursive walk of Python's could follow.
    script = ("p=$(printf 'd/%.0s' $(seq 100)); "
              "for i in $(seq 15); do mkdir -p $p && cd $p || exit 9; done; echo done")
    try:
        r = sandbox.run(["sh", "-c", script], workdir=work, backend=backend, limits=FAST)
        assert (r.outcome, r.returncode, r.stdout) == ("exited", 0, b"done\n"), r
        assert work.lstat().st_uid == os.getuid()
    finally:
        _remove(work / "d")


@pytest.mark.skipif(not AS_ROOT, reason="the uid pool is used only when the grader is root")
def test_concurrent_runs_get_their_own_uids(base: Path, backend: str) -> None:
    dirs = [Path(tempfile.mkdtemp(prefix="par-", dir=base)) for _ in range(2)]
    results: list[bytes] = [b"", b""]

    def one(i: int) -> None:
        # Each run waits (a minute at most) until the other has started: both hold their uids at
        # once however slowly the machine starts them, instead of hoping a sleep overlaps them.
        dirs[i].chmod(0o755)
        other = dirs[1 - i] / "started"
        script = f"id -u; touch started; for k in $(seq 600); do [ -e {other} ] && break; sleep 0.1; done"
        results[i] = sandbox.run(["sh", "-c", script], workdir=dirs[i], backend=backend, limits=FAST).stdout

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    uids = {int(r) for r in results}
    assert len(uids) == 2 and all(u >= sandbox.UID_BASE for u in uids)
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def test_grader_errors_raise(base: Path, work: Path) -> None:
    with pytest.raises(SandboxError):
        sandbox.run(["true"], workdir=base / "missing")
    with pytest.raises(SandboxError):
        sandbox.run([], workdir=work)
    with pytest.raises(SandboxError):
        sandbox.run(["true"], workdir=work, backend="chroot")


@pytest.mark.skipif(not AS_ROOT, reason="only an unprivileged uid is stopped by a 0700 parent")
def test_unreachable_workdir_is_the_graders_error(base: Path) -> None:
    hidden = Path(tempfile.mkdtemp(prefix="hidden-", dir=base))  # 0700
    (hidden / "w").mkdir()
    try:
        with pytest.raises(SandboxError, match="searchable"):
            sandbox.run(["true"], workdir=hidden / "w")
    finally:
        shutil.rmtree(hidden, ignore_errors=True)


def test_missing_program_is_a_result(base: Path, work: Path, backend: str) -> None:
    r = run_bin(base, [str(base / "bin" / "no-such-program")], workdir=work, backend=backend,
                    limits=FAST)
    assert r.outcome == "exited" and r.returncode not in (0, None)


def test_backend_forced_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EM_SANDBOX", "rlimits")
    assert sandbox.isolation().startswith("rlimits+uid (weaker: ")
    monkeypatch.setenv("EM_SANDBOX", "chroot")
    with pytest.raises(SandboxError):
        sandbox.isolation()


def test_isolation_words() -> None:
    assert sandbox.isolation("rlimits").startswith("rlimits+uid (weaker: no read-only view")
    assert "; gpu: /dev/nvidia* exposed, no address-space" in sandbox.isolation("rlimits", gpu=True)
    if "bubblewrap" in sandbox.isolation():
        assert "gpu: /dev/nvidia* exposed, no address-space" in sandbox.isolation("bwrap", gpu=True)


@pytest.mark.skip(reason="no GPU on this machine: gpu=True (/dev/nvidia* bound, no address-space "
                         "limit) is untested here")
def test_gpu_devices_visible(work: Path) -> None:
    r = sandbox.run(["sh", "-c", "ls /dev/nvidia*"], workdir=work, gpu=True)
    assert r.returncode == 0 and b"/dev/nvidiactl" in r.stdout


def test_the_helper_is_a_module_of_its_own() -> None:
    # Started by its absolute path (the helper starts in the run's folder), and importing it
    # does nothing: no fork, no write to any status pipe.
    assert os.path.isabs(sandbox._CHILD_PATH)
    assert Path(sandbox._CHILD_PATH) == Path(sandbox_child.__file__).resolve()
    assert callable(sandbox_child.main) and sandbox_child.SETUP_FAILED == 125


def test_rlimits_never_ask_above_the_hard_limit() -> None:
    inf = resource.RLIM_INFINITY
    assert sandbox_child.limit_pair("RLIMIT_NOFILE", 64, inf) == (64, 64)
    # CPU: SIGXCPU at the limit, SIGKILL a second later, unless the hard limit is nearer.
    assert sandbox_child.limit_pair("RLIMIT_CPU", 10, inf) == (10, 11)
    assert sandbox_child.limit_pair("RLIMIT_CPU", 10, 10) == (10, 10)
    assert sandbox_child.limit_pair("RLIMIT_NPROC", 512, 100) == (100, 100)


# A grader that imports the sandbox from elsewhere: argv = path to import from, work folder,
# program, backend, read-only folder.
_ELSEWHERE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from grader import sandbox
r = sandbox.run([sys.argv[3]], workdir=sys.argv[2], backend=sys.argv[4], ro_binds=[sys.argv[5]],
                limits=sandbox.Limits(wall_s=60, cpu_s=10))
print(json.dumps([r.outcome, r.returncode, r.stdout.decode(), r.stderr.decode()]))
"""


def test_works_from_another_folder(base: Path, work: Path, backend: str) -> None:
    # The grader's working directory is not the checkout, and the checkout is on sys.path by a
    # relative path.
    cwd = base / "outside"
    argv = [sys.executable, "-c", _ELSEWHERE, os.path.relpath(REPO, cwd), str(work), prog(base, "reader"),
            backend, str(base / "bin")]
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[:3] == ["exited", 0, f"cwd={work}\n"], r.stdout


@pytest.mark.skipif(not AS_ROOT, reason="only root can start a grader as another user")
def test_a_grader_that_is_not_root_runs_its_helper(base: Path, backend: str) -> None:
    # The helper runs as the grader's uid, whatever it is: here nobody, with a copy of grader/
    # that nobody can read and nothing else of the checkout.
    nobody = 65534
    if subprocess.run([sys.executable, "-c", "pass"], user=nobody, group=nobody, extra_groups=[],
                      capture_output=True).returncode != 0:
        pytest.skip(f"{sys.executable} cannot run as uid {nobody}")
    copy = Path(tempfile.mkdtemp(prefix="grader-copy-", dir=base))
    try:
        copy.chmod(0o755)
        shutil.copytree(REPO / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["chmod", "-R", "a+rX,go-w", str(copy / "grader")], check=True)
        for d in ("work", "tmp"):
            (copy / d).mkdir(mode=0o755)
            os.chown(copy / d, nobody, nobody)
        argv = [sys.executable, "-c", _ELSEWHERE, str(copy), str(copy / "work"), prog(base, "reader"),
                backend, str(base / "bin")]
        r = subprocess.run(argv, cwd="/", capture_output=True, text=True, timeout=120, user=nobody, group=nobody,
                           extra_groups=[], env={"PATH": "/usr/bin:/bin", "TMPDIR": str(copy / "tmp")})
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)[:3] == ["exited", 0, f"cwd={copy / 'work'}\n"], r.stdout
    finally:
        _remove(copy)
