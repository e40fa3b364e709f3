"""Which files a submission's build read, and what of the compiler's words the student may see.

A student's file may `#include` any path the compiler can open: the reference solution it is meant
to write (renamed, so that the symbol scan sees only the student's own names), or any file of the
machine, whose lines the compiler then quotes in its errors. The sandbox's view keeps most of the
machine out of reach (grader/sandbox.py); this module accounts for what the compile did read.

* ``foreign()``: the Makefile has each student compile list the files it read (``-MD -MF x.d``
  beside each object, ``-M -MG`` after a fatal error); every one of them must lie in the
  student's lab folder, the public headers (``include/`` of the build's public view) or the
  compiler's own system header folders. Anything else makes the row cheat-suspected, naming the
  file as the student wrote it.
* ``for_student()``: the compiler's output as the student may see it: diagnostics located in the
  student's files, the public headers and the system headers, as they are; a diagnostic located in
  any other file keeps its place and loses its text (and its quoted lines); the grader's own
  paths replaced by short names.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from .text import _CTRL

# A dependency list longer than this is not a compile's (a few hundred headers at most): read no
# more of it.
_MAX_DEPS_BYTES = 4 << 20


@dataclass(frozen=True)
class Allowed:
    """The folders a student compile may read from (real paths)."""
    student: str          # the submission's lab folder
    public: str           # the public view of the repository, make's -C directory
    system: tuple         # the compilers' own header folders
    headers: tuple = ()   # the public headers where the checkout keeps them (the same files)

    @property
    def include(self) -> str:
        return os.path.join(self.public, "include")

    def permits(self, real: str) -> bool:
        return any(_within(real, root) for root in (self.student, self.include, *self.system, *self.headers))


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


# ---- the compilers' own header folders --------------------------------------------------------
def system_include_dirs(cc: str = "gcc", cxx: str = "g++") -> tuple:
    """The folders the C and C++ compilers search for <headers> on their own (as `cc -E -v` lists
    them, with CPATH's), and CUDA's include folders where nvcc is installed: the headers a student
    compile may read besides the student's and the public ones."""
    dirs: list[str] = []
    for compiler, lang in ((cc, "c"), (cxx, "c++")):
        try:
            r = subprocess.run([compiler, "-E", "-v", "-x", lang, "/dev/null"], capture_output=True,
                               text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            continue
        inside = False
        for line in r.stderr.splitlines():
            if line.startswith("#include <...> search starts here"):
                inside = True
            elif line.startswith("End of search list"):
                inside = False
            elif inside and line.startswith(" /"):
                dirs.append(line.strip().split(" (")[0])
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if os.path.exists(nvcc):
        cuda = os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
        dirs += [os.path.join(cuda, "include"), *glob.glob(os.path.join(cuda, "targets", "*", "include"))]
    # Where the probes found nothing (no compiler here: the build will fail anyway), the usual ones.
    dirs = dirs or ["/usr/include", "/usr/local/include"]
    out: list[str] = []
    for d in dirs:
        real = os.path.realpath(d)
        if os.path.isdir(real) and real not in out:
            out.append(real)
    return tuple(out)


# ---- dependency lists -------------------------------------------------------------------------
_DEP_TOKEN = re.compile(r"(?:\\.|[^\s\\])+")


def parse_deps(text: str) -> list[str]:
    """The prerequisites of a make-format dependency list (gcc's and nvcc's -MD output): targets
    dropped, escapes (`\\ `, `\\#`, `$$`) undone."""
    text = text.replace("\\\r\n", " ").replace("\\\n", " ")
    out: list[str] = []
    for line in text.splitlines():
        m = re.search(r":(?:\s|$)", line)  # the target ends at its colon (nvcc puts a space before)
        if not m:
            continue
        for tok in _DEP_TOKEN.findall(line[m.end():]):
            out.append(re.sub(r"\\(.)", r"\1", tok).replace("$$", "$"))
    return out


def _resolve(name: str, base_dirs: list[str]) -> str | None:
    """The real path of a file named in a dependency list or a diagnostic, on this machine: absolute
    as it is, else relative to make's directory (gcc names what -Iinclude found that way), the
    including file's folder or include/ (where -MG names a missing file as written); None when none
    exists. A file outside the sandbox's view counts too: the compile could not read it, but the
    student's code aimed at it."""
    cands = [name] if os.path.isabs(name) else [os.path.join(d, name) for d in base_dirs]
    for c in cands:
        if os.path.isfile(c):
            return os.path.realpath(c)
    return None


_INCLUDE = re.compile(r'^[ \t]*(?:#|%:)[ \t]*(?:include|include_next|import)[ \t]*([<"])([^>"\n]+)[>"]', re.M)


def _spellings(allowed: Allowed, sources: list[str]) -> dict[str, str]:
    """Real path -> the name as a student file's #include wrote it, for naming a file back."""
    out: dict[str, str] = {}
    for src in sources:
        try:
            with open(src, encoding="utf-8", errors="replace") as f:
                text = f.read(1 << 20)
        except OSError:
            continue
        for _, name in _INCLUDE.findall(text):
            real = _resolve(name, [os.path.dirname(src), allowed.include, allowed.public])
            if real:
                out.setdefault(real, f'"{name}"')
    return out


def foreign(objdir: str, allowed: Allowed, sources: dict[str, str], shown: "Paths") -> str | None:
    """Why the build is cheat-suspected (a file its compiles read from outside `allowed`), or None.

    objdir: the student objects' folder, with a .d beside each object; sources: object file name
    -> the student source it came from. A compiled object without its list is the grader's error
    (the Makefile of --repo does not write them: an older emlab), raised as RuntimeError."""
    spelled = _spellings(allowed, list(sources.values()))
    found: list[tuple[str, str]] = []
    for obj, src in sorted(sources.items()):
        dep = os.path.join(objdir, obj[:-2] + ".d")
        if not os.path.isfile(dep):
            if os.path.isfile(os.path.join(objdir, obj)):
                raise RuntimeError(f"the build wrote no list of the files {os.path.basename(src)} read "
                                   f"({os.path.basename(dep)}): the Makefile must compile student files "
                                   "with -MD -MF (update the repository --repo points at)")
            continue  # not compiled (a fatal error nvcc gave no list for): nothing was built of it
        with open(dep, encoding="utf-8", errors="replace") as f:
            names = parse_deps(f.read(_MAX_DEPS_BYTES))
        for name in names:
            real = _resolve(name, [allowed.public, os.path.dirname(src), allowed.include])
            if real and not allowed.permits(real):
                found.append((os.path.basename(src), spelled.get(real) or shown.name(real)))
    if not found:
        return None
    src, name = found[0]
    more = len({n for _, n in found}) - 1
    return (f"{src} includes {name}: a submission may include only its own files, include/ and the "
            "compiler's system headers" + (f" ({more} more such file(s))" if more else ""))


# ---- naming the grader's paths ----------------------------------------------------------------
class Paths:
    """Replaces the grader's own paths (its checkout, output folder, pristine build, home) in text
    shown to a student: each path by its short name, or, named "", with the slash after it
    removed (the lab folder's parent: "lab1-add/add.c"). The longest first, so that a work folder
    inside the output folder reads as its own name."""

    def __init__(self, names: dict[str, str]):
        items = [(os.path.normpath(k), v) for k, v in names.items() if k and os.path.isabs(k) and k != "/"]
        for k, v in list(items):  # both spellings: through a link, and the real one
            real = os.path.realpath(k)
            if real != k:
                items.append((real, v))
        items.sort(key=lambda kv: -len(kv[0]))
        self.items = items
        self._rx = []
        for k, v in items:
            self._rx.append((re.compile(re.escape(k) + "/"), v + "/" if v else ""))
            self._rx.append((re.compile(re.escape(k) + r"(?![\w.-])"), v or "."))

    def sub(self, text: str) -> str:
        for rx, v in self._rx:
            text = rx.sub(lambda m, v=v: v, text)
        return text

    def name(self, real: str) -> str:
        """A file the student did not spell: relative to the first of our folders holding it, else
        its own path (a system file), else its base name."""
        for k, v in self.items:
            if _within(real, k):
                rel = os.path.relpath(real, k)
                return f"{v}/{rel}" if v else rel
        return real if real.startswith(("/usr/", "/etc/", "/proc/", "/sys/", "/dev/", "/lib")) else \
            ".../" + os.path.basename(real)


# ---- the compiler's words as the student sees them ----------------------------------------------
# A diagnostic's place: gcc's  FILE:LINE[:COL]: ...  and nvcc's  FILE(LINE): ...
_GCC_AT = re.compile(r"^(?P<f>[^\s:][^:]*?):(?P<l>\d+)(?::\d+)?: (?P<rest>.*)$")
_NVCC_AT = re.compile(r"^(?P<f>[^\s(][^(]*?)\((?P<l>\d+)\): (?P<rest>.*)$")
# gcc's context lines: "FILE: In function 'f':", "FILE: At top level:".
_GCC_CONTEXT = re.compile(r"^(?P<f>[^\s:][^:]*?): (?P<rest>(?:In |At top level).*)$")
WITHHELD = "(text of a file outside the submission withheld)"


def for_student(text: str, allowed: Allowed, paths: Paths) -> str:
    """The compiler's output with every diagnostic located in a file other than the student's, the
    public headers and the system headers reduced to its place (the file named as Paths names it),
    the lines it quotes dropped, and the grader's paths replaced. Unchanged for a build that reads
    only what it may (beyond the paths)."""
    out: list[str] = []
    showing = True
    bases = [allowed.public, allowed.student]
    for line in _CTRL.sub("", text).splitlines():  # colour codes would hide a place from the patterns
        m = _GCC_AT.match(line) or _NVCC_AT.match(line) or _GCC_CONTEXT.match(line)
        if m:
            real = _resolve(m.group("f"), bases)
            showing = real is None or allowed.permits(real)
            if not showing:
                where = paths.name(real) + (f":{m.group('l')}" if "l" in m.groupdict() and m.group("l") else "")
                out.append(f"{where}: {WITHHELD}")
                continue
        elif line[:1] in (" ", "\t") and not showing:
            continue  # a quoted line or caret of the withheld diagnostic
        elif line.strip():
            showing = True
        out.append(line)
    return paths.sub("\n".join(out))
