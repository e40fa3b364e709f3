"""grader/timing.py: the run's reported call times against the wall-clock and CPU time measured
outside it, on hand-made results, and one honest timed program on a machine kept busy."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader import sandbox, timing
from grader.timing import Snapshot, contention_s, implausible


def claim(*cases) -> dict:
    """Results with one case per (track, timed_s) pair, 10 calls each."""
    out = [{"track": track, "part": "b", "name": f"c{k}", "status": "pass", "timed_calls": 10, "timed_s": t}
           for k, (track, t) in enumerate(cases)]
    return {"schema": "em-results/1", "cases": out,
            "timing": {"timed_calls": 10 * len(out), "timed_s": sum(t for _, t in cases)}}


def test_times_that_fit_in_the_run_pass():
    assert implausible(claim(("cpu", 1.5), ("cpu", 2.0)), wall_s=4.0, cpu_s=3.6, contention=0.0) is None


def test_more_timed_time_than_wall_time_is_said_with_the_figures():
    why = implausible(claim(("cpu", 10.0), ("cuda", 2.3)), wall_s=4.1, cpu_s=50.0, contention=0.0)
    assert why and why.startswith("the run reports 12.3 s of timed calls (20 calls) but ran 4.1 s of "
                                  "wall-clock time"), why


def test_the_slack_is_two_percent_and_50_ms():
    assert implausible(claim(("cuda", 10.25)), wall_s=10.0, cpu_s=None, contention=0.0) is None
    assert implausible(claim(("cuda", 10.26)), wall_s=10.0, cpu_s=None, contention=0.0)


def test_cpu_track_time_beyond_the_cpu_time_is_said():
    why = implausible(claim(("cpu", 3.0)), wall_s=10.0, cpu_s=1.0, contention=0.5)
    assert why and "3.0 s of timed CPU-track calls (10 calls) but used 1.0 s of CPU time" in why
    assert "at most 0.5 s for a busy CPU" in why


def test_a_busy_machine_excuses_what_it_could_have_taken():
    # The same figures, but no CPU was idle for 2.5 s of the run: the run may have waited that long.
    assert implausible(claim(("cpu", 3.0)), wall_s=10.0, cpu_s=1.0, contention=2.5) is None


def test_gpu_track_calls_may_wait_without_cpu():
    assert implausible(claim(("cuda", 3.0), ("cpu", 0.2)), wall_s=4.0, cpu_s=0.5, contention=0.0) is None


def test_unknown_cpu_time_checks_the_wall_only():
    assert implausible(claim(("cpu", 3.0)), wall_s=4.0, cpu_s=None, contention=0.0) is None


@pytest.mark.parametrize("results", [None, {}, {"cases": "x"}, {"cases": []},
                                     {"cases": [{"track": "cpu", "time_ms": 1e9, "speedup_vs_ref": 1e9}]}])
def test_results_without_timed_seconds_are_not_checked(results):
    # An older checker, or --no-timing: nothing to hold against the clocks.
    assert implausible(results, wall_s=0.1, cpu_s=0.0, contention=0.0) is None


def test_negative_or_odd_times_offset_nothing():
    forged = claim(("cpu", 50.0), ("cpu", -48.0), ("cpu", math.nan), ("cpu", math.inf))
    forged["cases"].append({"track": "cpu", "timed_s": True, "timed_calls": "many"})
    why = implausible(forged, wall_s=4.0, cpu_s=8.0, contention=0.0)
    assert why and "50.0 s of timed calls" in why


def test_results_read_back_from_json():
    # As the grader reads them: json.loads of the run's file (NaN and Infinity parse too).
    text = '{"cases": [{"track": "cpu", "timed_s": NaN}, {"track": "cpu", "timed_s": 9.0, "timed_calls": 3}]}'
    assert "9.0 s of timed calls (3 calls)" in implausible(json.loads(text), wall_s=1.0, cpu_s=None, contention=0.0)


def test_contention_from_the_machines_idle_time():
    t0 = Snapshot(at_s=100.0, idle_s=50.0, cpus=2, throttled_s=1.0)
    # 10 s, both CPUs idle throughout: no runnable thread waited.
    assert contention_s(t0, Snapshot(110.0, 70.0, 2, 1.0)) == 0.0
    # 10 s, never idle, and the run used none of it: others may have held both CPUs all along.
    assert contention_s(t0, Snapshot(110.0, 50.0, 2, 1.0)) == 10.0
    # ... but the run itself used 12 of the 20 CPU-seconds: others held both for 4 s at most.
    assert contention_s(t0, Snapshot(110.0, 50.0, 2, 1.0), run_cpu_s=12.0) == pytest.approx(4.0)
    # 10 s, one CPU's worth idle: others had 10 CPU-seconds, so both CPUs for 5 s at most; plus
    # 0.5 s throttled.
    assert contention_s(t0, Snapshot(110.0, 60.0, 2, 1.5)) == pytest.approx(5.5)
    # A run that kept both CPUs busy itself left no time for others.
    assert contention_s(t0, Snapshot(110.0, 50.0, 2, 1.0), run_cpu_s=20.0) == 0.0
    # The idle time unknown: the whole elapsed time.
    assert contention_s(t0, Snapshot(110.0, math.nan, 2, 1.0)) == 10.0


def test_others_share_is_the_cpus_busy_time_less_the_runs():
    t0 = Snapshot(at_s=100.0, idle_s=50.0, cpus=2, throttled_s=0.0)
    # 10 s on 2 CPUs: 20 CPU-seconds; 5 idle, the run used 5: others used 10 of 20
    assert timing.others_share(t0, Snapshot(110.0, 55.0, 2, 0.0), 5.0) == pytest.approx(0.5)
    # all idle but the run: nobody else
    assert timing.others_share(t0, Snapshot(110.0, 60.0, 2, 0.0), 10.0) == 0.0
    # more run time than the clocks allow (tick rounding): never below 0
    assert timing.others_share(t0, Snapshot(110.0, 60.0, 2, 0.0), 12.0) == 0.0
    assert math.isnan(timing.others_share(t0, Snapshot(110.0, math.nan, 2, 0.0), 1.0))
    assert math.isnan(timing.others_share(t0, t0, 1.0))


def test_a_busy_run_gets_a_note_that_trusts_the_ratios():
    assert timing.busy_note(0.1) is None
    assert timing.busy_note(math.nan) is None
    note = timing.busy_note(0.45)
    assert "45%" in note and "speed points hold" in note and "roof" in note


def test_quota_throttling_is_read_from_both_cgroup_versions(tmp_path, monkeypatch):
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    v2.mkdir()
    v1.mkdir()
    (v2 / "cpu.stat").write_text("usage_usec 100\nnr_throttled 3\nthrottled_usec 1500000\n")
    (v1 / "cpu.stat").write_text("nr_periods 9\nnr_throttled 2\nthrottled_time 250000000\n")
    monkeypatch.setattr(timing, "_cgroup_dirs", lambda: [str(v2), str(v1), str(tmp_path / "none")])
    assert timing._throttled_s() == pytest.approx(1.75)


def test_snapshot_reads_this_machine():
    s = timing.snapshot()
    assert s.cpus == len(os.sched_getaffinity(0)) and math.isfinite(s.idle_s) and s.idle_s > 0
    assert s.throttled_s >= 0


# One honest timed program: 20 calls, each computing (one thread busy) until 30 ms of the
# monotonic clock have passed, their measured times summed as the checker would.
HONEST = r"""
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
    double sum = 0;
    volatile unsigned long x = 0;
    for (int k = 0; k < 20; k++) {
        double t0 = now();
        while (now() - t0 < 0.03) x++;
        sum += now() - t0;
    }
    printf("%.6f\n", sum);
    return 0;
}
"""


@pytest.fixture
def honest(tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the timed program")
    d = Path(tempfile.mkdtemp(prefix="emlab-timing-test-", dir="/var/tmp"))  # reachable by the sandbox's uid
    d.chmod(0o755)
    (d / "honest.c").write_text(HONEST)
    subprocess.run(["gcc", "-O1", "-o", str(d / "honest"), str(d / "honest.c")], check=True, capture_output=True)
    (d / "work").mkdir(mode=0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_an_honest_run_on_a_busy_machine_adds_up(honest: Path):
    # Two spinning programs per CPU: the timed program gets a fraction of a core, so its calls'
    # wall time is well above its CPU time; the machine's busy time is what excuses it.
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        before = timing.snapshot()
        r = sandbox.run([str(honest / "honest")], workdir=honest / "work", ro_binds=[honest],
                        limits=sandbox.Limits(wall_s=300, cpu_s=60))
        contention = contention_s(before, timing.snapshot(), r.cpu_s)
    finally:
        for p in load:
            p.kill()
        for p in load:
            p.wait()
    assert (r.outcome, r.returncode) == ("exited", 0), r
    timed = float(r.stdout)
    assert timed >= 0.6
    assert implausible(claim(("cpu", timed)), r.wall_s, r.cpu_s, contention) is None, (timed, r.wall_s, r.cpu_s, contention)
