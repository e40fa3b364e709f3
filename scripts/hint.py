#!/usr/bin/env python3
"""Hints for a lab, one stage at a time: `make hint LAB=N [PART=a|b] [TRACK=cpu|cuda]`.

Each call shows the next hint of that lab, part and track, up to the last one, the design of the
reference solution; asked again after that, it repeats the last one. `AGAIN=1` shows the latest
seen again, `HINT=K` an earlier one, `RESET=1` starts over.

  scripts/hint.py --lab N [--part P] [--track cpu|cuda] [--again | --hint K | --reset]
                  [--labs DIR] [--state DIR]

The hints are labs/labN-name/hints.md, beside the lab's README and skeletons: sections headed
`## CPU track` or `## CUDA track, part (b)` (the part only where the lab has more than one), each
a run of stages headed `### Hint 1: title`, `### Hint 2: title` ... The progress is one small file
per lab, part and track under --state (build/hints/lab3-a-cpu.seen): never in the lab's folder,
whose files are what a student submits. Python 3 standard library only, like the grader.

Exit status: 0 a hint (or a reset) was shown; 2 a lab, part, track or hint number that does not
exist, or a hints file that does not parse, with a message saying what does exist."""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRACKS = ("cpu", "cuda")
TRACK_NAMES = {"cpu": "CPU", "cuda": "CUDA"}

# `## CPU track` or `## CUDA track, part (b)`; `### Hint 3: title`. Case of the track word aside,
# nothing looser: a heading that almost matches is an error, not silently part of a hint.
SECTION = re.compile(r"^## (cpu|cuda) track(?:, part \(([a-z])\))?\s*$", re.IGNORECASE)
STAGE = re.compile(r"^### Hint (\d+): (\S.*?)\s*$")


class HintError(Exception):
    """A request or a hints file that cannot be served: the message says what exists instead."""


@dataclass
class Stage:
    title: str
    body: str


@dataclass
class Hints:
    path: str
    sections: dict = field(default_factory=dict)  # (track, part) -> [Stage, ...]

    def parts(self) -> list[str]:
        return sorted({p for _, p in self.sections})

    def tracks(self, part: str) -> list[str]:
        return [t for t in TRACKS if (t, part) in self.sections]


def parse_hints(path: str) -> Hints:
    """The sections and stages of a hints file. Raises HintError, naming the line, for a heading
    that is neither, stages out of order, an empty stage or a section twice."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    hints = Hints(path)
    key, stages, body, fenced = None, None, None, False

    def where(n: int) -> str:
        return f"{path}:{n}"

    def close_stage(n: int) -> None:
        if stages and not "\n".join(body).strip():
            raise HintError(f"{where(n)}: hint {len(stages)} of {TRACK_NAMES[key[0]]} part ({key[1]}) is empty")
        if stages:
            stages[-1].body = "\n".join(body).strip("\n")

    for n, line in enumerate(lines, 1):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("##"):
            if body is not None:
                body.append(line)
            elif key is not None and line.strip():
                raise HintError(f"{where(n)}: text before the section's first `### Hint 1: ...` heading")
            continue
        section, stage = SECTION.match(line), STAGE.match(line)
        if section:
            close_stage(n)
            if key is not None and not stages:
                raise HintError(f"{where(n)}: section `{TRACK_NAMES[key[0]]} track, part ({key[1]})` has no hints")
            key = (section.group(1).lower(), section.group(2) or "a")
            if key in hints.sections:
                raise HintError(f"{where(n)}: a second `{line.strip()}` section")
            stages, body = [], None
            hints.sections[key] = stages
        elif stage:
            if key is None:
                raise HintError(f"{where(n)}: a hint before any `## CPU track` / `## CUDA track` section")
            close_stage(n)
            if int(stage.group(1)) != len(stages) + 1:
                raise HintError(f"{where(n)}: hint {stage.group(1)} where hint {len(stages) + 1} was due")
            stages.append(Stage(stage.group(2), ""))
            body = []
        else:
            raise HintError(f"{where(n)}: `{line.strip()}` is neither `## CPU track[, part (x)]` nor "
                            "`### Hint N: title`")
    close_stage(len(lines))
    if key is not None and not stages:
        raise HintError(f"{path}: section `{TRACK_NAMES[key[0]]} track, part ({key[1]})` has no hints")
    if not hints.sections:
        raise HintError(f"{path}: no `## CPU track` or `## CUDA track` section")
    return hints


def lab_folders(labs: str) -> dict[int, str]:
    """Lab number -> folder, for every labs/labN-name/ (as the Makefile finds them)."""
    out = {}
    for name in os.listdir(labs) if os.path.isdir(labs) else []:
        m = re.match(r"^lab(\d+)-", name)
        if m and os.path.isdir(os.path.join(labs, name)):
            out[int(m.group(1))] = os.path.join(labs, name)
    return dict(sorted(out.items()))  # lab 10 after lab 9, not after lab 1


def lab_title(folder: str, lab: int) -> str:
    """`Lab 3 (fused ReLU-multiply)` from the README's first line `# Lab 3: fused ReLU-multiply`."""
    try:
        with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
            first = f.readline().strip()
        name = first.split(": ", 1)[1] if first.startswith("# ") and ": " in first else ""
    except OSError:
        name = ""
    return f"Lab {lab} ({name})" if name else f"Lab {lab}"


