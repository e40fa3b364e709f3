"""`make report` (scripts/report.py) on hand-made build folders: one section per lab checked, a
roofline chart per track whose points are the timed cases (the code's and the reference's), the
case table, the history chart, the page's markup contract (classes, data- attributes, titles),
escaping, no URL anywhere, and exit 2 with nothing written when no lab was checked."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "report.py"

PEAKS = {"cpu_copy_gbps": 40.0, "cpu_fma_gflops": 400.0, "cpu_int8_gops": 1600.0,
         "gpu_copy_gbps": 4000.0, "gpu_fma_gflops": 60000.0, "gpu_bf16_tc_gflops": 700000.0,
         "gpu_int8_tc_gops": 1400000.0}


# ---- fixtures: results.json and history.jsonl as em-check writes them -------------------------------

def case(part, name, track, status="pass", time_ms=None, ref_time_ms=None, flops=1e6, bytes_=8e6, **kw):
    """A case of results.json: timed when time_ms is given, its figures derived as the checker does."""
    c = {"part": part, "name": name, "track": track, "shape": f"n={name}", "status": status, "kind": "",
         "reason": kw.pop("reason", ""), "flops": flops, "bytes": bytes_,
         "arithmetic_intensity": flops / bytes_ if bytes_ else None, "time_ms": time_ms, "ref_time_ms": ref_time_ms,
         "naive_time_ms": None, "speedup_vs_ref": None, "speedup_vs_naive": None, "gbps": None, "gflops": None,
         "roofline_frac": None, "compute_peak": None, "impossible_speed": False,
         "score": {"points": 1.0 if status == "pass" else 0.0, "max": 1.0}}
    if time_ms is not None:
        s = time_ms * 1e-3
        c.update(gbps=bytes_ / s / 1e9, gflops=flops / s / 1e9, roofline_frac=0.5,
                 speedup_vs_ref=ref_time_ms / time_ms if ref_time_ms else None, speedup_vs_naive=3.0,
                 naive_time_ms=3 * time_ms, compute_peak="gpu_fma_gflops" if track == "cuda" else "cpu_fma_gflops")
    c.update(kw)
    return c


def results(lab, name, cases, peaks=PEAKS, **kw):
    tracks = list(dict.fromkeys(c["track"] for c in cases))
    r = {"schema": "em-results/1", "lab": lab, "name": name, "mode": "check", "solution": False, "tracks": tracks,
         "seed": 7, "machine": {"cpu": "Test CPU", "gpu": "Test GPU", "peaks": dict(peaks)}, "cases": cases,
         "timing": {"busy": False}, "score": {"points": 0, "max": 0}}
    r.update(kw)
    return r


def history_line(when, points, mx, speedups=(), solution=False):
    cases = [{"part": "b", "name": f"c{i}", "track": "cpu", "time_ms": 1.0, "speedup_vs_ref": s, "gbps": 1.0,
              "gflops": 1.0, "roofline_frac": 0.5, "status": "pass"} for i, s in enumerate(speedups)]
    return {"schema": "em-history/1", "when": when, "lab": 3, "solution": solution, "seed": 7, "timing": bool(cases),
            "tracks": ["cpu"], "score": {"cpu": {"points": points, "max": mx}}, "passed": 3, "failed": 0,
            "skipped": 0, "cases": cases}


def write_lab(build: Path, lab: int, res: dict | str, history: list | None = None) -> Path:
    d = build / f"lab{lab}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "results.json").write_text(res if isinstance(res, str) else json.dumps(res))
    if history is not None:
        (d / "history.jsonl").write_text("".join((h if isinstance(h, str) else json.dumps(h)) + "\n" for h in history))
    return d


def run_report(build: Path, out: Path):
    return subprocess.run([sys.executable, str(SCRIPT), "--build", str(build), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)


# ---- reading the page back -------------------------------------------------------------------------------

class Page(HTMLParser):
    """The page's sections, charts (with their title and points) and every tag and text seen."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.sections, self.charts, self.tags, self.texts = [], {}, [], []
        self.chart = None     # the chart being read
        self.depth = 0        # elements open inside it
        self.in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        classes = (a.get("class") or "").split()
        if tag == "section" and "em-lab" in classes:
            self.sections.append(a.get("data-lab"))
        if tag == "svg" and "em-chart" in classes:
            self.chart = {"name": a.get("data-chart"), "viewBox": a.get("viewbox"), "title": None, "points": []}
            self.charts[a.get("data-chart")] = self.chart
            self.depth = 0
            return
        if self.chart is None:
            return
        if "em-point" in classes:
            self.chart["points"].append((a.get("data-kind"), float(a["data-value"]), a))
        if tag == "title" and self.depth == 0 and self.chart["title"] is None:
            self.in_title, self.chart["title"] = True, ""
        self.depth += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.chart is not None and tag != "svg":
            self.depth -= 1

    def handle_endtag(self, tag):
        if self.chart is None:
            return
        if tag == "svg" and self.depth == 0:
            self.chart = None
            return
        self.depth -= 1
        if tag == "title":
            self.in_title = False

    def handle_data(self, data):
        self.texts.append(data)
        if self.chart is not None and self.in_title:
            self.chart["title"] += data

    def kinds(self, name):
        return [k for k, _, _ in self.charts[name]["points"]]

    def values(self, name, kind):
        return sorted(v for k, v, _ in self.charts[name]["points"] if k == kind)

    @property
    def text(self):
        return "".join(self.texts)


