"""grade --gpus: every GPU of a host times one submission at a time, never two on one; each row
names its GPU. No GPU here: the visible devices and the checker's runs are stand-ins, the batch
around them (queue, pool, rows, gradebook) the real one."""
from __future__ import annotations

import csv
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

    def __call__(self, binary, lab, scratch, o, peaks, gpu, device=None):
        assert gpu
        with self.lock:
            if device in self.busy:
                self.shared.append(device)
            self.busy.add(device)
            self.devices.append(device)
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
