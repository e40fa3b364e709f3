"""`python3 -m grader course`: weights 60/10/30 and the bands at their boundaries."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO


def course(tmp_path, text, *extra):
    p = tmp_path / "in.csv"
    p.write_text(text)
    return subprocess.run([sys.executable, "-m", "grader", "course", str(p), *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("pct,band", [(100, "excellent"), (80.01, "excellent"), (80, "good"), (70, "good"),
                                      (60, "good"), (59.99, "satisfactory"), (40.01, "satisfactory"),
                                      (40, "fail"), (0, "fail")])
def test_bands_at_boundaries(tmp_path, pct, band):
    r = course(tmp_path, f"student,homework,review,project\ns,{pct},{pct},{pct}\n")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[1].split(",")
    assert line[-1] == band and float(line[-2]) == pytest.approx(pct, abs=0.005)


def test_weights(tmp_path):
    r = course(tmp_path, "student,homework,review,project\nh,100,0,0\nr,0,100,0\np,0,0,100\n")
    assert r.returncode == 0
    finals = {l.split(",")[0]: l.split(",")[4] for l in r.stdout.splitlines()[1:]}
    assert finals == {"h": "60.00", "r": "10.00", "p": "30.00"}


def test_out_file(tmp_path):
    r = course(tmp_path, "student,homework,review,project\na,90,90,90\n", "--out", str(tmp_path / "g.csv"))
    assert r.returncode == 0 and "a,90,90,90,90.00,excellent" in (tmp_path / "g.csv").read_text()


@pytest.mark.parametrize("text,why", [
    ("student,homework,review\na,1,2\n", "missing column"),
    ("student,homework,review,project\na,101,0,0\n", "outside 0-100"),
    ("student,homework,review,project\na,x,0,0\n", "not a number"),
    ("student,homework,review,project\na,1,0,0\na,2,0,0\n", "twice"),
    ("student,homework,review,project\n", "no students"),
    ("student,homework,review,project\na,,0,0\n", "empty"),
])
def test_bad_input(tmp_path, text, why):
    r = course(tmp_path, text)
    assert r.returncode == 2 and why in r.stderr and not r.stdout


def test_missing_file(tmp_path):
    r = subprocess.run([sys.executable, "-m", "grader", "course", str(tmp_path / "none.csv")], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_homework_from_gradebook(tmp_path):
    gb = {"rows": [{"student": "a", "lab": 1, "score": 50, "max_score": 100},
                   {"student": "a", "lab": 1, "score": 90, "max_score": 100},  # best of a lab counts
                   {"student": "a", "lab": 2, "score": 70, "max_score": 100},
                   {"student": "b", "lab": 1, "score": 100, "max_score": 100}]}  # lab 2 missing: 0
    (tmp_path / "gb.json").write_text(json.dumps(gb))
    r = course(tmp_path, "student,homework,review,project\na,,100,100\nb,,0,0\n", "--gradebook", str(tmp_path / "gb.json"))
    assert r.returncode == 0, r.stderr
    lines = {l.split(",")[0]: l.split(",") for l in r.stdout.splitlines()[1:]}
    assert lines["a"][1] == "80" and lines["a"][4] == "88.00"
    assert lines["b"][1] == "50" and lines["b"][4] == "30.00"
