"""``gateway status``: each layer of the truth found separately, then summarised.

Layers: the service definition on disk; the service manager's runtime view; the
config path the CLI uses and the one the service uses; bind, port and where the
port came from; who listens on the port; an RPC probe with its real error; the last
error line of the gateway's file log when the service runs but nothing answers;
other gateway-like services. Each layer is collected even when another fails, so
one broken piece never hides the others. The JSON form is versioned
(``schemaVersion``) and documented in ``docs/status.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openclaw.configfile import LenientConfig, read_lenient
from openclaw.envfile import read_env_file
from openclaw.errors import (
    AuthError,
    ExitCode,
    GatewayUnreachable,
    OpenClawError,
)
from openclaw.paths import Profile
from openclaw.redact import MASK, redact_env
from openclaw.result import CommandResult
from openclaw.service.backend import InstalledService, Runtime, ServiceBackend
from openclaw.service.lasterror import log_dir_of

__all__ = ["SCHEMA_VERSION", "StatusOptions", "StatusResult", "collect_status", "render_status"]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class StatusOptions:
    """What ``gateway status`` was asked for."""

    probe: bool = True
    deep: bool = False
    url: str | None = None
    token: str | None = None
    password: str | None = None
    timeout_s: float = 3.0


class StatusResult(CommandResult):
    """``gateway status``: the versioned document (``docs/status.md``); its exit status
    is ``summary.exitCode`` (0 healthy, 1 unhealthy, 3 not running, 77 refused)."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report
        self.exit_code = int(report["summary"]["exitCode"])

    def to_json(self) -> dict[str, Any]:
        """The status document, schema version 1."""
        return self.report

    def to_text(self) -> str:
        """One labelled line per fact, problems last."""
        return "\n".join(render_status(self.report))


def _config_layer(path: Path, state_dir: Path) -> dict[str, Any]:
    import zlib

    from openclaw.configcheck import check_config

    cache = state_dir / f"config-check-{zlib.crc32(str(path).encode()):08x}.json"
    valid, error = check_config(path, cache)
    return {"path": str(path), "exists": path.is_file(), "valid": valid, "error": error}


def _service_layer(backend: ServiceBackend | None, installed: InstalledService | None,
                   profile: Profile, unavailable: str | None) -> dict[str, Any]:
    env_path = profile.service_env_path
    layer: dict[str, Any] = {
        "backend": backend.kind if backend else None,
        "name": backend.name if backend else None,
        "managerAvailable": unavailable is None,
        "managerError": unavailable,
        "installed": installed is not None,
        "file": str(installed.path) if installed else (
            str(backend.definition_path) if backend else None),
        "command": installed.argv if installed else None,
        "workingDirectory": installed.working_directory if installed else None,
        "environment": redact_env(installed.environment) if installed else None,
        "envFile": {
            "path": str(env_path),
            "exists": env_path.is_file(),
            "keys": sorted(read_env_file(env_path)),
        },
        "inlineSecrets": sorted(k for k, v in redact_env(installed.environment).items()
                                if v == MASK) if installed else [],
    }
    return layer


def _probe(url: str, token: str | None, password: str | None,
           timeout: float) -> dict[str, Any]:
    from openclaw.client.sync import call_once

    try:
        summary = call_once(url, "status", {"includeChannelSummary": True}, token=token,
                            password=password, timeout=timeout)
    except AuthError as exc:
        return {"ok": False, "url": url, "error": {"kind": "auth", "message": exc.message}}
    except GatewayUnreachable as exc:
        text = exc.message
        kind = ("refused" if "refused" in text else "timeout" if "did not answer" in text
                or "timed out" in text else "closed" if "closed" in text else "unreachable")
        return {"ok": False, "url": url, "error": {"kind": kind, "message": text}}
    except OpenClawError as exc:
        return {"ok": False, "url": url, "error": {"kind": "rpc", "message": exc.message}}
    summary = summary if isinstance(summary, dict) else {}
    gateway = summary.get("gateway") or {}
    return {
        "ok": True, "url": url, "error": None,
        "pid": gateway.get("pid"),
        "version": summary.get("runtimeVersion"),
        "uptimeMs": gateway.get("uptimeMs"),
        "profile": gateway.get("profile"),
        "configPath": gateway.get("configPath"),
        "channels": [line for line in summary.get("channelSummary") or []
                     if isinstance(line, str)],
    }


def _listeners(port: int) -> list[dict[str, Any]]:
    from openclaw.netinfo import listeners_on_port

    return [{"pid": item.pid, "command": item.command, "address": item.address}
            for item in listeners_on_port(port)]


