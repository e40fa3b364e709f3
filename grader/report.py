"""`report OUT [--html FILE]`: one self-contained HTML page of a grading folder (what `grade --out
OUT` wrote): the status counts, per lab the distribution of the scores and of the speedups over
the reference, and a sortable table with one row per submission. Default file: OUT/report.html.

Self-contained: the CSS, the SVG charts (drawn here) and the sorting script are inline, so the
page opens offline and asks no server for anything. Every string of the gradebook comes from
untrusted archives (names, the checker's last words) and is escaped; the script is a constant
that reads the table, never data written into it.

Markup other tools rely on: each chart is `<svg class="em-chart" data-chart="NAME">` with a
`<title>`; each bar in it has class `em-point` and `data-value` (its count). NAME is `status`,
`scores-lab<N>` for each lab present and `speedups-lab<N>` for each lab with speedups. The table is
`<table id="submissions">` with one `<tr class="em-row">` per gradebook row.

Speedups come from each row's submissions/<archive>/results.json: the geometric mean of its speed
cases' `speedup_vs_ref` (recorded since grader/score.py writes it; older files give the words
"0.83x the reference's time", read as 1/0.83)."""
from __future__ import annotations

import json
import math
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass
from html import escape

from .gradebook import STATUSES, atomic_write
from .text import clean

SCHEMA = "em-gradebook/1"
_RESULTS_MAX_BYTES = 16 << 20  # a results.json the grader wrote is a few kB; a bigger one is not its


class ReportError(Exception):
    """The grading folder cannot be reported on: the message says what to run."""


@dataclass
class Entry:
    """One gradebook row as the page shows it: text already cleaned, numbers None when absent."""

    student: str
    submission: str
    lab: int | None
    status: str
    score: float | None
    max_score: float | None
    claimed: str
    speedup: float | None
    reason: str
    notes: str


# ---- reading -----------------------------------------------------------------------------------

def _grade_first(out: str) -> str:
    return f"grade first: python3 -m grader grade SUBMISSIONS... --out {shlex.quote(out)}"


def load(out: str) -> dict:
    """The gradebook of the folder out, or ReportError saying what is wrong and what to run."""
    if not os.path.exists(out):
        raise ReportError(f"{out} does not exist; {_grade_first(out)}")
    if not os.path.isdir(out):
        raise ReportError(f"{out} is not a folder (give the folder grade --out wrote)")
    path = os.path.join(out, "gradebook.json")
    if not os.path.isfile(path):
        raise ReportError(f"{out} has no gradebook.json (a batch not finished, or not a grading folder); "
                          f"{_grade_first(out)}")
    again = f"grade again: python3 -m grader grade SUBMISSIONS... --out {shlex.quote(out)} (finished rows come from the journal)"
    try:
        with open(path, encoding="utf-8") as f:
            gb = json.load(f)
    except OSError as e:
        raise ReportError(f"cannot read {path}: {e.strerror} (run report as the user who graded, or make it readable)")
    except (ValueError, UnicodeDecodeError) as e:
        raise ReportError(f"{path} is corrupt ({e}); {again}")
    if not isinstance(gb, dict) or not isinstance(gb.get("rows"), list):
        raise ReportError(f"{path} is not a gradebook (no list of rows); {again}")
    if gb.get("schema") != SCHEMA:
        raise ReportError(f"{path} has schema {str(gb.get('schema'))[:40]!r}, this grader reads {SCHEMA!r}; {again}")
    for n, r in enumerate(gb["rows"], 1):
        if not isinstance(r, dict):
            raise ReportError(f"{path} is corrupt (row {n} is not an object); {again}")
    return gb


def _text(v, limit: int = 4000) -> str:
    """Printable text of a gradebook value; a lone surrogate (json allows "\\ud800") would stop the
    UTF-8 write, so it becomes U+FFFD."""
    if v is None:
        return ""
    s = clean(str(v), limit)
    return s.encode("utf-8", "replace").decode("utf-8")


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _lab(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int) and 0 <= v < 1000:
        return v
    if isinstance(v, str) and re.fullmatch(r"\d{1,3}", v.strip()):
        return int(v)
    return None


