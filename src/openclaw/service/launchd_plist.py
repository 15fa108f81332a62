"""The launchd property list of a gateway: rendered from a spec, parsed back for audits.

Both directions are pure. :func:`render_plist` is what ``install`` writes on macOS;
:func:`parse_plist` reads any plist (ours, hand-edited, a legacy one, XML or binary)
into a dict and never raises, so ``doctor`` and ``status`` can compare it with what
``install`` would write now and find a stale command line or an inline secret.

launchd has no ``EnvironmentFile=``: the plist carries only non-secret variables
plus ``OPENCLAW_ENV_FILE``, and the gateway loads that owner-only file itself at
start (:func:`openclaw.envfile.load_into_environ`).
"""

from __future__ import annotations

import plistlib
from collections.abc import Mapping
from typing import Any

from openclaw.service.spec import ServiceSpec

__all__ = [
    "ENV_FILE_VAR",
    "MIN_THROTTLE_S",
    "STDERR_LOG",
    "STDOUT_LOG",
    "parse_plist",
    "plist_argv",
    "plist_environment",
    "render_plist",
]

#: The variable naming the env file the gateway loads at start under launchd.
ENV_FILE_VAR = "OPENCLAW_ENV_FILE"
#: launchd relaunches no sooner than this; it also paces retries of a refused config.
MIN_THROTTLE_S = 10
#: stdout repeats the gateway's own rotated file log line for line, and launchd never
#: rotates what it captures: discard it. stderr holds what happens before logging
#: starts (a traceback, a missing interpreter), so it is kept in the log directory.
STDOUT_LOG = "/dev/null"
STDERR_LOG = "gateway.err.log"
_UMASK = 0o077


def render_plist(spec: ServiceSpec, label: str) -> str:
    """The XML plist text of a LaunchAgent running ``spec`` under ``label``.

    ``KeepAlive`` is ``{"SuccessfulExit": false}``: launchd relaunches the gateway
    when it crashes or exits non-zero, and leaves it down after a clean exit (0).
    launchd cannot express systemd's ``RestartPreventExitStatus=78``, so a gateway
    that refuses its config (exit 78) is retried by launchd every
    ``ThrottleInterval`` seconds until the config is fixed; the interval is at least
    :data:`MIN_THROTTLE_S` so such a loop stays slow and cheap. ``ExitTimeOut`` is
    the stop budget before launchd sends SIGKILL, larger than the gateway's drain.
    """
    environment = dict(spec.environment)
    environment[ENV_FILE_VAR] = str(spec.env_file)
    document: dict[str, Any] = {
        "Label": label,
        "Comment": spec.description,
        "ProgramArguments": list(spec.argv),
        "WorkingDirectory": str(spec.working_directory),
        "EnvironmentVariables": environment,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": max(MIN_THROTTLE_S, spec.restart_sec),
        "ExitTimeOut": spec.timeout_stop_sec,
        "ProcessType": "Standard",
        "Umask": _UMASK,
        "StandardOutPath": STDOUT_LOG,
        "StandardErrorPath": str(spec.log_dir / STDERR_LOG),
    }
    return plistlib.dumps(document, fmt=plistlib.FMT_XML, sort_keys=True).decode("utf-8")


def parse_plist(text: str | bytes) -> dict[str, Any]:
    """The top-level dict of a plist (XML or binary); ``{}`` when it is not a valid one.

    Never raises: a hand-edited or truncated file must not break ``status``.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        document = plistlib.loads(data)
    except Exception:  # plistlib raises many exception types on malformed input
        return {}
    return document if isinstance(document, dict) else {}


def plist_argv(document: Mapping[str, Any]) -> list[str]:
    """The command line of a parsed plist (``ProgramArguments``, else ``Program``)."""
    arguments = document.get("ProgramArguments")
    if isinstance(arguments, list) and arguments:
        return [str(word) for word in arguments]
    program = document.get("Program")
    return [program] if isinstance(program, str) else []


def plist_environment(document: Mapping[str, Any]) -> dict[str, str]:
    """The ``EnvironmentVariables`` of a parsed plist (non-string values are skipped)."""
    variables = document.get("EnvironmentVariables")
    if not isinstance(variables, dict):
        return {}
    return {str(key): value for key, value in variables.items() if isinstance(value, str)}
