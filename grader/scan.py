"""Step 4: the student's object files, read with `nm`, against lists of forbidden symbols.

The student's code is linked into the same binary as the library (reference solutions, oracles,
naive baselines) and the checker, so a student object can call the reference instead of doing the
work, or define a symbol that replaces the checker's clock. Undefined references say what the code
calls; global definitions say what it would interpose on. A hit makes the row cheat-suspected and
names the symbol. Every entry says why it is there."""
from __future__ import annotations

import re
import subprocess

# Library symbols student code may reference: EM_TODO expands to em_todo() (include/em/lab.h);
# the other two are declared in that header too.
ALLOWED_LIBRARY = {
    "em_todo": "EM_TODO(...) in the skeletons",
    "em_todo_reset": "declared in include/em/lab.h",
    "em_todo_reached": "declared in include/em/lab.h",
}

# Undefined references, matched as regular expressions on the whole name (mangled C++ names by
# substring, see below). First match wins.
FORBIDDEN_CALLS = [
    (r"em__?[A-Za-z0-9_]*", "a libem symbol: reference solutions (em_<lab>_<part>_cpu/_cuda), oracles, naive baselines and internals do the work or reach the checker"),
    (r"cublas\w*|cublasLt\w*", "cuBLAS does the work (GEMM, axpy, reductions)"),
    (r"cudnn\w*", "cuDNN does the work (activations, softmax)"),
    (r"cufft\w*|cusparse\w*|cusolver\w*|cutensor\w*|nvblas\w*", "a CUDA math library does the work"),
    (r"nvrtc\w*|cuModuleLoad\w*|cuLibraryLoad\w*|cuLinkAdd\w*|cudaLibraryLoad\w*",
     "loads or compiles code at run time that this scan cannot see"),
    (r"cblas_\w*|mkl_\w*|openblas\w*|dnnl_\w*|xsmm\w*", "a CPU BLAS/DNN library does the work"),
    (r"dlopen|dlmopen|dlsym|dlvsym", "loads code, or finds the library's symbols, behind this scan's back (libdl is linked)"),
    (r"fork|vfork|clone3?|_Fork|execv|execve|execvp|execvpe|execl|execlp|execle|fexecve|posix_spawnp?|system|popen",
     "starts another program or process: not part of any lab"),
    (r"syscall", "a raw system call can do anything the names here forbid"),
    (r"socket|connect|bind|listen|accept4?|getaddrinfo|gethostbyname\w*|sendto|sendmsg|recvfrom",
     "network access: not part of any lab"),
    (r"ptrace|process_vm_readv|process_vm_writev", "reads or writes another process's memory"),
    (r"mprotect|pkey_mprotect", "makes memory executable or the checker's read-only data writable"),
    (r"sigaction|signal|sigset|bsd_signal|alarm|setitimer|timer_create",
     "replaces the checker's crash and hang handlers or its per-case alarm"),
]

# Definitions (global symbols the object defines) that would interpose on the harness, the
# checker's clocks or the libraries it relies on.
FORBIDDEN_DEFINITIONS = [
    (r"em__?\w*|EM_\w*", "replaces a libem or checker symbol"),
    (r"clock_gettime\w*|gettimeofday|clock|time|timespec_get|__vdso_\w+", "replaces the clock the checker times with"),
    (r"omp_\w+|GOMP_\w+", "replaces OpenMP's runtime (omp_get_wtime is a clock)"),
    (r"cuda[A-Z]\w*|cu[A-Z]\w*|nvml\w*", "replaces the CUDA runtime/driver the checker times and checks with (cudaEvent*, cudaGetLastError ...)"),
    (r"json_\w+", "replaces jansson, which writes the results"),
    (r"memcmp|bcmp|memcpy|memmove|memset|malloc|calloc|realloc|free|posix_memalign|aligned_alloc|mmap|munmap",
     "replaces the C library functions the checker compares and allocates with"),
    (r"exit|_exit|_Exit|abort|atexit|raise|kill|write|fwrite|fflush|rename|fopen|open|sigaction|signal|alarm",
     "replaces the C library functions the checker reports and exits with"),
    (r"main|__libc_start_main", "replaces the checker's entry point"),
]

# C++/CUDA template libraries leave their namespaces in mangled names (defined or undefined):
# CUB's DeviceReduce or Thrust's reduce/transform would do labs 1-6's work; CUTLASS does GEMMs.
# Matched as the mangled nested-name prefix (N<length><namespace>), so that a student's own
# function that merely contains the word (add3cube) is not flagged.
FORBIDDEN_SUBSTRINGS = [
    ("N7cutlass", "CUTLASS does the work"),
    ("N3cub", "CUB does the work (DeviceReduce, BlockReduce ...)"),
    ("N6thrust", "Thrust does the work (reduce, transform ...)"),
]

_CALLS = [(re.compile(p), why) for p, why in FORBIDDEN_CALLS]
_DEFS = [(re.compile(p), why) for p, why in FORBIDDEN_DEFINITIONS]


def _symbols(obj: str) -> list[tuple[str, str]]:
    """(name, nm type letter) of every symbol of obj; versions (@GLIBC_2.2.5) stripped."""
    r = subprocess.run(["nm", "-P", "--no-sort", obj], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"nm {obj}: {r.stderr.strip()[:200]}")
    out = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[0].split("@")[0], parts[1]))
    return out


def _has_constructor(obj: str) -> bool:
    """A C object with .init_array/.ctors runs code before the checker's main (nvcc's own objects
    register their kernels that way, so only .c objects are asked)."""
    r = subprocess.run(["readelf", "-S", "-W", obj], capture_output=True, text=True, timeout=60)
    return bool(re.search(r"\.(init_array|preinit_array|ctors)\b", r.stdout))


def check_symbol(name: str, kind: str) -> str | None:
    """Why (name, nm type) is forbidden, or None."""
    for sub, why in FORBIDDEN_SUBSTRINGS:
        if sub in name:
            return why
    if kind in ("U", "w", "v"):
        if name in ALLOWED_LIBRARY:
            return None
        for rx, why in _CALLS:
            if rx.fullmatch(name):
                return why
        return None
    if kind.isupper() or kind in ("u",):  # a global definition
        for rx, why in _DEFS:
            if rx.fullmatch(name):
                return why
    return None


def scan(objects: list[str]) -> tuple[str, str] | None:
    """(symbol or feature, why) for the first forbidden thing in the objects, else None."""
    for obj in objects:
        for name, kind in _symbols(obj):
            why = check_symbol(name, kind)
            if why:
                where = "calls" if kind in ("U", "w", "v") else "defines"
                return name, f"{obj.rsplit('/', 1)[-1]} {where} {name}: {why}"
        if obj.endswith(".o") and not obj.endswith(".cu.o") and _has_constructor(obj):
            return "constructor", f"{obj.rsplit('/', 1)[-1]} has a constructor (code that runs before the checker starts)"
    return None
