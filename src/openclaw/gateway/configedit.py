"""Editing ``openclaw.json`` over the wire: snapshot, redact, merge, validate, write.

The ``config.*`` methods (:mod:`openclaw.gateway.methods.config`) are thin over this
module, which knows nothing of connections:

* :func:`read_snapshot` reads the file once and gives its document and :func:`content_hash`
  (a SHA-256 of the bytes on disk; a missing file hashes as empty), the token a writer
  must send back as ``baseHash`` so that two editors cannot overwrite each other.
* :func:`redact_document` replaces every secret with :data:`REDACTED` (OpenClaw's
  placeholder): the gateway's token and password, each channel's declared
  ``secret_keys``, model API keys, and any other string whose key names a secret.
  :func:`restore_redacted` puts the stored values back where a client returned the
  placeholder, so a document read, edited and written back never loses a secret.
* :func:`merge_patch` is JSON merge patch (RFC 7396): objects merge, ``null`` deletes,
  anything else (arrays included) replaces.
* :func:`validate_document` runs the strict loader and the start-up checks, so a
  document that would stop the gateway from starting is refused before it is written.
* :func:`write_document` writes atomically, owner-only, as plain JSON (comments and
  JSON5 syntax of a hand-edited file are not kept).
* :func:`reload_plan` says, per changed key, what it takes for the change to apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from openclaw.atomicfile import write_atomic
from openclaw.config import Config, parse_config
from openclaw.errors import ConfigError
from openclaw.redact import is_secret_key

__all__ = [
    "REDACTED",
    "ConfigEdits",
    "ConfigSnapshot",
    "ReloadKind",
    "changed_paths",
    "content_hash",
    "merge_patch",
    "parse_raw",
    "read_snapshot",
    "redact_document",
    "reload_kind",
    "reload_plan",
    "restore_redacted",
    "validate_document",
    "write_document",
]

#: What a secret reads as in ``config.get`` (the placeholder OpenClaw uses).
REDACTED = "__OPENCLAW_REDACTED__"

Path_ = tuple[str, ...]
ReloadKind = Literal["restart", "reinstall", "none"]

#: Key prefixes and what it takes for a change under them to apply; the longest
#: matching prefix wins and anything unlisted needs a gateway restart. Nothing applies
#: live yet: every running part reads its settings once, at start.
RELOAD_RULES: dict[Path_, ReloadKind] = {
    ("$schema",): "none",
    ("service",): "reinstall",
}


@dataclass(frozen=True)
class ConfigSnapshot:
    """The config file as read once: its parsed document and the hash of its bytes."""

    path: Path
    exists: bool
    hash: str
    document: dict[str, Any] | None
    #: Why the file could not be parsed (the document is then None).
    error: str | None = None


@dataclass
class ConfigEdits:
    """What this process has written over the wire since it started."""

    #: Changed keys (dotted) that take effect only when the gateway restarts.
    pending_restart: set[str] = field(default_factory=set)


def content_hash(data: bytes | None) -> str:
    """SHA-256 (hex) of the file's bytes; a missing file hashes as empty."""
    return hashlib.sha256(data or b"").hexdigest()


def parse_raw(text: str) -> Any:
    """Parse a document sent as text (JSON, or JSON5 as the file may be).

    Raises:
        ConfigError: the text is not JSON5.
    """
    try:
        return json.loads(text)
    except ValueError:
        import json5

        try:
            return json5.loads(text)
        except ValueError as exc:
            raise ConfigError(None, None, f"not valid JSON5: {exc}") from None


def read_snapshot(path: Path) -> ConfigSnapshot:
    """Read ``path`` once; a file that is not a JSON5 object gives ``error``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ConfigSnapshot(path, False, content_hash(None), None)
    except OSError as exc:
        return ConfigSnapshot(path, True, content_hash(None), None, f"cannot read the file ({exc})")
    digest = content_hash(data)
    try:
        document = parse_raw(data.decode("utf-8"))
    except (ConfigError, UnicodeDecodeError) as exc:
        reason = exc.reason if isinstance(exc, ConfigError) else str(exc)
        return ConfigSnapshot(path, True, digest, None, reason)
    if not isinstance(document, dict):
        return ConfigSnapshot(path, True, digest, None, "the top level must be an object")
    return ConfigSnapshot(path, True, digest, document)


# ---------------------------------------------------------------------------- secrets


def _channel_secret_keys() -> dict[str, frozenset[str]]:
    from openclaw.channels.registry import all_specs

    return {spec.name: frozenset(spec.secret_keys) for spec in all_specs()}


def _is_secret(path: Path_, channel_keys: Mapping[str, frozenset[str]]) -> bool:
    key = path[-1]
    if path in (("gateway", "auth", "token"), ("gateway", "auth", "password")):
        return True
    if len(path) == 4 and path[:2] == ("models", "providers") and key == "apiKey":
        return True
    if len(path) >= 3 and path[0] == "channels" and key in channel_keys.get(path[1], ()):
        return True
    # A key that names a secret, except ones holding where to find it (apiKeyEnv,
    # botTokenFile): their values are a variable name and a path, not the secret.
    return is_secret_key(key) and not key.endswith(("Env", "File"))


def _walk(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, str(index)))


def secret_paths(document: Mapping[str, Any]) -> list[Path_]:
    """Paths of every non-empty secret string in ``document``."""
    channel_keys = _channel_secret_keys()
    return [path for path, value in _walk(dict(document))
            if path and isinstance(value, str) and value and _is_secret(path, channel_keys)]


def _set(document: Any, path: Path_, value: Any) -> None:
    node = document
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value


def _get(document: Any, path: Path_) -> Any:
    node = document
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def redact_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``document`` with every secret replaced by :data:`REDACTED`."""
    copy: dict[str, Any] = json.loads(json.dumps(document))
    for path in secret_paths(copy):
        _set(copy, path, REDACTED)
    return copy


