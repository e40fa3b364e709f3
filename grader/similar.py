"""A backstop against copied solutions: how much of a student file is a reference solution's.

The symbol scan stops a submission that calls the reference and the build's include check one
that includes it; a student can still paste the reference's code in and rename it. Each student
file is compared with its lab's reference solutions (reference/cpu/<name>.c, reference/cuda/
<name>.cu with its <name>_kernels.cuh) as normalised tokens: comments and spacing dropped, every
identifier, number and string one placeholder each (keywords stay), so that renaming, reformatting and new comments do
not hide a copy. Of the token K-grams, those of the lab's skeleton (which every submission starts
from, and which the reference shares: the function signatures, the includes) are left out; what
is measured is the larger of two shares: of the student file's K-grams that occur in the
reference (a copy with parts left out), and of the reference's that occur in the student file (a
copy with code added around it). At THRESHOLD or above the row's notes say so, for the instructor
to judge; the score never changes for it.
"""
from __future__ import annotations

import os
import re

# Token K-grams: 12 tokens are about one short statement (`I [ I ] = I [ I ] + I ;` is 11), so
# two people writing the same idioms share some of them, and a copy nearly all.
K = 12

# Calibrated on this repository (tests/grader/test_similar.py holds both sides to it). Against
# their lab's references the skeletons score 0 and the honest planted files of tests/planted/
# (small, independent solutions of the same tasks, so sharing their idioms) at most 0.48; a
# reference renamed and reformatted scores 1.0, with code added around it 1.0, with every fourth
# line deleted 0.62 to 0.74. Shorter grams narrow the gap between the two sides: 0.67 against
# 0.76 at K = 8, 0.57 against 0.69 at K = 10.
THRESHOLD = 0.55

# Kept as themselves: they carry the structure that renaming cannot change.
KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while _Bool _Alignas _Alignof _Atomic _Static_assert _Thread_local bool true false
constexpr template typename class namespace using nullptr static_cast reinterpret_cast const_cast
__global__ __device__ __host__ __shared__ __constant__ __restrict__ __forceinline__ __launch_bounds__
pragma include define ifdef ifndef endif omp parallel simd
""".split())

_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<number>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>\S)
""", re.S | re.X)


def tokens(text: str) -> list[str]:
    """The normalised tokens of C/C++/CUDA source: I, N, S for identifiers, numbers and strings,
    keywords and punctuation as they are, comments and spacing gone."""
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "comment":
            continue
        if kind == "ident":
            word = m.group()
            out.append(word if word in KEYWORDS else "I")
        elif kind == "number":
            out.append("N")
        elif kind == "string":
            out.append("S")
        else:
            out.append(m.group())
    return out


def grams(text: str, k: int | None = None) -> set:
    k = k or K
    t = tokens(text)
    return {tuple(t[i:i + k]) for i in range(len(t) - k + 1)}


def share(student: set, reference: set, skeleton: set) -> tuple[float, str]:
    """The larger of the two shares (module docstring) and which it is: "its" (of the student's
    own K-grams) or "reference" (of the reference's)."""
    own, ref = student - skeleton, reference - skeleton
    common = len(own & ref)
    mine = common / len(own) if own else 0.0
    theirs = common / len(ref) if ref else 0.0
    return (mine, "its") if mine >= theirs else (theirs, "reference")


def _read(path: str, limit: int = 1 << 20) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    except OSError:
        return None


class References:
    """The reference solutions' and skeletons' K-grams of a repository, read once each."""

    def __init__(self, repo: str):
        self.repo = repo
        self._cache: dict[str, set] = {}

    def _grams(self, rel: str, *more: str) -> set | None:
        """The grams of rel, together with those of the files in more that exist (a CUDA
        reference keeps its kernels in <name>_kernels.cuh beside its launchers)."""
        key = "+".join((rel, *more))
        if key not in self._cache:
            texts = [t for t in (_read(os.path.join(self.repo, r)) for r in (rel, *more)) if t is not None]
            self._cache[key] = grams("\n".join(texts)) if texts and _read(os.path.join(self.repo, rel)) is not None else None
        return self._cache[key]

    def notes(self, lab, files: dict[str, str]) -> list[str]:
        """A note for each student file (name -> path) at THRESHOLD or more against one of its
        lab's reference solutions: "add.c: 87% of its token 12-grams match reference/cpu/add.c"."""
        out = []
        for name, path in sorted(files.items()):
            stem, ext = os.path.splitext(name)
            if ext not in (".c", ".cu"):
                continue
            text = _read(path)
            if text is None:
                continue
            mine = grams(text)
            skeleton = self._grams(os.path.join("labs", lab.folder, name)) or set()
            best = None
            for rel, more in ((f"reference/cpu/{stem}.c", ()),
                              (f"reference/cuda/{stem}.cu", (f"reference/cuda/{stem}_kernels.cuh",))):
                ref = self._grams(rel, *more)
                if ref:
                    value, which = share(mine, ref, skeleton)
                    if best is None or value > best[0]:
                        best = (value, which, rel)
            if best and best[0] >= THRESHOLD:
                value, which, rel = best
                what = (f"{100 * value:.0f}% of its token {K}-grams match {rel}" if which == "its" else
                        f"it holds {100 * value:.0f}% of the token {K}-grams of {rel}")
                out.append(f"{name}: {what} (a renamed copy? for the instructor to judge; not scored)")
        return out
