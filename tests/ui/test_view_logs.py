"""The logs view against a real gateway process: live tail across size rotation and a
gateway restart, level filter, search, pause/resume; and a bounded page with 10,000
lines (JS heap measured through the DevTools protocol)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from harness import GatewayProcess
from inprocess import InProcessGateway
from openclaw.client.sync import GatewayClient
from ui.conftest import open_own_ui
from ui.viewkit import page_errors

#: small files, so a few dozen connections rotate the log several times
CONFIG = {"logging": {"maxFileBytes": 4000, "level": "debug"}}
HEAP_LIMIT = 150 * 1024 * 1024


def connect_once(gateway: GatewayProcess) -> str:
    """One short connection; with --verbose the gateway logs "client connected" and
    "client disconnected" with its connId, which this returns."""
    with GatewayClient(gateway.url, token=gateway.token) as client:
        return str(client.hello["server"]["connId"])


def lines_with(page: Any, text: str) -> Any:
    return page.locator("#log-lines [data-level]", has_text=text)


def test_logs_follow_rotation_and_a_restart(
        page: Any, make_gateway: Callable[..., GatewayProcess], tmp_path: Path,
        screenshot: Callable[[Any, str], Path]) -> None:
    home = tmp_path / "logs-home"
    home.mkdir()
    gateway = make_gateway("--verbose", config=CONFIG, home=home)
    errors = page_errors(page)
    open_own_ui(page, gateway, "logs")
    expect(page.locator("h1")).to_have_text("Logs")
    expect(page.locator("#log-file")).to_contain_text("openclaw-")
    first = connect_once(gateway)
    expect(lines_with(page, first)).to_have_count(2)

    # ~40 records of ~200 bytes: the 4000-byte file rotates several times meanwhile
    ids = [connect_once(gateway) for _ in range(20)]
    assert len(list(gateway.log_dir.glob("openclaw-*.1.log"))) == 1
    for conn_id in ids:  # every line arrives once: none lost in rotation, none repeated
        expect(lines_with(page, conn_id)).to_have_count(2)
    expect(page.locator("#log-lines [data-notice]", has_text="rotated")).not_to_have_count(0)

    # level filter and search act on what is shown
    page.select_option("#log-level", "warn")
    expect(lines_with(page, first).first).to_be_hidden()
    page.select_option("#log-level", "trace")
    page.fill("#log-search", ids[3])
    expect(page.locator("#log-lines [data-level]:visible")).to_have_count(2)
    expect(page.locator("#log-count")).to_contain_text("2 of")
    page.fill("#log-search", "")

    # pause: nothing is added; resume: reading goes on from where it stopped
    page.click("#log-pause")
    expect(page.locator("#log-pause")).to_have_attribute("aria-pressed", "true")
    while_paused = connect_once(gateway)
    page.wait_for_timeout(2500)  # two poll intervals in which nothing may arrive
    expect(lines_with(page, while_paused)).to_have_count(0)
    page.click("#log-pause")
    expect(lines_with(page, while_paused)).to_have_count(2)

    # a gateway restart on the same port: the page reconnects and carries on
    port = gateway.port
    gateway.stop()
    expect(page.locator("#connection")).not_to_have_text("Connected")
    again = make_gateway("--verbose", home=home, port=port)
    expect(page.locator("#connection")).to_have_text("Connected", timeout=30_000)
    expect(page.locator("#log-lines [data-notice]", has_text="reconnected")).to_have_count(1)
    after = connect_once(again)
    expect(lines_with(page, after)).to_have_count(2)
    for conn_id in [first, *ids, while_paused]:
        expect(lines_with(page, conn_id)).to_have_count(2)  # nothing repeated
    screenshot(page, "logs")
    assert errors == []


def test_ten_thousand_lines_keep_the_tab_small(page: Any, own_ui: InProcessGateway) -> None:
    open_own_ui(page, own_ui, "logs")
    expect(page.locator("#log-count")).to_contain_text("lines shown")
    assert own_ui.app is not None
    file_log = own_ui.app.file_log
    before = renderer_pss()

    async def write(start: int) -> None:
        for n in range(start, start + 1000):
            file_log.write_line(json.dumps({
                "time": "2026-12-08T00:00:00.000Z", "level": "info", "subsystem": "bench",
                "message": f"line {n:05d} " + "x" * 120, "pid": 1, "n": n}))
    for start in range(0, 10_000, 1000):  # a busy log: 1,000 lines at a time
        own_ui.run(write(start))
        expect(lines_with(page, f"line {start + 999:05d}")).to_have_count(1, timeout=30_000)
    expect(page.locator("#log-lines [data-notice]", has_text="skipped")).to_have_count(0)
    expect(lines_with(page, "line 04999 ")).to_have_count(0)  # the oldest were dropped
    assert page.locator("#log-lines > *").count() <= 5000
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    heap = metrics["JSHeapUsedSize"]
    renderer = renderer_pss()
    print(f"logs view, 10,000 lines followed: JS heap {heap / 2**20:.1f} MB, "
          f"{metrics.get('Nodes', 0):.0f} DOM nodes, renderer PSS {renderer / 2**20:.1f} MB "
          f"(before the lines: {before / 2**20:.1f} MB)")
    assert heap < HEAP_LIMIT
    assert renderer < HEAP_LIMIT


def renderer_pss() -> int:
    """The largest proportional set size (private memory plus its share of shared
    pages) among the renderer processes of this test run's Chromium, read from /proc;
    0 where /proc does not say. Only descendants of this process count, so other
    browsers on the machine do not."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
                parents[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    ours = {os.getpid()}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                changed = True
    largest = 0
    for pid in ours:
        try:
            if b"--type=renderer" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    largest = max(largest, int(line.split()[1]) * 1024)
        except (OSError, ValueError):
            continue
    return largest