def collect_status(
    profile: Profile,
    backend: ServiceBackend | None,
    options: StatusOptions,
    *,
    unavailable: str | None = None,
) -> dict[str, Any]:
    """Gather every layer into the versioned status document."""
    from openclaw.credentials import stored_credentials

    usable = backend is not None and unavailable is None
    installed = backend.read_installed() if backend else None
    runtime = (backend.runtime() if usable and backend else
               Runtime("not-installed") if installed is None else
               Runtime("unknown", detail=unavailable))
    if installed is None and runtime.state not in ("unknown",):
        runtime = Runtime("not-installed")
    report: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION, "profile": profile.name,
                              "stateDir": str(profile.state_dir)}
    report["service"] = _service_layer(backend, installed, profile, unavailable)
    report["runtime"] = runtime.to_json()

    cli_config = _config_layer(profile.config_path, profile.state_dir)
    service_path = installed.environment.get("OPENCLAW_CONFIG_PATH") if installed else None
    service_state = installed.environment.get("OPENCLAW_STATE_DIR") if installed else None
    service_config = (_config_layer(Path(service_path), Path(service_state or profile.state_dir))
                      if service_path else None)
    mismatch = service_path is not None and Path(service_path) != profile.config_path
    report["config"] = {
        "cli": cli_config,
        "service": service_config,
        "mismatch": mismatch,
        "fix": (f"the service uses {service_path} but this CLI uses {profile.config_path}: rerun "
                "`openclaw gateway install --force` with the --profile/OPENCLAW_STATE_DIR the "
                "service should use") if mismatch else None,
    }

    config_path = Path(service_path) if service_path else profile.config_path
    config = read_lenient(config_path)
    if installed is not None and installed.port:
        port, port_source = installed.port, "service"
    else:
        port, port_source = config.port(profile.default_port)
    same_file = config_path == profile.config_path  # usually: read it once
    cli_port, cli_source = _cli_port(profile, config if same_file else None)
    bind = config.get("gateway.bind")
    bind = bind if bind in ("loopback", "lan", "custom") else "loopback"
    url = options.url or f"ws://127.0.0.1:{port}"
    note = None
    if options.url:
        note = "explicit --url: only --token/--password are used"
    elif bind == "lan":
        note = ("the gateway listens on all interfaces; this probe uses loopback. Other "
                "machines must use this host's LAN address and the gateway token")
    elif bind == "custom":
        note = (f"the gateway listens on {config.string('gateway.customBindHost')} and "
                "127.0.0.1; this probe uses loopback")
    report["gateway"] = {"bind": bind, "port": port, "portSource": port_source,
                         "cliPort": cli_port, "cliPortSource": cli_source,
                         "probeUrl": url, "probeNote": note}

    listeners = _listeners(port)
    report["port"] = {"port": port, "listening": bool(listeners), "listeners": listeners}

    rpc = None
    if options.probe:
        if options.url:
            token, password = options.token, options.password
        else:
            stored_token, stored_password = stored_credentials(profile, config)
            token = options.token or stored_token
            password = options.password or stored_password
        rpc = _probe(url, token, password, options.timeout_s)
    report["rpc"] = rpc

    log_path = log_dir_of(profile, config)
    report["logDir"] = str(log_path)
    answering = bool(rpc and rpc["ok"]) or (rpc is None and bool(listeners))
    last = None
    if runtime.state in ("running", "starting", "failed", "crash-looping") and not answering:
        from openclaw.service.lasterror import last_error

        last = last_error(log_path)
    report["lastError"] = last
    legacy = backend.legacy_services() if backend else []
    listed = {str(item.path) for item in legacy}
    report["legacyServices"] = [item.to_json() for item in legacy]
    report["otherServices"] = [
        item.to_json() for item in (backend.scan(options.deep) if backend else [])
        if str(item.path) not in listed
    ]
    report["summary"] = _summary(report, runtime, answering)
    return report


def _cli_port(profile: Profile, config: LenientConfig | None = None) -> tuple[int, str]:
    """The port ``openclaw health`` would use now, and why (as the CLI resolves it).

    ``config`` is the CLI's config when the caller has already read it.
    """
    from openclaw.runtimeinfo import running_port

    if not os.environ.get("OPENCLAW_GATEWAY_PORT"):
        running = running_port(profile)
        if running is not None:
            return running, "running gateway"
    return (config or read_lenient(profile.config_path)).port(profile.default_port)


def _summary(report: dict[str, Any], runtime: Runtime, answering: bool) -> dict[str, Any]:
    rpc = report["rpc"]
    problems: list[str] = []
    state = runtime.state
    port = report["port"]
    if rpc is not None and not rpc["ok"] and rpc["error"]["kind"] == "auth":
        health, code = "unauthorized", ExitCode.AUTH
        problems.append(f"a gateway answers but refused our credentials: {rpc['error']['message']}")
    elif answering:
        health, code = "healthy", ExitCode.OK
    elif state in ("running", "starting", "crash-looping", "failed"):
        health, code = "unhealthy", ExitCode.FAILURE
        if state in ("running", "starting") and not port["listening"]:
            problems.append(f"the service runs (pid {runtime.pid}) but port {port['port']} "
                            "is not listening")
        elif state in ("running", "starting") and rpc is not None:
            problems.append(f"the service runs but the RPC probe failed: {rpc['error']['message']}")
        else:
            problems.append(runtime.detail or f"the service is {state}")
    else:
        health, code = "not-running", ExitCode.NOT_RUNNING
    if report["config"]["mismatch"]:
        problems.append(report["config"]["fix"])
    if report["service"]["inlineSecrets"]:
        problems.append("secrets are written inline in the service definition "
                        "(run `openclaw doctor --fix` to move them to the env file)")
    if report["legacyServices"]:
        problems.append("legacy services of this profile: "
                        + ", ".join(o["name"] for o in report["legacyServices"])
                        + " (remove them with `openclaw gateway uninstall` or `doctor --fix`)")
    warned = [o for o in report["otherServices"] if o["kind"] != "profile"]
    if warned:
        problems.append("other gateway-like services: " + ", ".join(o["name"] for o in warned))
    return {"health": health, "exitCode": code, "problems": problems}


