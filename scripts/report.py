#!/usr/bin/env python3
"""`make report`: one self-contained HTML page of every lab checked so far on this machine.

For each build/labN/results.json (the last `make check` of lab N) and the build/labN/history.jsonl
every check appends to (em-check --history): a roofline chart per track (this machine's measured
peaks, the code's timed cases and the reference solution's times for the same cases), a table of
the cases, and the progress across runs (score and best speedup over the reference).

The page loads nothing: CSS inline, charts drawn here as inline SVG, no script, no font, no image
from anywhere; a Content-Security-Policy says so to the browser as well. Every string from the
results is escaped.

    python3 scripts/report.py [--build build] [--out build/report.html]

Exit status: 0 written; 2 nothing to report (no lab checked yet: nothing is written) or the page
cannot be written.

Markup other tools rely on: each lab is <section class="em-lab" data-lab="N">; each chart is
<svg class="em-chart" data-chart="roofline-labN-TRACK" | "history-labN" viewBox=...> with a <title>
first; each data point is an element of class em-point inside its chart, with data-value (its y
value) and data-kind ("yours" or "reference" on a roofline, "score" or "speedup" on a history).
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

NOTHING = "nothing to report yet: make lab1 && make check"

# Per track: the peaks (results.json machine.peaks) of its roof, copy bandwidth and FMA rate.
TRACK_PEAKS = {"cpu": ("cpu_copy_gbps", "cpu_fma_gflops"), "cuda": ("gpu_copy_gbps", "gpu_fma_gflops")}
TRACK_NAMES = {"cpu": "CPU", "cuda": "CUDA"}
# How a compute ceiling is labelled. Beside the FMA rate, a case may be held to another rate (its
# results.json compute_peak): bfloat16 work on the GPU to the tensor cores', int8 products to the
# int8 rate. Those ceilings are drawn for the labs whose cases were held to them.
CEILINGS = {"cpu_fma_gflops": "FMA", "gpu_fma_gflops": "FMA", "gpu_bf16_tc_gflops": "bf16 tensor cores",
            "cpu_int8_gops": "int8", "gpu_int8_tc_gops": "int8 tensor cores"}
INT_PEAKS = {"cpu_int8_gops", "gpu_int8_tc_gops"}  # in GOP/s, not GFLOP/s

LAB_DIR = re.compile(r"lab(\d+)")


# ---- reading the build folder ---------------------------------------------------------------------

@dataclass
class Lab:
    number: int
    results_path: Path
    results: dict | None = None        # None when results.json could not be read
    error: str = ""                    # why not
    history: list = field(default_factory=list)
    history_skipped: int = 0           # lines of history.jsonl that were not a run

    @property
    def cases(self) -> list:
        return [c for c in (self.results or {}).get("cases", []) if isinstance(c, dict)]


def find_labs(build: Path) -> list[Lab]:
    """Every build/labN/ with a results.json, in lab order."""
    labs = []
    for d in build.iterdir() if build.is_dir() else []:
        m = LAB_DIR.fullmatch(d.name)
        if m and (d / "results.json").is_file():
            labs.append(load_lab(int(m.group(1)), d))
    return sorted(labs, key=lambda lab: lab.number)


def load_lab(number: int, d: Path) -> Lab:
    lab = Lab(number, d / "results.json")
    try:
        res = json.loads(lab.results_path.read_text(encoding="utf-8"))
        if not isinstance(res, dict) or not isinstance(res.get("cases"), list):
            raise ValueError('no "cases" list at the top level')
        lab.results = res
    except (OSError, UnicodeDecodeError, ValueError) as e:
        lab.error = f"{lab.results_path} could not be read ({e}): run  make lab{number} && make check  again"
    lab.history, lab.history_skipped = load_history(d / "history.jsonl")
    return lab


def load_history(path: Path) -> tuple[list, int]:
    """The runs of a history.jsonl, oldest first, and how many lines were not one (a line cut short
    by a full disk, say: skipped, not fatal)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], 0
    runs, skipped = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            run = json.loads(line)
        except ValueError:
            run = None
        if isinstance(run, dict) and isinstance(run.get("cases", []), list):
            runs.append(run)
        else:
            skipped += 1
    return runs, skipped


