"""Agent runs and session transcripts in the gateway's SQLite database.

A run row is written when the run is accepted and gets its final answer (the
exact payload the ``agent`` request's second response carries) when it ends, so
a repeated ``idempotencyKey`` after a restart is answered from here. Transcripts
are kept per session key; a reset hides earlier turns from the model (they are
deleted).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from openclaw.clock import now_ms
from openclaw.store.db import check_space, transaction

__all__ = ["RunStore", "SessionStore"]


class RunStore:
    """The ``runs`` table."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, run_id: str) -> dict[str, Any] | None:
        """``{runId, sessionKey, state, request, final, acceptedAt, startedAt, endedAt}``."""
        row = self.db.execute(
            "SELECT run_id, session_key, state, request, final, accepted_ms, started_ms, "
            "ended_ms FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return {"runId": row[0], "sessionKey": row[1], "state": row[2],
                "request": json.loads(row[3]), "final": json.loads(row[4]) if row[4] else None,
                "acceptedAt": row[5], "startedAt": row[6], "endedAt": row[7]}

    def accept(self, run_id: str, session_key: str, request: dict[str, Any]) -> int:
        """Record a run as queued (again, for one a dead process never finished).

        Raises:
            DiskFull: the disk is (nearly) full: the run is refused, not started.
        """
        check_space(self.db)
        stamp = now_ms()
        self.db.execute(
            "INSERT INTO runs (run_id, session_key, state, request, accepted_ms) "
            "VALUES (?, ?, 'queued', ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
            "state = 'queued', request = excluded.request, accepted_ms = excluded.accepted_ms, "
            "started_ms = NULL WHERE runs.final IS NULL",
            (run_id, session_key, json.dumps(request), stamp))
        return stamp

    def start(self, run_id: str) -> int:
        """The run got its session's turn."""
        stamp = now_ms()
        self.db.execute("UPDATE runs SET state = 'running', started_ms = ? WHERE run_id = ?",
                        (stamp, run_id))
        return stamp

    def finish(self, run_id: str, final: dict[str, Any]) -> int:
        """Store the final answer every later request for this run id gets."""
        stamp = now_ms()
        self.db.execute(
            "UPDATE runs SET state = ?, final = ?, ended_ms = ? WHERE run_id = ?",
            (final.get("status", "error"), json.dumps(final), stamp, run_id))
        return stamp

    def finish_interrupted(self, run_id: str, final: dict[str, Any]) -> int:
        """Store the error final of a run a dead process left unfinished and, in the same
        transaction, remove the exchange that process may have stored for it before it
        died (between the reply and the final): an error final adds nothing to the
        transcript."""
        with transaction(self.db):
            self.db.execute(
                "DELETE FROM turns WHERE run_id = ? AND session_key = "
                "(SELECT session_key FROM runs WHERE run_id = ?)", (run_id, run_id))
            stamp = self.finish(run_id, final)
        return stamp

    def unfinished(self) -> list[str]:
        """Runs a previous process accepted but never finished, oldest first."""
        rows = self.db.execute(
            "SELECT run_id FROM runs WHERE state IN ('queued', 'running') ORDER BY accepted_ms"
        ).fetchall()
        return [row[0] for row in rows]

    def prune(self, older_than_ms: int) -> int:
        """Forget finished runs accepted before ``older_than_ms``."""
        return self.db.execute(
            "DELETE FROM runs WHERE accepted_ms < ? AND state NOT IN ('queued', 'running')",
            (older_than_ms,)).rowcount


