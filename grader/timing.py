"""Step 5b: the run's reported times against the clocks outside it.

The student's em-check reports, per case, how many calls it timed and the sum of their measured
times (`timed_calls`, `timed_s`: the student's code, the reference and the naive baseline
together). Those numbers come from the student's process, so the grader holds them against what
it measured itself from outside the sandbox:

* wall clock: the checker times one call at a time, so the timed intervals of every case and
  track are disjoint parts of the run, and their sum cannot exceed the run's wall time.
* CPU time: during a CPU-track timed call at least one thread of the run is computing, unless it
  is waiting for a CPU that other programs hold (or for a CPU quota). So the CPU-track sum cannot
  exceed the run's CPU time plus the time during which the run could have waited for a CPU: the
  time every CPU it may use ran other programs (at most their CPU time over the CPU count, from
  the machine's idle time in /proc/stat less the run's own CPU time) plus the time its cgroup was
  throttled. On an idle machine that bound is the CPU time; on a machine others keep busy it
  grows past the wall time, so that load never makes an honest run look forged. (A run that
  blocks on a swapping disk inside a timed call is not covered: such a machine's timings mean
  nothing anyway.) GPU-track calls may wait for the device without any CPU: wall only.

A run whose numbers break either bound reports time that did not pass (the reference's time
inflated, a clock of its own): the row becomes cheat-suspected with the figures. Results without
`timed_s` (an older checker, or --no-timing) are not checked."""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

# How far the outside clocks may disagree with the checker's own: the rounding of its clocks and
# of /proc/stat's ticks (10 ms), and two clocks' drift over one run; far less than a forged time
# needs to gain anything.
SLACK_FRACTION = 0.02
SLACK_S = 0.05


@dataclass
class Snapshot:
    """The machine's clocks at one moment, to subtract from a later one."""
    at_s: float         # monotonic clock
    idle_s: float       # idle CPU-seconds so far of the CPUs this process may run on
    cpus: int           # how many CPUs that is
    throttled_s: float  # CPU-quota throttling so far of this process's cgroups


def _idle_s(cpus: set[int]) -> float:
    """The idle time of the given CPUs (/proc/stat's fourth field, in clock ticks): iowait is left
    out, so that a CPU idle beside a task waiting on a disk never shrinks the allowance."""
    tick = os.sysconf("SC_CLK_TCK")
    idle = 0
    with open("/proc/stat") as f:
        for line in f:
            name, _, rest = line.partition(" ")
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                idle += int(rest.split()[3])
    return idle / tick


def _cgroup_dirs() -> list[str]:
    """The cpu cgroup folders of this process and its ancestors (v2 and v1): a quota on any of
    them throttles the run."""
    out = []
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            root = "/sys/fs/cgroup"
        elif "cpu" in controllers.split(","):
            root = "/sys/fs/cgroup/" + controllers
        else:
            continue
        parts = [p for p in path.split("/") if p and p != ".."]
        for k in range(len(parts), -1, -1):
            out.append(os.path.join(root, *parts[:k]))
    return out


def _throttled_s() -> float:
    """Seconds of CPU-quota throttling so far (cgroup v2 throttled_usec, v1 throttled_time in ns),
    summed over this process's cgroups: a sum over CPUs and ancestors, more than the run waited,
    which only makes the allowance generous."""
    total = 0.0
    for d in _cgroup_dirs():
        try:
            with open(os.path.join(d, "cpu.stat")) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "throttled_usec":
                        total += int(value) / 1e6
                    elif key == "throttled_time":
                        total += int(value) / 1e9
        except (OSError, ValueError):
            continue
    return total


def snapshot() -> Snapshot:
    cpus = os.sched_getaffinity(0)
    try:
        idle = _idle_s(cpus)
    except (OSError, ValueError, IndexError):
        idle = math.nan  # unknown: contention_s() then allows the whole wall time
    return Snapshot(time.monotonic(), idle, len(cpus), _throttled_s())


