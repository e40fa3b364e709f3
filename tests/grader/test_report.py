"""`python3 -m grader report OUT`: the HTML gradebook of a grading folder, read back with
html.parser: the charts and their marks match the gradebook, every string from an archive is
escaped, the page needs nothing from outside, and bad folders are refused without a byte written."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO, SRC, grade, student_tar
from grader import gradebook, report
from grader.gradebook import STATUSES, Row

HOSTILE = "<script>alert(1)</script>"
# (student, lab, status, score, speedups of its speed cases or None): 20 submissions, every status
# of the grader, two labs, one archive that never said its lab.
ROWS = [("ana", 1, "ok", 100.0, [1.1]), ("ben", 1, "ok", 87.5, [0.5, 2.0]), ("cy", 1, "ok", 62.0, [0.25]),
        ("dee", 1, "ok", 0.0, None), ("eve", 1, "ok", 45.0, [4.0]), (HOSTILE, 1, "ok", 93.0, [1.0]),
        ("gus", 1, "build-error", 0.0, None), ("hal", 1, "build-error", 0.0, None), ("ida", 1, "timeout", 0.0, None),
        ("jo", 1, "crash", 0.0, None), ("kim", 1, "cheat-suspected", 0.0, None),
        ("lu", 1, "limit-exceeded", 0.0, None), ("max", "", "bad-archive", 0.0, None),
        ("ned", 3, "bad-archive", 0.0, None), ("ola", 3, "ok", 55.5, None), ("pia", 3, "ok", 12.0, [8.0]),
        ("quin", 3, "ok", 100.0, [16.0, 16.0]), ("rae", 3, "error", 0.0, None), ("sam", 3, "timeout", 0.0, None),
        ("tia", 3, "ok", 71.0, [0.9])]
REASON = '"><img src=x onerror=alert(2)> & </table>'


# ---- reading the page back ---------------------------------------------------------------------

@dataclass
class El:
    tag: str
    attrs: dict
    parents: list
    text: list = field(default_factory=list)

    def classes(self) -> set:
        return set((self.attrs.get("class") or "").split())

    def inside(self, other: "El") -> bool:
        return any(p is other for p in self.parents)


class Page(HTMLParser):
    VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr", "area", "base", "embed"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[El] = []
        self.all: list[El] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        el = El(tag, dict(attrs), list(self.stack))
        self.all.append(el)
        if tag not in self.VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.all.append(El(tag, dict(attrs), list(self.stack)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        for el in self.stack:
            el.text.append(data)

    def find(self, tag=None, cls=None, within=None, **attrs) -> list[El]:
        return [e for e in self.all if (tag is None or e.tag == tag) and (cls is None or cls in e.classes())
                and (within is None or e.inside(within)) and all(e.attrs.get(k) == v for k, v in attrs.items())]

    def charts(self) -> dict[str, El]:
        return {e.attrs["data-chart"]: e for e in self.find("svg", "em-chart")}

    def points(self, chart: El) -> list[int]:
        return [int(p.attrs["data-value"]) for p in self.find(cls="em-point", within=chart)]

    def rows(self) -> list[list[str]]:
        (tbody,) = self.find("tbody", within=self.find("table", id="submissions")[0])
        return [["".join(td.text).strip() for td in self.find("td", within=tr)]
                for tr in self.find("tr", "em-row", within=tbody)]


def run_report(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "report", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def read(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


# ---- a hand-made grading folder ----------------------------------------------------------------

def perf_test(lab, k: int, sp: float) -> dict:
    return {"name": f"lab{lab} (b) h-perf{k} [cpu] performance", "score": 1.0, "max_score": 1.0, "status": "passed",
            "output": f"{1 / sp:.2f}x the reference's time (full at <= 1.2x)", "visibility": "visible",
            "extra_data": {"speedup_vs_ref": sp}}


def make_folder(out: Path, spec=ROWS) -> list[Row]:
    """A grading folder as grade writes it: gradebook.json and .csv, and each row's results.json."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (student, lab, status, score, sps) in enumerate(spec):
        r = Row(submission=f"lab{lab or 0}-s{k:02d}-20261128-120000.tar.gz", sha256=f"{k:064x}", student=student,
                lab=lab, status=status, reason="" if status == "ok" else f"{status}: {REASON}", score=score,
                max_score=100.0, claimed_score="25/25" if k % 2 else "", notes=f"note {k} </td>")
        rows.append(r)
        gradebook.write_results(str(out), r, [perf_test(lab, j, sp) for j, sp in enumerate(sps or [])])
    gradebook.write_json(str(out / "gradebook.json"), rows, {"grader_version": "2", "track": "cpu",
                                                             "isolation": "bubblewrap <b>"}, gradebook.summary(rows, 1.0, 0))
    gradebook.write_csv(str(out / "gradebook.csv"), rows)
    return rows


