#!/usr/bin/env python3
"""Builds the course's slides (slides/*.md, one deck per file) into self-contained HTML and PDF.

    python3 scripts/slides.py [--bench FILE] [--out build/slides] [--no-pdf] [--figures-only]

1. Figures: a roofline of the measured machine with every lab's reference and naive points, one per
   lab, and the intensities of common layers, drawn as inline SVG from a bench JSON: the
   results.json that `make bench` writes (build/bench/results.json; the checker's cases with their
   FLOPs, bytes and times, and the peaks it measured). Default: the committed snapshot
   slides/data/bench-cpu.json. The SVGs go to OUT/figures/.
2. Decks: a line `![caption](figures/NAME.svg)` in a deck is replaced by that figure's SVG inline
   (the committed slides/figures/ copies are what a Markdown viewer shows), then pandoc (Debian's
   2.17: -t dzslides with our own template, which holds all CSS and script) writes OUT/DECK.html.
3. PDF: headless Chromium prints each HTML page to OUT/DECK.pdf with the network blocked, one slide
   per page (the template's @page size).

Exit 0 on success, 2 with a message saying what to install or fix otherwise. Python stdlib only.
"""
from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SLIDES = REPO / "slides"
DEFAULT_BENCH = SLIDES / "data" / "bench-cpu.json"
FIGURE_LINE = re.compile(r"^!\[([^\]]*)\]\(figures/([A-Za-z0-9_.-]+)\.svg\)\s*$")

LAB_NAMES = {1: "add", 2: "outer add", 3: "ReLU-mul", 4: "ReLU-mul bwd", 5: "sum", 6: "softmax",
             7: "attention", 8: "int8 linear"}
# One colour per lab, distinguishable in print and for the common colour-vision deficiencies
# (Okabe-Ito's palette plus two darker tones).
LAB_COLOURS = {1: "#0072B2", 2: "#E69F00", 3: "#009E73", 4: "#CC79A7", 5: "#56B4E9", 6: "#D55E00",
               7: "#6a3d9a", 8: "#444444"}


def fail(message: str) -> "NoReturn":  # noqa: F821
    print(f"[emlab] {message}", file=sys.stderr)
    sys.exit(2)


# ---- the bench JSON ------------------------------------------------------------------------------

