"""A real browser and OpenClaw's own Control UI, for UI tests.

- Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run`` with apt),
  driven by Playwright from PyPI; Playwright's own browser download is never used.
- OpenClaw's Control UI is a test fixture like Chromium: ``npm pack openclaw@VERSION``
  fetches it once into a cache outside the repo (``~/.cache/openclaw-test-fixtures``,
  or ``$OPENCLAW_TEST_CACHE``), and only ``dist/control-ui`` and ``docs`` are kept.
- :class:`StaticServer` serves those files from a loopback port, as a user's web server
  would, so the page's origin is not the gateway's.

Skip reasons are one line and only for what a machine may lack: Chromium (``.ci/run``
installs it) or npm.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "OPENCLAW_VERSION",
    "GatewayFrames",
    "StaticServer",
    "chromium_missing",
    "confirm_gateway_switch",
    "control_ui_url",
    "fetch_openclaw_package",
]

CHROMIUM = Path("/usr/bin/chromium")
#: Flags that keep Chromium off the (closed) network and out of first-run work.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: The OpenClaw release whose Control UI the tests run against.
OPENCLAW_VERSION = "2026.9.6"
_KEEP = ("package/dist/control-ui/", "package/docs/")


def chromium_missing() -> str | None:
    """A one-line skip reason when Chromium is not installed, else None."""
    if CHROMIUM.exists():
        return None
    return f"Chromium is not installed at {CHROMIUM} (.ci/run installs it with apt)"


def cache_dir() -> Path:
    """Where fetched fixtures live, reused across runs."""
    configured = os.environ.get("OPENCLAW_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "openclaw-test-fixtures"


def fetch_openclaw_package(version: str = OPENCLAW_VERSION) -> Path:
    """OpenClaw's unpacked package (``dist/control-ui`` and ``docs`` only), fetched once.

    Returns the ``package`` directory. Raises ``FileNotFoundError`` when npm is not
    installed and ``subprocess.CalledProcessError`` when ``npm pack`` fails.
    """
    target = cache_dir() / f"openclaw-{version}"
    package = target / "package"
    if (package / "dist" / "control-ui" / "index.html").exists():
        return package
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        subprocess.run([npm, "pack", f"openclaw@{version}", "--silent"], cwd=scratch,
                       check=True, capture_output=True, timeout=600)
        [tarball] = Path(scratch).glob("openclaw-*.tgz")
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(tarball) as archive:
            members = [m for m in archive if m.name.startswith(_KEEP) and (m.isfile() or m.isdir())]
            archive.extractall(unpacked, members=members, filter="data")
        if target.exists():  # a partial earlier attempt
            shutil.rmtree(target)
        (unpacked).rename(target)  # atomic: a reader sees all of it or nothing
    return package


class StaticServer:
    """Serve a directory over HTTP on ``127.0.0.1`` (a free port) from a thread."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``, the page origin the browser will send."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StaticServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def control_ui_url(ui: StaticServer, gateway_port: int, token: str) -> str:
    """The link ``openclaw dashboard`` would print: the UI, told where the gateway is."""
    gateway = quote(f"ws://127.0.0.1:{gateway_port}", safe="")
    return f"{ui.origin}/?gatewayUrl={gateway}#token={token}"


def confirm_gateway_switch(page: Any, gateway_port: int, timeout_ms: float = 30_000) -> None:
    """Accept the UI's "Switch to a different Gateway?" prompt for ``gatewayUrl``.

    The UI asks before it connects anywhere but its own origin; the button names the
    target (``Switch to 127.0.0.1:PORT``). ``page`` is a Playwright sync ``Page``.
    """
    page.get_by_role("button", name=f"Switch to 127.0.0.1:{gateway_port}").click(
        timeout=timeout_ms)


class GatewayFrames:
    """Every WebSocket frame a page sends and receives, parsed, in order.

    Attach before the page connects (``GatewayFrames(page)``). Frames are recorded by
    Playwright's ``websocket`` events, which arrive as the network sees them, so by the
    time the page shows something a frame caused, that frame is recorded.
    """

    def __init__(self, page: Any) -> None:
        self.frames: list[tuple[str, str, Any]] = []  #: (url, "sent"|"received", JSON)
        page.on("websocket", self._attach)

    def _attach(self, ws: Any) -> None:
        url = ws.url
        ws.on("framesent", lambda payload: self._add(url, "sent", payload))
        ws.on("framereceived", lambda payload: self._add(url, "received", payload))

    def _add(self, url: str, direction: str, payload: str | bytes) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            frame = payload
        self.frames.append((url, direction, frame))

    def requests(self, port: int | None = None) -> list[dict[str, Any]]:
        """The ``req`` frames the page sent (to ``port`` only, when given), in order."""
        return [frame for url, direction, frame in self.frames
                if direction == "sent" and isinstance(frame, dict) and frame.get("type") == "req"
                and (port is None or f":{port}" in url)]

    def responses(self, port: int | None = None) -> dict[str, dict[str, Any]]:
        """The ``res`` frames the page received, by request id."""
        return {frame["id"]: frame for url, direction, frame in self.frames
                if direction == "received" and isinstance(frame, dict)
                and frame.get("type") == "res" and (port is None or f":{port}" in url)}
