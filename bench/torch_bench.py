#!/usr/bin/env python3
"""Side by side: emlab's reference solutions and the same workloads through PyTorch.

Reads the results.json that `em-check --perf-only` wrote (the speed cases of every lab, timed with
the checker's method), times each workload with PyTorch eager and torch.compile on the same device
in the same run, and prints one table per track. Bytes are the checker's (each input read once,
each output written once), so GB/s compare like for like. Compute-bound cases (lab 7's attention:
more than 4 FLOPs per byte) get a table of their own in GFLOP/s by the checker's FLOP count, against
each of PyTorch's implementations of the same operation (for attention, every backend of
scaled_dot_product_attention). Without PyTorch the table shows emlab alone and says why.

    python3 bench/torch_bench.py build/bench/results.json [--out build/bench/bench.json]
                                 [--no-compile] [--budget S]
"""
import argparse
import contextlib
import ctypes.util
import json
import os
import shutil
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


class Progress:
    """Which workload PyTorch is timing now, on stderr (one compilation can take a minute, a whole
    bench many): on a terminal one line rewritten in place, elsewhere (a log, CI) one plain line per
    step and never a carriage return. stdout, where the tables go, gets none of it."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.shown = 0  # characters of the line on the screen now

    def say(self, text: str) -> None:
        if not self.tty:
            self.stream.write(text + "\n")
        else:
            # One screen line at most: \r goes back to the start of the last screen line only.
            text = text[:max(shutil.get_terminal_size((80, 24)).columns - 1, 0)]
            wipe = "\r" + " " * self.shown if self.shown else ""
            self.stream.write(wipe + "\r" + text)
            self.shown = len(text)
        self.stream.flush()

    def done(self) -> None:
        """Wipes the line on a terminal, before the tables print."""
        if self.tty and self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()
            self.shown = 0


def case_label(c) -> str:
    """"lab 3 relu_mul 8192x8192": the dims as a size where they read as one (up to three
    numbers), the checker's shape text otherwise (attention's six), the name of a hidden case."""
    dims = c.get("dims") or {}
    size = ("x".join(str(v) for v in dims.values()) if 0 < len(dims) <= 3
            else c.get("shape") or c.get("name", ""))
    return f"lab {c['lab']} {c['lab_name']} {size}"


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


# A lab is compared in GFLOP/s and as a share of the FMA rate the checker measured, instead of GB/s
# and a share of the copy bandwidth, when a case of it does more than 4 FLOPs per byte. The line
# falls in the wide gap between the labs: 1 to 6 do at most 1 FLOP per byte, attention's speed cases
# hundreds, far beyond the machines' balance (FMA rate over bandwidth: about 6 FLOPs per byte on the
# course VM, 15 on the H200).
COMPUTE_BOUND_FLOPS_PER_BYTE = 4

# results.json does not name the tensors' dtype; the parts whose tensors are bfloat16 (held to the
# tensor cores' rate on the GPU, to the float32 FMA rate on the CPU, where the checker's roof widens
# them too) are listed here.
BF16_PARTS = {("attention", "c")}
# The parts whose products are int8 (held to the int8 rate where the checker measured one).
INT8_PARTS = {("qlinear", "b")}

# scaled_dot_product_attention's implementations, by their torch.nn.attention.SDPBackend names.
# PyTorch 2.15 runs MATH and FLASH_ATTENTION (its own CPU flash kernel) on the CPU, float32 and
# bfloat16, and refuses EFFICIENT_ATTENTION and CUDNN_ATTENTION there ("No viable backend"); on the
# GPU flash and cuDNN take only 16-bit types. Every backend is tried on both devices all the same: a
# refusal is a note in the table, and a version that adds a kernel shows up without an edit here.
SDPA_BACKENDS = (("math", "MATH"), ("efficient", "EFFICIENT_ATTENTION"), ("flash", "FLASH_ATTENTION"),
                 ("cudnn", "CUDNN_ATTENTION"))


def compute_bound_labs(cases) -> set:
    """The labs with a compute-bound case: all their cases go in the GFLOP/s table (a lab's small
    cases, below the threshold, compare best beside its large ones)."""
    return {c["lab_name"] for c in cases
            if c.get("flops") and c["flops"] > COMPUTE_BOUND_FLOPS_PER_BYTE * c["bytes"]}


def case_dtype(c) -> str:
    key = (c["lab_name"], c["part"])
    return "bfloat16" if key in BF16_PARTS else "int8" if key in INT8_PARTS else "float32"


def fma_peak(peaks, track, dtype):
    """The compute rate a case is held to, as the checker's roof holds it (None: not measured)."""
    if dtype == "int8":
        return peaks.get("gpu_int8_tc_gops" if track == "cuda" else "cpu_int8_gops")
    if track != "cuda":
        return peaks.get("cpu_fma_gflops")
    return peaks.get("gpu_bf16_tc_gflops" if dtype == "bfloat16" else "gpu_fma_gflops")


