"""The systemd unit of a gateway: rendered from a spec, parsed back for audits.

Both directions are pure. :func:`render_unit` is what ``install`` writes;
:func:`parse_unit` reads any unit (ours, hand-edited, or a legacy one) into
``{(section, key): [values]}`` so ``doctor`` and ``status`` can compare it with what
``install`` would write now, and find a stale ``ExecStart`` or an inline secret.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from openclaw.service.spec import ServiceSpec

__all__ = [
    "UnitFile",
    "exec_argv",
    "parse_environment",
    "parse_unit",
    "render_unit",
]

UnitFile = dict[tuple[str, str], list[str]]
_NEEDS_QUOTES = set(" \t\n\"'\\;")


def _escape_specifiers(text: str) -> str:
    return text.replace("%", "%%")


def _word(text: str, *, dollar: bool = False) -> str:
    """One word of a systemd command line or assignment list, quoted when needed."""
    text = _escape_specifiers(text)
    if dollar:
        text = text.replace("$", "$$")
    if text and not (_NEEDS_QUOTES & set(text)):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _env_line(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"Environment={_word(f'{key}={value}')}" for key, value in pairs]


def render_unit(spec: ServiceSpec) -> str:
    """The unit file text for ``spec`` (user or system scope)."""
    system = spec.scope == "system"
    service = [
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=" + " ".join(_word(arg, dollar=True) for arg in spec.argv),
        f"WorkingDirectory={_escape_specifiers(str(spec.working_directory))}",
        *_env_line(spec.environment.items()),
        f"EnvironmentFile=-{_escape_specifiers(str(spec.env_file))}",
        "Restart=always",
        f"RestartSec={spec.restart_sec}",
        "RestartPreventExitStatus=78",
        "SuccessExitStatus=0 143",
        "TimeoutStartSec=30",
        f"TimeoutStopSec={spec.timeout_stop_sec}",
        "KillMode=mixed",
        "UMask=0077",
        "OOMPolicy=continue",
    ]
    if spec.watchdog_sec:
        service.append(f"WatchdogSec={spec.watchdog_sec}")
    if spec.memory_high:
        service.append(f"MemoryHigh={spec.memory_high}")
    if spec.memory_max:
        service.append(f"MemoryMax={spec.memory_max}")
    if system:
        service.insert(0, f"User={spec.user}")
    lines = [
        "# Written by `openclaw gateway install`; rewrite it with `openclaw gateway install "
        "--force`.",
        f"# Secrets belong in {spec.env_file} (owner-only), never in this file.",
        "[Unit]",
        f"Description={_escape_specifiers(spec.description)}",
        "After=network-online.target",
        "Wants=network-online.target",
        "StartLimitBurst=5",
        "StartLimitIntervalSec=60",
        "",
        "[Service]",
        *service,
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if system else 'default.target'}",
        "",
    ]
    return "\n".join(lines)


def parse_unit(text: str) -> UnitFile:
    """Parse unit text into ``{(section, key): [raw values in order]}``.

    Comments, blank lines and line continuations are handled as systemd does;
    values are kept raw (quoted, with ``%%`` escapes) so two units compare exactly.
    """
    unit: UnitFile = {}
    section = ""
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped[:1] in ("#", ";"):
            continue  # comments are skipped, even between continued lines
        line = pending + stripped
        pending = ""
        if not line:
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep:
            unit.setdefault((section, key.strip()), []).append(value.strip())
    return unit


def _unescape(word: str) -> str:
    return word.replace("%%", "%")


def exec_argv(unit: UnitFile) -> list[str]:
    """The argv of the (last) ``ExecStart=`` line, unquoted; empty when there is none."""
    values = [v for v in unit.get(("Service", "ExecStart"), []) if v]
    if not values:
        return []
    command = values[-1].lstrip("@-:+!")
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return [_unescape(word).replace("$$", "$") for word in words]


def parse_environment(unit: UnitFile) -> dict[str, str]:
    """The variables set by the unit's ``Environment=`` lines (later ones win)."""
    result: dict[str, str] = {}
    for value in unit.get(("Service", "Environment"), []):
        try:
            words = shlex.split(value)
        except ValueError:
            words = value.split()
        for word in words:
            key, sep, item = word.partition("=")
            if sep and key:
                result[key] = _unescape(item)
    return result
