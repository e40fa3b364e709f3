"""The similarity backstop (grader/similar.py) and its calibration on this repository: the skeletons,
the honest planted files and the batch test's honest submission stay below the threshold; a
reference solution renamed and reformatted, with code added around it or with lines taken out,
is above it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO, SRC
from grader import similar
from grader.labs import discover

LABS = discover(str(REPO))
REFS = similar.References(str(REPO))


def score(lab, name: str, text: str) -> float:
    stem, ext = name.rsplit(".", 1)
    skeleton = similar.grams((REPO / "labs" / lab.folder / name).read_text())
    best = 0.0
    for rels in ((f"reference/cpu/{stem}.c",), (f"reference/cuda/{stem}.cu", f"reference/cuda/{stem}_kernels.cuh")):
        ps = [REPO / rel for rel in rels if (REPO / rel).exists()]
        if ps and ps[0].name == rels[0].rsplit("/", 1)[1]:
            ref = similar.grams("\n".join(p.read_text() for p in ps))
            best = max(best, similar.share(similar.grams(text), ref, skeleton)[0])
    return best


def renamed(text: str) -> str:
    """What a copier does first: every name replaced (keywords kept), comments gone, lines
    re-indented."""
    names: dict[str, str] = {}

    def rename(m: re.Match) -> str:
        w = m.group()
        return w if w in similar.KEYWORDS else names.setdefault(w, f"my_{len(names)}_{w[::-1].lower()}")

    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
    text = re.sub(r"\b[A-Za-z_]\w*\b", rename, text)
    return "\n".join("    " + line.strip() for line in text.splitlines() if line.strip())


def student_files():
    for n, lab in sorted(LABS.items()):
        for name in lab.files:
            if name.endswith((".c", ".cu")):
                yield lab, name


def planted():
    for n, lab in sorted(LABS.items()):
        for p in sorted((REPO / "tests" / "planted" / f"lab{n}").glob("*")):
            name = next((f for f in lab.files if f.endswith(p.suffix)), None)
            if name and p.suffix in (".c", ".cu"):
                yield lab, name, p


def test_tokens_ignore_names_comments_and_layout():
    a = "int add(const float *x, int n) { /* sum */ return x[n - 1] + 2; }"
    b = "int   plus(const float*values,int count){return values[count-1]+7;} // a comment"
    assert similar.tokens(a) == similar.tokens(b)
    assert similar.tokens('for (int i = 0; i < n; ++i) s += "x";')[:4] == ["for", "(", "int", "I"]


@pytest.mark.parametrize("lab,name", list(student_files()), ids=lambda v: getattr(v, "folder", v))
def test_skeletons_do_not_trip_it(lab, name):
    assert score(lab, name, (REPO / "labs" / lab.folder / name).read_text()) == 0.0


@pytest.mark.parametrize("lab,name,path", list(planted()), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_honest_planted_files_do_not_trip_it(lab, name, path):
    assert score(lab, name, path.read_text()) < similar.THRESHOLD - 0.03, path


def test_honest_submission_does_not_trip_it(tmp_path):
    p = tmp_path / "add.c"
    p.write_text(SRC["good"])
    assert REFS.notes(LABS[1], {"add.c": str(p)}) == []


@pytest.mark.parametrize("lab,name", list(student_files()), ids=lambda v: getattr(v, "folder", v))
def test_renamed_copies_of_a_reference_trip_it(lab, name):
    stem, ext = name.rsplit(".", 1)
    ref = (REPO / "reference" / ("cpu" if ext == "c" else "cuda") / name).read_text()
    kernels = REPO / "reference" / "cuda" / f"{stem}_kernels.cuh"
    if ext == "cu" and kernels.exists():  # a working copy takes the kernels with the launchers
        ref = kernels.read_text() + "\n" + ref
    copy = renamed(ref)
    other = renamed((REPO / "reference" / "cpu" / ("sum.c" if stem != "sum" else "add.c")).read_text())
    lines = copy.splitlines()
    for variant in (copy,                                            # renamed and reformatted
                    other[: len(copy) // 2] + "\n" + copy,           # with code added around it
                    "\n".join(l for i, l in enumerate(lines) if i % 4 != 3)):  # a quarter of its lines gone
        assert score(lab, name, variant) >= similar.THRESHOLD + 0.03, variant[:200]


def test_the_note_names_the_file_and_the_reference(tmp_path):
    p = tmp_path / "add.c"
    p.write_text(renamed((REPO / "reference" / "cpu" / "add.c").read_text()))
    notes = REFS.notes(LABS[1], {"add.c": str(p)})
    assert len(notes) == 1 and notes[0].startswith(
        f"add.c: 100% of its token {similar.K}-grams match reference/cpu/add.c"), notes
    assert "for the instructor to judge; not scored" in notes[0]


@pytest.mark.parametrize("lab,name", [(l, n) for l, n in student_files() if n.endswith(".cu")],
                         ids=lambda v: getattr(v, "folder", v))
def test_a_renamed_copy_of_the_cuda_kernels_alone_trips_it(lab, name):
    """A CUDA reference keeps its kernels in <name>_kernels.cuh, apart from its launchers: a copy of
    the kernels alone is still a copy of the reference."""
    stem = name.rsplit(".", 1)[0]
    kernels = renamed((REPO / "reference" / "cuda" / f"{stem}_kernels.cuh").read_text())
    assert score(lab, name, kernels) >= similar.THRESHOLD, kernels[:200]
