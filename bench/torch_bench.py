#!/usr/bin/env python3
"""Side by side: emlab's reference solutions and the same workloads through PyTorch.

Reads the results.json that `em-check --perf-only` wrote (the speed cases of every lab, timed with
the checker's method), times each workload with PyTorch eager and torch.compile on the same device
in the same run, and prints one table per track. Bytes are the checker's (each input read once,
each output written once), so GB/s compare like for like. Without PyTorch the table shows emlab
alone and says why.

    python3 bench/torch_bench.py build/bench/results.json [--out build/bench/bench.json]
                                 [--no-compile] [--budget S]
"""
import argparse
import ctypes.util
import json
import os
import statistics
import sys
import time

# PyTorch on the CPU allocates every output afresh; with glibc's malloc a large one (256 MiB for
# lab 1) is new memory from the kernel on every call, and its page faults cost more than the
# kernel: x + c on 2^26 floats measured 111-119 ms per call against 26-29 ms with a preallocated
# out= on the course VM. A caching allocator gives the memory back to the next call instead:
# with tcmalloc, 28.6 ms (jemalloc, tried too, did not: 150 ms). PyTorch's own CPU launcher
# (torch.backends.xeon.run_cpu) preloads tcmalloc or jemalloc for this reason, so the bench runs
# PyTorch the same way where Debian's libtcmalloc-minimal4 is installed, and says so.
TCMALLOC = "tcmalloc_minimal"
REEXEC_MARK = "EMLAB_TORCH_BENCH_PRELOADED"


def allocator_note(cpu_rows: bool) -> str | None:
    """Re-runs this script with tcmalloc preloaded when CPU workloads will be timed and it is not
    yet; returns what the table should say about PyTorch's CPU allocator (None: no CPU rows)."""
    if not cpu_rows:
        return None
    if "tcmalloc" in os.environ.get("LD_PRELOAD", ""):
        return "PyTorch's CPU outputs from tcmalloc (LD_PRELOAD), as torch.backends.xeon.run_cpu sets up"
    lib = ctypes.util.find_library(TCMALLOC)
    if lib and not os.environ.get(REEXEC_MARK):
        env = dict(os.environ, LD_PRELOAD=(os.environ.get("LD_PRELOAD", "") + " " + lib).strip(),
                   **{REEXEC_MARK: "1"})
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    return ("PyTorch's CPU outputs from glibc's malloc: every call page-faults a fresh output, which "
            "flatters emlab several times over; apt-get install libtcmalloc-minimal4 and run again")


def workloads(torch):
    """One PyTorch expression per lab, on tensors shaped as the case's dims say."""
    def rand(shape, dev, lo=-1.0, hi=1.0):
        return torch.rand(shape, device=dev) * (hi - lo) + lo

    def add(d, dev):
        x, c = rand((d["n"],), dev), 0.5
        return (lambda: x + c), "x + c"

    def outer_add(d, dev):
        x, y = rand((d["n"],), dev), rand((d["m"],), dev)
        return (lambda: x[None, :] + y[:, None]), "x[None,:] + y[:,None]"

    def relu_mul(d, dev):
        x, y = rand((d["n"],), dev), rand((d["m"],), dev)
        return (lambda: torch.relu(x[None, :] * y[:, None])), "relu(x[None,:] * y[:,None])"

    def relu_mul_backward(d, dev):
        x, y, dz = rand((d["n"],), dev), rand((d["m"],), dev), rand((d["m"], d["n"]), dev)

        def f():
            g = dz * ((x[None, :] * y[:, None]) > 0)
            return (g * y[:, None]).sum(0), (g * x[None, :]).sum(1)
        return f, "masked dz, then two sums"

    def sum_(d, dev):
        x = rand((d["b"], d["t"]), dev)
        return (lambda: x.sum(dim=1)), "x.sum(dim=1)"

    def softmax(d, dev):
        x = rand((d["b"], d["t"]), dev, -10.0, 10.0)
        return (lambda: torch.softmax(x, dim=1)), "torch.softmax(x, dim=1)"

    return {"add": add, "outer_add": outer_add, "relu_mul": relu_mul,
            "relu_mul_backward": relu_mul_backward, "sum": sum_, "softmax": softmax}


