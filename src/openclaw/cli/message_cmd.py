"""``openclaw message send``: one message through the gateway, safe to retry.

Every send carries an idempotency key (generated when not given), so the gateway
delivers it at most once however often it is asked. A connection lost mid-request
is retried with the same key until the timeout; a gateway that cannot be reached at
all fails at once, with one line and exit 69. A generated key is shown only where
it is of use: with the delivery, or with an outcome that retrying under it can
settle (a lost connection, a timeout, an unknown outcome), never before a failure
that no retry fixes. The CLI never talks to a chat network itself.
"""

from __future__ import annotations

import os
import sys
import time

from openclaw.cli.common import resolve_target, timeout_s, wants_json
from openclaw.cli.render import emit
from openclaw.errors import GatewayUnreachable, RequestError
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["NO_CHANNEL_HINT", "SendResult", "send", "usage"]

#: What to do when the gateway has no channel to send through (as in the quick start).
NO_CHANNEL_HINT = ("connect a Telegram bot: set TELEGRAM_BOT_TOKEN in the gateway's environment "
                   "(or channels.telegram.botToken in openclaw.json) and restart the gateway")


def usage(ns: argparse.Namespace) -> int:
    """``openclaw message`` alone: say which subcommands exist."""
    from openclaw.errors import UsageError

    raise UsageError("openclaw message needs a subcommand: send")


def _media(items: list[str] | None) -> list[str]:
    """URLs as given; local paths made absolute (the gateway resolves them, not the shell)."""
    out = []
    for item in items or []:
        if item.startswith(("http://", "https://")):
            out.append(item)
        else:
            out.append(os.path.abspath(os.path.expanduser(item)))
    return out


class SendResult(CommandResult):
    """A delivered message: the gateway's ``send`` answer and the key it was sent under."""

    def __init__(self, answer: dict[str, Any], key: str) -> None:
        self.answer = answer
        self.key = key

    def to_json(self) -> Any:
        """The ``send`` result plus ``idempotencyKey``."""
        return {**self.answer, "idempotencyKey": self.key}

    def to_text(self) -> str:
        """``sent: message <id> via <channel> chat <chat> (key <key>)``."""
        chat = f" chat {self.answer.get('chatId')}" if self.answer.get("chatId") else ""
        return (f"sent: message {self.answer.get('messageId')} via "
                f"{self.answer.get('channel')}{chat} (key {self.key})")


def _no_channel(client: Any, ns: argparse.Namespace, error: RequestError) -> bool:
    """True when ``error`` came from a gateway that has no channel at all."""
    if error.code != "INVALID_REQUEST" or ns.channel:
        return False
    try:
        status = client.call("channels.status", {}, timeout=5)
    except (GatewayUnreachable, RequestError):
        return False
    return isinstance(status, dict) and not status.get("channelOrder")


def send(ns: argparse.Namespace) -> int:
    """Send ``--message`` (and ``--media``) to ``--target``; print the delivery."""
    from openclaw.backoff import Backoff
    from openclaw.client.sync import GatewayClient

    key = ns.idempotency_key
    if not key:
        import secrets

        key = secrets.token_hex(16)
    params: dict[str, Any] = {"to": ns.target, "idempotencyKey": key}
    if ns.message is not None:
        params["message"] = ns.message
    media = _media(ns.media)
    if media:
        params["mediaUrls"] = media
    if ns.channel:
        params["channel"] = ns.channel
    if ns.account:
        params["accountId"] = ns.account
    target = resolve_target(ns)
    budget = timeout_s(ns)
    deadline = time.monotonic() + budget
    connected_once = False
    backoff = Backoff(base=0.2, cap=2.0)
    while True:
        remaining = max(0.05, deadline - time.monotonic())
        try:
            with GatewayClient(target.url, token=target.token, password=target.password,
                               timeout=min(remaining, 10.0)) as client:
                connected_once = True
                try:
                    result = client.call("send", params, timeout=remaining)
                except RequestError as exc:
                    if _no_channel(client, ns, exc):
                        exc.hint = NO_CHANNEL_HINT
                    raise
            break
        except GatewayUnreachable as exc:
            delay = backoff.next()
            # Never reached: fail fast. Lost mid-request: the same key is safe to retry.
            if not connected_once or time.monotonic() + delay >= deadline:
                if connected_once:
                    exc.message += f" (idempotency key {key}; retrying with it is safe)"
                raise
            sys.stderr.write(f"openclaw: {exc.message}; retrying with the same key {key}\n")
            time.sleep(delay)  # backoff before reconnecting; there is no event to wait on
        except RequestError as exc:
            delay = backoff.next(None if exc.retry_after_ms is None else exc.retry_after_ms / 1000)
            # e.g. "the gateway is stopping": the same key is answered after the restart.
            if exc.retryable and connected_once and time.monotonic() + delay < deadline:
                sys.stderr.write(f"openclaw: {exc.message}; retrying with the same key {key}\n")
                time.sleep(delay)
                continue
            if exc.details and exc.details.get("reason") == "outcome-unknown":
                exc.message += f" (idempotency key {key})"
            elif exc.retryable:
                exc.message += f" (idempotency key {key}; retrying with it is safe)"
            raise
    return emit(SendResult(result, key), wants_json(ns))
