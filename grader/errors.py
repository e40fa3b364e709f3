"""Why a submission's grading stopped, one exception type per kind: each fixes the row's status
(gradebook.STATUSES) and carries the reason, so that a step says what went wrong by what it
raises and the batch turns any of them into the row (batch.Grader.grade_one).

Anything else raised while grading is the grader's own failure: a row with status `error` and
the exception's type and words (never a stopped batch)."""
from __future__ import annotations


class Refused(Exception):
    """The submission cannot be graded (further): the row's status and reason."""

    status = "error"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class BadArchive(Refused):
    """The archive cannot be unpacked, or holds no single lab's student files."""

    status = "bad-archive"


class BuildFailed(Refused):
    """The student's files do not compile or link against the pristine build."""

    status = "build-error"


class CheatSuspected(Refused):
    """The build read a file it may not, the objects call what they may not, or the run's own
    times cannot be true."""

    status = "cheat-suspected"


class TimedOut(Refused):
    """The student's run, or one call of the student's code, passed its time limit."""

    status = "timeout"


class Crashed(Refused):
    """The student's run died by a signal, or its checker caught the code crashing."""

    status = "crash"


class LimitExceeded(Refused):
    """The student's run passed a CPU, memory, file-size or process limit."""

    status = "limit-exceeded"


class GradingError(Refused):
    """The grader's or the machine's problem, not the submission's (a missing tool, a failed
    verification): the next batch grades the submission again."""

    status = "error"


# The statuses a run of the student's checker ends with (run.StudentRun.status), but "ok".
_RUN_FAILURES = {c.status: c for c in (TimedOut, Crashed, LimitExceeded, GradingError)}


def run_failure(status: str, reason: str) -> Refused:
    """The exception for a student run that ended with status (anything but "ok")."""
    return _RUN_FAILURES[status](reason)