_OLD_WORDS = re.compile(r"(\d+(?:\.\d+)?)x the reference's time")


def _case_speedup(test: dict) -> float | None:
    """One speed case's speedup over the reference, from a results.json test entry."""
    extra = test.get("extra_data")
    sp = _number(extra.get("speedup_vs_ref")) if isinstance(extra, dict) else None
    if sp is None and isinstance(test.get("output"), str):
        m = _OLD_WORDS.match(test["output"])
        if m and float(m.group(1)) > 0:
            sp = 1.0 / float(m.group(1))
    return sp if sp is not None and sp > 0 else None


def speedup(out: str, row: dict) -> float | None:
    """The geometric mean of the row's speed cases' speedups (a ratio: the mean of its logs), from
    its results.json; None when it has none or the file is not this row's (stale, foreign)."""
    name = row.get("submission")
    if not isinstance(name, str) or name in ("", ".", "..") or os.path.basename(name) != name:
        return None
    path = os.path.join(out, "submissions", name, "results.json")
    try:
        if os.path.getsize(path) > _RESULTS_MAX_BYTES:
            return None
        with open(path, encoding="utf-8") as f:
            res = json.load(f)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    extra = res.get("extra_data") if isinstance(res, dict) else None
    # A later batch may have graded the same name again: only this row's file counts.
    if not isinstance(extra, dict) or extra.get("sha256") != row.get("sha256") or extra.get("status") != row.get("status"):
        return None
    sps = [sp for t in res.get("tests") or [] if isinstance(t, dict) and str(t.get("name", "")).endswith(" performance")
           and (sp := _case_speedup(t)) is not None]
    return math.exp(sum(map(math.log, sps)) / len(sps)) if sps else None


def entries(out: str, gb: dict) -> list[Entry]:
    rows = []
    for r in gb["rows"]:
        score, mx = _number(r.get("score")), _number(r.get("max_score"))
        rows.append(Entry(student=_text(r.get("student"), 200), submission=_text(r.get("submission"), 300),
                          lab=_lab(r.get("lab")), status=_text(r.get("status"), 40) or "unknown",
                          score=score, max_score=mx if mx and mx > 0 else None,
                          claimed=_text(r.get("claimed_score"), 200), speedup=speedup(out, r),
                          reason=_text(r.get("reason")), notes=_text(r.get("notes"))))
    return rows


# ---- charts ------------------------------------------------------------------------------------

W, H = 480, 250                    # the viewBox of a histogram; the page scales it to its column
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 26, 46
# The most a character of a tick label ("0.00781x", "1.45e+03x") can take at the ticks' 12px, in
# viewBox units: a digit of DejaVu Sans, the widest of the usual system fonts (0.636em; Segoe UI,
# Roboto and San Francisco are narrower). Labels are spaced and the axis ends placed by it, since
# the page cannot measure text before it is drawn: an svg clips what crosses its edge.
CHAR_W = 7.7


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _figure(name: str, title: str, desc: str, height: int, body: list[str]) -> str:
    """The chart as a figure: its title shown above it (the svg's own <title> is for screen
    readers and tooltips), and the svg, whose viewBox lets the page scale it."""
    cid = f"chart-{name}"
    return (f'<figure><figcaption aria-hidden="true">{escape(title)}</figcaption><svg class="em-chart" data-chart="{escape(name)}" viewBox="0 0 {W} {height}" role="img" '
            f'aria-labelledby="{cid}-t {cid}-d"><title id="{cid}-t">{escape(title)}</title>'
            f'<desc id="{cid}-d">{escape(desc)}</desc>' + "".join(body) + "</svg></figure>")