@pytest.fixture
def build(tmp_path):
    return tmp_path / "build"


def page_of(build: Path, tmp_path: Path) -> tuple[Page, str]:
    out = tmp_path / "out" / "report.html"
    r = run_report(build, out)
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout, "it says where the page is"
    text = out.read_text(encoding="utf-8")
    return Page(text), text


# ---- the tests --------------------------------------------------------------------------------------------------

def lab3_cases():
    return [case("a", "1", "cpu", time_ms=0.5, ref_time_ms=0.4),
            case("b", "2", "cpu", time_ms=2.0, ref_time_ms=1.0, flops=4e6),
            case("b", "3", "cpu", status="fail", reason="wrong at [3]"),        # failed: not timed
            case("b", "4", "cpu", time_ms=1.0, ref_time_ms=None),             # no reference time
            case("a", "1", "cuda", time_ms=0.01, ref_time_ms=0.02),
            case("b", "2", "cuda", time_ms=0.02, ref_time_ms=0.02)]


def test_points_are_the_timed_cases_yours_and_the_reference(build, tmp_path):
    cases = lab3_cases()
    write_lab(build, 3, results(3, "relu_mul", cases))
    page, _ = page_of(build, tmp_path)
    assert page.sections == ["3"]
    for track in ("cpu", "cuda"):
        name = f"roofline-lab3-{track}"
        assert name in page.charts, f"no {name} chart"
        chart = page.charts[name]
        assert chart["title"], "every chart has a <title>"
        assert chart["viewBox"], "every chart has a viewBox"
        mine = [c for c in cases if c["track"] == track and c["time_ms"]]
        ref = [c for c in mine if c["ref_time_ms"]]
        assert page.kinds(name).count("yours") == len(mine)
        assert page.kinds(name).count("reference") == len(ref)
        assert set(page.kinds(name)) <= {"yours", "reference"}
        assert page.values(name, "yours") == sorted(c["gflops"] for c in mine), "data-value is the case's GFLOP/s"
        assert page.values(name, "reference") == pytest.approx(
            sorted(c["flops"] / (c["ref_time_ms"] * 1e-3) / 1e9 for c in ref), rel=1e-12)
    # the table: one row per case, with its figures
    rows = [a for t, a in page.tags if t == "tr" and a.get("class") in ("pass", "fail", "error", "skip")]
    assert len(rows) == len(cases)
    assert "wrong at [3]" in page.text, "a failing case says why"
    assert "1 of 4 cases are not on the chart, as only cases that pass are timed: (b) 3" in page.text