@pytest.fixture
def folder(tmp_path) -> Path:
    make_folder(tmp_path / "out")
    return tmp_path / "out"


@pytest.fixture
def page(folder) -> Page:
    r = run_report(folder)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and str(folder / "report.html") in r.stderr
    return read(folder / "report.html")


# ---- the page ----------------------------------------------------------------------------------

def test_one_table_row_per_submission(page):
    rows = page.rows()
    assert len(rows) == 20 == len(page.find("tr", "em-row"))
    assert [r[0] for r in rows] == [s[0] for s in ROWS]  # in the gradebook's order, the student first
    assert rows[1][:7] == ["ben", "lab1-s01-20261128-120000.tar.gz", "1", "ok", "87.5 / 100", "25/25", "1x"]
    assert rows[12][2] == "-" and rows[12][3] == "bad-archive"  # the archive that never said its lab


def test_charts_match_the_gradebook(page):
    charts = page.charts()
    assert set(charts) == {"status", "scores-lab1", "speedups-lab1", "scores-lab3", "speedups-lab3"}
    for name, svg in charts.items():
        assert svg.attrs["viewbox"].startswith("0 0 "), name  # scales with its column
        assert len(page.find("title", within=svg)) >= 1 and page.find("title", within=svg)[0].parents[-1] is svg
    # Every mark is in a chart.
    assert all(any(p.inside(c) for c in charts.values()) for p in page.find(cls="em-point"))
    # One status bar per status that occurs, the counts summing to the rows.
    bars = {p.attrs["data-label"]: int(p.attrs["data-value"]) for p in page.find(cls="em-point", within=charts["status"])}
    want = {s: sum(1 for r in ROWS if r[2] == s) for s in STATUSES}
    assert bars == {s: n for s, n in want.items() if n} and sum(bars.values()) == 20
    assert set(bars) == set(STATUSES)  # this batch has every status of the grader
    # Scores: every row of the lab, once; the lab-less archive in none.
    assert sum(page.points(charts["scores-lab1"])) == 12 and sum(page.points(charts["scores-lab3"])) == 7
    # Speedups: the rows that have any, once each.
    assert sum(page.points(charts["speedups-lab1"])) == 5 and sum(page.points(charts["speedups-lab3"])) == 3
    assert all(v > 0 for c in charts.values() for v in page.points(c))  # an empty bin is no mark


def test_score_bins(page):
    bins = {p.attrs["data-label"]: int(p.attrs["data-value"])
            for p in page.find(cls="em-point", within=page.charts()["scores-lab3"])}
    # 0 55.5 12 100 0 0 71: 100% falls in the last bin, not past it.
    assert bins == {"0-10%": 3, "10-20%": 1, "50-60%": 1, "70-80%": 1, "90-100%": 1}
    assert sum(bins.values()) == sum(1 for r in ROWS if r[1] == 3)


def test_speedups_are_geometric_means_on_a_log_scale(page):
    rows = {r[0]: r for r in page.rows()}
    assert rows["ben"][6] == "1x"  # sqrt(0.5 * 2.0)
    assert rows["quin"][6] == "16x" and rows["dee"][6] == "-" and rows["gus"][6] == "-"
    bins = {p.attrs["data-label"]: int(p.attrs["data-value"])
            for p in page.find(cls="em-point", within=page.charts()["speedups-lab3"])}
    assert sum(bins.values()) == 3
    for label in bins:  # half-octave bins: the upper edge is sqrt(2) times the lower
        lo, hi = (float(x) for x in label.rstrip("x").split("-"))
        assert hi / lo == pytest.approx(math.sqrt(2), rel=0.01)


