"""`make report` as a student sees it, in a real browser: lab 1's reference solution checked twice by
the suite's own checker (what `make lab1 SOLUTION=1 && make check` runs, writing results.json and
history.jsonl into a build folder of the test's), then `make report BUILD=...`, and the page opened
in headless Chromium with the network blocked: no failed request, no console error, lab 1's roofline
with one point for each timed case of the code and one of the reference, the history with both runs,
every point drawn with a size, no sideways scrolling on a phone, and screenshots to look at."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOLUTION = REPO / "build" / "tests" / "solution" / "lab1" / "em-check"
SUITE_PEAKS = REPO / "build" / "tests" / "peaks.json"


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """A build folder holding lab 1's results.json and a history of two timed runs, CPU track."""
    if not SOLUTION.exists():
        pytest.fail(f"{SOLUTION} is missing: `make test` builds it (make test-build), run that first")
    build = tmp_path_factory.mktemp("build")
    (build / "lab1").mkdir()
    peaks = build / "peaks.json"
    if SUITE_PEAKS.exists():  # measured already by the suites; otherwise the checker measures
        shutil.copy(SUITE_PEAKS, peaks)
    for seed in (1, 2):
        r = subprocess.run([str(SOLUTION), "--track", "cpu", "--seed", str(seed), "--budget", "0.02",
                            "--json", str(build / "lab1" / "results.json"), "--peaks", str(peaks),
                            "--history", str(build / "lab1" / "history.jsonl"), "--color", "never"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"lab 1's reference failed its check (exit {r.returncode}):\n{r.stdout[-2000:]}{r.stderr}"
    r = subprocess.run(["make", "-s", "--no-print-directory", "report", f"BUILD={build}"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"make report failed (exit {r.returncode}):\n{r.stdout}{r.stderr}"
    page = build / "report.html"
    assert page.exists(), f"make report wrote no {page}:\n{r.stdout}"
    results = json.loads((build / "lab1" / "results.json").read_text())
    timed = [c for c in results["cases"] if c["track"] == "cpu" and c.get("time_ms") is not None]
    assert timed, "the check timed no case: the roofline would have nothing to show"
    return page, timed


def test_lab1_roofline_and_history_in_chromium(browser, checked, shots):
    page_path, timed = checked
    page = browser.open(str(page_path), width=1280, height=900)
    assert page.problems() == [], "the page must open offline without errors"
    charts = {c["name"]: c for c in page.chart_summary()}
    roof = charts.get("roofline-lab1-cpu")
    assert roof, f"no roofline chart for lab 1's CPU track; charts: {sorted(charts)}"
    assert roof["width"] > 200 and roof["height"] > 150, roof
    kinds = page.evaluate("""Array.from(document.querySelectorAll('svg[data-chart="roofline-lab1-cpu"] .em-point'),
                                        p => p.getAttribute('data-kind'))""")
    with_ref = [c for c in timed if c.get("ref_time_ms")]
    assert kinds.count("yours") == len(timed), f"{kinds.count('yours')} points of the code for {len(timed)} timed cases"
    assert kinds.count("reference") == len(with_ref), f"{kinds.count('reference')} reference points for {len(with_ref)}"
    assert roof["sized_points"] == roof["points"], f"points drawn without a size: {roof}"
    history = charts.get("history-lab1")
    assert history and history["points"] >= 2, f"the history should show both runs: {history}"
    assert history["sized_points"] == history["points"], history
    lab = page.evaluate("document.querySelector('section.em-lab[data-lab=\"1\"]') !== null")
    assert lab, "lab 1's section is missing"
    page.screenshot(shots / "student-report-desktop.png")
    page.close()

    phone = browser.open(str(page_path), width=390, height=844)
    assert phone.problems() == []
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px on a phone"
    assert all(c["width"] > 0 and c["height"] > 0 for c in phone.chart_summary())
    phone.screenshot(shots / "student-report-phone.png")
