"""grade --gpus: every GPU of a host times one submission at a time, never two on one; each row
names its GPU. No GPU here: the visible devices and the checker's runs are stand-ins, the batch
around them (queue, pool, rows, gradebook) the real one."""
from __future__ import annotations

import csv
import os
import threading
import time
from types import SimpleNamespace

import pytest

from grader import batch, gpus, gradebook, run as runmod

DEVICES = ["0", "1", "2"]


class FakeRuns:
    """run_student's stand-in: holds its GPU a while, and records any two runs on one GPU."""

    def __init__(self):
        self.lock = threading.Lock()
        self.busy: set = set()
        self.shared: list = []
        self.most_at_once = 0
        self.devices: list = []
        self.nodes: dict = {}  # device -> the nodes its runs were given

    def __call__(self, binary, lab, scratch, o, peaks, gpu, device=None, nodes=None):
        assert gpu
        with self.lock:
            if device in self.busy:
                self.shared.append(device)
            self.busy.add(device)
            self.devices.append(device)
            self.nodes.setdefault(device, set()).add(tuple(nodes) if nodes else None)
            self.most_at_once = max(self.most_at_once, len(self.busy))
        time.sleep(0.15)
        with self.lock:
            self.busy.discard(device)
        return runmod.StudentRun("ok", "", "fake sandbox", None, 0.15)


@pytest.fixture
def fake_gpu_batch(tmp_path, monkeypatch):
    """A batch on the cuda track over len(DEVICES) fake GPUs, every step but the run stubbed."""
    monkeypatch.setattr(batch.buildmod, "has_gpu", lambda: True)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", ",".join(DEVICES))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    runs = FakeRuns()
    monkeypatch.setattr(runmod, "run_student", runs)
    lab = SimpleNamespace(number=1, folder="lab1-add")

    def prepare(self):
        self.pristine = SimpleNamespace(em_archive="em-archive", verifier="em-check", peaks=None, build="fake")
        self.isolation, self.verify_ok = "fake sandbox", True
        return True

    def score(self, lab, table, verified, claimed, row, notes, tests):
        row.status, row.score = "ok", 1.0

    for name, fn in {"_reachable": lambda self: True, "_prepare": prepare,
                     "_unpack": lambda self, path, work, row, notes: (lab, work),
                     "_build": lambda self, lab, d, work: SimpleNamespace(binary="/fake/bin/em-check"),
                     "_table": lambda self, n: {}, "_verify": lambda self, lab, scratch, work: None,
                     "_score": score}.items():
        monkeypatch.setattr(batch.Grader, name, fn)
    subs = tmp_path / "subs"
    subs.mkdir()
    for k in range(9):
        (subs / f"lab1-s{k}-20261201-120000.tar.gz").write_bytes(b"archive %d" % k)
    return SimpleNamespace(subs=subs, out=tmp_path / "out", runs=runs)


def grade(b, **kw) -> int:
    return batch.grade(batch.Options(submissions=[str(b.subs)], out=str(b.out), track="cuda", seed=1, **kw))


def test_every_gpu_times_one_submission_at_a_time(fake_gpu_batch):
    b = fake_gpu_batch
    assert grade(b) == 0
    assert b.runs.shared == [], "two runs timed on one GPU at once"
    assert b.runs.most_at_once == len(DEVICES), "every GPU should have been busy at once"
    assert set(b.runs.devices) == set(DEVICES)


