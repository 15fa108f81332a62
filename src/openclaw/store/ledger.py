"""The send ledger: one row per idempotency key, written before the channel is called.

States::

    queued      accepted; not being attempted right now (waiting to retry)
    attempting  a channel call is (or was) in progress
    sent        delivered; ``result`` holds the answer every repeat gets
    failed      given up; ``error`` holds the wire error every repeat gets
    unknown     a call was in progress when the gateway died, or failed after the
                request may have left: it may or may not have been delivered

Because ``attempting`` is committed before the network call, a crash between the
call and the write of its outcome leaves evidence: at the next start such rows
become ``unknown``, and a retry is answered "outcome unknown" instead of sending a
second copy.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from openclaw.clock import now_ms
from openclaw.store.db import check_space

__all__ = ["FINAL_STATES", "Ledger", "SendRecord"]

FINAL_STATES = ("sent", "failed", "unknown")


@dataclass(frozen=True)
class SendRecord:
    """One ledger row, decoded."""

    key: str
    state: str
    channel: str
    account_id: str
    chat_id: str
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    attempts: int
    created_ms: int
    next_attempt_ms: int
    deadline_ms: int


_COLUMNS = ("key, state, channel, account_id, chat_id, request, result, error, attempts, "
            "created_ms, next_attempt_ms, deadline_ms")


def _record(row: tuple[Any, ...]) -> SendRecord:
    return SendRecord(
        key=row[0], state=row[1], channel=row[2], account_id=row[3], chat_id=row[4],
        request=json.loads(row[5]),
        result=json.loads(row[6]) if row[6] else None,
        error=json.loads(row[7]) if row[7] else None,
        attempts=row[8], created_ms=row[9], next_attempt_ms=row[10], deadline_ms=row[11],
    )


class Ledger:
    """Idempotency ledger and outbox over the ``sends`` table."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, key: str) -> SendRecord | None:
        """The row of ``key``, if any."""
        row = self.db.execute(f"SELECT {_COLUMNS} FROM sends WHERE key = ?", (key,)).fetchone()
        return _record(row) if row else None

    def begin(self, key: str, channel: str, account_id: str, chat_id: str,
              request: dict[str, Any], deadline_ms: int, *, attempting: bool = False) -> bool:
        """Record a new key (committed); False when the key exists.

        ``attempting``: a channel call starts right after this commit (one write instead
        of two); otherwise the key waits as ``queued``.

        Raises:
            DiskFull: the disk is full, or too nearly so for the send's outcome to be
                recorded too; nothing was written and nothing must be sent.
        """
        check_space(self.db)
        stamp = now_ms()
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO sends (key, state, channel, account_id, chat_id, request, "
            "attempts, created_ms, updated_ms, deadline_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, "attempting" if attempting else "queued", channel, account_id, chat_id,
             json.dumps(request), int(attempting), stamp, stamp, deadline_ms),
        )
        return cursor.rowcount == 1

    def requeue(self, key: str) -> None:
        """An ``attempting`` key whose call never started goes back to ``queued``."""
        self.db.execute(
            "UPDATE sends SET state = 'queued', attempts = MAX(attempts - 1, 0), updated_ms = ? "
            "WHERE key = ? AND state = 'attempting'", (now_ms(), key))

    def attempt(self, key: str) -> None:
        """A channel call for ``key`` starts now (committed before the call is made)."""
        self.db.execute(
            "UPDATE sends SET state = 'attempting', attempts = attempts + 1, updated_ms = ? "
            "WHERE key = ?", (now_ms(), key))

    def sent(self, key: str, result: dict[str, Any]) -> None:
        """Delivered: store the answer every repeat of the key gets."""
        self._finish(key, "sent", result=result)

    def failed(self, key: str, error: dict[str, Any]) -> None:
        """Given up: store the error every repeat of the key gets."""
        self._finish(key, "failed", error=error)

    def unknown(self, key: str, error: dict[str, Any]) -> None:
        """The call may have been delivered; a repeat is told so, never resent."""
        self._finish(key, "unknown", error=error)

    def queue(self, key: str, next_attempt_ms: int, error: dict[str, Any]) -> None:
        """A transient failure: try again at ``next_attempt_ms``."""
        self.db.execute(
            "UPDATE sends SET state = 'queued', next_attempt_ms = ?, error = ?, updated_ms = ? "
            "WHERE key = ?", (next_attempt_ms, json.dumps(error), now_ms(), key))

    def _finish(self, key: str, state: str, *, result: dict[str, Any] | None = None,
                error: dict[str, Any] | None = None) -> None:
        self.db.execute(
            "UPDATE sends SET state = ?, result = ?, error = ?, updated_ms = ? WHERE key = ?",
            (state, json.dumps(result) if result is not None else None,
             json.dumps(error) if error is not None else None, now_ms(), key))

    def recover(self) -> int:
        """At start: calls that were in progress when the gateway died become ``unknown``."""
        error = {"code": "UNAVAILABLE", "message": "the gateway stopped while this message "
                 "was being sent; it may or may not have been delivered",
                 "details": {"reason": "outcome-unknown"}}
        cursor = self.db.execute(
            "UPDATE sends SET state = 'unknown', error = ?, updated_ms = ? "
            "WHERE state = 'attempting'", (json.dumps(error), now_ms()))
        return cursor.rowcount

    def queued(self) -> list[SendRecord]:
        """Every queued row (to resume after a start), oldest first."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM sends WHERE state = 'queued' ORDER BY created_ms"
        ).fetchall()
        return [_record(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Rows per state (for status and health)."""
        rows = self.db.execute("SELECT state, COUNT(*) FROM sends GROUP BY state").fetchall()
        return {state: count for state, count in rows}

    def prune(self, older_than_ms: int) -> int:
        """Forget finished keys created before ``older_than_ms``; return how many."""
        cursor = self.db.execute(
            "DELETE FROM sends WHERE created_ms < ? AND state IN ('sent', 'failed', 'unknown')",
            (older_than_ms,))
        return cursor.rowcount
