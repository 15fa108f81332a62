"""Unit tests for openclaw.config: validation of openclaw.json into frozen objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openclaw.config import (
    AuthConfig,
    Config,
    GatewayConfig,
    HeartbeatConfig,
    LoggingConfig,
    RateLimitConfig,
    load_config,
    parse_config,
    parse_duration_ms,
)
from openclaw.errors import ConfigError, ExitCode

SOURCE = "/etc/openclaw.json"


def refuse(document: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(document, SOURCE)
    return info.value


# --- defaults and valid documents ----------------------------------------------------


def test_empty_document_gives_defaults() -> None:
    config = parse_config({})
    assert config == Config()
    gateway = config.gateway
    assert gateway.mode == "local"
    assert gateway.port is None
    assert gateway.bind == "loopback"
    assert gateway.custom_bind_host is None
    assert gateway.tick_interval_ms == 30_000
    assert gateway.handshake_timeout_ms == 15_000
    assert gateway.max_payload == 26_214_400
    assert gateway.max_buffered_bytes == 52_428_800
    assert gateway.drain_timeout_ms == 5_000
    auth = gateway.auth
    assert auth.mode == "token"
    assert auth.token is None
    assert auth.password is None
    assert auth.rate_limit == RateLimitConfig()
    assert auth.rate_limit.max_attempts == 10
    assert auth.rate_limit.window_ms == 60_000
    assert auth.rate_limit.lockout_ms == 60_000
    assert auth.rate_limit.loopback_max_attempts == 20
    assert auth.rate_limit.loopback_window_ms == 10_000
    assert auth.rate_limit.loopback_lockout_ms == 10_000
    logging = config.logging
    assert logging.level == "info"
    assert logging.console_level == "info"
    assert logging.dir is None
    assert logging.max_file_bytes == 104_857_600
    assert logging.max_archives == 5
    assert logging.retention_days == 7
    assert logging.redact_patterns == ()
    assert config.agents.defaults.heartbeat.every == "30m"


def test_full_valid_document_camel_case_keys() -> None:
    document = {
        "$schema": "https://example.invalid/openclaw.schema.json",
        "gateway": {
            "mode": "remote",
            "port": 20000,
            "bind": "custom",
            "customBindHost": "10.0.0.5",
            "auth": {
                "mode": "password",
                "password": "hunter22",
                "rateLimit": {
                    "maxAttempts": 3,
                    "windowMs": 1000,
                    "lockoutMs": 2000,
                    "loopbackMaxAttempts": 4,
                    "loopbackWindowMs": 500,
                    "loopbackLockoutMs": 600,
                },
            },
            "tickIntervalMs": 1000,
            "handshakeTimeoutMs": 2000,
            "maxPayload": 65_536,
            "maxBufferedBytes": 65_536,
            "drainTimeoutMs": 0,
        },
        "logging": {
            "level": "debug",
            "consoleLevel": "silent",
            "dir": "/var/log/claw",
            "maxFileBytes": 1024,
            "maxArchives": 0,
            "retentionDays": 1,
            "redactPatterns": ["secret-[0-9]+", r"(?i)foo\d"],
        },
        "agents": {"defaults": {"heartbeat": {"every": "0"}}},
    }
    config = parse_config(document, SOURCE)
    assert config.schema == "https://example.invalid/openclaw.schema.json"
    assert config.gateway.mode == "remote"
    assert config.gateway.port == 20000
    assert config.gateway.bind == "custom"
    assert config.gateway.custom_bind_host == "10.0.0.5"
    assert config.gateway.auth.mode == "password"
    assert config.gateway.auth.password == "hunter22"
    assert config.gateway.auth.rate_limit == RateLimitConfig(3, 1000, 2000, 4, 500, 600)
    assert config.gateway.tick_interval_ms == 1000
    assert config.gateway.drain_timeout_ms == 0
    assert config.logging.console_level == "silent"
    assert config.logging.max_archives == 0
    assert config.logging.redact_patterns == ("secret-[0-9]+", r"(?i)foo\d")
    assert config.agents.defaults.heartbeat.every == "0"


@pytest.mark.parametrize("port", [1, 80, 18789, 65535])
def test_port_in_range(port: int) -> None:
    assert parse_config({"gateway": {"port": port}}).gateway.port == port


def test_port_null_is_allowed() -> None:
    assert parse_config({"gateway": {"port": None}}).gateway.port is None


@pytest.mark.parametrize("level", ["silent", "fatal", "error", "warn", "info", "debug", "trace"])
def test_every_log_level(level: str) -> None:
    assert parse_config({"logging": {"level": level}}).logging.level == level


@pytest.mark.parametrize("mode", ["token", "password", "none"])
def test_every_auth_mode(mode: str) -> None:
    assert parse_config({"gateway": {"auth": {"mode": mode}}}).gateway.auth.mode == mode


@pytest.mark.parametrize("bind", ["loopback", "lan"])
def test_bind_without_host(bind: str) -> None:
    assert parse_config({"gateway": {"bind": bind}}).gateway.bind == bind


# --- unknown keys --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"gateway": {"prot": 1}}, "gateway.prot"),
        ({"gatway": {}}, "gatway"),
        ({"gateway": {"auth": {"tokn": "x"}}}, "gateway.auth.tokn"),
        (
            {"gateway": {"auth": {"rateLimit": {"maxAttempt": 1}}}},
            "gateway.auth.rateLimit.maxAttempt",
        ),
        ({"logging": {"max_file_bytes": 2048}}, "logging.max_file_bytes"),
        ({"agents": {"defaults": {"heartbeat": {"evry": "1m"}}}}, "agents.defaults.heartbeat.evry"),
        ({"agents": {"list": []}}, "agents.list"),
    ],
)
def test_unknown_key_names_the_dotted_path(document: dict[str, Any], key: str) -> None:
    error = refuse(document)
    assert error.key == key
    assert "unknown key" in error.reason
    assert str(error).startswith(f"invalid config {SOURCE}: {key}: unknown key")
    assert error.exit_code == ExitCode.CONFIG


def test_snake_case_key_is_unknown() -> None:
    error = refuse({"gateway": {"custom_bind_host": "1.2.3.4"}})
    assert error.key == "gateway.custom_bind_host"


# --- wrong types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"gateway": "yes"}, "gateway"),
        ({"gateway": {"port": "18789"}}, "gateway.port"),
        ({"gateway": {"port": True}}, "gateway.port"),
        ({"gateway": {"port": 80.5}}, "gateway.port"),
        ({"gateway": {"auth": {"token": 123}}}, "gateway.auth.token"),
        (
            {"gateway": {"auth": {"rateLimit": {"windowMs": "1s"}}}},
            "gateway.auth.rateLimit.windowMs",
        ),
        ({"logging": {"redactPatterns": "abc"}}, "logging.redactPatterns"),
        ({"logging": {"redactPatterns": ["ok", 5]}}, "logging.redactPatterns[1]"),
        ({"agents": {"defaults": {"heartbeat": {"every": 30}}}}, "agents.defaults.heartbeat.every"),
        ({"$schema": 1}, "$schema"),
    ],
)
def test_wrong_type(document: dict[str, Any], key: str) -> None:
    error = refuse(document)
    assert error.key == key
    assert "Expected" in error.reason


# --- ranges --------------------------------------------------------------------------


@pytest.mark.parametrize("port", [0, -1, 65536, 100_000])
def test_port_out_of_range(port: int) -> None:
    error = refuse({"gateway": {"port": port}})
    assert error.key == "gateway.port"
    assert str(error).startswith(f"invalid config {SOURCE}: gateway.port: ")


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"gateway": {"tickIntervalMs": 99}}, "gateway.tickIntervalMs"),
        ({"gateway": {"handshakeTimeoutMs": 600_001}}, "gateway.handshakeTimeoutMs"),
        ({"gateway": {"maxPayload": 1024}}, "gateway.maxPayload"),
        ({"gateway": {"drainTimeoutMs": -1}}, "gateway.drainTimeoutMs"),
        (
            {"gateway": {"auth": {"rateLimit": {"maxAttempts": 0}}}},
            "gateway.auth.rateLimit.maxAttempts",
        ),
        (
            {"gateway": {"auth": {"rateLimit": {"lockoutMs": 0}}}},
            "gateway.auth.rateLimit.lockoutMs",
        ),
        ({"logging": {"maxFileBytes": 1023}}, "logging.maxFileBytes"),
        ({"logging": {"maxArchives": 101}}, "logging.maxArchives"),
        ({"logging": {"maxArchives": -1}}, "logging.maxArchives"),
        ({"logging": {"retentionDays": 0}}, "logging.retentionDays"),
    ],
)
def test_out_of_range_values(document: dict[str, Any], key: str) -> None:
    assert refuse(document).key == key


# --- enums ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"gateway": {"bind": "everywhere"}}, "gateway.bind"),
        ({"gateway": {"mode": "cloud"}}, "gateway.mode"),
        ({"gateway": {"auth": {"mode": "oauth"}}}, "gateway.auth.mode"),
        ({"logging": {"level": "warning"}}, "logging.level"),
        ({"logging": {"consoleLevel": "INFO"}}, "logging.consoleLevel"),
    ],
)
def test_invalid_enum_value(document: dict[str, Any], key: str) -> None:
    error = refuse(document)
    assert error.key == key
    assert "Invalid enum value" in error.reason


# --- cross-field checks --------------------------------------------------------------


def test_bind_custom_requires_host() -> None:
    error = refuse({"gateway": {"bind": "custom"}})
    assert error.key == "gateway.customBindHost"
    assert "custom" in error.reason
    assert str(error) == (
        f'invalid config {SOURCE}: gateway.customBindHost: required when gateway.bind is "custom"'
    )


def test_bind_custom_with_empty_host_is_refused() -> None:
    assert refuse({"gateway": {"bind": "custom", "customBindHost": ""}}).key == (
        "gateway.customBindHost"
    )


def test_custom_host_without_custom_bind_is_accepted() -> None:
    config = parse_config({"gateway": {"customBindHost": "1.2.3.4"}})
    assert config.gateway.custom_bind_host == "1.2.3.4"


@pytest.mark.parametrize(("patterns", "index"), [(["("], 0), (["ok", "[unclosed"], 1)])
def test_bad_redact_pattern(patterns: list[str], index: int) -> None:
    error = refuse({"logging": {"redactPatterns": patterns}})
    assert error.key == f"logging.redactPatterns[{index}]"
    assert "not a regular expression" in error.reason


@pytest.mark.parametrize("every", ["soon", "", "30 minutes", "-5m", "1w", "m", "30M", "1.h"])
def test_bad_heartbeat_duration(every: str) -> None:
    error = refuse({"agents": {"defaults": {"heartbeat": {"every": every}}}})
    assert error.key == "agents.defaults.heartbeat.every"
    assert "not a duration" in error.reason
    assert repr(every) in error.reason


@pytest.mark.parametrize("every", ["0", "0ms", "30m", "90s", "1s", "1000ms", "1h", "2d", "15",
                                   " 5m "])
def test_good_heartbeat_duration(every: str) -> None:
    config = parse_config({"agents": {"defaults": {"heartbeat": {"every": every}}}})
    assert config.agents.defaults.heartbeat.every == every


@pytest.mark.parametrize("every", ["500ms", "999ms", "0.5s", "1ms"])
def test_sub_second_heartbeat_refused(every: str) -> None:
    error = refuse({"agents": {"defaults": {"heartbeat": {"every": every}}}})
    assert error.key == "agents.defaults.heartbeat.every"
    assert "at least 1s" in error.reason


def test_source_none_says_flags() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"gateway": {"port": 0}})
    assert str(info.value).startswith("invalid config <flags>: gateway.port: ")
    assert info.value.path is None


def test_error_is_not_chained_to_msgspec() -> None:
    error = refuse({"gateway": {"port": "x"}})
    assert error.__cause__ is None
    assert error.__suppress_context__


# --- parse_duration_ms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500),
        ("1s", 1000),
        ("90s", 90_000),
        ("30m", 1_800_000),
        ("1h", 3_600_000),
        ("2d", 172_800_000),
        ("1.5h", 5_400_000),
        ("0.5s", 500),
        ("15", 900_000),  # a bare number is minutes
        ("0", 0),
        ("0m", 0),
        (" 10 s ", 10_000),
        ("10s\n", 10_000),
    ],
)
def test_parse_duration_ms(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms
    assert isinstance(parse_duration_ms(text), int)


@pytest.mark.parametrize("text", ["", "abc", "-1m", "1w", "1 h 30 m", "h", "1e3s", ".5s", "1,5h"])
def test_parse_duration_ms_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ms(text)


# --- load_config ---------------------------------------------------------------------


def test_load_missing_file_gives_defaults(tmp_path: Path) -> None:
    config, exists = load_config(tmp_path / "openclaw.json")
    assert exists is False
    assert config == Config()


def test_load_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text("// comment\n{gateway: {port: 4242, auth: {token: 'abc',},},}")
    config, exists = load_config(path)
    assert exists is True
    assert config.gateway.port == 4242
    assert config.gateway.auth.token == "abc"


def test_load_invalid_file_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text(json.dumps({"gateway": {"prot": 1}}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == str(path)
    assert info.value.key == "gateway.prot"
    assert str(info.value).startswith(f"invalid config {path}: gateway.prot: ")


def test_load_unparseable_file(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text("{gateway: ")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_load_non_object_file(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text("[]")
    with pytest.raises(ConfigError, match="top level must be an object"):
        load_config(path)


# --- immutability --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "attribute", "value"),
    [
        (Config(), "gateway", GatewayConfig()),
        (GatewayConfig(), "port", 1),
        (AuthConfig(), "token", "x"),
        (RateLimitConfig(), "max_attempts", 1),
        (LoggingConfig(), "level", "debug"),
        (HeartbeatConfig(), "every", "1m"),
    ],
)
def test_config_objects_are_frozen(obj: object, attribute: str, value: object) -> None:
    with pytest.raises(AttributeError):
        setattr(obj, attribute, value)


def test_parsed_config_is_frozen_deep() -> None:
    config = parse_config({"gateway": {"port": 1000}})
    with pytest.raises(AttributeError):
        config.gateway.port = 2000  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.gateway.auth.rate_limit.max_attempts = 1  # type: ignore[misc]
    assert config.gateway.port == 1000


def test_redact_patterns_are_an_immutable_tuple() -> None:
    config = parse_config({"logging": {"redactPatterns": ["a", "b"]}})
    assert isinstance(config.logging.redact_patterns, tuple)


def test_configs_compare_as_values() -> None:
    assert parse_config({}) == Config()
    assert parse_config({"gateway": {"port": 1}}) != Config()
