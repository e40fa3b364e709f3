"""The browser driver (chromium.py) on small pages written here: a clean page and its chart, console
errors, uncaught exceptions, requests off the disk (failed, and never on the network), screenshots,
and the failures a test must report rather than hang on: no page, a page that never loads, a browser
that exits or never starts."""
from __future__ import annotations

import shutil
import socket
import stat
import struct
import time
from pathlib import Path

import pytest

from chromium import Browser, BrowserError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Three points of the chart contract: <svg class="em-chart" data-chart=NAME>, points of class em-point.
CHART = """<svg class="em-chart" data-chart="demo" width="300" height="200" viewBox="0 0 300 200">
  <line x1="0" y1="200" x2="300" y2="0" stroke="gray"/>
  <circle class="em-point" cx="50" cy="150" r="6"/>
  <circle class="em-point" cx="150" cy="100" r="6"/>
  <circle class="em-point" cx="250" cy="50" r="6"/>
</svg>"""


def write_page(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text('<!doctype html>\n<html><head><meta charset="utf-8"><title>%s</title></head>\n'
                    "<body>\n<h1>%s</h1>\n%s\n</body></html>\n" % (name, name, body))
    return path


def test_a_clean_page_has_no_problems_and_its_chart_three_sized_points(browser, tmp_path):
    page = browser.open(write_page(tmp_path, "clean.html", CHART))
    assert page.problems() == []
    assert page.chart_summary() == [{"name": "demo", "width": 300, "height": 200, "points": 3, "sized_points": 3}]


def test_points_without_area_are_counted_apart(browser, tmp_path):
    unsized = ('<circle class="em-point" cx="9" cy="9" r="0"/>'
               '<rect class="em-point" x="9" y="9" width="20" height="5" style="display:none"/>')
    body = CHART.replace("</svg>", unsized + "</svg>")
    body += '<svg class="em-chart" data-chart="empty" width="100" height="50"></svg>'
    summary = browser.open(write_page(tmp_path, "unsized.html", body)).chart_summary()
    assert summary == [{"name": "demo", "width": 300, "height": 200, "points": 5, "sized_points": 3},
                       {"name": "empty", "width": 100, "height": 50, "points": 0, "sized_points": 0}]


def test_console_errors_and_failed_asserts_are_reported_and_other_console_output_is_not(browser, tmp_path):
    script = ("<script>console.log('fine'); console.warn('careful'); console.error('boom', 42);"
              " console.assert(1 === 2, 'one is not two'); console.assert(true, 'holds');</script>")
    page = browser.open(write_page(tmp_path, "console.html", script))
    assert len(page.console_errors) == 2, page.console_errors
    assert page.console_errors[0].startswith("console.error: boom 42 (file://")
    assert page.console_errors[1].startswith("console.assert: one is not two")
    assert page.exceptions == [] and page.failed_requests == []


def test_uncaught_exceptions_and_unhandled_rejections_are_reported(browser, tmp_path):
    scripts = ("<script>Promise.reject(new Error('later'));</script>"
               "<script>throw new Error('kaput');</script><p>the page goes on</p>")
    page = browser.open(write_page(tmp_path, "throws.html", scripts))
    assert len(page.exceptions) == 2, page.exceptions
    assert any("Error: kaput" in e for e in page.exceptions), page.exceptions
    assert any("(in promise)" in e and "Error: later" in e for e in page.exceptions), page.exceptions
    assert page.evaluate("document.querySelector('p').textContent") == "the page goes on"


def test_an_alert_is_reported_instead_of_blocking_the_page(browser, tmp_path):
    script = "<script>alert('hello'); document.title = 'after'</script>"
    page = browser.open(write_page(tmp_path, "alert.html", script))
    assert page.console_errors == ["a alert() dialog opened: 'hello'"]
    assert page.evaluate("document.title") == "after"


@pytest.fixture
def listener():
    """A server on loopback that counts on being contacted by nobody."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def nobody_connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
        return False
    except BlockingIOError:
        return True


def test_every_request_off_the_disk_fails_is_recorded_and_never_reaches_the_network(browser, tmp_path, listener):
    port = listener.getsockname()[1]
    urls = ["https://example.com/x.png", "http://example.com/data.json",
            f"http://127.0.0.1:{port}/y.png", f"http://localhost:{port}/z.json"]
    body = (f'<img src="{urls[0]}"><img src="{urls[2]}">'
            f"<script>for (const u of ['{urls[1]}', '{urls[3]}']) fetch(u).catch(() => {{}});</script>")
    page = browser.open(write_page(tmp_path, "network.html", body), timeout=10)  # a request let through hangs
    assert sorted(r.url for r in page.failed_requests) == sorted(urls), page.failed_requests
    assert all("ERR_" in r.error for r in page.failed_requests), page.failed_requests
    assert page.console_errors == [] and page.exceptions == []
    assert nobody_connected(listener)


def test_without_fetch_interception_the_command_line_still_blocks_the_network(browser, tmp_path, listener):
    # The second line of defence on its own: names resolve nowhere and every connection, loopback
    # included, goes to a proxy port that refuses it.
    page = browser.open(write_page(tmp_path, "nofetch.html", ""))
    page._call("Fetch.disable")
    port = listener.getsockname()[1]
    for url in (f"http://127.0.0.1:{port}/a", f"http://localhost:{port}/b", "https://example.com/c"):
        result = page.evaluate(f"fetch('{url}').then(() => 'reached', e => 'failed: ' + e)", await_promise=True)
        assert result == "failed: TypeError: Failed to fetch", url
    assert {r.url for r in page.failed_requests} >= {f"http://127.0.0.1:{port}/a", "https://example.com/c"}
    assert nobody_connected(listener)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, data[:8]
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_screenshots_are_pngs_of_the_whole_page_or_the_viewport(browser, tmp_path, shots):
    body = CHART + '<div style="height: 1500px; background: linear-gradient(#fff, #36c)">a tall page</div>'
    page = browser.open(write_page(tmp_path, "screenshot.html", body), width=800, height=600)
    whole = page.screenshot(shots / "screenshot-whole.png").read_bytes()
    width, height = png_size(whole)
    assert width == 800 and height > 1500
    assert len(whole) > 5000  # text, a chart and a gradient: not a blank image
    viewport = page.screenshot(shots / "screenshot-viewport.png", full_page=False).read_bytes()
    assert png_size(viewport) == (800, 600)


def test_a_missing_page_is_an_error_that_names_it(browser, tmp_path):
    with pytest.raises(BrowserError, match="no page at .*nowhere.html: build it first"):
        browser.open(tmp_path / "nowhere.html")


def group_members(pgid: int) -> list[int]:
    """Live processes of process group pgid (/proc/PID/stat: state, ppid, pgrp after the name). A
    zombie is dead already, waiting for its parent to read its status."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            state, _, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if entry.name.isdigit() and int(group) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def gone(pgid: int) -> bool:
    """Whether group pgid has no live process left, given a moment to finish dying after SIGKILL."""
    end = time.monotonic() + 2
    while group_members(pgid) and time.monotonic() < end:
        time.sleep(0.05)
    return group_members(pgid) == []


def test_a_page_that_never_loads_fails_in_time_and_the_browser_is_killed(browser, tmp_path):
    pid = browser.pid
    assert len(group_members(pid)) > 1  # the browser and its helpers, one process group
    page = write_page(tmp_path, "hangs.html", "<script>while (true) {}</script>")
    start = time.monotonic()
    with pytest.raises(BrowserError, match="hangs.html did not finish loading within 2 s.*it was killed"):
        browser.open(page, timeout=2)
    assert time.monotonic() - start < 10
    assert not browser.running and gone(pid)
    with pytest.raises(BrowserError, match="not running"):
        browser.open(write_page(tmp_path, "next.html", ""))


def fake_chromium(folder: Path, script: str) -> str:
    path = folder / "fake-chromium"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_browser_that_exits_at_start_is_an_error_with_its_output(tmp_path):
    exe = fake_chromium(tmp_path, 'echo "cannot open display" >&2; exit 3')
    with pytest.raises(BrowserError, match=r"(?s)Chromium exited; it exited with status 3.*cannot open display"):
        Browser(exe).start()


def test_a_browser_that_never_answers_is_killed_in_time(tmp_path):
    marker = tmp_path / "pid"
    sleep = shutil.which("sleep") or "/bin/sleep"
    exe = fake_chromium(tmp_path, f'echo $$ > {marker}; echo "starting"; exec {sleep} 600')
    start = time.monotonic()
    with pytest.raises(BrowserError, match=r"(?s)did not start within 1 s; it was killed.*starting"):
        Browser(exe, timeout=1).start()
    assert time.monotonic() - start < 10
    assert not Path("/proc", marker.read_text().strip()).exists()  # killed and reaped
