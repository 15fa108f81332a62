"""DM pairing: one-time codes for unknown senders, and the senders the owner approved.

Under ``dmPolicy: pairing`` a direct message from a sender nobody listed creates a
pending request with an 8-character code (uppercase, without the look-alikes
``0 O 1 I``) that expires after an hour; the sender is told the code once, and the
owner approves it with ``openclaw pairing approve <channel> <code>``. At most three
requests wait per account; more senders are ignored until one is approved or
expires. Both tables live in the gateway database, so approvals survive restarts.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any, Final

from openclaw.clock import now_ms
from openclaw.errors import UsageError
from openclaw.store.db import transaction

__all__ = ["CODE_ALPHABET", "MAX_PENDING", "REQUEST_TTL_MS", "PairingRequest", "PairingStore"]

CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
REQUEST_TTL_MS: Final = 3_600_000
MAX_PENDING: Final = 3


@dataclass(frozen=True)
class PairingRequest:
    """A pending request: who asked, where to answer, and the code that approves it."""

    channel: str
    account_id: str
    sender: str
    chat_id: str
    sender_name: str | None
    code: str
    created_ms: int
    expires_ms: int

    def to_wire(self) -> dict[str, Any]:
        """The request as ``channels.pairing.list`` reports it."""
        return {"requestId": f"{self.channel}:{self.code}", "channel": self.channel,
                "accountId": self.account_id, "senderId": self.sender,
                "senderName": self.sender_name, "chatId": self.chat_id, "code": self.code,
                "createdAt": self.created_ms, "expiresAt": self.expires_ms}


_REQUEST_COLUMNS = "channel, account_id, sender, chat_id, sender_name, code, created_ms, expires_ms"


class PairingStore:
    """The ``pairing_requests`` and ``pairing_allow`` tables."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def is_approved(self, channel: str, account_id: str, sender: str) -> bool:
        """True when the owner approved ``sender`` on this account."""
        return self.db.execute(
            "SELECT 1 FROM pairing_allow WHERE channel = ? AND account_id = ? AND sender = ?",
            (channel, account_id, sender)).fetchone() is not None

    def request(self, channel: str, account_id: str, sender: str, chat_id: str,
                sender_name: str | None) -> PairingRequest | None:
        """A new request for ``sender``, or None when none should be offered now.

        None when the sender already has an unexpired request (its code was sent once
        already) or the account has :data:`MAX_PENDING` waiting.
        """
        stamp = now_ms()
        with transaction(self.db):
            self.db.execute("DELETE FROM pairing_requests WHERE expires_ms <= ?", (stamp,))
            pending = self.db.execute(
                "SELECT sender FROM pairing_requests WHERE channel = ? AND account_id = ?",
                (channel, account_id)).fetchall()
            if any(row[0] == sender for row in pending) or len(pending) >= MAX_PENDING:
                return None
            while True:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                taken = self.db.execute(
                    "SELECT 1 FROM pairing_requests WHERE channel = ? AND code = ?",
                    (channel, code)).fetchone()
                if taken is None:
                    break
            request = PairingRequest(channel, account_id, sender, chat_id, sender_name, code,
                                     stamp, stamp + REQUEST_TTL_MS)
            self.db.execute(
                f"INSERT INTO pairing_requests ({_REQUEST_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (channel, account_id, sender, chat_id, sender_name, code, request.created_ms,
                 request.expires_ms))
        return request

    def pending(self, channel: str | None = None) -> list[PairingRequest]:
        """Unexpired requests, oldest first (of one channel when given)."""
        query = f"SELECT {_REQUEST_COLUMNS} FROM pairing_requests WHERE expires_ms > ?"
        args: list[Any] = [now_ms()]
        if channel is not None:
            query += " AND channel = ?"
            args.append(channel)
        rows = self.db.execute(query + " ORDER BY created_ms", args).fetchall()
        return [PairingRequest(*row) for row in rows]

    def approved(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Approved senders (of one channel when given)."""
        query = "SELECT channel, account_id, sender, sender_name, approved_ms FROM pairing_allow"
        args: list[Any] = []
        if channel is not None:
            query += " WHERE channel = ?"
            args.append(channel)
        return [{"channel": r[0], "accountId": r[1], "senderId": r[2], "senderName": r[3],
                 "approvedAt": r[4]}
                for r in self.db.execute(query + " ORDER BY approved_ms", args).fetchall()]

    def approve(self, channel: str, code: str, account_id: str | None = None
                ) -> PairingRequest:
        """Approve the pending request with ``code`` (case-insensitive).

        Raises:
            UsageError: no unexpired request of ``channel`` (and ``account_id``) has it.
        """
        request = self._find(channel, code, account_id)
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO pairing_allow (channel, account_id, sender, sender_name, approved_ms)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, account_id, sender) DO NOTHING",
                (channel, request.account_id, request.sender, request.sender_name, now_ms()))
            self.db.execute(
                "DELETE FROM pairing_requests WHERE channel = ? AND code = ?",
                (channel, request.code))
        return request

    def dismiss(self, channel: str, code: str, account_id: str | None = None
                ) -> PairingRequest:
        """Drop the pending request with ``code`` without approving it (UsageError if none)."""
        request = self._find(channel, code, account_id)
        self.db.execute("DELETE FROM pairing_requests WHERE channel = ? AND code = ?",
                        (channel, request.code))
        return request

    def _find(self, channel: str, code: str, account_id: str | None) -> PairingRequest:
        wanted = code.strip().upper()
        for request in self.pending(channel):
            if request.code == wanted and account_id in (None, request.account_id):
                return request
        where = f"{channel}" + (f" account {account_id}" if account_id else "")
        raise UsageError(f"no pending pairing request with code {code.strip()!r} on {where} "
                         "(codes expire after an hour; see openclaw pairing list)")
