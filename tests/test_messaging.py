"""Channels and ``send`` end to end: a real gateway, a Bot-API-speaking server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import FakeTelegram
from harness import GatewayProcess, RawClient, clean_env, free_port

ALLOWED_USER = 4242


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:TEST-token-abc") as fake:
        yield fake


def telegram_config(fake: FakeTelegram, **extra: Any) -> dict[str, Any]:
    section = {"botToken": fake.token, "apiRoot": fake.api_root, "allowFrom": [ALLOWED_USER],
               "pollTimeoutSeconds": 1, **extra}
    return {"channels": {"telegram": section}}


def client(gateway: GatewayProcess) -> RawClient:
    raw = RawClient(gateway.url)
    raw.handshake(gateway.token)
    return raw


def wait_ready(gateway: GatewayProcess, timeout: float = 10.0) -> None:
    """Poll /readyz (readiness is a state another process reaches; there is no event)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/readyz", timeout=2):
                return
        except urllib.error.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_send_text_reaches_telegram_once(
    make_gateway: Callable[..., GatewayProcess], telegram: FakeTelegram,
) -> None:
    gateway = make_gateway(config=telegram_config(telegram))
    raw = client(gateway)
    reply = raw.request("send", {"to": "777", "message": "hello there", "idempotencyKey": "k1"})
    assert reply["ok"] is True, reply
    payload = reply["payload"]
    assert payload["runId"] == "k1" and payload["channel"] == "telegram"
    assert payload["chatId"] == "777" and payload["messageId"] == "1000"
    assert telegram.sent_texts() == ["hello there"]
    again = raw.request("send", {"to": "777", "message": "hello there", "idempotencyKey": "k1"})
    assert again["payload"] == payload
    assert telegram.sent_texts() == ["hello there"]


def test_inbound_message_becomes_an_event_and_is_stored(
    make_gateway: Callable[..., GatewayProcess], telegram: FakeTelegram,
) -> None:
    gateway = make_gateway(config=telegram_config(telegram))
    wait_ready(gateway)
    raw = client(gateway)
    telegram.push_message(555, "ignore me", from_id=999)
    telegram.push_message(ALLOWED_USER, "hi gateway", from_id=ALLOWED_USER)
    event = raw.next_event("message")["payload"]
    assert event["text"] == "hi gateway" and event["from"] == str(ALLOWED_USER)
    assert event["channel"] == "telegram" and event["chatId"] == str(ALLOWED_USER)
    listed = raw.request("messages.list", {})["payload"]
    assert [m["text"] for m in listed["messages"]] == ["hi gateway"]
