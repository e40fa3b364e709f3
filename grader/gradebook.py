"""Step 7: the gradebook (one row per submission, these columns in this order: README.md, Grading), the
Gradescope-format results.json of each submission, and the batch summary."""
from __future__ import annotations

import csv
import io
import json
import os

FIELDS = ["submission", "sha256", "student", "lab", "status", "reason", "score", "max_score",
          "correctness", "correctness_max", "performance", "performance_max", "claimed_score",
          "isolation", "duration_s", "notes"]

STATUSES = ["ok", "bad-archive", "build-error", "cheat-suspected", "timeout", "crash",
            "limit-exceeded", "error"]


def new_row(submission: str, sha: str) -> dict:
    row = {f: "" for f in FIELDS}
    row.update(submission=submission, sha256=sha, score=0.0, max_score=0.0, correctness=0.0,
               correctness_max=0.0, performance=0.0, performance_max=0.0, duration_s=0.0)
    return row


def _atomic_write(path: str, data: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_csv(path: str, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    _atomic_write(path, buf.getvalue())


def summary(rows: list[dict], elapsed_s: float, reused: int) -> dict:
    counts = {s: 0 for s in STATUSES}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    graded = len(rows) - reused
    return {"submissions": len(rows), "counts": counts, "reused_from_journal": reused,
            "elapsed_s": round(elapsed_s, 1),
            "per_minute": round(graded / elapsed_s * 60, 1) if elapsed_s > 0 and graded else None}


def write_json(path: str, rows: list[dict], meta: dict, summ: dict) -> None:
    _atomic_write(path, json.dumps({"schema": "em-gradebook/1", **meta, "summary": summ, "rows": rows},
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


def gradescope(row: dict, tests: list[dict]) -> dict:
    """Gradescope's results.json: score, output, tests[], visibility."""
    out = f"{row['status']}: {row['score']:g}/{row['max_score']:g}"
    if row["reason"]:
        out += f" - {public_reason(row['reason'])}"
    if row["notes"]:
        out += f"\nnotes: {row['notes']}"
    return {"score": row["score"], "output": out, "visibility": "after_published",
            "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"status": row["status"], "sha256": row["sha256"], "lab": row["lab"]}}


def write_results(out_dir: str, row: dict, tests: list[dict]) -> str:
    d = os.path.join(out_dir, "submissions", row["submission"])
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "results.json")
    _atomic_write(p, json.dumps(gradescope(row, tests), indent=2, ensure_ascii=False) + "\n")
    return p