def restore_redacted(candidate: Any, current: Mapping[str, Any] | None) -> Any:
    """Put the stored secret back wherever ``candidate`` holds :data:`REDACTED`.

    Raises:
        ConfigError: a placeholder where nothing is stored (naming the key): the
            placeholder is never written as a value.
    """
    for path, value in list(_walk(candidate)):
        if value != REDACTED:
            continue
        stored = _get(current, path) if current is not None else None
        if not isinstance(stored, str) or stored == REDACTED:
            raise ConfigError(None, ".".join(path) or "(top level)",
                              f"{REDACTED} stands for a stored secret, but none is stored "
                              "here; send the real value")
        _set(candidate, path, stored)
    return candidate


# ---------------------------------------------------------------------------- editing


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7396) of ``patch`` onto ``target``; neither is modified."""
    if not isinstance(patch, dict):
        return json.loads(json.dumps(patch))
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def validate_document(document: Any, source: str | None, environ: Mapping[str, str],
                      state_dir: Path) -> Config:
    """Validate ``document`` as the gateway would at start: the strict loader, the
    channel accounts (tokens, token files) and the default model's provider.

    Raises:
        ConfigError: naming the key path and the reason.
    """
    if not isinstance(document, dict):
        raise ConfigError(source, None, "the top level must be an object")
    if any(value == REDACTED for _, value in _walk(document)):
        path = next(".".join(p) for p, v in _walk(document) if v == REDACTED)
        raise ConfigError(source, path, f"{REDACTED} is a placeholder, not a value")
    config = parse_config(document, source)
    from openclaw.agent.providers.registry import build_provider, parse_model_ref
    from openclaw.channels.manager import configured_accounts
    from openclaw.channels.registry import ChannelEnv

    configured_accounts(config.channels, ChannelEnv(source, environ, state_dir))
    try:
        build_provider(parse_model_ref(config.agents.defaults.model)[0], config, environ)
    except ValueError as exc:
        raise ConfigError(source, "agents.defaults.model", str(exc)) from None
    return config


def serialize(document: Mapping[str, Any]) -> str:
    """The text written to disk: JSON, two-space indent, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_document(path: Path, document: Mapping[str, Any]) -> str:
    """Write ``document`` atomically with mode 0600; return the new content hash."""
    text = serialize(document)
    write_atomic(path, text, mode=0o600)
    return content_hash(text.encode("utf-8"))


_ABSENT: Any = object()


def changed_paths(before: Any, after: Any, path: Path_ = ()) -> list[str]:
    """Dotted paths of the leaves that differ (an array counts as one leaf; an object
    added or removed counts as each of its leaves)."""
    if isinstance(before, dict) or isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        if (before is not _ABSENT and not isinstance(before, dict)) or \
                (after is not _ABSENT and not isinstance(after, dict)):
            return [".".join(path) or "(top level)"]  # an object replaced by a value
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out.extend(changed_paths(old.get(key, _ABSENT), new.get(key, _ABSENT),
                                     (*path, str(key))))
        return out
    return [] if before == after else [".".join(path) or "(top level)"]


def reload_kind(dotted: str) -> ReloadKind:
    """What it takes for a change at ``dotted`` to apply (see :data:`RELOAD_RULES`)."""
    parts = tuple(dotted.split("."))
    for length in range(len(parts), 0, -1):
        kind = RELOAD_RULES.get(parts[:length])
        if kind is not None:
            return kind
    return "restart"


def reload_plan(paths: list[str]) -> dict[str, list[str]]:
    """``{restart: [...], reinstall: [...], none: [...]}`` for the changed ``paths``."""
    plan: dict[str, list[str]] = {"restart": [], "reinstall": [], "none": []}
    for dotted in paths:
        plan[reload_kind(dotted)].append(dotted)
    return plan
