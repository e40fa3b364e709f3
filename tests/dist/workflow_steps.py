"""The `run:` blocks of a GitHub Actions workflow, in order, without a YAML parser.

Python's standard library reads no YAML, and the course's workflow (dist/student/.github/workflows/
check.yml) is written so that this is enough: every step that runs commands has `run: |` followed by
an indented block, and no step of it builds its commands from ${{ }} expressions. Anything else
under `run:` (a one-line command, a folded `>` block) is refused rather than guessed at.
"""
import re

_STEP = re.compile(r"^(\s*)- (?:(\w[\w-]*):\s*(.*))?$")
_RUN = re.compile(r"^(\s*)(?:- )?run:\s*(.*)$")
_NAME = re.compile(r"^\s*(?:- )?name:\s*(.*)$")


def run_steps(text):
    """[(step name or "", script)] for every step with a `run: |` block, in the file's order."""
    lines = text.splitlines()
    steps, name, i, key_at = [], "", 0, None
    while i < len(lines):
        line = lines[i]
        step = _STEP.match(line)
        if step:
            name, key_at = "", len(step.group(1)) + 2  # a step's keys sit past its "- "
        m = _NAME.match(line)
        if m and not _RUN.match(line):
            name = m.group(1).strip()
        m = _RUN.match(line)
        # Only a step's own `run:` key: not `defaults: run:`, nor a `run` input under `with:`.
        if not m or key_at is None or len(m.group(1)) + (2 if line.lstrip().startswith("- ") else 0) != key_at:
            i += 1
            continue
        if m.group(2).strip() != "|":
            raise ValueError(f"line {i + 1}: only `run: |` blocks are read, not {m.group(2)!r}")
        key_indent = len(m.group(1)) + (2 if line.lstrip().startswith("- ") else 0)
        body, i = [], i + 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > key_indent):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        indent = min(len(b) - len(b.lstrip()) for b in body if b.strip())
        script = "\n".join(b[indent:] for b in body) + "\n"
        if "${{" in script:
            raise ValueError(f"step {name!r}: a ${{{{ }}}} expression in its commands cannot run outside Actions")
        steps.append((name, script))
    return steps
