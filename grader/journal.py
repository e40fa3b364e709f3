"""The journal: one JSON line per finished submission, fsync'd, keyed by the archive's sha256 and
the hash of the grading configuration. A killed batch re-reads it and grades only what is not in
it; a line cut short by the kill is ignored (and that submission graded again). Rows with status
`error` (the grader's own failure) are graded again too."""
from __future__ import annotations

import json
import os
import threading


class Journal:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.done: dict[str, dict] = {}
        if os.path.exists(path):
            with open(path, "rb") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue  # the torn last line of a killed batch
                    if isinstance(rec, dict) and "key" in rec and "row" in rec:
                        self.done[rec["key"]] = rec
        self.f = open(path, "ab")
        # A torn line without its newline would glue onto the next record.
        if self.f.tell() > 0:
            with open(path, "rb") as r:
                r.seek(-1, 2)
                if r.read(1) != b"\n":
                    self.f.write(b"\n")

    def get(self, key: str) -> dict | None:
        return self.done.get(key)

    def append(self, key: str, row: dict, tests: list) -> None:
        rec = {"key": key, "row": row, "tests": tests}
        data = (json.dumps(rec, ensure_ascii=False) + "\n").encode()
        with self.lock:
            self.f.write(data)
            self.f.flush()
            os.fsync(self.f.fileno())
            self.done[key] = rec  # the latest line of a key wins, as when read back

    def close(self) -> None:
        self.f.close()
