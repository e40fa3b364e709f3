"""The one place the grader's steps take their sandbox from (grader/sandbox.py), so that tests and
tools can swap it in one place."""
from . import sandbox as _impl

Limits = _impl.Limits
Result = _impl.Result
run = _impl.run
isolation = _impl.isolation