def compute_workloads(torch):
    """Compute-bound labs: per case, the PyTorch expression and its variants, each (label, context,
    fn): fn is timed inside the context (which picks the implementation). No torch.compile here:
    these are single fused operators, and compiling one calls the same kernel."""
    def attention(c, dev):
        from torch.nn.attention import SDPBackend, sdpa_kernel
        x = c["dims"]
        dtype = torch.bfloat16 if case_dtype(c) == "bfloat16" else torch.float32
        r = 30.0 if c.get("values") == "large" else 1.0  # the spec's "large logits" range for q and k

        def rand(rows, lo, hi):  # part (a) is one head, (n, d): PyTorch's (1, 1, n, d)
            t = torch.rand((x["b"], x["h"], rows, x["d"]), device=dev) * (hi - lo) + lo
            return t.to(dtype)
        q, k, v = rand(x["n"], -r, r), rand(x["m"], -r, r), rand(x["m"], -1.0, 1.0)
        # Our mask is anchored at the bottom right (query i sees keys j <= i + m - n), PyTorch's
        # is_causal=True at the top left (j <= i): the two agree only when n = m, which every speed
        # case is. Otherwise the bottom-right mask goes in explicitly, as a boolean attn_mask (which
        # some GPU backends refuse: a note in the row). Scale: PyTorch's default, 1/sqrt(d), ours.
        kw, expr = {}, "scaled_dot_product_attention(q, k, v)"
        if x["causal"] and x["n"] == x["m"]:
            kw, expr = {"is_causal": True}, "scaled_dot_product_attention(q, k, v, is_causal=True)"
        elif x["causal"]:
            mask = torch.ones((x["n"], x["m"]), dtype=torch.bool, device=dev).tril(x["m"] - x["n"])
            kw, expr = {"attn_mask": mask}, "scaled_dot_product_attention(q, k, v, attn_mask=bottom-right)"
        sdpa = torch.nn.functional.scaled_dot_product_attention
        fn = lambda: sdpa(q, k, v, **kw)  # noqa: E731
        return expr, [(label, (lambda b=getattr(SDPBackend, name): sdpa_kernel(b)), fn)
                      for label, name in SDPA_BACKENDS if hasattr(SDPBackend, name)]

    def qlinear(c, dev):
        x = c["dims"]
        M, N, K = x["M"], x["N"], x["K"]

        def rand(*shape):
            return torch.rand(shape, device=dev) * 2 - 1

        def rand_i8(*shape):
            return torch.randint(-127, 128, shape, dtype=torch.int8, device=dev)
        plain = contextlib.nullcontext
        if c["part"] == "a":  # quantise an M x K matrix per row, as the spec does
            a = rand(M, K)

            def quantise():
                s = a.abs().amax(1) / 127
                return torch.round(a / s[:, None]).clamp(-127, 127).to(torch.int8), s
            return ("s = a.abs().amax(1) / 127; round(a / s).clamp(-127, 127).to(int8)",
                    [("eager", plain, quantise), ("compile", plain, compiled(torch, quantise))])
        if c["part"] == "b":  # the int8 product and its dequantising epilogue, from quantised operands
            xq, wq, sx, sw, b = rand_i8(M, K), rand_i8(N, K), torch.rand(M, device=dev), \
                torch.rand(N, device=dev), rand(N)

            def layer():  # the same work as part (b): PyTorch's product, then the epilogue as a pass
                return torch._int_mm(xq, wq.t()).float() * (sx[:, None] * sw) + b
            variants = [("int_mm", plain, lambda: torch._int_mm(xq, wq.t())),
                        ("eager", plain, layer), ("compile", plain, compiled(torch, layer))]
            if dev == "cuda":  # what int8 is for: against the bfloat16 product of the same shape
                xb, wb = rand(M, K).bfloat16(), rand(N, K).bfloat16()
                variants.append(("bf16 mm", plain, lambda: xb @ wb.t()))
            else:  # on the CPU: the float32 product, and PyTorch's own int8 layer (fbgemm)
                xf, wf = rand(M, K), rand(N, K)
                variants.append(("f32 mm", plain, lambda: xf @ wf.t()))
                variants.append(("dynamic", plain, dynamic_linear(torch, xf, wf, rand(N))))
            return "torch._int_mm(xq, wq.t()).float() * (sx[:, None] * sw) + b", variants
        if c["part"] == "c":  # the backward's two products and a sum, float32, TF32 off
            dy, w, xf = rand(M, N), rand(N, K), rand(M, K)

            def backward():
                with no_tf32(torch):
                    return dy @ w, dy.t() @ xf, dy.sum(0)
            return "dy @ W, dy.t() @ x, dy.sum(0) (float32, TF32 off)", [("f32 mm", plain, backward)]
        # (d) the layer's training step: PyTorch's float32 Linear forward and backward
        xf, dy = rand(M, K), rand(M, N)
        lin = torch.nn.Linear(K, N, device=dev)

        def step():
            with no_tf32(torch):
                xf.grad = None
                lin.zero_grad(set_to_none=True)
                lin(xf.requires_grad_()).backward(dy)
        return "torch.nn.Linear forward + backward (float32, TF32 off)", [("f32 linear", plain, step)]

    return {"attention": attention, "qlinear": qlinear}