# ---- numbers ---------------------------------------------------------------------------------------

def num(v) -> float | None:
    """A finite number, or None (JSON null, a string, NaN)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def obj(v) -> dict:
    """v where it is a JSON object, else an empty one: a hand-edited file must not crash the page."""
    return v if isinstance(v, dict) else {}


def positive(v) -> float | None:
    v = num(v)
    return v if v is not None and v > 0 else None


def fmt_time_ms(ms) -> str:
    """As the checker's table writes a time: 83 ns, 4.10 us, 12.30 ms, 1.20 s."""
    ms = positive(ms)
    if ms is None:
        return "-"
    s = ms * 1e-3
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_num(v, spec: str, suffix: str = "") -> str:
    v = num(v)
    return "-" if v is None else format(v, spec) + suffix


def fmt_tick(v: float) -> str:
    """A decade's label: 0.01 ... 10000, then 1e5."""
    e = round(math.log10(v))
    return f"{v:g}" if -3 <= e <= 4 else f"1e{e}"


def fmt_rate(v: float) -> str:
    return f"{v:.3g}" if v < 100 else f"{v:,.0f}"


def data_num(v: float) -> str:
    """A data-value: Python's shortest exact text of the number, so that a reader gets back the
    very value of results.json."""
    return repr(float(v))


def esc(s) -> str:
    return html.escape(str(s), quote=True)


# ---- the figures of a case --------------------------------------------------------------------------

def intensity(c) -> float | None:
    """FLOPs per byte, as results.json has it, else from flops and bytes."""
    x = positive(c.get("arithmetic_intensity"))
    if x is None and positive(c.get("flops")) and positive(c.get("bytes")):
        x = c["flops"] / c["bytes"]
    return x


def yours_gflops(c) -> float | None:
    y = positive(c.get("gflops"))
    if y is None and positive(c.get("flops")) and positive(c.get("time_ms")):
        y = c["flops"] / (c["time_ms"] * 1e-3) / 1e9
    return y


def reference_gflops(c) -> float | None:
    """The reference solution's rate on the same case: its FLOPs over its time in the same run."""
    flops, ref = positive(c.get("flops")), positive(c.get("ref_time_ms"))
    return flops / (ref * 1e-3) / 1e9 if flops and ref else None


def timed(c) -> bool:
    return positive(c.get("time_ms")) is not None


def case_label(c) -> str:
    return f"({c.get('part', '?')}) {c.get('name', '?')}"


# ---- SVG ----------------------------------------------------------------------------------------------

W, H = 720, 440                     # a chart's viewBox
PAD_L, PAD_R, PAD_T, PAD_B = 72, 24, 34, 52


class LogAxis:
    """Decades from lo to hi (powers of ten) onto pixels a to b."""

    def __init__(self, values, a: float, b: float, pad: float = 2.0):
        values = [v for v in values if v and v > 0 and math.isfinite(v)] or [1.0]
        self.lo = 10.0 ** math.floor(math.log10(min(values) / pad))
        self.hi = 10.0 ** math.ceil(math.log10(max(values) * pad))
        self.a, self.b = a, b

    def __call__(self, v: float) -> float:
        t = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return self.a + t * (self.b - self.a)

    def ticks(self) -> list[float]:
        e0, e1 = round(math.log10(self.lo)), round(math.log10(self.hi))
        step = 1 if e1 - e0 <= 8 else 2
        return [10.0 ** e for e in range(e0, e1 + 1, step)]


class LinAxis:
    def __init__(self, lo: float, hi: float, a: float, b: float):
        self.lo, self.hi, self.a, self.b = lo, hi if hi > lo else lo + 1, a, b

    def __call__(self, v: float) -> float:
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self) -> list[float]:
        raw = (self.hi - self.lo) / 5
        step = 10 ** math.floor(math.log10(raw))
        step *= next(m for m in (1, 2, 5, 10) if step * m >= raw)
        return [self.lo + i * step for i in range(int((self.hi - self.lo) / step + 1e-9) + 1)]


def svg_open(name: str, title: str, height: int = H) -> list[str]:
    # No xmlns: inline SVG in HTML needs none, and the page holds no URL.
    return [f'<svg class="em-chart" data-chart="{esc(name)}" viewBox="0 0 {W} {height}" role="img">',
            f"<title>{esc(title)}</title>"]


