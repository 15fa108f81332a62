"""Inbound messages and channel cursors, stored together so nothing is handled twice.

A poll round's messages and the cursor that confirms them (Telegram's next update
offset) are written in one transaction: after a crash either both are there (the
messages are not fetched again) or neither is (they are fetched again and stored
once, thanks to the unique message key).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from openclaw.clock import now_ms
from openclaw.inbound import InboundMessage
from openclaw.store.db import check_space, transaction

__all__ = ["Inbox"]


class Inbox:
    """The ``messages`` and ``channel_cursors`` tables."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def cursor(self, channel: str, account_id: str) -> str | None:
        """The stored cursor of one channel account."""
        row = self.db.execute(
            "SELECT cursor FROM channel_cursors WHERE channel = ? AND account_id = ?",
            (channel, account_id)).fetchone()
        return row[0] if row else None

    def store(self, channel: str, account_id: str, messages: list[InboundMessage],
              cursor: str | None) -> list[tuple[int, InboundMessage]]:
        """Store messages and the cursor atomically; return the new ones with their seq.

        Raises:
            DiskFull: the disk is (nearly) full; nothing was stored, the cursor did not
                move, so the channel hands the same messages over again later.
        """
        if messages:
            check_space(self.db)
        stamp = now_ms()
        fresh: list[tuple[int, InboundMessage]] = []
        with transaction(self.db):
            for item in messages:
                row = self.db.execute(
                    "INSERT OR IGNORE INTO messages (channel, account_id, chat_id, message_id, "
                    "sender, sender_name, text, ts, received_ms, media) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                    (item.channel, item.account_id, item.chat_id, item.message_id, item.sender,
                     item.sender_name, item.text, item.ts, stamp,
                     json.dumps(list(item.media)) if item.media else None)).fetchone()
                if row is not None:
                    fresh.append((int(row[0]), item))
            if cursor is not None:
                self.db.execute(
                    "INSERT INTO channel_cursors (channel, account_id, cursor, updated_ms) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (channel, account_id) DO UPDATE SET "
                    "cursor = excluded.cursor, updated_ms = excluded.updated_ms",
                    (channel, account_id, cursor, stamp))
        return fresh

    def read(self, after: int, limit: int, channel: str | None = None,
             chat_id: str | None = None) -> list[dict[str, Any]]:
        """Messages with ``seq > after``, oldest first, as ``messages.list`` returns them."""
        query = ("SELECT seq, channel, account_id, chat_id, message_id, sender, sender_name, "
                 "text, ts, received_ms, media FROM messages WHERE seq > ?")
        args: list[Any] = [after]
        if channel is not None:
            query += " AND channel = ?"
            args.append(channel)
        if chat_id is not None:
            query += " AND chat_id = ?"
            args.append(chat_id)
        query += " ORDER BY seq LIMIT ?"
        args.append(limit)
        return [
            {"seq": r[0], "channel": r[1], "accountId": r[2], "chatId": r[3], "messageId": r[4],
             "from": r[5], "fromName": r[6], "text": r[7], "ts": r[8], "receivedAt": r[9],
             **({"media": json.loads(r[10])} if r[10] else {})}
            for r in self.db.execute(query, args).fetchall()
        ]

    def unhandled(self) -> list[tuple[int, InboundMessage]]:
        """Stored messages the assistant has not answered yet, oldest first."""
        rows = self.db.execute(
            "SELECT seq, channel, account_id, chat_id, message_id, sender, sender_name, text, ts, "
            "media FROM messages WHERE handled = 0 ORDER BY seq").fetchall()
        return [(r[0], InboundMessage(channel=r[1], account_id=r[2], chat_id=r[3],
                                      message_id=r[4], sender=r[5], sender_name=r[6],
                                      text=r[7], ts=r[8],
                                      media=tuple(json.loads(r[9])) if r[9] else ()))
                for r in rows]

    def latest_chat(self) -> tuple[str, str, str] | None:
        """``(channel, account id, chat id)`` of the newest stored message, or None."""
        row = self.db.execute("SELECT channel, account_id, chat_id FROM messages "
                              "ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def mark_handled(self, seq: int) -> None:
        """The assistant has answered (or given up on) message ``seq``."""
        self.db.execute("UPDATE messages SET handled = 1 WHERE seq = ?", (seq,))

    def prune(self, older_than_ms: int) -> int:
        """Forget messages received before ``older_than_ms``."""
        return self.db.execute("DELETE FROM messages WHERE received_ms < ?",
                               (older_than_ms,)).rowcount
