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
from dataclasses import dataclass, replace

from . import build as buildmod
from . import gpus as gpusmod
from . import gradebook, run as runmod, sandboxing, scan as scanmod, score as scoremod, similar, timing as timingmod
from . import unpack as unpackmod
from .errors import BuildFailed, CheatSuspected, GradingError, Refused, run_failure
from .gradebook import Row
from .journal import Journal
from .labs import discover
from .progress import Reporter
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
    gpus: int | None = None  # GPU-track runs at once, one per GPU (default: every visible GPU)
    # The runs happen on other machines (grader slurm): this one need not have the GPU they use.
    gpu_elsewhere: bool = False


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
    m = re.match(r"lab\d+-(.+)-\d{8}-\d{6}(?:-\d+)?\.", name)
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


def _read_hidden(path: str) -> tuple[str, int | None]:
    """The hidden cases file's sha256 and its secret seed (None when it has none)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        hidden = json.loads(data)
        if not isinstance(hidden, dict) or not isinstance(hidden.get("cases"), list):
            raise ValueError('expected {"seed": S, "cases": [...]}')
    except (OSError, ValueError) as e:
        raise UsageError(f"the hidden cases file {path}: {e}")
    if os.geteuid() == 0 and os.stat(path).st_mode & 0o004:
        # The sandbox's runs (the build too: a compiler can #include any file) take an
        # unprivileged uid, to which a file readable by others is readable.
        raise UsageError(f"the hidden cases file {path} is readable by others, so the sandboxed builds and "
                         f"runs could read it: chmod o-r {path} (e.g. chmod 600)")
    seed = hidden.get("seed")
    return hashlib.sha256(data).hexdigest(), seed if isinstance(seed, int) else None


def _renamed(row: Row, path: str, sha: str, note: str | None = None) -> Row:
    """A copy of a graded row for the archive at path (identical bytes, or a journal's row)."""
    r = replace(row, submission=os.path.basename(path), sha256=sha)
    if note:
        r.notes = clean(((r.notes + "; ") if r.notes else "") + note, 700)
    return r


class _Progress:
    """The batch's rows as they finish (any thread): each written to its results.json and told
    (grader/progress.py: a status line on a terminal, a line per row elsewhere)."""

    def __init__(self, out: str, total: int):
        self.out = out
        self.rows: list[tuple[Row, list] | None] = [None] * total
        self.reused = 0
        self.lock = threading.Lock()
        self.tell = Reporter(total)

    def start(self, i: int, path: str) -> None:
        self.tell.start(i, os.path.basename(path))

    def finish(self, i: int, row: Row, tests: list, how: str = "") -> None:
        with self.lock:
            self.rows[i] = (row, tests)
            gradebook.write_results(self.out, row, tests)
            self.tell.finish(i, row.submission, f"{row.status} {row.score:g}/{row.max_score:g} "
                                                f"({row.duration_s:.1f} s){how}"
                             + (f" - {clean(row.reason, 100)}" if row.status != "ok" else ""))


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
        self.hidden_sha, seed = _read_hidden(o.hidden) if o.hidden else (None, None)
        self.seed = o.seed if o.seed is not None else seed
        if self.seed is None:
            _say("[grader] warning: no secret seed (--seed S, or \"seed\" in the --hidden file): the inputs are the "
                 "checker's public default ones")
        gpu = o.gpu_elsewhere or buildmod.has_gpu()
        self.track = o.track or ("all" if gpu else "cpu")
        if self.track != "cpu" and not gpu:
            raise UsageError(f"--track {self.track} needs a GPU and this machine has none; use --track cpu")
        if o.hidden_only and not o.hidden:
            raise UsageError("--hidden-only needs --hidden FILE")
        if o.lab is not None and o.lab not in self.labs:
            raise UsageError(f"--lab {o.lab}: the labs are {sorted(self.labs)}")
        self.gpus = self._gpu_pool()
        self.gpu_nodes: dict | None = None  # per GPU, its device nodes alone (_gpu_nodes, after the build)
        self.ropts = self._run_options()
        grading = {"cfg": self.cfg, "hidden": self.hidden_sha, "seed": self.seed, "track": self.track, "lab": o.lab,
                   "timeout": o.timeout, "budget": self.ropts.budget_s, "hidden_only": o.hidden_only,
                   "threads": self.ropts.threads, "file_mb": o.file_size_mb, "repo": _repo_version(self.repo),
                   "grader": GRADER_VERSION}
        # The key of a graded submission: the same archive under the same configuration is the
        # same row; the seed enters only through this hash, never in clear.
        self.config_hash = scoremod.config_hash(grading)
        self.table_lock = threading.Lock()
        self.tables: dict = {}

    def _gpu_pool(self) -> gpusmod.Pool | None:
        """One slot per GPU the batch times on (None on the CPU track): a run holds its GPU
        alone, so that timings never share one."""
        if self.track == "cpu":
            return None
        seen = gpusmod.visible()
        n = self.o.gpus if self.o.gpus is not None else len(seen)
        if self.o.gpus is not None and self.o.gpus > len(seen) and seen:
            raise UsageError(f"--gpus {self.o.gpus}: this machine shows {len(seen)} GPU(s) ({', '.join(seen)}); "
                             f"ask for at most {len(seen)}")
        # A GPU that nvidia-smi lists no index for still times alone, as one slot of its own.
        return gpusmod.Pool(seen[:n] if seen else [None])

    def _workers(self) -> int:
        """Submissions in flight: --jobs, and on a GPU track at least one per GPU."""
        return max(1, self.o.jobs, len(self.gpus) if self.gpus else 0)

    def _run_options(self) -> runmod.RunOptions:
        o = self.o
        cpus = os.cpu_count() or 1
        # The checker's timing budget per case (the speed cases get 5x, after a 0.1 s warm-up).
        # Its interactive default, 0.1 s, spends most of a graded run timing the correctness
        # cases, whose times earn nothing; 0.05 s leaves the speed cases 0.25 s of interleaved
        # rounds. --budget sets it.
        budget = o.budget if o.budget is not None else DEFAULT_BUDGET_S
        # Runs at once share the cores: each CPU-track checker gets its part of them.
        w = self._workers()
        threads = o.threads or (max(1, cpus // w) if w > 1 and self.track != "cuda" else None)
        return runmod.RunOptions(track=self.track, hidden=os.path.abspath(o.hidden) if o.hidden else None,
                                 seed=self.seed, wall_s=o.timeout, case_timeout_s=max(1.0, min(60.0, o.timeout / 2)),
                                 budget_s=budget, threads=threads, hidden_only=o.hidden_only,
                                 memory_bytes=o.memory_mb << 20, file_bytes=o.file_size_mb << 20)

    # ---- one submission -------------------------------------------------------------------------

    def _table(self, lab: int) -> dict:
        with self.table_lock:
            if lab not in self.tables:
                self.tables[lab] = runmod.case_table(self.pristine.verifier, lab, os.path.join(self.out, "work", "_cases"),
                                                     self.ropts, self.pristine.peaks)
            return self.tables[lab]

    def grade_one(self, path: str, sha: str, idx: int) -> tuple[Row, list]:
        name = os.path.basename(path)
        # 0 out of the configured maximum, whatever goes wrong.
        row = Row(submission=name, sha256=sha, student=_student(name, None),
                  max_score=float(self.cfg["max_score"]), isolation=self.isolation)
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
        except Refused as e:
            row.status, row.reason = e.status, e.reason
        except Exception as e:  # the grader's own failure: a row, never a stopped batch
            row.status, row.reason = "error", clean(f"grader failure ({type(e).__name__}): {e}", 400)
        finally:
            if not self.o.keep:
                shutil.rmtree(work, ignore_errors=True)
        if row.status != "ok":
            row.score = row.correctness = row.performance = 0.0
        row.notes = clean("; ".join(notes), 600)
        row.duration_s = round(time.monotonic() - t0, 2)
        return row, tests

    def _grade_steps(self, path: str, work: str, row: Row, notes: list, tests: list) -> None:
        """The steps, each raising its own Refused subclass when the submission stops there."""
        self._check_tools()
        lab, labs_dir = self._unpack(path, work, row, notes)
        b = self._build(lab, labs_dir, work)
        table = self._table(lab.number)
        scratch, sr = self._run(b.binary, lab, work, row)
        # Other programs on the cores through a CPU-track run: said on the row. With --jobs > 1 the
        # other programs are the batch's own runs, which the instructor chose: not said each time.
        if self.track in ("cpu", "all") and self._workers() == 1 and (busy := timingmod.busy_note(sr.others_share)):
            notes.append(busy)
        verified = self._verify(lab, scratch, work)
        self._score(lab, table, verified, sr.claimed, row, notes, tests)

    def _check_tools(self) -> None:
        if not self.pristine.em_archive:
            raise GradingError("em-archive not found: build it (make build/em-archive) or pass --em-archive PATH")
        if not self.verify_ok:
            raise GradingError(f"{self.pristine.verifier} has no --verify/--outputs: the grader has no "
                               "trusted verdict channel with this harness (an older emlab: update the repository --repo points at)")

    def _unpack(self, path: str, work: str, row: Row, notes: list) -> tuple:
        """Unpacks the archive, picks the lab and its student files and places them, with the
        skeleton's for those missing, in a fresh labs folder: returns the lab and that folder."""
        unpacked = os.path.join(work, "unpacked")
        unpackmod.unpack(self.pristine.em_archive, path, unpacked, work)
        lab, chosen, manifest, n = unpackmod.select(unpacked, self.labs, self.o.lab, self.repo)
        notes += n
        row.lab = lab.number
        row.max_score = float(scoremod.lab_config(self.cfg, lab.number)["max_score"])
        row.student = _student(row.submission, manifest)
        row.claimed_score = unpackmod.claimed_score(unpacked, manifest)
        labs_dir = os.path.join(work, "labs")
        os.makedirs(labs_dir, mode=0o700)
        unpackmod.place(lab, chosen, self.repo, labs_dir)
        shutil.rmtree(unpacked)  # nothing else of the archive is ever read again
        # A note, whatever happens next: the instructor judges a copy, the score does not.
        notes += self.references.notes(lab, {name: os.path.join(labs_dir, lab.folder, name)
                                             for name, src in chosen.items() if src is not None})
        return lab, labs_dir

    def _build(self, lab, labs_dir: str, work: str) -> buildmod.BuildResult:
        b = buildmod.build(self.pristine, lab, labs_dir, work)
        if b.foreign:  # the compile read a file it may not: what it built is not the student's alone
            raise CheatSuspected(b.foreign)
        hit = scanmod.scan(b.objects) if b.objects else None
        if hit:  # also when the link failed: a forbidden call is the better reason
            raise CheatSuspected(hit[1])
        if not b.ok:
            raise BuildFailed(b.reason)
        return b

    def _run(self, binary: str, lab, work: str, row: Row) -> tuple[str, runmod.StudentRun]:
        """The student's checker in the sandbox: returns its folder (the outputs) and the run."""
        scratch = os.path.join(work, "run")
        os.makedirs(scratch, mode=0o700)
        if self.gpus is not None:
            with self.gpus.lend() as device:  # this GPU times this submission alone
                row.gpu = gpusmod.label(device)
                sr = runmod.run_student(binary, lab.number, scratch, self.ropts, self.pristine.peaks, gpu=True,
                                        device=device, nodes=self.gpu_nodes.get(device) if self.gpu_nodes else None)
        else:
            sr = runmod.run_student(binary, lab.number, scratch, self.ropts, self.pristine.peaks, gpu=False)
        row.isolation = sr.isolation
        if sr.status != "ok":
            raise run_failure(sr.status, sr.reason)
        forged = timingmod.implausible(sr.claimed, sr.wall_s, sr.cpu_s, sr.contention_s)
        if forged:  # before the verification: no points come of such a run
            raise CheatSuspected(forged)
        return scratch, sr

    def _verify(self, lab, scratch: str, work: str) -> dict | None:
        v = runmod.verify(self.pristine.verifier, lab.number, scratch, os.path.join(work, "verify"), self.ropts)
        if not v.ok:
            raise GradingError(v.reason)
        return v.results

    def _score(self, lab, table: dict, verified: dict | None, claimed: dict | None, row: Row,
               notes: list, tests: list) -> None:
        s = scoremod.score(table, verified, claimed, self.cfg, lab.number)
        row.status = "ok"
        for k in ("score", "max_score", "correctness", "correctness_max", "performance", "performance_max"):
            setattr(row, k, s[k])
        failed = sum(1 for t in s["tests"] if t["status"] == "failed" and not t["name"].endswith("performance"))
        ncases = sum(1 for t in s["tests"] if not t["name"].endswith("performance"))
        row.reason = f"{failed} of {ncases} case(s) failed" if failed else ""
        notes += s["notes"]
        tests += s["tests"]

    # ---- the batch ------------------------------------------------------------------------------

    def run(self) -> int:
        t_start = time.monotonic()
        os.makedirs(os.path.join(self.out, "work"), exist_ok=True)
        paths = _collect(self.o.submissions)
        if not self._reachable() or not self._prepare():
            return 2
        _say(f"[grader] {len(paths)} submission(s), lab {self.o.lab or 'from each archive'}, track {self.track}, "
             f"jobs {self._workers()}, isolation: {self.isolation}"
             + (f", GPUs {', '.join(gpusmod.label(d) for d in self.gpus.devices)}" if self.gpus else ""))
        if not self.pristine.em_archive:
            _say("[grader] em-archive not found: every row will be an error (build it, or pass --em-archive)")
        if not self.verify_ok:
            _say("[grader] the reference checker has no --verify: every row will be an error (an older emlab: update the repository --repo points at)")
        journal = Journal(os.path.join(self.out, "journal.jsonl"))
        progress = _Progress(self.out, len(paths))
        try:
            todo = self._queue(paths, journal, progress)
            self._grade_all(todo, journal, progress)
        finally:  # the status line goes, also when the batch is interrupted
            progress.tell.close()
            journal.close()
        self._write_gradebook(paths, progress, t_start)
        return 0

    def _reachable(self) -> bool:
        """As root, the sandbox's unprivileged uid must reach the work and pristine folders and
        the repository: False (and said) when a folder on the way is not searchable by others."""
        if os.geteuid() != 0:
            return True
        pristine_dir = self.o.pristine or os.path.join(self.out, "pristine")
        os.makedirs(pristine_dir, exist_ok=True)
        for p in (os.path.join(self.out, "work"), pristine_dir, self.repo):
            bad = _unreachable(p)
            if bad:
                _say(f"[grader] {bad} is not searchable by others, so the sandbox's unprivileged uid cannot reach "
                     f"{p}: chmod o+x {bad}, or choose another --out / --pristine")
                return False
        return True

    def _prepare(self) -> bool:
        """The pristine build, the machine's peaks and the sandbox's words: False (and said) when
        the pristine build cannot be made."""
        try:
            self.pristine = buildmod.prepare(self.repo, self.o.pristine or os.path.join(self.out, "pristine"),
                                             self.track != "cpu", self.o.em_archive, _say)
        except (buildmod.PristineBuildFailed, OSError, subprocess.SubprocessError) as e:
            _say(f"[grader] {e}")
            return False
        self.pristine.peaks = buildmod.measure_peaks(self.pristine, self.ropts.threads, _say)
        self.isolation = sandboxing.isolation()
        self.verify_ok = runmod.verify_supported(self.pristine.verifier)
        self.gpu_nodes = self._gpu_nodes()
        return True

    def _gpu_nodes(self) -> dict | None:
        """Per GPU of the pool, the device nodes that show a run that GPU alone (gpus.nodes_of), so
        that a submission's own code cannot reach another GPU (CUDA_VISIBLE_DEVICES, which it could
        change, is then not what keeps it off). Only under bubblewrap (whose /dev holds just what
        is bound), on the GPUs nvidia-smi numbers (not under a scheduler's CUDA_VISIBLE_DEVICES,
        whose numbering may be another), and once CUDA is seen to work that way here: the reference
        checker's smallest CUDA case, sandboxed with the first GPU's nodes. None (and said)
        otherwise: every run then sees every GPU's node, as its isolation says."""
        if (self.gpus is None or os.environ.get("CUDA_VISIBLE_DEVICES") is not None
                or "bubblewrap" not in self.isolation or None in self.gpus.devices):
            return None
        nodes = {d: gpusmod.nodes_of(d) for d in self.gpus.devices}
        if any(v is None for v in nodes.values()):
            _say("[grader] the GPUs' device nodes could not be told apart (nvidia-smi's bus ids, the driver's "
                 "/proc records): every run sees every GPU's node, CUDA_VISIBLE_DEVICES naming its own")
            return None
        first = self.gpus.devices[0]
        ok, why = runmod.gpu_alone_works(self.pristine.verifier, nodes[first], os.path.join(self.out, "work", "gpu-probe"),
                                         self.pristine.peaks)
        if not ok:
            _say(f"[grader] CUDA did not run with one GPU's device nodes alone ({why}): every run sees every GPU's "
                 "node, CUDA_VISIBLE_DEVICES naming its own")
            return None
        return nodes

    def adopt(self, pristine: buildmod.Pristine) -> None:
        """Takes a pristine build made elsewhere (grader slurm's tasks: the submitting host built
        it once on the shared file system; a task must not run make there while others read it)."""
        self.pristine = pristine
        self.isolation = sandboxing.isolation()
        self.verify_ok = runmod.verify_supported(pristine.verifier)
        self.gpu_nodes = self._gpu_nodes()

    def _queue(self, paths: list[str], journal: Journal, progress: _Progress) -> list:
        """Finishes the rows that need no grading (unreadable files, archives the journal has
        graded under this configuration); returns the rest as (key, [(index, path, sha)])
        groups, one grading per distinct key (identical archives share it, one row each)."""
        items, unreadable = [], []
        for i, p in enumerate(paths):
            try:
                sha = unpackmod.sha256_file(p)
            except OSError as e:
                unreadable.append((i, Row(submission=os.path.basename(p), sha256="", status="bad-archive",
                                          reason=clean(f"cannot read the file: {e.strerror}", 200),
                                          isolation=self.isolation)))
                continue
            items.append((i, p, sha, f"{sha}:{self.config_hash}"))
        for i, row in unreadable:
            progress.finish(i, row, [])
        by_key: dict = {}
        for i, p, sha, key in items:
            by_key.setdefault(key, []).append((i, p, sha))
        todo = []
        for key, group in by_key.items():
            entry = journal.get(key)
            # An error row is the grader's own failure (a missing tool, a full disk): graded again.
            if entry and entry.row.status != "error":
                for i, p, sha in group:
                    progress.reused += 1
                    progress.finish(i, _renamed(entry.row, p, sha, "reused from the journal (not regraded)"),
                                    entry.tests, " [journal]")
            else:
                todo.append((key, group))
        return todo

    def _grade_all(self, todo: list, journal: Journal, progress: _Progress) -> None:
        with cf.ThreadPoolExecutor(max_workers=self._workers()) as ex:
            futs = [ex.submit(self._grade_group, key, group, journal, progress) for key, group in todo]
            for f in cf.as_completed(futs):
                exc = f.exception()
                if exc:  # cannot happen (grade_one catches everything), but never lose the batch
                    progress.tell.say(f"[grader] internal error: {exc!r}")

    def _grade_group(self, key: str, group: list, journal: Journal, progress: _Progress) -> None:
        i0, p0, sha0 = group[0]
        progress.start(i0, p0)
        row, tests = self.grade_one(p0, sha0, i0)
        for n, (i, p, sha) in enumerate(group):
            r = _renamed(row, p, sha, None if n == 0 else f"identical bytes to {os.path.basename(p0)}: graded once")
            journal.append(key, r, tests)
            progress.finish(i, r, tests)

    def _write_gradebook(self, paths: list[str], progress: _Progress, t_start: float) -> None:
        final = []
        for i, r in enumerate(progress.rows):
            if r is None:  # never: every path got a row; kept as a last guard against lost rows
                r = (Row(submission=os.path.basename(paths[i]), sha256="", status="error",
                         reason="the grader lost this row (a bug): grade it again"), [])
            final.append(r[0])
        elapsed = time.monotonic() - t_start
        summ = gradebook.summary(final, elapsed, progress.reused)
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


def grade(o: Options) -> int:
    try:
        return Grader(o).run()
    except UsageError as e:
        _say(f"grader: {e}")
        return 2
