"""`grade`: every submission through unpack, select, build, scan, run, verify and score, each
step's failure becoming the row's status and reason; rows journaled as they finish."""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from . import build as buildmod
from . import gradebook, run as runmod, sandboxing, scan as scanmod, score as scoremod, similar, timing as timingmod
from . import unpack as unpackmod
from .journal import Journal
from .labs import discover
from .text import clean

GRADER_VERSION = "2"
DEFAULT_BUDGET_S = 0.05


@dataclass
class Options:
    submissions: list
    out: str
    hidden: str | None = None
    seed: int | None = None
    lab: int | None = None
    track: str | None = None
    jobs: int = 1
    timeout: float = 300.0
    config: str | None = None
    keep: bool = False
    repo: str | None = None
    em_archive: str | None = None
    budget: float | None = None
    threads: int | None = None
    pristine: str | None = None
    hidden_only: bool = False
    memory_mb: int = 8192
    file_size_mb: int = 2048


class UsageError(Exception):
    pass


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _collect(paths: list) -> list[str]:
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p) if os.path.isfile(os.path.join(p, f)))
        elif os.path.exists(p) or os.path.islink(p):
            out.append(p)
        else:
            raise UsageError(f"no such submission: {p}")
    if not out:
        raise UsageError("no submissions given (archives, or folders of archives)")
    seen: dict = {}
    for p in out:  # the file name is the row's key and its results folder's name
        n = os.path.basename(p)
        if n in seen:
            raise UsageError(f"two submissions are named {n} ({seen[n]} and {p}): rename one")
        seen[n] = p
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120] or "_"


def _student(name: str, manifest: dict | None) -> str:
    u = (manifest or {}).get("user")
    if isinstance(u, str) and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", u):
        return u
    m = re.match(r"lab\d+-(.+)-\d{8}-\d{6}\.", name)
    return _safe(m.group(1)) if m else _safe(name.split(".")[0])


def _unreachable(path: str) -> str | None:
    """The first folder on the way to path that others cannot search (the sandbox runs as an
    unprivileged uid when the grader is root, and must reach the work and pristine folders)."""
    p = os.path.abspath(path)
    while True:
        if os.path.isdir(p) and not os.stat(p).st_mode & 0o001:
            return p
        parent = os.path.dirname(p)
        if parent == p:
            return None
        p = parent


def _repo_version(repo: str) -> str:
    try:
        r = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        d = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip() + ("+dirty" if d.stdout.strip() else "")
    except OSError:
        return "unknown"


