"""The CLI's renderers and results, without a gateway."""

from __future__ import annotations

import io
import json

import pytest

from openclaw.cli.agent_cmd import AgentResult
from openclaw.cli.gateway_cmd import HealthResult
from openclaw.cli.logs_cmd import plain_line
from openclaw.cli.render import emit, emit_error, paint, use_color
from openclaw.errors import AuthError, ExitCode, UsageError


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(_Tty()) is True
    assert use_color(io.StringIO()) is False  # a pipe or a file
    monkeypatch.setenv("NO_COLOR", "1")  # also what --no-color sets
    assert use_color(_Tty()) is False
    assert paint("ok", "green", False) == "ok"
    assert paint("ok", "green", True) == "\x1b[32mok\x1b[0m"


def test_emit_error_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    error = AuthError("refused", hint="pass --token", details={"code": "AUTH_TOKEN_MISSING"})
    assert emit_error(error, False) == 77
    out, err = capsys.readouterr()
    assert out == "" and err == "openclaw: refused\nhint: pass --token\n"
    assert emit_error(error, True) == ExitCode.AUTH
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == {"ok": False, "error": {
        "code": "INVALID_REQUEST", "message": "refused", "hint": "pass --token",
        "exitCode": 77, "details": {"code": "AUTH_TOKEN_MISSING"}}}
    emit_error(UsageError("bad flag", hint="see 'openclaw logs --help'"), False)
    assert capsys.readouterr().err == "openclaw: error: bad flag (see 'openclaw logs --help')\n"


SNAPSHOT = {
    "ok": True, "ts": 1795651221873, "durationMs": 1, "heartbeatSeconds": 0,
    "channelOrder": ["telegram"], "channelLabels": {"telegram": "Telegram"},
    "channels": {"telegram": {
        "configured": True, "running": True, "connected": False, "lastError": "getMe: 401",
        "accounts": {
            "default": {"accountId": "default", "connected": True, "bot": "my_bot",
                        "lastError": None, "lastConnectedAt": 1795651221000},
            "work": {"accountId": "work", "connected": False, "reconnectAttempts": 3,
                     "lastError": "getMe: 401"},
        }}},
    "agents": [{"agentId": "main", "isDefault": True,
                "heartbeat": {"enabled": False, "every": "0"}}],
    "process": {"pid": 42, "rssBytes": 1048576 * 30, "uptimeMs": 125_000},
    "outbox": {"sent": 41, "failed": 1},
}


def test_health_verbose_text_has_accounts_errors_and_counts() -> None:
    short = HealthResult(SNAPSHOT).to_text()
    assert short.splitlines()[-1] == "Channel telegram: not connected (getMe: 401)"
    text = HealthResult(SNAPSHOT, verbose=True).to_text()
    assert "Heartbeat: off" in text and "agent main (default): heartbeat off" in text
    assert "Channel telegram (Telegram): not connected, running" in text
    assert "  account default @my_bot: connected" in text
    assert "  account work: not connected, reconnect attempts 3" in text
    assert "    last error: getMe: 401" in text
    assert "Process: pid 42, up 2m05s, rss 30.0 MB" in text
    assert "Outbox: failed 1, sent 41" in text


def test_agent_result_error_final(capsys: pytest.CaptureFixture[str]) -> None:
    final = {"runId": "r", "status": "error",
             "error": {"code": "AGENT_TIMEOUT", "message": "too slow"},
             "result": {"payloads": [{"text": "part"}]}}
    result = AgentResult(final, "")
    assert emit(result, False) == 1
    assert capsys.readouterr().out == "part\n"
    failure = result.error()
    assert failure is not None and failure.message == "AGENT_TIMEOUT: too slow"
    assert AgentResult({**final, "status": "ok"}, "part").to_text() == ""
    assert AgentResult({**final, "status": "ok"}, "pa").to_text() == "\npart"


def test_plain_line() -> None:
    assert plain_line('{"time": "t", "level": "info", "message": "hello", "x": 1}') == "hello"
    assert plain_line("not json") == "not json"
    assert plain_line("[1, 2]") == "[1, 2]"
