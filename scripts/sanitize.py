#!/usr/bin/env python3
"""`make check SANITIZE=1`: a lab's cases under sanitizers, and a short account of what they found.

  CPU track   the sanitizer build's em-check (AddressSanitizer + UBSan, built by make labN SANITIZE=1)
  CUDA track  the normal build's em-check under compute-sanitizer: memcheck over every case, then
              racecheck and synccheck over the small ones (em-check --small-only), which follow
              every shared-memory access and barrier and would take many minutes on the large ones

Every run is untimed (em-check --sanitize), and em-check prints a line on stderr before each case
("[sanitize] lab 1 case (b) "n=1025" on cpu"): a tool's report that follows belongs to that case.
The table of the first run of each track is shown as it goes; the tools' own reports are not (they
are long), but kept, whole, with each run's transcript and results, in the --logs folder. At the end
each finding is said once: the tool, what kind, the student's file and line, the case.

Exit status: 0 nothing found and every case passed, 1 a finding or a failed case, 2 a tool or usage
error. Standard library only: it runs wherever `make check` does.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2

MARKER = re.compile(r'^\[sanitize\] lab (\d+) case \((\w)\) "(.*)" on (cpu|cuda)$')

# ---- findings -------------------------------------------------------------------------------------


class Finding:
    """One thing a tool reported: what kind, where, and the case that was running."""

    def __init__(self, tool, kind, where=None, func=None, case=None, log=None, note=None):
        self.tool, self.kind, self.where, self.func = tool, kind, where, func
        self.case, self.log, self.note = case, log, note
        self.count = 1
        self.case_status = None  # the case's verdict in results.json, where the run got that far

    def key(self):
        return (self.tool, self.kind, self.where)

    def as_json(self):
        return {"tool": self.tool, "kind": self.kind, "where": self.where, "function": self.func,
                "case": self.case, "count": self.count, "log": self.log, "note": self.note,
                "case_status": self.case_status}


def add_finding(findings, f):
    """Adds f, or counts it again when the same tool said the same of the same line before."""
    for g in findings:
        if g.key() == f.key():
            g.count += 1
            return
    findings.append(f)


# Bare file names (compute-sanitizer names device code's files without their folder) and the path
# of the source each stands for, where exactly one source of the run has that name (index_sources).
SOURCES = {}


def index_sources(lab, cuda_bin):
    """The sources a bare name may stand for: the lab's student files (labs/labN-*/), and the file a
    checker of the build tree was made from where its folder is named after one (the planted files'
    build/tests/planted/labN/<bug>.cu/em-check). A name two of them share stays bare."""
    found = []
    if lab:
        folder = next((d for d in sorted(os.listdir("labs")) if d.startswith(f"lab{lab}-")), None) \
            if os.path.isdir("labs") else None
        if folder:
            found += [os.path.join("labs", folder, f) for f in sorted(os.listdir(os.path.join("labs", folder)))]
    if cuda_bin:
        src = os.path.dirname(os.path.relpath(cuda_bin))
        parts = src.split(os.sep)
        if parts and parts[0] != ".." and len(parts) > 1 and os.path.isfile(os.path.join(*parts[1:])):
            found.append(os.path.join(*parts[1:]))
    names = {}
    for f in found:
        names.setdefault(os.path.basename(f), set()).add(f)
    SOURCES.clear()
    SOURCES.update({n: next(iter(fs)) for n, fs in names.items() if len(fs) == 1})


def rel(path):
    """A path as the student knows it: relative to the project root when it is under it; a bare file
    name, the source of the run it names (SOURCES)."""
    if os.path.isabs(path):
        r = os.path.relpath(path)
        if not r.startswith(".."):
            return r
    if os.sep not in path and path in SOURCES:
        return SOURCES[path]
    return path


def is_ours(path):
    """Whether a source file is the code under test rather than the checker, the library, the
    sanitizer runtime or the C library: a relative path (every file make compiles is named so)
    outside harness/, reference/ and include/."""
    p = rel(path)
    return not (os.path.isabs(p) or p.startswith("..") or p.startswith(("harness/", "reference/", "include/")))


def case_text(case):
    if not case:
        return "no case: at exit, after the last one"
    lab, part, name, track = case
    return f'case ({part}) "{name}" on {track}'


# ---- AddressSanitizer, LeakSanitizer, UBSan ---------------------------------------------------------

ASAN_HEAD = re.compile(r"^==\d+==ERROR: (AddressSanitizer|LeakSanitizer): (.*)$")
UBSAN_HEAD = re.compile(r"^(\S+?):(\d+):(?:\d+:)? runtime error: (.*)$")
FRAME = re.compile(r"^\s+#\d+ 0x[0-9a-f]+ in (.+?) (\S+?):(\d+)(?::\d+)?$")
ACCESS = re.compile(r"^(READ|WRITE) of size (\d+) at ")
SIGNAL_ACCESS = re.compile(r"The signal is caused by a (READ|WRITE) memory access")
LSAN_FAILED = re.compile(r"^==\d+==LeakSanitizer has encountered a fatal error")
LEAK = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)")


def pick_frame(frames):
    """The first frame in the code under test; else the first outside the sanitizer's runtime and
    the C library (the checker's own code, say); else the first."""
    for func, path, line in frames:
        if is_ours(path):
            return func, path, line
    for func, path, line in frames:
        if not (path.startswith("../") or path.startswith("/usr/") or "libsanitizer" in path):
            return func, path, line
    return frames[0] if frames else (None, None, None)


def short_func(func):
    """lab1_add_b._omp_fn.0 -> "lab1_add_b (OpenMP region)": the name the student wrote."""
    if func and "._omp_fn." in func:
        return func.split("._omp_fn.")[0] + " (OpenMP region)"
    return func


def parse_cpu_report(block, case, log, findings):
    """One report of the ASan build (its lines, from the header on)."""
    head = block[0]
    m = ASAN_HEAD.match(head)
    u = UBSAN_HEAD.match(head)
    frames = [(fm.group(1), fm.group(2), fm.group(3)) for fm in map(FRAME.match, block[1:]) if fm]
    if u:
        # The line of the undefined behaviour itself is in the message; the stack says whose code.
        func, _, _ = pick_frame(frames)
        add_finding(findings, Finding("UBSan", u.group(3).strip(), f"{rel(u.group(1))}:{u.group(2)}",
                                      short_func(func), case, log))
        return
    if not m:
        return
    if m.group(1) == "LeakSanitizer":
        parse_leaks(block, log, findings)
        return
    what = re.split(r" on (?:unknown )?address | at pc ", m.group(2))[0].strip()
    kind = what
    for line in block[1:6]:
        a = ACCESS.match(line)
        s = SIGNAL_ACCESS.search(line)
        if a:
            kind = f"{what} {a.group(1)} of size {a.group(2)}"
            break
        if s:
            kind = f"{what} ({s.group(1)})"
            break
    # Only the stack of the access: "allocated by thread T0 here:" starts the allocation's.
    access_frames = []
    for line in block[1:]:
        fm = FRAME.match(line)
        if fm:
            access_frames.append((fm.group(1), fm.group(2), fm.group(3)))
        elif access_frames:
            break
    func, path, line = pick_frame(access_frames)
    note = None if path is None or is_ours(path) else "in the checker or the library, not in the code under test: please report it"
    add_finding(findings, Finding("AddressSanitizer", kind, f"{rel(path)}:{line}" if path else None,
                                  short_func(func), case, log, note))


def parse_leaks(block, log, findings):
    """LeakSanitizer's report at exit: one finding per leak record (direct leaks first)."""
    i = 0
    while i < len(block):
        m = LEAK.match(block[i])
        if not m:
            i += 1
            continue
        frames = []
        i += 1
        while i < len(block) and (FRAME.match(block[i]) or block[i].strip().startswith("#")):
            fm = FRAME.match(block[i])
            if fm:
                frames.append((fm.group(1), fm.group(2), fm.group(3)))
            i += 1
        func, path, line = pick_frame(frames)
        kind = f"memory leak: {m.group(1).lower()} leak of {m.group(2)} bytes in {m.group(3)} allocation(s)"
        add_finding(findings, Finding("LeakSanitizer", kind, f"{rel(path)}:{line}" if path else None,
                                      short_func(func), None, log))


# ---- compute-sanitizer ---------------------------------------------------------------------------

CS_PREFIX = "========="
# Lines of compute-sanitizer that are not findings: its banner, its summaries, the CUDA API errors
# that follow a kernel it stopped (the table shows them as the case's error already), the
# application's exit status.
CS_NOT_FINDING = re.compile(r"^(COMPUTE-SANITIZER|ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|Program hit |"
                            r"Target application returned|Saved host backtrace|This can happen|"
                            r"No CUDA-capable|Internal Sanitizer Error)")
# Where an access was, in the forms compute-sanitizer has used: "at kernel(...)+0x70 in x.cu:25"
# (CUDA 12 and later; a long name may put "at" on the line before), "at 0x70 in x.cu:25:kernel(...)"
# (CUDA 11), each maybe followed by "[N hazards]".
CS_LOC = re.compile(r"^(?P<func>.*?)(?:\+0x[0-9a-f]+)?\s+in\s+(?P<path>[^\s:]+):(?P<line>\d+)(?::(?P<func2>.+?))?"
                    r"(?:\s*\[\d+ hazards?\])?$")
CS_RACE = re.compile(r"Race reported between (Write|Read|Atomic) access")
CS_RACE_2 = re.compile(r"^\s*and (Write|Read|Atomic) access")


def cs_location(line):
    """(function, path, line) of a compute-sanitizer location line, or None."""
    seg = line.split(" at ")[-1].strip()
    if seg.startswith("at "):
        seg = seg[3:]
    if seg.startswith("Device Frame:"):  # the caller of an inlined function the report is "at"
        seg = seg[len("Device Frame:"):].strip()
    m = CS_LOC.match(seg)
    if not m or m.group("func").startswith(("by thread", "Address")):
        return None
    func = m.group("func").strip()
    if m.group("func2") and (not func or func.startswith("0x")):
        func = m.group("func2").strip()
    return func or None, m.group("path"), m.group("line")


HAZARD = {("Write", "Read"): "RAW", ("Read", "Write"): "WAR", ("Write", "Write"): "WAW"}


def parse_cs_report(tool, block, case, log, findings):
    """One report of compute-sanitizer (its lines without the ========= prefix)."""
    head = block[0].strip()
    if CS_NOT_FINDING.match(head):
        return
    locs = [loc for loc in map(cs_location, block) if loc]
    race = CS_RACE.search(head)
    if race:
        # "Race reported between Write access at A and Read access at B": the second access is the
        # one that came too early (no barrier between the two); the first is said beside it.
        second = next((CS_RACE_2.match(x) for x in block[1:] if CS_RACE_2.match(x)), None)
        pair = (race.group(1), second.group(1) if second else "?")
        kind = (f"shared-memory {HAZARD.get(pair, '/'.join(pair))} hazard ({pair[0].lower()}, then "
                f"{pair[1].lower()} by another thread, no barrier between)")
        if head.startswith(("Warning", "WARN")):
            kind += " [warning]"
        at = locs[1] if len(locs) > 1 else (locs[0] if locs else None)
        note = f"the {pair[0].lower()} is at {rel(locs[0][1])}:{locs[0][2]}" if len(locs) > 1 else None
    else:
        kind = head.rstrip(".")
        if kind.startswith("Barrier error detected"):
            what = kind.split(". ", 1)[-1].lower()
            kind = ("barrier divergence: " if "divergent" in what else "barrier error: ") + what
        # The first place in a source of the run: a report "at" an intrinsic of the toolkit's
        # headers (__syncwarp in sm_30_intrinsics.hpp) names the student's line as its device frame.
        at = next((loc for loc in locs if os.sep in rel(loc[1])), locs[0] if locs else None)
        note = None
    where = f"{rel(at[1])}:{at[2]}" if at else None
    add_finding(findings, Finding(tool, kind, where, at[0] if at else None, case, log, note))


# ---- running a tool ----------------------------------------------------------------------------


class Run:
    """One process: its transcript kept in a log, its table (optionally) shown, its findings."""

    def __init__(self, label, cmd, log, echo, tool):
        self.label, self.cmd, self.log, self.echo, self.tool = label, cmd, log, echo, tool
        self.code = None
        self.cases = []       # markers seen, in order
        self.summary = None   # compute-sanitizer's last summary line
        self.finished = False  # em-check printed its closing line
        self.findings = []
        self.lsan_failed = False  # LeakSanitizer could not stop the threads at exit (no ptrace here)

    def go(self):
        try:
            proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1)
        except OSError as e:
            print(f"[sanitize] cannot start {self.cmd[0]}: {e}", file=sys.stderr)
            self.code = -1
            return
        with open(self.log, "w") as logf:
            logf.write("$ " + " ".join(self.cmd) + "\n")
            self.read(proc.stdout, logf)
        self.code = proc.wait()

    def read(self, stream, logf):
        case = None
        block, block_case = None, None  # the report being read, and the case it belongs to
        held = None                     # ASan's "=====" line, until the next says whose it is
        for raw in stream:
            logf.write(raw)
            line = raw.rstrip("\n")
            m = MARKER.match(line)
            if m:
                case = (int(m.group(1)), m.group(2), m.group(3), m.group(4))
                self.cases.append(case)
                continue
            if self.tool == "asan":
                if LSAN_FAILED.match(line):
                    # Not a finding: where ptrace is forbidden (some containers) LSan cannot look.
                    self.lsan_failed, block, block_case = True, block if block is not None else [], case
                    continue
                if held is not None:
                    if not ASAN_HEAD.match(line):
                        self.show(held)
                    held = None
                if re.fullmatch(r"=+", line) and len(line) > 20:
                    held = line
                    continue
                if ASAN_HEAD.match(line) or UBSAN_HEAD.match(line):
                    if block:
                        parse_cpu_report(block, block_case, self.log, self.findings)
                    # The process ends after a report (no recovery): all that follows is report.
                    block, block_case = [line], case
                    continue
                if block is not None:
                    block.append(line)
                    continue
            else:
                if line.startswith(CS_PREFIX):
                    body = line[len(CS_PREFIX):]
                    if body.startswith(" ") and not body.startswith("  ") and body.strip():
                        if block:
                            parse_cs_report(self.tool, block, block_case, self.log, self.findings)
                        block, block_case = [body], case
                        if re.match(r" (ERROR|RACECHECK) SUMMARY", body):
                            self.summary = body.strip()
                    elif block is not None:
                        block.append(body)
                    continue
            self.show(line)
            if re.match(r"^(\x1b\[[0-9;]*m)?\d+ passed, \d+ failed, \d+ skipped", line):
                self.finished = True
        if block:
            if self.tool == "asan":
                parse_cpu_report(block, block_case, self.log, self.findings)
            else:
                parse_cs_report(self.tool, block, block_case, self.log, self.findings)

    def show(self, line):
        if self.echo:
            print(line, flush=True)


