"""The chaos run: ``kill -9`` the gateway under load, again and again, and check that
nothing was lost or done twice across the whole history.

For ``--rounds`` rounds, a gateway (``tests/harness.py``'s ``GatewayProcess``) starts
on one state dir kept across rounds, with a Telegram account on the test suite's fake
Bot API (``tests/fake_telegram.py``) and its default model on the fake model server
(``tests/fake_models.py``, OpenAI-compatible). Both fakes run in this process for the
whole run, so they record the whole history. While the gateway is up:

* ``--senders`` clients call ``send`` one after another, each with a fresh
  idempotency key, the key embedded in the text (the fake delays every
  ``sendMessage`` by ``--send-delay-ms``, so calls are in flight at the kill);
* ``--chatters`` clients call ``chat.send`` on a session of their own and wait a
  little for each run (the fake model streams its echo slowly, ``--piece-delay-ms``);
* inbound messages with a marker are pushed into the fake Bot API, which the
  gateway's long poll fetches and the assistant loop answers;
* a declared cron job (``every --cron-every``, ``catchUp: run-once``) runs an agent
  turn whose reply is announced to a chat.

At a random moment (``--min-life``..``--max-life`` seconds after the gateway said it
listens, drawn from ``--seed``) the gateway gets SIGKILL; it stays down for up to
``--max-down`` seconds (inbound messages queue, cron slots pass), and the next round
starts it again. A share of the rounds (``--early-kills``) kill it instead 0-1 s after
the spawn, in the middle of its start (outbox resumed, backlog answered, cron caught
up), with no client. The sendMessage of the fake fails with 502 now and then
(``--fault-every``), so some sends wait queued for a retry when the kill comes.

After the last round a final start (a clean one) is asked about everything:
every send key again (the ledger answers the recorded outcome, or resumes or sends
it), ``agent.wait`` for every accepted run, the inbox, the cron history. The job is
disabled, the outbox drained, the gateway stopped with SIGTERM, and its database
opened read-only for ``PRAGMA integrity_check`` and its rows.

The checker (:func:`check`) then holds the history against the promises of
docs/messaging.md, docs/agent.md, docs/channels.md and docs/automation.md (sends,
runs, inbound messages, cron slots, transcripts, the database; see
docs/reliability.md); each broken promise is one line naming it. The seed fixes
every random choice of the driver; the gateway's own timing varies from run to run.
The exit status is 1 with the first broken promise as the reason. ``--history FILE``
saves the history as JSON; ``--check FILE`` runs only the checker over a saved one
(how the test suite shows that a broken history is caught).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import bytecode_vars, progress, table, ws_call, ws_handshake
from fake_models import FakeModels
from fake_telegram import FakeTelegram
from fake_telegram import gateway_config as telegram_config
from harness import GatewayProcess

SEND_CHAT = 4242
INBOUND_CHAT = 5151
CRON_CHAT = 6363
CRON_JOB = "chaos-tick"
CRON_MESSAGE = "chaos tick"
API_KEY = "chaos-key"
#: How late the scheduler may be: a cron slot that passed while the gateway was up may
#: be recorded missed only within this long of it, or if the gateway died within this
#: long of it (the scheduler wakes at the slot; the margin is for a slow, shared machine).
CRON_SLACK_MS = 2000
SEND_TEXT = "chaos send {key}"
SEND_MARK = re.compile(r"chaos send (\S+)")
INBOUND_TEXT = "chaos inbound {marker}"
INBOUND_MARK = re.compile(r"chaos inbound (\S+)")
INTERRUPTED = "the gateway stopped before this run finished"
ABORTED = "run aborted: the gateway is stopping"


def now_ms() -> int:
    """Wall-clock milliseconds, the unit of the gateway's own timestamps."""
    return int(time.time() * 1000)


# --------------------------------------------------------------------------- the driver


