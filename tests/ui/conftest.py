"""Fixtures for browser tests: Chromium via Playwright, OpenClaw's Control UI, a gateway.

- ``browser`` (session): Debian's Chromium, headless; skipped with a one-line reason
  only where it is not installed.
- ``page``: a fresh browser context and page per test (no storage carried over).
- ``control_ui`` (session): OpenClaw's ``dist/control-ui`` directory, fetched with npm
  into a cache once; skipped only where npm is not installed.
- ``control_ui_server`` (session): that directory served from a loopback port.
- ``ui_gateway``: a started in-process gateway on a free port (``.port``, ``.token``,
  ``.app``).
- ``gateway_frames``: every WebSocket frame the page sends and receives.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    GatewayFrames,
    StaticServer,
    chromium_missing,
    fetch_openclaw_package,
)
from fake_models import FakeModels
from inprocess import InProcessGateway


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Chromium (``/usr/bin/chromium``) under Playwright's sync API."""
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh context: no cookies or local storage from other tests."""
    context = browser.new_context()
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def gateway_frames(page: Any) -> GatewayFrames:
    """Records the page's WebSocket frames from now on."""
    return GatewayFrames(page)


@pytest.fixture(scope="session")
def control_ui() -> Path:
    """OpenClaw's built Control UI (static files)."""
    try:
        package = fetch_openclaw_package()
    except FileNotFoundError:
        pytest.skip("npm is not installed; it fetches OpenClaw's Control UI for the UI tests")
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise RuntimeError(f"npm pack of OpenClaw's package failed: {stderr[-500:]}") from exc
    return package / "dist" / "control-ui"


@pytest.fixture(scope="session")
def control_ui_server(control_ui: Path) -> Iterator[StaticServer]:
    """The Control UI served from ``http://127.0.0.1:PORT``."""
    with StaticServer(control_ui) as server:
        yield server


@pytest.fixture
def ui_gateway(tmp_path: Path) -> Iterator[InProcessGateway]:
    """A gateway on the built-in defaults, in-process on a free port."""
    home = tmp_path / "home"
    home.mkdir()
    gateway = InProcessGateway(home).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def own_ui(ui_gateway: InProcessGateway) -> InProcessGateway:
    """A gateway serving this project's own Control UI (the same in-process gateway)."""
    return ui_gateway


@pytest.fixture
def models() -> Iterator[FakeModels]:
    """The OpenAI-compatible fake model server."""
    with FakeModels(api_key="test-key") as fake:
        yield fake


@pytest.fixture
def chat_gateway(tmp_path: Path, models: FakeModels) -> Iterator[InProcessGateway]:
    """A gateway serving the UI whose default model streams from the fake (``local``)."""
    home = tmp_path / "chat-home"
    home.mkdir()
    config = {"agents": {"defaults": {"model": "local/test-model"}},
              "models": {"providers": {"local": {"api": "openai-completions",
                                                 "baseUrl": models.openai_base_url,
                                                 "apiKey": "test-key"}}}}
    gateway = InProcessGateway(home, config=config).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """``screenshot(page, "chat")`` saves a PNG of the page: always under the test's tmp
    dir, and also into ``$OPENCLAW_UI_SCREENSHOTS`` when set (the docs' images are
    regenerated with ``OPENCLAW_UI_SCREENSHOTS=docs/images/control-ui python -m pytest
    tests/ui``)."""
    def take(page: Any, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path))
        target = os.environ.get("OPENCLAW_UI_SCREENSHOTS")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(target) / f"{name}.png"))
        return path

    return take


def open_own_ui(page: Any, gateway: InProcessGateway, view: str = "chat") -> None:
    """Open the gateway's own UI with its token in the fragment and wait until connected."""
    from playwright.sync_api import expect

    page.goto(f"http://127.0.0.1:{gateway.port}/#token={gateway.token}")
    expect(page.locator("#connection")).to_have_text("Connected")
    if view != "chat":
        page.goto(f"http://127.0.0.1:{gateway.port}/#/{view}")