def test_each_row_names_its_gpu(fake_gpu_batch):
    b = fake_gpu_batch
    assert grade(b) == 0
    with open(b.out / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
        assert f.seek(0) == 0 and f.readline().rstrip("\n").split(",") == gradebook.FIELDS + ["gpu"]
    assert len(rows) == 9 and all(r["status"] == "ok" for r in rows)
    assert {r["gpu"] for r in rows} <= set(DEVICES) and len({r["gpu"] for r in rows}) == len(DEVICES)


def test_gpus_n_uses_the_first_n(fake_gpu_batch):
    b = fake_gpu_batch
    assert grade(b, gpus=2) == 0
    assert b.runs.shared == [] and b.runs.most_at_once <= 2
    assert set(b.runs.devices) == {"0", "1"}


def test_more_gpus_than_the_machine_shows_is_refused(fake_gpu_batch, capsys):
    assert grade(fake_gpu_batch, gpus=5) == 2
    assert "--gpus 5: this machine shows 3 GPU(s)" in capsys.readouterr().err


def test_a_cpu_batch_has_no_gpu_column():
    rows = [gradebook.Row(submission="a", status="ok")]
    assert gradebook.columns(rows) == gradebook.FIELDS and "gpu" not in rows[0].to_dict()
    rows.append(gradebook.Row(submission="b", status="ok", gpu="1"))
    assert gradebook.columns(rows) == gradebook.FIELDS + ["gpu"]
    assert gradebook.Row.from_dict(rows[1].to_dict()).gpu == "1"  # read back from the journal


def test_visible_devices(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 3,-1,4")
    assert gpus.visible() == ["2", "3"]  # CUDA stops at the first entry it cannot use
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpus.visible() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\nprintf '0\\n1\\n'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert gpus.visible() == ["0", "1"]
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert gpus.label("0").endswith(":0") and gpus.label("0") != "0"


# ---- one GPU's device nodes per run -----------------------------------------------------------

SMI_GPUS = "0, GPU-aaaa, 00000000:18:00.0\n1, GPU-bbbb, 00000000:3B:00.0\n2, GPU-cccc, 00000001:AF:00.0\n"


@pytest.fixture
def fake_driver(tmp_path, monkeypatch):
    """nvidia-smi and the driver's /dev and /proc records of three GPUs whose minor numbers are not
    their indices (as on machines where the driver numbered them in another order)."""
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(f"#!/bin/sh\nprintf '{SMI_GPUS.replace(chr(10), chr(92) + 'n')}'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:/usr/bin:/bin")
    dev, proc = tmp_path / "dev", tmp_path / "proc"
    for name in ("nvidia0", "nvidia1", "nvidia2", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"):
        (dev / name).parent.mkdir(parents=True, exist_ok=True)
        (dev / name).write_text("")
    (dev / "nvidia-caps").mkdir()
    for bus, minor in (("0000:18:00.0", 2), ("0000:3b:00.0", 0), ("0001:af:00.0", 1)):
        (proc / bus).mkdir(parents=True)
        (proc / bus / "information").write_text(f"Model: \t\t NVIDIA H100\nIRQ:   \t\t 42\nDevice Minor: \t {minor}\n")
    return SimpleNamespace(dev=str(dev), proc=str(proc))


def test_a_gpus_nodes_are_its_own_and_the_drivers_control_nodes(fake_driver):
    d = fake_driver
    control = [f"{d.dev}/{n}" for n in ("nvidia-caps", "nvidia-modeset", "nvidia-uvm", "nvidia-uvm-tools", "nvidiactl")]
    assert gpus.nodes_of("0", d.dev, d.proc) == [f"{d.dev}/nvidia2", *control]  # by the bus id, not the index
    assert gpus.nodes_of("1", d.dev, d.proc) == [f"{d.dev}/nvidia0", *control]
    assert gpus.nodes_of("GPU-cccc", d.dev, d.proc) == [f"{d.dev}/nvidia1", *control]  # a UUID; PCI domain 1


def test_no_nodes_where_a_step_fails(fake_driver, monkeypatch):
    d = fake_driver
    assert gpus.nodes_of("7", d.dev, d.proc) is None  # no such GPU
    os.remove(os.path.join(d.proc, "0000:3b:00.0", "information"))
    assert gpus.nodes_of("1", d.dev, d.proc) is None  # no driver record
    os.remove(os.path.join(d.dev, "nvidia1"))
    assert gpus.nodes_of("2", d.dev, d.proc) is None  # no device node
    monkeypatch.setenv("PATH", "/nonexistent")
    assert gpus.nodes_of("0", d.dev, d.proc) is None  # no nvidia-smi


@pytest.fixture
def nodes_batch(fake_gpu_batch, monkeypatch):
    """fake_gpu_batch as a host's own GPUs (no CUDA_VISIBLE_DEVICES: nvidia-smi's indices) under
    bubblewrap, with _gpu_nodes run for real over stand-ins of nodes_of and of the probe."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setattr(gpus, "visible", lambda: list(DEVICES))
    monkeypatch.setattr(gpus, "nodes_of", lambda d: [f"/dev/nvidia{9 - int(d)}", "/dev/nvidiactl"])
    probes = []
    monkeypatch.setattr(runmod, "gpu_alone_works", lambda verifier, nodes, scratch, peaks: (probes.append(nodes), (True, ""))[1])
    plain = batch.Grader._prepare

    def prepare(self):
        plain(self)
        self.isolation = "bubblewrap"
        self.gpu_nodes = self._gpu_nodes()
        return True

    monkeypatch.setattr(batch.Grader, "_prepare", prepare)
    fake_gpu_batch.probes = probes
    return fake_gpu_batch


def test_each_run_sees_its_own_gpus_node_alone(nodes_batch):
    b = nodes_batch
    assert grade(b) == 0
    assert b.runs.shared == []
    assert b.runs.nodes == {d: {(f"/dev/nvidia{9 - int(d)}", "/dev/nvidiactl")} for d in DEVICES}
    assert b.probes == [["/dev/nvidia9", "/dev/nvidiactl"]]  # CUDA tried that way once, on the first GPU


def test_every_node_where_cuda_does_not_run_with_one_alone(nodes_batch, monkeypatch, capsys):
    monkeypatch.setattr(runmod, "gpu_alone_works", lambda verifier, nodes, scratch, peaks: (False, "exited 2: no CUDA device"))
    assert grade(nodes_batch) == 0
    assert nodes_batch.runs.nodes == {d: {None} for d in DEVICES}
    assert "CUDA did not run with one GPU's device nodes alone (exited 2: no CUDA device)" in capsys.readouterr().err


def test_every_node_under_a_schedulers_numbering(nodes_batch, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", ",".join(DEVICES))
    assert grade(nodes_batch) == 0
    assert nodes_batch.runs.nodes == {d: {None} for d in DEVICES} and nodes_batch.probes == []


def test_a_run_given_nodes_binds_those_alone(monkeypatch):
    """The sandbox side: the nodes given are the only GPU devices bubblewrap binds, and the run's
    isolation says so; without them, every /dev/nvidia* as before."""
    from grader import sandbox
    seen = {}

    def spawn(cmd, wd, env, stdin, limits, gpu, backend, uid, netns, extra, iso, notes):
        seen["cmd"], seen["iso"], seen["env"] = cmd, iso, env
        return sandbox.Result("exited", 0, None, None, 0.0, 0.0, b"", b"", iso, [])

    monkeypatch.setattr(sandbox, "_spawn_and_watch", spawn)
    monkeypatch.setattr(sandbox, "_check_reachable", lambda r, uid: None)
    monkeypatch.setattr(sandbox.glob, "glob", lambda pat: ["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"])
    monkeypatch.setattr(sandbox, "_sweep_uid", lambda uid, only_if_needed=False: None)
    monkeypatch.setattr(sandbox._Handover, "give", lambda self: None)
    monkeypatch.setattr(sandbox._Handover, "take_back", lambda self: None)
    sandbox._run_as(["true"], "/tmp", ["/tmp"], [], sandbox.Limits(), True, {}, None, "bwrap", None,
                    ["/dev/nvidia1", "/dev/nvidiactl"])
    binds = [seen["cmd"][i + 1] for i, a in enumerate(seen["cmd"]) if a == "--dev-bind"]
    assert binds == ["/dev/nvidia1", "/dev/nvidiactl"]
    assert "only its own GPU's /dev/nvidiaN and the driver's control nodes exposed" in seen["iso"]
    sandbox._run_as(["true"], "/tmp", ["/tmp"], [], sandbox.Limits(), True, {}, None, "bwrap", None)
    binds = [seen["cmd"][i + 1] for i, a in enumerate(seen["cmd"]) if a == "--dev-bind"]
    assert binds == ["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"]
    assert "gpu: /dev/nvidia* exposed" in seen["iso"]