def time_fn(torch, fn, dev, budget_s):
    """Median seconds per call: CUDA events with the L2 flushed before each run, as the checker
    times; on the CPU the monotonic clock."""
    for _ in range(3):
        fn()
    if dev == "cuda":
        torch.cuda.synchronize()
        l2 = torch.cuda.get_device_properties(0).L2_cache_size
        flush = torch.empty(2 * l2, dtype=torch.uint8, device="cuda")
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times, t0 = [], time.monotonic()
    while len(times) < 5 or (time.monotonic() - t0 < budget_s and len(times) < 200):
        if dev == "cuda":
            flush.zero_()
            start.record()
            fn()
            stop.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(stop) * 1e-3)
        else:
            s = time.perf_counter()
            fn()
            times.append(time.perf_counter() - s)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--budget", type=float, default=0.5, help="timing budget per workload (s)")
    ap.add_argument("--compile-budget", type=float, default=300.0,
                    help="total seconds allowed for torch.compile's compilations")
    args = ap.parse_args()

    try:
        with open(args.results) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"torch_bench: cannot read {args.results}: {e} (run `make bench` to produce it)")

    try:
        import torch
        why_not = None
    except ImportError:
        torch, why_not = None, "PyTorch is not installed here: emlab's numbers only"
    alloc = allocator_note(torch is not None and any(
        c["track"] == "cpu" and c["status"] == "pass" and c.get("time_ms") is not None for c in res["cases"]))
    w = workloads(torch) if torch else {}
    peaks = res["machine"]["peaks"]
    compile_spent = 0.0
    rows = []
    # GPU workloads first: the compile budget goes where the comparison matters most (an inductor
    # compilation for the CPU can take a minute by itself).
    for c in sorted(res["cases"], key=lambda c: c["track"] != "cuda"):
        if c["status"] != "pass" or c.get("time_ms") is None:
            continue
        track = c["track"]
        dev = "cuda" if track == "cuda" else "cpu"
        copy = peaks["gpu_copy_gbps"] if track == "cuda" else peaks["cpu_copy_gbps"]
        row = {"lab": c["lab"], "name": c["lab_name"], "case": c["name"], "track": track,
               "time_ms": c["time_ms"], "gbps": c["gbps"],
               "copy_frac": c["gbps"] / copy if copy else None,
               "eager_gbps": None, "compile_gbps": None, "torch_expr": None, "note": why_not}
        make = w.get(c["lab_name"])
        if torch and make and (dev == "cpu" or torch.cuda.is_available()):
            try:
                fn, row["torch_expr"] = make(c["dims"], dev)
                t = time_fn(torch, fn, dev, args.budget)
                row["eager_gbps"] = c["bytes"] / t / 1e9
                if not args.no_compile and compile_spent < args.compile_budget:
                    s = time.monotonic()
                    cfn = torch.compile(fn, dynamic=False)
                    cfn()  # compiles
                    compile_spent += time.monotonic() - s
                    t = time_fn(torch, cfn, dev, args.budget)
                    row["compile_gbps"] = c["bytes"] / t / 1e9
                elif not args.no_compile:
                    row["note"] = "torch.compile skipped: compile budget spent"
                del fn
                if dev == "cuda":
                    torch.cuda.empty_cache()
            except Exception as e:  # a workload PyTorch cannot run here is reported, not fatal
                row["note"] = f"PyTorch failed: {type(e).__name__}: {e}"[:160]
        elif torch and not make:
            row["note"] = "no PyTorch workload defined for this lab"
        rows.append(row)

    def fmt(v, spec):
        return format(v, spec) if v is not None else "-"

    for track in ("cpu", "cuda"):
        tr = [r for r in rows if r["track"] == track]
        if not tr:
            continue
        copy = peaks["gpu_copy_gbps"] if track == "cuda" else peaks["cpu_copy_gbps"]
        where = res["machine"]["gpu"] if track == "cuda" else res["machine"]["cpu"]
        print(f"\ntrack {track}: {where}, measured copy bandwidth {copy:.1f} GB/s")
        print(f"{'lab':<18} {'case':<20} {'time':>10} {'GB/s':>8} {'%copy':>6} "
              f"{'torch eager':>12} {'compile':>9} {'vs eager':>9}")
        for r in tr:
            vs = r["gbps"] / r["eager_gbps"] if r["eager_gbps"] else None
            print(f"{str(r['lab']) + ' ' + r['name']:<18} {r['case'][:20]:<20} {r['time_ms']:>8.3f}ms "
                  f"{r['gbps']:>8.1f} {fmt(100 * r['copy_frac'] if r['copy_frac'] else None, '.0f'):>5}% "
                  f"{fmt(r['eager_gbps'], '.1f'):>12} {fmt(r['compile_gbps'], '.1f'):>9} "
                  f"{fmt(vs, '.2f') + ('x' if vs else ''):>9}" + (f"  ({r['note']})" if r["note"] else ""))
    if why_not:
        print(f"\n{why_not}.")
    if alloc:
        print(f"\n{alloc}.")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": res["machine"], "rows": rows, "torch_cpu_allocator": alloc}, f, indent=2)
        print(f"bench: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
