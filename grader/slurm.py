"""`grader slurm`: a batch graded by a Slurm cluster, one array task per distinct archive, each
through the same steps as `grade` (Grader.grade_one), then a collecting job that writes the
gradebook. `grader collect` is that job by hand.

Everything lives under OUT/slurm/, which (with OUT, the pristine build, the repository and the
archives) must be on a file system every node sees:
  batch.json       what the tasks grade: the options, the pristine build, the archives by group
  hidden-cases.json  the instructor's cases, copied with mode 600 (never readable by others)
  grade.sbatch, collect.sbatch  the scripts submitted
  results/KEY.json   one task's row, written atomically; the collector moves it into journal.jsonl
  started/KEY        a task's node and start time: what is known of a task that never reported
  jobs.jsonl         one line per submission: the array's job id and its task -> key map
  logs/              Slurm's output of every task
Tasks write only their own result file, never the journal: nodes appending to one file on a
network file system may interleave. A key is an archive's sha256 and the configuration's hash,
as in the journal, so a resubmitted batch grades only the archives that have no row yet."""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

from . import build as buildmod
from . import gradebook
from . import unpack as unpackmod
from .batch import GRADER_VERSION, Grader, Options, UsageError, _collect, _renamed, _repo_version, _say
from .gradebook import Row
from .journal import Journal
from .text import clean


@dataclasses.dataclass
class SlurmOptions:
    partition: str | None = None
    gres: str | None = None
    max_parallel: int | None = None
    time: str | None = None
    dry_run: bool = False


def _dir(out: str, *p: str) -> str:
    return os.path.join(out, "slurm", *p)


def _keyfile(key: str) -> str:
    return key.replace(":", "-")


def _write_json(path: str, data) -> None:
    gradebook.atomic_write(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def _copy_hidden(src: str, dst: str) -> None:
    """The cases file, mode 600 from its first byte: a copy made readable and then narrowed would
    be readable by others for a moment, and a shared file system shows it to every node."""
    tmp = f"{dst}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f, open(src, "rb") as s:
        shutil.copyfileobj(s, f)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)  # O_CREAT's mode passes through the umask, which only narrows it
    os.replace(tmp, dst)


def _array_spec(indices: list[int]) -> str:
    """0,1,2,5,7,8 -> 0-2,5,7-8 (sbatch's line stays short for thousands of tasks)."""
    spans, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            spans.append(f"{start}" if start == i else f"{start}-{i}")
            start = None
    return ",".join(spans)


# ---- submitting -----------------------------------------------------------------------------------

def _groups(paths: list[str], config_hash: str, isolation: str) -> tuple[list, list]:
    """The archives as (key, [(index, path, sha)]) groups, identical bytes graded once, and the
    rows of the files that cannot be read."""
    by_key: dict = {}
    unreadable = []
    for i, p in enumerate(paths):
        try:
            sha = unpackmod.sha256_file(p)
        except OSError as e:
            unreadable.append((i, Row(submission=os.path.basename(p), sha256="", status="bad-archive",
                                      reason=clean(f"cannot read the file: {e.strerror}", 200),
                                      isolation=isolation).to_dict()))
            continue
        by_key.setdefault(f"{sha}:{config_hash}", []).append((i, os.path.abspath(p), sha))
    return [{"key": k, "members": m} for k, m in by_key.items()], unreadable


def _script(lines: list[str], directives: list[str]) -> str:
    return "\n".join(["#!/bin/bash", *(f"#SBATCH {d}" for d in directives), *lines]) + "\n"