def compiled(torch, fn):
    """torch.compile of fn, compiled at its first call (inside time_fn's warm-up)."""
    return torch.compile(fn, dynamic=False)


@contextlib.contextmanager
def no_tf32(torch):
    """Float32 products in float32: the bar for lab 8's backward is a float32 matmul, not TF32."""
    was = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = was


def dynamic_linear(torch, x, w, b):
    """PyTorch's int8 Linear for the CPU (torch.ao.nn.quantized.dynamic.Linear, fbgemm or onednn):
    it quantises x per tensor on each call, multiplies in int8 and dequantises; more work than part
    (b), which starts from quantised operands, so a ratio against it flatters PyTorch."""
    qd = torch.ao.nn.quantized.dynamic
    lin = qd.Linear(w.shape[1], w.shape[0], dtype=torch.qint8)
    sw = w.abs().amax(1) / 127
    wq = torch.quantize_per_channel(w, sw.double(), torch.zeros_like(sw, dtype=torch.long), 0, torch.qint8)
    lin.set_weight_bias(wq, b)
    return lambda: lin(x)


def time_variant(torch, ctx, fn, dev, budget_s):
    """(seconds per call, None) or (None, why PyTorch would not or could not run it). A backend that
    does not take these inputs raises at the first call, often after warnings that say why."""
    import warnings
    try:
        with warnings.catch_warnings(record=True) as said, ctx():
            warnings.simplefilter("always")
            return time_fn(torch, fn, dev, budget_s), None
    except RuntimeError as e:
        if "out of memory" in str(e):  # torch.OutOfMemoryError is a RuntimeError too
            return None, "failed: out of memory"
        # PyTorch warns about every backend it passed over: "X kernel not used because:" and, for
        # each one sdpa_kernel switched off, "X has been runtime disabled". The reason this one
        # was refused (a dtype, a head size) is among the rest.
        why = [str(w.message) for w in said
               if not any(s in str(w.message) for s in ("not used because", "runtime disabled"))] or [str(e)]
        first = " ".join(why[0].split()).split(". ")[0].rstrip(".")  # its first sentence
        return None, "refused: " + first[:110]
    except Exception as e:  # out of memory, say: reported, not fatal
        return None, f"failed: {type(e).__name__}: {' '.join(str(e).split())}"[:120]
    finally:
        if dev == "cuda":
            torch.cuda.empty_cache()


def written_bytes(torch, out, l2):
    """Bytes of what a call returned (a tensor or a tuple of them): what the flush before each run
    leaves dirty, as the checker's does with a case's outputs. A call that returns nothing is taken
    to write an L2's worth or more (the written flush's state)."""
    ts = [out] if isinstance(out, torch.Tensor) else [t for t in (out or ()) if isinstance(t, torch.Tensor)]
    return min(sum(t.numel() * t.element_size() for t in ts), l2) if ts else l2


