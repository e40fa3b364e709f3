"""The project's shell scripts (scripts/*.sh and .ci/run) pass shellcheck at its warning level.

Errors and warnings are defects here, as compiler warnings are in the C (-Werror); shellcheck's info
and style notes are advice, and a script that splits words on purpose says so where it does. Skips
without shellcheck (scripts/install-deps.sh --test installs it)."""
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def scripts():
    found = sorted(ROOT.glob("scripts/*.sh")) + [ROOT / ".ci/run"]
    return [p for p in found if p.is_file()]


@pytest.fixture(scope="module")
def shellcheck():
    exe = shutil.which("shellcheck")
    if not exe:
        pytest.skip("shellcheck is not installed: apt-get install shellcheck (scripts/install-deps.sh --test does)")
    return exe


def test_there_are_scripts_to_check():
    names = {p.relative_to(ROOT).as_posix() for p in scripts()}
    assert {"scripts/install-deps.sh", "scripts/device-lab-common.sh", ".ci/run"} <= names


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_script_passes_shellcheck(shellcheck, script):
    # -x follows the files a script sources (the device scripts share device-lab-common.sh), from
    # the repository root, where every script runs.
    p = subprocess.run([shellcheck, "-x", "--severity=warning", str(script.relative_to(ROOT))], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_check_can_fail(shellcheck, tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nunused=1\nsource \"$1\"\n")  # SC2034 warns, the check must see it
    p = subprocess.run([shellcheck, "--severity=warning", str(bad)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "SC2034" in p.stdout, p.stdout + p.stderr