def load_bench(path: Path) -> dict:
    """The checker's results (em-results/1) from `make bench`: its own results.json, or bench.json
    when that holds them under "results". Returns {machine, peaks, cases, source}."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"no bench JSON at {path}: run `make bench TRACK=cpu` (it writes build/bench/results.json) "
             f"or pass BENCH_JSON=<a results.json of make bench>")
    except json.JSONDecodeError as e:
        fail(f"{path} is not JSON ({e}): pass the results.json that `make bench` wrote")
    if "cases" not in data and isinstance(data.get("results"), dict):
        data = data["results"]
    if not isinstance(data.get("cases"), list):
        fail(f"{path} has no cases[]: it is not the checker's results.json (build/bench/results.json)")
    machine = data.get("machine") or {}
    peaks = machine.get("peaks") or {}
    # A committed snapshot says when it was measured; a fresh results.json is from today's run.
    date = (data.get("snapshot") or {}).get("date") or f"{path}, {time.strftime('%Y-%m-%d', time.localtime(path.stat().st_mtime))}"
    return {"machine": machine, "peaks": peaks, "cases": data["cases"], "source": path, "date": date}


def positive(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and v > 0 and math.isfinite(v) else None


def lab_points(bench: dict, track: str = "cpu") -> list[dict]:
    """Per timed case of the track: the lab, the case, its intensity, and the GFLOP/s of the
    reference (time_ms: `make bench` times the reference solutions) and of the naive baseline."""
    points = []
    for c in bench["cases"]:
        flops, nbytes = positive(c.get("flops")), positive(c.get("bytes"))
        if c.get("track") != track or c.get("status") != "pass" or not flops or not nbytes:
            continue
        if c.get("alternative"):  # make bench's row of another library version ("via avx2"): not the reference
            continue
        ref_ms, naive_ms = positive(c.get("time_ms")), positive(c.get("naive_time_ms"))
        if not ref_ms:
            continue
        points.append({"lab": int(c["lab"]), "case": f"{c.get('part', '')} {c.get('name', '')}".strip(),
                       "ai": flops / nbytes, "ref": flops / (ref_ms * 1e6),
                       "naive": flops / (naive_ms * 1e6) if naive_ms else None})
    return points


def machine_line(bench: dict) -> str:
    m, p = bench["machine"], bench["peaks"]
    cpu = m.get("cpu") or "unknown CPU"
    when = bench.get("date") or ""
    bits = [cpu]
    if positive(p.get("cpu_copy_gbps")):
        bits.append(f"copy {p['cpu_copy_gbps']:.1f} GB/s")
    if positive(p.get("cpu_fma_gflops")):
        bits.append(f"FMA {p['cpu_fma_gflops']:.0f} GFLOP/s")
    if p.get("cpu_contended"):
        bits.append("peaks measured while other programs shared the cores")
    return ", ".join(bits) + (f" ({when})" if when else "")


# ---- SVG -----------------------------------------------------------------------------------------

W, H = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 80, 880, 30, 450


class LogAxis:
    def __init__(self, lo: float, hi: float, a: float, b: float):
        self.lo, self.hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        self.a, self.b = a, b

    def __call__(self, v: float) -> float:
        t = (math.log10(v) - self.lo) / (self.hi - self.lo)
        return self.a + t * (self.b - self.a)

    def ticks(self) -> list[float]:
        return [10.0 ** e for e in range(self.lo, self.hi + 1)]


def tick_label(v: float) -> str:
    return f"{v:g}" if 1e-3 <= v < 1e5 else f"1e{int(round(math.log10(v)))}"


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def frame(out: list, ax: LogAxis, ay: LogAxis, xlabel: str, ylabel: str) -> None:
    for v in ax.ticks():
        x = ax(v)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{BOTTOM}" stroke="#e3e7ee"/>')
        out.append(f'<text x="{x:.1f}" y="{BOTTOM + 22}" text-anchor="middle" font-size="15">{tick_label(v)}</text>')
    for v in ay.ticks():
        y = ay(v)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{RIGHT}" y2="{y:.1f}" stroke="#e3e7ee"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 5:.1f}" text-anchor="end" font-size="15">{tick_label(v)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" height="{BOTTOM - TOP}" fill="none" stroke="#8a93a3"/>')
    out.append(f'<text x="{(LEFT + RIGHT) / 2}" y="{BOTTOM + 50}" text-anchor="middle" font-size="17">{esc(xlabel)}</text>')
    out.append(f'<text transform="translate(22 {(TOP + BOTTOM) / 2}) rotate(-90)" text-anchor="middle" '
               f'font-size="17">{esc(ylabel)}</text>')


def roof_line(out: list, ax: LogAxis, ay: LogAxis, bw: float, peak: float, label: str, dash: str = "") -> None:
    """min(bw * ai, peak) across the x range, clipped to the frame."""
    xs = [10 ** (ax.lo + i * (ax.hi - ax.lo) / 200) for i in range(201)]
    pts = []
    for ai in xs:
        y = min(bw * ai, peak)
        if 10.0 ** ay.lo <= y <= 10.0 ** ay.hi:
            pts.append(f"{ax(ai):.1f},{ay(y):.1f}")
    style = f' stroke-dasharray="{dash}"' if dash else ""
    out.append(f'<polyline class="em-roof" points="{" ".join(pts)}" fill="none" stroke="#1d2330" '
               f'stroke-width="2"{style}/>')
    ridge = peak / bw
    if 10.0 ** ax.lo <= ridge <= 10.0 ** ax.hi:
        out.append(f'<text x="{ax(ridge) + 6:.1f}" y="{ay(peak) - 8:.1f}" font-size="15">{esc(label)}</text>')


def roofline_svg(name: str, title: str, bench: dict, points: list[dict], highlight: int | None) -> str:
    p = bench["peaks"]
    bw, fma, int8 = positive(p.get("cpu_copy_gbps")), positive(p.get("cpu_fma_gflops")), positive(p.get("cpu_int8_gops"))
    if not bw or not fma:
        fail(f"{bench['source']} has no measured CPU peaks (machine.peaks.cpu_copy_gbps, cpu_fma_gflops): "
             f"use the results.json of a `make bench TRACK=cpu` run")
    ys = [v for q in points for v in (q["ref"], q["naive"]) if v] + [fma, int8 or fma]
    ais = [q["ai"] for q in points] + [fma / bw * 4]
    ax = LogAxis(min(ais + [0.1]) / 1.5, max(ais) * 2, LEFT, RIGHT)
    ay = LogAxis(min(ys) / 2, max(ys) * 2, BOTTOM, TOP)
    out = [f'<svg class="em-chart" data-chart="{esc(name)}" viewBox="0 0 {W} {H + 40}" '
           f'xmlns="http://www.w3.org/2000/svg" role="img" font-family="DejaVu Sans, Arial, sans-serif">',
           f"<title>{esc(title)}</title>"]
    frame(out, ax, ay, "arithmetic intensity (FLOP per byte)", "GFLOP/s")
    roof_line(out, ax, ay, bw, fma, f"FP32 FMA {fma:.0f} GFLOP/s")
    if int8:
        roof_line(out, ax, ay, bw, int8, f"int8 {int8:.0f} Gop/s", dash="6 5")
    out.append(f'<text x="{ax(10.0 ** ax.lo) + 8:.1f}" y="{ay(bw * 10.0 ** ax.lo) - 10:.1f}" font-size="15" '
               f'transform="rotate(-{math.degrees(math.atan2(ay(1) - ay(10), ax(10) - ax(1))):.1f} '
               f'{ax(10.0 ** ax.lo) + 8:.1f} {ay(bw * 10.0 ** ax.lo) - 10:.1f})">copy {bw:.1f} GB/s</text>')
    for q in points:
        if highlight is not None and q["lab"] != highlight:
            continue
        colour = LAB_COLOURS.get(q["lab"], "#000")
        tip = f"lab {q['lab']} {q['case']}: {q['ai']:.3g} FLOP/B"
        x = ax(q["ai"])
        out.append(f'<circle class="em-point" data-kind="reference" data-lab="{q["lab"]}" cx="{x:.1f}" '
                   f'cy="{ay(q["ref"]):.1f}" r="7" fill="{colour}"><title>{esc(tip)}, reference '
                   f'{q["ref"]:.3g} GFLOP/s</title></circle>')
        if q["naive"]:
            out.append(f'<circle class="em-point" data-kind="naive" data-lab="{q["lab"]}" cx="{x:.1f}" '
                       f'cy="{ay(q["naive"]):.1f}" r="6" fill="#fff" stroke="{colour}" stroke-width="2.5">'
                       f'<title>{esc(tip)}, naive {q["naive"]:.3g} GFLOP/s</title></circle>')
    legend(out, sorted({q["lab"] for q in points if highlight is None or q["lab"] == highlight}))
    # Two lines: the machine's description alone can be as wide as the chart.
    out.append(f'<text x="{LEFT}" y="{H + 14}" font-size="13" fill="#555e6e">{esc(machine_line(bench))}</text>')
    out.append(f'<text x="{LEFT}" y="{H + 32}" font-size="13" fill="#555e6e">filled: reference solution, '
               f'hollow: naive baseline; one point per timed case of `make bench`</text>')
    out.append("</svg>")
    return "\n".join(out)


def legend(out: list, labs: list[int]) -> None:
    x, y = LEFT + 14, TOP + 22
    for lab in labs:
        out.append(f'<circle cx="{x}" cy="{y - 5}" r="6" fill="{LAB_COLOURS.get(lab, "#000")}"/>')
        out.append(f'<text x="{x + 12}" y="{y}" font-size="15">lab {lab} {esc(LAB_NAMES.get(lab, ""))}</text>')
        y += 22


# Intensities by the course's count (a multiply-add is two FLOPs, float32, each tensor read or
# written once); the derivations are on the lecture's slides.
LAYERS = [
    ("ReLU", 1 / 8),
    ("2x2 max pooling", 3 / 20),
    ("layer norm", 8 / 8),
    ("linear, batch 1 (4096x4096)", 2 * 4096 * 4096 / (4 * (4096 + 4096 * 4096 + 4096))),
    ("linear, batch 512 (4096x4096)", 2 * 512 * 4096 * 4096 / (4 * (2 * 512 * 4096 + 4096 * 4096))),
    ("GEMM 8192x128x8192", 2 * 8192 * 128 * 8192 / (4 * (2 * 8192 * 128 + 8192 * 8192))),
]


def intensity_svg(bench: dict) -> str:
    p = bench["peaks"]
    bw, fma = positive(p.get("cpu_copy_gbps")), positive(p.get("cpu_fma_gflops"))
    balance = fma / bw if bw and fma else None
    rows = 30 + 52 * len(LAYERS)
    ax = LogAxis(0.05, 500, 330, 860)
    out = [f'<svg class="em-chart" data-chart="layer-intensity" viewBox="0 0 900 {rows + 60}" '
           f'xmlns="http://www.w3.org/2000/svg" role="img" font-family="DejaVu Sans, Arial, sans-serif">',
           "<title>Arithmetic intensity of common layers, float32</title>"]
    for v in ax.ticks():
        out.append(f'<line x1="{ax(v):.1f}" y1="20" x2="{ax(v):.1f}" y2="{rows}" stroke="#e3e7ee"/>')
        out.append(f'<text x="{ax(v):.1f}" y="{rows + 20}" text-anchor="middle" font-size="15">{tick_label(v)}</text>')
    for i, (name, ai) in enumerate(LAYERS):
        y = 30 + 52 * i
        out.append(f'<text x="320" y="{y + 24}" text-anchor="end" font-size="17">{esc(name)}</text>')
        out.append(f'<rect class="em-point" data-value="{ai:.4g}" x="{ax.a}" y="{y + 6}" width="{ax(ai) - ax.a:.1f}" '
                   f'height="26" fill="#0072B2"><title>{esc(name)}: {ai:.3g} FLOP/B</title></rect>')
        out.append(f'<text x="{ax(ai) + 6:.1f}" y="{y + 25}" font-size="15">{ai:.3g}</text>')
    if balance:
        x = ax(balance)
        out.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{rows}" stroke="#D55E00" stroke-width="2" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{x - 6:.1f}" y="14" text-anchor="end" font-size="14" fill="#D55E00">'
                   f'this CPU\'s balance {balance:.1f} FLOP/B</text>')
    out.append(f'<text x="450" y="{rows + 48}" text-anchor="middle" font-size="16">FLOP per byte (log scale)</text>')
    out.append("</svg>")
    return "\n".join(out)


def write_figures(bench: dict, out: Path) -> dict[str, str]:
    points = lab_points(bench)
    if not points:
        fail(f"{bench['source']} has no passed, timed CPU case: use the results.json of a `make bench TRACK=cpu` run")
    figures = {"roofline": roofline_svg("roofline", "Roofline: every lab's reference and naive baseline",
                                        bench, points, None),
               "layer-intensity": intensity_svg(bench)}
    for lab in sorted({q["lab"] for q in points}):
        figures[f"roofline-lab{lab}"] = roofline_svg(f"roofline-lab{lab}", f"Roofline: lab {lab}", bench, points, lab)
    out.mkdir(parents=True, exist_ok=True)
    for name, svg in figures.items():
        (out / f"{name}.svg").write_text(svg + "\n")
    return figures


# ---- decks ---------------------------------------------------------------------------------------

def inline_figures(text: str, figures: dict[str, str], deck: Path) -> str:
    lines = []
    for n, line in enumerate(text.splitlines(), 1):
        m = FIGURE_LINE.match(line)
        if not m:
            lines.append(line)
            continue
        caption, name = m.groups()
        if name not in figures:
            fail(f"{deck}:{n} uses figures/{name}.svg, which the bench JSON gave no data for "
                 f"(figures made: {', '.join(sorted(figures))})")
        # A raw HTML block: pandoc passes it through; blank lines around keep it one block.
        lines += ["", f'<figure class="em-figure" data-figure="{esc(name)}">',
                  figures[name].replace("\n\n", "\n"), f"<figcaption>{esc(caption)}</figcaption></figure>", ""]
    return "\n".join(lines) + "\n"


def build_deck(deck: Path, figures: dict[str, str], out: Path) -> Path:
    source = inline_figures(deck.read_text(), figures, deck)
    target = out / f"{deck.stem}.html"
    cmd = ["pandoc", "-f", "markdown", "-t", "dzslides", "--slide-level=2",
           f"--template={SLIDES / 'template.html'}", "--self-contained", f"--resource-path={SLIDES}",
           "-o", str(target)]
    r = subprocess.run(cmd, input=source, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"pandoc failed on {deck} (exit {r.returncode}):\n{r.stderr}")
    return target


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def print_pdf(page: Path, browser: str) -> Path:
    """Headless Chromium's print to PDF, with every request other than file: refused: no name
    resolves, and every connection goes to a local port that never listens."""
    target = page.with_suffix(".pdf")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    try:
        with tempfile.TemporaryDirectory(prefix="em-slides-") as profile:
            cmd = [browser, "--headless", f"--user-data-dir={profile}", "--no-first-run",
                   "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND",
                   f"--proxy-server=http://127.0.0.1:{closed.getsockname()[1]}", "--proxy-bypass-list=<-loopback>",
                   "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
                   f"--print-to-pdf={target}", page.resolve().as_uri()]
            if os.geteuid() == 0:
                cmd.insert(1, "--no-sandbox")  # Chromium's sandbox refuses root (containers, CI)
            target.unlink(missing_ok=True)
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    finally:
        closed.close()
    if r.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        fail(f"Chromium did not print {page} to PDF (exit {r.returncode}):\n{r.stderr[-2000:]}")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH,
                    help="the results.json of `make bench` (default: the snapshot slides/data/bench-cpu.json)")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "slides")
    ap.add_argument("--no-pdf", action="store_true", help="HTML only")
    ap.add_argument("--figures-only", action="store_true",
                    help="only write the SVGs (to refresh the committed ones: --out slides)")
    args = ap.parse_args(argv)

    bench = load_bench(args.bench)
    figures = write_figures(bench, args.out / "figures")
    print(f"[emlab] {len(figures)} figures from {args.bench} in {args.out / 'figures'}")
    if args.figures_only:
        return 0
    if not shutil.which("pandoc"):
        fail("pandoc not found: scripts/install-deps.sh --slides (apt-get install pandoc), then make slides again")
    decks = sorted(p for p in SLIDES.glob("*.md") if p.name != "README.md")
    pages = [build_deck(d, figures, args.out) for d in decks]
    print(f"[emlab] {len(pages)} decks (HTML) in {args.out}")
    if args.no_pdf:
        return 0
    browser = chromium()
    if not browser:
        fail("headless Chromium not found for the PDFs: scripts/install-deps.sh --slides, or make slides NO_PDF=1")
    for page in pages:
        print_pdf(page, browser)
    print(f"[emlab] {len(pages)} PDFs in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
