"""What `grade` shows while it works (grader/progress.py): a status line redrawn in place on a
terminal, one plain line per finished submission anywhere else; never stdout."""
from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from conftest import REPO, SRC, em_archive_args, searchable, student_tar
from grader.progress import Reporter

CLEAR = "\r\x1b[K"


class Terminal(io.StringIO):
    """A stream that says it is a terminal; it has no descriptor to ask the width of, so the
    reporter takes 80 columns."""

    def isatty(self) -> bool:
        return True



@pytest.fixture(autouse=True)
def term(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")


def screen(text: str) -> list[str]:
    """What a terminal shows after text: each CLEAR starts the line again."""
    lines = [""]
    for chunk in text.split("\n"):
        lines[-1] = chunk.split(CLEAR)[-1] if CLEAR in chunk else lines[-1] + chunk
        lines.append("")
    return lines[:-1]


def test_not_a_terminal_one_plain_line_per_finished_submission():
    out = io.StringIO()
    p = Reporter(3, out)
    p.start(0, "alice-lab3.tar.gz")
    p.start(1, "bob-lab3.tar.gz")
    p.finish(1, "bob-lab3.tar.gz", "build-error 0/100 (0.4 s) - add.c:3: error")
    p.finish(0, "alice-lab3.tar.gz", "ok 87.5/100 (3.1 s)")
    p.finish(2, "carol-lab3.tar.gz", "ok 100/100 (0.0 s) [journal]")  # reused: never started
    p.close()
    assert out.getvalue() == ("[1/3] bob-lab3.tar.gz: build-error 0/100 (0.4 s) - add.c:3: error\n"
                              "[2/3] alice-lab3.tar.gz: ok 87.5/100 (3.1 s)\n"
                              "[3/3] carol-lab3.tar.gz: ok 100/100 (0.0 s) [journal]\n")


def test_a_terminal_gets_one_line_redrawn_in_place_and_cleared_at_the_end():
    out = Terminal()
    p = Reporter(20, out)
    p.done = 11
    for k, name in enumerate(["alice-lab3.tar.gz", "bob-lab3.tar.gz", "carol-lab3.tar.gz", "dan-lab3.tar.gz"]):
        p.start(k, name)
    p.finish(3, "dan-lab3.tar.gz", "ok 87.5/100 (3.1 s)")
    assert "\n" not in out.getvalue()  # nothing scrolls
    assert screen(out.getvalue()) == ["graded 12/20, 3 running: alice-lab3.tar.gz, bob-lab3.tar.gz, carol-lab3.tar.gz"]
    p.close()
    assert out.getvalue().endswith(CLEAR) and screen(out.getvalue()) == [""]
    p.close()  # twice: nothing more
    assert out.getvalue().endswith("carol-lab3.tar.gz" + CLEAR)


def test_a_message_while_the_line_is_up_gets_its_own_line():
    out = Terminal()
    p = Reporter(2, out)
    p.start(0, "a.tar.gz")
    p.say("[grader] internal error: boom")
    assert screen(out.getvalue()) == ["[grader] internal error: boom", "graded 0/2, 1 running: a.tar.gz"]
    p.finish(0, "a.tar.gz", "ok 1/1 (0.1 s)")
    p.close()
    assert screen(out.getvalue()) == ["[grader] internal error: boom", ""]


def test_the_line_never_wraps():
    out = Terminal()
    p = Reporter(200, out)
    for k in range(30):
        p.start(k, f"student-{k:02d}-lab3-20261128-120000.tar.gz")
    line = screen(out.getvalue())[-1]
    assert line.startswith("graded 0/200, 30 running: student-00-lab3") and line.endswith("...")
    assert len(line) == 79  # 80 columns (the fallback width) less one: the cursor stays on the line


def test_names_lose_their_control_characters():
    """An archive's name is the student's choice: an escape code in it would drive the terminal."""
    out = Terminal()
    p = Reporter(1, out)
    p.start(0, "evil\x1b[2J\x07.tar.gz")
    assert "\x1b[2J" not in out.getvalue() and "\x07" not in out.getvalue() and "evil.tar.gz" in out.getvalue()
    plain = io.StringIO()
    Reporter(1, plain).finish(0, "evil\x1b]0;title\x07\n.tar.gz", "ok 1/1 (0.1 s)")
    assert plain.getvalue().count("\n") == 1 and "\x07" not in plain.getvalue()


def test_a_dumb_terminal_gets_plain_lines(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")  # no erase code: the redraws would pile up
    out = Terminal()
    p = Reporter(1, out)
    p.start(0, "a.tar.gz")
    p.finish(0, "a.tar.gz", "ok 1/1 (0.1 s)")
    p.close()
    assert out.getvalue() == "[1/1] a.tar.gz: ok 1/1 (0.1 s)\n"


def test_a_closed_stream_never_stops_grading():
    out = io.StringIO()
    p = Reporter(1, out)
    out.close()
    p.finish(0, "a.tar.gz", "ok 1/1 (0.1 s)")
    p.say("still grading")


def test_grade_on_a_terminal_draws_one_line_and_leaves_stdout_alone(tmp_path, pristine, hidden_file):
    """The batch's own wiring: the running archives are named on the line, no per-row lines,
    the line cleared before the summary, stdout empty."""
    a = student_tar(tmp_path / "lab1-tty-20261128-120000.tar.gz", SRC["good"])
    b = student_tar(tmp_path / "lab1-ttybroken-20261128-120000.tar.gz", SRC["build_error"])
    out = tmp_path / "out"
    searchable(out)
    searchable(pristine)
    argv = [sys.executable, "-m", "grader", "grade", str(a), str(b), "--out", str(out), "--pristine", str(pristine),
            "--track", "cpu", "--hidden", str(hidden_file), "--hidden-only", *em_archive_args()]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    try:
        p = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=slave,
                             env={**os.environ, "TERM": "xterm"})
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child's side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stdout = p.stdout.read()
    assert p.wait(timeout=900) == 0
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")  # the pty turns \n into \r\n
    assert stdout == b""
    assert "graded 0/2, 1 running: lab1-tty" in text and "graded 2/2" in text, text
    assert "[1/2]" not in text and "[2/2]" not in text, text
    grading, summary = text.rsplit(CLEAR, 1)
    assert summary.startswith("[grader] done: 2 submission(s)"), text
    assert "\n" not in grading.split("running: ", 1)[1]  # from the first drawing on, nothing scrolled
