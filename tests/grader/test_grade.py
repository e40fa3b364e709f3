"""The grader end to end: one mixed batch holds every behaviour (one row each, the good one graded
ok), then the properties that need batches of their own: determinism, identical archives,
resuming a killed batch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest

from conftest import (HIDDEN, REFERENCE_ADD, REPO, SRC, add_bytes, bad_archives, em_archive_args, grade, rows_of,
                      searchable, student_tar)
from grader.build import COMPILER_MARK

STUDENTS = ["good", "skeleton", "build_error", "calls_reference", "fake_score", "modifies_inputs", "caches",
            "unwritten", "hangs", "segfaults", "writes_outside", "forks", "network", "fake_clock", "allocates",
            "writes_gigabytes", "forged_times", "impossible_speed", "includes_reference",
            "includes_reference_relative", "includes_reference_via_include", "includes_passwd", "copies_reference",
            "reads_outside"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory, pristine, hidden_file):
    d = tmp_path_factory.mktemp("batch")
    subs = d / "subs"
    subs.mkdir()
    out = d / "out"
    tag = uuid.uuid4().hex[:12]
    escape = [f"/tmp/emlab-escape-{tag}", str(REPO / f"escape-{tag}"), str(out / f"escape-{tag}"),
              str(Path.home() / f"emlab-escape-{tag}")]
    readable = [str(REFERENCE_ADD), str(out / "work" / "_cases" / "cases-lab1.json"), "/etc/passwd"]
    names = {}
    for s in STUDENTS:
        src = SRC[s].replace("ESCAPE_TARGETS", ", ".join(json.dumps(p) for p in escape))
        src = src.replace("READ_TARGETS", ", ".join(json.dumps(p) for p in readable))
        names[s] = student_tar(subs / f"lab1-{s.replace('_', '')}-20261128-120000.tar.gz", src,
                               manifest={"schema": "em-manifest/1", "lab": 1, "user": s.replace("_", ""),
                                         "claimed_score": {"points": 25, "max": 25}}).name
    # The student file at the top level of a zip, with other files beside it (ignored, noted).
    p = subs / "lab1-zipper-20261128-120000.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("add.c", SRC["good"])
        z.writestr("notes.txt", "hello")
    names["good_zip"] = p.name
    # Two candidates for add.c: which one is the submission? Refused.
    p = subs / "lab1-twice-20261128-120000.tar.gz"
    with tarfile.open(p, "w:gz") as t:
        add_bytes(t, "labs/lab1-add/add.c", SRC["good"].encode())
        add_bytes(t, "add.c", SRC["skeleton"].encode())
    names["two_candidates"] = p.name
    # A manifest whose hash disagrees with the file: noted, not fatal.
    p = subs / "lab1-edited-20261128-120000.tar.gz"
    student_tar(p, SRC["good"], manifest={"lab": 1, "user": "edited", "files": [
        {"path": "labs/lab1-add/add.c", "sha256": "0" * 64, "bytes": 1}]})
    names["edited"] = p.name
    victim = f"/tmp/emlab-archive-escape-{tag}"
    for k, p in bad_archives(subs, victim).items():
        names["bad_" + k] = p.name
    t0 = time.monotonic()
    # Limits no honest run comes near on a slow or busy machine (an honest run takes a second or
    # two; a call of it, milliseconds), so that every row's status is the same on any machine: a
    # run gets 30 s, a call of it 15 s, and may write files of 8 MiB (the outputs are 4 MiB).
    r = grade(out, [subs], pristine, hidden_file, "--jobs", "2", "--timeout", "30", "--memory", "1536",
              "--file-size", "8")
    return {"out": out, "rows": rows_of(out), "names": names, "stderr": r.stderr, "escape": escape + [victim],
            "elapsed": time.monotonic() - t0}


def row(batch, key):
    return batch["rows"][batch["names"][key]]


def test_one_row_per_submission(batch):
    assert set(batch["rows"]) == set(batch["names"].values())
    for r in batch["rows"].values():
        assert r["status"] in ("ok", "bad-archive", "build-error", "cheat-suspected", "timeout", "crash",
                               "limit-exceeded", "error"), r
        assert r["reason"] or r["status"] == "ok"
        if r["status"] != "ok":
            assert float(r["score"]) == 0.0


def test_good_submission_full_marks(batch):
    r = row(batch, "good")
    assert r["status"] == "ok", r
    assert float(r["correctness"]) == float(r["correctness_max"]) > 0
    assert float(r["max_score"]) == 100.0
    assert float(r["performance"]) > 0  # as fast as the reference within noise on this machine
    assert r["student"] == "good" and r["lab"] == "1" and r["claimed_score"] == "25/25"
    res = json.loads((batch["out"] / "submissions" / r["submission"] / "results.json").read_text())
    assert res["score"] == float(r["score"])
    assert res["tests"] and all({"name", "score", "max_score", "status", "output", "visibility"} <= set(t) for t in res["tests"])


def test_skeleton_scores_zero(batch):
    r = row(batch, "skeleton")
    assert r["status"] == "ok" and float(r["score"]) == 0.0


def test_build_error(batch):
    r = row(batch, "build_error")
    assert r["status"] == "build-error"
    assert "error" in r["reason"] and "add.c" in r["reason"]


def test_calling_the_reference_is_cheat_suspected(batch):
    r = row(batch, "calls_reference")
    assert r["status"] == "cheat-suspected"
    assert "em_add_b_cpu" in r["reason"]


def test_fake_perfect_score_gets_its_real_score(batch):
    r = row(batch, "fake_score")
    assert r["status"] == "ok"
    assert float(r["score"]) == 0.0


def test_modified_inputs_fail_those_cases(batch):
    r = row(batch, "modifies_inputs")
    assert r["status"] == "ok"
    res = json.loads((batch["out"] / "submissions" / r["submission"] / "results.json").read_text())
    part_b = [t for t in res["tests"] if "(b)" in t["name"] and not t["name"].endswith("performance")]
    part_a = [t for t in res["tests"] if "(a)" in t["name"]]
    assert part_b and all(t["status"] == "failed" for t in part_b)
    assert part_a and all(t["status"] == "passed" for t in part_a)
    assert 0 < float(r["correctness"]) < float(r["correctness_max"])


def test_caching_between_calls_fails(batch):
    r = row(batch, "caches")
    assert r["status"] == "ok"
    res = json.loads((batch["out"] / "submissions" / r["submission"] / "results.json").read_text())
    part_b = [t for t in res["tests"] if "(b)" in t["name"] and not t["name"].endswith("performance")]
    assert part_b and all(t["status"] == "failed" for t in part_b)
    assert float(r["performance"]) == 0.0


def test_unwritten_outputs_score_zero(batch):
    r = row(batch, "unwritten")
    assert r["status"] == "ok" and float(r["score"]) == 0.0


def test_hang_is_timeout(batch):
    r = row(batch, "hangs")
    assert r["status"] == "timeout", r


def test_segfault_is_crash(batch):
    r = row(batch, "segfaults")
    assert r["status"] == "crash", r
    assert "segmentation" in r["reason"].lower() or "SIGSEGV" in r["reason"]
    # Its stderr is the instructor's (gradebook), never the student's (results.json).
    assert "LEAKED-SECRET" in r["reason"]
    res = (batch["out"] / "submissions" / r["submission"] / "results.json").read_text()
    assert "LEAKED-SECRET" not in res and "segmentation" in res


def test_endless_allocation_is_the_memory_limit(batch):
    r = row(batch, "allocates")
    assert r["status"] == "limit-exceeded" and "memory" in r["reason"], r


def test_writing_past_the_file_size_limit_is_limit_exceeded(batch):
    r = row(batch, "writes_gigabytes")
    assert r["status"] == "limit-exceeded" and "file size limit exceeded" in r["reason"], r
    # Nothing of it is left: the work folders are removed after each submission.
    assert not list(batch["out"].rglob("big.bin"))


def test_times_that_cannot_add_up_are_cheat_suspected(batch):
    r = row(batch, "forged_times")
    assert r["status"] == "cheat-suspected" and float(r["score"]) == 0.0, r
    n = len(HIDDEN["cases"])
    assert f"reports {500.0 * n:.1f} s of timed calls ({10 * n} calls)" in r["reason"], r
    assert "of wall-clock time" in r["reason"]


def test_impossible_speed_earns_no_performance_points(batch):
    r = row(batch, "impossible_speed")
    assert r["status"] == "ok", r
    assert float(r["correctness"]) == float(r["correctness_max"]) > 0
    assert float(r["performance"]) == 0.0 < float(r["performance_max"])
    assert "a hidden case of part b [cpu]: speed beyond this machine's measured peaks (no performance points)" in r["notes"]
    res = (batch["out"] / "submissions" / r["submission"] / "results.json").read_text()
    assert "measured peaks" in res and "SPEED-NOTE-FROM-THE-RUN" not in res  # the grader's words, never the run's


@pytest.mark.parametrize("key", ["includes_reference", "includes_reference_relative"])
def test_including_the_reference_is_cheat_suspected(batch, key):
    # Issue 10: the reference's functions renamed and compiled in by #include, by the checkout's
    # absolute path or by a relative one.
    r = row(batch, key)
    assert r["status"] == "cheat-suspected" and float(r["score"]) == 0.0, r
    written = SRC[key].splitlines()[2].split('"')[1]
    assert r["reason"].startswith(f'add.c includes "{written}": a submission may include only its own files'), r


def test_the_checkouts_reference_is_not_where_include_leads(batch):
    # Relative to include/ (-Iinclude) the reference was the checkout's when make ran there; the
    # public view make runs in now has none.
    r = row(batch, "includes_reference_via_include")
    assert r["status"] == "build-error" and "../reference/cpu/add.c: No such file" in r["reason"], r


def test_a_file_of_the_machine_is_never_quoted_to_the_student(batch):
    r = row(batch, "includes_passwd")
    assert r["status"] == "cheat-suspected" and '"/etc/passwd"' in r["reason"], r
    shown = (batch["out"] / "submissions" / r["submission"] / "results.json").read_text()
    for line in Path("/etc/passwd").read_text().splitlines():
        assert not line.strip() or line not in shown, line


def test_an_honest_row_is_unchanged(batch):
    # No note of similarity, nothing withheld from the student's build error.
    assert row(batch, "good")["notes"] == "not in the archive, the skeleton used: add.cu"
    assert COMPILER_MARK not in row(batch, "build_error")["reason"]


def test_a_copy_of_the_reference_is_a_note_not_a_score(batch):
    r = row(batch, "copies_reference")
    assert r["status"] == "ok" and float(r["correctness"]) == float(r["correctness_max"]) > 0, r
    assert "add.c: it holds 100% of the token 12-grams of reference/cpu/add.c" in r["notes"], r


def test_a_run_sees_nothing_outside_its_view(batch):
    # Under bubblewrap the checkout, the grader's case list and /etc/passwd are not there; the
    # fallback cannot hide world-readable files, and says so in the row.
    r = row(batch, "reads_outside")
    assert r["status"] == "ok", r
    if r["isolation"].startswith("bubblewrap"):
        assert float(r["correctness"]) == float(r["correctness_max"]) > 0, r
    else:
        assert "read every world-readable file" in r["isolation"]


@pytest.fixture(scope="module")
def fallback(tmp_path_factory, pristine, hidden_file):
    """Issue 10's findings graded where bubblewrap is missing (EM_SANDBOX=rlimits): the compile can
    read every world-readable file there, and the build's own list of them is what catches it."""
    d = tmp_path_factory.mktemp("fallback")
    keys = ["good", "includes_reference", "includes_reference_relative", "includes_passwd"]
    names = {k: student_tar(d / f"lab1-{k.replace('_', '')}-20261128-120000.tar.gz", SRC[k]).name for k in keys}
    grade(d / "out", [d / n for n in names.values()], pristine, hidden_file, "--jobs", "2",
          env={"EM_SANDBOX": "rlimits"})
    return {"out": d / "out", "rows": rows_of(d / "out"), "names": names}


