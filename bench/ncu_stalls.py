#!/usr/bin/env python3
"""Where a kernel's warps wait, from Nsight Compute's per-instruction samples.

    ncu --section SourceCounters --section WarpStateStats ... -o prof build/bench/attention --quick
    ncu -i prof.ncu-rep --page source --csv --print-source sass > prof.csv
    python3 bench/ncu_stalls.py prof.csv [--top 12]

ncu's WarpStateStats section gives the stall reasons of the whole kernel; its source page gives the
warp samples of every machine instruction, which say where those stalls sit. This groups the
instructions into basic blocks (runs executed the same number of times) and prints the whole
kernel's share of each reason, then the blocks that hold the most samples: their instructions, the
opcodes they are made of, and their samples by reason. "selected" is a warp issuing; "not selected"
is a warp that could have issued while another did; the rest are cycles lost to what they name
(dispatch, short scoreboard: shared memory or MUFU results, long scoreboard: global memory or the
registers of an asynchronous copy still being read, barrier, wait: fixed latencies).

It found, for instance, that 9% of lab 7's FMA kernel's samples sat in the code that issues the
next key and value copies (BENCHMARKS.md). Python's standard library only.
"""
import argparse
import collections
import csv
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


def report(kernel, rows, top, out=sys.stdout):
    """Prints the summary; 0, or 1 when the page holds no samples at all."""
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
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", help="ncu -i REPORT --page source --csv --print-source sass > FILE")
    ap.add_argument("--top", type=int, default=12, help="basic blocks to list (default 12)")
    args = ap.parse_args(argv)
    try:
        kernel, rows = read(args.csv)
    except OSError as e:
        raise SystemExit(f"{args.csv}: {e.strerror}: give the file ncu's source page was written to")
    return report(kernel, rows, args.top)


if __name__ == "__main__":
    sys.exit(main())
