"""dmPolicy and DM pairing through the channel manager, for any channel, across a restart.

The manager asks each account's access policy about every inbound message before it
is stored; pairing requests and approvals live in the gateway database, so a
restart (a new process opening the same file) keeps them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from openclaw.channels.access import AccessPolicy
from openclaw.channels.manager import ChannelManager
from openclaw.channels.registry import get_spec
from openclaw.errors import UsageError
from openclaw.inbound import InboundMessage
from openclaw.store.db import open_database
from openclaw.store.inbox import Inbox
from openclaw.store.pairing import MAX_PENDING, PairingRequest


class StubChannel:
    def __init__(self, name: str) -> None:
        self.name = name
        self.account_id = "default"
        self.spec = get_spec(name)


class Listener:
    def __init__(self) -> None:
        self.inbound: list[InboundMessage] = []
        self.pairing: list[PairingRequest] = []

    def on_inbound(self, seq: int, message: InboundMessage) -> None:
        self.inbound.append(message)

    def on_channels_changed(self) -> None:
        pass

    def on_pairing_request(self, request: PairingRequest) -> None:
        self.pairing.append(request)


def dm(channel: str, sender: str, message_id: str, **fields: Any) -> InboundMessage:
    return InboundMessage(channel=channel, account_id="default", message_id=message_id,
                          chat_id=fields.pop("chat_id", sender), sender=sender, text="hi",
                          ts=0, **fields)


def manager(db_path: Path, channel: str, policy: AccessPolicy) -> tuple[ChannelManager, Listener]:
    db = open_database(db_path)
    stub: Any = StubChannel(channel)
    mgr = ChannelManager([stub], Inbox(db), access={(channel, "default"): policy})
    listener = Listener()
    mgr.attach(listener)
    return mgr, listener


def deliver(mgr: ChannelManager, channel: str, *messages: InboundMessage) -> None:
    stub = mgr.supervisors[(channel, "default")].channel
    asyncio.run(mgr._sink(stub, list(messages), None))


@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
def test_pairing_gates_strangers_until_approved_and_survives_a_restart(
        tmp_path: Path, channel: str) -> None:
    db_path = tmp_path / "gateway.db"
    policy = AccessPolicy(dm_policy="pairing", allow_from=frozenset({"111"}))
    mgr, seen = manager(db_path, channel, policy)
    deliver(mgr, channel, dm(channel, "111", "1"), dm(channel, "222", "2"),
            dm(channel, "222", "3"))
    assert [m.message_id for m in seen.inbound] == ["1"]  # nothing of 222 reached the agent
    [request] = seen.pairing  # one code, not one per message
    assert request.sender == "222" and len(request.code) == 8
    assert not set(request.code) & set("01IO")
    assert [item["from"] for item in mgr.inbox.read(0, 10, channel)] == ["111"]
    mgr.inbox.db.close()

    mgr, seen = manager(db_path, channel, policy)  # a restart: a new process, same file
    [pending] = mgr.pairing.pending(channel)
    assert pending.code == request.code
    with pytest.raises(UsageError):
        mgr.pairing.approve("other", request.code)
    mgr.pairing.approve(channel, request.code.lower())
    mgr.inbox.db.close()

    mgr, seen = manager(db_path, channel, policy)
    deliver(mgr, channel, dm(channel, "222", "4"))
    assert [m.message_id for m in seen.inbound] == ["4"] and seen.pairing == []
    assert mgr.pairing.pending(channel) == []


def test_pending_requests_are_capped_per_account(tmp_path: Path) -> None:
    mgr, seen = manager(tmp_path / "g.db", "whatsapp", AccessPolicy())
    deliver(mgr, "whatsapp", *[dm("whatsapp", str(900 + n), str(n)) for n in range(5)])
    assert len(seen.pairing) == MAX_PENDING and seen.inbound == []


@pytest.mark.parametrize(("policy", "accepted"), [
    (AccessPolicy(dm_policy="allowlist", allow_from=frozenset({"111"})), ["1"]),
    (AccessPolicy(dm_policy="open"), ["1", "2"]),
    (AccessPolicy(dm_policy="disabled", allow_from=frozenset({"111"})), []),
    (AccessPolicy(dm_policy="allowlist", allow_from=frozenset({"*"})), ["1", "2"]),
])
def test_dm_policies(tmp_path: Path, policy: AccessPolicy, accepted: list[str]) -> None:
    mgr, seen = manager(tmp_path / "g.db", "whatsapp", policy)
    deliver(mgr, "whatsapp", dm("whatsapp", "111", "1"), dm("whatsapp", "222", "2"))
    assert [m.message_id for m in seen.inbound] == accepted
    assert seen.pairing == []


def test_groups_require_a_mention_and_never_get_pairing_codes(tmp_path: Path) -> None:
    policy = AccessPolicy(group_policy="open", groups={"g1@g.us": True, "g2@g.us": False},
                          require_mention=True)
    mgr, seen = manager(tmp_path / "g.db", "whatsapp", policy)
    deliver(mgr, "whatsapp",
            dm("whatsapp", "5", "1", chat_id="g1@g.us", chat_type="group"),
            dm("whatsapp", "5", "2", chat_id="g1@g.us", chat_type="group", mentioned=True),
            dm("whatsapp", "5", "3", chat_id="g2@g.us", chat_type="group"),
            dm("whatsapp", "5", "4", chat_id="g3@g.us", chat_type="group", mentioned=True))
    assert [m.message_id for m in seen.inbound] == ["2", "3"]
    assert seen.pairing == []
    allowlisted = AccessPolicy(group_policy="allowlist", allow_from=frozenset({"7"}))
    assert allowlisted.decide(dm("w", "5", "5", chat_id="g", chat_type="group"),
                              approved=True).action == "drop"  # approval is for DMs only
