"""Session metadata in the gateway's SQLite database (the ``session_meta`` table).

One row per session key: the session's current id (a new one after each reset, so a
client can tell a fresh conversation from the one it displayed), its label, its model
override, its thinking level and when it was created and last changed. Rows are few
and read on every run (the model override), so the whole table is kept in memory and
written through: reads never touch SQLite.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, replace

from openclaw.clock import now_ms

__all__ = ["UNSET", "LabelTaken", "SessionMeta", "SessionMetaStore"]


class _Unset:
    """The type of :data:`UNSET`."""

    def __repr__(self) -> str:
        return "UNSET"


#: "Leave this field as it is" for :meth:`SessionMetaStore.patch` (``None`` clears it).
UNSET = _Unset()


class LabelTaken(ValueError):
    """Another session already has this label (labels name one session each)."""


@dataclass(frozen=True)
class SessionMeta:
    """One session's metadata."""

    key: str
    session_id: str
    label: str | None
    model: str | None
    thinking_level: str | None
    created_ms: int
    updated_ms: int


def _new_id() -> str:
    return uuid.uuid4().hex


class SessionMetaStore:
    """The ``session_meta`` table, cached in memory."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        rows = db.execute(
            "SELECT session_key, session_id, label, model, thinking_level, created_ms, "
            "updated_ms FROM session_meta").fetchall()
        self._rows: dict[str, SessionMeta] = {row[0]: SessionMeta(*row) for row in rows}

    def get(self, key: str) -> SessionMeta | None:
        """The metadata of ``key``, or None for a session never seen."""
        return self._rows.get(key)

    def all(self) -> list[SessionMeta]:
        """Every session's metadata."""
        return list(self._rows.values())

    def model_for(self, key: str) -> str | None:
        """The model override of ``key`` (``"<provider>/<model>"``), if one is set."""
        meta = self._rows.get(key)
        return meta.model if meta is not None else None

    def ensure(self, key: str) -> SessionMeta:
        """The metadata of ``key``, created (with a new session id) if missing."""
        meta = self._rows.get(key)
        if meta is None:
            stamp = now_ms()
            meta = SessionMeta(key, _new_id(), None, None, None, stamp, stamp)
            self.db.execute(
                "INSERT INTO session_meta (session_key, session_id, created_ms, updated_ms) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (session_key) DO NOTHING",
                (key, meta.session_id, stamp, stamp))
            self._rows[key] = meta
        return meta

    def find_label(self, label: str) -> SessionMeta | None:
        """The session labelled ``label``, if any."""
        return next((meta for meta in self._rows.values() if meta.label == label), None)

    def patch(self, key: str, *, label: str | _Unset | None = UNSET,
              model: str | _Unset | None = UNSET,
              thinking_level: str | _Unset | None = UNSET) -> SessionMeta:
        """Set (a value) or clear (None) fields of ``key``; UNSET fields stay.

        Raises:
            LabelTaken: another session has ``label``.
        """
        meta = self.ensure(key)
        if isinstance(label, str):
            holder = self.find_label(label)
            if holder is not None and holder.key != key:
                raise LabelTaken(f"label {label!r} is already used by session {holder.key!r}")
        updated = replace(
            meta,
            label=meta.label if isinstance(label, _Unset) else label,
            model=meta.model if isinstance(model, _Unset) else model,
            thinking_level=(meta.thinking_level if isinstance(thinking_level, _Unset)
                            else thinking_level),
            updated_ms=now_ms())
        self.db.execute(
            "UPDATE session_meta SET label = ?, model = ?, thinking_level = ?, updated_ms = ? "
            "WHERE session_key = ?",
            (updated.label, updated.model, updated.thinking_level, updated.updated_ms, key))
        self._rows[key] = updated
        return updated

    def renew(self, key: str) -> SessionMeta:
        """A reset: the session gets a new id; label and overrides stay."""
        meta = replace(self.ensure(key), session_id=_new_id(), updated_ms=now_ms())
        self.db.execute(
            "UPDATE session_meta SET session_id = ?, updated_ms = ? WHERE session_key = ?",
            (meta.session_id, meta.updated_ms, key))
        self._rows[key] = meta
        return meta

    def delete(self, key: str) -> SessionMeta | None:
        """Forget ``key``'s metadata; return what it was."""
        meta = self._rows.pop(key, None)
        self.db.execute("DELETE FROM session_meta WHERE session_key = ?", (key,))
        return meta