def test_without_bubblewrap_including_is_caught_all_the_same(fallback):
    rows = {k: fallback["rows"][n] for k, n in fallback["names"].items()}
    assert rows["good"]["status"] == "ok" and float(rows["good"]["correctness"]) > 0, rows["good"]
    assert "read every world-readable file" in rows["good"]["isolation"]  # the row says what is missing
    for k in ("includes_reference", "includes_reference_relative", "includes_passwd"):
        assert rows[k]["status"] == "cheat-suspected" and "a submission may include only" in rows[k]["reason"], rows[k]
    shown = (fallback["out"] / "submissions" / fallback["names"]["includes_passwd"] / "results.json").read_text()
    for line in Path("/etc/passwd").read_text().splitlines():
        assert not line.strip() or line not in shown, line


def test_writes_outside_its_folder_land_nowhere(batch):
    r = row(batch, "writes_outside")
    assert r["status"] == "ok"
    for p in batch["escape"]:
        assert not os.path.exists(p), f"{p} was written"


@pytest.mark.parametrize("key,symbol", [("forks", "fork"), ("network", "socket"), ("fake_clock", "clock_gettime")])
def test_forbidden_symbols(batch, key, symbol):
    r = row(batch, key)
    assert r["status"] == "cheat-suspected", r
    assert symbol in r["reason"]


