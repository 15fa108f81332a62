"""WhatsApp targets as people write them, turned into JIDs (or refused).

Accepted: E.164 numbers with or without ``+``, with spaces, dashes, dots or
parentheses (``+1 555-123-4567``, ``15551234567``); an optional ``whatsapp:``
prefix; user JIDs (``15551234567@s.whatsapp.net``, the older ``@c.us``), group
JIDs (``120363…@g.us``), ``@lid`` and ``@newsletter`` JIDs. Numbers are checked with
``phonenumbers``, so a number no country uses is refused before any network call.
"""

from __future__ import annotations

import re
from typing import Final

from openclaw.channels.base import TargetError

__all__ = ["jid_digits", "normalize_target"]

_USER_JID: Final = re.compile(r"(\d{5,20})(?::\d+)?@(s\.whatsapp\.net|c\.us)")
_OTHER_JID: Final = re.compile(r"(\d{5,20}(?:-\d{5,20})?)@(g\.us|lid|newsletter)")
_NUMBER: Final = re.compile(r"\+?[\d\s().-]+")
_EXAMPLE: Final = "use a phone number with its country code, e.g. +16502530000, or a JID"


def normalize_target(to: str) -> str:
    """The JID ``to`` names.

    Raises:
        TargetError: ``to`` is no number, an invalid number, or a malformed JID; the
            message names it.
    """
    text = to.strip()
    if text[:9].lower() == "whatsapp:":
        text = text[9:].strip()
    if "@" in text:
        user = _USER_JID.fullmatch(text)
        if user:
            return _phone_jid(user[1], to)
        other = _OTHER_JID.fullmatch(text)
        if other:
            return text
        raise TargetError(f"not a WhatsApp chat: {to!r} ({_EXAMPLE})")
    if not _NUMBER.fullmatch(text) or not any(char.isdigit() for char in text):
        raise TargetError(f"not a WhatsApp chat: {to!r} ({_EXAMPLE})")
    return _phone_jid("".join(char for char in text if char.isdigit()), to)


def _phone_jid(digits: str, original: str) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise TargetError(f"not a valid phone number: {original!r} ({_EXAMPLE})")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164.lstrip('+')}@s.whatsapp.net"


def jid_digits(jid: str) -> str:
    """The user part of a JID without its device suffix (``1555…:3@s…`` → ``1555…``)."""
    return jid.split("@", 1)[0].split(":", 1)[0]
