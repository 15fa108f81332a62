"""The one secret scrubber: what the log, the channels, the model providers and the
service status use to keep secrets out of text and out of sight.

* :class:`Redactor` masks known secret values (also URL-encoded, as they appear in
  request URLs) and, on top of them, text shaped like a credential that nobody told
  it about (``token=…``, ``Bearer …``, a Telegram bot token, an ``sk-…`` API key, a
  PEM private key).
* :func:`is_secret_key` and :func:`redact_env` judge variables by their names
  (``…_TOKEN``, ``…_API_KEY``), for the service environment.

Both share one list of the words that name a secret. The module depends on nothing
of the project and compiles its patterns on first use, so importing it is cheap on
the CLI path.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = ["MASK", "MIN_SECRET_LENGTH", "Redactor", "is_secret_key", "redact_env"]

#: What a secret is replaced with.
MASK = "***"
#: Known secrets shorter than this are not masked: masking a two-letter "secret"
#: would mangle every message while hiding next to nothing.
MIN_SECRET_LENGTH = 4

# Words that make a name (a variable, a JSON key, a query parameter) name a secret.
_SECRET_WORDS = (r"token|passw(?:or)?d|secret|api[_-]?key|authorization|credentials?"
                 r"|private[_-]?key")
_SECRET_KEY = r"\w*?(?:" + _SECRET_WORDS + r")"
_SHAPES = (
    r"(?i)(?P<keep>\b(?:bearer|basic)\s+)(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
    # "key": "value with spaces" in JSON text
    r'(?i)(?P<keep>"' + _SECRET_KEY + r'"\s*:\s*")(?P<secret>(?!\*\*\*")[^"]+)',
    # key=value, key: value, "key": "value" for credential-like keys (access_token, botToken...)
    r"(?i)(?P<keep>\b" + _SECRET_KEY + r"\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<secret>(?!\*\*\*)(?!bearer\b|basic\b)[^\s\"',;}&]+)",
    r"(?P<secret>(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,})",  # Telegram bot tokens, also in URLs
    r"(?P<secret>\bsk-[A-Za-z0-9_-]{16,})",  # OpenAI/Anthropic-style API keys
    r"(?P<secret>-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)",
)
_compiled: list[re.Pattern[str]] = []  # _SHAPES, compiled by the first Redactor
_secret_name: list[re.Pattern[str]] = []  # _SECRET_WORDS for names, compiled on first use


def is_secret_key(name: str) -> bool:
    """True for names that carry secrets (``OPENCLAW_GATEWAY_TOKEN``, ``apiKey``, …)."""
    if not _secret_name:
        _secret_name.append(re.compile(_SECRET_WORDS, re.IGNORECASE))
    return _secret_name[0].search(name) is not None


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` with the values of secret-named variables replaced by ``***``."""
    return {key: (MASK if is_secret_key(key) else value) for key, value in env.items()}


class Redactor:
    """Replaces secrets in text with ``***``.

    Known secrets (a gateway token, a bot token, an API key) are always removed, in
    every form they take in text: as they are and URL-encoded. On top of them,
    patterns catch credential-shaped text the caller did not know about; more
    patterns (``logging.redactPatterns``) can be given, and a pattern's ``keep``
    group, if it has one, is left in place before the mask.

    Args:
        secrets: values to remove verbatim (shorter than :data:`MIN_SECRET_LENGTH`:
            ignored).
        patterns: extra regular expressions whose matches are masked.
    """

    def __init__(self, secrets: Iterable[str | None] = (), patterns: Iterable[str] = ()) -> None:
        if not _compiled:
            _compiled.extend(re.compile(p) for p in _SHAPES)
        self._secrets: list[str] = []
        for secret in secrets:
            self.add_secret(secret)
        self._patterns = [*_compiled, *(re.compile(p) for p in patterns)]

    def add_secret(self, secret: str | None) -> None:
        """Remember a secret value to remove, with its URL-encoded forms."""
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        from urllib.parse import quote

        for form in (secret, quote(secret, safe=""), quote(secret)):
            if form not in self._secrets:
                self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)  # a secret inside another goes second

    def redact(self, text: str) -> str:
        """Return ``text`` with every known secret and credential-shaped value masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in self._patterns:
            text = pattern.sub(_mask_match, text)
        return text

    def redact_value(self, value: Any) -> Any:
        """Redact every string inside ``value`` (dicts and lists are walked)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_value(v) for v in value]
        return value


def _mask_match(match: re.Match[str]) -> str:
    return (match.groupdict().get("keep") or "") + MASK
