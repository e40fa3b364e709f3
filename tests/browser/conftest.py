"""Shared pieces of the browser tests: a headless Chromium for each test (the test skips, naming the
command that installs one, where there is none) and the folder where tests keep screenshots for a
person to look at: build/tests/browser/, or EM_BROWSER_OUT (`make test` sets it under $(BUILD))."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # chromium.py, whatever pytest's import mode
from chromium import SKIP_REASON, Browser, find_chromium  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("EM_BROWSER_OUT") or REPO / "build" / "tests" / "browser").resolve()


@pytest.fixture
def browser():
    """A fresh browser per test: a page that hangs or crashes one cannot spoil the next test."""
    if not find_chromium():
        pytest.skip(SKIP_REASON)
    with Browser() as b:
        yield b


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def pytest_terminal_summary(terminalreporter):
    if SHOTS.is_dir() and any(SHOTS.glob("*.png")):
        terminalreporter.write_line(f"[emlab] screenshots from the browser tests, to look at: {SHOTS}")
