"""The grader's HTML gradebook (`python3 -m grader report OUT`) in a real browser. A batch of 20
mixed submissions is graded for real (`python3 -m grader grade`: two labs; correct, partly wrong,
skeleton and unbuildable code; a hang, a crash, a memory hog, cheats, bad archives, one with markup
in its name), its page opened in headless Chromium at a desktop and at a phone size.

What html.parser cannot see (tests/grader/test_report.py reads the markup): that the page loads
with no failed request, console error or exception; that the charts are laid out with a size and
their marks drawn; that the sorting script reorders the rows; that a phone's width is not
overflowed. Screenshots of both sizes are kept for a person to look at (conftest.py: SHOTS)."""
from __future__ import annotations

import collections
import importlib.util
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from chromium import SKIP_REASON, find_chromium
from grader import gradebook

if not find_chromium():  # before the batch is graded: a minute spent for nothing to look at it with
    pytest.skip(SKIP_REASON, allow_module_level=True)

REPO = Path(__file__).resolve().parents[2]


def _grader_helpers():
    """tests/grader/conftest.py: the student sources, archive writers and the grade runner. Loaded
    under a name of its own: tests/browser has a conftest.py too, and `import conftest` finds
    whichever of the two pytest imported last."""
    spec = importlib.util.spec_from_file_location("emlab_grader_test_helpers", REPO / "tests" / "grader" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


G = _grader_helpers()
pristine = G.pristine  # the session's pristine build, as the grader's tests make it (a fixture)

# Lab 3 (z[i][j] = relu(x[j] * y[i])), the second lab of the batch: small hidden cases and one
# speed case of 4 MiB, so that a submission grades in about a second like lab 1's.
LAB3_CASES = [
    {"lab": 3, "part": "a", "name": "h3-1x1", "dims": [1, 1], "values": "uniform", "tracks": "cpu", "points": 1},
    {"lab": 3, "part": "a", "name": "h3-31x33", "dims": [31, 33], "values": "uniform", "tracks": "cpu", "points": 1},
    {"lab": 3, "part": "a", "name": "h3-neg", "dims": [61, 1030], "values": "x_negative", "tracks": "cpu", "points": 1},
    {"lab": 3, "part": "a", "name": "h3-perf", "dims": [1024, 1024], "values": "uniform", "tracks": "cpu",
     "points": 1, "perf_points": 2},
]

HEAD3 = '#include <stdint.h>\n#include "em/lab.h"\n#include "em/relu_mul.h"\n'
SIG3 = "void lab3_relu_mul(const float *x, const float *y, float *z, int64_t m, int64_t n)"
LAB3 = {
    "good": HEAD3 + SIG3 + " {\n#pragma omp parallel for schedule(static)\n  for (int64_t i = 0; i < m; ++i)\n"
            "    for (int64_t j = 0; j < n; ++j) { float p = x[j] * y[i]; z[i * n + j] = p > 0.0f ? p : 0.0f; }\n}\n",
    # Right, but walks z down its columns on one core: a speed well below the reference's.
    "slow": HEAD3 + SIG3 + " {\n  for (int64_t j = 0; j < n; ++j)\n    for (int64_t i = 0; i < m; ++i) {"
            " float p = x[j] * y[i]; z[i * n + j] = p > 0.0f ? p : 0.0f; }\n}\n",
    # The ReLU of the inputs instead of the product: wrong wherever both are negative.
    "relu_inputs": HEAD3 + SIG3 + " {\n  for (int64_t i = 0; i < m; ++i)\n    for (int64_t j = 0; j < n; ++j)"
                   " z[i * n + j] = (x[j] > 0.0f ? x[j] : 0.0f) * (y[i] > 0.0f ? y[i] : 0.0f);\n}\n",
    "skeleton": (REPO / "labs" / "lab3-relu-mul" / "relu_mul.c").read_text(),
    "build_error": HEAD3 + SIG3 + " { z[0] = x[0] * y[0] }\n",
}

# Markup in an archive's name: were the page to let it through, the browser would request the
# file "x" and open an alert, both of which the driver reports.
HOSTILE = "<img src=x onerror=alert(1)>"

STAMP = "20261128-120000"


def lab3_tar(path: Path, source: str) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
        G.add_bytes(t, "labs/lab3-relu-mul/relu_mul.c", source.encode())
    return path


def report(out: Path) -> Path:
    """`python3 -m grader report OUT`; the page it wrote."""
    r = subprocess.run([sys.executable, "-m", "grader", "report", str(out)], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out / "report.html"


def make_submissions(subs: Path) -> dict[str, str]:
    """The 20 archives, written into subs: {file name: the status it must get}."""
    want = {}
    lab1 = [("ada", "good", "ok"), ("cal", "skeleton", "ok"), ("dot", "modifies_inputs", "ok"),
            ("eli", "caches", "ok"), ("fay", "unwritten", "ok"), ("gil", "build_error", "build-error"),
            ("hex", "calls_reference", "cheat-suspected"), ("ivo", "forks", "cheat-suspected"),
            ("jan", "hangs", "timeout"), ("kai", "segfaults", "crash"), ("lev", "allocates", "limit-exceeded"),
            ("uma", "fake_score", "ok")]
    for student, key, status in lab1:
        name = f"lab1-{student}-{STAMP}.tar.gz"
        # A manifest as `make submit` writes one: the Claimed column has something to show.
        G.student_tar(subs / name, G.SRC[key], manifest={"schema": "em-manifest/1", "lab": 1, "user": student,
                                                        "claimed_score": {"points": 25, "max": 25}})
        want[name] = status
    # The good code again, from a zip with the file at its top (other bytes: graded on its own).
    name = f"lab1-bo-{STAMP}.zip"
    with zipfile.ZipFile(subs / name, "w") as z:
        z.writestr("add.c", G.SRC["good"] + "/* bo */\n")
    want[name] = "ok"
    name = f"lab1-mo{HOSTILE}-{STAMP}.tar.gz"
    (subs / name).write_bytes(b"this is a text file, not an archive\n" * 20)
    want[name] = "bad-archive"
    name = f"lab1-nia-{STAMP}.tar.gz"
    with tarfile.open(subs / name, "w:gz"):
        pass  # no file at all
    want[name] = "bad-archive"
    for student, key, status in [("pam", "good", "ok"), ("quy", "slow", "ok"), ("rex", "relu_inputs", "ok"),
                                 ("sol", "skeleton", "ok"), ("tam", "build_error", "build-error")]:
        name = f"lab3-{student}-{STAMP}.tar.gz"
        lab3_tar(subs / name, LAB3[key])
        want[name] = status
    assert len(want) == 20
    return want


@pytest.fixture(scope="module")
def graded(tmp_path_factory, pristine) -> dict:
    """The batch graded and reported once for every test here."""
    d = tmp_path_factory.mktemp("report-batch")
    subs = d / "subs"
    subs.mkdir()
    want = make_submissions(subs)
    hidden = d / "hidden.json"
    hidden.write_text(json.dumps({"seed": G.HIDDEN["seed"], "cases": G.HIDDEN["cases"] + LAB3_CASES}))
    hidden.chmod(0o600)  # the grader refuses a hidden file the sandboxed runs could read
    out = d / "out"
    # The grader's tests' limits (an honest run takes a second or two): a hang costs a call's
    # 15 s, the memory hog stops at 1.5 GB.
    G.grade(out, [subs], pristine, hidden, "--jobs", "2", "--timeout", "30", "--memory", "1536")
    gb = json.loads((out / "gradebook.json").read_text())
    return {"out": out, "page": report(out), "rows": gb["rows"], "want": want}


def test_the_batch_is_mixed(graded):
    """Every submission got the status its code earns: the pages looked at here show a batch of
    every kind of row, not of a few alike."""
    got = {r["submission"]: r["status"] for r in graded["rows"]}
    assert got == graded["want"]
    scores = {r["submission"]: r["score"] for r in graded["rows"] if r["status"] == "ok"}
    assert len(set(scores.values())) >= 3, scores  # full marks, none and some in between


def speedups_of(out: Path, row: dict) -> list[float]:
    """The speed cases' speedups in the row's results.json (what the page's speedup charts count)."""
    path = out / "submissions" / row["submission"] / "results.json"
    if not path.is_file():
        return []
    tests = json.loads(path.read_text()).get("tests") or []
    return [t["extra_data"]["speedup_vs_ref"] for t in tests
            if t["name"].endswith(" performance") and (t.get("extra_data") or {}).get("speedup_vs_ref", 0) > 0]


POINTS_JS = """
Object.fromEntries(Array.from(document.querySelectorAll('svg.em-chart'), svg => [svg.getAttribute('data-chart'),
  Array.from(svg.querySelectorAll('.em-point'), p => [p.getAttribute('data-label'), Number(p.getAttribute('data-value'))])]))
"""

# The table as shown, one entry per row in document order; data-sort is what the script sorts by
# ("" for an empty cell).
ROWS_JS = """
Array.from(document.querySelectorAll('#submissions tbody tr'), tr => ({
  cls: tr.className, submission: tr.cells[1].textContent.trim(), lab: tr.cells[2].getAttribute('data-sort'),
  status: tr.cells[3].textContent.trim(), score: tr.cells[4].getAttribute('data-sort'),
  speedup: tr.cells[6].getAttribute('data-sort')}))
"""


def test_desktop(browser, graded, shots):
    """A clean load; the table's rows and the charts' marks are the gradebook's."""
    page = browser.open(graded["page"], width=1280, height=900)
    assert page.problems() == []
    rows = graded["rows"]

    shown = page.evaluate(ROWS_JS)
    assert len(shown) == 20 and all(r["cls"] == "em-row" for r in shown)
    assert [r["submission"] for r in shown] == [r["submission"] for r in rows]  # HOSTILE shown as text
    assert [r["status"] for r in shown] == [r["status"] for r in rows]

    summary = {c["name"]: c for c in page.chart_summary()}
    points = page.evaluate(POINTS_JS)
    labs = sorted({r["lab"] for r in rows if isinstance(r["lab"], int)})
    assert labs == [1, 3]
    with_speedups = [lab for lab in labs if any(speedups_of(graded["out"], r) for r in rows if r["lab"] == lab)]
    assert with_speedups == [1, 3]
    assert set(summary) == ({"status"} | {f"scores-lab{n}" for n in labs} | {f"speedups-lab{n}" for n in with_speedups})
    for name, c in summary.items():
        # Laid out with a size, every mark drawn with one (only bins with a count are marks).
        assert c["width"] > 100 and c["height"] > 50, c
        assert c["points"] == c["sized_points"] > 0, c
        assert all(v > 0 for _, v in points[name]), (name, points[name])

    statuses = collections.Counter(r["status"] for r in rows)
    assert dict(points["status"]) == statuses and sum(statuses.values()) == 20
    for lab in labs:
        assert sum(v for _, v in points[f"scores-lab{lab}"]) == sum(1 for r in rows if r["lab"] == lab), lab
    for lab in with_speedups:
        want = sum(1 for r in rows if r["lab"] == lab and speedups_of(graded["out"], r))
        assert sum(v for _, v in points[f"speedups-lab{lab}"]) == want, lab
        # and the table agrees: one speedup shown per row counted
        assert sum(1 for r in shown if r["lab"] == str(lab) and r["speedup"]) == want, lab

    page.screenshot(shots / "grader-report-desktop.png")


def click(page, column: str) -> str:
    """Clicks the header button of `column`, as a person would; returns the header's aria-sort."""
    return page.evaluate(f"""(() => {{
      const b = Array.from(document.querySelectorAll('#submissions thead th button'))
                     .find(b => b.textContent.trim() === {json.dumps(column)});
      b.click();
      return b.closest('th').getAttribute('aria-sort');
    }})()""")


def sorted_rows(rows: list[dict], key: str, descending: bool) -> list[str]:
    """The order the sort must give: by the number in data-sort, the empty cells last either way,
    ties kept in the order they were in."""
    def k(item):
        pos, r = item
        v = r[key]
        return (v == "", 0.0 if v == "" else (-float(v) if descending else float(v)), pos)
    return [r["submission"] for _, r in sorted(enumerate(rows), key=k)]


def test_sorting_by_a_header_reorders_the_rows(browser, graded):
    """A click on a header sorts by its column, a second click the other way; the script's order
    (numbers by data-sort, empty cells last, ties as they were) worked out here independently."""
    page = browser.open(graded["page"])
    before = page.evaluate(ROWS_JS)
    assert click(page, "Score") == "ascending"
    ascending = page.evaluate(ROWS_JS)
    assert [r["submission"] for r in ascending] == sorted_rows(before, "score", descending=False)
    assert [r["submission"] for r in ascending] != [r["submission"] for r in before]  # it did reorder
    scores = [float(r["score"]) for r in ascending]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    assert click(page, "Score") == "descending"
    descending = page.evaluate(ROWS_JS)
    assert [r["submission"] for r in descending] == sorted_rows(ascending, "score", descending=True)
    assert [float(r["score"]) for r in descending] == sorted(scores, reverse=True)
    # Another column: the rows without a speedup go last, and the Score header is no longer sorted.
    assert click(page, "Speedup") == "ascending"
    by_speed = page.evaluate(ROWS_JS)
    assert [r["submission"] for r in by_speed] == sorted_rows(descending, "speedup", descending=False)
    assert 0 < sum(1 for r in by_speed if r["speedup"]) < 20 and by_speed[-1]["speedup"] == ""
    assert page.evaluate("Array.from(document.querySelectorAll('#submissions th'), th => th.getAttribute('aria-sort'))"
                         ).count("none") == 8
    assert len(by_speed) == 20 and page.problems() == []


# The layout at a phone's width: how far the page reaches past the screen, and each chart's box.
PHONE_JS = """({
  width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
  wide: Array.from(document.querySelectorAll('body *'), e => [e, e.getBoundingClientRect()])
    .filter(([e, b]) => b.right > window.innerWidth + 0.5 && !e.closest('.em-scroll'))
    .map(([e, b]) => e.tagName.toLowerCase() + '.' + (e.getAttribute('class') || '') + ' right=' + Math.round(b.right))
    .slice(0, 10),
  charts: Array.from(document.querySelectorAll('svg.em-chart'), s => { const b = s.getBoundingClientRect();
    return {name: s.getAttribute('data-chart'), left: b.left, right: b.right, width: b.width, height: b.height}; }),
  table: (() => { const s = document.querySelector('.em-scroll'), b = s.getBoundingClientRect();
    return {right: b.right, clientWidth: s.clientWidth, scrollWidth: s.scrollWidth}; })()
})"""


def test_phone(browser, graded, shots):
    """At a phone's width the page scrolls only up and down: the charts shrink to the screen, the
    table scrolls sideways inside its own box."""
    page = browser.open(graded["page"], width=390, height=844)
    assert page.problems() == []
    layout = page.evaluate(PHONE_JS)
    assert layout["width"] == 390
    # Nothing but the table's own box may be wider than the screen, and that box scrolls.
    assert layout["scrollWidth"] <= layout["width"], layout
    assert layout["wide"] == [], layout["wide"]
    assert layout["table"]["right"] <= layout["width"] and layout["table"]["scrollWidth"] > layout["table"]["clientWidth"]
    assert len(layout["charts"]) == 5
    for c in layout["charts"]:
        assert c["left"] >= 0 and c["right"] <= layout["width"] and c["width"] > 200 and c["height"] > 50, c
    assert all(c["points"] == c["sized_points"] > 0 for c in page.chart_summary())
    page.screenshot(shots / "grader-report-phone.png")


def test_print_shows_every_row(browser, graded):
    """Printed, the table is not a scrolling box: all of it is on paper."""
    page = browser.open(graded["page"], width=800, height=1000)
    page._call("Emulation.setEmulatedMedia", {"media": "print"})
    box = page.evaluate("(() => { const s = document.querySelector('.em-scroll');"
                        " return {overflow: getComputedStyle(s).overflowY, client: s.clientHeight, scroll: s.scrollHeight}; })()")
    assert box["overflow"] == "visible" and box["scroll"] <= box["client"] + 1, box
    assert page.problems() == []


# Every chart's text drawn inside the chart's box (the svg clips what is outside), and the tick
# labels of one line (an axis) apart from each other: both depend on the font's real widths.
LABELS_JS = """
Array.from(document.querySelectorAll('svg.em-chart'), svg => {
  const s = svg.getBoundingClientRect(), texts = Array.from(svg.querySelectorAll('text'));
  const outside = texts.filter(t => { const b = t.getBoundingClientRect();
    return b.left < s.left - 0.5 || b.right > s.right + 0.5 || b.top < s.top - 0.5 || b.bottom > s.bottom + 0.5; });
  const lines = {};
  for (const t of svg.querySelectorAll('text.em-tick')) (lines[t.getAttribute('y')] ||= []).push(t);
  const overlapping = [];
  for (const line of Object.values(lines)) {
    const boxes = line.map(t => [t.textContent, t.getBoundingClientRect()]).sort((a, b) => a[1].left - b[1].left);
    for (let k = 1; k < boxes.length; ++k)
      if (boxes[k][1].left < boxes[k - 1][1].right + 2) overlapping.push(boxes[k - 1][0] + ' / ' + boxes[k][0]);
  }
  return {name: svg.getAttribute('data-chart'), outside: outside.map(t => t.textContent), overlapping};
})
"""


def hand_made(out: Path, speedups: dict[int, list[float]]) -> Path:
    """A grading folder as grade writes one, of ok rows with these speedups per lab (one speed case
    each), reported: speeds a real batch on one machine does not reach."""
    rows = []
    for lab, values in speedups.items():
        for k, sp in enumerate(values):
            r = gradebook.Row(submission=f"lab{lab}-s{k:02d}-{STAMP}.tar.gz", sha256=f"{lab}{k:063x}", student=f"s{k:02d}",
                              lab=lab, status="ok", score=100.0, max_score=100.0)
            rows.append(r)
            gradebook.write_results(str(out), r, [{
                "name": f"lab{lab} (b) h-perf [cpu] performance", "score": 1.0, "max_score": 1.0, "status": "passed",
                "output": "", "visibility": "visible", "extra_data": {"speedup_vs_ref": sp}}])
    gradebook.write_json(str(out / "gradebook.json"), rows, {"track": "cpu"}, gradebook.summary(rows, 1.0, 0))
    gradebook.write_csv(str(out / "gradebook.csv"), rows)
    return report(out)


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_chart_labels_stay_inside_their_chart_and_apart(browser, graded, tmp_path, width, height):
    """The axis labels are whole and legible: none cut off at the svg's edge (a log-scale speedup
    axis ends in labels like "1.41x" and "1.45e+03x"), none over its neighbour."""
    # Lab 1: three decades either side of the reference, the longest labels _fmt writes ("0.000691x",
    # "1.45e+03x") at both ends of the axis; lab 2: one speedup, one bin.
    wide = hand_made(tmp_path, {1: [0.001, 0.003, 0.01, 0.05, 0.2, 0.9, 1.1, 3.0, 20.0, 150.0, 900.0], 2: [1.0]})
    bad = []
    for path in (graded["page"], wide):
        page = browser.open(path, width=width, height=height)
        assert page.problems() == []
        bad += [(path.parent.name, c) for c in page.evaluate(LABELS_JS) if c["outside"] or c["overlapping"]]
    assert not bad, "\n".join(f"{where}: {chart}" for where, chart in bad)