def contention_s(before: Snapshot, after: Snapshot, run_cpu_s: float = 0.0) -> float:
    """How long, at most, a runnable thread of a run could have waited for a CPU between the
    snapshots (the run wholly between them, run_cpu_s its CPU time): the time during which every
    CPU ran other programs, at most their CPU time (the CPUs' busy time less the run's) over the
    CPU count, plus the throttled time."""
    elapsed = max(0.0, after.at_s - before.at_s)
    idle = after.idle_s - before.idle_s
    cpus = max(1, after.cpus)
    if math.isfinite(idle):
        others = cpus * elapsed - idle - max(0.0, run_cpu_s)
        crowded = min(elapsed, max(0.0, others / cpus))
    else:
        crowded = elapsed
    return crowded + max(0.0, after.throttled_s - before.throttled_s)


# Others' share of the CPUs above this makes a run "busy" (the checker's EM_LOAD_BUSY_SHARE).
BUSY_SHARE = 0.2


def others_share(before: Snapshot, after: Snapshot, run_cpu_s: float | None) -> float:
    """The share of the CPUs' time between the snapshots that other programs used (their busy time
    less the run's CPU time), in [0, 1]; nan when unknown. Measured outside the sandbox, so a
    student's run cannot make it say anything."""
    elapsed = after.at_s - before.at_s
    idle = after.idle_s - before.idle_s
    cpus = max(1, after.cpus)
    if not (elapsed > 0 and math.isfinite(idle)):
        return math.nan
    others = cpus * elapsed - idle - max(0.0, run_cpu_s or 0.0)
    return min(1.0, max(0.0, others / (cpus * elapsed)))


def busy_note(share: float) -> str | None:
    """What the row says when other programs held the cores through a CPU-track run."""
    if not (share > BUSY_SHARE):
        return None
    return (f"busy machine: other programs used {100 * share:.0f}% of the CPUs while this ran; the speed points "
            f"hold (timed interleaved with the reference), its times and roof figures read slow")


def _sum(cases: list, track: str | None) -> tuple[float, int]:
    """The claimed timed seconds and calls over the cases (of one track, or all). Only finite,
    non-negative numbers count: a negative time cannot offset an inflated one."""
    s, n = 0.0, 0
    for c in cases:
        if not isinstance(c, dict) or (track is not None and c.get("track") != track):
            continue
        t = c.get("timed_s")
        if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) and t > 0:
            s += t
        k = c.get("timed_calls")
        if isinstance(k, int) and not isinstance(k, bool) and k > 0:
            n += k
    return s, n


def _allowed(bound_s: float) -> float:
    return bound_s * (1 + SLACK_FRACTION) + SLACK_S


def implausible(claimed: dict | None, wall_s: float, cpu_s: float | None, contention: float) -> str | None:
    """Why the run's reported per-call times cannot add up (the reason of a cheat-suspected row),
    or None. wall_s and cpu_s: the run as the sandbox measured it (cpu_s None: unknown, only the
    wall is checked); contention: contention_s() over the run."""
    cases = (claimed or {}).get("cases")
    if not isinstance(cases, list) or not any(isinstance(c, dict) and "timed_s" in c for c in cases):
        return None  # an older checker, or --no-timing: nothing to check
    total, calls = _sum(cases, None)
    if total > _allowed(wall_s):
        return (f"the run reports {total:.1f} s of timed calls ({calls} calls) but ran {wall_s:.1f} s of "
                f"wall-clock time: its per-call times cannot be real (look for code that changes a clock "
                f"or the timing)")
    if cpu_s is None:
        return None
    on_cpu, cpu_calls = _sum(cases, "cpu")
    if on_cpu > _allowed(cpu_s + contention):
        return (f"the run reports {on_cpu:.1f} s of timed CPU-track calls ({cpu_calls} calls) but used "
                f"{cpu_s:.1f} s of CPU time, and could have waited at most {contention:.1f} s for a busy "
                f"CPU: its per-call times cannot be real (look for code that changes a clock or the timing)")
    return None