def histogram(name: str, title: str, bins: list[tuple[str, int]], edges: list[str], unit: str,
              marker: tuple[float, str] | None = None) -> str:
    """Bars of equal width, one per bin (label, count); edges: the len(bins) + 1 tick labels;
    marker: a dashed line at a position in bins (0..len(bins)) and what it stands for (the unit
    line says it in words). Only bins with a count are marks (em-point): an empty one would be a
    mark of no size."""
    n, top = len(bins), max((c for _, c in bins), default=0) or 1
    # The last edge's label is centred on the axis's end: the margin holds half of it.
    right = max(RIGHT, math.ceil(len(edges[-1]) * CHAR_W / 2) + 2)
    pw, ph = W - LEFT - right, H - TOP - BOTTOM
    bw = pw / n
    out = [f'<line class="em-axis" x1="{LEFT}" y1="{TOP + ph}" x2="{W - right}" y2="{TOP + ph}"/>',
           f'<line class="em-axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}"/>',
           f'<text class="em-tick" x="{LEFT - 6}" y="{TOP + ph}" text-anchor="end" dominant-baseline="middle">0</text>',
           f'<text class="em-tick" x="{LEFT - 6}" y="{TOP}" text-anchor="end" dominant-baseline="middle">{top}</text>',
           f'<text class="em-unit" x="{LEFT + pw / 2:.1f}" y="{H - 6}" text-anchor="middle">{escape(unit)}</text>']
    # Every step-th edge labelled: at most about 12 labels, and neighbours as far apart as the
    # widest label is wide (log-scale speedups are long: "0.00781x"). The last edge always has its
    # label; the one before it goes when it would be nearer than that.
    step = max(1, math.ceil((n + 1) / 12), math.ceil((max(map(len, edges)) * CHAR_W + 4) / bw))
    for k, label in enumerate(edges):
        if k == n or (k % step == 0 and n - k >= step):
            x = LEFT + k * bw
            out.append(f'<text class="em-tick" x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle">{escape(label)}</text>')
    for k, (label, count) in enumerate(bins):
        if count <= 0:
            continue
        h = ph * count / top
        x, y = LEFT + k * bw + 1, TOP + ph - h
        out.append(f'<rect class="em-point em-bar" data-value="{count}" data-label="{escape(label)}" x="{x:.1f}" '
                   f'y="{y:.1f}" width="{max(bw - 2, 1):.1f}" height="{h:.1f}"><title>{escape(label)}: {count}</title></rect>'
                   f'<text class="em-count" x="{x + (bw - 2) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{count}</text>')
    if marker is not None:
        x = LEFT + marker[0] * bw
        out.append(f'<line class="em-marker" x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{TOP + ph}">'
                   f'<title>{escape(marker[1])}</title></line>')
    total = sum(c for _, c in bins)
    desc = "; ".join(f"{label}: {c}" for label, c in bins if c)
    return _figure(name, title, f"{total} in all. {desc}", H, out)


def status_chart(rows: list[Entry]) -> str:
    """One horizontal bar per status that occurs, in the gradebook's order of statuses."""
    counts: dict = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    order = [s for s in STATUSES if s in counts] + sorted(s for s in counts if s not in STATUSES)
    label_w, bar_h, gap = 130, 22, 8
    height = TOP + len(order) * (bar_h + gap) - gap
    top = max(counts.values())
    pw = W - label_w - 50
    out = []
    for k, s in enumerate(order):
        y = TOP / 2 + k * (bar_h + gap)
        w = max(pw * counts[s] / top, 1)
        out.append(f'<text class="em-tick" x="{label_w - 8}" y="{y + bar_h / 2:.1f}" text-anchor="end" '
                   f'dominant-baseline="middle">{escape(s)}</text>'
                   f'<rect class="em-point em-bar em-s-{_status_class(s)}" data-value="{counts[s]}" data-label="{escape(s)}" '
                   f'x="{label_w}" y="{y:.1f}" width="{w:.1f}" height="{bar_h}"><title>{escape(s)}: {counts[s]}</title></rect>'
                   f'<text class="em-count" x="{label_w + w + 6:.1f}" y="{y + bar_h / 2:.1f}" '
                   f'dominant-baseline="middle">{counts[s]}</text>')
    desc = "; ".join(f"{s}: {counts[s]}" for s in order)
    return _figure("status", f"Statuses of {len(rows)} submission(s)", desc, height, out)