def time_fn(torch, fn, dev, budget_s):
    """Median seconds per call: CUDA events with the L2 flushed before each run, as the checker
    times (em/cuda.h: a read over twice the L2, then as many of its bytes written as the call
    writes, so that a call which only reads is not charged the write-back of the flush's own
    writes); on the CPU the monotonic clock."""
    for _ in range(3):
        out = fn()
    if dev == "cuda":
        torch.cuda.synchronize()
        l2 = torch.cuda.get_device_properties(0).L2_cache_size
        dirty = written_bytes(torch, out, l2)
        del out
        flush = torch.zeros(2 * l2, dtype=torch.uint8, device="cuda")
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times, t0 = [], time.monotonic()
    while len(times) < 5 or (time.monotonic() - t0 < budget_s and len(times) < 200):
        if dev == "cuda":
            flush.max()  # the read pass; its one-byte result is all it writes
            if dirty:
                flush[-dirty:].zero_()
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
    cw = compute_workloads(torch) if torch else {}
    peaks = res["machine"]["peaks"]
    progress = Progress()
    try:
        rows = time_rows(torch, res, w, cw, why_not, args, progress)
    finally:
        progress.done()

    for track in ("cpu", "cuda"):
        tr = [r for r in rows if r["track"] == track]
        where = res["machine"]["gpu"] if track == "cuda" else res["machine"]["cpu"]
        if any(not r["compute_bound"] for r in tr):
            print_memory_table([r for r in tr if not r["compute_bound"]], track, where, peaks)
        # One table per compute-bound lab: each lab has its own PyTorch variants as columns.
        for lab in dict.fromkeys(r["lab"] for r in tr if r["compute_bound"]):
            print_compute_table([r for r in tr if r["compute_bound"] and r["lab"] == lab], track, where,
                                peaks, torch.__version__ if torch else None)
    if why_not:
        print(f"\n{why_not}.")
    if alloc:
        print(f"\n{alloc}.")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": res["machine"], "rows": rows, "torch_cpu_allocator": alloc,
                       "torch_version": torch.__version__ if torch else None,
                       "torch_threads": torch.get_num_threads() if torch else None}, f, indent=2)
        print(f"bench: {args.out}")
    return 0


def time_rows(torch, res, w, cw, why_not, args, progress):
    """One row per timed case of results.json: emlab's figures, then PyTorch's for the same work
    (eager and torch.compile, or each variant of a compute-bound operation)."""
    peaks = res["machine"]["peaks"]
    spent = {"compile": 0.0}  # seconds in torch.compile so far, every lab's compilations together
    rows = []
    # GPU workloads first: the compile budget goes where the comparison matters most (an inductor
    # compilation for the CPU can take a minute by itself).
    compute_labs = compute_bound_labs(res["cases"])
    # PyTorch's figures per piece of work: a row of one of the library's alternatives (em-check
    # --alternatives: the case's name "... via 3xTF32") does the work of the row before it, so it
    # is set beside the same PyTorch timings instead of timing them again.
    seen = {}
    for c in sorted(res["cases"], key=lambda c: c["track"] != "cuda"):
        if c["status"] != "pass" or c.get("time_ms") is None:
            continue
        track = c["track"]
        dev = "cuda" if track == "cuda" else "cpu"
        copy = peaks["gpu_copy_gbps"] if track == "cuda" else peaks["cpu_copy_gbps"]
        row = {"lab": c["lab"], "name": c["lab_name"], "part": c["part"], "case": c["name"], "track": track,
               "time_ms": c["time_ms"], "gbps": c["gbps"],
               "copy_frac": c["gbps"] / copy if copy else None,
               "eager_gbps": None, "compile_gbps": None, "torch_expr": None, "note": why_not,
               "compute_bound": c["lab_name"] in compute_labs, "alternative": c.get("alternative")}
        if row["compute_bound"]:
            compute_figures(c, row, peaks)
        work = (c["lab"], c["part"], track, json.dumps(c.get("dims"), sort_keys=True), c.get("values"))
        if work in seen and not c.get("hidden"):
            reuse(seen[work], row)
            rows.append(row)
            continue
        seen[work] = row
        if row["compute_bound"]:
            compare_compute(torch, cw.get(c["lab_name"]), c, row, peaks, dev, args, spent, progress)
            rows.append(row)
            continue
        make = w.get(c["lab_name"])
        if torch and make and (dev == "cpu" or torch.cuda.is_available()):
            try:
                fn, row["torch_expr"] = make(c["dims"], dev)
                progress.say(f"torch: {case_label(c)} {track} eager...")
                t = time_fn(torch, fn, dev, args.budget)
                row["eager_gbps"] = c["bytes"] / t / 1e9
                if not args.no_compile and spent["compile"] < args.compile_budget:
                    progress.say(f"torch: {case_label(c)} {track} torch.compile (compiling)...")
                    s = time.monotonic()
                    cfn = torch.compile(fn, dynamic=False)
                    cfn()  # compiles
                    spent["compile"] += time.monotonic() - s
                    progress.say(f"torch: {case_label(c)} {track} torch.compile...")
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
    return rows


