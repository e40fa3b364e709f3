"""`make slides` end to end: builds every deck (slides/*.md) into a folder of the test's, then checks
each deck has one slide per level-2 heading (plus its title slide) and every figure its source names,
inline as an SVG chart with points; opens each HTML page in headless Chromium with the network
blocked (no failed request, no console error, no slide whose content overflows its 1280x720 box);
counts the PDF's pages (one per slide) and renders one page of it to PNG beside the screenshots.
Skips, with the reason, only where pandoc or Chromium is missing and cannot be installed."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "browser"))  # the shared DevTools driver
from chromium import Browser, find_chromium  # noqa: E402

DECKS = sorted(p for p in (REPO / "slides").glob("*.md") if p.name != "README.md")
SHOTS = Path(os.environ.get("EM_BROWSER_OUT") or REPO / "build" / "tests" / "browser").resolve() / "slides"
FIGURE = re.compile(r"^!\[[^\]]*\]\(figures/([A-Za-z0-9_.-]+)\.svg\)\s*$", re.M)

OVERFLOW_JS = """Array.from(document.querySelectorAll('section.slide'), (s, i) =>
  ({n: i + 1, title: (s.querySelector('h1,h2') || {}).textContent || '', over: s.scrollHeight - s.clientHeight}))
  .filter(s => s.over > 1)"""


def expected_slides(deck: Path) -> int:
    text = deck.read_text()
    body = re.sub(r"```.*?```", "", text, flags=re.S)  # a '## ' inside a code block is no slide
    return len(re.findall(r"^## ", body, re.M)) + (1 if re.search(r"^title:", text, re.M) else 0)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    if shutil.which("pandoc") is None or find_chromium() is None or shutil.which("pdfinfo") is None:
        r = subprocess.run(["bash", "scripts/install-deps.sh", "--slides"], cwd=REPO, capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"pandoc, Chromium or poppler-utils missing and not installable here: {r.stderr.strip()}")
    build = tmp_path_factory.mktemp("build")
    r = subprocess.run(["make", "-s", "--no-print-directory", "slides", f"BUILD={build}"], cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"make slides failed (exit {r.returncode}):\n{r.stdout}{r.stderr}"
    return build / "slides"


def test_there_are_the_lecture_and_eight_lab_decks():
    names = [d.stem for d in DECKS]
    assert names[0].startswith("00-"), names
    assert len([n for n in names if n.startswith("lab")]) == 8, names


@pytest.mark.parametrize("deck", DECKS, ids=lambda d: d.stem)
def test_deck_has_its_slides_and_inline_figures(built, deck):
    page = re.sub(r"<!--.*?-->", "", (built / f"{deck.stem}.html").read_text(), flags=re.S)
    slides = len(re.findall(r'<section[^>]*class="[^"]*\bslide\b', page))
    assert slides == expected_slides(deck) >= 6, f"{deck.name}: {slides} slides, source has {expected_slides(deck)}"
    assert "<img" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', ""), \
        "a deck must inline its figures and link nothing outside it"
    for name in FIGURE.findall(deck.read_text()):
        chart = re.search(rf'<svg class="em-chart" data-chart="{re.escape(name)}".*?</svg>', page, re.S)
        assert chart, f"{deck.name}: figure {name} is not inline"
        assert chart.group(0).count('class="em-point') >= 1, f"{deck.name}: figure {name} has no points"


def test_every_deck_opens_offline_in_chromium(built):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with Browser() as browser:
        for deck in DECKS:
            page = browser.open(built / f"{deck.stem}.html", width=1400, height=900)
            assert page.problems() == [], f"{deck.name}: {page.problems()}"
            assert page.evaluate(OVERFLOW_JS) == [], f"{deck.name}: slides whose content overflows"
            for chart in page.chart_summary():
                assert chart["sized_points"] >= 1 and chart["width"] > 300, f"{deck.name}: {chart}"
            page.screenshot(SHOTS / f"{deck.stem}.png", full_page=False)
            page.close()


def test_pdfs_have_one_page_per_slide_and_render(built):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for deck in DECKS:
        pdf = built / f"{deck.stem}.pdf"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
        assert pages == expected_slides(deck), f"{pdf.name}: {pages} pages for {expected_slides(deck)} slides"
    # The lecture's roofline slide, as a person would see it printed.
    lecture = DECKS[0]
    heads = [h for h in re.findall(r"^## (.*)$", lecture.read_text(), re.M)]
    number = 2 + next(i for i, h in enumerate(heads) if "roofline" in h.lower() and "machine" in h.lower())
    out = SHOTS / f"{lecture.stem}-pdf-page"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", "-f", str(number), "-l", str(number),
                    str(built / f"{lecture.stem}.pdf"), str(out)], check=True)
    assert out.with_suffix(".png").stat().st_size > 5000


def test_roofline_points_are_the_references_not_their_alternatives():
    """`make bench` also times the library's alternatives of some parts (rows "... via avx2"): the
    figures plot each lab's reference and naive baseline, so those rows stay out."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("slides", REPO / "scripts" / "slides.py")
    slides = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(slides)
    case = {"lab": 8, "part": "b", "name": "perf 2048^3", "track": "cpu", "status": "pass", "flops": 1.7e10,
            "bytes": 3.0e7, "time_ms": 20.0, "naive_time_ms": 4000.0}
    alt = dict(case, name="perf 2048^3 via avx2", alternative="avx2", time_ms=70.0, naive_time_ms=None)
    points = slides.lab_points({"cases": [case, alt]})
    assert [p["case"] for p in points] == ["b perf 2048^3"]