def text(x, y, s, cls="", anchor="start", extra="") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}{extra}>{esc(s)}</text>'


def frame_x_log(out, ax: LogAxis, top: float, bottom: float, label: str):
    for t in ax.ticks():
        x = ax(t)
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}"/>')
        out.append(text(x, bottom + 16, fmt_tick(t), "tick", "middle"))
    out.append(text((ax.a + ax.b) / 2, bottom + 38, label, "axis", "middle"))


def frame_y(out, ay, ticks, left: float, right: float, label: str, fmt=fmt_tick):
    for t in ticks:
        y = ay(t)
        out.append(f'<line class="grid" x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}"/>')
        out.append(text(left - 6, y + 4, fmt(t), "tick", "end"))
    mid = (ay.a + ay.b) / 2
    out.append(text(16, mid, label, "axis", "middle", f' transform="rotate(-90 16 {mid:.1f})"'))


def point(kind: str, x: float, y: float, value: float, tip: str, hollow: bool = False) -> str:
    """One data point: a circle for the code under test and the score, a diamond for the reference
    and the speedup; its tooltip (a <title>) says what it is."""
    cls = f"em-point k-{kind}" + (" hollow" if hollow else "")
    attrs = f'class="{cls}" data-kind="{kind}" data-value="{data_num(value)}"'
    tip = f"<title>{esc(tip)}</title>"
    if kind in ("yours", "score"):
        return f'<circle {attrs} cx="{x:.1f}" cy="{y:.1f}" r="4.5">{tip}</circle>'
    d = f"M{x:.1f},{y - 6:.1f} L{x + 6:.1f},{y:.1f} L{x:.1f},{y + 6:.1f} L{x - 6:.1f},{y:.1f} Z"
    return f'<path {attrs} d="{d}">{tip}</path>'


# ---- the roofline -------------------------------------------------------------------------------------

def roof_points(ax: LogAxis, bw: float, peak: float) -> list[tuple[float, float]]:
    """min(peak, x * bw) across the x axis: straight in log-log but for its corner (the ridge)."""
    xs = [ax.lo, ax.hi]
    ridge = peak / bw
    if ax.lo < ridge < ax.hi:
        xs.insert(1, ridge)
    return [(x, min(peak, x * bw)) for x in xs]


def ceilings_of(cases, peaks, track) -> list[tuple[str, float]]:
    """The compute ceilings to draw: the FMA rate, then every other rate a case of the track was
    held to (compute_peak), where the peaks have it."""
    base = TRACK_PEAKS[track][1]
    keys = [base] + sorted({c["compute_peak"] for c in cases if isinstance(c.get("compute_peak"), str)} - {base})
    return [(k, peaks[k]) for k in keys if k in CEILINGS and positive(peaks.get(k))]


def roofline_points(cases) -> tuple[list, list]:
    """(x, y, kind, case) of every timed case that has a place on a log-log chart, and the timed
    cases that have none (zero FLOPs, no time)."""
    pts, unplaced = [], []
    for c in cases:
        if not timed(c):
            continue
        x, mine, ref = intensity(c), yours_gflops(c), reference_gflops(c)
        if x is None or mine is None:
            unplaced.append(c)
            continue
        pts.append((x, mine, "yours", c))
        if ref is not None:
            pts.append((x, ref, "reference", c))
    return pts, unplaced


