"""The gradebook's files byte for byte, the journal's lines (those of earlier grader versions too),
and the failure kinds each step raises."""
from __future__ import annotations

import csv
import json

import pytest

from grader import errors, gradebook, journal, unpack
from grader.gradebook import FIELDS, Row

# A journal line exactly as the grader wrote it while a row was still a dict (grader version 2):
# the gradebook's columns in their order, a lab number, floats, text beyond ASCII.
OLD_LINE = (
    '{"key": "k1", "row": {"submission": "lab1-ana-20261128-120000.tar.gz", "sha256": "' + "ab" * 32 + '", '
    '"student": "ana", "lab": 1, "status": "ok", "reason": "1 of 7 case(s) failed", "score": 71.4286, '
    '"max_score": 100.0, "correctness": 57.1429, "correctness_max": 71.4286, "performance": 14.2857, '
    '"performance_max": 28.5714, "claimed_score": "25/25", "isolation": "bubblewrap", "duration_s": 1.23, '
    '"notes": "ignored: notes.txt; «ü»"}, "tests": [{"name": "t", "score": 1}]}\n')
OLD_ROW = json.loads(OLD_LINE)["row"]
# An unreadable file's row as that version made it: every column there, most of them empty.
OLD_BAD_ROW = {"submission": "lab1-bob.tar.gz", "sha256": "", "student": "", "lab": "", "status": "bad-archive",
               "reason": "cannot read the file: Permission denied", "score": 0.0, "max_score": 0.0,
               "correctness": 0.0, "correctness_max": 0.0, "performance": 0.0, "performance_max": 0.0,
               "claimed_score": "", "isolation": "bubblewrap", "duration_s": 0.0, "notes": ""}


def rows() -> list[Row]:
    bad = Row(submission="lab1-bob.tar.gz", sha256="", status="bad-archive",
              reason="cannot read the file: Permission denied", isolation="bubblewrap")
    return [Row.from_dict(OLD_ROW), bad]


def test_columns_are_the_documented_ones_in_order():
    assert FIELDS == ["submission", "sha256", "student", "lab", "status", "reason", "score", "max_score",
                      "correctness", "correctness_max", "performance", "performance_max", "claimed_score",
                      "isolation", "duration_s", "notes"]
    assert list(Row().to_dict()) == FIELDS


def test_claimed_score_says_which_tracks_it_covers():
    """The claimed_score column: a manifest of before per-track receipts reads as it did; one that
    has them says which tracks the claim covers, and what is left in the others."""
    claim = {"points": 26, "max": 26.0}
    assert unpack.claimed_score("", {"claimed_score": claim}) == "26/26"
    tracks = {"cpu": {"status": "checked", "todo_count": 0},
              "cuda": {"status": "skipped", "reason": "no GPU", "todo_count": 1}}
    assert unpack.claimed_score("", {"claimed_score": claim, "tracks": tracks}) == "26/26 (cpu only; cuda not run, 1 TODO left)"
    tracks["cuda"] = {"status": "not_checked", "todo_count": 3}
    assert unpack.claimed_score("", {"claimed_score": claim, "tracks": tracks}) == "26/26 (cpu only; cuda not checked, 3 TODOs left)"
    tracks["cuda"] = {"status": "checked", "todo_count": 0}
    assert unpack.claimed_score("", {"claimed_score": claim, "tracks": tracks}) == "26/26 (cpu, cuda)"
    tracks["cpu"] = {"status": "skipped", "todo_count": 0}
    assert unpack.claimed_score("", {"claimed_score": claim, "tracks": tracks}) == "26/26 (cuda only; cpu not run)"
    # the student's file: odd values are passed over, never an exception
    odd = {"c\apu\n": {"status": "skipped", "todo_count": "many"}, "x": 3, "cuda": {"todo_count": True}}
    assert unpack.claimed_score("", {"claimed_score": claim, "tracks": odd}) == \
        "26/26 (no track checked; cpu not run; cuda not checked)"
    assert unpack.claimed_score("", {"claimed_score": claim, "tracks": []}) == "26/26"