def test_zip_with_the_file_at_the_top(batch):
    r = row(batch, "good_zip")
    assert r["status"] == "ok" and float(r["correctness"]) == float(r["correctness_max"])
    assert "notes.txt" in r["notes"]


def test_two_candidates_for_one_file(batch):
    r = row(batch, "two_candidates")
    assert r["status"] == "bad-archive" and "two candidates" in r["reason"]


def test_manifest_hash_mismatch_is_noted(batch):
    r = row(batch, "edited")
    assert r["status"] == "ok" and "manifest" in r["notes"] and r["student"] == "edited"


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink", "zip_traversal", "not_archive", "empty",
                                  "zero_bytes", "truncated", "many_entries", "duplicate", "newline_name",
                                  "zip_symlink", "xz_bomb", "huge_source"])
def test_bad_archives(batch, kind):
    r = row(batch, "bad_" + kind)
    assert r["status"] == "bad-archive", r
    assert r["reason"]


def test_gradebook_files(batch):
    out = batch["out"]
    gb = json.loads((out / "gradebook.json").read_text())
    assert len(gb["rows"]) == len(batch["names"])
    assert gb["isolation"] and gb["hidden_cases_sha256"]
    text = (out / "gradebook.json").read_text()
    assert "918273645546372" not in text and "h-perf" not in text  # neither the secret seed nor hidden cases
    assert gb["summary"]["counts"]["ok"] >= 7
    assert (out / "journal.jsonl").read_text().count("\n") == len(batch["names"])
    assert "[grader] done:" in batch["stderr"]
    assert f"[{len(batch['names'])}/{len(batch['names'])}]" in batch["stderr"]
    assert not any(p.name != "pristine" for p in (out / "work").iterdir() if not p.name.startswith("_")), \
        "work dirs are removed without --keep"


