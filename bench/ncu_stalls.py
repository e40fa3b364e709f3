#!/usr/bin/env python3
"""Where a kernel's warps wait, from Nsight Compute's per-instruction samples.

    ncu --section SourceCounters --section WarpStateStats ... -o prof build/bench/attention --quick
    ncu -i prof.ncu-rep --page source --csv --print-source sass > prof.csv
    python3 bench/ncu_stalls.py prof.csv [--top 12] [--sass prof.sass]

ncu's WarpStateStats section gives the stall reasons of the whole kernel; its source page gives the
warp samples of every machine instruction, which say where those stalls sit. This groups the
instructions into basic blocks (runs executed the same number of times) and prints the whole
kernel's share of each reason, then the blocks that hold the most samples: their instructions, the
opcodes they are made of, and their samples by reason. "selected" is a warp issuing; "not selected"
is a warp that could have issued while another did; the rest are cycles lost to what they name
(dispatch, short scoreboard: shared memory or MUFU results, long scoreboard: global memory or the
registers of an asynchronous copy still being read, barrier, wait: fixed latencies).

It found, for instance, that 11% of lab 7's FMA kernel's samples sat in the code that issues the
next key and value copies (BENCHMARKS.md: halving them bought no time, as another warp issued
meanwhile).

--sass FILE (`cuobjdump -sass BINARY > FILE`, the binary that was profiled): the machine code
with the operand-reuse flags that the source page leaves out. For every FFMA it counts the source
registers read from the register file: an operand the instruction before marked .reuse in the same
slot comes from the reuse cache instead. An FFMA that reads all three from the register file needs
two of them from one of its two banks; the report gives each block's FFMAs by reads with their
dispatch-stall samples, which is where a dispatch stall in an FMA loop can come from.
Python's standard library only.
"""
import argparse
import collections
import csv
import re
import sys

REASONS = ["selected", "not_selected", "dispatch", "short_sb", "long_sb", "wait", "barrier", "no_inst",
           "math", "mio", "lg", "branch_resolving", "drain", "membar", "misc", "sleep", "tex", "imc"]


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def read(path):
    """(kernel name, rows): rows of (source, executed, {reason: samples})."""
    with open(path, newline="") as f:
        lines = list(csv.reader(f))
    start = next((i for i, r in enumerate(lines) if "Source" in r and "Address" in r), None)
    if start is None:
        raise SystemExit(f"{path}: no header with Address and Source: write it with "
                         "ncu -i REPORT --page source --csv --print-source sass")
    kernel = lines[0][1] if lines and lines[0] and lines[0][0] == "Kernel Name" else "?"
    head = lines[start]
    col = {h: i for i, h in enumerate(head)}
    cols = {r: col["stall_" + r] for r in REASONS if "stall_" + r in col}
    if not cols:
        raise SystemExit(f"{path}: no stall_* columns: profile with --section SourceCounters")
    ex = col.get("Instructions Executed")
    rows = []
    for r in lines[start + 1:]:
        if len(r) < len(head):
            continue
        samples = {k: number(r[i]) for k, i in cols.items()}
        rows.append((r[col["Source"]].strip(), number(r[ex]) if ex is not None else 0.0, samples))
    return kernel, rows


def opcode(source):
    words = source.split()
    if words and words[0].startswith("@"):
        words = words[1:]
    return words[0].split(".")[0] if words else ""


def sass_functions(path):
    """{function name: [instruction text]} from `cuobjdump -sass` output."""
    funcs, cur = {}, None
    with open(path) as f:
        for line in f:
            if "Function : " in line:
                cur = line.split("Function : ", 1)[1].strip()
                funcs[cur] = []
            elif cur is not None and "/*" in line:
                m = re.match(r"\s*/\*[0-9a-f]+\*/\s+(.*?)\s*;", line)
                if m:
                    funcs[cur].append(m.group(1))
    return funcs


def match_sass(rows, funcs):
    """The function whose instructions are the page's, opcode by opcode (None if none is)."""
    want = [opcode(r[0]) for r in rows]
    for name, code in funcs.items():
        if len(code) == len(want) and all(opcode(c) == w for c, w in zip(code, want)):
            return name, code
    return None


