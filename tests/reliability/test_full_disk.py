"""A full disk under a running gateway: its state dir on a 4 MB tmpfs, filled to ENOSPC.

While full, the gateway keeps serving: ``health`` answers, a new ``send`` is refused
with a retryable ``UNAVAILABLE`` naming the full disk before anything reaches the
(fake) Bot API, an agent run is refused the same way, the file log says once that it
cannot write, an inbound message is left at the channel, and what was recorded
before is still answered. Once the filler is deleted, everything works again without
a restart: the refused send goes out (once) under the same key, the inbound message
is stored (once), and the file log writes again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_telegram import FakeTelegram, gateway_config
from harness import GatewayProcess, RawClient, run_cli, until
from openclaw.inbound import InboundMessage
from openclaw.store.db import DiskFull, open_database
from openclaw.store.inbox import Inbox
from openclaw.store.ledger import Ledger

ALLOWED_USER = 4242
FILE_LOG_FAILING = "cannot write the file log"


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``where`` (owner-only), unmounted at the end (lazily
    when still busy). Skips the test when mounting is not possible here."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (run as root, as CI does)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                              str(where)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs at {where}: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Write a filler file in ``directory`` until the disk says ENOSPC; return its path."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as stream:
        for chunk in (1 << 16, 1 << 12, 1 << 9):
            try:
                while True:
                    stream.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    assert os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize < 1 << 12
    return filler



def send(raw: RawClient, key: str, text: str) -> dict[str, Any]:
    return raw.request("send", {"to": "777", "message": text, "idempotencyKey": key})


@dataclass
class Setup:
    """A gateway whose state dir is a small tmpfs, with its fake Bot API."""

    gateway: GatewayProcess
    telegram: FakeTelegram
    state: Path
    home: Path
    raw: RawClient


@pytest.fixture
def setup(tmp_path: Path, make_gateway: Callable[..., GatewayProcess]) -> Iterator[Setup]:
    home = tmp_path / "home"
    with FakeTelegram(token="123456:TEST-full-disk") as telegram, \
            small_tmpfs(home / ".openclaw") as state:
        # debug: every connection is a record, so the test can fill the log's last page.
        config = {**gateway_config(telegram, [ALLOWED_USER]),
                  "gateway": {"http": {"endpoints": {"chatCompletions": {"enabled": True}}}}}
        gateway = make_gateway("--verbose", config=config, home=home,
                               env={"OPENCLAW_LOG_LEVEL": "debug"})
        try:
            gateway.wait_ready()
            raw = RawClient(gateway.url)
            raw.handshake(gateway.token)
            yield Setup(gateway, telegram, state, home, raw)
            raw.close()
        finally:
            gateway.stop()  # before the tmpfs goes


def test_a_full_disk_refuses_new_work_loses_nothing_and_recovers(setup: Setup) -> None:
    scenario(setup.gateway, setup.telegram, setup.state, setup.home, setup.raw)


def scenario(gateway: GatewayProcess, telegram: FakeTelegram, state: Path, home: Path,
             raw: RawClient) -> None:
    before = send(raw, "before", "sent before the disk filled")
    assert before["ok"] is True, before

    filler = fill(state)
    try:
        assert raw.request("health", {})["ok"] is True
        requests_before = len(telegram.requests)
        refused = send(raw, "while-full", "refused while full")
        assert refused["ok"] is False
        error = refused["error"]
        assert error["code"] == "UNAVAILABLE" and error["retryable"] is True, error
        assert error["message"] == (f"the disk holding {state} is full: nothing new can "
                                    "be recorded; free space there and retry")
        assert error["details"] == {"reason": "disk-full"}
        # A repeat of a recorded key is still answered from the ledger.
        again = send(raw, "before", "sent before the disk filled")
        assert again["ok"] is True and again["payload"] == before["payload"]
        agent = raw.request("agent", {"message": "hello", "idempotencyKey": "run-full"})
        assert agent["ok"] is False and agent["error"]["retryable"] is True, agent
        assert "is full" in agent["error"]["message"]
        completion = chat_completion(gateway)
        assert completion.status_code == 503 and completion.headers["retry-after"] == "1"
        assert "is full" in completion.json()["error"]["message"]
        # A state file (heartbeat.json, through write_atomic): same error, old file kept.
        beating = raw.request("health", {})["payload"]["heartbeatSeconds"]
        assert beating > 0
        switch = raw.request("set-heartbeats", {"enabled": False})
        assert switch["ok"] is False and switch["error"]["retryable"] is True, switch
        assert switch["error"]["message"].startswith(f"the disk holding {state} is full")
        assert not (state / "heartbeat.json").exists()
        assert not list(state.glob(".heartbeat.json.*"))  # no temporary file left over
        assert raw.request("health", {})["payload"]["heartbeatSeconds"] == beating
        assert raw.request("last-heartbeat", {})["ok"] is True
        cli = run_cli("message", "send", "--target", "777", "--message", "cli while full",
                      "--timeout", "1500", home=home)
        assert cli.returncode == 1, cli.stderr
        last = cli.stderr.strip().splitlines()[-1]
        assert f"the disk holding {state} is full" in last and "retrying with it is safe" \
            in last, cli.stderr
        telegram.push_message(ALLOWED_USER, "inbound while full", from_id=ALLOWED_USER)
        until(lambda: log_more(gateway), "the file log to report")
        # The inbound message was fetched but not stored: it is left at the channel.
        until(lambda: "is full" in str(channel_error(raw)), "the channel to report it")
        assert stored_texts(raw) == []
        assert [m for m, _ in telegram.requests[requests_before:]
                if m.lower().startswith("send")] == []
        assert telegram.sent_texts() == ["sent before the disk filled"]
    finally:
        filler.unlink()

    assert gateway.alive()
    after = send(raw, "while-full", "refused while full")
    assert after["ok"] is True, after
    assert telegram.sent_texts() == ["sent before the disk filled", "refused while full"]
    stored = until(lambda: stored_texts(raw), "the inbound message to be stored", 30.0)
    assert stored == ["inbound while full"]
    until(lambda: "file log writable again" in gateway.output, "the file log to resume")
    assert gateway.output.count(FILE_LOG_FAILING) == 1
    assert chat_completion(gateway).status_code == 200
    assert raw.request("agent", {"message": "hello", "idempotencyKey": "run-after"})["ok"]
    # Waiting also reads the run's events, so the connection closes promptly.
    final = raw.request("agent.wait", {"runId": "run-after", "timeoutMs": 10_000})
    assert final["ok"] is True and final["payload"]["status"] == "ok", final


def chat_completion(gateway: GatewayProcess) -> httpx.Response:
    """One request to the OpenAI-compatible endpoint (the offline model answers)."""
    return httpx.post(f"http://127.0.0.1:{gateway.port}/v1/chat/completions", timeout=20,
                      headers={"Authorization": f"Bearer {gateway.token}"},
                      json={"model": "openclaw", "messages": [{"role": "user",
                                                               "content": "hi"}]})


def test_an_outcome_that_cannot_be_written_is_answered_and_written_later(setup: Setup) -> None:
    """The disk fills while a send is at the Bot API: the caller still gets the result,
    a repeat of the key gets it too (nothing is sent twice), and the ledger row becomes
    ``sent`` once space returns."""
    telegram, raw = setup.telegram, setup.raw
    telegram.delay("sendMessage", 1.0)
    frame = {"type": "req", "id": "in-flight", "method": "send",
             "params": {"to": "777", "message": "in flight", "idempotencyKey": "in-flight"}}
    raw.send(frame)
    telegram.wait_for(lambda fake: any(m == "sendMessage" for m, _ in fake.requests))
    # Empty the write-ahead log, so the gateway's next write must grow a file: with the
    # disk full that write fails, whatever room the old log had.
    database = setup.state / "gateway.db"
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = fill(setup.state)
    try:
        answer = raw.response("in-flight")
        assert answer["ok"] is True, answer
        until(lambda: "kept in memory until it can be written" in setup.gateway.output,
              "the gateway to keep the outcome in memory")
        assert ledger_state(database, "in-flight") == "attempting"
        again = send(raw, "in-flight", "in flight")
        assert again["ok"] is True and again["payload"] == answer["payload"]
        assert telegram.sent_texts() == ["in flight"]
    finally:
        filler.unlink()
    until(lambda: ledger_state(database, "in-flight") == "sent", "the outcome to be written")
    assert send(raw, "in-flight", "in flight")["payload"] == answer["payload"]
    assert telegram.sent_texts() == ["in flight"]


def ledger_state(database: Path, key: str) -> str | None:
    """The ``sends`` row state of ``key``, read from the gateway's database file."""
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as db:
        row = db.execute("SELECT state FROM sends WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def log_more(gateway: GatewayProcess) -> bool:
    """One more connection (a debug record); True once the file log said it fails."""
    if FILE_LOG_FAILING in gateway.output:
        return True
    raw = RawClient(gateway.url)
    raw.handshake(gateway.token)
    raw.close()
    return False


def stored_texts(raw: RawClient) -> list[str]:
    return [m["text"] for m in raw.request("messages.list", {})["payload"]["messages"]]


def channel_error(raw: RawClient) -> Any:
    payload = raw.request("channels.status", {})["payload"]
    return payload["channelAccounts"]["telegram"][0]["lastError"]


def test_the_store_turns_sqlite_full_into_one_retryable_error(tmp_path: Path) -> None:
    """In-process, on the real SQLite file: a write that needs a file to grow on a full
    disk raises DiskFull (still a sqlite3.OperationalError), leaves no transaction open
    and changes nothing; with space back, the same connection works."""
    with small_tmpfs(tmp_path / "state") as state:
        db = open_database(state / "gateway.db")
        try:
            inbox = Inbox(db)
            message = InboundMessage(channel="telegram", account_id="default", chat_id="1",
                                     message_id="1", sender="1", sender_name=None,
                                     text="kept", ts=0)
            inbox.store("telegram", "default", [message], "5")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write grows the log
            filler = fill(state)
            try:
                with pytest.raises(DiskFull) as caught:  # SQLite's own error, translated
                    inbox.store("telegram", "default", [], "6")
                assert isinstance(caught.value, sqlite3.OperationalError)
                assert caught.value.retryable is True and not db.in_transaction
                with pytest.raises(DiskFull):  # below the reserve: refused before SQLite
                    inbox.store("telegram", "default", [replace(message, message_id="2")],
                                "6")
                with pytest.raises(DiskFull):
                    Ledger(db).begin("k", "telegram", "default", "1", {"text": "x"}, 0)
                assert inbox.cursor("telegram", "default") == "5"
                assert [m["text"] for m in inbox.read(0, 10)] == ["kept"]
            finally:
                filler.unlink()
            inbox.store("telegram", "default", [replace(message, message_id="2")], "6")
            assert inbox.cursor("telegram", "default") == "6"
            assert Ledger(db).begin("k", "telegram", "default", "1", {"text": "x"}, 0)
        finally:
            db.close()