def test_every_string_from_an_archive_is_escaped(folder, page):
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img" not in text and text.count("</table>") == 1 and text.count("</td>") == 20 * 9
    # The markup is the page's own: one script (the sorter), no image, one table, 20 rows.
    assert len(page.find("script")) == 1 and not page.find("img") and len(page.find("table")) == 1
    scripts = "".join(page.find("script")[0].text)
    assert "alert" not in scripts
    # The strings themselves are all there, as text.
    rows = {r[0]: r for r in page.rows()}
    assert HOSTILE in rows and rows["gus"][7] == f"build-error: {REASON}" and rows["gus"][8] == "note 6 </td>"
    assert "bubblewrap <b>" in "".join(page.find("p", "em-facts")[0].text)


def test_the_table_sorts_by_keyboard_too(page):
    """Each header is a button (Enter and Space press it), its aria-sort says the order."""
    heads = page.find("th", within=page.find("table", id="submissions")[0])
    assert len(heads) == 9 and all(h.attrs.get("aria-sort") == "none" for h in heads)
    assert all(len(page.find("button", within=h)) == 1 for h in heads)
    script = "".join(page.find("script")[0].text)
    assert 'getElementById("submissions")' in script and "addEventListener" in script and "aria-sort" in script
    # Numbers sort by data-sort, not by their words.
    score = page.find("td", within=page.find("tr", "em-row")[1])[4]
    assert score.attrs["data-sort"] == "87.5"


def test_nothing_from_outside(folder, page):
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "url(" not in text and "@import" not in text
    assert not page.find("link") and not page.find("iframe") and not page.find("object")
    assert not [e for e in page.all if "src" in e.attrs or "href" in e.attrs]


def test_phone_and_print(folder, page):
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert page.find("meta", name="viewport")
    assert "@media print" in text and "position:static" in text.split("@media print")[1]
    assert "break-inside:avoid" in text.split("@media print")[1]
    scroller = page.find("table", id="submissions")[0].parents[-1]
    assert "em-scroll" in scroller.classes() and scroller.attrs.get("tabindex") == "0"  # scrolls sideways, by keys too
    assert ".em-scroll{overflow:auto" in text


def test_an_empty_gradebook_says_so(tmp_path):
    out = tmp_path / "out"
    make_folder(out, [])
    r = run_report(out)
    assert r.returncode == 0, r.stderr
    page = read(out / "report.html")
    assert not page.charts() and not page.find(cls="em-point") and page.rows() == []
    assert "no submissions" in "".join(page.find("p", "em-empty")[0].text)


def test_html_elsewhere_replaces_the_old_page_whole(folder, tmp_path):
    dest = tmp_path / "pages" / "lab.html"
    dest.parent.mkdir()
    dest.write_text("an old page")
    r = run_report(folder, "--html", dest)
    assert r.returncode == 0, r.stderr
    assert len(read(dest).rows()) == 20
    assert not (folder / "report.html").exists() and os.listdir(dest.parent) == ["lab.html"]


# ---- speedups from the rows' results -----------------------------------------------------------

def test_speedups_older_words_and_stale_files(tmp_path):
    out = tmp_path / "out"
    rows = make_folder(out, [("a", 1, "ok", 50.0, [2.0]), ("b", 1, "ok", 50.0, [2.0]), ("c", 1, "ok", 50.0, [2.0])])
    d = out / "submissions"
    # A results.json of before the number was recorded: the words say 0.25x the reference's time.
    res = json.loads((d / rows[0].submission / "results.json").read_text())
    for t in res["tests"]:
        del t["extra_data"]
        t["output"] = "0.25x the reference's time (full at <= 1.2x); 1 ms vs 4 ms"
    (d / rows[0].submission / "results.json").write_text(json.dumps(res))
    # A later batch graded other bytes under the same name: not this row's speed.
    res = json.loads((d / rows[1].submission / "results.json").read_text())
    res["extra_data"]["sha256"] = "f" * 64
    (d / rows[1].submission / "results.json").write_text(json.dumps(res))
    got = {r.student: r.speedup for r in report.entries(str(out), report.load(str(out)))}
    assert got == {"a": pytest.approx(4.0), "b": None, "c": pytest.approx(2.0)}
    # A row's name never leads out of submissions/.
    assert report.speedup(str(out), {"submission": "../out", "sha256": "", "status": "ok"}) is None


