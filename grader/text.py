"""Turning untrusted bytes (compiler output, the checker's stderr) into short, printable reasons."""
from __future__ import annotations

import re

# The colour code first: the alternation tries left to right at each position, and the single
# control character would otherwise take the ESC alone and leave "[31m" in the text.
_CTRL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


def clean(data, limit: int = 600, replace: dict | None = None) -> str:
    """Printable text, control characters and colour codes removed, at most `limit` characters;
    each key of `replace` (a work-dir path, say) replaced by its value."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    for k, v in (replace or {}).items():
        if k:
            data = data.replace(k, v)
    data = _CTRL.sub("", data).strip()
    if len(data) > limit:
        data = data[: limit - 3] + "..."
    return data


def last_lines(data, n: int = 3, limit: int = 400, replace: dict | None = None) -> str:
    text = clean(data, 1 << 20, replace)
    lines = [l for l in text.splitlines() if l.strip()]
    return clean(" | ".join(lines[-n:]), limit)