def roofline_svg(lab: Lab, track: str, cases, peaks) -> str:
    bw = peaks[TRACK_PEAKS[track][0]]
    ceilings = ceilings_of(cases, peaks, track)
    pts, _ = roofline_points(cases)
    ax = LogAxis([p[0] for p in pts] + [peak / bw for _, peak in ceilings], PAD_L, W - PAD_R)
    ay = LogAxis([p[1] for p in pts] + [peak for _, peak in ceilings] + [ax.lo * bw], H - PAD_B, PAD_T)
    name = lab.results.get("name", "")
    out = svg_open(f"roofline-lab{lab.number}-{track}",
                   f"Roofline of lab {lab.number} ({name}), {track} track: GFLOP/s against FLOPs per byte; "
                   f"roof = min(compute rate, intensity x copy bandwidth {bw:.1f} GB/s)")
    out.append(f'<rect class="plot" x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}"/>')
    frame_x_log(out, ax, PAD_T, H - PAD_B, "arithmetic intensity (FLOPs per byte)")
    frame_y(out, ay, ay.ticks(), PAD_L, W - PAD_R, "GFLOP/s")
    for i, (key, peak) in enumerate(ceilings):
        line = " ".join(f"{ax(x):.1f},{ay(y):.1f}" for x, y in roof_points(ax, bw, peak))
        out.append(f'<polyline class="{"roof" if i == 0 else "roof extra"}" points="{line}"/>')
        unit = "GOP/s" if key in INT_PEAKS else "GFLOP/s"
        out.append(text(W - PAD_R - 4, ay(peak) - 5, f"{CEILINGS[key]} {fmt_rate(peak)} {unit}", "roof-label", "end"))
    # The bandwidth label along the slope, near its foot.
    x0 = ax.lo * 1.6
    dx = ax(x0 * 10) - ax(x0)
    dy = ay(x0 * 10 * bw) - ay(x0 * bw)
    angle = math.degrees(math.atan2(dy, dx))
    bx, by = ax(x0), ay(x0 * bw) - 6
    if PAD_T < by < H - PAD_B:
        out.append(text(bx, by, f"copy {bw:.1f} GB/s", "roof-label", "start",
                        f' transform="rotate({angle:.1f} {bx:.1f} {by:.1f})"'))
    for x, y, kind, c in sorted(pts, key=lambda p: p[2] == "yours"):  # yours on top
        who = "your code" if kind == "yours" else "reference solution"
        tip = (f"{case_label(c)} {c.get('shape', '')}, {who}: {fmt_rate(y)} GFLOP/s at {x:.3g} FLOPs/byte, "
               f"{fmt_time_ms(c.get('time_ms') if kind == 'yours' else c.get('ref_time_ms'))} per call")
        out.append(point(kind, ax(x), ay(y), y, tip))
    if not pts:
        # The reason in full is under the chart; here, that there is one.
        out.append(text((PAD_L + W - PAD_R) / 2, H - PAD_B - 40, "no timed case to show (the reason is below the chart)",
                        "empty", "middle"))
    legend(out, [("yours", "your code"), ("reference", "reference solution")])
    out.append("</svg>")
    return "\n".join(out)


def legend(out, items):
    x = PAD_L + 10
    for kind, label in items:
        out.append(point_glyph(kind, x, PAD_T - 14))
        out.append(text(x + 10, PAD_T - 10, label, "legend"))
        x += 24 + 7.5 * len(label)


def point_glyph(kind: str, x: float, y: float) -> str:
    """The legend's sample of a point kind: drawn like a point, but not one (no em-point class)."""
    if kind in ("yours", "score"):
        return f'<circle class="glyph k-{kind}" cx="{x:.1f}" cy="{y:.1f}" r="4.5"/>'
    return (f'<path class="glyph k-{kind}" d="M{x:.1f},{y - 6:.1f} L{x + 6:.1f},{y:.1f} L{x:.1f},{y + 6:.1f} '
            f'L{x - 6:.1f},{y:.1f} Z"/>')


def why_no_points(track: str, cases, results) -> str:
    """Why a track has no timed case: in words a student can act on."""
    if cases and all(c.get("status") == "skip" for c in cases):
        return f"the {track} track was skipped: {cases[0].get('reason') or 'no reason given'}"
    if results.get("mode") == "verify":
        return "a --verify run judges outputs only; nothing was timed"
    if not any(c.get("status") == "pass" for c in cases):
        return "no case passed, and only cases that pass are timed"
    if not any(timed(c) for c in cases):
        return "checked without timing (--no-timing): run  make check  without it to time the cases"
    return "no timed case has FLOPs to place on the chart"


