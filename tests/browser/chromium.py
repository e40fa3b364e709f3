"""A small headless-Chromium driver for testing the project's self-contained HTML pages in a real
browser: the DevTools protocol over a pipe (--remote-debugging-pipe), Python's standard library only.

    with Browser() as browser:
        page = browser.open("/abs/path/report.html", width=1280, height=900)
        assert page.problems() == []      # failed requests, console errors, uncaught exceptions
        page.chart_summary()              # [{"name": "roofline", "width": 640.0, "height": 400.0,
                                          #   "points": 8, "sized_points": 8}, ...]
        page.screenshot(out / "report.png")

A page may load only file:, data: and blob: URLs. Every other request (http, https, a WebSocket ...)
is failed inside the browser and recorded in page.failed_requests: a report has to open on a machine
without network, and the test must not depend on one either.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

SKIP_REASON = "headless Chromium not installed: scripts/install-deps.sh --browser"

# Debian's package is `chromium`; other distributions and Google's build use the other names.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")

# Schemes a self-contained page may load; a request for anything else is blocked and recorded.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

# Chromium reads commands from fd 3 and writes replies to fd 4. Popen keeps passed fds under their
# own numbers, so this shim moves the pipe ends there, then becomes Chromium (a preexec_fn could do
# it too, but is not safe in a process with threads).
_FD_SHIM = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
            "os.close(r); os.close(w); os.execvp(sys.argv[3], sys.argv[3:])")

# The chart contract of the project's pages: <svg class="em-chart" data-chart="NAME">, each data
# point or bar inside it of class em-point. A point whose box has no area is drawn invisibly
# (display:none, r=0, a bar of height 0), so the summary counts those apart.
_CHART_SUMMARY_JS = """
Array.from(document.querySelectorAll('svg.em-chart'), svg => {
  const box = svg.getBoundingClientRect();
  const points = Array.from(svg.querySelectorAll('.em-point'));
  const sized = points.filter(p => { const b = p.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
  return {name: svg.getAttribute('data-chart'), width: box.width, height: box.height,
          points: points.length, sized_points: sized.length};
})
"""


class BrowserError(Exception):
    """Chromium failed, hung or could not open a page; the message says which and what to do."""


@dataclass(frozen=True)
class FailedRequest:
    url: str
    error: str

    def __str__(self) -> str:
        return f"{self.url}: {self.error}"


def find_chromium() -> str | None:
    """The first Chromium on PATH (CANDIDATES in order), or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _is_local(url: str) -> bool:
    return url.startswith(LOCAL_SCHEMES)


def _describe_value(obj: dict) -> str:
    for key in ("value", "unserializableValue", "description"):
        if key in obj:
            return str(obj[key])
    return obj.get("type", "?")


def _describe_exception(details: dict) -> str:
    text = details.get("text", "exception")
    if "exception" in details:
        text += " " + _describe_value(details["exception"])
    if details.get("url"):
        text += f" ({details['url']}:{details.get('lineNumber', 0) + 1})"
    return text


class Page:
    """One tab showing one page. What the page does wrong is recorded whenever the driver reads the
    browser's messages: while open() waits, and during evaluate() and screenshot()."""

    def __init__(self, browser: Browser, session: str, target: str, url: str):
        self._browser, self._session, self._target, self.url = browser, session, target, url
        self.console_errors: list[str] = []
        self.exceptions: list[str] = []
        self._failed: dict[str, FailedRequest] = {}  # by request id: one entry per request
        self._urls: dict[str, str] = {}              # request id -> URL, for loadingFailed
        self._loaded: set[str] = set()               # loader ids whose load event fired

    @property
    def failed_requests(self) -> list[FailedRequest]:
        return list(self._failed.values())

    def problems(self) -> list[str]:
        """Everything a clean page must not have, one readable line each: [] for a clean page."""
        return ([f"failed request: {r}" for r in self.failed_requests]
                + [f"console error: {m}" for m in self.console_errors]
                + [f"uncaught exception: {e}" for e in self.exceptions])

    def evaluate(self, expression: str, await_promise: bool = False):
        """The JSON value of a JavaScript expression evaluated in the page (None for undefined)."""
        reply = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise})
        if "exceptionDetails" in reply:
            raise BrowserError(f"evaluating {expression.strip()[:80]!r} in {self.url} threw: "
                               f"{_describe_exception(reply['exceptionDetails'])}")
        return reply["result"].get("value")

    def chart_summary(self) -> list[dict]:
        """For every svg.em-chart in document order: its data-chart `name`, its `width` and `height`
        (CSS pixels), how many .em-point elements it holds (`points`) and how many of those have a
        box of non-zero area (`sized_points`)."""
        return self.evaluate(_CHART_SUMMARY_JS)

    def screenshot(self, path: str | os.PathLike, full_page: bool = True) -> Path:
        """A PNG of the page (the whole page, or only the viewport) written to path; returns it."""
        params: dict = {"format": "png"}
        if full_page:
            metrics = self._call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            # 16384 px is about the largest texture Chromium renders at once; a runaway layout
            # would otherwise make a PNG nobody can look at.
            params.update(captureBeyondViewport=True, clip={
                "x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16384), "scale": 1})
        data = base64.b64decode(self._call("Page.captureScreenshot", params)["data"])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def close(self) -> None:
        """Closes the tab (the browser stays open)."""
        self._browser._call("Target.closeTarget", {"targetId": self._target})
        self._browser._pages.pop(self._session, None)

    def _call(self, method: str, params: dict | None = None) -> dict:
        return self._browser._call(method, params, self._session)

    def _send(self, method: str, params: dict) -> None:
        self._browser._send(method, params, self._session)

    def _on_event(self, method: str, params: dict) -> None:
        handler = _EVENTS.get(method)
        if handler:
            handler(self, params)

    def _on_console(self, params: dict) -> None:
        if params["type"] not in ("error", "assert"):
            return
        text = " ".join(_describe_value(a) for a in params.get("args", []))
        frames = params.get("stackTrace", {}).get("callFrames", [])
        where = f" ({frames[0]['url']}:{frames[0]['lineNumber'] + 1})" if frames else ""
        self.console_errors.append(f"console.{params['type']}: {text}{where}")

    def _on_log(self, params: dict) -> None:
        entry = params["entry"]
        # A network error here repeats a request already in failed_requests.
        if entry["level"] == "error" and entry["source"] != "network":
            where = f" ({entry['url']})" if entry.get("url") else ""
            self.console_errors.append(f"{entry['source']}: {entry['text']}{where}")

    def _on_exception(self, params: dict) -> None:
        self.exceptions.append(_describe_exception(params["exceptionDetails"]))

    def _on_request(self, params: dict) -> None:
        rid, url = params["requestId"], params["request"]["url"]
        self._urls[rid] = url
        if not _is_local(url):
            self._failed.setdefault(rid, FailedRequest(url, "blocked: not a file: URL"))

    def _on_loading_failed(self, params: dict) -> None:
        rid = params["requestId"]
        reason = f" ({params['blockedReason']})" if params.get("blockedReason") else ""
        self._failed[rid] = FailedRequest(self._urls.get(rid, "(unknown URL)"), params["errorText"] + reason)

    def _on_websocket(self, params: dict) -> None:
        self._failed.setdefault("ws:" + params["requestId"], FailedRequest(params["url"], "blocked: a WebSocket"))

    def _on_request_paused(self, params: dict) -> None:
        url, rid = params["request"]["url"], params["requestId"]
        if _is_local(url):
            self._send("Fetch.continueRequest", {"requestId": rid})
            return
        self._send("Fetch.failRequest", {"requestId": rid, "errorReason": "BlockedByClient"})
        # Network.* events name the same request by its network id; the Fetch id is the fallback.
        self._failed.setdefault(params.get("networkId") or "fetch:" + rid,
                                FailedRequest(url, "blocked: not a file: URL"))

    def _on_lifecycle(self, params: dict) -> None:
        if params["name"] == "load":
            self._loaded.add(params["loaderId"])

    def _on_dialog(self, params: dict) -> None:
        # An alert() would block the page, and this driver with it, until someone clicks it.
        self._send("Page.handleJavaScriptDialog", {"accept": False})
        self.console_errors.append(f"a {params['type']}() dialog opened: {params['message']!r}")

    def _on_crash(self, params: dict) -> None:
        raise BrowserError(f"the tab showing {self.url} crashed (out of memory?). "
                           f"Chromium's log ends:\n{self._browser._log_tail()}")


_EVENTS = {
    "Runtime.consoleAPICalled": Page._on_console,
    "Log.entryAdded": Page._on_log,
    "Runtime.exceptionThrown": Page._on_exception,
    "Network.requestWillBeSent": Page._on_request,
    "Network.loadingFailed": Page._on_loading_failed,
    "Network.webSocketCreated": Page._on_websocket,
    "Fetch.requestPaused": Page._on_request_paused,
    "Page.lifecycleEvent": Page._on_lifecycle,
    "Page.javascriptDialogOpening": Page._on_dialog,
    "Inspector.targetCrashed": Page._on_crash,
}


class Browser:
    """A headless Chromium of this process: `with Browser() as b: page = b.open(path)`.

    timeout (seconds) bounds the start and every command; a browser that does not answer in time is
    killed with its children, and BrowserError says what it was waiting for and how its log ends.
    """

    def __init__(self, executable: str | None = None, timeout: float = 30.0):
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError(SKIP_REASON)
        self.timeout = timeout
        self.version = ""
        self._proc: subprocess.Popen | None = None
        self._tmp: str | None = None
        self._log = self._closed_port = None
        self._fds: list[int] = []  # ours: [write commands, read replies]
        self._buffer = bytearray()
        self._next_id = 0
        self._pages: dict[str, Page] = {}  # by session id

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._exit_status() is None

    def start(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="em-chromium-")
        # A bound TCP socket that never listens refuses every connection: the proxy every request
        # would go through, were it to get past Fetch. Held until the browser is closed, so no other
        # program can take the port meanwhile.
        self._closed_port = socket.socket()
        self._closed_port.bind(("127.0.0.1", 0))
        self._log = open(os.path.join(self._tmp, "chromium.log"), "wb")
        cmd_r, cmd_w = os.pipe()
        reply_r, reply_w = os.pipe()
        self._fds = [cmd_w, reply_r]
        # The child's ends moved to fds >= 10, so the shim's dup2 onto 3 and 4 cannot overwrite one
        # with the other.
        child = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, reply_w)]
        for fd in (cmd_r, reply_w):
            os.close(fd)
        try:
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _FD_SHIM, *map(str, child), self.executable, *self._args()],
                    stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                    pass_fds=child, start_new_session=True)  # its own group: killed as one
            finally:
                for fd in child:
                    os.close(fd)  # the browser holds its own copies
            hung = f"Chromium did not start within {self.timeout:g} s"
            self.version = self._call("Browser.getVersion", hung=hung)["product"]
        except BaseException:
            self.close(grace=0)
            raise

    def _args(self) -> list[str]:
        args = [
            "--headless", "--remote-debugging-pipe", f"--user-data-dir={self._tmp}/profile",
            # No first-run dialogs, extensions, updates, sync, metrics or prefetching: nothing that
            # would talk to the network or write to the console on its own.
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-component-update", "--disable-background-networking", "--disable-sync",
            "--disable-default-apps", "--disable-domain-reliability", "--no-pings",
            "--disable-client-side-phishing-detection", "--metrics-recording-only",
            "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
            "--mute-audio", "--hide-scrollbars",
            # Containers often give /dev/shm 64 MiB, too little for a renderer's shared memory.
            "--disable-dev-shm-usage",
            # Network blocked twice over, below Fetch: no name resolves, and every connection,
            # loopback included (Chromium bypasses proxies for it by default), goes to the closed port.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:%d" % self._closed_port.getsockname()[1],
            "--proxy-bypass-list=<-loopback>",
        ]
        if os.geteuid() == 0:
            # Chromium's sandbox refuses to run as root (it relies on dropping to an unprivileged
            # user), and CI containers run as root. The pages are our own files, the network blocked.
            args.append("--no-sandbox")
        return args

    def open(self, path: str | os.PathLike, width: int = 1280, height: int = 900,
             timeout: float | None = None, quiet: float = 0.3) -> Page:
        """Opens a page from disk in a new tab of width x height CSS pixels; returns once its load
        event has fired, its fonts are ready and it has sent nothing for `quiet` seconds. A page
        that does not load within `timeout` seconds (default: the browser's) kills the browser."""
        path = Path(path).resolve()
        if not path.is_file():
            raise BrowserError(f"no page at {path}: build it first")
        if not self.running:
            raise BrowserError("the browser is not running (closed, or killed after an earlier failure)")
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        page = self._new_tab(path.as_uri(), width, height)
        self._load(page, deadline, f"{path} did not finish loading within {timeout:g} s (a script that never ends?)")
        while (message := self._receive(min(time.monotonic() + quiet, deadline))) is not None:
            self._dispatch(message)
        return page

    def _load(self, page: Page, deadline: float, hung: str) -> None:
        """Navigates the tab to its page and waits for the load event and the fonts."""
        def left() -> float:
            return deadline - time.monotonic()

        navigation = self._call("Page.navigate", {"url": page.url}, page._session, timeout=left(), hung=hung)
        if navigation.get("errorText"):
            raise BrowserError(f"Chromium could not open {page.url}: {navigation['errorText']}")
        # The load event of this navigation, not a late one of the blank tab's.
        while navigation["loaderId"] not in page._loaded:
            message = self._receive(deadline)
            if message is None:
                self._fail(hung)
            self._dispatch(message)
        fonts = {"expression": "document.fonts.ready.then(() => true)", "awaitPromise": True}
        self._call("Runtime.evaluate", fonts, page._session, timeout=left(), hung=hung)

    def _new_tab(self, url: str, width: int, height: int) -> Page:
        """A blank tab with every recorder on, before the page is loaded into it."""
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = self._pages[session] = Page(self, session, target, url)
        for method, params in [
            ("Page.enable", {}), ("Page.setLifecycleEventsEnabled", {"enabled": True}),
            ("Runtime.enable", {}), ("Log.enable", {}), ("Network.enable", {}),
            ("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}),
            ("Emulation.setDeviceMetricsOverride",
             {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}),
        ]:
            page._call(method, params)
        return page

    def close(self, grace: float = 5.0) -> None:
        """Closes the browser: asks it to, waits up to `grace` seconds for it to exit, then kills
        what is left of it (renderers and other helpers included)."""
        if self._proc is not None:
            if grace > 0 and self._exit_status() is None:
                try:
                    self._send("Browser.close")
                except (OSError, BrowserError):
                    pass
                self._wait_unreaped(grace)
            self._kill_group()
            self._proc = None
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        for resource in (self._log, self._closed_port):
            if resource is not None:
                resource.close()
        self._log = self._closed_port = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _exit_status(self) -> int | None:
        """The browser's exit status (-N: killed by signal N), None while it runs. Unlike Popen.poll
        it does not reap the process: until close() reaps it, its group id is ours alone."""
        state = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if state is None:
            return None
        return state.si_status if state.si_code == os.CLD_EXITED else -state.si_status

    def _kill_group(self) -> None:
        """Kills what is left of the browser's process group: renderers, or a browser that did not
        close. Before the browser is reaped, so the group id still names our processes only."""
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait()

    def _wait_unreaped(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while self._exit_status() is None and time.monotonic() < end:
            time.sleep(0.05)

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        if not self._fds:
            raise BrowserError(f"cannot send {method}: the browser is closed (or was killed after a failure)")
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._fds[0], data):]
        return self._next_id

    def _call(self, method: str, params: dict | None = None, session: str | None = None,
              timeout: float | None = None, hung: str | None = None) -> dict:
        """Sends a command and returns its result, handling the events that arrive meanwhile. No
        result within timeout seconds kills the browser: BrowserError(hung, or a message naming
        the command)."""
        try:
            sent = self._send(method, params, session)
        except OSError as e:
            self._fail(f"could not send {method} to Chromium ({e.strerror})")
        timeout = self.timeout if timeout is None else max(timeout, 0.0)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message is None:
                self._fail(hung or f"Chromium did not answer {method} within {timeout:g} s")
            if message.get("id") == sent:
                if "error" in message:
                    raise BrowserError(f"Chromium refused {method}: {message['error'].get('message')}")
                return message.get("result", {})
            self._dispatch(message)

    def _receive(self, deadline: float) -> dict | None:
        """The next message from Chromium, or None if none came before the deadline."""
        while (end := self._buffer.find(b"\0")) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._fds[1]], [], [], left)[0]:
                return None
            chunk = os.read(self._fds[1], 1 << 20)
            if not chunk:
                self._wait_unreaped(2.0)  # its pipe closes a moment before its exit status is there
                self._fail("Chromium exited")
            self._buffer += chunk
        message = json.loads(self._buffer[:end])
        del self._buffer[:end + 1]
        return message

    def _dispatch(self, message: dict) -> None:
        page = self._pages.get(message.get("sessionId", ""))
        if page is not None and "method" in message:
            page._on_event(message["method"], message.get("params", {}))

    def _fail(self, what: str) -> NoReturn:
        """Kills the browser and raises BrowserError with what happened and how its log ends."""
        log = self._log_tail()
        status = self._exit_status() if self._proc else None
        self.close(grace=0)  # it has already failed to answer
        how = f"it exited with status {status}" if status is not None else "it was killed"
        raise BrowserError(f"{what}; {how}. Chromium's log ends:\n{log}")

    def _log_tail(self, size: int = 2000) -> str:
        """The end of Chromium's output, less its complaints about D-Bus (absent from containers
        and CI), dozens of lines at every start that would bury the line that matters."""
        if not self._tmp:
            return "(no log)"
        text = Path(self._tmp, "chromium.log").read_text(errors="replace")
        lines = [line for line in text.splitlines() if ":ERROR:dbus/" not in line]
        return "\n".join(lines)[-size:].strip() or "(empty)"