def reuse(first, row):
    """row, the same work as first, gets first's PyTorch figures (its own ratios to them)."""
    for key in ("eager_gbps", "compile_gbps", "torch_expr", "note"):
        row[key] = first[key]
    if row["compute_bound"]:
        row["torch_variants"] = {
            label: dict(v, vs=v["time_ms"] / row["time_ms"] if v.get("time_ms") else None)
            for label, v in first.get("torch_variants", {}).items()}


def compute_figures(c, row, peaks):
    """A compute-bound case's own figures: its dtype, GFLOP/s and share of the FMA rate."""
    row["dtype"] = case_dtype(c)
    row["flops"], row["gflops"] = c["flops"], c["gflops"]
    # The checker's own roof fraction where it has one: it knows each case's mix of units (lab 8's
    # layer step is int8 and float32 work in sequence), which one peak per dtype cannot say.
    peak = fma_peak(peaks, row["track"], row["dtype"])
    row["fma_frac"] = c["roofline_frac"] if c.get("roofline_frac") is not None else (
        c["gflops"] / peak if peak else None)
    row["torch_variants"] = {}


def compare_compute(torch, make, c, row, peaks, dev, args, spent, progress):
    """Fills a compute-bound case's row with each PyTorch variant's time and GFLOP/s by the same
    FLOP count (so a variant that skips masked work, or one that computes the whole masked matrix,
    is credited with the same useful FLOPs as ours) and ours over it."""
    if torch and not make:
        row["note"] = "no PyTorch workload defined for this lab"
    if not torch or not make:
        return
    if dev == "cuda" and not torch.cuda.is_available():
        row["note"] = "PyTorch here has no CUDA device"
        return
    try:
        row["torch_expr"], variants = make(c, dev)
    except Exception as e:  # inputs PyTorch cannot make here: reported, not fatal
        row["note"] = f"PyTorch failed: {type(e).__name__}: {e}"[:160]
        return
    notes = []
    for label, ctx, fn in variants:
        if label.startswith("compile") and (args.no_compile or spent["compile"] >= args.compile_budget):
            if not args.no_compile:
                notes.append(f"{label}: skipped, compile budget spent")
            continue
        progress.say(f"torch: {case_label(c)} {row['track']} {label}...")
        s = time.monotonic()
        t, why = time_variant(torch, ctx, fn, dev, args.budget)
        if label.startswith("compile"):  # the first warm-up call compiled it
            spent["compile"] += time.monotonic() - s
        row["torch_variants"][label] = {
            "time_ms": t * 1e3 if t else None, "gflops": c["flops"] / t / 1e9 if t else None,
            "vs": t / (c["time_ms"] * 1e-3) if t else None, "note": why}
        if why:
            notes.append(f"{label}: {why}")
    row["note"] = "; ".join(notes) or None


def fmt(v, spec):
    return format(v, spec) if v is not None else "-"


