#!/usr/bin/env python3
"""Grading throughput: N generated lab-1 submissions (correct CPU code, each with its own bytes,
so that every one is graded: the worst case, as every case passes and is timed, anti-cache
checked and verified), graded by `python3 -m grader grade` with the given options; prints the
number graded per minute from the grader's own summary.

    python3 bench/grader_throughput.py [--n 30] [--work DIR] -- [grader grade options]
e.g.
    python3 bench/grader_throughput.py --n 30 -- --jobs 2 --hidden grader/examples/lab1-cases.json --hidden-only
"""
import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import time

SRC = """#include <stdint.h>
#include "em/add.h"
/* student %d */
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
void lab1_add_b(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--work", default="/tmp/emlab-grader-bench")
    ap.add_argument("grader_args", nargs="*")
    a = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subs, out = os.path.join(a.work, "subs"), os.path.join(a.work, "out")
    shutil.rmtree(subs, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(subs)
    os.chmod(a.work, 0o755)
    for k in range(a.n):
        data = (SRC % k).encode()
        with tarfile.open(os.path.join(subs, f"lab1-student{k:03d}-20261128-120000.tar.gz"), "w:gz") as t:
            info = tarfile.TarInfo("labs/lab1-add/add.c")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    # A cases file given to the grader must not be readable by others (the sandboxed runs could
    # read it): a private copy of it.
    args = list(a.grader_args)
    if "--hidden" in args:
        i = args.index("--hidden") + 1
        private = os.path.join(a.work, "cases.json")
        shutil.copyfile(args[i], private)
        os.chmod(private, 0o600)
        args[i] = private
    a.grader_args = args
    argv = [sys.executable, "-m", "grader", "grade", subs, "--out", out,
            "--pristine", os.path.join(a.work, "pristine"), *a.grader_args]
    # The pristine build first, outside the measurement: a batch builds it once, whatever its size.
    subprocess.run(argv[:4] + [os.path.join(subs, os.listdir(subs)[0]), "--out", out + "-warm",
                               "--pristine", os.path.join(a.work, "pristine"), *a.grader_args],
                   cwd=repo, check=True, capture_output=True)
    shutil.rmtree(out + "-warm")
    print("$ " + " ".join(argv), flush=True)
    load0 = os.getloadavg()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(argv, cwd=repo, capture_output=True, text=True)
    wall = time.monotonic() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of the grader and everything it ran (each process is waited for by its parent, so
    # the whole tree adds up here): what one submission costs, whatever else the machine runs.
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    cores = os.cpu_count() or 1
    print(r.stderr[-1500:])
    gb = json.load(open(os.path.join(out, "gradebook.json")))
    s = gb["summary"]
    print(f"{a.n} submissions in {wall:.1f} s wall: {a.n / wall * 60:.1f} per minute "
          f"(grader's summary: {s['per_minute']} per minute; statuses "
          f"{ {k: v for k, v in s['counts'].items() if v} })")
    print(f"CPU time, grader and all it ran: {cpu:.1f} s, {cpu / a.n:.2f} s per submission: "
          f"{cores} cores kept busy would grade {cores * 60 / (cpu / a.n):.1f} per minute")
    print(f"1-minute load average before: {load0[0]:.2f}, after: {os.getloadavg()[0]:.2f} (above {cores}: other work "
          f"shared the cores)")
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