def register_reads(code):
    """For each instruction, the number of source registers an FFMA reads from the register file
    (None for other opcodes): a register the instruction before marked .reuse in the same operand
    slot comes from the reuse cache."""
    out, cached = [], {}
    for text in code:
        words = text.split(None, 2) if text.startswith("@") else [None] + text.split(None, 1)
        operands = [o.strip() for o in (words[2] if len(words) > 2 else "").split(",")][1:]
        regs = [(slot, m.group(1), bool(m.group(2))) for slot, o in enumerate(operands)
                for m in [re.match(r"-?\|?R(\d+)(\.reuse)?", o)] if m]
        if opcode(text) == "FFMA":
            out.append(len({r for slot, r, _ in regs if cached.get(slot) != r}))
        else:
            out.append(None)
        cached = {slot: r for slot, r, reuse in regs if reuse}
    return out


def reads_line(rows, reads, a, b):
    """FFMAs of rows a..b by register-file reads: count and dispatch-stall samples per FFMA."""
    by = collections.defaultdict(lambda: [0, 0.0])
    for i in range(a, b + 1):
        if reads[i] is not None:
            by[reads[i]][0] += 1
            by[reads[i]][1] += rows[i][2].get("dispatch", 0.0)
    return ", ".join(f"{k} reads: {n} ({d / n:.0f} dispatch samples each)" for k, (n, d) in sorted(by.items()))


def blocks(rows):
    """Runs of consecutive instructions executed the same number of times: (first, last) indices."""
    out, first = [], 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][1] != rows[first][1]:
            out.append((first, i - 1))
            first = i
    return out


def shares(samples, total):
    return ", ".join(f"{k.replace('_', ' ')} {v / total:.1%}" for k, v in
                     sorted(samples.items(), key=lambda kv: -kv[1]) if v / total >= 0.005)


def report(kernel, rows, top, out=sys.stdout, reads=None):
    """Prints the summary; 0, or 1 when the page holds no samples at all. reads: register_reads of
    the page's machine code, for the FFMA lines."""
    total = collections.Counter()
    for _, _, s in rows:
        total.update(s)
    n = sum(total.values())
    if n == 0:
        print(f"{kernel}: no warp samples: profile with --section SourceCounters, on a launch long enough "
              "to be sampled", file=sys.stderr)
        return 1
    print(f"{kernel}: {len(rows)} instructions, {int(n)} warp samples", file=out)
    print(f"  all: {shares(total, n)}", file=out)
    if reads and any(r is not None for r in reads):
        print(f"  FFMA by registers read from the register file: {reads_line(rows, reads, 0, len(rows) - 1)}", file=out)
    ranked = []
    for a, b in blocks(rows):
        s = collections.Counter()
        ops = collections.Counter()
        for src, _, smp in rows[a:b + 1]:
            s.update(smp)
            ops[opcode(src)] += 1
        ranked.append((sum(s.values()), a, b, s, ops))
    ranked.sort(key=lambda t: -t[0])
    print(f"  the {min(top, len(ranked))} basic blocks with the most samples "
          "(instructions first-last, times executed, share of all samples):", file=out)
    for m, a, b, s, ops in ranked[:top]:
        if m == 0:
            break
        mix = " ".join(f"{o} {c}" for o, c in ops.most_common(4))
        print(f"  {a:5d}-{b:<5d} x{int(rows[a][1]):<10d} {m / n:6.1%}  [{mix}]", file=out)
        print(f"               {shares(s, m)}", file=out)
        if reads and any(r is not None for r in reads[a:b + 1]):
            print(f"               FFMA {reads_line(rows, reads, a, b)}", file=out)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", help="ncu -i REPORT --page source --csv --print-source sass > FILE")
    ap.add_argument("--top", type=int, default=12, help="basic blocks to list (default 12)")
    ap.add_argument("--sass", help="cuobjdump -sass BINARY > FILE, BINARY the program profiled: FFMAs by "
                    "registers read from the register file")
    args = ap.parse_args(argv)
    try:
        kernel, rows = read(args.csv)
    except OSError as e:
        raise SystemExit(f"{args.csv}: {e.strerror}: give the file ncu's source page was written to")
    reads = None
    if args.sass:
        try:
            found = match_sass(rows, sass_functions(args.sass))
        except OSError as e:
            raise SystemExit(f"{args.sass}: {e.strerror}: give the file cuobjdump -sass wrote")
        if found is None:
            raise SystemExit(f"{args.sass}: no function whose {len(rows)} instructions are the profiled kernel's: "
                             "disassemble the binary that was profiled (cuobjdump -sass BINARY)")
        reads = register_reads(found[1])
    return report(kernel, rows, args.top, reads=reads)


if __name__ == "__main__":
    sys.exit(main())
