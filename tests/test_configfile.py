"""Unit tests for openclaw.configfile: lenient reads and port precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw.configfile import get_path, read_document, resolve_port
from openclaw.errors import ConfigError, ExitCode

# --- read_document -------------------------------------------------------------------


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert read_document(tmp_path / "nope.json") is None


def test_missing_directory_is_none(tmp_path: Path) -> None:
    assert read_document(tmp_path / "no" / "such" / "openclaw.json") is None


def test_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text('{"gateway": {"port": 1234, "auth": {"token": "abc"}}, "x": [1, 2]}')
    assert read_document(path) == {"gateway": {"port": 1234, "auth": {"token": "abc"}}, "x": [1, 2]}


def test_empty_object(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text("{}")
    assert read_document(path) == {}


def test_json5_comments_and_trailing_commas(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text(
        """
        // line comment
        {
          /* block comment */
          gateway: {
            port: 4321,  // trailing comment
            auth: { token: 'single-quoted', },
          },
          list: [1, 2, 3,],
        }
        """
    )
    assert read_document(path) == {
        "gateway": {"port": 4321, "auth": {"token": "single-quoted"}},
        "list": [1, 2, 3],
    }


def test_utf8_content(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text('{"name": "héllo ✓"}', encoding="utf-8")
    assert read_document(path) == {"name": "héllo ✓"}


@pytest.mark.parametrize("text", ["{", "nope", '{"a":}', "{a: 1 b: 2}", ""])
def test_invalid_document_names_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_document(path)
    error = info.value
    assert str(path) in str(error)
    assert error.path == str(path)
    assert "not valid JSON5" in error.reason
    assert error.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize("text", ["[]", "[1, 2]", '"text"', "42", "null", "true", "// c\n[1,]"])
def test_non_object_top_level(tmp_path: Path, text: str) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_document(path)
    assert info.value.reason == "the top level must be an object"
    assert str(path) in str(info.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.mkdir()
    with pytest.raises(ConfigError) as info:
        read_document(path)
    assert "cannot read the file" in info.value.reason
    assert str(path) in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_bytes(b'{"a": "\xff\xfe"}')
    with pytest.raises(ConfigError) as info:
        read_document(path)
    assert "cannot read the file" in info.value.reason


# --- get_path ------------------------------------------------------------------------


DOC = {"gateway": {"port": 1234, "auth": {"mode": "token", "token": None}}, "flat": 1}


def test_get_path_top_level() -> None:
    assert get_path(DOC, "flat") == 1


def test_get_path_nested() -> None:
    assert get_path(DOC, "gateway.port") == 1234
    assert get_path(DOC, "gateway.auth.mode") == "token"
    assert get_path(DOC, "gateway.auth") == {"mode": "token", "token": None}


def test_get_path_missing_step() -> None:
    assert get_path(DOC, "gateway.nope") is None
    assert get_path(DOC, "nope.port") is None
    assert get_path(DOC, "gateway.auth.mode.deeper") is None
    assert get_path(DOC, "flat.x") is None


def test_get_path_none_document() -> None:
    assert get_path(None, "gateway.port") is None


def test_get_path_through_a_list_is_none() -> None:
    assert get_path({"a": [{"b": 1}]}, "a.b") is None


# --- resolve_port --------------------------------------------------------------------


def test_flag_wins_over_everything() -> None:
    assert resolve_port(1111, 2222, 3333, env={"OPENCLAW_GATEWAY_PORT": "4444"}) == (1111, "flag")


def test_env_wins_over_config_and_default() -> None:
    assert resolve_port(None, 2222, 3333, env={"OPENCLAW_GATEWAY_PORT": "4444"}) == (4444, "env")


def test_config_wins_over_default() -> None:
    assert resolve_port(None, 2222, 3333, env={}) == (2222, "config")


def test_default_when_nothing_set() -> None:
    assert resolve_port(None, None, 3333, env={}) == (3333, "default")


def test_empty_env_port_is_ignored() -> None:
    assert resolve_port(None, 2222, 3333, env={"OPENCLAW_GATEWAY_PORT": ""}) == (2222, "config")


def test_flag_zero_is_a_port() -> None:
    # --port 0 asks for an ephemeral port; it must not be treated as "not given".
    assert resolve_port(0, 2222, 3333, env={}) == (0, "flag")


def test_env_port_with_whitespace() -> None:
    assert resolve_port(None, None, 3333, env={"OPENCLAW_GATEWAY_PORT": " 8080 "}) == (8080, "env")


@pytest.mark.parametrize("value", ["abc", "80x", "1.5", "0x50", "-"])
def test_bad_env_port(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_port(None, 2222, 3333, env={"OPENCLAW_GATEWAY_PORT": value})
    error = info.value
    assert error.key == "OPENCLAW_GATEWAY_PORT"
    assert "not a port number" in error.reason
    assert repr(value) in error.reason
    assert error.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize("value", ["65536", "-1", "100000"])
def test_env_port_out_of_range(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_port(None, None, 3333, env={"OPENCLAW_GATEWAY_PORT": value})
    assert info.value.key == "OPENCLAW_GATEWAY_PORT"
    assert "outside 0-65535" in info.value.reason


@pytest.mark.parametrize("value", [65536, -1])
def test_flag_port_out_of_range(value: int) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_port(value, None, 3333, env={})
    assert info.value.key == "--port"
    assert "<flags>" in str(info.value)


def test_env_port_edges() -> None:
    assert resolve_port(None, None, 1, env={"OPENCLAW_GATEWAY_PORT": "65535"}) == (65535, "env")
    assert resolve_port(None, None, 1, env={"OPENCLAW_GATEWAY_PORT": "0"}) == (0, "env")


def test_bad_env_port_not_consulted_when_flag_given() -> None:
    assert resolve_port(9, None, 3333, env={"OPENCLAW_GATEWAY_PORT": "junk"}) == (9, "flag")


@pytest.mark.parametrize("config_port", ["1234", 12.0, True, False, [1], {"p": 1}])
def test_non_int_config_port_falls_back_to_default(config_port: object) -> None:
    assert resolve_port(None, config_port, 3333, env={}) == (3333, "default")  # type: ignore[arg-type]


def test_env_none_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCLAW_GATEWAY_PORT", "5555")
    assert resolve_port(None, 2222, 3333) == (5555, "env")
    monkeypatch.delenv("OPENCLAW_GATEWAY_PORT")
    assert resolve_port(None, 2222, 3333) == (2222, "config")


def test_the_lenient_reader_never_raises_and_takes_only_well_typed_values(
        tmp_path: Path) -> None:
    from openclaw.configfile import read_lenient

    path = tmp_path / "openclaw.json"
    path.write_text('{gateway: {port: "nope", auth: {token: 7}}, logging: {dir: "~/logs", '
                    'maxArchives: true, maxFileBytes: 2048}}')
    config = read_lenient(path)
    assert config.error is None
    assert config.port(18789, {}) == (18789, "default")  # a string port reads as unset
    assert config.string("gateway.auth.token") is None  # not a string
    assert config.positive_int("logging.maxArchives") is None  # a bool is not an int
    assert config.positive_int("logging.maxFileBytes") == 2048
    assert config.log_dir(tmp_path) == Path("~/logs").expanduser()
    path.write_text("{not json5")
    broken = read_lenient(path)
    assert broken.error and str(path) in broken.error
    assert broken.get("gateway.port") is None and broken.log_dir(tmp_path) == tmp_path
    missing = read_lenient(tmp_path / "absent.json")
    assert missing.error is None and missing.document is None
