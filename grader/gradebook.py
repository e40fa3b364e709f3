"""Step 7: the gradebook (one row per submission, these columns in this order: README.md, Grading), the
Gradescope-format results.json of each submission, and the batch summary."""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, fields


@dataclass
class Row:
    """One submission's row. The fields, in this order, are the gradebook's columns (FIELDS) and
    the keys of each row in gradebook.json and journal.jsonl."""

    submission: str = ""      # the archive's file name: the row's key and its results folder
    sha256: str = ""          # of the archive's bytes ("" when it could not be read)
    student: str = ""
    lab: int | str = ""       # the lab's number, "" until the archive names one
    status: str = ""          # one of STATUSES
    reason: str = ""          # why the status; "" when ok and every case passed
    score: float = 0.0
    max_score: float = 0.0
    correctness: float = 0.0
    correctness_max: float = 0.0
    performance: float = 0.0
    performance_max: float = 0.0
    claimed_score: str = ""   # what the student's own check claimed ("25/25", "26/26 (cpu only; cuda not run)"), never used
    isolation: str = ""       # the sandbox's words for how the runs were isolated
    duration_s: float = 0.0
    notes: str = ""
    gpu: str = ""             # the GPU its checker ran on (an OPTIONAL column: GPU-track rows only)

    def to_dict(self) -> dict:
        """The row as written to disk: every field, in FIELDS order, then the OPTIONAL ones it has
        (so that a CPU batch's files read exactly as before those columns existed)."""
        d = asdict(self)
        for k in OPTIONAL:
            if not d[k]:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Row":
        """A row read back from disk (a journal line, also one of an earlier grader version):
        keys it does not know are dropped, fields the line lacks take their defaults."""
        return cls(**{k: v for k, v in d.items() if k in _NAMES})


# Columns appended only when some row has a value: gpu (grade --gpus).
OPTIONAL = ["gpu"]
FIELDS = [f.name for f in fields(Row) if f.name not in OPTIONAL]
_NAMES = frozenset(FIELDS + OPTIONAL)


def columns(rows: list[Row]) -> list[str]:
    """The gradebook's columns for these rows: FIELDS, then each OPTIONAL one some row fills."""
    return FIELDS + [k for k in OPTIONAL if any(getattr(r, k) for r in rows)]

STATUSES = ["ok", "bad-archive", "build-error", "cheat-suspected", "timeout", "crash",
            "limit-exceeded", "error"]
# Also `lost`, in `grader slurm` batches only (grader/slurm.py): a task that never reported a row.


def atomic_write(path: str, data: str) -> None:
    """path holds its old bytes or all of data, never a part (a reader, a killed batch)."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, a folder gone: no half-written temporary file left behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_csv(path: str, rows: list[Row]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns(rows), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r.to_dict())
    atomic_write(path, buf.getvalue())


def summary(rows: list[Row], elapsed_s: float, reused: int) -> dict:
    counts = {s: 0 for s in STATUSES}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    graded = len(rows) - reused
    return {"submissions": len(rows), "counts": counts, "reused_from_journal": reused,
            "elapsed_s": round(elapsed_s, 1),
            "per_minute": round(graded / elapsed_s * 60, 1) if elapsed_s > 0 and graded else None}


def write_json(path: str, rows: list[Row], meta: dict, summ: dict) -> None:
    atomic_write(path, json.dumps({"schema": "em-gradebook/1", **meta, "summary": summ,
                                    "rows": [r.to_dict() for r in rows]},
                                   indent=2, ensure_ascii=False) + "\n")


# What follows one of these in a reason is for the instructor only: the student's process's own
# output (grader/run.py STDERR_MARK), and the compiler's output with the text of files outside the
# submission (grader/build.py COMPILER_MARK).
_INSTRUCTOR_ONLY = (" | its last words: ", " | the compiler's whole words, for the instructor: ")


def public_reason(reason: str) -> str:
    """The reason as the student may see it: without the student's process's own output, which
    could carry the hidden cases or the seed out, nor the compiler's quotes of files the build had
    no business reading (the gradebook keeps it all)."""
    for mark in _INSTRUCTOR_ONLY:
        reason = reason.split(mark, 1)[0]
    return reason


def gradescope(row: Row, tests: list[dict]) -> dict:
    """Gradescope's results.json: score, output, tests[], visibility."""
    out = f"{row.status}: {row.score:g}/{row.max_score:g}"
    if row.reason:
        out += f" - {public_reason(row.reason)}"
    if row.notes:
        out += f"\nnotes: {row.notes}"
    return {"score": row.score, "output": out, "visibility": "after_published",
            "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"status": row.status, "sha256": row.sha256, "lab": row.lab}}


def write_results(out_dir: str, row: Row, tests: list[dict]) -> str:
    d = os.path.join(out_dir, "submissions", row.submission)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "results.json")
    atomic_write(p, json.dumps(gradescope(row, tests), indent=2, ensure_ascii=False) + "\n")
    return p
