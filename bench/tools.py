"""A tool round trip inside an agent turn: the gateway's overhead (target: p50 <= 5 ms).

A gateway runs under a temporary HOME with an OpenAI-compatible provider on the test
suite's fake model server (``tests/fake_models.py``, in a child process, recording
when each call's request head was read and when its answer was complete, with
:func:`time.perf_counter`, which on Linux is the system-wide monotonic clock). Each
turn is one ``agent`` request; the fake answers its first call with a streamed tool
call (``read`` of a small file made for that turn, the arguments in three
fragments), so the gateway assembles the call, runs the tool, streams the ``tool``
events, stores nothing yet, and calls the model again with the result; the fake's
default answer to that second call ends the turn.

Measured per turn, from the fake's own timestamps: the round trip = the second
call's request read − the first call's answer complete. That is everything the
gateway does between the model asking and the model getting the result: reading the
end of the stream, assembling the call, checking the arguments, running ``read``
(a thread hop and a ~10-byte file read), two ``tool`` events to the one client,
building the next request and writing it, plus the loopback HTTP hop. The tool's own
work is measured beside it, in this process: ``ToolBox.call`` of the same ``read``
on a temporary workspace (median of as many calls); the net overhead is the round
trip's p50 minus that median. Every turn must end ``ok`` with the file's text in the
reply, and the fake must see exactly two calls per turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import PipedChild, Result, gateway, parse, parser, progress, report, summary
from harness import RawClient

TARGET_MS = 5.0
API_KEY = "test-key"


def fake_server(conn: Any) -> None:
    """Child process: a FakeModels recording its timings; ``("tool", path)`` scripts the
    next call to ask for ``read`` of ``path``."""
    from fake_models import FakeModels, ScriptedCall

    fake = FakeModels(api_key=API_KEY).start()
    fake.record_timings()
    conn.send(fake.openai_base_url)
    while True:
        command, *args = conn.recv()
        if command == "tool":
            fake.reply_tool_calls([ScriptedCall("read", {"path": args[0]}, pieces=3)])
            conn.send(None)
        elif command == "timings":
            conn.send(fake.take_timings())
        elif command == "stop":
            fake.stop()
            conn.send(None)
            return


def tool_cost(count: int) -> dict[str, float]:
    """The ``read`` tool's own time, called directly: ms summary over ``count`` calls."""
    from openclaw.agent.providers.base import ToolCall
    from openclaw.agent.tools import ToolBox, ToolContext
    from openclaw.agent.workspace import Workspace, file_tools

    root = Path(tempfile.mkdtemp(prefix="openclaw-bench-ws-"))
    try:
        (root / "note.txt").write_text("turn 0 note")
        box = ToolBox(file_tools(Workspace(root)))

        async def measure() -> list[float]:
            samples = []
            for index in range(count):
                call = ToolCall(f"c{index}", "read", {"path": "note.txt"})
                started = time.perf_counter()
                await box.call(call, ToolContext("r", "main", call.id))
                samples.append((time.perf_counter() - started) * 1000)
            return samples
        return summary(asyncio.run(measure()))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--turns", type=int, default=300, help="turns measured")
    args.add_argument("--warmup", type=int, default=20, help="turns before measuring")
    ns = parse(args, {"turns": 20, "warmup": 3})
    fake = PipedChild(fake_server)
    problems: list[str] = []
    home = Path(tempfile.mkdtemp(prefix="openclaw-bench-"))
    config = {"agents": {"defaults": {"model": "local/test-model"}},
              "models": {"providers": {"local": {"api": "openai-completions",
                                                 "baseUrl": fake.greeting,
                                                 "apiKey": API_KEY}}}}
    trips: list[float] = []
    try:
        with contextlib.ExitStack() as stack:
            gw = stack.enter_context(gateway(config=config, home=home))
            workspace = home / ".openclaw" / "workspace"
            raw = RawClient(gw.url)
            raw.handshake(gw.token)
            total = ns.warmup + ns.turns
            progress(f"tools: {total} turns with one read each")
            for index in range(total):
                name = f"t{index}.txt"
                (workspace / name).write_text(f"turn {index} note")
                fake.call("tool", name)
                key = f"turn-{index}"
                raw.send({"type": "req", "id": key, "method": "agent",
                          "params": {"message": f"turn {index}", "idempotencyKey": key,
                                     "sessionKey": f"bench-{index}"}})
                raw.response(key, 30)
                final = raw.response(key, 30)["payload"]
                raw.events.clear()
                text = final.get("result", {}).get("payloads", [{}])[0].get("text", "")
                if final.get("status") != "ok" or f"turn {index} note" not in text:
                    problems.append(f"{key}: {final!r:.300}")
                timings = {entry["last"]: entry for entry in fake.call("timings")}
                first, second = timings.get(f"turn {index}"), timings.get(f"turn {index} note")
                if len(timings) != 2 or first is None or second is None:
                    problems.append(f"{key}: the fake saw {sorted(timings)}")
                    continue
                if index >= ns.warmup:
                    trips.append((second["received"] - first["end"]) * 1000)
            raw.close()
    finally:
        fake.stop()
        shutil.rmtree(home, ignore_errors=True)
    progress("tools: the read tool on its own")
    own = tool_cost(max(ns.turns, 50))
    trip = summary(trips) if trips else {"p50": float("nan"), "p99": float("nan")}
    net = trip["p50"] - own["p50"]
    results = [
        Result("tool_round_trip_p50_ms", "tool round trip (model asks → model gets the "
               "result), p50", trip["p50"], "ms"),
        Result("tool_round_trip_p99_ms", "    p99", trip["p99"], "ms"),
        Result("tool_read_own_p50_ms", "the read tool's own time, p50", own["p50"], "ms"),
        Result("tool_overhead_p50_ms", "gateway overhead (round trip − tool), p50", net, "ms",
               target=TARGET_MS),
    ]
    report("tools.py", results, ns.json,
           notes=[*problems[:10], f"{len(trips)} turns measured after {ns.warmup} warm-up"])
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