def _scripts(g: Grader, todo: list[int], so: SlurmOptions) -> tuple[str, str]:
    out, py, repo = g.out, shlex.quote(sys.executable), shlex.quote(g.repo)
    common = [f"--partition={so.partition}"] if so.partition else []
    arr = _array_spec(todo) + (f"%{so.max_parallel}" if so.max_parallel else "")
    grade_d = ["--job-name=emlab-grade", f"--array={arr}", f"--output={_dir(out, 'logs', 'grade-%A_%a.log')}",
               *common, *([f"--gres={so.gres}"] if so.gres else []), *([f"--time={so.time}"] if so.time else [])]
    grade = _script(["# One archive per task, graded as `grade` grades it; the row goes to slurm/results/.",
                     f"cd {repo} && exec {py} -m grader task {shlex.quote(out)} \"$SLURM_ARRAY_TASK_ID\""],
                    grade_d)
    collect_d = ["--job-name=emlab-collect", f"--output={_dir(out, 'logs', 'collect-%j.log')}", *common, "--time=30"]
    collect = _script(["# After every task, however it ended (afterany): the gradebook, a row for each archive.",
                       f"cd {repo} && exec {py} -m grader collect {shlex.quote(out)}"], collect_d)
    return grade, collect


def _sbatch(argv: list[str]) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise UsageError(f"{' '.join(argv)} failed ({r.returncode}): {clean(r.stderr or r.stdout, 400)}")
    return r.stdout.strip().split(";")[0]


def submit(o: Options, so: SlurmOptions) -> int:
    try:
        return _submit(o, so)
    except UsageError as e:
        _say(f"grader: {e}")
        return 2


