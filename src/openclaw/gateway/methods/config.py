"""``config.get``, ``config.schema``, ``config.validate``, ``config.patch``, ``config.set``.

Reads go to the file on disk (not the config this process started with), with every
secret shown as :data:`~openclaw.gateway.configedit.REDACTED`. Writes are refused
unless ``baseHash`` matches the file as it is now, and unless the result passes the
same checks as a gateway start; only then is the file replaced, atomically and
owner-only. The answer lists the changed keys and what each needs to take effect
(nothing applies to the running gateway: every part reads its settings at start).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import msgspec

from openclaw import __version__
from openclaw.errors import ConfigError
from openclaw.gateway import configedit
from openclaw.gateway.configedit import ConfigSnapshot
from openclaw.gateway.dispatch import ADMIN, READ, Context, Dispatcher
from openclaw.protocol.errors import InvalidRequest

__all__ = ["config_schema", "register"]

Hash = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
RawText = Annotated[str, msgspec.Meta(max_length=4_000_000)]


class _Write(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Fields every write takes. ``sessionKey``, ``note``, ``replacePaths`` and
    ``restartDelayMs`` are what OpenClaw's clients send; they are accepted and have
    no effect here (arrays are always replaced whole)."""

    raw: RawText | None = None
    base_hash: Hash | None = None
    session_key: str | None = None
    note: str | None = None
    replace_paths: list[str] | None = None
    restart_delay_ms: int | None = None


class PatchParams(_Write, frozen=True):
    """``config.patch``: a JSON merge patch as text (``raw``) or as an object (``patch``)."""

    patch: dict[str, Any] | None = None


class SetParams(_Write, frozen=True):
    """``config.set``: the whole document as text (``raw``) or as an object (``config``)."""

    config: dict[str, Any] | None = None


class ValidateParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``config.validate``: a whole candidate document, as text or as an object."""

    raw: RawText | None = None
    config: dict[str, Any] | None = None


@functools.cache
def config_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of ``openclaw.json``, channel sections included."""
    from openclaw.channels.registry import all_specs
    from openclaw.config import Config

    specs = list(all_specs())
    (root, *sections), defs = msgspec.json.schema_components(
        [Config, *(spec.section for spec in specs)], ref_template="#/$defs/{name}")
    defs["Config"]["properties"]["channels"] = {
        "type": "object",
        "description": "Chat channels, one section per channel.",
        "properties": {spec.name: ref for spec, ref in zip(specs, sections, strict=True)},
        "additionalProperties": False,
        "default": {},
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "openclaw.json", **root, "$defs": defs}


def _document(raw: str | None, value: dict[str, Any] | None, name: str) -> Any:
    if (raw is None) == (value is None):
        raise InvalidRequest(f"give exactly one of raw or {name}")
    if raw is not None:
        try:
            return configedit.parse_raw(raw)
        except ConfigError as exc:
            raise InvalidRequest(f"invalid raw: {exc.reason}") from None
    return value


def _refused(exc: ConfigError) -> InvalidRequest:
    key = exc.key or "(top level)"
    return InvalidRequest(f"invalid config: {key}: {exc.reason}",
                          details={"code": "INVALID_CONFIG", "path": key, "reason": exc.reason})


def _check_hash(snapshot: ConfigSnapshot, base_hash: str | None) -> None:
    if base_hash is None and snapshot.exists:
        raise InvalidRequest(
            "baseHash is required when the config file exists; read it with config.get",
            details={"code": "CONFIG_BASE_HASH_REQUIRED", "currentHash": snapshot.hash})
    if base_hash is not None and base_hash != snapshot.hash:
        raise InvalidRequest(
            "config changed since last load; re-run config.get and retry",
            details={"code": "CONFIG_HASH_MISMATCH", "currentHash": snapshot.hash})


def _validate(ctx: Context, document: Any) -> None:
    profile = ctx.app.profile
    try:
        configedit.validate_document(document, str(profile.config_path), ctx.app.agent.environ,
                                     profile.state_dir)
    except ConfigError as exc:
        raise _refused(exc) from None