class Chaos:
    """One chaos run: the fakes, the state dir, and the history recorded so far."""

    def __init__(self, ns: argparse.Namespace, home: Path) -> None:
        self.ns = ns
        self.home = home
        self.rng = random.Random(ns.seed)
        self.telegram = FakeTelegram()
        self.models = FakeModels(api_key=API_KEY)
        self.history: dict[str, Any] = {
            "seed": ns.seed, "rounds": ns.rounds, "lives": [], "sends": {}, "chats": {},
            "inbound": {}, "cronEveryMs": int(ns.cron_every * 1000),
        }
        self.gateway: GatewayProcess | None = None
        self.in_flight = 0
        self.counter = 0

    def config(self) -> dict[str, Any]:
        """The gateway's config: the two fakes and the cron job."""
        config = telegram_config(self.telegram, [INBOUND_CHAT])
        config.update({
            "agents": {"defaults": {"model": "local/chaos-model", "timeoutSeconds": 60,
                                    "contextTurns": 2}},
            "models": {"providers": {"local": {
                "api": "openai-completions", "baseUrl": self.models.openai_base_url,
                "apiKey": API_KEY}}},
            "cron": {"maxRunsPerJob": 100000, "jobs": [{
                "id": CRON_JOB, "name": "chaos tick",
                "schedule": {"kind": "every", "every": f"{int(self.ns.cron_every * 1000)}ms"},
                "payload": {"kind": "agentTurn", "message": CRON_MESSAGE},
                "delivery": {"mode": "announce", "channel": "telegram", "to": str(CRON_CHAT)},
                "catchUp": "run-once"}]},
        })
        return config

    def next_id(self, kind: str) -> str:
        """A fresh key, unique in this run and readable in the fakes' records."""
        self.counter += 1
        return f"x{self.ns.seed}-{kind}{self.counter}"

    # -- load

    async def connect(self, gw: GatewayProcess) -> Any:
        """A new authenticated client connection (one per worker: requests in order)."""
        return await ws_handshake(gw.url, gw.token, timeout=10)

    async def sender(self, gw: GatewayProcess, stop: asyncio.Event, rng: random.Random,
                     round_no: int) -> None:
        """``send`` after ``send`` until the connection dies."""
        ws = await self.connect(gw)
        try:
            while not stop.is_set():
                key = self.next_id("s")
                record: dict[str, Any] = {"round": round_no, "first": "in-doubt"}
                self.history["sends"][key] = record
                self.in_flight += 1
                try:
                    reply = await ws_call(ws, "send", {
                        "to": str(SEND_CHAT), "message": SEND_TEXT.format(key=key),
                        "idempotencyKey": key}, timeout=60)
                finally:
                    self.in_flight -= 1
                record["first"] = outcome_of(reply)
                await asyncio.sleep(rng.uniform(0, 0.03))
        finally:
            await ws.close()

    async def chatter(self, gw: GatewayProcess, stop: asyncio.Event, rng: random.Random,
                      round_no: int, index: int) -> None:
        """``chat.send`` on one session, waiting a little for each run."""
        ws = await self.connect(gw)
        try:
            while not stop.is_set():
                key = self.next_id("c")
                record: dict[str, Any] = {"round": round_no, "first": "in-doubt"}
                self.history["chats"][key] = record
                self.in_flight += 1
                try:
                    reply = await ws_call(ws, "chat.send", {
                        "sessionKey": f"chaos-{index}", "message": f"chaos chat {key}",
                        "idempotencyKey": key}, timeout=30)
                finally:
                    self.in_flight -= 1
                payload = reply.get("payload") or {}
                record["first"] = (payload.get("status", "?") if reply.get("ok")
                                   else f"refused: {(reply.get('error') or {}).get('message')}")
                with contextlib.suppress(TimeoutError):
                    await ws_call(ws, "agent.wait", {"runId": key, "timeoutMs": 300},
                                  timeout=30)
                await asyncio.sleep(rng.uniform(0, 0.2))
        finally:
            await ws.close()

    async def pusher(self, stop: asyncio.Event, rng: random.Random, round_no: int) -> None:
        """Inbound messages into the fake Bot API, each with a marker."""
        while not stop.is_set():
            marker = self.next_id("i")
            update_id = self.telegram.push_message(
                INBOUND_CHAT, INBOUND_TEXT.format(marker=marker))
            self.history["inbound"][marker] = {"round": round_no, "updateId": update_id}
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(0.1, 0.4))

    async def faults(self, stop: asyncio.Event, rng: random.Random) -> None:
        """Now and then a 502 from the Bot API: the send is retried from the outbox, so
        a kill can also find it queued."""
        while self.ns.fault_every > 0 and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.expovariate(1 / self.ns.fault_every))
            self.telegram.fail_next("sendMessage", 502)
            self.history["faults"] = self.history.get("faults", 0) + 1

    async def round(self, round_no: int) -> None:
        """Start the gateway, load it, kill it at a random moment."""
        life = self.rng.uniform(self.ns.min_life, self.ns.max_life)
        down = self.rng.uniform(0, self.ns.max_down)
        seeds = [self.rng.randrange(1 << 30)
                 for _ in range(self.ns.senders + self.ns.chatters + 2)]
        early, early_at = self.rng.random() < self.ns.early_kills, self.rng.uniform(0, 1.0)
        term, term_grace = self.rng.random() < self.ns.term_kills, self.rng.uniform(0, 1.5)
        if early:
            await self.early_round(round_no, early_at, down, random.Random(seeds[-1]))
            return
        gw = self.start()
        entry = self.history["lives"][-1]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.sender(gw, stop, random.Random(seeds[i]), round_no))
                 for i in range(self.ns.senders)]
        tasks += [asyncio.create_task(self.chatter(gw, stop, random.Random(seeds[
            self.ns.senders + i]), round_no, i)) for i in range(self.ns.chatters)]
        tasks.append(asyncio.create_task(self.pusher(stop, random.Random(seeds[-1]), round_no)))
        tasks.append(asyncio.create_task(self.faults(stop, random.Random(seeds[-2]))))
        await asyncio.sleep(max(0.0, life - (time.perf_counter() - gw.listening_at)))
        assert gw.proc is not None
        entry["inFlightAtKill"] = self.in_flight
        entry["endedAtMs"] = now_ms()
        if term:  # a stop, and the kill in the middle of its drain
            gw.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(gw.proc.wait, term_grace)
        entry["how"] = "SIGTERM" if gw.proc.poll() is not None else \
            ("SIGTERM+SIGKILL" if term else "SIGKILL")
        gw.proc.kill()
        gw.proc.wait(10)
        # Down for a while: inbound messages queue at the fake, cron slots pass.
        await asyncio.sleep(down)
        entry["downS"] = round(down, 2)
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        entry["clientErrors"] = sum(1 for r in results if isinstance(r, BaseException))
        how = {"SIGKILL": "killed", "SIGTERM": "stopped (SIGTERM) before the kill",
               "SIGTERM+SIGKILL": f"stopped (SIGTERM) and killed {term_grace:.2f}s later"}
        progress(f"round {round_no}: {how[entry['how']]} after {life:.2f}s with "
                 f"{entry['inFlightAtKill']} request(s) in flight, down {down:.2f}s")

    async def early_round(self, round_no: int, kill_at: float, down: float,
                          rng: random.Random) -> None:
        """Kill the gateway ``kill_at`` seconds after the spawn, in the middle of its start
        (the outbox resumed, unanswered messages rerun, cron caught up), with no client."""
        gw = self.gateway_process()
        stop = asyncio.Event()
        pusher = asyncio.create_task(self.pusher(stop, rng, round_no))
        entry: dict[str, Any] = {"startedAtMs": now_ms(), "listeningAtMs": None}
        self.history["lives"].append(entry)
        gw.spawn()
        await asyncio.sleep(kill_at)
        assert gw.proc is not None
        gw.proc.kill()
        entry.update(endedAtMs=now_ms(), how="SIGKILL", early=True, inFlightAtKill=0)
        gw.proc.wait(10)
        await asyncio.sleep(down)
        entry["downS"] = round(down, 2)
        stop.set()
        await pusher
        said = any("listening on" in line for line in gw.lines)
        progress(f"round {round_no}: killed {kill_at:.2f}s after the spawn "
                 f"({'after' if said else 'before'} it listened), down {down:.2f}s")

    def gateway_process(self) -> GatewayProcess:
        """The one gateway of the run (one HOME, one state dir, one config)."""
        if self.gateway is None:
            self.gateway = GatewayProcess(self.home, config=self.config(), env=bytecode_vars())
        return self.gateway

    def start(self) -> GatewayProcess:
        """Start the gateway on the kept state dir and note the life."""
        gw = self.gateway_process()
        started = now_ms()
        gw.start(timeout=60)
        self.history["lives"].append({"startedAtMs": started, "listeningAtMs": now_ms()})
        return gw

    # -- the final start

    async def final(self) -> None:
        """A last start: ask about everything, drain, stop cleanly, read the database."""
        gw = self.start()
        gw.wait_ready(timeout=60)
        ws = await self.connect(gw)
        try:
            await self.reask_sends(gw)
            await self.wait_runs(ws)
            await self.wait_inbound(ws)
            reply = await ws_call(ws, "cron.update", {"id": CRON_JOB,
                                                      "patch": {"enabled": False}})
            self.history["cronDisabledAtMs"] = now_ms()
            if not reply.get("ok"):
                raise RuntimeError(f"cron.update refused: {reply.get('error')}")
            await self.wait_settled(ws)
        finally:
            await ws.close()
        self.history["deliveries"] = [
            {"chatId": str(s["chat_id"]), "text": s["text"]} for s in list(self.telegram.sent)]
        entry = self.history["lives"][-1]
        status = gw.stop(timeout=30)
        entry["endedAtMs"] = now_ms()
        entry["how"] = "SIGTERM"
        entry["exitStatus"] = status
        self.read_database(gw.state_dir / "gateway.db")

    async def reask_sends(self, gw: GatewayProcess) -> None:
        """Every send key again, from a few connections: the ledger's answer."""
        keys = list(self.history["sends"])
        queue: asyncio.Queue[str] = asyncio.Queue()
        for key in keys:
            queue.put_nowait(key)

        async def worker() -> None:
            ws = await self.connect(gw)
            try:
                while not queue.empty():
                    key = queue.get_nowait()
                    reply = await ws_call(ws, "send", {
                        "to": str(SEND_CHAT), "message": SEND_TEXT.format(key=key),
                        "idempotencyKey": key}, timeout=60)
                    record = self.history["sends"][key]
                    record["final"] = outcome_of(reply)
            finally:
                await ws.close()

        await asyncio.gather(*(worker() for _ in range(4)))

    async def wait_runs(self, ws: Any) -> None:
        """``agent.wait`` for every chat run (accepted or in doubt)."""
        for key, record in self.history["chats"].items():
            reply = await ws_call(ws, "agent.wait", {"runId": key, "timeoutMs": 30000},
                                  timeout=60)
            if reply.get("ok"):
                payload = reply["payload"]
                record["wait"] = payload.get("status")
                record["error"] = (payload.get("error") or {}).get("message")
            else:
                record["wait"] = "refused: " + str((reply.get("error") or {}).get("message"))

    async def wait_inbound(self, ws: Any) -> None:
        """Until every pushed message is in the inbox and its run has ended."""
        deadline = time.monotonic() + 60
        markers = set(self.history["inbound"])
        stored: dict[str, list[dict[str, Any]]] = {}
        while True:
            stored = {}
            cursor = 0
            while True:
                reply = await ws_call(ws, "messages.list", {"cursor": cursor, "limit": 1000})
                page = reply["payload"]
                for message in page["messages"]:
                    match = INBOUND_MARK.fullmatch(message["text"])
                    if match:
                        stored.setdefault(match.group(1), []).append(message)
                cursor = page["cursor"]
                if not page["more"]:
                    break
            if markers <= set(stored) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        for marker, messages in stored.items():
            for message in messages:
                run_id = (f"inbound:telegram:{message['accountId']}:{message['chatId']}:"
                          f"{message['messageId']}")
                reply = await ws_call(ws, "agent.wait", {"runId": run_id, "timeoutMs": 30000},
                                      timeout=60)
                record = self.history["inbound"].setdefault(marker, {"round": None})
                record.setdefault("runs", []).append(
                    (reply.get("payload") or {}).get("status") if reply.get("ok")
                    else "refused: " + str((reply.get("error") or {}).get("message")))

    async def wait_settled(self, ws: Any) -> None:
        """Until no cron run is going and the outbox has nothing queued or attempting."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = (await ws_call(ws, "cron.runs", {"id": CRON_JOB, "limit": 50}))["payload"]
            health = (await ws_call(ws, "health"))["payload"]
            outbox = health.get("outbox") or {}
            if (not any(e["status"] == "running" for e in runs["entries"])
                    and not outbox.get("queued") and not outbox.get("attempting")):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the final gateway did not settle within 60 s (cron runs or sends "
                           "still going)")

    def read_database(self, path: Path) -> None:
        """``PRAGMA integrity_check`` and the rows the checker needs, read-only."""
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            self.history["integrity"] = [r[0] for r in db.execute("PRAGMA integrity_check")]
            self.history["ledger"] = dict(db.execute("SELECT key, state FROM sends"))
            self.history["inbox"] = [
                {"chatId": c, "messageId": m, "text": t, "handled": h}
                for c, m, t, h in db.execute(
                    "SELECT chat_id, message_id, text, handled FROM messages")]
            self.history["runs"] = {
                run_id: {"state": state, "final": json.loads(final) if final else None}
                for run_id, state, final in db.execute(
                    "SELECT run_id, state, final FROM runs")}
            self.history["turns"] = dict(Counter(
                run_id for (run_id,) in db.execute(
                    "SELECT run_id FROM turns WHERE role = 'user' AND run_id IS NOT NULL")))
            self.history["cronRuns"] = [
                {"runId": r, "slotMs": s, "trigger": t, "status": st, "startedMs": b,
                 "endedMs": e}
                for r, s, t, st, b, e in db.execute(
                    "SELECT run_id, slot_ms, trigger, status, started_ms, ended_ms "
                    "FROM cron_runs WHERE job_id = ? ORDER BY slot_ms", (CRON_JOB,))]
            spec = db.execute("SELECT spec, created_ms FROM cron_jobs WHERE id = ?",
                              (CRON_JOB,)).fetchone()
            self.history["cronJob"] = (None if spec is None else
                                       {"spec": json.loads(spec[0]), "createdMs": spec[1]})
        finally:
            db.close()

    async def run(self) -> None:
        """The fakes up, every round, the final start; the fakes and gateway down."""
        self.telegram.start()
        self.models.start()
        self.telegram.delay("sendMessage", self.ns.send_delay_ms / 1000)
        self.models.delay_pieces(self.ns.piece_delay_ms / 1000)
        try:
            for round_no in range(1, self.ns.rounds + 1):
                await self.round(round_no)
            progress("final start")
            await self.final()
        finally:
            if self.gateway is not None:
                self.gateway.stop()
            self.telegram.stop()
            self.models.stop()


def outcome_of(reply: dict[str, Any]) -> str:
    """``sent:<messageId>``, ``unknown``, or ``error:<code>: <message>`` of a send answer."""
    if reply.get("ok"):
        return f"sent:{reply['payload'].get('messageId')}"
    error = reply.get("error") or {}
    if (error.get("details") or {}).get("reason") == "outcome-unknown":
        return "unknown"
    return f"error:{error.get('code')}: {error.get('message')}"


# --------------------------------------------------------------------------- the checker


def check(history: dict[str, Any]) -> list[str]:
    """Every broken invariant of a chaos history, one line each (empty: all held)."""
    problems: list[str] = []
    problems += check_sends(history)
    problems += check_runs(history)
    problems += check_inbound(history)
    problems += check_cron(history)
    problems += check_transcripts(history)
    integrity = history.get("integrity")
    if integrity != ["ok"]:
        problems.append(f"database: PRAGMA integrity_check says {integrity!r}, not 'ok'")
    last = (history.get("lives") or [{}])[-1]
    if last.get("how") != "SIGTERM" or last.get("exitStatus") != 0:
        problems.append(f"gateway: the final clean stop did not exit 0 ({last.get('exitStatus')})")
    return problems


def check_sends(history: dict[str, Any]) -> list[str]:
    """At most once per key; every key delivered or reported outcome-unknown; the ledger
    agrees with what it answered."""
    problems = []
    delivered = Counter(m.group(1) for d in history.get("deliveries", [])
                        if d["chatId"] == str(SEND_CHAT)
                        for m in [SEND_MARK.fullmatch(d["text"] or "")] if m)
    ledger = history.get("ledger", {})
    for key, count in delivered.items():
        if count > 1:
            problems.append(f"sends: key {key} was delivered {count} times")
        if key not in history["sends"]:
            problems.append(f"sends: key {key} was delivered but never asked for")
    for key, record in history["sends"].items():
        first, final = record.get("first"), record.get("final")
        count = delivered.get(key, 0)
        if final is None:
            problems.append(f"sends: key {key} was not asked again after the restart")
        elif final.startswith("sent:"):
            if count != 1:
                problems.append(f"sends: key {key} is reported sent but the Bot API got it "
                                f"{count} times")
            if first.startswith("sent:") and first != final:
                problems.append(f"sends: key {key} answered {first} then {final}")
        elif final == "unknown":
            if first.startswith("sent:"):
                problems.append(f"sends: key {key} answered {first} then outcome-unknown")
        else:
            problems.append(f"sends: key {key} is neither delivered nor outcome-unknown: {final}")
        state = ledger.get(key)
        expected = {"sent": "sent", "unknown": "unknown"}.get((final or "").split(":")[0])
        if expected and state != expected:
            problems.append(f"sends: key {key} answered {final} but the ledger says {state}")
    return problems


def check_runs(history: dict[str, Any]) -> list[str]:
    """Every accepted chat run has a stored final after the restart."""
    problems = []
    runs = history.get("runs", {})
    for key, record in history["chats"].items():
        accepted = record.get("first") in ("started", "in_flight", "ok", "error")
        stored = runs.get(key)
        if not accepted:
            if stored is not None and stored.get("final") is None:
                problems.append(f"runs: run {key} (answer lost at the kill) has no final")
            continue
        if record.get("wait") not in ("ok", "error"):
            problems.append(f"runs: accepted run {key} has no final after the restart "
                            f"(agent.wait: {record.get('wait')})")
        elif stored is None or stored.get("final") is None:
            problems.append(f"runs: accepted run {key} has no stored final in the database")
    return problems


def check_inbound(history: dict[str, Any]) -> list[str]:
    """Each pushed message stored once, handled, and answered once (or its reply is
    outcome-unknown)."""
    problems = []
    inbox: dict[str, list[dict[str, Any]]] = {}
    for row in history.get("inbox", []):
        match = INBOUND_MARK.fullmatch(row["text"])
        if match:
            inbox.setdefault(match.group(1), []).append(row)
    replies = Counter(m.group(1) for d in history.get("deliveries", [])
                      if d["chatId"] == str(INBOUND_CHAT)
                      for m in [INBOUND_MARK.search(d["text"] or "")] if m)
    ledger = history.get("ledger", {})
    for marker in history["inbound"]:
        rows = inbox.get(marker, [])
        if len(rows) != 1:
            problems.append(f"inbound: message {marker} is stored {len(rows)} times, not once")
            continue
        row = rows[0]
        if not row["handled"]:
            problems.append(f"inbound: message {marker} is not marked handled")
        run_id = f"inbound:telegram:default:{row['chatId']}:{row['messageId']}"
        reply_state = ledger.get(f"reply:{run_id}")
        count = replies.get(marker, 0)
        if count > 1:
            problems.append(f"inbound: message {marker} was answered {count} times")
        elif count == 0 and reply_state != "unknown":
            problems.append(f"inbound: message {marker} was never answered (reply key: "
                            f"{reply_state})")
        elif count == 1 and reply_state not in ("sent", "unknown"):
            problems.append(f"inbound: message {marker} was answered but its reply key is "
                            f"{reply_state}")
        runs = history["inbound"][marker].get("runs") or []
        if runs != ["ok"] and runs != ["error"]:
            problems.append(f"inbound: message {marker}'s run has no final ({runs})")
    return problems


def check_transcripts(history: dict[str, Any]) -> list[str]:
    """Each run that ended ok added its exchange to its session once; a run that ended
    in an error added nothing (docs/agent.md, the final and chat.send)."""
    problems = []
    turns = history.get("turns", {})
    for run_id, stored in history.get("runs", {}).items():
        final = stored.get("final") or {}
        count = turns.get(run_id, 0)
        if final.get("status") == "ok" and count != 1:
            problems.append(f"transcript: run {run_id} ended ok and its exchange is stored "
                            f"{count} times, not once")
        elif final.get("status") == "error" and count:
            problems.append(f"transcript: run {run_id} ended in an error "
                            f"({final.get('summary')}) but its exchange is stored {count} "
                            "time(s)")
    return problems


def missed_while_up(history: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether a slot recorded missed fell while the gateway was up, and was recorded
    more than the slack after it (a scheduler late by less is tolerated: it then runs
    the newest due slot and records the one before as missed)."""
    slot = entry["slotMs"]
    if (entry.get("endedMs") or 0) - slot <= CRON_SLACK_MS:
        return False
    for life in history["lives"]:
        up_from = life["listeningAtMs"]
        if up_from is None:  # killed during its start
            continue
        up_to = life.get("endedAtMs", 1 << 62) - CRON_SLACK_MS
        if up_from <= slot <= up_to:
            return True
    return False


