"""What `grade` tells on stderr while it works, never on stdout (which may be piped elsewhere).

On a terminal: one status line redrawn in place ("graded 12/20, 3 running: alice-lab3.tar.gz, ...")
and cleared at the end, so that a batch of 200 does not scroll 200 lines away. Anywhere else (a
log file, CI): one plain line per finished submission ("[12/20] alice-lab3.tar.gz: ok 87.5/100
(3.1 s)"), since carriage returns and escape codes garble a log."""
from __future__ import annotations

import os
import re
import sys
import threading

from .text import clean

_CLEAR = "\r\x1b[K"  # back to the line's start, erase to its end (ECMA-48 EL)


def _one_line(text: str) -> str:
    """Printable and on one line: an archive's name is the student's choice, and an escape code
    or a newline in it would drive the terminal or forge a line of the log."""
    return clean(re.sub(r"[\r\n\t]", " ", text), 300)


def _terminal(stream) -> bool:
    """A terminal that understands the erase code: TERM=dumb (Emacs shells, some CI) does not."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):  # a stream without isatty, or a closed one
        return False


def _columns(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80  # a new pty says 0: unknown
    except (AttributeError, ValueError, OSError):
        return 80


class Reporter:
    """Told from any thread when a submission starts and finishes; `say` prints a message of its
    own without tearing the status line, `close` clears the line."""

    def __init__(self, total: int, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.live = _terminal(self.stream)
        self.total = total
        self.done = 0
        self.running: dict = {}  # key -> name, in the order they started
        self.shown = False
        self.lock = threading.Lock()

    def start(self, key, name: str) -> None:
        with self.lock:
            self.running[key] = _one_line(name)
            self._draw()

    def finish(self, key, name: str, words: str) -> None:
        """A submission is done; words: its status and score ("ok 87.5/100 (3.1 s)")."""
        with self.lock:
            self.running.pop(key, None)
            self.done += 1
            if self.live:
                self._draw()
            else:
                self._write(f"[{self.done}/{self.total}] {_one_line(name)}: {_one_line(words)}\n")

    def say(self, message: str) -> None:
        with self.lock:
            if self.live and self.shown:
                self._write(_CLEAR)
            self._write(message + "\n")
            if self.live and self.shown:
                self._draw()

    def close(self) -> None:
        with self.lock:
            if self.shown:
                self._write(_CLEAR)
                self.shown = False

    def line(self) -> str:
        """The status line, cut to the terminal's width: a line that wraps cannot be redrawn."""
        text = f"graded {self.done}/{self.total}"
        if self.running:
            text += f", {len(self.running)} running: " + ", ".join(self.running.values())
        width = max(20, _columns(self.stream) - 1)
        return text if len(text) <= width else text[: width - 3] + "..."

    def _draw(self) -> None:
        if self.live:
            self._write(_CLEAR + self.line())
            self.shown = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError, UnicodeEncodeError):  # a closed or narrow stderr never stops grading
            pass