def _write(ctx: Context, snapshot: ConfigSnapshot, candidate: Any) -> dict[str, Any]:
    """Validate ``candidate`` (placeholders restored), write it unless nothing changed,
    and describe the outcome."""
    try:
        candidate = configedit.restore_redacted(candidate, snapshot.document)
    except ConfigError as exc:
        raise _refused(exc) from None
    _validate(ctx, candidate)
    changed = configedit.changed_paths(snapshot.document or {}, candidate)
    path = ctx.app.profile.config_path
    noop = snapshot.exists and not changed
    digest = snapshot.hash if noop else configedit.write_document(path, candidate)
    plan = configedit.reload_plan(changed)
    edits = ctx.app.config_edits
    edits.pending_restart.update(plan["restart"])
    return {
        "ok": True,
        "noop": noop,
        "path": str(path),
        "hash": digest,
        "config": configedit.redact_document(candidate),
        "changedPaths": changed,
        "restartRequired": bool(plan["restart"]),
        "reload": plan,
        "appliedLive": [],
    }


def _issues(ctx: Context, snapshot: ConfigSnapshot) -> list[dict[str, str]]:
    if snapshot.error is not None:
        return [{"path": "(top level)", "message": snapshot.error}]
    if snapshot.document is None:
        return []
    try:
        _validate(ctx, snapshot.document)
    except InvalidRequest as exc:
        details = exc.details or {}
        return [{"path": str(details.get("path")), "message": str(details.get("reason"))}]
    return []


def _effective(document: dict[str, Any] | None) -> dict[str, Any] | None:
    from openclaw.config import parse_config

    try:
        config = parse_config(document or {})
    except ConfigError:
        return None
    return configedit.redact_document(msgspec.to_builtins(config))


def register(dispatcher: Dispatcher) -> None:
    """Install the ``config.*`` methods."""

    @dispatcher.register("config.get", ADMIN)
    def config_get(ctx: Context, params: object) -> dict[str, Any]:
        snapshot = configedit.read_snapshot(ctx.app.profile.config_path)
        redacted = (configedit.redact_document(snapshot.document)
                    if snapshot.document is not None else None)
        issues = _issues(ctx, snapshot)
        pending = sorted(ctx.app.config_edits.pending_restart)
        return {
            "path": str(snapshot.path),
            "exists": snapshot.exists,
            "valid": not issues,
            "issues": issues,
            "hash": snapshot.hash,
            "raw": configedit.serialize(redacted) if redacted is not None else None,
            "config": redacted if redacted is not None else {},
            "sourceConfig": redacted if redacted is not None else {},
            "effective": _effective(snapshot.document),
            "restartRequired": bool(pending),
            "pendingRestartPaths": pending,
        }

    @dispatcher.register("config.schema", READ)
    def config_schema_method(ctx: Context, params: object) -> dict[str, Any]:
        return {"schema": config_schema(), "uiHints": {}, "version": __version__}

    @dispatcher.register("config.validate", ADMIN, ValidateParams)
    def config_validate(ctx: Context, params: ValidateParams) -> dict[str, Any]:
        document = _document(params.raw, params.config, "config")
        snapshot = configedit.read_snapshot(ctx.app.profile.config_path)
        try:
            document = configedit.restore_redacted(document, snapshot.document)
            _validate(ctx, document)
        except (ConfigError, InvalidRequest) as exc:
            refused = _refused(exc) if isinstance(exc, ConfigError) else exc
            details = refused.details or {}
            return {"ok": True, "valid": False, "issues": [
                {"path": str(details.get("path")), "message": str(details.get("reason"))}]}
        return {"ok": True, "valid": True, "issues": []}

    @dispatcher.register("config.patch", ADMIN, PatchParams)
    def config_patch(ctx: Context, params: PatchParams) -> dict[str, Any]:
        patch = _document(params.raw, params.patch, "patch")
        if not isinstance(patch, dict):
            raise InvalidRequest("a config patch must be an object")
        snapshot = configedit.read_snapshot(ctx.app.profile.config_path)
        _check_hash(snapshot, params.base_hash)
        if snapshot.error is not None:
            raise InvalidRequest(f"the config file cannot be read ({snapshot.error}); "
                                 "fix it by hand or replace it with config.set")
        return _write(ctx, snapshot, configedit.merge_patch(snapshot.document or {}, patch))

    @dispatcher.register("config.set", ADMIN, SetParams)
    def config_set(ctx: Context, params: SetParams) -> dict[str, Any]:
        document = _document(params.raw, params.config, "config")
        snapshot = configedit.read_snapshot(ctx.app.profile.config_path)
        _check_hash(snapshot, params.base_hash)
        return _write(ctx, snapshot, document)
