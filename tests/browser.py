"""A small headless-Chromium driver for the HTML view's tests and screenshots.

It speaks the Chrome DevTools Protocol over ``--remote-debugging-pipe``: Chromium reads
commands from its fd 3 and writes replies and events to its fd 4, each message one JSON
object followed by a NUL byte. Standard library only (no websocket client, no browser
download): the browser is the system's ``chromium``.

Example::

    with Browser() as b:
        page = b.open("file:///tmp/graph.html")
        page.evaluate("document.title")
        page.screenshot("/tmp/graph.png")
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


def find_chromium() -> str | None:
    """The path of a Chromium-like browser on PATH (or ``$SYMGRAPH_CHROMIUM``), or None."""
    explicit = os.environ.get("SYMGRAPH_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _high_fd(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class CDPError(RuntimeError):
    """A DevTools command failed, or the browser went away."""


class Browser:
    """One headless Chromium process driven over the DevTools pipe.

    Args:
        executable: the browser (default: :func:`find_chromium`).
        timeout: seconds to wait for any one reply.
    """

    def __init__(self, executable: str | None = None, timeout: float = 60.0):
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise CDPError("no chromium on PATH")
        self.timeout = timeout
        self._next_id = 0
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: list[dict] = []  # every event received, in order
        self._event_cv = threading.Condition()
        self._profile = tempfile.mkdtemp(prefix="symgraph-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the child's ends go to fds >= 10, so that moving them to 3 and 4 cannot
        # overwrite one another
        to_browser_r, from_browser_w = (_high_fd(fd) for fd in (to_browser_r, from_browser_w))
        # the browser must find the pipes at fds 3 and 4: bash moves them there
        # (subprocess keeps inherited fds at their own numbers; dash takes only fds < 10)
        script = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} ' \
                 f'{to_browser_r}<&- {from_browser_w}>&-'
        args = [shutil.which("bash") or "/bin/bash", "-c", script, "bash", self.executable, *FLAGS,
                "--remote-debugging-pipe", f"--user-data-dir={self._profile}", "about:blank"]
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, pass_fds=(to_browser_r, from_browser_w))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- the pipe ---------------------------------------------------------------------------
    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        box = self._replies.get(message["id"])
                    if box is not None:
                        box.put(message)
                else:
                    with self._event_cv:
                        self.events.append(message)
                        self._event_cv.notify_all()
        with self._lock:  # the browser exited: wake every waiting command
            for box in self._replies.values():
                box.put({"error": {"message": "the browser closed the pipe"}})

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Run one DevTools command and return its ``result`` (raises :class:`CDPError`)."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            box: queue.Queue = queue.Queue()
            self._replies[ident] = box
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
            reply = box.get(timeout=timeout or self.timeout)
        except (OSError, queue.Empty) as exc:
            raise CDPError(f"{method}: no reply ({exc!r}); browser log:\n{self.log()}") \
                from None
        finally:
            with self._lock:
                self._replies.pop(ident, None)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: str | None = None, after: int = 0,
                   timeout: float | None = None) -> dict:
        """The first event ``method`` (of ``session``) at index >= ``after`` in
        :attr:`events`, waiting for it."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._event_cv:
            while True:
                for event in self.events[after:]:
                    if event.get("method") == method and (
                            session is None or event.get("sessionId") == session):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CDPError(f"no {method} event within the timeout")
                self._event_cv.wait(left)

    def log(self) -> str:
        """What the browser printed (stdout and stderr)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    # -- pages ------------------------------------------------------------------------------
    def open(self, url: str, width: int = 1400, height: int = 900) -> Page:
        """A new tab showing ``url``, loaded (the load event fired)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable", session=session)
        page.resize(width, height)
        page.navigate(url)
        return page

    def close(self) -> None:
        """Close the browser (asking first, then killing it) and remove its profile."""
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", timeout=5)
            except CDPError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Page:
    """One tab: evaluate JavaScript, click, type, take screenshots, read its errors."""

    def __init__(self, browser: Browser, session: str):
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, session=self.session)

    def navigate(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        mark = len(self.browser.events)
        self.send("Page.navigate", {"url": url})
        self.browser.wait_event("Page.loadEventFired", self.session, after=mark)

    def resize(self, width: int, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (promises awaited; must be JSON data)."""
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"JavaScript error: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0):
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"timed out waiting for: {expression}")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the middle of the first element
        matching the CSS ``selector``."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        if box is None:
            raise CDPError(f"nothing matches {selector!r}")
        self.click_at(*box)

    def click_at(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                   "button": "left" if kind != "mouseMoved"
                                                   else "none", "clickCount": 1})

    def type_text(self, selector: str, text: str) -> None:
        """Focus the element and type ``text`` as key presses."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text})

    def press(self, key: str, code: int) -> None:
        """Press and release one key (``key`` its DOM name, ``code`` its key code)."""
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key,
                                                 "windowsVirtualKeyCode": code,
                                                 "nativeVirtualKeyCode": code})

    def screenshot(self, path: str) -> str:
        """Save what the tab shows as a PNG; returns ``path``."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error log entries of this
        tab so far."""
        out = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                out.append("exception: " + (details.get("exception", {}).get("description")
                                            or details.get("text", "")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                    "error", "warning", "assert"):
                args = " ".join(str(a.get("value", a.get("description", "")))
                                for a in params.get("args", []))
                out.append(f"console.{params['type']}: {args}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in (
                    "error", "warning"):
                entry = params["entry"]
                out.append(f"log {entry['level']}: {entry.get('text')} {entry.get('url', '')}")
        return out
