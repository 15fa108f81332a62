"""The WhatsApp channel against a fake client that emits neonize's event sequences.

The fake stands where :mod:`openclaw.channels.whatsapp.adapter` stands: it receives
the same calls and answers with the same events the adapter translates from neonize
(QR codes that rotate, pair success, connected, messages with media, receipts,
disconnects, logged out, unanswered keepalives), and records what is sent.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fake_whatsapp import FakeClient
from openclaw.backoff import Backoff
from openclaw.channels.base import ChannelError, OutboundMessage, TargetError
from openclaw.channels.registry import ChannelEnv
from openclaw.channels.supervisor import ChannelSupervisor
from openclaw.channels.whatsapp import WhatsAppAccount, whatsapp_accounts
from openclaw.channels.whatsapp.channel import WhatsAppChannel
from openclaw.channels.whatsapp.events import (
    Disconnected,
    EventHandler,
    KeepAliveTimeout,
    LoggedOut,
    MediaRef,
    MessageReceived,
    QrCode,
    ReceiptReceived,
    SendFailed,
    WhatsAppEvent,
)
from openclaw.channels.whatsapp.targets import normalize_target
from openclaw.config import channel_section, parse_config
from openclaw.errors import ConfigError, OpenClawError
from openclaw.inbound import InboundMessage

T = TypeVar("T")
FRIEND = "447911123456@s.whatsapp.net"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def account(tmp_path: Path, **section: Any) -> WhatsAppAccount:
    config = parse_config({"channels": {"whatsapp": section}})
    [acc] = whatsapp_accounts(channel_section(config, "whatsapp"),
                              ChannelEnv(None, {}, tmp_path))
    return acc


class Harness:
    def __init__(self, tmp_path: Path, *, reachable: bool = True, **section: Any) -> None:
        self.account = account(tmp_path, **section)
        self.clients: list[FakeClient] = []
        self.reachable = reachable

        def factory(path: Path, handler: EventHandler) -> FakeClient:
            client = FakeClient(path, handler, reachable=self.reachable)
            self.clients.append(client)
            return client

        self.channel = WhatsAppChannel(self.account, client_factory=factory)

    @property
    def client(self) -> FakeClient:
        return self.clients[-1]

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)


# -- targets --------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "jid"), [
    ("+1 650 253 0000", "16502530000@s.whatsapp.net"),
    ("16502530000", "16502530000@s.whatsapp.net"),
    ("+1-650-253-0000", "16502530000@s.whatsapp.net"),
    ("whatsapp:+44 7911 123456", "447911123456@s.whatsapp.net"),
    ("WhatsApp:447911123456", "447911123456@s.whatsapp.net"),
    ("16502530000@s.whatsapp.net", "16502530000@s.whatsapp.net"),
    ("16502530000@c.us", "16502530000@s.whatsapp.net"),
    ("120363041234567890@g.us", "120363041234567890@g.us"),
    ("16502530000-1600000000@g.us", "16502530000-1600000000@g.us"),
    ("99887766554433@lid", "99887766554433@lid"),
])
def test_targets_as_people_write_them(written: str, jid: str) -> None:
    assert normalize_target(written) == jid


@pytest.mark.parametrize("bad", ["+1 555", "+999 123456789", "hello", "@g.us",
                                 "whatsapp:", "1650253000x@s.whatsapp.net"])
def test_a_bad_target_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(TargetError) as caught:
        normalize_target(bad)
    assert caught.value.code == "INVALID_REQUEST"
    assert repr(bad) in caught.value.message


# -- config ---------------------------------------------------------------------------


def test_accounts_inherit_the_top_level_and_normalise_allow_from(tmp_path: Path) -> None:
    config = parse_config({"channels": {"whatsapp": {
        "allowFrom": ["+1 650-253-0000", "whatsapp:447911123456"], "dmPolicy": "allowlist",
        "accounts": {"work": {"mediaMaxMb": 5}, "home": {"dmPolicy": "open"},
                     "off": {"enabled": False}}}}})
    accounts = whatsapp_accounts(channel_section(config, "whatsapp"),
                                 ChannelEnv(None, {}, tmp_path))
    assert [a.account_id for a in accounts] == ["work", "home"]
    work, home = accounts
    assert work.access.allow_from == frozenset({"16502530000", "447911123456"})
    assert (work.access.dm_policy, home.access.dm_policy) == ("allowlist", "open")
    assert work.media_max_bytes == 5 * 1024 * 1024
    assert work.credentials_dir == tmp_path / "credentials" / "whatsapp" / "work"
    assert work.secrets() == ()


def test_a_new_account_defaults_to_pairing(tmp_path: Path) -> None:
    assert account(tmp_path).access.dm_policy == "pairing"


@pytest.mark.parametrize(("section", "key"), [
    ({"accounts": {"../x": {}}}, "channels.whatsapp.accounts.../x"),
    ({"allowFrom": ["alice"]}, "channels.whatsapp.allowFrom[0]"),
    ({"dmPolicy": "maybe"}, "channels.whatsapp.dmPolicy"),
])
def test_bad_sections_are_refused_naming_the_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"channels": {"whatsapp": section}})
    assert caught.value.key == key


# -- linking --------------------------------------------------------------------------


def test_without_credentials_connect_asks_for_a_login_without_starting_a_client(
        tmp_path: Path) -> None:
    h = Harness(tmp_path)
    with pytest.raises(ChannelError) as caught:
        run(h.channel.connect())
    assert caught.value.login_required and not caught.value.transient
    assert "openclaw channels login --channel whatsapp" in caught.value.message
    assert h.clients == []


def test_qr_login_rotates_codes_and_ends_linked(tmp_path: Path) -> None:
    h = Harness(tmp_path)

    async def go() -> tuple[dict[str, Any], ...]:
        started = await h.channel.login_start(force=False, phone=None, timeout_s=5)
        h.client.emit(QrCode("2@second-code"))
        rotated = await h.channel.login_wait(session_key=started["sessionKey"],
                                             current_qr=started["qrDataUrl"], timeout_s=5)
        h.client.link()
        linked = await h.channel.login_wait(session_key=started["sessionKey"],
                                            current_qr=rotated["qrDataUrl"], timeout_s=5)
        facts = await h.channel.connect()
        return started, rotated, linked, facts

    started, rotated, linked, facts = run(go())
    assert started["connected"] is False
    assert started["qrDataUrl"].startswith("data:image/png;base64,")
    assert "█" in started["qrText"]
    assert rotated["qrDataUrl"] != started["qrDataUrl"]
    assert linked["connected"] is True and "+16502530000" in linked["message"]
    assert facts == {"self": "+16502530000"}
    mode = stat.S_IMODE(os.stat(h.account.credentials_dir).st_mode)
    assert mode == 0o700
    assert h.channel.snapshot()["linked"] is True


def test_a_phone_login_returns_a_pairing_code(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    started = run(h.channel.login_start(force=False, phone="16502530000", timeout_s=5))
    assert started["pairingCode"] == "ABCD-EFGH"
    assert "qrDataUrl" not in started
    assert h.client.sent == [("pair", "16502530000")]


def test_a_login_that_cannot_reach_whatsapp_says_so(tmp_path: Path) -> None:
    h = Harness(tmp_path, reachable=False)
    with pytest.raises(OpenClawError) as caught:
        run(h.channel.login_start(force=False, phone=None, timeout_s=5))
    assert "cannot reach WhatsApp" in caught.value.message
    assert "no such host" in caught.value.message


# -- receiving ------------------------------------------------------------------------


def linked(tmp_path: Path, **section: Any) -> Harness:
    h = Harness(tmp_path, **section)
    h.account.credentials_dir.mkdir(parents=True)
    h.account.credentials_path.write_bytes(b"linked")
    return h


def message(message_id: str, text: str, *, chat: str = FRIEND, sender: str = FRIEND,
            **fields: Any) -> MessageReceived:
    return MessageReceived(message_id=message_id, chat=chat, sender=sender, text=text,
                           ts_ms=1_700_000_000_000, **fields)


def test_messages_with_media_and_receipts_reach_the_sink(tmp_path: Path) -> None:
    h = linked(tmp_path, mediaMaxMb=1)
    calls: list[list[InboundMessage]] = []

    async def sink(messages: list[InboundMessage], cursor: str | None) -> None:
        calls.append(messages)

    async def photo() -> bytes:
        return b"\x89PNG fake"

    async def go() -> None:
        await h.channel.connect()
        h.client.emit(message("A1", "hello", push_name="Ann"))
        h.client.emit(message("A2", "look", media=MediaRef("image", "image/png", 9, None, photo)))
        h.client.emit(message("A3", "", media=MediaRef("video", "video/mp4", 5 * 2**20, None,
                                                         photo)))
        h.client.emit(message("A4", "hi @16502530000", chat="1203630@g.us", is_group=True,
                              sender="99887766554433@lid", sender_phone=FRIEND))
        h.client.emit(message("A5", "mine", from_me=True))
        h.client.emit(ReceiptReceived(FRIEND, ("M1",), "read"))
        await h.settle()
        await h.channel.poll(None, sink)

    run(go())
    [batch] = calls
    assert [m.message_id for m in batch] == ["A1", "A2", "A3", "A4"]
    first, picture, video, group = batch
    assert (first.sender, first.chat_id, first.sender_name, first.chat_type) == (
        "447911123456", FRIEND, "Ann", "direct")
    assert "+447911123456" in first.sender_aliases
    [stored] = picture.media
    assert Path(stored).read_bytes() == b"\x89PNG fake"
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert Path(stored).is_relative_to(h.account.media_dir)
    assert video.media == () and video.text == "<video>"  # over the 1 MB cap
    assert (group.chat_type, group.sender, group.mentioned) == ("group", "447911123456", True)
    assert h.channel.receipts == 1


def test_disconnect_stall_and_logout_end_the_round(tmp_path: Path) -> None:
    h = linked(tmp_path)

    async def nothing(messages: list[InboundMessage], cursor: str | None) -> None:
        raise AssertionError("no messages")

    async def round_after(event: WhatsAppEvent) -> ChannelError:
        await h.channel.connect()
        h.client.emit(event)
        with pytest.raises(ChannelError) as caught:
            await h.channel.poll(None, nothing)
        return caught.value

    dropped = run(round_after(Disconnected("stream end")))
    assert dropped.transient and not dropped.login_required
    assert "stream end" in dropped.message

    async def stalled() -> ChannelError:
        await h.channel.connect()
        h.client.emit(KeepAliveTimeout(1))
        h.client.emit(KeepAliveTimeout(2))
        with pytest.raises(ChannelError) as caught:
            await h.channel.poll(None, nothing)
        return caught.value

    stall = run(stalled())
    assert stall.transient and "keepalive" in stall.message

    gone = run(round_after(LoggedOut("logged out by WhatsApp (reason 401)")))
    assert gone.login_required and not gone.transient
    assert gone.message == "logged out: run `openclaw channels login --channel whatsapp`"
    assert not h.account.credentials_dir.exists()


def test_a_logged_out_account_is_parked_not_retried_and_a_login_wakes_it(
        tmp_path: Path) -> None:
    h = linked(tmp_path)

    async def sink(messages: list[InboundMessage], cursor: str | None) -> None:
        pass

    async def go() -> tuple[str, int, str, str]:
        changed = asyncio.Event()
        supervisor = ChannelSupervisor(h.channel, lambda: None, lambda c, m, k: sink(m, k),
                                       on_change=changed.set,
                                       backoff=Backoff(base=0.01, cap=0.01))
        supervisor.start()
        await supervisor.started.wait()
        changed.clear()
        h.client.emit(LoggedOut())
        while not supervisor.logged_out:
            await changed.wait()
            changed.clear()
        parked = supervisor.state
        attempts = supervisor.reconnect_attempts
        started = await h.channel.login_start(force=False, phone=None, timeout_s=5)
        h.client.link()
        result = await h.channel.login_wait(session_key=started["sessionKey"],
                                            current_qr=None, timeout_s=5)
        assert result["connected"]
        supervisor.wake()
        while not supervisor.connected:
            await changed.wait()
            changed.clear()
        state = supervisor.state
        await supervisor.stop()
        return parked, attempts, state, str(supervisor.snapshot()["lastError"])

    parked, attempts, state, error = run(go())
    assert parked == "logged-out"
    assert attempts == 0  # parked, not retried in a loop
    assert state == "connected" and error == "None"


# -- sending --------------------------------------------------------------------------


def test_text_is_split_and_media_carry_the_caption(tmp_path: Path) -> None:
    h = linked(tmp_path, textChunkLimit=100)
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"png")
    song = tmp_path / "song.ogg"
    song.write_bytes(b"ogg")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"pdf")

    async def go() -> list[Any]:
        await h.channel.connect()
        long = await h.channel.send(OutboundMessage(FRIEND, ("word " * 50).strip()))
        pic = await h.channel.send(OutboundMessage(FRIEND, "a cat", (str(picture), str(report))))
        voice = await h.channel.send(OutboundMessage(FRIEND, "listen", (str(song),)))
        return [long, pic, voice]

    long, pic, voice = run(go())
    sent = h.client.sent
    texts = [item for item in sent[:3]]
    assert all(kind == "text" and len(text) <= 100 for kind, _, text in texts)
    assert " ".join(text for _, _, text in texts) == ("word " * 50).strip()
    assert long.extra["messageIds"] == ["M1", "M2", "M3"]
    assert sent[3] == ("image", FRIEND, "cat.png", "image/png", "a cat")
    assert sent[4] == ("document", FRIEND, "report.pdf", "application/pdf", "")
    assert sent[5:] == [("text", FRIEND, "listen"), ("audio", FRIEND, "song.ogg", "audio/ogg", "")]
    assert pic.message_id == "M5" and voice.message_id == "M7"


def test_send_failures_keep_their_meaning(tmp_path: Path) -> None:
    h = linked(tmp_path)

    async def go(error: SendFailed) -> ChannelError:
        await h.channel.connect()
        h.client.fail_next = error
        with pytest.raises(ChannelError) as caught:
            await h.channel.send(OutboundMessage(FRIEND, "hi"))
        return caught.value

    unsent = run(go(SendFailed("websocket not connected")))
    assert unsent.transient and not unsent.maybe_delivered
    maybe = run(go(SendFailed("timed out", maybe_delivered=True)))
    assert maybe.maybe_delivered
    missing = tmp_path / "nope.png"
    with pytest.raises(ChannelError) as caught:
        run(h.channel.send(OutboundMessage(FRIEND, "x", (str(missing),))))
    assert not caught.value.transient


def test_sending_while_unlinked_is_refused_with_the_login_hint(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    with pytest.raises(ChannelError) as caught:
        run(h.channel.send(OutboundMessage(FRIEND, "hi")))
    assert "openclaw channels login" in caught.value.message and not caught.value.transient
