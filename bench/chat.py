"""The chat surface: the gateway's own overhead on a model turn (targets: p50 <= 2 ms,
p99 <= 10 ms) over ``chat.send`` and over ``/v1/chat/completions``, and idle RSS with
the OpenAI endpoint on and off (target <= 40 MB).

The gateway runs with an OpenAI-compatible provider, ``models.providers.local``
(``api: openai-completions``), whose ``baseUrl`` is the test suite's fake model
server (``tests/fake_models.py``, ``FakeModels``) on loopback, with
``agents.defaults.model: local/test-model`` and
``gateway.http.endpoints.chatCompletions.enabled: true``. The fake runs in a child
process of its own (so it neither shares this process's GIL nor its CPU figure) and
answers every call with ``"echo: " + the message``, streamed word by word at once:
an SSE head chunk (role, empty content), one chunk per word, the finish chunk, a
usage chunk, ``[DONE]``.

How the provider's own time is taken out: the fake records, per call, when it had
read the request head and when it had written the first content piece
(``FakeModels.record_timings``), with :func:`time.perf_counter`, which on Linux is
the system-wide monotonic clock, so its readings compare with this process's. That
is more exact than subtracting medians of separate direct calls: each turn's own
provider time is subtracted from that same turn, and the turn splits into the
gateway's two legs. Per turn:

* ``total`` = request written -> first ``chat`` event with ``state: "delta"`` read
  (the frame's bytes coming off the socket, ``_common.LeanConnection``);
* ``provider`` = the fake's request-head read -> first content piece written;
* ``overhead`` = ``total - provider`` = ``inbound`` (request written -> the fake has
  the provider request: the gateway reads ``chat.send``, starts the run, builds and
  sends the provider request) + ``outbound`` (the fake wrote the piece -> the client
  has the ``chat`` delta: the gateway reads and decodes the SSE, makes the ``agent``
  and ``chat`` events and writes them).

Measured:

* ``--turns`` ``chat.send`` turns one after another on one connection (the only
  one, a ``cli`` operator: it receives each run's ``agent`` and ``chat`` events),
  each on a fresh session (``agent:main:bench-N``), after ``--warmup`` unmeasured
  ones; then ``--session-turns`` turns on one session, whose history grows by two
  messages a turn (all sent to the provider each time). p50/p99 of overhead, total,
  provider, both legs, ``chat.send`` -> its answer and -> the ``chat`` final; gateway
  CPU per turn. Every turn must end with a ``chat`` final whose text is the echo,
  and the fake must have seen exactly one call for it.
* ``--requests`` ``POST /v1/chat/completions`` with ``stream: true``, through the
  gateway (model ``openclaw``, the gateway token; a fresh session each) and, paired
  with each, the same request straight to the fake (model ``test-model``, its key),
  alternating which goes first: time from just before the request is written to when
  the first chunk with non-empty ``choices[0].delta.content`` was read. The gateway
  closes every HTTP connection after its answer, so its requests each open a new
  connection, and the connect is counted (a client cannot avoid it); the direct
  requests reuse one keep-alive connection, as the gateway's own provider pool does
  (``--direct fresh`` opens one per request instead; the fake then also starts a
  thread per connection). Overhead = gateway - direct per pair; p50/p99. The fake's
  timestamps split the gateway requests' time into inbound and outbound legs as
  above. Every response is read to the end (a client that hangs up aborts its run)
  and must carry the echo.
* idle VmRSS after ``--idle`` seconds of a gateway with this config and the
  endpoint enabled, of one with it disabled and, for comparison, of one without any
  config, ``--rss-runs`` starts each, in rotating order (medians); and the measured
  gateway's VmRSS after all the turns. A configured provider makes the gateway import
  httpx at start, and ``import httpx`` also imports httpx's command line (rich,
  pygments, click) when those are installed, as they are with the ``test`` extras:
  the output says whether they are.

Both clients (WebSocket and HTTP) are the same code for every variant they compare,
so their own costs cancel in a difference; they run on the same cores as the
gateway and the fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import statistics
import time
from dataclasses import dataclass
from typing import Any

import h11
import msgspec

from _common import (
    LeanConnection,
    PipedChild,
    Result,
    cpu_seconds,
    gateway,
    memory_mb,
    parse,
    parser,
    progress,
    report,
    rss_mb,
    summary,
)
from harness import GatewayProcess

OVERHEAD_P50_TARGET_MS = 2.0
OVERHEAD_P99_TARGET_MS = 10.0
IDLE_RSS_TARGET_MB = 40.0
API_KEY = "test-key"
MODEL = "test-model"
TURN_TIMEOUT_S = 30.0
decode = msgspec.json.Decoder().decode
encode = msgspec.json.Encoder().encode


def gateway_config(base_url: str, endpoint: bool) -> dict[str, Any]:
    """The provider on the fake, the default model on it, the endpoint on or off."""
    return {
        "gateway": {"http": {"endpoints": {"chatCompletions": {"enabled": endpoint}}}},
        "agents": {"defaults": {"model": f"local/{MODEL}"}},
        "models": {"providers": {"local": {"api": "openai-completions", "baseUrl": base_url,
                                           "apiKey": API_KEY}}},
    }


def ms(samples: list[float]) -> dict[str, float]:
    """:func:`summary` of seconds, in milliseconds."""
    return summary([s * 1000 for s in samples])


# --------------------------------------------------------------------------- the fake


def fake_server(conn: Any) -> None:
    """Child process: a FakeModels recording its timings, driven over the pipe."""
    from fake_models import FakeModels

    fake = FakeModels(api_key=API_KEY).start()
    fake.record_timings()
    conn.send(fake.openai_base_url)
    while True:
        command, *_ = conn.recv()
        if command == "timings":
            conn.send(fake.take_timings())
        elif command == "stop":
            fake.stop()
            conn.send(None)
            return


class FakeProcess(PipedChild):
    """A FakeModels in a child process, driven over a pipe."""

    def __init__(self) -> None:
        """Start the child and wait for its base URL."""
        super().__init__(fake_server)
        self.base_url: str = self.greeting

    def timings(self) -> dict[str, dict[str, Any]]:
        """The calls' timings since the last time asked, by their last message's text."""
        return {entry["last"]: entry for entry in self.call("timings")}


# --------------------------------------------------------------------------- chat.send


@dataclass(eq=False)
class Turn:
    """One ``chat.send`` as the client saw it (perf_counter readings)."""

    key: str
    message: str
    done: asyncio.Future[None]
    sent: float = 0.0
    answered: float | None = None
    status: str | None = None
    first_delta: float | None = None
    final_at: float | None = None
    final_text: str | None = None
    state: str | None = None


class ChatClient:
    """One lean operator connection; ``chat.send`` turns timed to their ``chat`` events."""

    def __init__(self, gw: GatewayProcess) -> None:
        """Describe; :meth:`open` connects."""
        self.gw = gw
        self.conn: LeanConnection | None = None
        self.by_request: dict[str, Turn] = {}
        self.by_run: dict[str, Turn] = {}
        self.problems: list[str] = []
        self.count = 0

    async def open(self) -> None:
        """Connect and complete the handshake."""
        self.conn = await LeanConnection.open(self.gw.url, self.gw.token, self.on_frame)

    async def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            await self.conn.close()

    def on_frame(self, conn: LeanConnection, now: float, data: bytes) -> None:
        """Answers by request id; ``chat`` events by runId."""
        frame = decode(data)
        kind = frame.get("type")
        if kind == "res":
            turn = self.by_request.get(frame.get("id", ""))
            if turn is None:
                return
            turn.answered = now
            if frame.get("ok") is not True:
                turn.done.set_exception(RuntimeError(f"chat.send {turn.key}: {frame!r:.300}"))
            else:
                turn.status = frame["payload"].get("status")
            return
        if kind != "event" or frame.get("event") != "chat":
            return
        payload = frame["payload"]
        turn = self.by_run.get(payload.get("runId", ""))
        if turn is None:
            return
        state = payload.get("state")
        if state == "delta":
            if turn.first_delta is None:
                turn.first_delta = now
            return
        turn.final_at = now
        turn.state = state
        content = (payload.get("message") or {}).get("content") or [{}]
        turn.final_text = content[0].get("text")
        if not turn.done.done():
            turn.done.set_result(None)

    async def turn(self, key: str, session: str, message: str) -> Turn:
        """One ``chat.send``, until its terminal ``chat`` event."""
        assert self.conn is not None
        self.count += 1
        request_id = f"c{self.count}"
        turn = Turn(key, message, asyncio.get_running_loop().create_future())
        self.by_request[request_id] = turn
        self.by_run[key] = turn
        params = {"sessionKey": session, "message": message, "idempotencyKey": key,
                  "deliver": False}
        turn.sent = self.conn.send({"type": "req", "id": request_id, "method": "chat.send",
                                    "params": params})
        try:
            async with asyncio.timeout(TURN_TIMEOUT_S):
                await turn.done
        finally:
            del self.by_request[request_id]
            del self.by_run[key]
        return turn


async def chat_phase(client: ChatClient, fake: FakeProcess, count: int, prefix: str,
                     session: str | None) -> dict[str, Any]:
    """``count`` sequential turns (a fresh session each, or all on ``session``); figures."""
    fake.timings()  # forget earlier calls
    turns: list[Turn] = []
    gw_cpu, fake_cpu = cpu_seconds(client.gw.pid), cpu_seconds(fake.pid)
    started = time.perf_counter()
    for n in range(count):
        key = f"{prefix}-{n}"
        turns.append(await client.turn(key, session or f"agent:main:{key}", f"{key} hi"))
    elapsed = time.perf_counter() - started
    gw_cpu, fake_cpu = cpu_seconds(client.gw.pid) - gw_cpu, cpu_seconds(fake.pid) - fake_cpu
    timings = fake.timings()
    series: dict[str, list[float]] = {name: [] for name in (
        "overhead", "total", "provider", "inbound", "outbound", "answer", "final")}
    for turn in turns:
        seen = timings.get(turn.message)
        expected = f"echo: {turn.message}"
        if turn.state != "final" or turn.final_text != expected:
            client.problems.append(f"{turn.key}: ended {turn.state} with "
                                   f"{turn.final_text!r:.80}, expected {expected!r}")
            continue
        if seen is None or seen["first_piece"] is None or turn.first_delta is None:
            client.problems.append(f"{turn.key}: no provider call or no delta seen")
            continue
        assert turn.answered is not None and turn.final_at is not None
        total = turn.first_delta - turn.sent
        provider = seen["first_piece"] - seen["received"]
        series["total"].append(total)
        series["provider"].append(provider)
        series["overhead"].append(total - provider)
        series["inbound"].append(seen["received"] - turn.sent)
        series["outbound"].append(turn.first_delta - seen["first_piece"])
        series["answer"].append(turn.answered - turn.sent)
        series["final"].append(turn.final_at - turn.sent)
    if len(timings) != count:
        client.problems.append(f"{prefix}: the fake saw {len(timings)} calls for {count} turns")
    data: dict[str, Any] = {name: ms(values) for name, values in series.items() if values}
    data.update({"turns": count, "seconds": elapsed, "rate": count / elapsed,
                 "gatewayCpuUs": gw_cpu * 1e6 / count, "fakeCpuUs": fake_cpu * 1e6 / count})
    return data


# --------------------------------------------------------------------------- HTTP


class HTTPStream:
    """A small HTTP/1.1 client on asyncio streams and h11: one POST, timed to the first
    SSE chunk with text; the same code for the gateway and the fake."""

    def __init__(self, host: str, port: int) -> None:
        """Describe; :meth:`connect` opens the connection."""
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.h11 = h11.Connection(h11.CLIENT)

    async def connect(self) -> None:
        """Open the TCP connection (TCP_NODELAY is asyncio's default)."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.h11 = h11.Connection(h11.CLIENT)

    async def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None

    async def post(self, path: str, body: bytes, token: str) -> tuple[float, str, int]:
        """POST ``body``; return (first text chunk read, at perf_counter; the whole text;
        status). Reads the answer to its end."""
        assert self.reader is not None and self.writer is not None
        if self.h11.our_state is h11.DONE:
            self.h11.start_next_cycle()
        headers = [("host", f"{self.host}:{self.port}"), ("content-type", "application/json"),
                   ("accept", "text/event-stream"), ("authorization", f"Bearer {token}"),
                   ("content-length", str(len(body)))]
        data = self.h11.send(h11.Request(method="POST", target=path, headers=headers))
        data += self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        self.writer.write(data)
        first = 0.0
        status = 0
        text: list[str] = []
        pending = b""
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                chunk = await self.reader.read(65536)
                now = time.perf_counter()
                self.h11.receive_data(chunk)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                pending += event.data
                *events, pending = pending.split(b"\n\n")
                for raw in events:
                    for line in raw.split(b"\n"):
                        if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
                            continue
                        piece = _content(decode(line[5:]))
                        if piece:
                            text.append(piece)
                            if not first:
                                first = now
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return first, "".join(text), status


def _content(chunk: Any) -> str:
    """``choices[0].delta.content`` of a chunk, or ""."""
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not choices:
        return ""
    content = (choices[0].get("delta") or {}).get("content")
    return content if isinstance(content, str) else ""


async def http_phase(gw: GatewayProcess, fake: FakeProcess, count: int, warmup: int,
                     direct_mode: str) -> tuple[dict[str, Any], list[str]]:
    """``count`` pairs of streamed completions, through the gateway and straight to the
    fake, alternating which goes first; figures and problems."""
    host, port = fake.base_url.split("//", 1)[1].split("/", 1)[0].split(":")
    direct = HTTPStream(host, int(port))
    await direct.connect()
    problems: list[str] = []

    async def through_gateway(message: str) -> tuple[float, float, float]:
        """(sent, connected, first text) for one request through the gateway."""
        client = HTTPStream("127.0.0.1", gw.port)
        body = encode({"model": "openclaw", "stream": True,
                       "messages": [{"role": "user", "content": message}]})
        sent = time.perf_counter()
        await client.connect()
        connected = time.perf_counter()
        first, text, status = await client.post("/v1/chat/completions", body, gw.token)
        await client.close()
        if status != 200 or text != f"echo: {message}":
            problems.append(f"gateway {message}: {status} {text!r:.80}")
        return sent, connected, first

    async def straight(message: str) -> tuple[float, float]:
        """(sent, first text) for the same request straight to the fake."""
        body = encode({"model": MODEL, "stream": True,
                       "messages": [{"role": "user", "content": message}]})
        client = direct
        if direct_mode == "fresh":
            client = HTTPStream(direct.host, direct.port)
        sent = time.perf_counter()
        if direct_mode == "fresh":
            await client.connect()
        first, text, status = await client.post("/v1/chat/completions", body, API_KEY)
        if direct_mode == "fresh":
            await client.close()
        if status != 200 or text != f"echo: {message}":
            problems.append(f"direct {message}: {status} {text!r:.80}")
        return sent, first

    for n in range(warmup):
        await through_gateway(f"warm-{n}")
        await straight(f"warm-direct-{n}")
    fake.timings()
    pairs: list[tuple[str, tuple[float, float, float], tuple[float, float]]] = []
    gw_cpu, fake_cpu = cpu_seconds(gw.pid), cpu_seconds(fake.pid)
    started = time.perf_counter()
    for n in range(count):
        message = f"http-{n} hi"
        if n % 2:
            d = await straight(message + " direct")
            g = await through_gateway(message)
        else:
            g = await through_gateway(message)
            d = await straight(message + " direct")
        pairs.append((message, g, d))
    elapsed = time.perf_counter() - started
    gw_cpu, fake_cpu = cpu_seconds(gw.pid) - gw_cpu, cpu_seconds(fake.pid) - fake_cpu
    await direct.close()
    timings = fake.timings()
    series: dict[str, list[float]] = {name: [] for name in (
        "overhead", "gateway", "direct", "connect", "provider", "providerDirect", "inbound",
        "outbound", "overheadFromTimings")}
    for message, (sent, connected, first), (d_sent, d_first) in pairs:
        seen, seen_direct = timings.get(message), timings.get(message + " direct")
        if not first or not d_first or seen is None or seen_direct is None:
            problems.append(f"{message}: no first chunk or no provider call seen")
            continue
        total, straight_total = first - sent, d_first - d_sent
        provider = seen["first_piece"] - seen["received"]
        series["gateway"].append(total)
        series["direct"].append(straight_total)
        series["overhead"].append(total - straight_total)
        series["connect"].append(connected - sent)
        series["provider"].append(provider)
        series["providerDirect"].append(seen_direct["first_piece"] - seen_direct["received"])
        series["inbound"].append(seen["received"] - sent)
        series["outbound"].append(first - seen["first_piece"])
        series["overheadFromTimings"].append(total - provider)
    data: dict[str, Any] = {name: ms(values) for name, values in series.items() if values}
    data.update({"pairs": count, "seconds": elapsed, "direct": direct_mode,
                 "gatewayCpuUs": gw_cpu * 1e6 / count, "fakeCpuUsPerPair": fake_cpu * 1e6 / count,
                 "medianDifference": (statistics.median(series["gateway"])
                                      - statistics.median(series["direct"])) * 1000})
    data["direct"] = ms(series["direct"])
    return data, problems


# --------------------------------------------------------------------------- phases


async def traffic(gw: GatewayProcess, fake: FakeProcess, ns: Any) -> tuple[dict[str, Any],
                                                                           list[str]]:
    """The chat.send phases, then the HTTP phase, on one gateway."""
    client = ChatClient(gw)
    await client.open()
    data: dict[str, Any] = {}
    try:
        progress(f"chat.send: {ns.warmup} warm-up turns")
        await chat_phase(client, fake, ns.warmup, "warm", None)
        progress(f"chat.send: {ns.turns} turns, a fresh session each")
        data["fresh"] = await chat_phase(client, fake, ns.turns, "turn", None)
        if ns.session_turns:
            progress(f"chat.send: {ns.session_turns} turns on one session")
            data["session"] = await chat_phase(client, fake, ns.session_turns, "same",
                                               "agent:main:bench-one")
    finally:
        await client.close()
    progress(f"/v1/chat/completions: {ns.requests} pairs (gateway, direct {ns.direct})")
    data["http"], problems = await http_phase(gw, fake, ns.requests, ns.warmup, ns.direct)
    return data, client.problems + problems


def idle_rss(fake: FakeProcess, runs: int, idle_s: float) -> dict[str, list[dict[str, float]]]:
    """``runs`` starts each with the endpoint enabled, disabled, and without any config
    (for comparison), in rotating order."""
    configs: dict[str, dict[str, Any] | None] = {
        "enabled": gateway_config(fake.base_url, True),
        "disabled": gateway_config(fake.base_url, False),
        "none": None,
    }
    names = list(configs)
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for index in range(runs):
        for name in names[index % 3:] + names[:index % 3]:
            with gateway(config=configs[name]) as gw:
                time.sleep(idle_s)
                figures[name].append(memory_mb(gw.pid))
        progress(f"  start {index + 1}/{runs}: " + ", ".join(
            f"{name} {figures[name][-1]['VmRSS']:.1f} MB" for name in names))
    return figures


def httpx_cli_installed() -> bool:
    """Whether ``import httpx`` also imports its command line (``httpx._main``: rich,
    pygments, click), which it does when those are installed, as in a test environment."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("rich", "pygments", "click"))


def median_of(figures: list[dict[str, float]], key: str) -> float:
    """The median of one memory figure over several starts."""
    return statistics.median(f.get(key, 0.0) for f in figures)


# --------------------------------------------------------------------------- main


def main() -> None:
    """Run the benchmark and print the results."""
    args = parser(__doc__.splitlines()[0])
    args.add_argument("--turns", type=int, default=400,
                      help="chat.send turns, a fresh session each (default 400)")
    args.add_argument("--session-turns", type=int, default=200,
                      help="chat.send turns on one session (default 200; 0 to skip)")
    args.add_argument("--requests", type=int, default=400,
                      help="streamed /v1/chat/completions pairs (default 400)")
    args.add_argument("--direct", choices=("keepalive", "fresh"), default="keepalive",
                      help="direct requests on one keep-alive connection (default) or a "
                      "new one each")
    args.add_argument("--warmup", type=int, default=30, help="unmeasured turns/pairs first")
    args.add_argument("--rss-runs", type=int, default=3,
                      help="idle starts each with the endpoint enabled and disabled")
    args.add_argument("--idle", type=float, default=2.0, help="idle seconds before RSS")
    ns = parse(args, quick={"turns": 20, "session_turns": 10, "requests": 20, "warmup": 3,
                            "rss_runs": 1, "idle": 0.5})
    fake = FakeProcess()
    try:
        progress(f"fake model server pid {fake.pid} at {fake.base_url}")
        with gateway(config=gateway_config(fake.base_url, True)) as gw:
            progress(f"gateway pid {gw.pid} on {gw.url}")
            data, problems = asyncio.run(traffic(gw, fake, ns))
            after_mb = rss_mb(gw.pid)
            if not gw.alive():
                raise SystemExit("the gateway died during the run:\n" + gw.output[-2000:])
        progress(f"idle RSS after {ns.idle:g} s, endpoint enabled, disabled, no config, "
                 f"{ns.rss_runs} starts each")
        rss = idle_rss(fake, ns.rss_runs, ns.idle)
    finally:
        fake.stop()

    fresh, http = data["fresh"], data["http"]
    results = [
        Result("chat_send_overhead_p50_ms",
               f"chat.send -> first chat delta, minus the provider's first-token time, p50 "
               f"(n={ns.turns}, fresh sessions)", fresh["overhead"]["p50"], "ms",
               OVERHEAD_P50_TARGET_MS, fresh),
        Result("chat_send_overhead_p99_ms", "  p99", fresh["overhead"]["p99"], "ms",
               OVERHEAD_P99_TARGET_MS),
        Result("chat_send_inbound_p50_ms",
               "  of which inbound (chat.send written -> provider has the request), p50",
               fresh["inbound"]["p50"], "ms"),
        Result("chat_send_outbound_p50_ms",
               "  of which outbound (provider wrote the piece -> client has the delta), p50",
               fresh["outbound"]["p50"], "ms"),
        Result("chat_send_total_p50_ms", "  chat.send -> first chat delta (total), p50",
               fresh["total"]["p50"], "ms"),
        Result("chat_send_provider_p50_ms", "  provider: request read -> first piece written, p50",
               fresh["provider"]["p50"], "ms"),
        Result("chat_send_answer_p50_ms", "  chat.send -> its answer (started), p50",
               fresh["answer"]["p50"], "ms"),
        Result("chat_send_final_p50_ms", "  chat.send -> chat final, p50",
               fresh["final"]["p50"], "ms"),
        Result("chat_send_rate", "  turns per second", fresh["rate"], "/s"),
        Result("chat_send_gateway_cpu_us", "  gateway CPU per turn", fresh["gatewayCpuUs"],
               "us"),
    ]
    if "session" in data:
        same = data["session"]
        results += [
            Result("chat_session_overhead_p50_ms",
                   f"same, {ns.session_turns} turns on one session (history grows), "
                   "overhead p50", same["overhead"]["p50"], "ms", detail=same),
            Result("chat_session_overhead_p99_ms", "  p99", same["overhead"]["p99"], "ms"),
            Result("chat_session_overhead_max_ms", "  max", same["overhead"]["max"], "ms"),
            Result("chat_session_gateway_cpu_us", "  gateway CPU per turn",
                   same["gatewayCpuUs"], "us"),
        ]
    results += [
        Result("openai_overhead_p50_ms",
               f"/v1/chat/completions stream, first content chunk: gateway - direct "
               f"(paired, {http['direct']['n']} pairs, direct {ns.direct}), p50",
               http["overhead"]["p50"], "ms", OVERHEAD_P50_TARGET_MS, http),
        Result("openai_overhead_p99_ms", "  p99", http["overhead"]["p99"], "ms",
               OVERHEAD_P99_TARGET_MS),
        Result("openai_gateway_p50_ms", "  through the gateway (connect included), p50",
               http["gateway"]["p50"], "ms"),
        Result("openai_direct_p50_ms", "  straight to the provider, p50",
               http["direct"]["p50"], "ms"),
        Result("openai_connect_p50_ms", "  of the gateway's: TCP connect, p50",
               http["connect"]["p50"], "ms"),
        Result("openai_inbound_p50_ms",
               "  of the gateway's: inbound (request -> provider has it), p50",
               http["inbound"]["p50"], "ms"),
        Result("openai_outbound_p50_ms",
               "  of the gateway's: outbound (provider's piece -> client has the chunk), p50",
               http["outbound"]["p50"], "ms"),
        Result("openai_timings_overhead_p50_ms",
               "  gateway total minus that call's provider time, p50",
               http["overheadFromTimings"]["p50"], "ms"),
        Result("openai_timings_overhead_p99_ms", "    p99",
               http["overheadFromTimings"]["p99"], "ms"),
        Result("openai_gateway_cpu_us", "  gateway CPU per request", http["gatewayCpuUs"], "us"),
        Result("rss_endpoint_enabled_mb",
               f"idle VmRSS after {ns.idle:g} s, OpenAI endpoint enabled (median of "
               f"{ns.rss_runs})", median_of(rss["enabled"], "VmRSS"), "MB", IDLE_RSS_TARGET_MB,
               {"starts": rss["enabled"]}),
        Result("rss_endpoint_disabled_mb", "  endpoint disabled",
               median_of(rss["disabled"], "VmRSS"), "MB", IDLE_RSS_TARGET_MB,
               {"starts": rss["disabled"]}),
        Result("rss_no_config_mb", "  for comparison: no config at all (no provider)",
               median_of(rss["none"], "VmRSS"), "MB", detail={
                   "starts": rss["none"], "httpxCliInstalled": httpx_cli_installed()}),
        Result("rss_after_traffic_mb", "  the measured gateway after all the turns",
               after_mb, "MB"),
        Result("chat_problems", "problems found", len(problems), "",
               detail={"problems": problems[:20]}),
    ]
    report("chat", results, ns.json, notes=[
        "provider: tests/fake_models.py FakeModels in a child process, OpenAI "
        "chat-completions SSE, echo reply word by word, no delay",
        "overhead (chat.send) = client's request -> first chat delta minus the fake's own "
        "request -> first piece for that call, both on the system-wide monotonic clock",
        "overhead (HTTP) = gateway request -> first content chunk minus the paired direct "
        "request's, alternating order",
        "a configured provider imports httpx at start; in this environment httpx also "
        "imports its command line (rich, pygments, click): "
        + ("yes" if httpx_cli_installed() else "no"),
    ])
    if problems:
        raise SystemExit(f"{len(problems)} problem(s); first: {problems[0]}")


if __name__ == "__main__":
    main()
