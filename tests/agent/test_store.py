"""Run and session storage: bounded context, durable finals, re-accepting an unfinished run."""

from __future__ import annotations

from pathlib import Path

from openclaw.agent.store import RunStore, SessionStore
from openclaw.store.db import open_database


def stores(tmp_path: Path) -> tuple[RunStore, SessionStore]:
    db = open_database(tmp_path / "gateway.db")
    return RunStore(db), SessionStore(db)


def test_context_is_bounded_by_turns_and_characters_and_starts_with_the_user(
    tmp_path: Path,
) -> None:
    _, sessions = stores(tmp_path)
    for n in range(5):
        sessions.add_exchange("s", f"question {n}", f"answer {n}", f"r{n}")
    assert sessions.context("s", 4, 10_000) == [
        ("user", "question 3"), ("assistant", "answer 3"),
        ("user", "question 4"), ("assistant", "answer 4")]
    # 3 turns would begin with an assistant turn: that one is dropped.
    assert sessions.context("s", 3, 10_000) == [("user", "question 4"), ("assistant", "answer 4")]
    assert sessions.context("s", 10, 20) == [("user", "question 4"), ("assistant", "answer 4")]
    assert sessions.context("s", 0, 10_000) == []
    assert sessions.context("other", 10, 10_000) == []


def test_history_list_and_reset(tmp_path: Path) -> None:
    _, sessions = stores(tmp_path)
    sessions.add_exchange("a", "hi", "hello", "r1")
    sessions.add_exchange("b", "yo", "hey", "r2")
    assert [t["text"] for t in sessions.history("a", 10)] == ["hi", "hello"]
    assert [t["text"] for t in sessions.history("a", 1)] == ["hello"]
    assert {s["key"]: s["turns"] for s in sessions.sessions(10)} == {"a": 2, "b": 2}
    assert sessions.reset("a") == 2 and sessions.history("a", 10) == []


def test_finals_are_durable_and_an_unfinished_run_can_be_accepted_again(tmp_path: Path) -> None:
    runs, _ = stores(tmp_path)
    runs.accept("done", "main", {"message": "x"})
    runs.start("done")
    runs.finish("done", {"runId": "done", "status": "ok"})
    runs.accept("cut", "main", {"message": "y"})
    runs.start("cut")
    assert runs.unfinished() == ["cut"]

    again = RunStore(open_database(tmp_path / "gateway.db"))  # a new process
    assert again.get("done")["final"] == {"runId": "done", "status": "ok"}  # type: ignore[index]
    again.accept("cut", "main", {"message": "y"})
    record = again.get("cut")
    assert record is not None and record["state"] == "queued" and record["startedAt"] is None
    again.accept("done", "main", {"message": "changed"})  # a finished run is never reset
    finished = again.get("done")
    assert finished is not None and finished["state"] == "ok"
    assert finished["request"] == {"message": "x"}
    assert again.prune(10**15) == 1 and again.get("done") is None and again.get("cut")


def test_messages_from_before_the_assistant_are_not_answered_after_an_upgrade(
    tmp_path: Path,
) -> None:
    import sqlite3

    from openclaw.store.db import MIGRATIONS

    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2]):  # a database of the previous release
        old.executescript(script)
        old.execute(f"PRAGMA user_version={number + 1}")
    old.execute("INSERT INTO messages (channel, account_id, chat_id, message_id, sender, text, "
                "ts, received_ms) VALUES ('telegram', 'default', '1', '9', '1', 'old', 0, 0)")
    old.close()
    from openclaw.store.inbox import Inbox

    inbox = Inbox(open_database(path))
    assert inbox.unhandled() == []


def test_the_checkpointer_moves_the_log_into_the_database(tmp_path: Path) -> None:
    from openclaw.store.db import AUTOCHECKPOINT_PAGES, Checkpointer

    db = open_database(tmp_path / "gateway.db")
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == AUTOCHECKPOINT_PAGES
    sessions = SessionStore(db)
    for n in range(200):
        sessions.add_exchange("s", f"question {n} " * 20, f"answer {n} " * 20, f"r{n}")
    checkpointer = Checkpointer(tmp_path / "gateway.db")
    busy, log, done = checkpointer.checkpoint()
    assert busy == 0 and log > 0 and done == log  # every page of the log is in the file
    checkpointer.close()
    assert len(sessions.history("s", 1000)) == 400


def test_an_interrupted_run_takes_the_exchange_it_stored_with_it(tmp_path: Path) -> None:
    runs, sessions = stores(tmp_path)
    sessions.add_exchange("s", "earlier", "kept", "r0")
    runs.accept("cut", "s", {"message": "q"})
    sessions.add_exchange("s", "q", "a reply", "cut")
    assert sessions.stored_reply("s", "cut") == "a reply"
    assert sessions.stored_reply("s", "r-none") is None
    runs.finish_interrupted("cut", {"runId": "cut", "status": "error"})
    assert sessions.stored_reply("s", "cut") is None
    assert [t["text"] for t in sessions.history("s", 10)] == ["earlier", "kept"]
    assert runs.get("cut")["final"] == {"runId": "cut", "status": "error"}  # type: ignore[index]