def load_results(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def case_statuses(results):
    """{(part, name, track): status} of a results.json."""
    out = {}
    for c in (results or {}).get("cases", []):
        out[(c.get("part"), c.get("name"), c.get("track"))] = (c.get("status"), c.get("reason", ""))
    return out


# ---- the tracks ---------------------------------------------------------------------------------


def color_arg():
    return ["--color", "always" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else "never"]


def run_cpu(a, extra, report):
    """The CPU track through the AddressSanitizer build. Returns its Run, or None when it could not
    start (said)."""
    if not os.path.exists(a.asan_bin):
        print(f"[sanitize] {a.asan_bin} is missing: run  make lab{a.lab} SANITIZE=1  first (it builds the lab "
              "with AddressSanitizer), then  make check SANITIZE=1", file=sys.stderr)
        report.error = True
        return None
    json_path = os.path.join(a.logs, "results-cpu.json")
    log = os.path.join(a.logs, "cpu-asan.log")
    cmd = [a.asan_bin, "--track", "cpu", "--sanitize", "--timeout", "600", "--json", json_path] + color_arg() + extra
    print(f"[sanitize] CPU track: AddressSanitizer and UBSan, every case (log: {log})", flush=True)
    r = Run("cpu", cmd, log, True, "asan")
    remove(json_path)
    r.go()
    r.results = load_results(json_path) if r.finished else None
    return r


def find_compute_sanitizer(given):
    cands = [given] if given else []
    cands += [shutil.which("compute-sanitizer") or ""]
    home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    cands += [os.path.join(home, "bin", "compute-sanitizer"), os.path.join(home, "compute-sanitizer", "compute-sanitizer")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def gpu_absent():
    """Why there is no GPU to run on, or None when there is one (or nvidia-smi cannot tell: then
    em-check's own probe decides, and says so in its table)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        p = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"nvidia-smi -L failed ({e})"
    if p.returncode != 0 or "GPU" not in p.stdout:
        return "no GPU found (nvidia-smi -L: " + ((p.stdout + p.stderr).strip().splitlines() or ["nothing"])[0] + ")"
    return None


# What each compute-sanitizer pass runs and says. racecheck and synccheck see only the small cases.
CUDA_TOOLS = [
    ("memcheck", [], "out-of-bounds and misaligned accesses, every case"),
    ("racecheck", ["--racecheck-report", "analysis"], "shared-memory races, the small cases"),
    ("synccheck", [], "barriers some threads skip, the small cases"),
]


def run_cuda(a, extra, report):
    """The CUDA track under compute-sanitizer: a list of Runs (empty when it cannot run, said why)."""
    if not a.cuda_bin:
        print("[sanitize] CUDA track: not checked: this build has no CUDA (nvcc not found, or NO_CUDA=1)", flush=True)
        return []
    if not os.path.exists(a.cuda_bin):
        print(f"[sanitize] {a.cuda_bin} is missing: run  make lab{a.lab} SANITIZE=1  first", file=sys.stderr)
        report.error = True
        return []
    cs = find_compute_sanitizer(a.compute_sanitizer)
    if not cs:
        print("[sanitize] CUDA track: not checked: compute-sanitizer was not found (it comes with the CUDA "
              "toolkit, in $CUDA_HOME/bin; put it on the PATH)", flush=True)
        return []
    why = gpu_absent()
    if why:
        print(f"[sanitize] CUDA track: not checked: {why}", flush=True)
        return []
    runs = []
    for tool, opts, what in CUDA_TOOLS:
        json_path = os.path.join(a.logs, f"results-cuda-{tool}.json")
        log = os.path.join(a.logs, f"cuda-{tool}.log")
        small = [] if tool == "memcheck" else ["--small-only"]
        # --report-api-errors no: a CUDA call that fails in the student's code is the case's error in
        # the table already, and the runtime's own probes of the driver fail by design (CUDA 13's
        # cuGetProcAddress), which would fill a clean run's log with errors.
        cmd = ([cs, "--tool", tool, "--error-exitcode", "9", "--report-api-errors", "no"] + opts +
               [a.cuda_bin, "--track", "cuda", "--sanitize", "--timeout", "600", "--json", json_path] + small +
               color_arg() + extra)
        first = not runs
        print(f"[sanitize] CUDA track: compute-sanitizer {tool} ({what}; log: {log})", flush=True)
        r = Run(tool, cmd, log, first, tool)
        remove(json_path)
        r.go()
        r.results = load_results(json_path)
        runs.append(r)
        if not first:
            n = sum(1 for c in (r.results or {}).get("cases", []) if c.get("status") != "skip")
            print(f"           {n} cases, {len(r.findings)} finding{'s' if len(r.findings) != 1 else ''}", flush=True)
        if r.summary is None and r.code not in (0, 1):
            print(f"[sanitize] compute-sanitizer {tool} ended (exit {r.code}) without its summary: it could not run; "
                  f"the end of {log}:", file=sys.stderr)
            tail(log)
            report.error = True
            break
        if first and r.results and all(c.get("status") == "skip" for c in r.results.get("cases", [])):
            reason = r.results["cases"][0].get("reason", "") if r.results.get("cases") else ""
            print(f"[sanitize] CUDA track: every case was skipped ({reason}): no racecheck or synccheck", flush=True)
            break
    return runs


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def tail(log, n=15):
    try:
        with open(log, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines[-n:]:
        print("    " + line, file=sys.stderr)


# ---- the account at the end ---------------------------------------------------------------------


class Report:
    def __init__(self):
        self.error = False
        self.failed = []  # runs whose cases failed (or that stopped without a finding to show why)


def judge(run, report):
    """Marks the cases of the findings with their verdict, and whether the run's cases failed."""
    statuses = case_statuses(run.results)
    for f in run.findings:
        if f.case:
            st = statuses.get((f.case[1], f.case[2], f.case[3]))
            f.case_status = st[0] if st else None
    if run.code == 2 and not run.findings:
        report.error = True
        return
    if run.results:
        if any(c.get("status") in ("fail", "error") for c in run.results.get("cases", [])):
            report.failed.append(run.label)
    elif not run.findings and run.code != 0:
        # Ended without results and without a report: a hang (--timeout), or a crash no tool caught.
        report.failed.append(run.label)
        where = case_text(run.cases[-1]) if run.cases else "before the first case"
        print(f"[sanitize] {run.label}: em-check stopped (exit {run.code}) in {where}, with no sanitizer report: "
              f"see its message above, and {run.log}", file=sys.stderr)


def say_finding(i, f):
    print(f"{i}. {f.tool}: {f.kind}" + (f" ({f.count} times)" if f.count > 1 else ""))
    if f.where:
        print(f"   at {f.where}" + (f" in {f.func}" if f.func else ""))
    if f.note:
        print(f"   {f.note}")
    line = "   " + ("first in " if f.count > 1 else "in ") + case_text(f.case)
    if f.case_status == "pass":
        line += ": the case passed, its numbers were right; the finding stands all the same"
    elif f.case_status in ("fail", "error"):
        line += f": the case {'failed' if f.case_status == 'fail' else 'erred'} too"
    elif f.tool in ("AddressSanitizer", "UBSan") and f.case:
        line += ": the run stopped there (these stop at the first finding)"
    print(line)
    print(f"   log: {f.log}")


def summarize(a, runs, report):
    findings = []
    for r in runs:
        for f in r.findings:
            findings.append(f)
    n = len(findings)
    print()
    if n:
        print(f"sanitizer: {n} finding{'s' if n != 1 else ''} (full logs in {a.logs}/)")
        for i, f in enumerate(findings, 1):
            say_finding(i, f)
        print("-> fix the first at the line it names, then run  make check SANITIZE=1  again", end="")
        first = next((f for f in findings if f.case), None)
        if first:
            _, part, name, track = first.case
            print(f"; its case alone:\n   make check SANITIZE=1 TRACK={track} ARGS='--part {part} --case \"={name}\"'", end="")
        print()
    else:
        ran = [r.label for r in runs]
        print(f"sanitizer: no findings ({', '.join(ran) if ran else 'nothing ran'}; logs in {a.logs}/)")
    if any(r.lsan_failed for r in runs):
        print("note: LeakSanitizer could not run here (it needs ptrace, which this machine or container forbids): "
              "leaks were not checked; ASAN_OPTIONS=detect_leaks=0 turns it off")
    if report.failed:
        print(f"some cases failed ({', '.join(report.failed)}): the table above says which and why")
    with open(os.path.join(a.logs, "findings.json"), "w") as f:
        json.dump({"lab": a.lab, "findings": [x.as_json() for x in findings], "failed": report.failed,
                   "error": report.error}, f, indent=2)
    if report.error:
        return EXIT_ERROR
    return EXIT_FOUND if n or report.failed else EXIT_CLEAN


def parse_args(argv):
    p = argparse.ArgumentParser(description="A lab's cases under sanitizers (make check SANITIZE=1).")
    p.add_argument("--lab", required=True, help="the lab's number")
    p.add_argument("--logs", required=True, help="folder for the tools' logs and results (created)")
    p.add_argument("--track", default="all", choices=["cpu", "cuda", "all"])
    p.add_argument("--asan-bin", help="em-check of the sanitizer build (CPU track)")
    p.add_argument("--cuda-bin", help="em-check of the normal build, run under compute-sanitizer (CUDA track)")
    p.add_argument("--compute-sanitizer", help="its path (else found on the PATH or in $CUDA_HOME)")
    p.add_argument("extra", nargs="*", help="after --: more arguments for em-check (--case, --part, --seed)")
    a = p.parse_args(argv)
    if a.track in ("cpu", "all") and not a.asan_bin:
        p.error("the CPU track needs --asan-bin")
    return a


def main(argv):
    a = parse_args(argv)
    try:
        os.makedirs(a.logs, exist_ok=True)
    except OSError as e:
        print(f"[sanitize] cannot create {a.logs}: {e}", file=sys.stderr)
        return EXIT_ERROR
    report = Report()
    runs = []
    index_sources(a.lab, a.cuda_bin)
    try:
        if a.track in ("cpu", "all"):
            r = run_cpu(a, a.extra, report)
            if r:
                runs.append(r)
        if a.track in ("cuda", "all") and not report.error:
            runs += run_cuda(a, a.extra, report)
    except KeyboardInterrupt:
        print("\n[sanitize] interrupted", file=sys.stderr)
        return EXIT_ERROR
    for r in runs:
        judge(r, report)
    return summarize(a, runs, report)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
