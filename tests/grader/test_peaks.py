"""The peaks the grader measures once per batch: on a machine that other programs keep busy they are
still kept (every run gets a copy instead of measuring again under the batch's own load), and the
instructor is told that the students' roof column will read high."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader import build as buildmod

from conftest import REPO

VERIFIER = REPO / "build" / "tests" / "solution" / "lab1" / "em-check"


def busy_programs() -> list[subprocess.Popen]:
    """Two spinning programs per CPU: whatever else runs gets about a third of the time."""
    n = 2 * (os.cpu_count() or 1)
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


@pytest.mark.skipif(not VERIFIER.exists(), reason=f"{VERIFIER} is not built (make test-build)")
def test_peaks_measured_under_load_are_kept_and_said(tmp_path: Path):
    pristine = buildmod.Pristine(repo=str(REPO), build=str(tmp_path), verifier=str(VERIFIER), em_archive=None)
    said: list[str] = []
    load = busy_programs()
    try:
        peaks = buildmod.measure_peaks(pristine, None, said.append)
    finally:
        for p in load:
            p.kill()
        for p in load:
            p.wait()
    assert peaks is not None and os.path.exists(peaks), "no peaks file: every run would measure again"
    assert any("measured while other programs held the cores" in s for s in said), said
    assert any("delete" in s and peaks in s for s in said), "the message says how to get honest peaks"

    # Measured once: a second batch takes the file as it is, and says nothing.
    said.clear()
    assert buildmod.measure_peaks(pristine, None, said.append) == peaks
    assert said == []