def print_memory_table(tr, track, where, peaks):
    copy = peaks["gpu_copy_gbps"] if track == "cuda" else peaks["cpu_copy_gbps"]
    print(f"\ntrack {track}: {where}, measured copy bandwidth {copy:.1f} GB/s")
    print(f"{'lab':<18} {'case':<20} {'time':>10} {'GB/s':>8} {'%copy':>6} "
          f"{'torch eager':>12} {'compile':>9} {'vs eager':>9}")
    for r in tr:
        vs = r["gbps"] / r["eager_gbps"] if r["eager_gbps"] else None
        print(f"{str(r['lab']) + ' ' + r['name']:<18} {r['case'][:20]:<20} {r['time_ms']:>8.3f}ms "
              f"{r['gbps']:>8.1f} {fmt(100 * r['copy_frac'] if r['copy_frac'] else None, '.0f'):>5}% "
              f"{fmt(r['eager_gbps'], '.1f'):>12} {fmt(r['compile_gbps'], '.1f'):>9} "
              f"{fmt(vs, '.2f') + ('x' if vs else ''):>9}" + (f"  ({r['note']})" if r["note"] else ""))


DTYPE_SHORT = {"float32": "f32", "bfloat16": "bf16", "int8": "i8"}


def print_compute_table(tr, track, where, peaks, torch_version):
    """GFLOP/s (GOP/s for int8), the checker's roof fraction (against the FMA rate, the tensor
    cores' or the int8 rate, or int8 and float32 in sequence, as the case's work is), then per PyTorch variant its GFLOP/s and ours over it. A variant
    PyTorch refused for every case of the track gets no column, one line below instead."""
    fma = peaks.get("gpu_fma_gflops" if track == "cuda" else "cpu_fma_gflops")
    tc = peaks.get("gpu_bf16_tc_gflops") if track == "cuda" else None
    i8 = fma_peak(peaks, track, "int8") if any(r["dtype"] == "int8" for r in tr) else None
    labels = list(dict.fromkeys(label for r in tr for label in r["torch_variants"]))
    ran = [lb for lb in labels if any(r["torch_variants"].get(lb, {}).get("gflops") for r in tr)]
    never = {lb: next(r["torch_variants"][lb]["note"] for r in tr if lb in r["torch_variants"])
             for lb in labels if lb not in ran}
    print(f"\ntrack {track}: {where}, measured FMA rate {fmt(fma, '.1f')} GFLOP/s"
          + (f", bfloat16 tensor cores {fmt(tc, '.1f')} GFLOP/s" if track == "cuda" else "")
          + (f", int8 {'tensor cores' if track == 'cuda' else 'dot products'} {fmt(i8, '.1f')} GOP/s"
             if any(r["dtype"] == "int8" for r in tr) else "")
          + (" (measured while other programs held the cores: low, so %FMA reads high)"
             if track == "cpu" and peaks.get("cpu_contended") else "")
          + "; compute-bound cases, PyTorch's GFLOP/s by the same FLOP count")
    cols = "".join(f" {lb:>9} {'vs ' + lb:>{max(9, len(lb) + 3)}}" for lb in ran)
    cases = [f"({r['part']}) {r['case']}" if r.get("part") else r["case"] for r in tr]
    cw = max([20] + [len(c) for c in cases])  # "(b) perf b4h16 4096 via 3xTF32" whole
    print(f"{'lab':<18} {'case':<{cw}} {'time':>10} {'GFLOP/s':>8} {'%roof':>6} {'dtype':>5}{cols}")
    for r, case in zip(tr, cases):
        cells = ""
        for lb in ran:
            v = r["torch_variants"].get(lb, {})
            vs = r["gflops"] / v["gflops"] if v.get("gflops") else None
            cells += f" {fmt(v.get('gflops'), '.1f'):>9} {fmt(vs, '.2f') + ('x' if vs else ''):>{max(9, len(lb) + 3)}}"
        note = "; ".join(n for n in (r["note"] or "").split("; ") if n.split(":")[0] not in never)
        print(f"{str(r['lab']) + ' ' + r['name']:<18} {case:<{cw}} {r['time_ms']:>8.3f}ms "
              f"{r['gflops']:>8.1f} {fmt(100 * r['fma_frac'] if r['fma_frac'] else None, '.0f'):>5}% "
              f"{DTYPE_SHORT[r['dtype']]:>5}{cells}" + (f"  ({note})" if note else ""))
    for why in dict.fromkeys(never.values()):
        which = ", ".join(lb for lb in never if never[lb] == why)
        print(f"{which}: PyTorch {torch_version} on the {'GPU' if track == 'cuda' else 'CPU'}, every case {why}")


if __name__ == "__main__":
    sys.exit(main())