def check_cron(history: dict[str, Any]) -> list[str]:
    """No slot twice; none lost (every slot on the grid has an entry); missed only while
    down; each stretch of missed slots followed by one catch-up run."""
    problems: list[str] = []
    job = history.get("cronJob")
    if job is None:
        return ["cron: the job is gone from the database"]
    every = int(job["spec"]["schedule"]["everyMs"])
    anchor = int(job["spec"]["schedule"].get("anchorMs") or job["createdMs"])
    entries = history.get("cronRuns", [])
    slots = Counter(e["slotMs"] for e in entries)
    for slot, count in slots.items():
        if count > 1:
            problems.append(f"cron: slot {slot} has {count} runs")
        if (slot - anchor) % every:
            problems.append(f"cron: slot {slot} is not on the job's grid")
    last_due = history["cronDisabledAtMs"] - CRON_SLACK_MS
    slot = anchor + every
    while slot <= last_due:
        if slot not in slots:
            problems.append(f"cron: slot {slot} was lost (no run and not recorded missed)")
        slot += every
    ordered = sorted(entries, key=lambda e: e["slotMs"])
    for index, entry in enumerate(ordered):
        if entry["status"] not in ("ok", "error", "missed"):
            problems.append(f"cron: slot {entry['slotMs']} ended {entry['status']}")
        if entry["status"] == "missed":
            if missed_while_up(history, entry):
                problems.append(f"cron: slot {entry['slotMs']} was missed while the gateway "
                                "was up")
            # run-once: the newest due slot runs, claimed in the same transaction as the
            # slots recorded missed (a catch-up at a start, or a late scheduler's tick).
            following = ordered[index + 1] if index + 1 < len(ordered) else None
            if following is None or (following["status"] != "missed" and (
                    following.get("startedMs") != entry.get("endedMs")
                    or following["trigger"] not in ("catch-up", "schedule"))):
                problems.append(f"cron: the missed slot {entry['slotMs']} was not followed by "
                                "the newest due slot's run (catchUp run-once)")
    runs = history.get("runs", {})
    for entry in ordered:
        stored = runs.get(entry["runId"])
        if entry["status"] in ("ok", "error") and (stored is None or stored["final"] is None):
            problems.append(f"cron: run {entry['runId']} is {entry['status']} but has no "
                            "stored final")
    deliveries = sum(1 for d in history.get("deliveries", []) if d["chatId"] == str(CRON_CHAT))
    states = Counter(state for key, state in history.get("ledger", {}).items()
                     if key.startswith(f"reply:cron:{CRON_JOB}:"))
    if not states["sent"] <= deliveries <= states["sent"] + states["unknown"]:
        problems.append(f"cron: {deliveries} replies delivered for {states['sent']} sent and "
                        f"{states['unknown']} outcome-unknown reply keys")
    return problems