class SessionStore:
    """The ``turns`` table: one transcript per session key."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, session_key: str, role: str, text: str, run_id: str | None,
            meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one turn; return it as :meth:`page` would."""
        stamp = now_ms()
        cursor = self.db.execute(
            "INSERT INTO turns (session_key, role, text, ts, run_id, meta) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (session_key, role, text, stamp, run_id, json.dumps(meta) if meta else None))
        return {"seq": cursor.lastrowid, "role": role, "text": text, "ts": stamp,
                "runId": run_id, "meta": meta}

    def add_exchange(self, session_key: str, user: str, assistant: str, run_id: str,
                     tools: list[dict[str, Any]] | None = None) -> None:
        """The user turn, the run's tool calls (``tool`` turns: ``{text, meta}``, the
        result and the call) and the reply, in one transaction."""
        with transaction(self.db):
            self.add(session_key, "user", user, run_id)
            for tool in tools or ():
                self.add(session_key, "tool", tool["text"], run_id, tool.get("meta"))
            self.add(session_key, "assistant", assistant, run_id)

    def context(self, session_key: str, max_turns: int, max_chars: int) -> list[tuple[str, str]]:
        """The newest user and assistant turns, oldest first, within ``max_turns`` and
        ``max_chars`` (tool turns are the run's own business: later runs see the reply)."""
        if max_turns <= 0:
            return []
        rows = self.db.execute(
            "SELECT role, text FROM turns WHERE session_key = ? AND role IN ('user', "
            "'assistant') ORDER BY seq DESC LIMIT ?",
            (session_key, max_turns)).fetchall()
        kept: list[tuple[str, str]] = []
        used = 0
        for role, text in rows:
            if used + len(text) > max_chars:
                break
            kept.append((role, text))
            used += len(text)
        kept.reverse()
        while kept and kept[0][0] != "user":  # a context starts with the user's turn
            kept.pop(0)
        return kept

    def history(self, session_key: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` turns, oldest first."""
        rows = self.db.execute(
            "SELECT seq, role, text, ts, run_id FROM turns WHERE session_key = ? "
            "ORDER BY seq DESC LIMIT ?", (session_key, limit)).fetchall()
        return [{"seq": r[0], "role": r[1], "text": r[2], "ts": r[3], "runId": r[4]}
                for r in reversed(rows)]

    def sessions(self, limit: int) -> list[dict[str, Any]]:
        """Session keys with their turn counts and last activity, newest first."""
        rows = self.db.execute(
            "SELECT session_key, COUNT(*), MIN(ts), MAX(ts) FROM turns GROUP BY session_key "
            "ORDER BY MAX(ts) DESC LIMIT ?", (limit,)).fetchall()
        return [{"key": r[0], "turns": r[1], "createdAt": r[2], "updatedAt": r[3]}
                for r in rows]

    def count(self, session_key: str) -> int:
        """How many turns the session has."""
        return int(self.db.execute("SELECT COUNT(*) FROM turns WHERE session_key = ?",
                                   (session_key,)).fetchone()[0])

    def stats(self) -> dict[str, tuple[int, int]]:
        """Session key → (turn count, time of the last turn), for every session."""
        rows = self.db.execute(
            "SELECT session_key, COUNT(*), MAX(ts) FROM turns GROUP BY session_key").fetchall()
        return {row[0]: (row[1], row[2]) for row in rows}

    def page(self, session_key: str, limit: int, skip_newest: int = 0) -> list[dict[str, Any]]:
        """Up to ``limit`` turns before the newest ``skip_newest`` ones, oldest first,
        with their ``meta``."""
        rows = self.db.execute(
            "SELECT seq, role, text, ts, run_id, meta FROM turns WHERE session_key = ? "
            "ORDER BY seq DESC LIMIT ? OFFSET ?", (session_key, limit, skip_newest)).fetchall()
        return [_turn(row) for row in reversed(rows)]

    def after(self, session_key: str, seq: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` turns with a ``seq`` above ``seq``, oldest first."""
        rows = self.db.execute(
            "SELECT seq, role, text, ts, run_id, meta FROM turns WHERE session_key = ? "
            "AND seq > ? ORDER BY seq LIMIT ?", (session_key, seq, limit)).fetchall()
        return [_turn(row) for row in rows]

    def first(self, session_key: str, role: str) -> str | None:
        """The text of the session's first turn of ``role``."""
        row = self.db.execute(
            "SELECT text FROM turns WHERE session_key = ? AND role = ? ORDER BY seq LIMIT 1",
            (session_key, role)).fetchone()
        return str(row[0]) if row is not None else None

    def stored_reply(self, session_key: str, run_id: str) -> str | None:
        """The reply of ``run_id`` if its exchange is in the transcript already: a
        process that died after storing it, before the run's final, left it there."""
        row = self.db.execute(
            "SELECT text FROM turns WHERE session_key = ? AND run_id = ? AND role = "
            "'assistant' ORDER BY seq DESC LIMIT 1", (session_key, run_id)).fetchone()
        return str(row[0]) if row is not None else None

    def reset(self, session_key: str) -> int:
        """Forget a session's transcript; return how many turns were removed."""
        return self.db.execute("DELETE FROM turns WHERE session_key = ?",
                               (session_key,)).rowcount


def _turn(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"seq": row[0], "role": row[1], "text": row[2], "ts": row[3], "runId": row[4],
            "meta": json.loads(row[5]) if row[5] else None}
