"""The service env file: owner-only ``KEY=value`` lines the service definition references.

systemd reads it with ``EnvironmentFile=``; under launchd the gateway loads the file
named by ``OPENCLAW_ENV_FILE`` itself at start. Secrets (the gateway token, channel
and model API keys) live here and nowhere in the unit or plist, so rotating a token
is an edit plus a restart, never a reinstall.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from openclaw.atomicfile import write_atomic
from openclaw.paths import ensure_private_dir

__all__ = [
    "SECRET_KEYS",
    "load_into_environ",
    "read_env_file",
    "write_env_file",
]

#: Variables ``install`` carries from the installing shell into the env file, so a
#: service sees the same secrets as the shell that installed it; each channel adds
#: its own (``secret_env`` in the channel registry).
SECRET_KEYS = (
    "OPENCLAW_GATEWAY_TOKEN",
    "OPENCLAW_GATEWAY_PASSWORD",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_HEADER = (
    "# Environment of the OpenClaw gateway service (owner-only; read at every start).\n"
    "# Put secrets here (OPENCLAW_GATEWAY_TOKEN, TELEGRAM_BOT_TOKEN, ...), one KEY=value per\n"
    "# line, then `openclaw gateway restart`. No reinstall is needed.\n"
)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return inner.replace('\\"', '"').replace("\\\\", "\\") if value[0] == '"' else inner
    return value


def read_env_file(path: Path) -> dict[str, str]:
    """The variables in ``path`` (empty when the file is missing or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    result: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith(("#", ";")):
            continue
        match = _LINE.match(line)
        if match:
            result[match.group(1)] = _unquote(match.group(2))
    return result


def _quote(value: str) -> str:
    if value and re.fullmatch(r"[A-Za-z0-9_@%+=:,./~-]+", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write ``values`` to ``path`` atomically, mode 0600 in a 0700 directory."""
    ensure_private_dir(path.parent)
    body = _HEADER + "".join(f"{key}={_quote(value)}\n" for key, value in values.items())
    write_atomic(path, body, 0o600)


def load_into_environ(path: Path, environ: dict[str, str] | None = None) -> int:
    """Add the file's variables to the environment without overriding any; return count."""
    target = os.environ if environ is None else environ
    added = 0
    for key, value in read_env_file(path).items():
        if key not in target:
            target[key] = value
            added += 1
    return added
