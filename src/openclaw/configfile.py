"""Reading ``openclaw.json`` without validating it: the CLI's lean path.

The CLI needs only a few values from the config (port, auth secret) and must keep
working when the file is invalid (``gateway status`` diagnoses exactly that), so it
reads the document leniently here. The gateway validates the whole file with
:mod:`openclaw.config`. Plain JSON is parsed with the standard library first; the
``json5`` parser is imported only for files that need it (comments, trailing commas).
"""

from __future__ import annotations

import json
import os

from openclaw.errors import ConfigError

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

__all__ = ["LenientConfig", "get_path", "read_document", "read_lenient", "resolve_port"]


def read_document(path: Path) -> dict[str, Any] | None:
    """Parse the config file at ``path``; ``None`` when it does not exist.

    Raises:
        ConfigError: the file cannot be read, is not JSON5, or is not an object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), None, f"cannot read the file ({exc})") from exc
    try:
        data = json.loads(text)
    except ValueError:
        import json5

        try:
            data = json5.loads(text)
        except ValueError as exc:
            raise ConfigError(str(path), None, f"not valid JSON5: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(str(path), None, "the top level must be an object")
    return data


def get_path(document: Mapping[str, Any] | None, dotted: str) -> Any:
    """Return ``document[a][b]...`` for ``"a.b..."``, or ``None`` if any step is missing."""
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


class LenientConfig:
    """``openclaw.json`` as the CLI reads it: never refused, each value taken only when it
    has the right type (anything else reads as unset, so defaults apply).

    This is the one lenient reader (the gateway's strict loader is
    :func:`openclaw.config.load_config`). ``error`` says why the file could not be
    read at all; the values then all read as unset.
    """

    __slots__ = ("document", "error", "path")

    def __init__(self, path: Path, document: dict[str, Any] | None, error: str | None) -> None:
        self.path = path
        self.document = document
        self.error = error

    def get(self, dotted: str) -> Any:
        """The raw value at ``"a.b.c"``, or None."""
        return get_path(self.document, dotted)

    def string(self, dotted: str) -> str | None:
        """A non-empty string value, or None."""
        value = self.get(dotted)
        return value if isinstance(value, str) and value.strip() else None

    def positive_int(self, dotted: str) -> int | None:
        """A positive integer value (``true`` is not one), or None."""
        value = self.get(dotted)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
            else None

    def log_dir(self, default: Path) -> Path:
        """``logging.dir`` (``~`` expanded), else ``default``."""
        from pathlib import Path

        directory = self.string("logging.dir")
        return Path(directory).expanduser() if directory else default

    def port(self, default_port: int, env: Mapping[str, str] | None = None) -> tuple[int, str]:
        """``(port, source)`` as :func:`resolve_port` resolves it without a flag."""
        return resolve_port(None, self.get("gateway.port"), default_port, env)


def read_lenient(path: Path) -> LenientConfig:
    """Read ``path`` leniently (never raises; a missing file reads as empty)."""
    try:
        return LenientConfig(path, read_document(path), None)
    except ConfigError as exc:
        return LenientConfig(path, None, exc.message)


def _parse_port(value: object, source: str) -> int:
    try:
        port = int(str(value), 10)
    except ValueError:
        raise ConfigError(None, source, f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(None, source, f"port {port} is outside 0-65535")
    return port


def resolve_port(
    flag: int | None,
    config_port: int | None,
    default_port: int,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Return ``(port, source)``: ``--port`` → ``OPENCLAW_GATEWAY_PORT`` → config → default.

    ``source`` is one of ``flag``, ``env``, ``config``, ``default`` so that status
    output can say where the port came from.
    """
    environ = os.environ if env is None else env
    if flag is not None:
        return _parse_port(flag, "--port"), "flag"
    env_port = environ.get("OPENCLAW_GATEWAY_PORT")
    if env_port:
        return _parse_port(env_port, "OPENCLAW_GATEWAY_PORT"), "env"
    if isinstance(config_port, int) and not isinstance(config_port, bool):
        return config_port, "config"
    return default_port, "default"
