"""grader slurm on a real one-node Slurm cluster on the loopback (Debian's slurm-wlm and munge:
scripts/install-deps.sh --slurm), started and stopped here: the gradebook it collects equals the
one `grade` writes for the same archives; a cancelled task leaves a row saying so; a cancelled
collecting job is replaced by `grader collect`; a resubmission grades only what is missing.
Skipped, with the reason, where the daemons cannot start."""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SRC, grade, rows_of, searchable, student_tar

DAEMONS = ("munged", "slurmctld", "slurmd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _why_not(d: Path) -> str | None:
    if os.geteuid() != 0:
        return "the Slurm daemons run as root here and this is not root"
    missing = [n for n in (*DAEMONS, "sbatch", "squeue", "scancel") if not shutil.which(n) and
               not os.path.exists(f"/usr/sbin/{n}")]
    if missing:
        return f"not installed: {', '.join(missing)} (scripts/install-deps.sh --slurm)"
    if os.statvfs(d).f_flag & os.ST_NOEXEC:
        return f"{d} is mounted noexec: slurmd cannot run job scripts from its spool there"
    return None


class Cluster:
    """munged, slurmctld and slurmd in d, on ports of their own; env: what a client needs."""

    def __init__(self, d: Path):
        self.d = d
        self.procs: list = []
        self.env = {**os.environ, "SLURM_CONF": str(d / "slurm.conf")}

    def start(self) -> None:
        d = self.d
        for sub in ("state", "spool", "munge"):
            (d / sub).mkdir(mode=0o700)
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.socket = d / "munge" / "munge.socket"
        self.procs.append(subprocess.Popen(
            [shutil.which("munged") or "/usr/sbin/munged", "-F", "--force", f"--socket={self.socket}",
             f"--key-file={key}", f"--pid-file={d / 'munge' / 'munged.pid'}", f"--log-file={d / 'munge' / 'munged.log'}",
             f"--seed-file={d / 'munge' / 'munged.seed'}"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        self._wait(lambda: self.socket.exists(), "munged's socket", d / "munge" / "munged.log")
        cpus = os.cpu_count() or 1
        (d / "slurm.conf").write_text(f"""ClusterName=emtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.socket}
CredType=cred/munge
StateSaveLocation={d / 'state'}
SlurmdSpoolDir={d / 'spool'}
SlurmctldPidFile={d / 'slurmctld.pid'}
SlurmdPidFile={d / 'slurmd.pid'}
SlurmctldLogFile={d / 'slurmctld.log'}
SlurmdLogFile={d / 'slurmd.log'}
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
KillWait=5
NodeName=emnode NodeHostname=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=emtest Nodes=emnode Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
""")
        for argv, log in (([_sbin("slurmctld"), "-D", "-i"], "slurmctld.log"), ([_sbin("slurmd"), "-D", "-N", "emnode"], "slurmd.log")):
            self.procs.append(subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
            time.sleep(1)
        self._wait(self._idle, "the node to be idle", d / "slurmd.log")

    def _idle(self) -> bool:
        r = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True, text=True)
        return r.returncode == 0 and r.stdout.strip() in ("idle", "mix", "alloc")

    def _wait(self, ok, what: str, log: Path, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(p.poll() is not None for p in self.procs):
                break
            if ok():
                return
            time.sleep(0.5)
        said = log.read_text()[-1500:] if log.exists() else "(no log)"
        self.stop()
        pytest.skip(f"the Slurm test cluster did not start ({what}): {said}")

    def run(self, *argv: str, check=True) -> subprocess.CompletedProcess:
        r = subprocess.run(argv, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 or not check, f"{argv}: {r.stderr}"
        return r

    def jobs(self) -> list[str]:
        return self.run("squeue", "-h", "-o", "%i %j %T").stdout.split("\n")

    def wait_idle(self, timeout: float = 600) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.run("squeue", "-h").stdout.strip():
                return
            time.sleep(1)
        raise AssertionError(f"jobs still queued after {timeout} s: {self.jobs()}")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs.clear()


def _sbin(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm")
    why = _why_not(d)
    if why:
        pytest.skip(why)
    c = Cluster(d)
    c.start()
    yield c
    c.stop()


def archives(d: Path) -> list[Path]:
    """Ten mixed submissions, an identical copy and an unreadable-as-archive file."""
    d.mkdir()
    kinds = ["good", "skeleton", "build_error", "calls_reference", "fake_score", "modifies_inputs",
             "unwritten", "hangs", "segfaults", "caches"]
    out = [student_tar(d / f"lab1-{k.replace('_', '')}-20261201-120000.tar.gz", SRC[k]) for k in kinds]
    twin = d / "lab1-twin-20261201-120000.tar.gz"
    twin.write_bytes(out[0].read_bytes())
    bad = d / "lab1-notanarchive-20261201-120000.tar.gz"
    bad.write_bytes(b"this is a text file, not an archive\n" * 20)
    return out + [twin, bad]


GRADING = ["--timeout", "30", "--memory", "1536", "--file-size", "16"]


def slurm(c: Cluster, out: Path, subs: list, pristine: Path, hidden: Path, *extra) -> subprocess.CompletedProcess:
    return c.run(sys.executable, "-m", "grader", "slurm", *map(str, subs), "--out", str(out), "--pristine", str(pristine),
                 "--track", "cpu", "--hidden", str(hidden), "--hidden-only", *GRADING, *extra)


def verdicts(out: Path) -> dict:
    return {k: (r["status"], r["correctness"], r["score"] if r["status"] != "ok" else "") for k, r in rows_of(out).items()}


def test_slurm_gradebook_equals_local_grade(cluster, tmp_path, pristine, hidden_file):
    subs = archives(tmp_path / "subs")
    local, remote = tmp_path / "local", tmp_path / "remote"
    grade(local, subs, pristine, hidden_file, *GRADING)
    searchable(remote)
    t0 = time.monotonic()
    r = slurm(cluster, remote, subs, pristine, hidden_file, "--max-parallel", "2", "--time", "10")
    assert "submitted: array job" in r.stderr, r.stderr
    jobs = [json.loads(line) for line in (remote / "slurm" / "jobs.jsonl").read_text().splitlines()]
    array = jobs[0]["array"]
    last = max(map(int, jobs[0]["tasks"]))
    # One task cancelled while the throttle holds it pending, and the collecting job cancelled.
    cluster.run("scancel", f"{array}_{last}")
    cluster.run("scancel", "--name=emlab-collect")
    cluster.wait_idle()
    assert not (remote / "gradebook.csv").exists(), "the collecting job was cancelled"
    assert stat.S_IMODE((remote / "slurm" / "hidden-cases.json").stat().st_mode) == 0o600
    # By hand: every archive a row, the cancelled one lost with its reason.
    r = cluster.run(sys.executable, "-m", "grader", "collect", str(remote))
    assert "resubmit the same batch" in r.stderr, r.stderr
    want, got = verdicts(local), verdicts(remote)
    assert set(got) == set(want)
    lost = [k for k, v in got.items() if v[0] == "lost"]
    assert len(lost) == 1, got
    assert "never started" in rows_of(remote)[lost[0]]["reason"]
    assert {k: v for k, v in got.items() if k not in lost} == {k: v for k, v in want.items() if k not in lost}
    # Resubmitted: one task (the lost archive), and the collecting job writes the whole gradebook.
    (remote / "gradebook.csv").unlink()
    r = slurm(cluster, remote, subs, pristine, hidden_file)
    assert "(1 task(s) of" in r.stderr, r.stderr
    cluster.wait_idle()
    assert verdicts(remote) == want
    print(f"slurm batch: {time.monotonic() - t0:.0f} s")


def test_dry_run_prints_the_scripts(tmp_path, hidden_file):
    subs = archives(tmp_path / "subs")
    r = subprocess.run([sys.executable, "-m", "grader", "slurm", *map(str, subs), "--out", str(tmp_path / "o"),
                        "--track", "cpu", "--dry-run", "--partition", "gpu", "--gres", "gpu:1", "--max-parallel", "4",
                        "--time", "20"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for want in ("#SBATCH --array=0-10%4", "#SBATCH --partition=gpu", "#SBATCH --gres=gpu:1", "#SBATCH --time=20",
                 "-m grader task", "-m grader collect", "afterany"):
        assert want in r.stdout, r.stdout
    assert not (tmp_path / "o" / "slurm" / "batch.json").exists()


def test_rows_of_tasks_that_never_reported(tmp_path, monkeypatch):
    """Slurm's state names the row (a fake sacct): TIMEOUT is a timeout, anything else lost; without
    sacct, the task's own start marker and the signal it got."""
    from grader import slurm as slurmmod
    out = tmp_path / "out"
    (out / "slurm" / "started").mkdir(parents=True)
    (out / "slurm" / "jobs.jsonl").write_text(json.dumps({"array": "77", "tasks": {"0": "k:a", "1": "k:b"}}) + "\n")
    fake = tmp_path / "bin" / "sacct"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf '77_0|TIMEOUT\\n77_1|CANCELLED by 0\\n'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    states = slurmmod._slurm_states(str(out))
    assert slurmmod._missing_row(str(out), "k:a", states).status == "timeout"
    r = slurmmod._missing_row(str(out), "k:b", states)
    assert r.status == "lost" and "77_1 ended CANCELLED" in r.reason
    (out / "slurm" / "started" / "k-c").write_text(
        json.dumps({"host": "n1", "job": "78_2", "at": "T0"}) + "\n" + json.dumps({"signal": "SIGTERM", "at": "T1"}) + "\n")
    r = slurmmod._missing_row(str(out), "k:c", {})
    assert r.status == "lost" and "78_2 started on n1" in r.reason and "SIGTERM" in r.reason
    assert "never started" in slurmmod._missing_row(str(out), "k:d", {}).reason
