"""The one place the grader imports its sandbox: grader/sandbox.py (issue4-sandbox) when it is
there, else the stand-in grader/_sandbox_stub.py, named so that the merge of the real one cannot
conflict with it."""
try:
    from . import sandbox as _impl  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - until issue4-sandbox is merged
    from . import _sandbox_stub as _impl

Limits = _impl.Limits
Result = _impl.Result
run = _impl.run
isolation = _impl.isolation
IS_STUB = _impl.__name__.endswith("_sandbox_stub")