def _status_class(s: str) -> str:
    """The CSS class suffix of a status: a known one's name, anything else 'other' (a status of a
    gradebook written by another grader version is text, never a class name of its own)."""
    return s if s in STATUSES else "other"


def score_chart(lab: int, rows: list[Entry]) -> str:
    """Scores in percent of the lab's maximum, ten bins of 10 points; 100% falls in the last."""
    counts = [0] * 10
    for r in rows:
        if r.score is not None and r.max_score:
            pct = 100 * r.score / r.max_score
            counts[min(9, max(0, int(pct // 10)))] += 1
    bins = [(f"{10 * k}-{10 * k + 10}%", c) for k, c in enumerate(counts)]
    return histogram(f"scores-lab{lab}", f"Lab {lab}: scores of {sum(counts)} submission(s)", bins,
                     [str(10 * k) for k in range(11)], "score, % of the lab's maximum")


def speedup_bins(values: list[float]) -> tuple[float, int, int]:
    """Log-scale bins: edges at 2^(k*step/2) for k from lo to hi (half-octaves, widened so that
    there are at most 16 bins). Returns (step in half-octaves, lo, number of bins)."""
    ks = [math.floor(2 * math.log2(v)) for v in values]
    lo, hi = min(ks), max(ks) + 1
    step = max(1, math.ceil((hi - lo) / 16))
    lo = math.floor(lo / step) * step
    n = max(1, math.ceil((hi - lo) / step))
    return step, lo, n


def speedup_chart(lab: int, values: list[float]) -> str:
    step, lo, n = speedup_bins(values)
    counts = [0] * n
    for v in values:
        counts[min(n - 1, (math.floor(2 * math.log2(v)) - lo) // step)] += 1
    edge = [2 ** ((lo + k * step) / 2) for k in range(n + 1)]
    bins = [(f"{_fmt(edge[k])}-{_fmt(edge[k + 1])}x", c) for k, c in enumerate(counts)]
    at_one = -lo / step  # where 1x, the reference's own speed, falls on the axis
    marker = (at_one, "1x: as fast as the reference") if 0 <= at_one <= n else None
    return histogram(f"speedups-lab{lab}", f"Lab {lab}: speedup over the reference of {len(values)} submission(s) "
                     "(log scale)", bins, [_fmt(e) + "x" for e in edge],
                     "speedup vs the reference, log scale" + (" (dashed: 1x)" if marker else ""), marker)


# ---- the page ----------------------------------------------------------------------------------

COLUMNS = [("Student", "text"), ("Submission", "text"), ("Lab", "num"), ("Status", "text"), ("Score", "num"),
           ("Claimed", "text"), ("Speedup", "num"), ("Reason", "text"), ("Notes", "text")]


def _cell(text: str, sort: str | None = None, cls: str = "") -> str:
    if not text and sort is None:
        sort = ""  # an empty cell sorts last, not as its placeholder dash
    attrs = (f' data-sort="{escape(sort)}"' if sort is not None else "") + (f' class="{cls}"' if cls else "")
    return f"<td{attrs}>{escape(text) if text else '<span class=em-none>-</span>'}</td>"


def table(rows: list[Entry]) -> str:
    head = "".join(f'<th scope="col" aria-sort="none"><button type="button" data-type="{t}">{escape(c)}</button></th>'
                   for c, t in COLUMNS)
    body = []
    for r in rows:
        score = "" if r.score is None else f"{r.score:g}" + (f" / {r.max_score:g}" if r.max_score else "")
        body.append(
            f'<tr class="em-row" data-status="{escape(r.status)}">'
            + _cell(r.student) + _cell(r.submission, cls="em-file") + _cell("" if r.lab is None else str(r.lab), "" if r.lab is None else str(r.lab))
            + f'<td><span class="em-badge em-s-{_status_class(r.status)}">{escape(r.status)}</span></td>'
            + _cell(score, "" if r.score is None else repr(r.score)) + _cell(r.claimed)
            + _cell("" if r.speedup is None else f"{r.speedup:.3g}x", "" if r.speedup is None else repr(r.speedup))
            + _cell(r.reason, cls="em-long") + _cell(r.notes, cls="em-long") + "</tr>")
    # The hint stays outside the scrolling box, where a phone shows all of it.
    return (f'<p class="em-hint">One row per submission. A column\'s header sorts by it; again, the other way.</p>'
            f'<div class="em-scroll" role="region" aria-labelledby="h-table" tabindex="0">'
            f'<table id="submissions"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _labs_html(rows: list[Entry]) -> str:
    labs = sorted({r.lab for r in rows if r.lab is not None})
    parts = []
    for lab in labs:
        mine = [r for r in rows if r.lab == lab]
        figs = [score_chart(lab, mine)]
        sps = [r.speedup for r in mine if r.speedup is not None]
        if sps:
            figs.append(speedup_chart(lab, sps))
        parts.append(f'<section aria-labelledby="h-lab{lab}"><h2 id="h-lab{lab}">Lab {lab}</h2><div class="em-charts">'
                     + "".join(figs) + "</div></section>")
    return "".join(parts)


def _facts(gb: dict, rows: list[Entry], out: str) -> str:
    """The line under the heading: what was graded how (each a value of the gradebook, escaped)."""
    facts = [f"{len(rows)} submission(s)"]
    for key, words in (("track", "track"), ("isolation", "isolation"), ("grader_version", "grader version")):
        if gb.get(key):
            facts.append(f"{words}: {_text(gb[key], 200)}")
    if isinstance(gb.get("hidden_cases_sha256"), str):
        facts.append(f"hidden cases sha256 {_text(gb['hidden_cases_sha256'], 64)[:12]}")
    try:
        facts.append("gradebook of " + time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(os.path.join(out, "gradebook.json")))))
    except OSError:
        pass
    return " &middot; ".join(escape(f) for f in facts)


def page(gb: dict, rows: list[Entry], out: str) -> str:
    if rows:
        charts = (f'<section aria-labelledby="h-status"><h2 id="h-status">Statuses</h2><div class="em-charts">'
                  f"{status_chart(rows)}</div></section>" + _labs_html(rows))
    else:
        charts = ('<p class="em-empty">This gradebook has no submissions, so there is nothing to chart: grade some with '
                  "<code>python3 -m grader grade SUBMISSIONS... --out OUT</code>.</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Gradebook: {len(rows)} submission(s)</title><style>{CSS}</style></head>"
            f'<body><header><h1>Gradebook</h1><p class="em-facts">{_facts(gb, rows, out)}</p></header><main>{charts}'
            f'<section aria-labelledby="h-table"><h2 id="h-table">Submissions</h2>{table(rows)}</section>'
            f"</main><script>{SCRIPT}</script></body></html>\n")


def main(out: str, html_path: str | None) -> int:
    try:
        gb = load(out)
        rows = entries(out, gb)
        dest = html_path or os.path.join(out, "report.html")
        folder = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(folder):
            raise ReportError(f"cannot write {dest}: no folder {folder} (make it, or give another --html)")
        text = page(gb, rows, out)
        try:
            atomic_write(dest, text)
        except OSError as e:
            raise ReportError(f"cannot write {dest}: {e.strerror} (give another --html)")
    except ReportError as e:
        print(f"grader report: {e}", file=sys.stderr)
        return 2
    print(f"grader report: {len(rows)} submission(s) in {dest}", file=sys.stderr)
    return 0


# Colours: the statuses keep one hue each in the chart and the table; dark mode swaps the
# neutrals only. Print: no scrolling box nor sticky header (a printed page cannot scroll), charts
# kept whole.
CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--bg:#fff;--line:#d0d7de;--head:#f6f8fa;--bar:#3b6fb6;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;--line:#30363d;--head:#161b22;--bar:#6ea8fe}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:80rem;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{margin:.2rem 0}h2{margin:1.6rem 0 .6rem;font-size:1.2rem}
.em-facts,.em-empty,.em-hint{color:var(--muted)}
.em-hint{font-size:.85rem;margin:.3rem 0}
.em-charts{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,26rem),1fr))}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:.5rem}
.em-chart{display:block;width:100%;height:auto}
.em-chart text{fill:var(--fg);font-size:12px}
figcaption{font-size:.9rem;margin-bottom:.3rem}
.em-chart .em-unit{fill:var(--muted)}
.em-axis{stroke:var(--muted);stroke-width:1}
.em-marker{stroke:var(--fg);stroke-width:1;stroke-dasharray:4 3}
.em-bar{fill:var(--bar)}
.em-s-ok{fill:#2da44e;background:#2da44e}.em-s-bad-archive{fill:#8c959f;background:#8c959f}
.em-s-build-error{fill:#d4751a;background:#d4751a}.em-s-cheat-suspected{fill:#8250df;background:#8250df}
.em-s-timeout{fill:#bf8700;background:#bf8700}.em-s-crash{fill:#cf222e;background:#cf222e}
.em-s-limit-exceeded{fill:#a0522d;background:#a0522d}.em-s-error{fill:#57606a;background:#57606a}
.em-s-other{fill:#6e7781;background:#6e7781}
.em-badge{color:#fff;border-radius:1em;padding:.05em .6em;white-space:nowrap;font-size:.85em}
.em-scroll{overflow:auto;max-height:80vh;border:1px solid var(--line);border-radius:6px}
.em-scroll:focus{outline:2px solid var(--bar)}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.35rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:var(--head);z-index:1;white-space:nowrap}
th button{font:inherit;font-weight:600;color:inherit;background:none;border:0;padding:0;cursor:pointer}
th button:focus-visible{outline:2px solid var(--bar);outline-offset:2px}
th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
td[data-sort]{font-variant-numeric:tabular-nums;white-space:nowrap}
.em-long{min-width:16rem;max-width:40rem;overflow-wrap:anywhere}
.em-file{overflow-wrap:anywhere;min-width:10rem}
.em-none{color:var(--muted)}
@media (max-width:40rem){body{padding:.5rem;font-size:14px}th,td{padding:.3rem}}
@media print{body{max-width:none;padding:0;font-size:10pt}.em-scroll{overflow:visible;max-height:none;border:0}
thead th{position:static}thead{display:table-header-group}tr,figure,.em-chart{break-inside:avoid;page-break-inside:avoid}
.em-charts{display:block}figure{margin:0 0 .5rem}th button::after{content:""!important}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""

# Sorts the table by the clicked header's column (buttons: Enter and Space work too), numbers by
# their data-sort value with the empty ones last, text by its words; again reverses. A constant:
# it reads the table, never data written into the script.
SCRIPT = """
(function () {
  var table = document.getElementById("submissions");
  if (!table || !table.tHead) return;
  var body = table.tBodies[0], heads = table.tHead.rows[0].cells;
  function key(row, i, num) {
    var cell = row.cells[i], v = cell.getAttribute("data-sort");
    if (v === null) v = cell.textContent;
    if (!num) return v.trim();
    var n = parseFloat(v);
    return isNaN(n) ? null : n;
  }
  function sortBy(i, num, dir) {
    var items = Array.prototype.map.call(body.rows, function (row, k) { return [key(row, i, num), k, row]; });
    items.sort(function (a, b) {
      if (a[0] === null || b[0] === null || a[0] === "" || b[0] === "") {
        var ea = a[0] === null || a[0] === "", eb = b[0] === null || b[0] === "";
        if (ea !== eb) return ea ? 1 : -1;
        return a[1] - b[1];
      }
      var c = num ? a[0] - b[0] : a[0].localeCompare(b[0], undefined, {numeric: true, sensitivity: "base"});
      return c !== 0 ? dir * c : a[1] - b[1];
    });
    items.forEach(function (it) { body.appendChild(it[2]); });
  }
  Array.prototype.forEach.call(heads, function (th, i) {
    var button = th.querySelector("button");
    if (!button) return;
    button.addEventListener("click", function () {
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      sortBy(i, button.getAttribute("data-type") === "num", dir);
      Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    });
  });
})();
"""
