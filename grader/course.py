"""`course`: final course grades. Weights (DESIGN.md): tests and homework 60, paper review 10,
project 30, out of 100. Bands: above 80 excellent; 60 to 80 good; above 40 and below 60
satisfactory; 40 or less fail (so 80 -> good, 60 -> good, 40 -> fail).

Input CSV (header required, extra columns ignored):
    student,homework,review,project
    alice,92.5,80,75
each component a percentage 0-100. With --gradebook gradebook.json an empty homework cell is
filled with the student's lab average: for each lab in the gradebook the student's best
score/max_score x 100 (0 for a lab they did not submit), averaged over those labs.
Output CSV: student,homework,review,project,final,band (final rounded to 2 decimals; the band
is decided on the exact value). Exact arithmetic: 0.6*80 + 0.1*80 + 0.3*80 is 80, not 80.00000001."""
from __future__ import annotations

import csv
import io
import json
import sys
from fractions import Fraction

WEIGHTS = {"homework": Fraction(60, 100), "review": Fraction(10, 100), "project": Fraction(30, 100)}


def band(final: Fraction) -> str:
    if final > 80:
        return "excellent"
    if final >= 60:
        return "good"
    if final > 40:
        return "satisfactory"
    return "fail"


class CourseError(Exception):
    pass


def _pct(text: str, where: str) -> Fraction:
    try:
        v = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise CourseError(f"{where}: '{text}' is not a number (give a percentage 0-100)")
    if not 0 <= v <= 100:
        raise CourseError(f"{where}: {text} is outside 0-100")
    return v


def homework_from_gradebook(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            gb = json.load(f)
        rows = gb["rows"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CourseError(f"cannot read the gradebook {path}: {e}")
    labs = sorted({r["lab"] for r in rows if r.get("lab") not in ("", None)})
    best: dict = {}
    for r in rows:
        if r.get("lab") in ("", None) or not r.get("student"):
            continue
        mx = float(r.get("max_score") or 0)
        pct = Fraction(str(r.get("score") or 0)) / Fraction(str(mx)) * 100 if mx > 0 else Fraction(0)
        k = (r["student"], r["lab"])
        best[k] = max(best.get(k, Fraction(0)), pct)
    students = {s for s, _ in best}
    return {s: sum((best.get((s, l), Fraction(0)) for l in labs), Fraction(0)) / len(labs) for s in students} if labs else {}


def grades(text: str, hw: dict | None = None) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("student", "homework", "review", "project") if c not in (reader.fieldnames or [])]
    if missing:
        raise CourseError(f"missing column(s) {', '.join(missing)}: the header must be student,homework,review,project")
    if not rows:
        raise CourseError("no students in the file")
    out, seen = [], set()
    for n, r in enumerate(rows, start=2):
        s = (r.get("student") or "").strip()
        if not s:
            raise CourseError(f"line {n}: empty student name")
        if s in seen:
            raise CourseError(f"line {n}: student {s} appears twice")
        seen.add(s)
        vals = {}
        for k in WEIGHTS:
            cell = (r.get(k) or "").strip()
            if not cell and k == "homework" and hw is not None:
                vals[k] = hw.get(s, Fraction(0))
            elif not cell:
                raise CourseError(f"line {n} ({s}): {k} is empty")
            else:
                vals[k] = _pct(cell, f"line {n} ({s}), {k}")
        final = sum(WEIGHTS[k] * vals[k] for k in WEIGHTS)
        out.append({"student": s, **{k: f"{float(v):g}" for k, v in vals.items()},
                    "final": f"{float(final):.2f}", "band": band(final)})
    return out


def main(path: str, out: str | None, gradebook: str | None) -> int:
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
        hw = homework_from_gradebook(gradebook) if gradebook else None
        res = grades(text, hw)
    except OSError as e:
        print(f"grader course: cannot read {path}: {e.strerror}", file=sys.stderr)
        return 2
    except (CourseError, csv.Error, UnicodeDecodeError) as e:
        print(f"grader course: {path}: {e}", file=sys.stderr)
        return 2
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["student", "homework", "review", "project", "final", "band"], lineterminator="\n")
    w.writeheader()
    w.writerows(res)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(buf.getvalue())
        print(f"grader course: {len(res)} grade(s) written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
    return 0
