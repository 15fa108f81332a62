"""The Control UI's speed (targets: chat view painted <= 300 ms after navigation on
loopback; all UI assets <= 150 KB compressed; a streamed delta rendered within one
animation frame).

Against a gateway subprocess whose default model is the test suite's OpenAI-compatible
fake (``tests/fake_models.py``, in this process), driven by Debian's Chromium under
Playwright (headless, the test suite's flags):

* **Assets**: every file the gateway serves from ``openclaw/ui`` is fetched with
  ``Accept-Encoding: gzip``; the sum of the bytes on the wire (gzip where the gateway
  compresses, else the file) against the target, and the uncompressed sum beside it.
* **First paint**: ``--loads`` page loads, each in a fresh browser context (no cache,
  no storage), of ``/#token=…``. From the page's Performance API, relative to the
  navigation's start: ``first-contentful-paint`` (the shell), the mark
  ``openclaw:chat-ready`` (the transcript is in the DOM, after connect and
  ``chat.startup``) and ``openclaw:chat-painted`` (a requestAnimationFrame callback
  queued then: the start of the frame that paints the transcript; the figure held to
  the target).
* **Streamed reply**: ``--replies`` messages sent from the page; the fake streams each
  reply in ``--pieces`` pieces ``--piece-ms`` apart, so each piece is one ``chat``
  delta. The chat view records, for each render, ``performance.now()`` when the oldest
  delta it shows arrived (in the event handler) and when the render that put it in the
  DOM finished (inside the requestAnimationFrame callback, before that frame's paint).
  The page also logs the start of every animation frame. A render is late when a frame
  started after its delta arrived and before the frame that rendered it; the target is
  none late. The delay itself (at most a frame by design: deltas wait for the next
  frame and are rendered together) and the render's own time are shown beside it.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx

from _common import Result, gateway, parse, parser, progress, report, summary
from browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from fake_models import FakeModels
from openclaw.gateway.ui_static import _TYPES, UI_DIR

PAINT_TARGET_MS = 300.0
ASSETS_TARGET_KB = 150.0

#: Before the page's own scripts: the chat view's timing log, and every frame's start.
FRAME_LOG = """
window.openclawChatTimings = [];
window.benchFrames = [];
const tick = (t) => { window.benchFrames.push(t); requestAnimationFrame(tick); };
requestAnimationFrame(tick);
"""

FIRST_PAINT = """async () => {
  const wait = (name) => new Promise((resolve) => {
    const look = () => {
      const found = performance.getEntriesByName(name)[0];
      if (found) resolve(found.startTime); else setTimeout(look, 5);
    };
    look();
  });
  const painted = await wait("openclaw:chat-painted");
  return {fcp: await wait("first-contentful-paint"), ready: await wait("openclaw:chat-ready"),
          painted};
}"""


def asset_sizes(port: int) -> dict[str, Any]:
    """Bytes on the wire and uncompressed for every servable UI file."""
    files = sorted(p for p in UI_DIR.rglob("*") if p.is_file() and p.suffix in _TYPES
                   and not p.name.startswith("."))
    wire = raw = 0
    per_file = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for path in files:
            url = "/" + path.relative_to(UI_DIR).as_posix()
            # httpx would decode the body: ask for the raw stream to count wire bytes
            with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as answer:
                answer.raise_for_status()
                body = b"".join(answer.iter_raw())
                if answer.headers.get("content-encoding") == "gzip":
                    size = len(gzip.decompress(body))
                else:
                    size = len(body)
            wire += len(body)
            raw += size
            per_file[url] = len(body)
    return {"wire": wire, "raw": raw, "files": per_file}


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--loads", type=int, default=20, help="page loads (default 20)")
    args.add_argument("--replies", type=int, default=5, help="streamed replies (default 5)")
    args.add_argument("--pieces", type=int, default=40, help="deltas per reply (default 40)")
    args.add_argument("--piece-ms", type=float, default=10.0,
                      help="time between streamed pieces (default 10)")
    ns = parse(args, quick={"loads": 3, "replies": 1, "pieces": 10})
    missing = chromium_missing()
    if missing:
        raise SystemExit(missing)
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="openclaw-bench-ui-"))
    try:
        with FakeModels(api_key="bench-key") as models:
            config = {"agents": {"defaults": {"model": "local/bench-model"}},
                      "models": {"providers": {"local": {
                          "api": "openai-completions", "baseUrl": models.openai_base_url,
                          "apiKey": "bench-key"}}}}
            with gateway(config=config, home=home) as gw, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                     args=CHROMIUM_ARGS)
                progress("asset sizes")
                assets = asset_sizes(gw.port)
                url = f"http://127.0.0.1:{gw.port}/#token={gw.token}"
                loads: list[dict[str, float]] = []
                progress(f"{ns.loads} cold page loads")
                for _ in range(ns.loads):
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(url)
                    loads.append(page.evaluate(FIRST_PAINT))
                    context.close()
                progress(f"{ns.replies} streamed replies of {ns.pieces} deltas")
                context = browser.new_context()
                page = context.new_page()
                page.add_init_script(FRAME_LOG)
                page.goto(url)
                page.evaluate(FIRST_PAINT)  # the chat view is up
                models.delay_pieces(ns.piece_ms / 1000)
                deltas = 0
                for n in range(ns.replies):
                    text = " ".join(f"w{n}-{i}" for i in range(ns.pieces))
                    words = text.split(" ")
                    models.reply(text, pieces=[w if i == 0 else " " + w
                                               for i, w in enumerate(words)])
                    page.get_by_label("Message", exact=True).fill(f"reply {n}")
                    page.keyboard.press("Enter")
                    page.locator(".msg.assistant:not(.streaming)").nth(n).wait_for()
                    deltas += ns.pieces
                timings = page.evaluate("window.openclawChatTimings")
                frames = page.evaluate("window.benchFrames")
                context.close()
                browser.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    painted = summary([load["painted"] for load in loads])
    ready = summary([load["ready"] for load in loads])
    fcp = summary([load["fcp"] for load in loads])
    latency = summary([t["renderedAt"] - t["receivedAt"] for t in timings])
    work = summary([t["renderedAt"] - max(t["frameAt"], t["receivedAt"]) for t in timings])
    # a frame that started after the delta arrived but before the frame that rendered it
    late = sum(1 for t in timings
               if any(t["receivedAt"] < f < t["frameAt"] for f in frames))
    results = [
        Result("ui_chat_painted_ms", f"chat view painted after navigation, median of {ns.loads}",
               painted["median"], "ms", PAINT_TARGET_MS, {"painted": painted}),
        Result("ui_chat_painted_p90_ms", "  same, p90", painted["p90"], "ms"),
        Result("ui_chat_ready_ms", "  transcript in the DOM, median", ready["median"], "ms",
               detail={"ready": ready}),
        Result("ui_fcp_ms", "  first contentful paint (the shell), median", fcp["median"],
               "ms", detail={"fcp": fcp}),
        Result("ui_assets_kb", "UI assets on the wire (gzip where served so)",
               assets["wire"] / 1024, "KB", ASSETS_TARGET_KB, {"files": assets["files"]}),
        Result("ui_assets_raw_kb", "  same, uncompressed", assets["raw"] / 1024, "KB"),
        Result("ui_delta_late_renders",
               f"renders later than the first frame after their delta, of {len(timings)} "
               f"({deltas} deltas)", late, "", 0, {"frames": len(frames)}),
        Result("ui_delta_render_p50_ms", "  chat delta -> rendered, p50", latency["median"],
               "ms", detail={"latency": latency}),
        Result("ui_delta_render_max_ms", "  same, worst (a frame is 16.7 ms)", latency["max"],
               "ms"),
        Result("ui_render_work_p99_ms", "  the render's own time, p99", work["p99"], "ms",
               detail={"work": work}),
    ]
    report("ui", results, ns.json, notes=[
        "Chromium headless, loopback; each page load in a fresh context (cold cache)",
        "render latency: performance.now() in the chat event handler -> end of the "
        "requestAnimationFrame render, which precedes that frame's paint",
    ], extra={"raw": json.loads(json.dumps({"loads": loads}))} if ns.json else None)


if __name__ == "__main__":
    main()
