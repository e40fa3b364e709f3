"""The journal: one JSON line per finished submission, fsync'd, keyed by the archive's sha256 and
the hash of the grading configuration. A killed batch re-reads it and grades only what is not in
it; a line cut short by the kill is ignored (and that submission graded again). Rows with status
`error` (the grader's own failure) are graded again too.

A line is {"key": ..., "row": {the gradebook's columns, in order}, "tests": [...]}, as every
version of the grader wrote it: lines of an earlier version load (gradebook.Row.from_dict)."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass

from .gradebook import Row


@dataclass
class Entry:
    key: str
    row: Row
    tests: list


def _entry(line: bytes) -> Entry | None:
    """The entry of one line, or None for a line that is not one (the torn last line of a
    killed batch, or one no grader wrote)."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if not (isinstance(rec, dict) and "key" in rec and isinstance(rec.get("row"), dict)):
        return None
    try:
        return Entry(rec["key"], Row.from_dict(rec["row"]), rec.get("tests") or [])
    except TypeError:
        return None


class Journal:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.done: dict[str, Entry] = {}
        if os.path.exists(path):
            with open(path, "rb") as f:
                for line in f:
                    e = _entry(line)
                    if e is not None:
                        self.done[e.key] = e
        self.f = open(path, "ab")
        # A torn line without its newline would glue onto the next record.
        if self.f.tell() > 0:
            with open(path, "rb") as r:
                r.seek(-1, 2)
                if r.read(1) != b"\n":
                    self.f.write(b"\n")

    def get(self, key: str) -> Entry | None:
        return self.done.get(key)

    def append(self, key: str, row: Row, tests: list) -> None:
        rec = {"key": key, "row": row.to_dict(), "tests": tests}
        data = (json.dumps(rec, ensure_ascii=False) + "\n").encode()
        with self.lock:
            self.f.write(data)
            self.f.flush()
            os.fsync(self.f.fileno())
            self.done[key] = Entry(key, row, tests)  # the latest line of a key wins, as when read back

    def close(self) -> None:
        self.f.close()
