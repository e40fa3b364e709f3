"""`make hint` (scripts/hint.py): the stages in order with their count, the end state, AGAIN, HINT,
RESET, the exit status 2 for what does not exist, progress kept outside the lab folders; and every
lab's hints.md: it parses, covers each track and part of the lab, and ends with the reference's
design. Self-contained: a lab folder of its own in a temporary directory for the behaviour, the
checkout's labs/ only read."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "hint.py"

_spec = importlib.util.spec_from_file_location("hint", SCRIPT)
hint = importlib.util.module_from_spec(_spec)
sys.modules["hint"] = hint  # dataclasses look their module up while the class is made
_spec.loader.exec_module(hint)

HINTS = """# Lab 9 hints

A preamble nobody is shown.

```sh
## not a section: inside a code block
```

## CPU track, part (a)

### Hint 1: First step
alpha one

### Hint 2: Second step
alpha two

```c
### Hint 9: not a stage either, inside code
```

### Hint 3: The reference solution's design
alpha three

## CUDA track, part (a)

### Hint 1: Launch
cuda one

### Hint 2: The reference solution's design
cuda two

## CPU track, part (b)

### Hint 1: Threads
beta one

### Hint 2: The reference solution's design
beta two
"""


@pytest.fixture()
def lab(tmp_path):
    """A labs/ folder with lab 9 (three sections) and lab 8 (no hints.md), and a state folder."""
    labs = tmp_path / "labs"
    (labs / "lab9-demo").mkdir(parents=True)
    (labs / "lab9-demo" / "README.md").write_text("# Lab 9: a demo\n")
    (labs / "lab9-demo" / "hints.md").write_text(HINTS)
    (labs / "lab8-nohints").mkdir()
    return {"labs": labs, "state": tmp_path / "build" / "hints"}


def run(lab, *args):
    p = subprocess.run([sys.executable, str(SCRIPT), "--labs", str(lab["labs"]), "--state", str(lab["state"]), *args],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def heading(out: str) -> str:
    return out.splitlines()[0]


def test_stages_come_in_order_with_their_count(lab):
    for k, word in enumerate(["alpha one", "alpha two", "alpha three"], 1):
        rc, out, err = run(lab, "--lab", "9")
        assert rc == 0, err
        assert f"hint {k} of 3" in heading(out)
        assert word in out
        assert all(w not in out for w in ["alpha one", "alpha two", "alpha three"] if w != word)
    assert "The reference solution's design" in heading(out)


def test_code_blocks_do_not_split_hints(lab):
    run(lab, "--lab", "9")
    rc, out, _ = run(lab, "--lab", "9")
    assert rc == 0 and "hint 2 of 3" in heading(out)
    assert "### Hint 9: not a stage either, inside code" in out


def test_footer_says_how_to_go_on_see_again_and_reset(lab):
    run(lab, "--lab", "9")
    _, out, _ = run(lab, "--lab", "9")
    assert "hint 2 of 3 (CPU track, part (a)). The next one:  make hint LAB=9\n" in out
    assert "make hint LAB=9 AGAIN=1" in out
    assert "make hint LAB=9 HINT=1   (any of 1 to 2)" in out
    assert "make hint LAB=9 RESET=1" in out
    assert "make hint LAB=9 PART=b" in out and "make hint LAB=9 TRACK=cuda" in out


def test_last_hint_then_no_more(lab):
    for _ in range(3):
        rc, out, _ = run(lab, "--lab", "9")
    assert rc == 0
    assert "hint 3 of 3 (CPU track, part (a)), the last one" in out and "No more hints" in out
    for _ in range(2):  # asked again: the last one again, saying so, and the count stays
        rc, out, _ = run(lab, "--lab", "9")
        assert rc == 0
        assert "hint 3 of 3" in heading(out) and "alpha three" in out
        assert "no more hints: that was hint 3 of 3" in out
    assert (lab["state"] / "lab9-a-cpu.seen").read_text().strip() == "3"


def test_again_and_earlier_hints_do_not_advance(lab):
    rc, out, _ = run(lab, "--lab", "9", "--again")
    assert rc == 0 and "no hint seen yet" in out
    run(lab, "--lab", "9")
    run(lab, "--lab", "9")
    rc, out, _ = run(lab, "--lab", "9", "--again")
    assert rc == 0 and "hint 2 of 3" in heading(out) and "alpha two" in out
    rc, out, _ = run(lab, "--lab", "9", "--hint", "1")
    assert rc == 0 and "hint 1 of 3" in heading(out) and "alpha one" in out
    assert "again: you have seen 2 of them. The next new one:  make hint LAB=9" in out
    rc, out, _ = run(lab, "--lab", "9")
    assert "hint 3 of 3" in heading(out), "the next one is still the third"


def test_a_hint_ahead_is_refused(lab):
    rc, out, err = run(lab, "--lab", "9", "--hint", "3")
    assert rc == 2 and out == ""
    assert "hint 3 is ahead: you have seen 0 of 3" in err and "make hint LAB=9  shows hint 1" in err
    rc, _, err = run(lab, "--lab", "9", "--hint", "4")
    assert rc == 2 and "has hints 1 to 3" in err
    rc, out, _ = run(lab, "--lab", "9", "--hint", "1")  # the next one by number is fine
    assert rc == 0 and "hint 1 of 3" in heading(out)


def test_reset_starts_over(lab):
    for _ in range(3):
        run(lab, "--lab", "9")
    rc, out, _ = run(lab, "--lab", "9", "--reset")
    assert rc == 0 and "hints start over" in out and "shows hint 1 of 3" in out
    assert not (lab["state"] / "lab9-a-cpu.seen").exists()
    rc, out, _ = run(lab, "--lab", "9")
    assert "hint 1 of 3" in heading(out) and "alpha one" in out


def test_parts_and_tracks_count_on_their_own(lab):
    run(lab, "--lab", "9")
    run(lab, "--lab", "9")
    rc, out, _ = run(lab, "--lab", "9", "--track", "cuda")
    assert rc == 0 and "CUDA track, part (a), hint 1 of 2" in heading(out) and "cuda one" in out
    rc, out, _ = run(lab, "--lab", "9", "--part", "b")
    assert rc == 0 and "CPU track, part (b), hint 1 of 2" in heading(out) and "beta one" in out
    assert "make hint LAB=9 PART=b AGAIN=1" in out
    rc, out, _ = run(lab, "--lab", "lab9", "--part", "(A)", "--track", "CPU")
    assert rc == 0 and "hint 3 of 3" in heading(out)
    assert sorted(p.name for p in lab["state"].iterdir()) == ["lab9-a-cpu.seen", "lab9-a-cuda.seen", "lab9-b-cpu.seen"]


@pytest.mark.parametrize("args, says", [
    (["--lab", "7"], "there is no lab 7: the labs are 8 9"),
    (["--lab", "x"], "there is no lab x: the labs are 8 9"),
    (["--lab", ""], "which lab? make hint LAB=N (the labs are 8 9)"),
    (["--lab", "8"], "lab 8 has no hints yet"),
    (["--lab", "9", "--part", "c"], "lab 9 has no part (c): its parts are PART=a, PART=b"),
    (["--lab", "9", "--track", "all"], "TRACK=all: hints come per track, TRACK=cpu or TRACK=cuda"),
    (["--lab", "9", "--part", "b", "--track", "cuda"], "lab 9 part (b) has no hints for the CUDA track: it has TRACK=cpu"),
    (["--lab", "9", "--again", "--reset"], "one of AGAIN=1, HINT=K and RESET=1 at a time"),
])
def test_what_does_not_exist_exits_2_saying_what_does(lab, args, says):
    rc, out, err = run(lab, *args)
    assert rc == 2, (out, err)
    assert says in err and out == ""
    assert not lab["state"].exists(), "nothing recorded"


@pytest.mark.parametrize("text, says", [
    ("## CPU track\n\n### Hint 2: skipped one\nx\n", "hint 2 where hint 1 was due"),
    ("## CPU track\n\n### Hint 1: empty\n\n### Hint 2: t\nx\n", "hint 1 of CPU part (a) is empty"),
    ("## CPU track\n\n### Hint 1: t\nx\n\n## CPU track\n\n### Hint 1: t\ny\n", "a second `## CPU track` section"),
    ("## GPU track\n\n### Hint 1: t\nx\n", "is neither"),
    ("## CPU track\nstray text\n### Hint 1: t\nx\n", "text before the section's first"),
    ("## CPU track\n\n## CUDA track\n\n### Hint 1: t\nx\n", "has no hints"),
    ("just a preamble\n", "no `## CPU track` or `## CUDA track` section"),
])
def test_a_malformed_hints_file_names_the_line_and_exits_2(lab, text, says):
    (lab["labs"] / "lab9-demo" / "hints.md").write_text(text)
    rc, _, err = run(lab, "--lab", "9")
    assert rc == 2 and says in err, err


def test_progress_is_never_written_into_the_labs(lab):
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in lab["labs"].rglob("*") if p.is_file()}
    for args in (["--lab", "9"], ["--lab", "9", "--track", "cuda"], ["--lab", "9", "--reset"]):
        run(lab, *args)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in lab["labs"].rglob("*") if p.is_file()}
    assert after == before


def test_make_hint_passes_its_variables(tmp_path):
    """The Makefile's target: LAB, PART, TRACK and AGAIN/RESET reach the script, the progress goes
    under BUILD, a lab that does not exist ends make with status 2, and `make help` lists it."""
    def make(*args):
        return subprocess.run(["make", "-s", "-C", str(REPO), "hint", f"BUILD={tmp_path}", *args],
                              capture_output=True, text=True, timeout=60)
    p = make("LAB=1", "PART=b", "TRACK=cuda")
    assert p.returncode == 0, p.stderr
    assert "CUDA track, part (b), hint 1 of" in p.stdout
    assert (tmp_path / "hints" / "lab1-b-cuda.seen").read_text().strip() == "1"
    p = make("LAB=1", "PART=b", "TRACK=cuda", "AGAIN=1")
    assert p.returncode == 0 and "hint 1 of" in p.stdout
    assert "[emlab]" not in p.stdout.split("\n")[0], "no feature probes before the hint"
    p = make("LAB=1", "PART=b", "TRACK=cuda", "RESET=1")
    assert p.returncode == 0 and not (tmp_path / "hints" / "lab1-b-cuda.seen").exists()
    p = make("LAB=99")
    assert p.returncode == 2 and "there is no lab 99" in p.stderr
    h = subprocess.run(["make", "-s", "-C", str(REPO), "help"], capture_output=True, text=True, timeout=60)
    assert "make hint [LAB=N]" in h.stdout


# ---- the checkout's hints files --------------------------------------------------------------------

def lab_parts() -> dict[int, set[str]]:
    """Each lab's parts, from its checker spec (harness/specs/<name>.c): the part table's rows
    `{'a', "title", ...` beside `.number = N`. The spec, not the header's function names, is what
    the checker grades (lab 8's parts are lab8_quantize ... lab8_step, no _a or _b)."""
    parts: dict[int, set[str]] = {}
    for spec in (REPO / "harness" / "specs").glob("*.c"):
        text = spec.read_text()
        number = re.search(r"\.number = (\d+)", text)
        if number:
            parts[int(number.group(1))] = set(re.findall(r"^\s*\{'([a-z])', \"", text, re.M))
    return parts


LAB_FOLDERS = hint.lab_folders(str(REPO / "labs"))
WITH_HINTS = [n for n, d in LAB_FOLDERS.items() if (Path(d) / "hints.md").exists()]


def test_every_lab_of_the_course_so_far_has_hints():
    assert set(range(1, 9)) <= set(WITH_HINTS)


@pytest.mark.parametrize("number", WITH_HINTS)
def test_hints_cover_the_lab_and_end_with_the_reference(number):
    hints = hint.parse_hints(str(Path(LAB_FOLDERS[number]) / "hints.md"))
    want = {(t, p) for t in hint.TRACKS for p in lab_parts()[number]}
    assert set(hints.sections) == want
    for (track, part), stages in hints.sections.items():
        assert len(stages) >= 2, f"{track} ({part}): a first hint and the design at least"
        assert "reference" in stages[-1].title.lower(), f"{track} ({part}) ends with {stages[-1].title!r}"
        assert all("reference solution's design" not in s.title for s in stages[:-1])
