"""``openclaw message send``: one message through the gateway, safe to retry.

Every send carries an idempotency key (generated and printed when not given), so
the gateway delivers it at most once however often it is asked. A connection lost
mid-request is retried with the same key until the timeout; a gateway that cannot
be reached at all fails at once, with one line and exit 69. The CLI never talks to
a chat network itself.
"""

from __future__ import annotations

import os
import sys
import time

from openclaw.cli.common import print_json, resolve_target, timeout_s, wants_json
from openclaw.errors import GatewayUnreachable, RequestError

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["send", "usage"]


def usage(ns: argparse.Namespace) -> int:
    """``openclaw message`` alone: say which subcommands exist."""
    from openclaw.errors import UsageError

    raise UsageError("openclaw message needs a subcommand: send (see `openclaw message --help`)")


def _media(items: list[str] | None) -> list[str]:
    """URLs as given; local paths made absolute (the gateway resolves them, not the shell)."""
    out = []
    for item in items or []:
        if item.startswith(("http://", "https://")):
            out.append(item)
        else:
            out.append(os.path.abspath(os.path.expanduser(item)))
    return out


def send(ns: argparse.Namespace) -> int:
    """Send ``--message`` (and ``--media``) to ``--target``; print the delivery."""
    from openclaw.backoff import Backoff
    from openclaw.client.sync import GatewayClient

    key = ns.idempotency_key
    generated = not key
    if generated:
        import secrets

        key = secrets.token_hex(16)
        sys.stderr.write(f"idempotency key: {key} (pass it again to retry safely)\n")
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
                result = client.call("send", params, timeout=remaining)
            break
        except GatewayUnreachable as exc:
            delay = backoff.next()
            # Never reached: fail fast. Lost mid-request: the same key is safe to retry.
            if not connected_once or time.monotonic() + delay >= deadline:
                raise GatewayUnreachable(
                    f"{exc.message} (idempotency key {key}; retrying with it is safe)"
                    if connected_once else exc.message) from None
            sys.stderr.write(f"openclaw: {exc.message}; retrying with the same key\n")
            time.sleep(delay)  # backoff before reconnecting; there is no event to wait on
        except RequestError as exc:
            delay = backoff.next(None if exc.retry_after_ms is None else exc.retry_after_ms / 1000)
            # e.g. "the gateway is stopping": the same key is answered after the restart.
            if exc.retryable and connected_once and time.monotonic() + delay < deadline:
                sys.stderr.write(f"openclaw: {exc.message}; retrying with the same key\n")
                time.sleep(delay)
                continue
            if exc.details and exc.details.get("reason") == "outcome-unknown":
                exc.message += f" (idempotency key {key})"
            raise
    if wants_json(ns):
        print_json({**result, "idempotencyKey": key})
    else:
        chat = f" chat {result.get('chatId')}" if result.get("chatId") else ""
        sys.stdout.write(f"sent: message {result.get('messageId')} via {result.get('channel')}"
                         f"{chat} (key {key})\n")
    return 0