def track_block(lab: Lab, track: str) -> str:
    """A track's roofline chart (with a line on what is not on it), or why it has none."""
    res = lab.results
    cases = [c for c in lab.cases if c.get("track") == track]
    peaks = obj(obj(res.get("machine")).get("peaks"))
    copy_key, fma_key = TRACK_PEAKS.get(track, (None, None))
    heading = f"<h3>{esc(TRACK_NAMES.get(track, track))} track</h3>"
    if not copy_key or not positive(peaks.get(copy_key)) or not positive(peaks.get(fma_key)):
        why = why_no_points(track, cases, res) if cases else "no case of this track was checked"
        return (f'{heading}\n<p class="note">No roofline for the {esc(track)} track: this machine\'s '
                f"{esc(track)} peaks were not measured ({esc(why)}).</p>")
    pts, unplaced = roofline_points(cases)
    why = "" if pts else why_no_points(track, cases, res)
    notes = []
    if why:
        notes.append(f"No roofline point: {why}.")
    untimed = [c for c in cases if not timed(c) and c.get("status") != "skip"]
    if pts and untimed:
        notes.append(f"{len(untimed)} of {len(cases)} cases are not on the chart, as only cases that pass are timed: "
                     f"{', '.join(case_label(c) for c in untimed[:6])}{', ...' if len(untimed) > 6 else ''}.")
    if unplaced:
        notes.append(f"{len(unplaced)} timed cases have no FLOP rate to place: "
                     f"{', '.join(case_label(c) for c in unplaced[:6])}.")
    note = "".join(f'\n<p class="note">{esc(n)}</p>' for n in notes)
    return f"{heading}\n<figure>{roofline_svg(lab, track, cases, peaks)}</figure>{note}"


# ---- the table -----------------------------------------------------------------------------------------

COLUMNS = ("part", "case", "track", "shape", "status", "time", "vs ref", "vs naive", "GB/s", "GFLOP/s", "roof")


def case_row(c) -> str:
    roof = fmt_num(100 * c["roofline_frac"] if num(c.get("roofline_frac")) is not None else None, ".0f", "%")
    if c.get("impossible_speed"):
        roof += "!"
    status = str(c.get("status", "?"))
    cells = [c.get("part", ""), c.get("name", ""), c.get("track", ""), c.get("shape", ""), status.upper(),
             fmt_time_ms(c.get("time_ms")), fmt_num(c.get("speedup_vs_ref"), ".2f", "x"),
             fmt_num(c.get("speedup_vs_naive"), ".2f", "x"), fmt_num(c.get("gbps"), ".1f"),
             fmt_num(c.get("gflops"), ".3g"), roof]
    tds = "".join(f'<td class="{"num" if i >= 5 else ""}">{esc(v)}</td>' for i, v in enumerate(cells))
    why = c.get("reason") or ""
    why_row = (f'\n<tr class="why {esc(status)}"><td></td><td colspan="{len(COLUMNS) - 1}">{esc(why)}</td></tr>'
               if why and status != "pass" else "")
    return f'<tr class="{esc(status)}">{tds}</tr>{why_row}'


def skipped_track_row(track: str, cases) -> str:
    """A track skipped whole is one row, as in the checker's table: its cases have no figures."""
    return (f'<tr class="skip"><td></td><td colspan="{len(COLUMNS) - 1}">{len(cases)} {esc(track)} cases skipped: '
            f'{esc(cases[0].get("reason") or "no reason given")}</td></tr>')


def cases_table(lab: Lab) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in COLUMNS)
    rows = []
    for t in lab_tracks(lab):
        cases = [c for c in lab.cases if c.get("track") == t]
        if cases and all(c.get("status") == "skip" for c in cases):
            rows.append(skipped_track_row(t, cases))
        else:
            rows += [case_row(c) for c in cases]
    rows = "\n".join(rows)
    # The table scrolls inside its own box: eleven columns are wider than a phone, and the page
    # around it must not scroll sideways.
    return (f'<div class="em-scroll" tabindex="0" role="region" aria-label="cases">'
            f'<table class="em-cases">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table></div>\n'
            '<p class="legend-text">time: median per call; vs ref, vs naive: how many times faster than the reference '
            "solution and the naive baseline (above 1 is faster); roof: the share of what this machine allows for the "
            "case (! : faster than the machine allows, no performance points).</p>")


# ---- the history -------------------------------------------------------------------------------------------

HIST_H = 460
SPLIT = 232           # the score panel above, the speedup panel below