def test_csv_is_byte_for_byte_the_dict_era_one(tmp_path):
    gradebook.write_csv(str(tmp_path / "g.csv"), rows())
    assert (tmp_path / "g.csv").read_text(encoding="utf-8") == (
        ",".join(FIELDS) + "\n"
        "lab1-ana-20261128-120000.tar.gz," + "ab" * 32 + ",ana,1,ok,1 of 7 case(s) failed,71.4286,100.0,57.1429,"
        "71.4286,14.2857,28.5714,25/25,bubblewrap,1.23,ignored: notes.txt; «ü»\n"
        "lab1-bob.tar.gz,,,,bad-archive,cannot read the file: Permission denied,0.0,0.0,0.0,0.0,0.0,0.0,,"
        "bubblewrap,0.0,\n")
    with open(tmp_path / "g.csv", newline="", encoding="utf-8") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["ok", "bad-archive"]


def test_json_is_byte_for_byte_the_dict_era_one(tmp_path):
    summ = gradebook.summary(rows(), 2.0, 0)
    assert summ["counts"]["ok"] == summ["counts"]["bad-archive"] == 1 and summ["per_minute"] == 60.0
    meta = {"grader_version": "2"}
    gradebook.write_json(str(tmp_path / "g.json"), rows(), meta, summ)
    want = json.dumps({"schema": "em-gradebook/1", **meta, "summary": summ, "rows": [OLD_ROW, OLD_BAD_ROW]},
                      indent=2, ensure_ascii=False) + "\n"
    assert (tmp_path / "g.json").read_text(encoding="utf-8") == want


def test_results_json_of_a_row():
    res = gradebook.gradescope(Row.from_dict(OLD_ROW), [])
    assert res["output"] == "ok: 71.4286/100 - 1 of 7 case(s) failed\nnotes: ignored: notes.txt; «ü»"
    assert res["score"] == 71.4286 and res["extra_data"] == {"status": "ok", "sha256": "ab" * 32, "lab": 1}


def test_a_journal_line_of_the_dict_era_loads_and_is_written_back_the_same(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(OLD_LINE, encoding="utf-8")
    j = journal.Journal(str(path))
    entry = j.get("k1")
    assert entry is not None and isinstance(entry.row, Row)
    assert entry.row.to_dict() == OLD_ROW and list(entry.row.to_dict()) == list(OLD_ROW)
    assert entry.row.status == "ok" and entry.row.lab == 1 and entry.tests == [{"name": "t", "score": 1}]
    j.append("k1", entry.row, entry.tests)
    j.close()
    assert path.read_text(encoding="utf-8") == OLD_LINE * 2


def test_journal_lines_with_other_columns_torn_lines_and_strangers(tmp_path):
    older = dict(OLD_ROW)
    del older["claimed_score"]  # a column the line's grader did not have yet
    older["retired_column"] = "x"  # and one this grader no longer has
    lines = [json.dumps({"key": "older", "row": older, "tests": []}),
             json.dumps({"key": "stranger", "row": ["not", "a", "row"], "tests": []}),
             json.dumps(["not a record"]),
             OLD_LINE.rstrip("\n")[:40]]  # the torn last line of a killed batch
    path = tmp_path / "journal.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    j = journal.Journal(str(path))
    try:
        row = j.get("older").row
        assert row.claimed_score == "" and row.score == 71.4286 and not hasattr(row, "retired_column")
        assert j.get("stranger") is None and set(j.done) == {"older"}
    finally:
        j.close()
    assert path.read_text(encoding="utf-8").endswith("\n")  # the torn line is closed before any append


def test_every_failure_kind_is_a_gradebook_status():
    kinds = [errors.BadArchive, errors.BuildFailed, errors.CheatSuspected, errors.TimedOut, errors.Crashed,
             errors.LimitExceeded, errors.GradingError]
    assert sorted({k.status for k in kinds}) == sorted(set(gradebook.STATUSES) - {"ok"})
    for k in kinds:
        e = k("why")
        assert isinstance(e, errors.Refused) and (e.status, e.reason, str(e)) == (k.status, "why", "why")


@pytest.mark.parametrize("status", ["timeout", "crash", "limit-exceeded", "error"])
def test_a_failed_run_raises_its_kind(status):
    e = errors.run_failure(status, "why")
    assert isinstance(e, errors.Refused) and (e.status, e.reason) == (status, "why")


def test_clean_removes_colour_codes_whole():
    from grader.text import clean
    assert clean("\x1b[31mFAIL\x1b[0m (a) n=1\x07") == "FAIL (a) n=1"


def test_the_student_of_a_second_submission_in_one_second():
    from grader.batch import _student
    assert _student("lab3-ana-20261205-010203.tar.gz", None) == "ana"
    assert _student("lab3-ana-20261205-010203-2.tar.gz", None) == "ana"