# --------------------------------------------------------------------------- the summary


def summary_rows(history: dict[str, Any]) -> list[list[str]]:
    """The figures of a history, as table rows."""
    lives = history["lives"]
    kills = lives[:-1]
    sends = history["sends"].values()
    finals = Counter((r.get("final") or "none").split(":")[0] for r in sends)
    chats = history["chats"].values()
    accepted = [r for r in chats if r.get("first") in ("started", "in_flight", "ok", "error")]
    interrupted = sum(1 for r in accepted if INTERRUPTED in str(r.get("error")))
    aborted = sum(1 for r in accepted if ABORTED in str(r.get("error")))
    ok = sum(1 for r in accepted if r.get("wait") == "ok")
    replies = Counter(state for key, state in history.get("ledger", {}).items()
                      if key.startswith("reply:inbound:"))
    cron = Counter(e["status"] for e in history.get("cronRuns", []))
    catch_up = sum(1 for e in history.get("cronRuns", []) if e["trigger"] == "catch-up")
    return [
        ["rounds", str(history["rounds"])],
        ["kills", f"{len(kills)}: {sum(1 for k in kills if k.get('inFlightAtKill'))} "
                  f"with requests in flight, {sum(1 for k in kills if k.get('early'))} "
                  "during the start, "
                  f"{sum(1 for k in kills if k.get('how') == 'SIGTERM+SIGKILL')} during a "
                  f"drain ({sum(1 for k in kills if k.get('how') == 'SIGTERM')} more stopped "
                  "before the kill)"],
        ["sends asked", str(len(history["sends"]))],
        ["  accepted (answered) / in doubt at a kill",
         f"{sum(1 for r in sends if r.get('first') != 'in-doubt')} / "
         f"{sum(1 for r in sends if r.get('first') == 'in-doubt')}"],
        ["  502s from the Bot API (retried)", str(history.get("faults", 0))],
        ["  in the end: delivered / outcome-unknown / other",
         f"{finals['sent']} / {finals['unknown']} / "
         f"{len(history['sends']) - finals['sent'] - finals['unknown']}"],
        ["chat runs asked / accepted", f"{len(history['chats'])} / {len(accepted)}"],
        ["  ended ok / interrupted by a kill / aborted by a stop / other error",
         f"{ok} / {interrupted} / "
         f"{aborted} / {len(accepted) - ok - interrupted - aborted}"],
        ["inbound messages pushed / stored", f"{len(history['inbound'])} / "
         f"{sum(1 for r in history.get('inbox', []) if INBOUND_MARK.fullmatch(r['text']))}"],
        ["  answered / reply outcome-unknown", f"{replies['sent']} / {replies['unknown']}"],
        ["cron slots (every {} ms)".format(history.get("cronEveryMs")),
         str(len(history.get("cronRuns", [])))],
        ["  ok / missed (down) / caught up", f"{cron['ok']} / {cron['missed']} / {catch_up}"],
        ["database integrity_check", ", ".join(history.get("integrity") or ["not run"])],
        ["wall time", f"{history.get('elapsedS', '?')} s"],
    ]