def run_score(run) -> tuple[float, float, str]:
    """A run's points and maximum over its tracks, and the per-track text."""
    pts = mx = 0.0
    parts = []
    for track, s in obj(run.get("score")).items():
        p, m = num(obj(s).get("points")), num(obj(s).get("max"))
        if p is None or m is None:
            continue
        pts, mx = pts + p, mx + m
        parts.append(f"{track} {p:g}/{m:g}")
    return pts, mx, ", ".join(parts)


def best_speedup(run) -> tuple[float, dict] | None:
    """The run's fastest passing case against the reference (its speedup and the case)."""
    best = None
    for c in run.get("cases", []):
        s = positive(c.get("speedup_vs_ref")) if isinstance(c, dict) and c.get("status") == "pass" else None
        if s is not None and (best is None or s > best[0]):
            best = (s, c)
    return best


def when_text(run, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    w = run.get("when")
    try:
        return dt.datetime.strptime(str(w), "%Y-%m-%dT%H:%M:%SZ").strftime(fmt)
    except ValueError:
        return str(w or "?")


def history_svg(lab: Lab) -> str:
    runs = lab.history
    out = svg_open(f"history-lab{lab.number}", f"Progress of lab {lab.number}: score and best speedup over the "
                   "reference solution, one point per make check", HIST_H)
    n = len(runs)
    left, right = PAD_L, W - PAD_R
    xs = [left + 20 + (right - left - 40) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    scores = [run_score(r) for r in runs]
    speedups = [best_speedup(r) for r in runs]
    top_max = max([m for _, m, _ in scores] + [p for p, _, _ in scores] + [1.0])
    ay = LinAxis(0.0, top_max, SPLIT - 30, PAD_T)
    sp = [s for s, _ in filter(None, speedups)]
    ay2 = LogAxis(sp + [1.0], HIST_H - PAD_B, SPLIT + 18, pad=1.5)
    out.append(f'<rect class="plot" x="{left}" y="{PAD_T}" width="{right - left}" height="{SPLIT - 30 - PAD_T}"/>')
    out.append(f'<rect class="plot" x="{left}" y="{SPLIT + 18}" width="{right - left}" height="{HIST_H - PAD_B - SPLIT - 18}"/>')
    frame_y(out, ay, ay.ticks(), left, right, "score", lambda v: f"{v:g}")
    frame_y(out, ay2, ay2.ticks(), left, right, "best vs ref", lambda v: fmt_tick(v) + "x")
    out.append(f'<line class="par" x1="{left}" y1="{ay2(1.0):.1f}" x2="{right}" y2="{ay2(1.0):.1f}"/>')
    out.append(text(right - 4, ay2(1.0) - 4, "as fast as the reference", "roof-label", "end"))
    for i in sorted({0, n - 1, n // 2} if n else set()):
        anchor = "middle" if n == 1 or 0 < i < n - 1 else "start" if i == 0 else "end"
        out.append(text(xs[i] + {"start": -6, "end": 6}.get(anchor, 0), HIST_H - PAD_B + 16,
                        when_text(runs[i], "%Y-%m-%d %H:%M"), "tick", anchor))
    out.append(text((left + right) / 2, HIST_H - PAD_B + 38, f"make check runs, oldest first ({n}; times in UTC)",
                    "axis", "middle"))
    if n > 1:
        out.append('<polyline class="trend" points="'
                   + " ".join(f"{xs[i]:.1f},{ay(scores[i][0]):.1f}" for i in range(n)) + '"/>')
    for i, (run, (pts, mx, per_track)) in enumerate(zip(runs, scores)):
        sol = run.get("solution") is True
        tip = (f"run {i + 1}, {when_text(run)}{' (reference solution)' if sol else ''}: score {pts:g} / {mx:g}"
               f"{' (' + per_track + ')' if per_track else ''}; {run.get('passed', '?')} passed, "
               f"{run.get('failed', '?')} failed, {run.get('skipped', '?')} skipped; seed {run.get('seed', '?')}")
        out.append(point("score", xs[i], ay(pts), pts, tip, hollow=sol))
    for i, best in enumerate(speedups):
        if best is None:
            continue
        s, c = best
        tip = f"run {i + 1}, {when_text(runs[i])}: best {s:.2f}x the reference, {case_label(c)} on {c.get('track', '?')}"
        out.append(point("speedup", xs[i], ay2(s), s, tip, hollow=runs[i].get("solution") is True))
    if not n:
        out.append(text((left + right) / 2, SPLIT / 2, "no run recorded yet: each make check adds one", "empty", "middle"))
    elif not sp:
        out.append(text((left + right) / 2, (SPLIT + HIST_H - PAD_B) / 2, "no timed case passed in any run yet",
                        "empty", "middle"))
    legend(out, [("score", "score (points)"), ("speedup", "best speedup vs reference")])
    out.append("</svg>")
    return "\n".join(out)


def history_block(lab: Lab) -> str:
    notes = []
    if any(r.get("solution") is True for r in lab.history):
        notes.append("Hollow points: runs of the reference solution (make labN SOLUTION=1), not your code.")
    if lab.history_skipped:
        notes.append(f"{lab.history_skipped} lines of history.jsonl were not a run and are left out.")
    if not lab.history:
        notes.append("No history yet: every make check from now on adds a point.")
    note = "".join(f'\n<p class="note">{esc(n)}</p>' for n in notes)
    return f"<h3>Progress</h3>\n<figure>{history_svg(lab)}</figure>{note}"


# ---- the page --------------------------------------------------------------------------------------------------

def lab_tracks(lab: Lab) -> list[str]:
    tracks = [t for t in lab.results.get("tracks") or [] if isinstance(t, str)]
    for c in lab.cases:  # a results.json without "tracks": the cases say
        if c.get("track") not in tracks and isinstance(c.get("track"), str):
            tracks.append(c["track"])
    return tracks


def lab_summary(lab: Lab) -> str:
    res = lab.results
    counts = {s: sum(c.get("status") == s for c in lab.cases) for s in ("pass", "fail", "error", "skip")}
    scores = []
    for t in lab_tracks(lab):
        ran = [c for c in lab.cases if c.get("track") == t and c.get("status") != "skip"]
        if ran:
            pts = sum(num(obj(c.get("score")).get("points")) or 0 for c in ran)
            mx = sum(num(obj(c.get("score")).get("max")) or 0 for c in ran)
            scores.append(f"{t} {pts:.1f} / {mx:.1f}")  # as the checker's summary line
    machine = obj(res.get("machine"))
    when = dt.datetime.fromtimestamp(lab.results_path.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    bits = [f"score {'; '.join(scores)}" if scores else "no score (every case skipped)",
            f"{counts['pass']} passed, {counts['fail'] + counts['error']} failed, {counts['skip']} skipped",
            f"checked {when}, seed {res.get('seed', '?')}",
            f"CPU {machine.get('cpu') or '?'}" + (f", GPU {machine['gpu']}" if machine.get("gpu") else "")]
    if res.get("solution") is True:
        bits.append(f"the reference solution (make lab{lab.number} SOLUTION=1), not your code")
    busy = obj(res.get("timing")).get("busy") is True
    extra = ('\n<p class="note">Other programs used the cores while this check ran: its times read slow '
             "(vs ref holds, being interleaved with the reference).</p>") if busy else ""
    return f'<p class="summary">{" &middot; ".join(esc(b) for b in bits)}</p>{extra}'


def lab_section(lab: Lab) -> str:
    head = f'<section class="em-lab" data-lab="{lab.number}" id="lab{lab.number}">'
    if lab.results is None:
        return f'{head}\n<h2>Lab {lab.number}</h2>\n<p class="note error">{esc(lab.error)}</p>\n</section>'
    title = f"Lab {lab.number}: {lab.results.get('name', '')}"
    parts = [head, f"<h2>{esc(title)}</h2>", lab_summary(lab)]
    parts += [track_block(lab, t) for t in lab_tracks(lab)]
    parts += ["<h3>Cases</h3>", cases_table(lab), history_block(lab), "</section>"]
    return "\n".join(parts)


CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212529; margin: 0 auto;
       max-width: 1100px; padding: 1em 1.5em 3em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #dee2e6; padding-bottom: .2em; margin-top: 2em; }
h3 { margin: 1.4em 0 .4em; }
nav a { margin-right: 1em; } .summary { color: #495057; } .note { color: #495057; font-size: .92em; }
.note.error { color: #c92a2a; } .legend-text { color: #6c757d; font-size: .85em; }
figure { margin: 0; } svg.em-chart { width: 100%; max-width: 760px; height: auto; display: block;
       font: 12px system-ui, sans-serif; background: #fff; }
svg .plot { fill: #f8f9fa; stroke: #ced4da; } svg .grid { stroke: #e9ecef; } svg .tick { fill: #6c757d; font-size: 11px; }
svg .axis { fill: #343a40; font-size: 12px; } svg .legend { fill: #343a40; }
svg .roof { fill: none; stroke: #212529; stroke-width: 2.2; } svg .roof.extra { stroke: #868e96; stroke-dasharray: 6 4; }
svg .roof-label { fill: #495057; font-size: 11px; } svg .empty { fill: #868e96; font-size: 14px; }
svg .k-yours { fill: #e8590c; stroke: #fff; } svg .k-reference { fill: #fff; fill-opacity: .6; stroke: #1c7ed6; stroke-width: 2; }
svg .k-score { fill: #2b8a3e; stroke: #fff; } svg .k-speedup { fill: #7048e8; stroke: #fff; }
svg .hollow { fill: #fff; stroke-width: 2; } svg .k-score.hollow { stroke: #2b8a3e; } svg .k-speedup.hollow { stroke: #7048e8; }
svg .trend { fill: none; stroke: #2b8a3e; stroke-width: 1.2; opacity: .6; }
svg .par { stroke: #7048e8; stroke-dasharray: 4 4; opacity: .6; }
.em-scroll { overflow-x: auto; max-width: 100%; }
table.em-cases { border-collapse: collapse; font-size: .88em; width: 100%; }
table.em-cases th, table.em-cases td { padding: 3px 8px; border-bottom: 1px solid #e9ecef; text-align: left; white-space: nowrap; }
table.em-cases td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.em-cases tr.pass td:nth-child(5) { color: #2b8a3e; } table.em-cases tr.fail td:nth-child(5),
table.em-cases tr.error td:nth-child(5) { color: #c92a2a; font-weight: 600; }
table.em-cases tr.skip td { color: #868e96; white-space: normal; } table.em-cases tr.why td { color: #c92a2a; white-space: normal; font-size: .92em; }
table.em-cases tr.why.skip td { color: #868e96; }
"""

# Nothing may be fetched: the browser refuses any request the page would make, whatever it holds.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def page(labs: list[Lab], build: Path) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = " ".join(f'<a href="#lab{lab.number}">lab {lab.number}</a>' for lab in labs)
    body = "\n".join(lab_section(lab) for lab in labs)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emlab: your labs on this machine</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>emlab: your labs on this machine</h1>
<p class="summary">{esc(f"The last make check of each lab in {build}/, and every check before it; made {now} by make report.")}</p>
<nav>{nav}</nav>
<p class="legend-text">Roofline: a case's FLOP rate against its arithmetic intensity (FLOPs per byte moved), under this
machine's measured roof, the lower of its compute rate and intensity times its copy bandwidth. Your code's
cases are circles, the reference solution's time on the same case diamonds: the higher, the faster.</p>
</header>
{body}
</body>
</html>
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="One HTML page of every lab checked so far (make report).")
    ap.add_argument("--build", default="build", help="the build folder (default: build)")
    ap.add_argument("--out", default=None, help="the page to write (default: BUILD/report.html)")
    args = ap.parse_args(argv)
    build = Path(args.build)
    out = Path(args.out) if args.out else build / "report.html"
    labs = find_labs(build)
    if not labs:
        print(NOTHING, file=sys.stderr)
        return 2
    text_ = page(labs, build)
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text_, encoding="utf-8")
        tmp.replace(out)  # a browser reloading it never reads half a page
    except OSError as e:
        print(f"report: cannot write {out}: {e} (give --out a file in a folder you can write)", file=sys.stderr)
        return 2
    checked = ", ".join(str(lab.number) for lab in labs)
    print(f"report: {out} (lab{'s' if len(labs) > 1 else ''} {checked}): open it in a browser, e.g.  xdg-open {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