def test_same_submission_same_score(tmp_path, pristine, hidden_file):
    a = student_tar(tmp_path / "lab1-det-20261128-120000.tar.gz", SRC["modifies_inputs"])
    res = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        grade(out, [a], pristine, hidden_file)
        r = rows_of(out)[a.name]
        t = json.loads((out / "submissions" / a.name / "results.json").read_text())["tests"]
        res.append((r["status"], r["correctness"], [(x["name"], x["status"]) for x in t if not x["name"].endswith("performance")]))
    assert res[0] == res[1]


def test_identical_archives_graded_once_two_rows(tmp_path, pristine, hidden_file):
    a = student_tar(tmp_path / "lab1-x-20261128-120000.tar.gz", SRC["good"])
    b = tmp_path / "lab1-y-20261128-120000.tar.gz"
    b.write_bytes(a.read_bytes())
    out = tmp_path / "out"
    grade(out, [a, b], pristine, hidden_file)
    rows = rows_of(out)
    assert set(rows) == {a.name, b.name}
    assert rows[a.name]["score"] == rows[b.name]["score"] and rows[a.name]["sha256"] == rows[b.name]["sha256"]
    assert "graded once" in (rows[a.name]["notes"] + rows[b.name]["notes"])
    # Graded again in the same folder: both rows come from the journal.
    r = grade(out, [a, b], pristine, hidden_file)
    assert "2 reused from the journal" in r.stderr
    rows2 = rows_of(out)
    assert all("reused from the journal" in x["notes"] for x in rows2.values())


