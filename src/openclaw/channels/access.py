"""Who may talk to the assistant: the ``dmPolicy`` / ``groupPolicy`` decision, per account.

Every channel account carries an :class:`AccessPolicy` (resolved from its config
section by the channel's spec), and the channel manager asks it about every inbound
message before anything is stored or reaches the agent. Keeping the decision here,
outside the channels, is what makes it the same for every registered channel.

Direct messages, by ``dmPolicy``:

* ``pairing``: senders in ``allowFrom`` (or ``"*"``) and senders the owner approved
  (``openclaw pairing approve``) are let in; anyone else gets a one-time pairing code
  and nothing of theirs reaches the agent;
* ``allowlist``: only ``allowFrom`` (``"*"`` lets everyone in);
* ``open``: everyone;
* ``disabled``: nobody.

Group messages, by ``groupPolicy``: ``open`` (every member), ``allowlist`` (the group
itself or the sender in ``groupAllowFrom``, which falls back to ``allowFrom``) or
``disabled``. When ``groups`` is set, only the groups it names (or ``"*"``) are
heard at all, each with its own ``requireMention``. Pairing never applies to groups:
no code is ever posted into a group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from openclaw.inbound import InboundMessage

__all__ = ["DM_POLICIES", "GROUP_POLICIES", "AccessPolicy", "Decision", "DmPolicy",
           "GroupPolicy"]

DmPolicy = Literal["pairing", "allowlist", "open", "disabled"]
GroupPolicy = Literal["open", "allowlist", "disabled"]
DM_POLICIES: Final = ("pairing", "allowlist", "open", "disabled")
GROUP_POLICIES: Final = ("open", "allowlist", "disabled")
WILDCARD: Final = "*"


@dataclass(frozen=True)
class Decision:
    """What to do with one inbound message.

    ``action`` is ``accept`` (store it, the agent answers), ``pair`` (an unknown
    direct sender under ``pairing``: offer a code) or ``drop`` (log ``reason``).
    """

    action: Literal["accept", "pair", "drop"]
    reason: str = ""


@dataclass(frozen=True)
class AccessPolicy:
    """One account's access rules, already normalised by its channel's spec.

    Ids in ``allow_from`` / ``group_allow_from`` are compared as the channel writes
    sender and chat ids (Telegram: numeric ids; WhatsApp: phone digits and JIDs).
    """

    dm_policy: DmPolicy = "pairing"
    allow_from: frozenset[str] = frozenset()
    group_policy: GroupPolicy = "allowlist"
    #: ``None``: the same as ``allow_from``.
    group_allow_from: frozenset[str] | None = None
    #: ``None``: every group may be heard. Else group id (or ``"*"``) → requireMention.
    groups: Mapping[str, bool] | None = None
    #: requireMention for a group that ``groups`` does not set it for.
    require_mention: bool = False

    def decide(self, message: InboundMessage, approved: bool) -> Decision:
        """The decision for ``message``; ``approved``: the owner approved its sender."""
        if message.chat_type == "group":
            return self._group(message)
        if self.dm_policy == "disabled":
            return Decision("drop", "dmPolicy is disabled")
        if self.dm_policy == "open" or self._listed(self.allow_from, message):
            return Decision("accept")
        if self.dm_policy == "pairing":
            return Decision("accept") if approved else Decision("pair", "not approved yet")
        return Decision("drop", "not in allowFrom")

    def _group(self, message: InboundMessage) -> Decision:
        if self.group_policy == "disabled":
            return Decision("drop", "groupPolicy is disabled")
        require = self.require_mention
        if self.groups is not None:
            if message.chat_id in self.groups:
                require = self.groups[message.chat_id]
            elif WILDCARD in self.groups:
                require = self.groups[WILDCARD]
            else:
                return Decision("drop", "group not in groups")
        if self.group_policy == "allowlist":
            allowed = (self.group_allow_from if self.group_allow_from is not None
                       else self.allow_from)
            if not self._listed(allowed, message):
                return Decision("drop", "not in groupAllowFrom")
        if require and not message.mentioned:
            return Decision("drop", "not mentioned (requireMention)")
        return Decision("accept")

    @staticmethod
    def _listed(allowed: frozenset[str], message: InboundMessage) -> bool:
        return (WILDCARD in allowed or message.sender in allowed or message.chat_id in allowed
                or any(alias in allowed for alias in message.sender_aliases))
