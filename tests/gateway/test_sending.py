"""Unit tests for the messaging core: the database, the ledger, the inbox, channel
supervision and ``SendService``, in-process with a scripted fake channel."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import stat
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from openclaw.backoff import Backoff
from openclaw.channels.base import (
    ChannelError,
    InboundMessage,
    InboundSink,
    OutboundMessage,
    SendReceipt,
    TargetError,
)
from openclaw.channels.manager import ChannelManager
from openclaw.channels.registry import Capabilities, ChannelSection, ChannelSpec
from openclaw.channels.supervisor import ChannelSupervisor
from openclaw.clock import now_ms
from openclaw.errors import OpenClawError, UsageError
from openclaw.gateway.sending import CALLS_PER_ACCOUNT, SendService
from openclaw.protocol.errors import WireError, error_from
from openclaw.store.db import MIGRATIONS, open_database
from openclaw.store.inbox import Inbox
from openclaw.store.ledger import Ledger

T = TypeVar("T")
SECRET = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
REQUEST = {"to": "777", "text": "hi", "media": []}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait (in loop time) until ``predicate`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition never held")
        await asyncio.sleep(0.002)


def fast_backoff() -> Backoff:
    return Backoff(base=0.01, cap=0.02, floor=0.001, rng=random.Random(3))


Outcome = SendReceipt | BaseException | asyncio.Event | None


def fake_spec(name: str) -> ChannelSpec[Any, Any]:
    """A registry entry for a fake channel (never registered: only the manager reads it)."""
    return ChannelSpec(name=name, label=name.title(), section=ChannelSection,
                       accounts=lambda section, env: [], create=lambda account: FakeChannel(),
                       capabilities=Capabilities(media=True),
                       setup_hint=f"set channels.{name}.token")


class FakeChannel:
    """A scripted channel account.

    ``send`` outcomes are scripted per message text (``scripts[text]``, consumed in
    order): a receipt, an exception to raise, or an event to wait for before answering
    with a receipt. Without a script, ``hold`` (when set) is waited for. ``connect``
    raises the queued ``connect_errors`` first. ``poll`` delivers ``batches`` one per
    round, then blocks until ``poll_release`` is set.
    """

    def __init__(self, name: str = "fake", account_id: str = "default",
                 deadline_s: float = 5.0) -> None:
        self.name = name
        self.account_id = account_id
        self.spec = fake_spec(name)
        self.token = SECRET
        self.deadline_s = deadline_s
        self.scripts: dict[str, list[Outcome]] = {}
        self.hold: asyncio.Event | None = None
        self.calls: dict[str, int] = {}
        self.send_calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connect_errors: list[BaseException] = []
        self.connect_calls = 0
        self.connect_times: list[float] = []
        self.probe: Callable[[], Any] = lambda: None
        self.probes: list[Any] = []
        self.batches: list[tuple[list[InboundMessage], str | None]] = []
        self.poll_release = asyncio.Event()
        self.poll_calls = 0
        self.poll_cursors: list[str | None] = []
        self.poll_cancelled = 0
        self.close_calls = 0

    async def connect(self) -> dict[str, Any]:
        self.connect_calls += 1
        self.connect_times.append(asyncio.get_running_loop().time())
        self.probes.append(self.probe())
        if self.connect_errors:
            raise self.connect_errors.pop(0)
        return {"bot": "fakebot"}

    async def poll(self, cursor: str | None, sink: InboundSink) -> None:
        self.poll_calls += 1
        self.poll_cursors.append(cursor)
        if self.batches:
            messages, new_cursor = self.batches.pop(0)
            await sink(messages, new_cursor)
            return
        try:
            await self.poll_release.wait()
        except asyncio.CancelledError:
            self.poll_cancelled += 1
            raise

    async def send(self, message: OutboundMessage) -> SendReceipt:
        self.send_calls += 1
        number = self.send_calls
        self.calls[message.text] = self.calls.get(message.text, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            script = self.scripts.get(message.text)
            outcome: Outcome = script.pop(0) if script else self.hold
            if isinstance(outcome, asyncio.Event):
                await outcome.wait()
            elif isinstance(outcome, BaseException):
                raise outcome
            elif isinstance(outcome, SendReceipt):
                return outcome
            return SendReceipt(message_id=str(1000 + number), chat_id=message.chat_id)
        finally:
            self.in_flight -= 1

    def normalize_target(self, to: str) -> str:
        chat = to.removeprefix("chat:")
        if not chat.isdigit():
            raise TargetError(f"not a fake chat: {to!r}")
        return chat

    def snapshot(self) -> dict[str, Any]:
        return {"bot": "fakebot", "tokenSource": "config"}

    @property
    def poll_deadline_s(self) -> float:
        return self.deadline_s

    async def close(self) -> None:
        self.close_calls += 1


def inbound(message_id: str, chat_id: str = "777", text: str = "hello",
            account_id: str = "default", channel: str = "fake") -> InboundMessage:
    return InboundMessage(channel=channel, account_id=account_id, message_id=message_id,
                          chat_id=chat_id, sender="4242", text=text, ts=1_700_000_000_000,
                          sender_name="Ann")


def transient(message: str = "network down", retry_after_s: float | None = 0.005,
              **kw: Any) -> ChannelError:
    return ChannelError(message, transient=True, retry_after_s=retry_after_s, **kw)


# ====================================================================== database


def test_open_database_migrates_and_sets_user_version(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state" / "gateway.db")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sends", "messages", "channel_cursors"} <= tables
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_reopening_a_migrated_database_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    db = open_database(path)
    assert Ledger(db).begin("k", "fake", "default", "777", REQUEST, now_ms() + 1000)
    db.close()
    again = open_database(path)
    assert again.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    record = Ledger(again).get("k")
    assert record is not None and record.state == "queued"
    again.close()


def test_a_file_that_is_not_sqlite_names_the_path_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    path.write_bytes(b"this is not a database, just some text\n" * 100)
    with pytest.raises(OpenClawError) as caught:
        open_database(path)
    assert str(path) in caught.value.message
    assert "openclaw doctor --fix" in caught.value.message
    assert path.read_bytes() == b"this is not a database, just some text\n" * 100


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    open_database(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(OpenClawError) as caught:
        open_database(path)
    assert "newer" in caught.value.message and str(path) in caught.value.message


def test_the_database_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    db = open_database(path)
    Ledger(db).begin("k", "fake", "default", "777", REQUEST, now_ms() + 1000)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wal = path.with_name(path.name + "-wal")
    if wal.exists():  # SQLite gives its WAL the database file's mode
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    db.close()


# ====================================================================== ledger


@pytest.fixture
def db(tmp_path: Path) -> Any:
    connection = open_database(tmp_path / "gateway.db")
    yield connection
    connection.close()


def test_ledger_begin_records_a_queued_key_once(db: sqlite3.Connection) -> None:
    ledger = Ledger(db)
    deadline = now_ms() + 60_000
    assert ledger.begin("k1", "fake", "default", "777", REQUEST, deadline) is True
    record = ledger.get("k1")
    assert record is not None
    assert (record.state, record.attempts, record.channel, record.account_id, record.chat_id,
            record.request, record.result, record.error, record.deadline_ms) == (
        "queued", 0, "fake", "default", "777", REQUEST, None, None, deadline)
    assert ledger.begin("k1", "fake", "default", "888", {"text": "other"}, deadline) is False
    assert ledger.get("k1") == record
    assert ledger.get("missing") is None


def test_ledger_state_transitions(db: sqlite3.Connection) -> None:
    ledger = Ledger(db)
    deadline = now_ms() + 60_000
    for key in ("a", "b", "c"):
        ledger.begin(key, "fake", "default", "777", REQUEST, deadline)
    ledger.attempt("a")
    record = ledger.get("a")
    assert record is not None and (record.state, record.attempts) == ("attempting", 1)
    error = {"code": "UNAVAILABLE", "message": "fake: down"}
    ledger.queue("a", 12345, error)
    record = ledger.get("a")
    assert record is not None
    assert (record.state, record.next_attempt_ms, record.error) == ("queued", 12345, error)
    ledger.attempt("a")
    ledger.sent("a", {"messageId": "9"})
    record = ledger.get("a")
    assert record is not None
    assert (record.state, record.attempts, record.result, record.error) == (
        "sent", 2, {"messageId": "9"}, None)
    ledger.attempt("b")
    ledger.failed("b", {"code": "INVALID_REQUEST", "message": "no"})
    record = ledger.get("b")
    assert record is not None and record.state == "failed"
    assert record.error == {"code": "INVALID_REQUEST", "message": "no"} and record.result is None
    ledger.attempt("c")
    ledger.unknown("c", {"code": "UNAVAILABLE", "message": "maybe"})
    record = ledger.get("c")
    assert record is not None and record.state == "unknown"
    assert record.error == {"code": "UNAVAILABLE", "message": "maybe"}


def test_ledger_recover_marks_attempting_unknown_and_leaves_queued(
    db: sqlite3.Connection,
) -> None:
    ledger = Ledger(db)
    deadline = now_ms() + 60_000
    for key in ("busy", "waiting", "done"):
        ledger.begin(key, "fake", "default", "777", REQUEST, deadline)
    ledger.attempt("busy")
    ledger.attempt("done")
    ledger.sent("done", {"messageId": "1"})
    assert ledger.recover() == 1
    busy = ledger.get("busy")
    assert busy is not None and busy.state == "unknown" and busy.attempts == 1
    assert busy.error is not None and busy.error["details"]["reason"] == "outcome-unknown"
    assert busy.error["code"] == "UNAVAILABLE"
    waiting = ledger.get("waiting")
    assert waiting is not None and waiting.state == "queued" and waiting.error is None
    done = ledger.get("done")
    assert done is not None and done.state == "sent"
    assert ledger.recover() == 0


def test_ledger_queued_lists_only_queued_rows_oldest_first(db: sqlite3.Connection) -> None:
    ledger = Ledger(db)
    deadline = now_ms() + 60_000
    for key in ("x", "y", "z", "w"):
        ledger.begin(key, "fake", "default", "777", REQUEST, deadline)
    ages = {"x": 3000, "y": 1000, "z": 2000, "w": 500}
    for key, created in ages.items():
        db.execute("UPDATE sends SET created_ms = ? WHERE key = ?", (created, key))
    ledger.attempt("w")
    assert [r.key for r in ledger.queued()] == ["y", "z", "x"]


def test_ledger_counts_per_state(db: sqlite3.Connection) -> None:
    ledger = Ledger(db)
    assert ledger.counts() == {}
    deadline = now_ms() + 60_000
    for key in ("a", "b", "c", "d", "e"):
        ledger.begin(key, "fake", "default", "777", REQUEST, deadline)
    ledger.attempt("a")
    ledger.sent("b", {"messageId": "1"})
    ledger.sent("c", {"messageId": "2"})
    ledger.failed("d", {"code": "UNAVAILABLE", "message": "x"})
    assert ledger.counts() == {"attempting": 1, "sent": 2, "failed": 1, "queued": 1}


def test_ledger_prune_removes_only_old_finished_rows(db: sqlite3.Connection) -> None:
    ledger = Ledger(db)
    deadline = now_ms() + 60_000
    keys = ("old-sent", "old-failed", "old-unknown", "old-queued", "old-attempting", "new-sent")
    for key in keys:
        ledger.begin(key, "fake", "default", "777", REQUEST, deadline)
    ledger.sent("old-sent", {"messageId": "1"})
    ledger.failed("old-failed", {"code": "UNAVAILABLE", "message": "x"})
    ledger.unknown("old-unknown", {"code": "UNAVAILABLE", "message": "x"})
    ledger.attempt("old-attempting")
    ledger.sent("new-sent", {"messageId": "2"})
    db.execute("UPDATE sends SET created_ms = 1000 WHERE key LIKE 'old-%'")
    assert ledger.prune(older_than_ms=5000) == 3
    remaining = {r[0] for r in db.execute("SELECT key FROM sends")}
    assert remaining == {"old-queued", "old-attempting", "new-sent"}


# ====================================================================== inbox


def test_inbox_store_returns_fresh_messages_with_seq_and_saves_the_cursor(
    db: sqlite3.Connection,
) -> None:
    inbox = Inbox(db)
    assert inbox.cursor("fake", "default") is None
    first = inbox.store("fake", "default", [inbound("1"), inbound("2")], "c1")
    assert [(m.message_id) for _, m in first] == ["1", "2"]
    assert first[0][0] < first[1][0]
    assert inbox.cursor("fake", "default") == "c1"
    assert inbox.cursor("fake", "other") is None
    inbox.store("fake", "default", [], None)  # no cursor: the stored one stays
    assert inbox.cursor("fake", "default") == "c1"


def test_inbox_stores_a_duplicate_once_and_does_not_report_it_fresh(
    db: sqlite3.Connection,
) -> None:
    inbox = Inbox(db)
    inbox.store("fake", "default", [inbound("1"), inbound("2")], "c1")
    again = inbox.store("fake", "default",
                        [inbound("2"), inbound("3"), inbound("2", chat_id="888"),
                         inbound("2", account_id="work")], "c2")
    assert [(m.message_id, m.chat_id, m.account_id) for _, m in again] == [
        ("3", "777", "default"), ("2", "888", "default"), ("2", "777", "work")]
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 5
    assert inbox.cursor("fake", "default") == "c2"


def test_inbox_store_is_atomic(db: sqlite3.Connection) -> None:
    inbox = Inbox(db)
    inbox.store("fake", "default", [inbound("1")], "c1")
    broken = InboundMessage(channel="fake", account_id="default", message_id="3",
                            chat_id="777", sender="4242", text=object(),  # type: ignore[arg-type]
                            ts=1)
    with pytest.raises(sqlite3.Error):
        inbox.store("fake", "default", [inbound("2"), broken], "c2")
    assert inbox.cursor("fake", "default") == "c1"
    assert [m["messageId"] for m in inbox.read(0, 10)] == ["1"]
    assert not db.in_transaction
    fresh = inbox.store("fake", "default", [inbound("2")], "c2")  # the connection still works
    assert [m.message_id for _, m in fresh] == ["2"]
    assert inbox.cursor("fake", "default") == "c2"


def test_inbox_list_filters_by_cursor_limit_channel_and_chat(db: sqlite3.Connection) -> None:
    inbox = Inbox(db)
    stored = inbox.store("fake", "default",
                         [inbound("1", "777", "a"), inbound("2", "888", "b"),
                          inbound("3", "777", "c")], "c1")
    inbox.store("other", "default", [inbound("1", "777", "d", channel="other")], "o1")
    seqs = [seq for seq, _ in stored]
    listed = inbox.read(0, 100)
    assert [m["text"] for m in listed] == ["a", "b", "c", "d"]
    first = listed[0]
    assert set(first) == {"seq", "channel", "accountId", "chatId", "messageId", "from",
                          "fromName", "text", "ts", "receivedAt"}
    assert (first["seq"], first["channel"], first["accountId"], first["chatId"],
            first["messageId"], first["from"], first["fromName"], first["ts"]) == (
        seqs[0], "fake", "default", "777", "1", "4242", "Ann", 1_700_000_000_000)
    assert [m["text"] for m in inbox.read(seqs[0], 100)] == ["b", "c", "d"]
    assert [m["text"] for m in inbox.read(0, 2)] == ["a", "b"]
    assert [m["text"] for m in inbox.read(0, 100, channel="fake")] == ["a", "b", "c"]
    assert [m["text"] for m in inbox.read(0, 100, chat_id="777")] == ["a", "c", "d"]
    assert [m["text"] for m in inbox.read(0, 100, channel="other", chat_id="777")] == ["d"]
    assert inbox.read(0, 100, channel="nope") == []


def test_inbox_prune_removes_old_messages_and_keeps_cursors(db: sqlite3.Connection) -> None:
    inbox = Inbox(db)
    inbox.store("fake", "default", [inbound("1", text="old"), inbound("2", text="new")], "c1")
    db.execute("UPDATE messages SET received_ms = 1000 WHERE message_id = '1'")
    assert inbox.prune(older_than_ms=5000) == 1
    assert [m["text"] for m in inbox.read(0, 10)] == ["new"]
    assert inbox.cursor("fake", "default") == "c1"


# ====================================================================== supervisor


def test_supervisor_connect_failure_is_reported_and_retried() -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.connect_errors = [ChannelError("bad gateway", transient=True)] * 3
        sup = ChannelSupervisor(fake, lambda: None, _ignore, backoff=fast_backoff())
        fake.probe = lambda: (sup.last_error, sup.reconnect_attempts, sup.connected)
        sup.start()
        assert sup.running and sup.snapshot()["started"] is False
        await asyncio.wait_for(sup.started.wait(), 3)
        assert fake.connect_calls == 4
        assert fake.probes == [(None, 0, False), ("bad gateway", 1, False),
                               ("bad gateway", 2, False), ("bad gateway", 3, False)]
        assert sup.connected and sup.last_error is None and sup.reconnect_attempts == 3
        assert sup.backoff.attempt == 0  # reset by the successful connect
        await sup.stop()

    run(main())


async def _ignore(channel: Any, messages: list[InboundMessage], cursor: str | None) -> None:
    return None


def test_supervisor_keeps_going_after_a_bug_in_the_channel() -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.connect_errors = [RuntimeError("oops")]
        sup = ChannelSupervisor(fake, lambda: None, _ignore, backoff=fast_backoff())
        fake.probe = lambda: sup.last_error
        sup.start()
        await asyncio.wait_for(sup.started.wait(), 3)
        assert fake.probes == [None, "RuntimeError: oops"]
        await sup.stop()

    run(main())


def test_supervisor_detects_a_stalled_poll_and_reconnects() -> None:
    async def main() -> None:
        fake = FakeChannel(deadline_s=0.05)
        sup = ChannelSupervisor(fake, lambda: None, _ignore, backoff=fast_backoff())
        fake.probe = lambda: (sup.last_error, sup.reconnect_attempts)
        sup.start()
        await until(lambda: fake.connect_calls >= 3)
        assert fake.poll_calls >= 2 and fake.poll_cancelled >= 2
        error, attempts = fake.probes[1]
        assert error is not None and "stalled" in error and attempts == 1
        assert fake.probes[2][1] == 2
        await sup.stop()

    run(main())


def test_supervisor_waits_at_least_the_retry_after_the_channel_asks_for() -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.connect_errors = [ChannelError("slow down", transient=True, retry_after_s=0.15)]
        sup = ChannelSupervisor(fake, lambda: None, _ignore, backoff=fast_backoff())
        sup.start()
        await until(lambda: sup.next_retry_at is not None)
        assert sup.next_retry_at is not None and sup.next_retry_at >= now_ms() + 100
        await asyncio.wait_for(sup.started.wait(), 3)
        gap = fake.connect_times[1] - fake.connect_times[0]
        assert gap >= 0.15 - 0.02  # backoff alone would be ≤ 0.02 s
        await sup.stop()

    run(main())


def test_supervisor_hands_messages_and_cursor_to_the_sink_and_polls_from_it() -> None:
    async def main() -> None:
        fake = FakeChannel()
        m1, m2 = inbound("1"), inbound("2")
        fake.batches = [([m1, m2], "c1"), ([], "c2")]
        cursors: dict[str, str | None] = {"cursor": "c0"}
        received: list[tuple[Any, list[InboundMessage], str | None]] = []

        async def sink(channel: Any, messages: list[InboundMessage],
                       cursor: str | None) -> None:
            received.append((channel, messages, cursor))
            cursors["cursor"] = cursor

        sup = ChannelSupervisor(fake, lambda: cursors["cursor"], sink, backoff=fast_backoff())
        assert sup.key == ("fake", "default")
        sup.start()
        await until(lambda: fake.poll_calls >= 3)
        assert received == [(fake, [m1, m2], "c1"), (fake, [], "c2")]
        assert fake.poll_cursors == ["c0", "c1", "c2"]
        assert sup.last_inbound_at is not None and sup.last_inbound_at <= now_ms()
        assert sup.info == {"bot": "fakebot"}
        await sup.stop()

    run(main())


def test_supervisor_started_is_set_only_after_the_first_connect() -> None:
    async def main() -> None:
        fake = FakeChannel()
        gate = asyncio.Event()
        real_connect = fake.connect

        async def slow_connect() -> dict[str, Any]:
            await gate.wait()
            return await real_connect()

        fake.connect = slow_connect  # type: ignore[method-assign]
        sup = ChannelSupervisor(fake, lambda: None, _ignore, backoff=fast_backoff())
        sup.start()
        await asyncio.sleep(0.05)
        assert not sup.started.is_set() and not sup.connected
        assert sup.last_connected_at is None
        gate.set()
        await asyncio.wait_for(sup.started.wait(), 3)
        assert sup.connected and sup.last_connected_at is not None
        await sup.stop()

    run(main())


def test_supervisor_stop_cancels_the_poll_and_closes_the_channel() -> None:
    async def main() -> None:
        fake = FakeChannel()
        sup = ChannelSupervisor(fake, lambda: None, _ignore, backoff=fast_backoff())
        sup.start()
        await until(lambda: fake.poll_calls == 1)
        await sup.stop()
        assert fake.poll_cancelled == 1 and fake.close_calls == 1
        assert not sup.running and not sup.connected and sup.last_stop_at is not None
        await asyncio.sleep(0.05)
        assert fake.connect_calls == 1  # nothing restarts after a stop

    run(main())


def test_supervisor_snapshot_fields_and_no_secret() -> None:
    async def main() -> None:
        fake = FakeChannel()
        sup = ChannelSupervisor(fake, lambda: None, _ignore, backoff=fast_backoff())
        before = sup.snapshot()
        assert (before["running"], before["connected"], before["started"]) == (
            False, False, False)
        sup.start()
        await asyncio.wait_for(sup.started.wait(), 3)
        snap = sup.snapshot()
        for key in ("accountId", "enabled", "configured", "running", "connected", "started",
                    "reconnectAttempts", "lastError", "lastConnectedAt", "lastStartAt",
                    "lastStopAt", "lastInboundAt", "lastOutboundAt", "nextRetryAt"):
            assert key in snap, key
        assert snap["accountId"] == "default" and snap["running"] and snap["connected"]
        assert snap["reconnectAttempts"] == 0 and snap["lastError"] is None
        assert snap["bot"] == "fakebot" and snap["tokenSource"] == "config"
        assert SECRET not in repr(snap) and "token" not in {k.lower() for k in snap}
        await sup.stop()

    run(main())


# ====================================================================== manager


def manager_of(db: sqlite3.Connection, *channels: FakeChannel,
               on_inbound: Callable[[int, InboundMessage], None] | None = None
               ) -> ChannelManager:
    manager = ChannelManager(list(channels), Inbox(db))
    if on_inbound is not None:
        manager.attach(Listener(on_inbound))
    return manager


class Listener:
    """Forwards inbound messages to a function (connection changes are ignored)."""

    def __init__(self, on_inbound: Callable[[int, InboundMessage], None]) -> None:
        self.on_inbound = on_inbound

    def on_channels_changed(self) -> None:
        pass


def test_manager_resolves_the_default_channel_and_account(db: sqlite3.Connection) -> None:
    work, default = FakeChannel(account_id="work"), FakeChannel(account_id="default")
    other = FakeChannel(name="other", account_id="main")
    manager = manager_of(db, work, default, other)
    assert manager.order == ["fake", "other"]
    assert manager.accounts("fake") == ["default", "work"]
    assert manager.resolve(None, None).channel is default
    assert manager.resolve(" FAKE ", "work").channel is work
    assert manager.resolve("other", None).channel is other


def test_manager_names_what_is_configured_when_a_request_names_something_else(
    db: sqlite3.Connection,
) -> None:
    manager = manager_of(db, FakeChannel(account_id="default"), FakeChannel(account_id="work"))
    with pytest.raises(UsageError) as caught:
        manager.resolve("whatsapp", None)
    assert "whatsapp" in caught.value.message and "configured: fake" in caught.value.message
    assert caught.value.code == "INVALID_REQUEST"
    with pytest.raises(UsageError) as caught:
        manager.resolve("fake", "home")
    assert "'home'" in caught.value.message
    assert "accounts: default, work" in caught.value.message


def test_manager_without_channels_says_none_is_configured(db: sqlite3.Connection) -> None:
    with pytest.raises(UsageError, match="no channel is configured") as caught:
        manager_of(db).resolve(None, None)
    assert "TELEGRAM_BOT_TOKEN" in caught.value.message
    assert "channels.telegram.botToken" in caught.value.message


def test_manager_sink_stores_before_notifying_and_only_fresh_messages(
    db: sqlite3.Connection,
) -> None:
    seen: list[tuple[int, str]] = []
    inbox = Inbox(db)

    def on_inbound(seq: int, message: InboundMessage) -> None:
        assert any(m["seq"] == seq for m in inbox.read(0, 100))  # stored already
        seen.append((seq, message.message_id))

    fake = FakeChannel()
    manager = manager_of(db, fake, on_inbound=on_inbound)
    run(manager._sink(fake, [inbound("1"), inbound("2")], "c1"))
    run(manager._sink(fake, [inbound("2"), inbound("3")], "c2"))
    assert [mid for _, mid in seen] == ["1", "2", "3"]
    assert inbox.cursor("fake", "default") == "c2"
    assert manager.supervisors[("fake", "default")].load_cursor() == "c2"


# ====================================================================== sending


def service_of(tmp_path: Path, fake: FakeChannel, timeout_ms: int = 5000
               ) -> tuple[SendService, Ledger]:
    db = open_database(tmp_path / "gateway.db")
    ledger = Ledger(db)
    manager = ChannelManager([fake], Inbox(db))
    service = SendService(ledger, manager, timeout_ms=timeout_ms, retention_ms=86_400_000,
                          backoff=Backoff(base=0.5, cap=30.0, rng=random.Random(1)))
    return service, ledger


def send(service: SendService, key: str, text: str = "hi", to: str = "777"
         ) -> Coroutine[Any, Any, dict[str, Any]]:
    return service.send(key, to, text, (), None, None)


def test_send_same_key_twenty_times_concurrently_calls_the_channel_once(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.hold = asyncio.Event()
        service, ledger = service_of(tmp_path, fake)
        tasks = [asyncio.create_task(send(service, "same")) for _ in range(20)]
        await until(lambda: fake.in_flight == 1)
        await asyncio.sleep(0.01)
        fake.hold.set()
        results = await asyncio.gather(*tasks)
        assert fake.send_calls == 1
        assert all(r == results[0] for r in results)
        assert results[0] == {"runId": "same", "messageId": "1001", "channel": "fake",
                              "chatId": "777", "accountId": "default"}
        record = ledger.get("same")
        assert record is not None and record.state == "sent" and record.result == results[0]
        assert service.pending == {} and service.tasks == {}

    run(main())


def test_send_repeat_after_success_answers_from_the_ledger(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        service, ledger = service_of(tmp_path, fake)
        first = await service.send("k", "chat:777", "hi", (), None, None)
        assert first["chatId"] == "777"
        record = ledger.get("k")
        assert record is not None and record.chat_id == "777"
        assert record.request == {"to": "chat:777", "text": "hi", "media": []}
        again = await service.send("k", "999", "different text", (), None, None)
        assert again == first and fake.send_calls == 1
        # a fresh service over the same ledger (a restart) answers the same
        restarted = SendService(ledger, service.channels, timeout_ms=5000,
                                retention_ms=86_400_000)
        assert await send(restarted, "k") == first and fake.send_calls == 1
        assert service.channels.resolve(None, None).last_outbound_at is not None

    run(main())


def test_send_to_a_bad_target_is_refused_without_a_ledger_row(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        service, ledger = service_of(tmp_path, fake)
        with pytest.raises(TargetError):
            await send(service, "k", to="nobody")
        assert ledger.get("k") is None and fake.send_calls == 0

    run(main())


def test_send_permanent_error_is_stored_and_replayed(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.scripts["hi"] = [ChannelError("chat not found", transient=False, status=400)]
        service, ledger = service_of(tmp_path, fake)
        with pytest.raises(WireError) as first:
            await send(service, "k")
        assert first.value.code == "INVALID_REQUEST" and "chat not found" in first.value.message
        record = ledger.get("k")
        assert record is not None and record.state == "failed" and record.attempts == 1
        assert record.error is not None and record.error["code"] == "INVALID_REQUEST"
        with pytest.raises(WireError) as again:
            await send(service, "k")
        assert error_from(again.value) == error_from(first.value)
        assert fake.send_calls == 1

    run(main())


def test_send_transient_errors_are_retried_until_delivered(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.scripts["hi"] = [transient(status=502), transient(status=429)]
        service, ledger = service_of(tmp_path, fake)
        result = await send(service, "k")
        assert result["messageId"] == "1003"
        assert fake.send_calls == 3
        record = ledger.get("k")
        assert record is not None and record.state == "sent" and record.attempts == 3
        assert record.error is None

    run(main())


def test_send_transient_errors_past_the_deadline_give_up(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.scripts["hi"] = [transient(retry_after_s=0.02) for _ in range(100)]
        service, ledger = service_of(tmp_path, fake, timeout_ms=120)
        started = asyncio.get_running_loop().time()
        with pytest.raises(WireError) as caught:
            await send(service, "k")
        assert asyncio.get_running_loop().time() - started < 1.0
        assert caught.value.code == "UNAVAILABLE" and "gave up" in caught.value.message
        record = ledger.get("k")
        assert record is not None and record.state == "failed"
        assert 2 <= record.attempts == fake.send_calls < 100
        calls = fake.send_calls
        with pytest.raises(WireError, match="gave up"):
            await send(service, "k")
        assert fake.send_calls == calls

    run(main())


def test_send_maybe_delivered_is_outcome_unknown_and_never_resent(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.scripts["hi"] = [transient("read timeout", maybe_delivered=True)]
        service, ledger = service_of(tmp_path, fake)
        with pytest.raises(WireError) as first:
            await send(service, "k")
        assert first.value.details is not None
        assert first.value.details["reason"] == "outcome-unknown"
        assert "not sent again" in first.value.message
        record = ledger.get("k")
        assert record is not None and record.state == "unknown"
        with pytest.raises(WireError) as again:
            await send(service, "k")
        assert again.value.details is not None
        assert again.value.details["reason"] == "outcome-unknown"
        assert fake.send_calls == 1

    run(main())


def test_send_resume_recovers_attempting_retries_queued_and_fails_expired(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        fake = FakeChannel()
        service, ledger = service_of(tmp_path, fake)
        error = {"code": "UNAVAILABLE", "message": "fake: down"}
        future = now_ms() + 60_000
        ledger.begin("was-calling", "fake", "default", "777", REQUEST, future)
        ledger.attempt("was-calling")
        ledger.begin("waiting", "fake", "default", "777",
                     {"to": "777", "text": "queued one", "media": []}, future)
        ledger.queue("waiting", now_ms() + 20, error)
        ledger.begin("expired", "fake", "default", "777", REQUEST, now_ms() - 1)
        ledger.queue("expired", 0, error)
        ledger.begin("gone", "fake", "removed", "777", REQUEST, future)

        assert service.resume() == (1, 1)
        result = await asyncio.wait_for(service.pending["waiting"], 3)
        assert result["messageId"] == "1001" and fake.calls == {"queued one": 1}
        states = {key: ledger.get(key) for key in ("was-calling", "waiting", "expired", "gone")}
        assert {k: r.state for k, r in states.items() if r} == {
            "was-calling": "unknown", "waiting": "sent", "expired": "failed", "gone": "failed"}
        calling = states["was-calling"]
        assert calling is not None and calling.error is not None
        assert calling.error["details"]["reason"] == "outcome-unknown"
        expired = states["expired"]
        assert expired is not None and expired.error == error
        gone = states["gone"]
        assert gone is not None and gone.error is not None
        assert gone.error["code"] == "INVALID_REQUEST" and "removed" in gone.error["message"]

    run(main())


def test_send_shutdown_drains_calls_in_progress_and_keeps_queued_ones(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        release = asyncio.Event()
        fake.scripts["a"] = [release]
        fake.scripts["b"] = [transient(retry_after_s=30)]
        service, ledger = service_of(tmp_path, fake, timeout_ms=60_000)
        task_a = asyncio.create_task(send(service, "ka", "a"))
        task_b = asyncio.create_task(send(service, "kb", "b"))
        await until(lambda: fake.calls.get("b") == 1 and fake.in_flight == 1)
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, release.set)
        started = loop.time()
        await service.shutdown(drain_s=3)
        assert loop.time() - started < 1.0  # waited for "a" only, not for "b"'s retry
        assert (await task_a)["runId"] == "ka"
        with pytest.raises(WireError) as caught:
            await task_b
        assert caught.value.code == "UNAVAILABLE" and caught.value.retryable is True
        await asyncio.sleep(0.01)
        kb = ledger.get("kb")
        assert kb is not None and kb.state == "queued"
        ka = ledger.get("ka")
        assert ka is not None and ka.state == "sent"
        with pytest.raises(WireError) as refused:
            await send(service, "kc", "c")
        assert refused.value.code == "UNAVAILABLE" and refused.value.retryable is True
        assert ledger.get("kc") is None and fake.calls.get("c") is None

    run(main())


def test_send_shutdown_drain_is_bounded(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.scripts["a"] = [asyncio.Event()]  # never answers
        service, ledger = service_of(tmp_path, fake)
        task = asyncio.create_task(send(service, "ka", "a"))
        await until(lambda: fake.in_flight == 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await service.shutdown(drain_s=0.05)
        assert 0.04 <= loop.time() - started < 1.0
        with pytest.raises(WireError) as caught:
            await task
        assert caught.value.code == "UNAVAILABLE" and caught.value.retryable is True
        await asyncio.sleep(0.01)
        record = ledger.get("ka")
        assert record is not None and record.state == "attempting"  # unknown at next start
        assert fake.in_flight == 0  # the call was cancelled

    run(main())


def test_send_shutdown_starts_no_new_channel_call_during_the_drain(tmp_path: Path) -> None:
    """A key that was queued (waiting to retry) when shutdown began must stay queued.

    Here its retry timer fires while the drain waits for another call: the retry
    starts a new channel call, which the end of the drain then cancels, leaving the
    row ``attempting`` (→ "outcome unknown" at the next start, never delivered).
    """
    async def main() -> None:
        fake = FakeChannel()
        release = asyncio.Event()
        fake.scripts["a"] = [release]
        fake.scripts["b"] = [transient(retry_after_s=0.03), asyncio.Event()]
        service, ledger = service_of(tmp_path, fake, timeout_ms=60_000)
        task_a = asyncio.create_task(send(service, "ka", "a"))
        task_b = asyncio.create_task(send(service, "kb", "b"))
        await until(lambda: fake.calls.get("b") == 1 and fake.in_flight == 1)
        asyncio.get_running_loop().call_later(0.15, release.set)
        await service.shutdown(drain_s=3)
        await task_a
        with pytest.raises(WireError):
            await task_b
        await asyncio.sleep(0.01)
        kb = ledger.get("kb")
        assert kb is not None
        assert (fake.calls["b"], kb.state) == (1, "queued")

    run(main())


def test_send_runs_at_most_calls_per_account_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeChannel()
        fake.hold = asyncio.Event()
        service, ledger = service_of(tmp_path, fake)
        tasks = [asyncio.create_task(send(service, f"k{i}", f"t{i}")) for i in range(20)]
        await until(lambda: fake.in_flight == CALLS_PER_ACCOUNT)
        await asyncio.sleep(0.05)
        assert fake.in_flight == fake.max_in_flight == CALLS_PER_ACCOUNT == 4
        assert ledger.counts() == {"attempting": 4, "queued": 16}
        fake.hold.set()
        results = await asyncio.gather(*tasks)
        assert len({r["messageId"] for r in results}) == 20 and fake.send_calls == 20
        assert fake.max_in_flight == CALLS_PER_ACCOUNT
        assert ledger.counts() == {"sent": 20}

    run(main())
