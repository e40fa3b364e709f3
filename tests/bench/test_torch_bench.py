"""bench/torch_bench.py's timing of PyTorch on the GPU, without PyTorch: a stand-in module records
what the timer asks of the device, so that the flush before each timed call is the checker's
(em/cuda.h): a read over twice the L2, then as many of its bytes written as the call writes."""
import contextlib
import importlib.util
import pathlib
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
L2 = 1000


def load_bench():
    spec = importlib.util.spec_from_file_location("torch_bench", ROOT / "bench" / "torch_bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Tensor:
    """numel elements of element_size bytes; records reductions and writes into the log."""

    def __init__(self, log, numel, element_size=1, name="out"):
        self.log, self.n, self.size, self.name = log, numel, element_size, name

    def numel(self):
        return self.n

    def element_size(self):
        return self.size

    def max(self):
        self.log.append(("read", self.name, self.n * self.size))

    def zero_(self):
        self.log.append(("write", self.name, self.n * self.size))

    def __getitem__(self, s):
        start = s.start if s.start >= 0 else self.n + s.start
        return Tensor(self.log, self.n - start, self.size, self.name)


def stand_in_torch(log):
    class Event:
        def __init__(self, enable_timing):
            pass

        def record(self):
            log.append(("event",))

        def elapsed_time(self, other):
            return 1.0

    cuda = types.SimpleNamespace(
        synchronize=lambda: None, Event=Event,
        get_device_properties=lambda i: types.SimpleNamespace(L2_cache_size=L2))
    return types.SimpleNamespace(
        Tensor=Tensor, uint8="uint8", cuda=cuda,
        zeros=lambda n, dtype, device: Tensor(log, n, 1, "flush"))


@pytest.fixture
def bench():
    return load_bench()


def test_written_bytes_counts_what_the_call_returns(bench):
    torch = stand_in_torch([])
    assert bench.written_bytes(torch, Tensor([], 10, 4), L2) == 40
    assert bench.written_bytes(torch, (Tensor([], 10, 4), Tensor([], 5, 2), 3.0), L2) == 50
    assert bench.written_bytes(torch, Tensor([], 10_000, 4), L2) == L2  # at most an L2
    assert bench.written_bytes(torch, None, L2) == L2  # nothing said: the written flush's state


@pytest.mark.parametrize("out_bytes, dirty", [(40, 40), (0, None), (4 * L2, L2)])
def test_each_gpu_run_starts_after_a_read_then_the_calls_own_writes(bench, out_bytes, dirty):
    log, before = [], []  # before[i]: what the timer did between call i - 1 and call i
    torch = stand_in_torch(log)
    done = [0]

    def fn():
        before.append(log[done[0]:])
        out = Tensor(log, out_bytes // 4, 4)
        done[0] = len(log)
        return out

    assert bench.time_fn(torch, fn, "cuda", budget_s=0) == pytest.approx(1e-3)
    assert len(before) == 3 + 5  # three warm-up calls, then the fewest timed runs
    want = [("read", "flush", 2 * L2)] + ([("write", "flush", dirty)] if dirty else [])
    for seen in before[3:]:
        assert [e for e in seen if e[0] != "event"] == want
        assert seen[-1] == ("event",)  # the start event, right before the call


def test_the_cpu_is_timed_without_a_flush(bench):
    log = []
    torch = stand_in_torch(log)
    bench.time_fn(torch, lambda: Tensor(log, 10, 4), "cpu", budget_s=0)
    assert log == []


def test_an_alternatives_row_is_set_beside_the_same_pytorch_timings(bench, capsys):
    """em-check --alternatives adds a row of the library's other implementation of a case right
    after it ("... via 3xTF32"): PyTorch's work is timed once, and each row gets its own ratios."""
    calls = []

    def attention(c, dev):
        return "sdpa(q, k, v)", [("flash", lambda: contextlib.nullcontext(), lambda: calls.append(c["name"]))]

    case = {"lab": 7, "lab_name": "attention", "part": "b", "name": "perf b4h16 4096", "track": "cpu",
            "status": "pass", "dims": {"b": 4, "h": 16, "n": 64, "m": 64, "d": 128, "causal": 0},
            "values": "uniform", "flops": 4e9, "bytes": 1e6, "time_ms": 2.0, "gflops": 2000.0, "gbps": 0.5,
            "roofline_frac": 0.5}
    alt = dict(case, name="perf b4h16 4096 via 3xTF32", alternative="3xTF32", time_ms=1.0, gflops=4000.0,
               roofline_frac=1.0)
    res = {"machine": {"peaks": {"cpu_copy_gbps": 10.0, "cpu_fma_gflops": 4000.0}}, "cases": [case, alt]}
    args = types.SimpleNamespace(budget=0.0, no_compile=True, compile_budget=0.0)
    progress = types.SimpleNamespace(say=lambda text: None)
    rows = bench.time_rows(types.SimpleNamespace(), res, {}, {"attention": attention}, None, args, progress)
    assert set(calls) == {"perf b4h16 4096"}, "PyTorch's side timed once, for the case's own row"
    first, second = rows
    assert second["alternative"] == "3xTF32" and first["alternative"] is None
    assert second["torch_variants"]["flash"]["time_ms"] == first["torch_variants"]["flash"]["time_ms"]
    assert second["torch_variants"]["flash"]["vs"] == pytest.approx(2 * first["torch_variants"]["flash"]["vs"])
    assert (second["gflops"], second["fma_frac"]) == (4000.0, 1.0), "its own figures, not the case's"
    bench.print_compute_table(rows, "cpu", "here", res["machine"]["peaks"], "2.x")
    assert "(b) perf b4h16 4096 via 3xTF32 " in capsys.readouterr().out


def test_a_refused_backend_names_its_own_reason(bench):
    """A backend forced by sdpa_kernel that will not take the inputs: PyTorch first warns that the
    backends switched off are off, then why each was passed over; the row gives the reason."""
    import warnings

    def refuse():
        warnings.warn("Memory Efficient attention has been runtime disabled.")
        warnings.warn("Flash attention kernel not used because:")
        warnings.warn("Expected query, key and value to all be of dtype: {Half, BFloat16}. Got Query dtype: float.")
        raise RuntimeError("No available kernel. Aborting execution.")

    t, why = bench.time_variant(types.SimpleNamespace(), contextlib.nullcontext, refuse, "cpu", 0.0)
    assert t is None
    assert why == "refused: Expected query, key and value to all be of dtype: {Half, BFloat16}"
