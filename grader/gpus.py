"""The GPUs a batch times on: which are visible, and a pool that lends each to one run at a time,
so that no two timings ever share a GPU (grade --gpus N)."""
from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import subprocess

# CUDA numbers devices fastest first unless told otherwise; nvidia-smi numbers them by PCI bus.
# The runs get this order too, so that the index a row names is the one nvidia-smi shows.
DEVICE_ORDER = "PCI_BUS_ID"


def visible() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES's entries when it is set (as a Slurm
    job step with --gres sets it), else nvidia-smi's indices; [] when there are none."""
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None:
        out = []
        for e in (x.strip() for x in cvd.split(",")):
            if not e or e in ("-1", "NoDevFiles"):  # CUDA stops at the first entry it cannot use
                break
            out.append(e)
        return out
    if not shutil.which("nvidia-smi"):
        return []
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if r.returncode != 0:
        return []
    return [line.strip() for line in r.stdout.splitlines() if line.strip().isdigit()]


def label(device: str | None) -> str:
    """The GPU as a row names it: its index (or UUID); under Slurm also the node, whose own
    numbering every task restarts at 0."""
    if device is None:
        return "gpu"
    if os.environ.get("SLURM_JOB_ID"):
        return f"{socket.gethostname()}:{device}"
    return device


class Pool:
    """Lends each device to one holder at a time; a holder waits for a free one."""

    def __init__(self, devices: list):
        self.devices = list(devices)
        self.free: queue.Queue = queue.Queue()
        for d in self.devices:
            self.free.put(d)

    def __len__(self) -> int:
        return len(self.devices)

    @contextlib.contextmanager
    def lend(self):
        d = self.free.get()
        try:
            yield d
        finally:
            self.free.put(d)