def _submit(o: Options, so: SlurmOptions) -> int:
    if not so.dry_run and not shutil.which("sbatch"):
        raise UsageError("sbatch not found: run this on a Slurm submit host (or --dry-run to see the scripts)")
    o.out = os.path.abspath(o.out)
    os.makedirs(_dir(o.out, "logs"), exist_ok=True)
    for sub in ("results", "started"):
        os.makedirs(_dir(o.out, sub), mode=0o700, exist_ok=True)
    if o.hidden:
        hidden = _dir(o.out, "hidden-cases.json")
        if os.path.abspath(o.hidden) != hidden:
            _copy_hidden(o.hidden, hidden)
        o.hidden = hidden
    o.submissions = [os.path.abspath(p) for p in _collect(o.submissions)]
    o.gpu_elsewhere = bool(so.gres and "gpu" in so.gres)
    if o.track is None:
        o.track = "all" if o.gpu_elsewhere else "cpu"
    g = Grader(o)
    if so.dry_run:  # the scripts only: no build, nothing written
        g.isolation = ""
    elif not g._reachable() or not g._prepare():
        return 2
    groups, unreadable = _groups(o.submissions, g.config_hash, g.isolation)
    if so.dry_run:
        grade_sh, collect_sh = _scripts(g, list(range(len(groups))), so)
        print(f"# {_dir(o.out, 'grade.sbatch')} ({len(groups)} task(s) at most)\n{grade_sh}\n"
              f"# {_dir(o.out, 'collect.sbatch')} (sbatch --dependency=afterany:<the array's job id>)\n{collect_sh}", end="")
        return 0
    batch = {"schema": "em-slurm/1", "options": dataclasses.asdict(o), "pristine": dataclasses.asdict(g.pristine),
             "meta": {"grader_version": GRADER_VERSION,
                      "isolation": g.isolation, "track": g.track, "hidden_cases_sha256": g.hidden_sha,
                      "config": g.cfg, "repo": _repo_version(g.repo),
                      "pristine_build": g.pristine.build},
             "paths": o.submissions, "groups": groups, "unreadable": unreadable}
    # What earlier arrays graded is in the journal (merged now): only the rest is submitted.
    journal = Journal(os.path.join(o.out, "journal.jsonl"))
    try:
        _merge(o.out, journal)
        todo = [k for k, grp in enumerate(groups) if not _graded(journal, grp["key"])]
    finally:
        journal.close()
    grade_sh, collect_sh = _scripts(g, todo, so)
    _write_json(_dir(o.out, "batch.json"), batch)
    if not todo:
        _say("[grader] every archive has its row already: writing the gradebook")
        return collect(o.out)
    for name, text in (("grade.sbatch", grade_sh), ("collect.sbatch", collect_sh)):
        gradebook.atomic_write(_dir(o.out, name), text)
    array = _sbatch(["sbatch", "--parsable", _dir(o.out, "grade.sbatch")])
    # Recorded before the collector is submitted: a collector that fails to submit leaves the
    # array known to `grader collect`.
    with open(_dir(o.out, "jobs.jsonl"), "a") as f:
        f.write(json.dumps({"array": array, "tasks": {str(k): groups[k]["key"] for k in todo},
                            "submitted": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    coll = _sbatch(["sbatch", "--parsable", f"--dependency=afterany:{array}", _dir(o.out, "collect.sbatch")])
    _say(f"[grader] submitted: array job {array} ({len(todo)} task(s) of {len(groups)} distinct archive(s)), "
         f"collecting job {coll} after it; the gradebook will be {os.path.join(o.out, 'gradebook.csv')}. "
         f"If the collecting job is cancelled: python3 -m grader collect {o.out}")
    return 0


def _graded(journal: Journal, key: str) -> bool:
    e = journal.get(key)
    return e is not None and e.row.status != "error"  # the grader's own failure: graded again


# ---- one task -------------------------------------------------------------------------------------

def _load(out: str) -> dict:
    p = _dir(os.path.abspath(out), "batch.json")
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"{p}: {e} (is {out} the --out of a `grader slurm` batch?)")


def task(out: str, index: int) -> int:
    """Grades group `index` of the batch and writes its row to results/KEY.json."""
    try:
        b = _load(out)
        grp = b["groups"][index]
    except UsageError as e:
        _say(f"grader: {e}")
        return 2
    except IndexError:
        _say(f"grader: task {index}: the batch has {len(b['groups'])} group(s) (0 to {len(b['groups']) - 1})")
        return 2
    out = os.path.abspath(out)
    key = grp["key"]
    started = _dir(out, "started", _keyfile(key))
    gradebook.atomic_write(started, json.dumps({"host": socket.gethostname(), "job": _job_id(),
                                                "at": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")

    def stopped(sig, _frame):  # Slurm's SIGTERM (scancel, --time, preemption): said to the collector
        with open(started, "a") as f:
            f.write(json.dumps({"signal": signal.Signals(sig).name, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
        os._exit(128 + sig)

    signal.signal(signal.SIGTERM, stopped)
    o = Options(**b["options"])
    try:
        g = Grader(o)
    except UsageError as e:
        _say(f"grader: {e}")
        return 2
    pr = dict(b["pristine"])
    pr["system_includes"] = tuple(pr.get("system_includes") or ())
    g.adopt(buildmod.Pristine(**pr))
    i0, p0, sha0 = grp["members"][0]
    row, tests = g.grade_one(p0, sha0, i0)
    _write_json(_dir(out, "results", _keyfile(key) + ".json"), {"key": key, "row": row.to_dict(), "tests": tests})
    _say(f"[grader] task {index}: {row.submission}: {row.status} {row.score:g}/{row.max_score:g}")
    return 0


def _job_id() -> str:
    a, t = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{a}_{t}" if a and t else os.environ.get("SLURM_JOB_ID", "")


# ---- collecting -----------------------------------------------------------------------------------

def _merge(out: str, journal: Journal) -> None:
    """The tasks' result files into the journal (then removed: the journal holds them)."""
    d = _dir(out, "results")
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not name.endswith(".json"):
            continue
        p = os.path.join(d, name)
        try:
            with open(p) as f:
                rec = json.load(f)
            row = Row.from_dict(rec["row"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # one being written (atomic: never half) or not ours
        journal.append(rec["key"], row, rec.get("tests") or [])
        os.unlink(p)


def _slurm_states(out: str) -> dict:
    """key -> (job id, Slurm's state) of the latest task of each key, from sacct ({} where
    accounting is off or sacct absent)."""
    jobs = []
    try:
        with open(_dir(out, "jobs.jsonl")) as f:
            jobs = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        pass
    states: dict = {}
    for j in jobs:
        if not shutil.which("sacct"):
            break
        try:
            r = subprocess.run(["sacct", "-n", "-P", "-X", "-j", j["array"], "--format=JobID,State"],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode != 0:
            continue
        for line in r.stdout.splitlines():
            jid, _, state = line.partition("|")
            _, _, idx = jid.partition("_")
            if idx.isdigit() and idx in j["tasks"]:
                states[j["tasks"][idx]] = (jid, state.split()[0] if state else "UNKNOWN")
    return states


def _missing_row(out: str, key: str, states: dict) -> Row:
    """The row of an archive whose task never reported: timeout when Slurm says its --time ran
    out, else lost, with what is known of why."""
    again = "resubmit the batch (grader slurm, same arguments) to grade it"
    if key in states:
        jid, state = states[key]
        if state == "TIMEOUT":
            return Row(status="timeout", reason=f"Slurm stopped task {jid} at its --time limit (TIMEOUT) before a row: "
                                                f"{again} with a longer --time")
        if state in ("PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "CONFIGURING", "COMPLETING"):
            return Row(status="lost", reason=f"Slurm task {jid} is still {state}: collect again once it has ended")
        return Row(status="lost", reason=f"Slurm task {jid} ended {state} without a row: {again}")
    try:
        with open(_dir(out, "started", _keyfile(key))) as f:
            said = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        said = []
    if not said:
        return Row(status="lost", reason=f"its Slurm task never started (cancelled, or still pending): {again}")
    start = said[0]
    sig = next((s["signal"] for s in said[1:] if "signal" in s), None)
    how = (f"was stopped by {sig} at {said[-1]['at']} (scancel, its --time limit or preemption)" if sig else
           "never reported a row (killed, out of memory, or its node failed)")
    return Row(status="lost", reason=f"its Slurm task {start.get('job', '')} started on {start.get('host')} at "
                                     f"{start.get('at')} and {how}; sacct could not say more: {again}")


def collect(out: str) -> int:
    try:
        b = _load(out)
    except UsageError as e:
        _say(f"grader: {e}")
        return 2
    out = os.path.abspath(out)
    t0 = time.monotonic()
    journal = Journal(os.path.join(out, "journal.jsonl"))
    try:
        _merge(out, journal)
        rows: list = [None] * len(b["paths"])
        for i, d in b["unreadable"]:
            rows[i] = (Row.from_dict(d), [])
        states = None
        lost = 0
        for grp in b["groups"]:
            key, members = grp["key"], grp["members"]
            e = journal.get(key)
            if e is None:
                states = _slurm_states(out) if states is None else states
                base, tests = _missing_row(out, key, states), []
                base.isolation = b["meta"]["isolation"]
                lost += len(members)
            else:
                base, tests = e.row, e.tests
            p0 = members[0][1]
            for n, (i, p, sha) in enumerate(members):
                r = _renamed(base, p, sha, None if n == 0 else f"identical bytes to {os.path.basename(p0)}: graded once")
                rows[i] = (r, tests)
    finally:
        journal.close()
    final = [r for r, _ in rows]
    for r, tests in rows:
        gradebook.write_results(out, r, tests)
    summ = gradebook.summary(final, time.monotonic() - t0, 0)
    gradebook.write_csv(os.path.join(out, "gradebook.csv"), final)
    gradebook.write_json(os.path.join(out, "gradebook.json"), final, b["meta"], summ)
    counts = ", ".join(f"{k} {v}" for k, v in summ["counts"].items() if v)
    _say(f"[grader] collected {len(final)} row(s) ({counts}) into {os.path.join(out, 'gradebook.csv')}"
         + (f"; {lost} without a row from their task: resubmit the same batch to grade only those" if lost else ""))
    return 0