def make_cmd(lab: int, part: str, track: str, nparts: int, extra: str = "") -> str:
    """The make command a student types for this lab, part and track (defaults left out)."""
    words = [f"make hint LAB={lab}"]
    if nparts > 1 and part != "a":
        words.append(f"PART={part}")
    if track != "cpu":
        words.append(f"TRACK={track}")
    if extra:
        words.append(extra)
    return " ".join(words)


def read_seen(path: str, total: int) -> int:
    """How many hints were shown, from the progress file: 0 when absent or unreadable, at most
    `total` (a hints file may have lost a stage since)."""
    try:
        with open(path, encoding="utf-8") as f:
            seen = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0
    return max(0, min(seen, total))


def write_seen(path: str, seen: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{seen}\n")
    os.replace(tmp, path)  # never a half-written file, even when two makes run at once


def resolve(args) -> tuple:
    """The lab's folder, number, part, track and hints from the arguments; HintError otherwise."""
    folders = lab_folders(args.labs)
    numbers = " ".join(str(n) for n in folders) or "none"
    raw = (args.lab or "").strip().lower()
    if not raw:
        raise HintError(f"which lab? make hint LAB=N (the labs are {numbers})")
    m = re.fullmatch(r"(?:lab)?(\d+)", raw)
    if not m or int(m.group(1)) not in folders:
        raise HintError(f"there is no lab {args.lab}: the labs are {numbers} (folders {args.labs}/labN-name/)")
    lab = int(m.group(1))
    folder = folders[lab]
    path = os.path.join(folder, "hints.md")
    if not os.path.isfile(path):
        raise HintError(f"lab {lab} has no hints yet ({path} is missing): its README.md is the guide")
    hints = parse_hints(path)
    parts = hints.parts()
    part = (args.part or "").strip().lower().strip("()") or parts[0]
    if part not in parts:
        listed = ", ".join(f"PART={p}" for p in parts)
        raise HintError(f"lab {lab} has no part ({args.part}): its parts are {listed}")
    track = (args.track or "").strip().lower() or "cpu"
    track = {"gpu": "cuda", "c": "cpu"}.get(track, track)
    if track not in TRACKS:
        raise HintError(f"TRACK={args.track}: hints come per track, TRACK=cpu or TRACK=cuda")
    if track not in hints.tracks(part):
        have = ", ".join(f"TRACK={t}" for t in hints.tracks(part))
        raise HintError(f"lab {lab} part ({part}) has no hints for the {TRACK_NAMES[track]} track: it has {have}")
    return folder, lab, part, track, hints


def show(title: str, where: str, k: int, stage: Stage, total: int) -> None:
    head = f"{title}, {where}, hint {k} of {total}: {stage.title}"
    print(head)
    print("=" * min(len(head), 100))
    print()
    print(stage.body)
    print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", default="")
    ap.add_argument("--part", default="")
    ap.add_argument("--track", default="")
    ap.add_argument("--again", action="store_true", help="the latest hint seen, again")
    ap.add_argument("--hint", default="", help="hint K again (one already seen, or the next)")
    ap.add_argument("--reset", action="store_true", help="forget which hints were seen")
    ap.add_argument("--labs", default=os.path.join(REPO, "labs"))
    ap.add_argument("--state", default=os.path.join(REPO, "build", "hints"))
    args = ap.parse_args(argv)
    if args.again + bool(args.hint) + args.reset > 1:
        print("[emlab] one of AGAIN=1, HINT=K and RESET=1 at a time", file=sys.stderr)
        return 2
    try:
        folder, lab, part, track, hints = resolve(args)
    except (HintError, OSError, UnicodeDecodeError) as e:
        print(f"[emlab] {e}", file=sys.stderr)
        return 2

    stages = hints.sections[(track, part)]
    total, nparts = len(stages), len(hints.parts())
    where = f"{TRACK_NAMES[track]} track" + (f", part ({part})" if nparts > 1 else "")
    progress = os.path.join(args.state, f"lab{lab}-{part}-{track}.seen")
    seen = read_seen(progress, total)
    cmd = lambda extra="": make_cmd(lab, part, track, nparts, extra)  # noqa: E731

    if args.reset:
        try:
            os.remove(progress)
        except FileNotFoundError:
            pass
        print(f"[emlab] lab {lab}, {where}: hints start over; {cmd()}  shows hint 1 of {total}")
        return 0

    repeat_last = False
    if args.hint:
        if not re.fullmatch(r"\d+", args.hint.strip()) or not 1 <= int(args.hint) <= total:
            print(f"[emlab] HINT={args.hint}: lab {lab}, {where} has hints 1 to {total}", file=sys.stderr)
            return 2
        k = int(args.hint)
        if k > seen + 1:
            print(f"[emlab] hint {k} is ahead: you have seen {seen} of {total} (lab {lab}, {where}); "
                  f"{cmd()}  shows hint {seen + 1}: try that one first", file=sys.stderr)
            return 2
    elif args.again:
        if seen == 0:
            print(f"[emlab] no hint seen yet for lab {lab}, {where}: {cmd()}  shows the first")
            return 0
        k = seen
    elif seen >= total:
        k, repeat_last = total, True
    else:
        k = seen + 1
    shown_before, seen = seen, max(seen, k)

    show(lab_title(folder, lab), where, k, stages[k - 1], total)
    lines = []
    if repeat_last:
        lines.append(f"no more hints: that was hint {total} of {total} ({where}) again, the last one, the "
                     "reference solution's design")
    elif k == total:
        lines.append(f"hint {k} of {total} ({where}), the last one: the reference solution's design. No more "
                     "hints after it")
    elif k < seen:
        lines.append(f"hint {k} of {total} ({where}), again: you have seen {seen} of them"
                     + (f". The next new one:  {cmd()}" if seen < total else ", all there are"))
    else:
        lines.append(f"hint {k} of {total} ({where}). The next one:  {cmd()}")
        lines.append(f"this one again:   {cmd('AGAIN=1')}")
    if seen > 1:
        lines.append(f"an earlier one:   {cmd('HINT=1')}   (any of 1 to {seen})")
    lines.append(f"start over:       {cmd('RESET=1')}")
    others = [make_cmd(lab, p, track, nparts) for p in hints.parts() if p != part]
    others += [make_cmd(lab, part, t, nparts) for t in hints.tracks(part) if t != track]
    if others:
        lines.append(f"other hints:      {'  /  '.join(others)}   (each counted on its own)")
    print("[emlab] " + "\n        ".join(lines), flush=True)
    if seen > shown_before:  # counted as seen once it is on the screen, not before
        write_seen(progress, seen)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `make hint | head`: the reader left; nothing more to say, nothing seen
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