class Grader:
    def __init__(self, o: Options):
        self.o = o
        self.repo = os.path.abspath(o.repo or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.out = os.path.abspath(o.out)
        self.labs = discover(self.repo)
        self.references = similar.References(self.repo)
        try:
            self.cfg = scoremod.load_config(o.config)
        except scoremod.ConfigError as e:
            raise UsageError(str(e))
        self.hidden_sha = None
        seed = o.seed
        if o.hidden:
            try:
                with open(o.hidden, "rb") as f:
                    data = f.read()
                hidden = json.loads(data)
                if not isinstance(hidden, dict) or not isinstance(hidden.get("cases"), list):
                    raise ValueError('expected {"seed": S, "cases": [...]}')
            except (OSError, ValueError) as e:
                raise UsageError(f"the hidden cases file {o.hidden}: {e}")
            self.hidden_sha = hashlib.sha256(data).hexdigest()
            if os.geteuid() == 0 and os.stat(o.hidden).st_mode & 0o004:
                # The sandbox's runs (the build too: a compiler can #include any file) take an
                # unprivileged uid, to which a file readable by others is readable.
                raise UsageError(f"the hidden cases file {o.hidden} is readable by others, so the sandboxed builds and "
                                 f"runs could read it: chmod o-r {o.hidden} (e.g. chmod 600)")
            if seed is None and isinstance(hidden.get("seed"), int):
                seed = hidden["seed"]
        if seed is None:
            _say("[grader] warning: no secret seed (--seed S, or \"seed\" in the --hidden file): the inputs are the "
                 "checker's public default ones")
        gpu = buildmod.has_gpu()
        track = o.track or ("all" if gpu else "cpu")
        if track != "cpu" and not gpu:
            raise UsageError(f"--track {track} needs a GPU and this machine has none; use --track cpu")
        self.track = track
        if o.hidden_only and not o.hidden:
            raise UsageError("--hidden-only needs --hidden FILE")
        if o.lab is not None and o.lab not in self.labs:
            raise UsageError(f"--lab {o.lab}: the labs are {sorted(self.labs)}")
        cpus = os.cpu_count() or 1
        # The checker's timing budget per case (the speed cases get 5x, after a 0.1 s warm-up).
        # Its interactive default, 0.1 s, spends most of a graded run timing the correctness
        # cases, whose times earn nothing; 0.05 s leaves the speed cases 0.25 s of interleaved
        # rounds. --budget sets it.
        budget = o.budget if o.budget is not None else DEFAULT_BUDGET_S
        threads = o.threads or (max(1, cpus // o.jobs) if o.jobs > 1 and track == "cpu" else None)
        self.ropts = runmod.RunOptions(track=track, hidden=os.path.abspath(o.hidden) if o.hidden else None,
                                       seed=seed, wall_s=o.timeout, case_timeout_s=max(1.0, min(60.0, o.timeout / 2)),
                                       budget_s=budget, threads=threads, hidden_only=o.hidden_only,
                                       memory_bytes=o.memory_mb << 20, file_bytes=o.file_size_mb << 20)
        self.seed = seed
        grading = {"cfg": self.cfg, "hidden": self.hidden_sha, "seed": seed, "track": track, "lab": o.lab,
                   "timeout": o.timeout, "budget": budget, "hidden_only": o.hidden_only, "threads": threads,
                   "file_mb": o.file_size_mb, "repo": _repo_version(self.repo),
                   "grader": GRADER_VERSION}
        # The key of a graded submission: the same archive under the same configuration is the
        # same row; the seed enters only through this hash, never in clear.
        self.config_hash = scoremod.config_hash(grading)
        self.gpu_lock = threading.Lock()
        self.table_lock = threading.Lock()
        self.tables: dict = {}

    # ---- one submission -------------------------------------------------------------------------

    def _table(self, lab: int) -> dict:
        with self.table_lock:
            if lab not in self.tables:
                self.tables[lab] = runmod.case_table(self.pristine.verifier, lab, os.path.join(self.out, "work", "_cases"),
                                                     self.ropts, self.pristine.peaks)
            return self.tables[lab]

    def grade_one(self, path: str, sha: str, idx: int) -> tuple[dict, list]:
        name = os.path.basename(path)
        row = gradebook.new_row(name, sha)
        row["isolation"] = self.isolation
        row["student"] = _student(name, None)
        row["max_score"] = float(self.cfg["max_score"])  # 0 out of it, whatever goes wrong
        tests: list = []
        notes: list[str] = []
        t0 = time.monotonic()
        work = os.path.join(self.out, "work", f"{idx:04d}-{_safe(name)}")
        try:
            if os.path.exists(work):
                shutil.rmtree(work)
            # Searchable but not listable by others: the sandbox's unprivileged uid must reach
            # the run folders inside; other runs cannot list the submissions' names.
            os.makedirs(work, mode=0o711)
            os.chmod(work, 0o711)
            self._grade_steps(path, work, row, notes, tests)
        except unpackmod.Refused as e:
            row["status"], row["reason"] = e.status, e.reason
        except Exception as e:  # the grader's own failure: a row, never a stopped batch
            row["status"], row["reason"] = "error", clean(f"grader failure ({type(e).__name__}): {e}", 400)
        finally:
            if not self.o.keep:
                shutil.rmtree(work, ignore_errors=True)
        if row["status"] != "ok":
            for k in ("score", "correctness", "performance"):
                row[k] = 0.0
        row["notes"] = clean("; ".join(notes), 600)
        row["duration_s"] = round(time.monotonic() - t0, 2)
        return row, tests

    def _grade_steps(self, path, work, row, notes, tests) -> None:
        if not self.pristine.em_archive:
            raise unpackmod.Refused("error", "em-archive not found: build it (make build/em-archive) or pass --em-archive PATH")
        if not self.verify_ok:
            raise unpackmod.Refused("error", f"{self.pristine.verifier} has no --verify/--outputs: the grader has no "
                                             "trusted verdict channel with this harness (an older emlab: update the repository --repo points at)")
        unpacked = os.path.join(work, "unpacked")
        unpackmod.unpack(self.pristine.em_archive, path, unpacked, work)
        lab, chosen, manifest, n = unpackmod.select(unpacked, self.labs, self.o.lab, self.repo)
        notes += n
        row["lab"] = lab.number
        row["max_score"] = float(scoremod.lab_config(self.cfg, lab.number)["max_score"])
        row["student"] = _student(row["submission"], manifest)
        row["claimed_score"] = unpackmod.claimed_score(unpacked, manifest)
        labs_dir = os.path.join(work, "labs")
        os.makedirs(labs_dir, mode=0o700)
        unpackmod.place(lab, chosen, self.repo, labs_dir)
        shutil.rmtree(unpacked)  # nothing else of the archive is ever read again
        # A note, whatever happens next: the instructor judges a copy, the score does not.
        notes += self.references.notes(lab, {name: os.path.join(labs_dir, lab.folder, name)
                                             for name, src in chosen.items() if src is not None})

        b = buildmod.build(self.pristine, lab, labs_dir, work)
        if b.foreign:  # the compile read a file it may not: what it built is not the student's alone
            raise unpackmod.Refused("cheat-suspected", b.foreign)
        hit = scanmod.scan(b.objects) if b.objects else None
        if hit:  # also when the link failed: a forbidden call is the better reason
            raise unpackmod.Refused("cheat-suspected", hit[1])
        if not b.ok:
            raise unpackmod.Refused("build-error", b.reason)

        table = self._table(lab.number)
        scratch = os.path.join(work, "run")
        os.makedirs(scratch, mode=0o700)
        if self.track != "cpu":
            with self.gpu_lock:  # GPU timing one submission at a time
                sr = runmod.run_student(b.binary, lab.number, scratch, self.ropts, self.pristine.peaks, gpu=True)
        else:
            sr = runmod.run_student(b.binary, lab.number, scratch, self.ropts, self.pristine.peaks, gpu=False)
        row["isolation"] = sr.isolation
        if sr.status != "ok":
            raise unpackmod.Refused(sr.status, sr.reason)
        forged = timingmod.implausible(sr.claimed, sr.wall_s, sr.cpu_s, sr.contention_s)
        if forged:  # before the verification: no points come of such a run
            raise unpackmod.Refused("cheat-suspected", forged)
        v = runmod.verify(self.pristine.verifier, lab.number, scratch, os.path.join(work, "verify"), self.ropts)
        if not v.ok:
            raise unpackmod.Refused("error", v.reason)
        s = scoremod.score(table, v.results, sr.claimed, self.cfg, lab.number)
        row.update(status="ok", score=s["score"], max_score=s["max_score"], correctness=s["correctness"],
                   correctness_max=s["correctness_max"], performance=s["performance"],
                   performance_max=s["performance_max"])
        failed = sum(1 for t in s["tests"] if t["status"] == "failed" and not t["name"].endswith("performance"))
        ncases = sum(1 for t in s["tests"] if not t["name"].endswith("performance"))
        row["reason"] = f"{failed} of {ncases} case(s) failed" if failed else ""
        notes += s["notes"]
        tests += s["tests"]

    # ---- the batch ------------------------------------------------------------------------------

    def run(self) -> int:
        t_start = time.monotonic()
        os.makedirs(os.path.join(self.out, "work"), exist_ok=True)
        paths = _collect(self.o.submissions)
        if os.geteuid() == 0:
            pristine_dir = self.o.pristine or os.path.join(self.out, "pristine")
            os.makedirs(pristine_dir, exist_ok=True)
            for p in (os.path.join(self.out, "work"), pristine_dir, self.repo):
                bad = _unreachable(p)
                if bad:
                    _say(f"[grader] {bad} is not searchable by others, so the sandbox's unprivileged uid cannot reach "
                         f"{p}: chmod o+x {bad}, or choose another --out / --pristine")
                    return 2
        try:
            self.pristine = buildmod.prepare(self.repo, self.o.pristine or os.path.join(self.out, "pristine"),
                                             self.track != "cpu", self.o.em_archive, _say)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            _say(f"[grader] {e}")
            return 2
        self.pristine.peaks = buildmod.measure_peaks(self.pristine, self.ropts.threads, _say)
        self.isolation = sandboxing.isolation()
        self.verify_ok = runmod.verify_supported(self.pristine.verifier)
        _say(f"[grader] {len(paths)} submission(s), lab {self.o.lab or 'from each archive'}, track {self.track}, "
             f"jobs {self.o.jobs}, isolation: {self.isolation}")
        if not self.pristine.em_archive:
            _say("[grader] em-archive not found: every row will be an error (build it, or pass --em-archive)")
        if not self.verify_ok:
            _say("[grader] the reference checker has no --verify: every row will be an error (an older emlab: update the repository --repo points at)")

        journal = Journal(os.path.join(self.out, "journal.jsonl"))
        rows: list = [None] * len(paths)
        items, unreadable = [], []
        for i, p in enumerate(paths):
            try:
                sha = unpackmod.sha256_file(p)
            except OSError as e:
                row = gradebook.new_row(os.path.basename(p), "")
                row.update(status="bad-archive", reason=clean(f"cannot read the file: {e.strerror}", 200), isolation=self.isolation)
                unreadable.append((i, row))
                continue
            items.append((i, p, sha, f"{sha}:{self.config_hash}"))

        done_count = [0]
        reused = [0]
        total = len(paths)
        lock = threading.Lock()

        def finish(i, row, tests, how=""):
            with lock:
                rows[i] = (row, tests)
                done_count[0] += 1
                gradebook.write_results(self.out, row, tests)
                _say(f"[{done_count[0]}/{total}] {row['submission']}: {row['status']} "
                     f"{row['score']:g}/{row['max_score']:g} ({row['duration_s']:.1f} s){how}"
                     + (f" - {row['reason'][:100]}" if row["status"] != "ok" else ""))

        for i, row in unreadable:
            finish(i, row, [])

        # One grading per distinct key; identical archives share it (one row each).
        by_key: dict = {}
        for i, p, sha, key in items:
            by_key.setdefault(key, []).append((i, p, sha))

        def with_name(row, p, sha, note=None):
            r = dict(row)
            r["submission"] = os.path.basename(p)
            r["sha256"] = sha
            if note:
                r["notes"] = clean(((r["notes"] + "; ") if r["notes"] else "") + note, 700)
            return r

        todo = []
        for key, group in by_key.items():
            rec = journal.get(key)
            # An error row is the grader's own failure (a missing tool, a full disk): graded again.
            if rec and rec["row"].get("status") != "error":
                for i, p, sha in group:
                    reused[0] += 1
                    finish(i, with_name(rec["row"], p, sha, "reused from the journal (not regraded)"), rec["tests"], " [journal]")
            else:
                todo.append((key, group))

        def work(key, group):
            i0, p0, sha0 = group[0]
            row, tests = self.grade_one(p0, sha0, i0)
            for n, (i, p, sha) in enumerate(group):
                r = with_name(row, p, sha, None if n == 0 else f"identical bytes to {os.path.basename(p0)}: graded once")
                journal.append(key, r, tests)
                finish(i, r, tests)

        jobs = max(1, self.o.jobs)
        with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
            futs = [ex.submit(work, key, group) for key, group in todo]
            for f in cf.as_completed(futs):
                exc = f.exception()
                if exc:  # cannot happen (grade_one catches everything), but never lose the batch
                    _say(f"[grader] internal error: {exc!r}")
        journal.close()

        final = []
        for i, r in enumerate(rows):
            if r is None:  # never: every path got a row; kept as a last guard against lost rows
                row = gradebook.new_row(os.path.basename(paths[i]), "")
                row.update(status="error", reason="the grader lost this row (a bug): grade it again")
                r = (row, [])
            final.append(r[0])
        elapsed = time.monotonic() - t_start
        summ = gradebook.summary(final, elapsed, reused[0])
        meta = {"grader_version": GRADER_VERSION, "isolation": self.isolation, "track": self.track,
                "hidden_cases_sha256": self.hidden_sha, "config": self.cfg,
                "repo": _repo_version(self.repo), "pristine_build": self.pristine.build}
        gradebook.write_csv(os.path.join(self.out, "gradebook.csv"), final)
        gradebook.write_json(os.path.join(self.out, "gradebook.json"), final, meta, summ)
        counts = ", ".join(f"{k} {v}" for k, v in summ["counts"].items() if v)
        _say(f"[grader] done: {summ['submissions']} submission(s) in {summ['elapsed_s']} s ({counts}); "
             f"{summ['reused_from_journal']} reused from the journal; "
             f"{summ['per_minute'] if summ['per_minute'] is not None else '-'} graded per minute")
        _say(f"[grader] gradebook: {os.path.join(self.out, 'gradebook.csv')} and gradebook.json")
        return 0


def grade(o: Options) -> int:
    try:
        return Grader(o).run()
    except UsageError as e:
        _say(f"grader: {e}")
        return 2