def verdict(history: dict[str, Any]) -> int:
    """Print the summary and any broken invariant; 0 when every invariant held."""
    sys.stdout.write("chaos run\n" + table(summary_rows(history), ["what", "count"]) + "\n")
    problems = check(history)
    for problem in problems[1:]:
        sys.stderr.write(f"  also: {problem}\n")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        sys.stderr.write(f"chaos: FAILED: {problems[0]}{more}\n")
        return 1
    sys.stdout.write("chaos: every invariant held\n")
    return 0


def main() -> int:
    """Run (or only check) a chaos history; the exit status."""
    parsed = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parsed.add_argument("--rounds", type=int, default=10, help="kills (default 10)")
    parsed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parsed.add_argument("--min-life", type=float, default=0.5,
                        help="shortest life before the kill, seconds after listening")
    parsed.add_argument("--max-life", type=float, default=4.0, help="longest life, seconds")
    parsed.add_argument("--max-down", type=float, default=2.5,
                        help="longest wait between a kill and the next start, seconds")
    parsed.add_argument("--early-kills", type=float, default=0.2,
                        help="the share of rounds whose kill comes during the start, 0-1 s "
                        "after the spawn (default 0.2)")
    parsed.add_argument("--term-kills", type=float, default=0.15,
                        help="the share of the other rounds that stop the gateway with SIGTERM "
                        "and kill it 0-1.5 s later, during its drain (default 0.15)")
    parsed.add_argument("--senders", type=int, default=6,
                        help="send clients (more than the 4 calls per account in flight, so "
                        "some sends wait queued)")
    parsed.add_argument("--fault-every", type=float, default=0.5,
                        help="mean seconds between 502 answers of sendMessage (0: none)")
    parsed.add_argument("--chatters", type=int, default=2, help="chat.send clients")
    parsed.add_argument("--send-delay-ms", type=float, default=40,
                        help="the fake Bot API's delay per sendMessage")
    parsed.add_argument("--piece-delay-ms", type=float, default=30,
                        help="the fake model's delay per streamed piece")
    parsed.add_argument("--cron-every", type=float, default=1.0,
                        help="the cron job's interval, seconds")
    parsed.add_argument("--history", type=Path, help="save the history as JSON here")
    parsed.add_argument("--check", type=Path, metavar="FILE",
                        help="only check a saved history")
    parsed.add_argument("--keep", action="store_true", help="keep the state dir")
    ns = parsed.parse_args()
    if ns.check is not None:
        try:
            history = json.loads(ns.check.read_text())
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"chaos: cannot read the history {ns.check}: {exc}\n")
            return 2
        return verdict(history)
    if (ns.rounds < 1 or not 0 < ns.min_life <= ns.max_life
            or not 0 <= ns.early_kills <= 1 or not 0 <= ns.term_kills <= 1):
        sys.stderr.write("chaos: --rounds must be at least 1, 0 < --min-life <= --max-life, "
                         "and --early-kills and --term-kills between 0 and 1\n")
        return 2
    home = Path(tempfile.mkdtemp(prefix="openclaw-chaos-"))
    chaos = Chaos(ns, home)
    started = time.monotonic()
    try:
        asyncio.run(chaos.run())
    except Exception as exc:
        sys.stderr.write(f"chaos: the run broke off: {exc!r} (state dir kept: {home})\n")
        if ns.history:
            ns.history.write_text(json.dumps(chaos.history, indent=1))
        return 1
    chaos.history["elapsedS"] = round(time.monotonic() - started, 1)
    if ns.history:
        ns.history.write_text(json.dumps(chaos.history, indent=1))
    status = verdict(chaos.history)
    progress(f"{chaos.history['elapsedS']} s; state dir "
             + (f"kept: {home}" if status or ns.keep else "removed"))
    if not status and not ns.keep:
        shutil.rmtree(home, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