def render_status(report: dict[str, Any]) -> list[str]:
    """The human form: one labelled line per fact, problems last."""
    service = report["service"]
    runtime = report["runtime"]
    gateway = report["gateway"]
    lines = []
    if not service["managerAvailable"]:
        lines.append(f"Service manager: unavailable ({service['managerError']})")
    if service["installed"]:
        lines.append(f"Service: {service['name']} ({service['backend']}, installed)")
        lines.append(f"Service file: {service['file']}")
        lines.append(f"Command: {' '.join(service['command'] or [])}")
        env = service["environment"] or {}
        shown = {k: v for k, v in env.items() if k not in ("PATH", "HOME")}
        lines.append("Service env: " + " ".join(f"{k}={v}" for k, v in shown.items()))
        keys = service["envFile"]["keys"]
        lines.append(f"Env file: {service['envFile']['path']}"
                     + (f" ({', '.join(keys)})" if keys else
                        "" if service["envFile"]["exists"] else " (missing)"))
    else:
        lines.append(f"Service: {service['name'] or '-'} (not installed)")
    state = runtime["state"]
    text = state
    if runtime["pid"]:
        text += f", pid {runtime['pid']}"
    if runtime["restarts"]:
        text += f", {runtime['restarts']} restarts"
    if runtime["lastExitStatus"] is not None and state != "running":
        text += f", last exit status {runtime['lastExitStatus']}"
    if runtime["detail"]:
        text += f" ({runtime['detail']})"
    lines.append(f"Runtime: {text}")
    if runtime.get("needsReload"):
        scope = "--user " if service["backend"] == "systemd-user" else ""
        lines.append("Systemd reload: pending (the unit changed on disk; "
                     f"`systemctl {scope}daemon-reload`)")
    config = report["config"]
    lines.append(_config_line("Config (cli)", config["cli"]))
    if config["service"]:
        lines.append(_config_line("Config (service)", config["service"]))
    lines.append(f"Gateway: bind={gateway['bind']}, port={gateway['port']} "
                 f"({gateway['portSource']})")
    if gateway["cliPort"] != gateway["port"]:
        lines.append(f"Note: this CLI would use port {gateway['cliPort']} "
                     f"({gateway['cliPortSource']}); the service uses {gateway['port']}")
    lines.append(f"Probe target: {gateway['probeUrl']}")
    if gateway["probeNote"]:
        lines.append(f"Probe note: {gateway['probeNote']}")
    port = report["port"]
    if port["listening"]:
        who = ", ".join(f"pid {item['pid']} ({item['command'] or '?'}) on {item['address']}"
                        if item["pid"] else item["address"] for item in port["listeners"])
        lines.append(f"Listening: {who}")
    else:
        lines.append(f"Listening: nothing on port {port['port']}")
    rpc = report["rpc"]
    if rpc is None:
        lines.append("RPC probe: skipped (--no-probe)")
    elif rpc["ok"]:
        lines.append(f"RPC probe: ok (pid {rpc['pid']}, v{rpc['version']})")
        for channel in rpc.get("channels", []):
            lines.append(f"  channel {channel}")
    else:
        lines.append(f"RPC probe: failed ({rpc['error']['kind']}): {rpc['error']['message']}")
    if report["lastError"]:
        lines.append(f"Last gateway error: {report['lastError']['time']} "
                     f"{report['lastError']['message']}")
        lines.append(f"Logs: {report['lastError']['file']} (`openclaw logs` needs a running "
                     "gateway; read the file directly)")
    for item in report["legacyServices"]:
        lines.append(f"Legacy service: {item['name']} ({item['path']}); remove with "
                     "`openclaw gateway uninstall` or `openclaw doctor --fix`")
    for item in report["otherServices"]:
        label = {"profile": "Other profile's service", "legacy": "Legacy service (not this "
                 "profile's)"}.get(item["kind"], "Gateway-like service")
        lines.append(f"{label}: {item['name']} ({item['scope']}, {item['path']})")
    summary = report["summary"]
    lines.append(f"Health: {summary['health']}")
    lines.extend(f"Problem: {p}" for p in summary["problems"])
    return lines


def _config_line(label: str, layer: dict[str, Any]) -> str:
    suffix = ""
    if not layer["exists"]:
        suffix = " (missing: built-in defaults)"
    elif layer["valid"] is False:
        suffix = f" (invalid: {layer['error']})"
    return f"{label}: {layer['path']}{suffix}"
