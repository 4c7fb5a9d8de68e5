"""Headless Chromium driven over the DevTools protocol, for tests, benchmarks and screenshots.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol commands from file
descriptor 3 and writes replies and events to descriptor 4, each message a JSON object ended
by a NUL byte. That needs nothing but the standard library (no websocket client, no
Playwright download) and no port, so nothing listens on the network.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """Chromium could not be started, or a protocol command failed."""


def find_chromium() -> str | None:
    """The Chromium executable: $HARNESS_CHROMIUM, else the first of CANDIDATES on PATH."""
    explicit = os.environ.get("HARNESS_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_version(executable: str) -> str:
    out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


class Browser:
    """One headless Chromium process with one page; use as a context manager.

    ``width`` × ``height`` is the window (CSS pixels). ``evaluate`` runs an expression in the
    page and returns its JSON value; exceptions in the page raise :class:`BrowserError`.
    """

    def __init__(self, executable: str | None = None, width: int = 1400, height: int = 900) -> None:
        exe = executable or find_chromium()
        if not exe:
            raise BrowserError("no Chromium found (apt-get install -y chromium)")
        self._profile = tempfile.mkdtemp(prefix="harness-chromium-")
        # Our ends: we write commands to `to_child`, read replies from `from_child`.
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        args = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]

        def wire_fds() -> None:
            # In the child: the pipe ends become fds 3 and 4 (copied high first, in case one
            # of them already is 3 or 4).
            high_in = fcntl.fcntl(child_in, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(child_out, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds,
            pass_fds=(3, 4),  # kept open through exec; everything else is closed
        )
        os.close(child_in)
        os.close(child_out)
        self._out = os.fdopen(to_child, "wb", buffering=0)
        self._in = os.fdopen(from_child, "rb", buffering=0)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.width, self.height = width, height
        self._session = self._open_page()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self._send("Browser.close", session=False, wait=False)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for handle in (self._out, self._in):
            handle.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol -------------------------------------------------------------------------

    def _open_page(self) -> str:
        target = self._send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self._send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self._session_id = attached["sessionId"]
        for domain in ("Page", "Runtime"):
            self._send(f"{domain}.enable")
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        return str(self._session_id)

    def _send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = True,
        wait: bool = True,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session_id
        self._out.write(json.dumps(message).encode() + b"\0")
        if not wait:
            return {}
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self.events.append(reply)

    def _read(self, deadline: float, method: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError(f"no reply to {method} in time")
            chunk = self._in.read(1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium exited (waiting for {method})")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(raw))

    # -- page -----------------------------------------------------------------------------

    def goto(self, url: str, timeout: float = 60.0) -> float:
        """Load ``url`` and wait for its load event; returns the seconds it took."""
        self.events.clear()
        started = time.perf_counter()
        self._send("Page.navigate", {"url": url})
        self.wait_for_event("Page.loadEventFired", timeout)
        return time.perf_counter() - started

    def wait_for_event(self, method: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return dict(self.events.pop(i))
            self.events.append(self._read(deadline, method))

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        result = self._send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"in page: {text}")
        return result.get("result", {}).get("value")

    def console_errors(self) -> list[str]:
        """Exceptions thrown in the page since the last ``goto`` (uncaught ones)."""
        return [
            str(e["params"]["exceptionDetails"].get("exception", {}).get("description", ""))
            for e in self.events
            if e.get("method") == "Runtime.exceptionThrown"
        ]

    def screenshot(
        self,
        path: Path,
        full_page: bool = False,
        clip_height: int | None = None,
        scale: float = 1.0,
    ) -> Path:
        """A PNG of the viewport, or of the whole page, or of its first ``clip_height`` CSS
        pixels; ``scale`` < 1 makes the picture smaller (device pixels per CSS pixel)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": False}
        top, height = float(self.evaluate("window.scrollY")), self.height  # the viewport
        if full_page or clip_height:
            top, height = 0.0, int(self.evaluate("document.documentElement.scrollHeight"))
            height = min(height, clip_height) if clip_height else height
            params["captureBeyondViewport"] = True
        # The clip is in page coordinates.
        params["clip"] = {"x": 0, "y": top, "width": self.width, "height": height, "scale": scale}
        data = self._send("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def run_args(args: Sequence[str]) -> list[str]:
    """The headless flags this module uses, for one-off ``--screenshot``/``--dump-dom`` calls."""
    return ["--headless", "--no-sandbox", "--disable-gpu", *args]