def test_extra_ceilings_where_cases_were_held_to_them(build, tmp_path):
    cases = [case("a", "fwd", "cpu", time_ms=1.0, ref_time_ms=1.0, flops=1e9, bytes_=1e6, compute_peak="cpu_int8_gops"),
             case("a", "bf16", "cuda", time_ms=0.1, ref_time_ms=0.1, flops=1e9, bytes_=1e6,
                  compute_peak="gpu_bf16_tc_gflops")]
    write_lab(build, 8, results(8, "qlinear", cases))
    write_lab(build, 1, results(1, "add", [case("a", "1", "cpu", time_ms=1.0, ref_time_ms=1.0)]))
    _, text = page_of(build, tmp_path)
    chart = {m.group(1): m.group(0) for m in re.finditer(r'<svg[^>]*data-chart="([^"]+)".*?</svg>', text, re.S)}
    assert "int8 1,600 GOP/s" in chart["roofline-lab8-cpu"]
    assert "bf16 tensor cores 700,000 GFLOP/s" in chart["roofline-lab8-cuda"]
    assert "int8" not in chart["roofline-lab1-cpu"], "a lab of float32 cases gets the FMA ceiling alone"
    assert "FMA 400 GFLOP/s" in chart["roofline-lab1-cpu"]


def test_lab_without_timing_has_its_table_and_says_why(build, tmp_path):
    cases = [case("a", str(i), "cpu") for i in range(3)]
    write_lab(build, 2, results(2, "outer_add", cases))
    page, _ = page_of(build, tmp_path)
    assert page.sections == ["2"]
    assert page.charts["roofline-lab2-cpu"]["points"] == []
    assert "no-timing" in page.text, "the page says why there is no point"
    rows = [a for t, a in page.tags if t == "tr" and a.get("class") == "pass"]
    assert len(rows) == 3


def test_track_without_peaks_has_no_chart_and_says_why(build, tmp_path):
    peaks = dict(PEAKS, gpu_copy_gbps=None, gpu_fma_gflops=None)
    cases = [case("a", "1", "cpu", time_ms=1.0, ref_time_ms=1.0),
             case("a", "1", "cuda", status="skip", reason="no usable CUDA device: none here")]
    write_lab(build, 1, results(1, "add", cases, peaks=peaks))
    page, _ = page_of(build, tmp_path)
    assert "roofline-lab1-cuda" not in page.charts
    assert "no usable CUDA device: none here" in page.text
    assert page.kinds("roofline-lab1-cpu") == ["reference", "yours"]


def test_history_chart_has_a_score_per_run_and_the_best_speedup(build, tmp_path):
    history = [history_line("2026-03-01T10:00:00Z", 3.0, 10.0, speedups=[0.5, 0.8]),
               history_line("2026-03-02T10:00:00Z", 6.5, 10.0),                      # --no-timing: no speedup
               "{not json",                                                           # skipped
               history_line("2026-03-03T10:00:00Z", 10.0, 10.0, speedups=[1.3, 0.9], solution=True)]
    write_lab(build, 3, results(3, "relu_mul", lab3_cases()), history)
    page, _ = page_of(build, tmp_path)
    chart = page.charts["history-lab3"]
    assert chart["title"]
    assert page.values("history-lab3", "score") == [3.0, 6.5, 10.0]
    assert page.values("history-lab3", "speedup") == [0.8, 1.3]
    assert set(page.kinds("history-lab3")) == {"score", "speedup"}
    assert "1 lines of history.jsonl were not a run" in page.text


def test_lab_without_history_still_gets_its_chart(build, tmp_path):
    write_lab(build, 4, results(4, "relu_mul_backward", [case("a", "1", "cpu")]))
    page, _ = page_of(build, tmp_path)
    assert page.charts["history-lab4"]["points"] == []
    assert "No history yet" in page.text