# ---- bad folders -------------------------------------------------------------------------------

def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("case", ["missing", "a_file", "no_gradebook", "not_json", "a_list", "no_rows",
                                  "other_schema", "row_not_object", "not_utf8"])
def test_bad_folders_exit_2_with_one_line_and_write_nothing(tmp_path, case):
    out = tmp_path / "out"
    if case != "missing":
        make_folder(out, ROWS[:2])
    gb = out / "gradebook.json"
    if case == "a_file":
        out = tmp_path / "file"
        out.write_text("x")
    elif case == "no_gradebook":
        gb.unlink()
    elif case == "not_json":
        gb.write_text(gb.read_text()[:200])  # cut short
    elif case == "a_list":
        gb.write_text("[1, 2]")
    elif case == "no_rows":
        gb.write_text('{"schema": "em-gradebook/1"}')
    elif case == "other_schema":
        gb.write_text(gb.read_text().replace("em-gradebook/1", "em-gradebook/9"))
    elif case == "row_not_object":
        gb.write_text(json.dumps({"schema": "em-gradebook/1", "rows": [{"student": "a"}, "b"]}))
    elif case == "not_utf8":
        gb.write_bytes(b'{"schema": "em-gradebook/1", "rows": [{"student": "\xff"}]}')
    before = listing(tmp_path)
    r = run_report(out)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("grader report: "), r.stderr
    assert "python3 -m grader grade" in r.stderr or case == "a_file", r.stderr
    assert listing(tmp_path) == before


def test_an_html_path_in_no_folder_is_refused(folder, tmp_path):
    before = listing(tmp_path)
    r = run_report(folder, "--html", tmp_path / "nowhere" / "r.html")
    assert r.returncode == 2 and "nowhere" in r.stderr and r.stderr.count("\n") == 1
    assert listing(tmp_path) == before


# ---- from a real batch -------------------------------------------------------------------------

def test_report_of_a_graded_batch(tmp_path, pristine, hidden_file):
    """grade's own folder: rows told on stderr one line each (not a terminal), nothing on stdout,
    then the page has their rows, statuses and the good one's speedup."""
    subs = tmp_path / "subs"
    subs.mkdir()
    student_tar(subs / "lab1-good-20261128-120000.tar.gz", SRC["good"])
    student_tar(subs / "lab1-broken-20261128-120000.tar.gz", SRC["build_error"])
    bad = subs / "lab1-junk.tar.gz"
    bad.write_bytes(b"this is a text file, not an archive\n" * 20)
    out = tmp_path / "out"
    r = grade(out, [subs], pristine, hidden_file)
    assert r.stdout == "" and "\r" not in r.stderr and "\x1b" not in r.stderr
    told = sorted(line.split("] ", 1)[1].split(" ")[:2] for line in r.stderr.splitlines() if line.startswith("[") and "/3] " in line)
    assert told == [["lab1-broken-20261128-120000.tar.gz:", "build-error"], ["lab1-good-20261128-120000.tar.gz:", "ok"],
                    [f"{bad.name}:", "bad-archive"]]
    rep = run_report(out)
    assert rep.returncode == 0, rep.stderr
    page = read(out / "report.html")
    assert len(page.rows()) == 3
    charts = page.charts()
    bars = {p.attrs["data-label"]: int(p.attrs["data-value"]) for p in page.find(cls="em-point", within=charts["status"])}
    assert bars == {"ok": 1, "build-error": 1, "bad-archive": 1}
    assert sum(page.points(charts["scores-lab1"])) == 2  # the junk archive never said its lab
    assert page.points(charts["speedups-lab1"]) == [1]  # the good one's speed case
    good = next(r for r in page.rows() if r[0] == "good")
    assert good[3] == "ok" and good[6].endswith("x")
