"""scripts/sanitize.py's reading of compute-sanitizer's reports, on a machine without a GPU: the
reports below are copied from real runs (compute-sanitizer 2025.3.1 on an H100: the planted
tests/planted/lab1/reads_past_end.cu under memcheck, tests/planted/lab5/no_sync_before_read.cu under
racecheck, tests/planted/lab5/warp_barrier_mask.cu under synccheck), without their "=========" prefix, as the parser receives them. compute-sanitizer names
device code's files without their folder; the finding must name the file as the student finds it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sanitize(monkeypatch):
    monkeypatch.chdir(ROOT)  # sanitize.py runs from the project root, as make runs it
    spec = importlib.util.spec_from_file_location("sanitize_script", ROOT / "scripts/sanitize.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MEMCHECK = """Invalid __global__ read of size 16 bytes
    at add_vec4(const float *, float, float *, long)+0x130 in reads_past_end.cu:15
    by thread (0,0,0) in block (0,0,0)
    Access to 0x7f648c800000 is out of bounds
    and is inside the nearest allocation at 0x7f648c800000 of size 4 bytes
    Saved host backtrace up to driver entry point at kernel launch time
        Host Frame: invoke in add.c:61 [0x20308] in em-check
        Host Frame: run_case in check.c:487 [0x180dc] in em-check""".splitlines()

RACECHECK = """Error: Race reported between Write access at sum_rows_kernel(const float *, float *, long)+0x250 in no_sync_before_read.cu:17
    and Read access at sum_rows_kernel(const float *, float *, long)+0x2c0 in no_sync_before_read.cu:19 [512 hazards]""".splitlines()

SYNCCHECK = """Barrier error detected. Invalid arguments.
    at __syncwarp(unsigned int)+0x3f0 in sm_30_intrinsics.hpp:110
    by thread (0,0,0) in block (0,0,0)
        Device Frame: sum_rows_kernel(const float *, float *, long)+0x3f0 in warp_barrier_mask.cu:34
    Saved host backtrace up to driver entry point at kernel launch time
        Host Frame: invoke in sum.c:113 [0x2a5a5] in em-check
        Host Frame: run_case in check.c:487 [0x183fc] in em-check""".splitlines()


def one_finding(mod, tool, block):
    findings = []
    mod.parse_cs_report(tool, block, ("a", "n=1"), "log", findings)
    assert len(findings) == 1, findings
    return findings[0]


def test_memcheck_names_the_planted_file_by_its_path(sanitize):
    sanitize.index_sources("1", "build/tests/planted/lab1/reads_past_end.cu/em-check")
    f = one_finding(sanitize, "memcheck", MEMCHECK)
    assert f.kind.startswith("Invalid __global__ read of size 16 bytes")
    assert f.where == "tests/planted/lab1/reads_past_end.cu:15"
    assert f.func.startswith("add_vec4(")


def test_racecheck_names_both_accesses_by_path(sanitize):
    sanitize.index_sources("5", "build/tests/planted/lab5/no_sync_before_read.cu/em-check")
    f = one_finding(sanitize, "racecheck", RACECHECK)
    assert "RAW hazard" in f.kind
    assert f.where == "tests/planted/lab5/no_sync_before_read.cu:19"
    assert f.note == "the write is at tests/planted/lab5/no_sync_before_read.cu:17"


def test_synccheck_names_the_students_line_not_the_intrinsic(sanitize):
    """The report is "at" __syncwarp inside the toolkit's header; the line to fix is the device
    frame that called it."""
    sanitize.index_sources("5", "build/tests/planted/lab5/warp_barrier_mask.cu/em-check")
    f = one_finding(sanitize, "synccheck", SYNCCHECK)
    assert f.kind == "barrier error: invalid arguments"
    assert f.where == "tests/planted/lab5/warp_barrier_mask.cu:34"
    assert f.func.startswith("sum_rows_kernel(")


def test_a_students_file_is_found_in_the_labs_folder(sanitize):
    """make check SANITIZE=1 runs the student's checker (build/labN/..., no source named by its
    folder): the bare name is the lab's student file."""
    sanitize.index_sources("1", "build/lab1/em-check")
    block = [MEMCHECK[0], MEMCHECK[1].replace("reads_past_end.cu", "add.cu")] + MEMCHECK[2:]
    assert one_finding(sanitize, "memcheck", block).where == "labs/lab1-add/add.cu:15"


def test_a_name_no_source_of_the_run_has_stays_bare(sanitize):
    sanitize.index_sources("1", "build/lab1/em-check")
    block = [MEMCHECK[0], MEMCHECK[1].replace("reads_past_end.cu", "elsewhere.cu")] + MEMCHECK[2:]
    assert one_finding(sanitize, "memcheck", block).where == "elsewhere.cu:15"