def test_sections_in_lab_order_and_other_folders_ignored(build, tmp_path):
    for n in (10, 2, 7):
        write_lab(build, n, results(n, f"lab{n}", [case("a", "1", "cpu")]))
    (build / "lab8-example").mkdir()
    (build / "lab8-example" / "results.json").write_text("{}")  # not a lab's folder
    (build / "lab5").mkdir()                                     # built, never checked
    page, _ = page_of(build, tmp_path)
    assert page.sections == ["2", "7", "10"]


def test_unreadable_results_is_said_in_its_section(build, tmp_path):
    write_lab(build, 1, results(1, "add", [case("a", "1", "cpu")]))
    write_lab(build, 6, "{\"cases\": [")
    page, _ = page_of(build, tmp_path)
    assert page.sections == ["1", "6"]
    assert "could not be read" in page.text and "make lab6 && make check" in page.text


def test_nothing_checked_exits_2_and_writes_nothing(build, tmp_path):
    out = tmp_path / "report.html"
    for folder in (build, tmp_path / "absent"):
        if folder == build:
            (build / "lab1").mkdir(parents=True)   # built, not checked: no results.json
        r = run_report(folder, out)
        assert r.returncode == 2
        assert r.stderr.strip() == "nothing to report yet: make lab1 && make check"
        assert not out.exists()


def test_page_loads_nothing(build, tmp_path):
    write_lab(build, 3, results(3, "relu_mul", lab3_cases()),
              [history_line("2026-03-01T10:00:00Z", 3.0, 10.0, speedups=[0.5])])
    page, text = page_of(build, tmp_path)
    assert not re.search(r"https?://", text, re.I), "a URL in the page"
    assert not re.search(r"url\(|@import", text, re.I), "CSS that fetches"
    for tag, a in page.tags:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed"), f"<{tag}> in the page"
        assert "src" not in a, f"<{tag} src=...>"
        assert (a.get("href") or "#").startswith("#"), f"<{tag} href={a.get('href')}>"
    csp = [a for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]


def test_every_string_is_escaped(build, tmp_path):
    evil = '<script>alert("x")</script> & \'q\''
    cases = [case("a", evil, "cpu", time_ms=1.0, ref_time_ms=1.0),
             case("b", "bad", "cpu", status="fail", reason=f"wrong: {evil}")]
    res = results(1, f"<b>{evil}</b>", cases)
    res["machine"]["cpu"] = evil
    write_lab(build, 1, res, [history_line("2026-03-01T10:00:00Z", 1.0, 2.0, speedups=[1.0]) | {"seed": evil}])
    page, text = page_of(build, tmp_path)
    assert "<script" not in text and "<b>" not in text
    assert not any(t in ("script", "b") for t, _ in page.tags)
    assert "&lt;script&gt;" in text
    assert evil in page.text, "the string reads back as it was"
    assert page.kinds("roofline-lab1-cpu").count("yours") == 1


def make_report(build: Path):
    # Without the variables by which a `make test` that runs us would hand its own command line
    # (BUILD=...) to this make.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    return subprocess.run(["make", "-s", "report", f"BUILD={build}"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)


def test_make_report(tmp_path):
    """The Makefile's target: the page where it says, or exit 2 and the message before any check."""
    build = tmp_path / "build"
    r = make_report(build)
    assert r.returncode == 2
    assert "nothing to report yet: make lab1 && make check" in r.stderr
    assert not (build / "report.html").exists()
    write_lab(build, 1, results(1, "add", [case("a", "1", "cpu", time_ms=1.0, ref_time_ms=1.0)]))
    r = make_report(build)
    assert r.returncode == 0, r.stderr
    assert f"{build}/report.html" in r.stdout
    assert Page((build / "report.html").read_text()).sections == ["1"]
