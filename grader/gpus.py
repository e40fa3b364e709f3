"""The GPUs a batch times on: which are visible, and a pool that lends each to one run at a time,
so that no two timings ever share a GPU (grade --gpus N)."""
from __future__ import annotations

import contextlib
import glob
import os
import queue
import re
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


def nodes_of(device: str, dev: str = "/dev", proc: str = "/proc/driver/nvidia/gpus") -> list[str] | None:
    """The device nodes a run on GPU `device` (nvidia-smi's index, or its UUID) needs, so that CUDA
    in the run sees that GPU alone: its /dev/nvidiaN and the driver's control nodes (nvidiactl,
    nvidia-uvm, ...), without the other GPUs' nodes. N is the driver's minor number of the GPU,
    from nvidia-smi's PCI bus id of it and the driver's record of that bus id (proc/<bus
    id>/information, "Device Minor"). None where any step fails: the caller then exposes them all."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,pci.bus_id", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    bus = None
    for line in r.stdout.splitlines():
        f = [x.strip() for x in line.split(",")]
        if len(f) == 3 and device in (f[0], f[1]):
            bus = f[2]
    # nvidia-smi writes the PCI domain in 8 hex digits, the driver's /proc in 4: 00000000:18:00.0.
    m = re.fullmatch(r"([0-9A-Fa-f]+):([0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])", bus or "")
    if not m:
        return None
    try:
        with open(os.path.join(proc, f"{int(m.group(1), 16):04x}:{m.group(2).lower()}", "information")) as f:
            minor = re.search(r"^Device Minor:\s*(\d+)\s*$", f.read(), re.M)
    except OSError:
        return None
    node = os.path.join(dev, f"nvidia{minor.group(1)}") if minor else None
    if node is None or not os.path.exists(node):
        return None
    control = [p for p in sorted(glob.glob(os.path.join(dev, "nvidia*")))
               if not re.fullmatch(r"nvidia\d+", os.path.basename(p))]
    return [node, *control]


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
