#!/usr/bin/env python3
"""The reference solutions' speed cases over several seeds: each case's roof fraction, its
impossible-speed flag and the spread, the evidence behind EM_IMPOSSIBLE_ROOF (harness/check.h).

  scripts/roof-sweep.py [--checker build/demo/em-check] [--track cpu|cuda] [--seeds 5] [--labs 1,2,...]
                        [--case TEXT]... [--peaks FILE] [--budget S] [--json OUT]

--case (as em-check's: a substring of the case's name, =NAME exactly; repeatable, one checker run
per case and seed) narrows each lab's speed cases: for lab 8 on the GPU, say, to its memory-bound
ones ("perf 16384", "perf M=16"), whose checks are quick, without the 8192^3 products, whose
float64 checks take minutes and which the flag leaves alone (a compute-bound case's roof is a
compute rate: harness/timing.c).

Run it on a quiet machine (the peaks are measured, or taken from --peaks). Exit status 1 when a
reference case was flagged impossible: a false flag."""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checker", default="build/demo/em-check")
    ap.add_argument("--track", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--labs", default="")
    ap.add_argument("--case", action="append", default=[], dest="cases")
    ap.add_argument("--peaks", default="build/peaks.json")
    ap.add_argument("--budget", default="0.1")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if not os.access(a.checker, os.X_OK):
        print(f"roof-sweep: {a.checker} is missing: build it with  make build/demo/em-check", file=sys.stderr)
        return 2
    labs = [int(x) for x in a.labs.split(",") if x] or sorted(
        int(d.split("-")[0][3:]) for d in os.listdir("labs") if d.startswith("lab"))
    rows, flagged = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for lab in labs:
            for seed, (k, case) in itertools.product(range(1, a.seeds + 1), enumerate(a.cases or [None])):
                out = os.path.join(tmp, f"r{lab}-{seed}-{k}.json")
                r = subprocess.run([a.checker, "--lab", str(lab), "--track", a.track, "--perf-only", "--seed", str(seed),
                                    "--budget", a.budget, "--peaks", a.peaks, "--json", out, "--color", "never"]
                                   + (["--case", case] if case else []),
                                   capture_output=True, text=True)
                if r.returncode not in (0, 1) or not os.path.exists(out):
                    print(f"lab {lab} seed {seed}: em-check exited {r.returncode}\n{r.stderr[-600:]}", file=sys.stderr)
                    return 2
                res = json.load(open(out))
                for c in res["cases"]:
                    if c["status"] == "skip":
                        continue
                    rows.append({"lab": lab, "seed": seed, "part": c["part"], "case": c["name"], "status": c["status"],
                                 "roof": c.get("roofline_frac"), "roof_gbps": c.get("roof_gbps"), "gbps": c.get("gbps"),
                                 "vs_ref": c.get("speedup_vs_ref"), "impossible": c.get("impossible_speed")})
                    flagged += bool(c.get("impossible_speed"))
                peaks = res["machine"]["peaks"]
                # A line per run as it ends: a sweep cut short still leaves what it measured.
                mine = [x for x in rows if x["lab"] == lab and x["seed"] == seed]
                print(f"lab {lab} seed {seed}: {len(mine)} speed cases, "
                      f"{sum(bool(x['impossible']) for x in mine)} flagged, roof "
                      + " ".join(f"{100 * x['roof']:.0f}%" for x in mine if isinstance(x["roof"], (int, float))),
                      file=sys.stderr, flush=True)
    print(f"{'lab':>3} {'case':<18} {'roof min':>8} {'median':>7} {'max':>6}  {'GB/s':>7}  flagged")
    by = {}
    for r in rows:
        by.setdefault((r["lab"], r["part"], r["case"]), []).append(r)
    for (lab, part, case), rs in sorted(by.items()):
        fr = sorted(x["roof"] for x in rs if isinstance(x["roof"], (int, float)))
        if not fr:
            continue
        gb = sorted(x["gbps"] for x in rs)[len(rs) // 2]
        print(f"{lab:>3} {part} {case:<16} {100 * fr[0]:>7.0f}% {100 * fr[len(fr) // 2]:>6.0f}% {100 * fr[-1]:>5.0f}%  "
              f"{gb:>7.1f}  {sum(bool(x['impossible']) for x in rs)}/{len(rs)}")
    print("peaks:", {k: round(v, 1) for k, v in peaks.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"peaks": peaks, "rows": rows}, f, indent=1)
    print(f"{flagged} reference case runs flagged impossible (want 0)")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