def test_resume_after_kill(tmp_path, pristine, hidden_file):
    subs = tmp_path / "subs"
    subs.mkdir()
    n = 5
    for k in range(n):  # distinct bytes: each one is graded
        student_tar(subs / f"lab1-s{k}-20261128-120000.tar.gz", SRC["good"] + f"/* student {k} */\n")
    out = tmp_path / "out"
    searchable(out)
    grade(out, [subs.iterdir().__next__()], pristine, hidden_file)  # the pristine build is ready: the kill hits grading
    (out / "journal.jsonl").unlink()
    argv = [sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out), "--pristine", str(pristine),
            "--track", "cpu", "--hidden", str(hidden_file), "--hidden-only", *em_archive_args()]
    p = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    before = [json.loads(l)["row"]["submission"] for l in journal.read_text().splitlines() if l.strip()]
    assert 2 <= len(before) < n, "the kill came too late to test a resume"
    r = grade(out, [subs], pristine, hidden_file)
    rows = rows_of(out)
    assert len(rows) == n and all(x["status"] == "ok" for x in rows.values())
    for name in before:
        assert "reused from the journal" in rows[name]["notes"]
    assert f"{len(before)} reused from the journal" in r.stderr
    keys = [json.loads(l)["key"] for l in journal.read_text().splitlines() if l.strip()]
    assert len(keys) == len(set(keys)) == n


def test_error_rows_are_graded_again(tmp_path, pristine, hidden_file):
    a = student_tar(tmp_path / "lab1-err-20261128-120000.tar.gz", SRC["good"])
    out = tmp_path / "out"
    broken = tmp_path / "em-archive"
    broken.write_text("#!/bin/sh\necho 'em-archive: cannot run' >&2\nexit 2\n")
    broken.chmod(0o755)
    searchable(tmp_path)
    grade(out, [a], pristine, hidden_file, "--em-archive", broken)
    assert rows_of(out)[a.name]["status"] == "error"
    grade(out, [a], pristine, hidden_file)
    r = rows_of(out)[a.name]
    assert r["status"] == "ok" and "reused" not in r["notes"]


def test_world_readable_hidden_file_is_refused(tmp_path, pristine):
    h = tmp_path / "cases.json"
    h.write_text('{"seed": 1, "cases": []}')
    h.chmod(0o644)
    a = student_tar(tmp_path / "lab1-h-20261128-120000.tar.gz", SRC["good"])
    r = grade(tmp_path / "out", [a], pristine, h, check=False)
    assert r.returncode == 2 and "chmod o-r" in r.stderr
