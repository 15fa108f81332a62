"""Gateway lifecycle: start order, single-instance lock, readiness, ordered shutdown.

Start: config → settings (refusals exit 78) → state dir and instance lock → file
log → listen (a taken port is named, or freed with ``--force`` when it is a stale
gateway of this same profile) → runtime record → ready. Stop (SIGTERM/SIGINT): the
signal handler only sets an event; the loop then sends ``shutdown`` to every
client, closes them with 1012, stops listening within the drain budget and exits
0. A second signal skips the drain.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openclaw import __version__
from openclaw.atomicfile import write_atomic
from openclaw.clock import now_ms
from openclaw.config import load_config
from openclaw.envfile import load_into_environ
from openclaw.errors import OpenClawError, PortInUseError
from openclaw.gateway.settings import GatewayFlags, GatewaySettings, resolve_settings
from openclaw.gateway.supervisor import SupervisorLink
from openclaw.instancelock import InstanceLock
from openclaw.logs import LEVELS, FileLog, setup_logging
from openclaw.netinfo import listeners_on_port
from openclaw.paths import Profile, ensure_private_dir
from openclaw.redact import Redactor

if TYPE_CHECKING:
    from openclaw.gateway.app import App
    from openclaw.gateway.server import GatewayServer

__all__ = ["RunOptions", "run_gateway"]

log = logging.getLogger("openclaw.gateway")


@dataclass(frozen=True)
class RunOptions:
    """Options of ``openclaw gateway`` that are not config overrides."""

    force: bool = False
    verbose: bool = False
    log_level: str | None = None


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its parent counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _terminate(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM ``pid``, escalate to SIGKILL after ``timeout``; True once it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(delay)  # polling another process's exit: there is no event to await
        delay = min(delay * 2, 0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return False


def _acquire_lock(profile: Profile, force: bool) -> InstanceLock:
    lock = InstanceLock(profile.lock_path)
    if lock.acquire():
        return lock
    holder = lock.holder()
    if not force or holder is None or holder == os.getpid():
        raise PortInUseError(
            f"another gateway of profile {profile.name!r} is already running"
            f"{f' (pid {holder})' if holder else ''}; stop it first, or start this one "
            "with --force to replace it (or use another --profile for a second gateway)"
        )
    log.warning("--force: stopping the running gateway of this profile (pid %d)", holder)
    _terminate(holder)
    deadline = time.monotonic() + 5
    while not lock.acquire():
        if time.monotonic() > deadline:
            raise PortInUseError(f"gateway pid {holder} did not release the profile lock")
        time.sleep(0.05)  # the lock is released by the kernel when the old process exits
    return lock


def _port_error(port: int) -> PortInUseError:
    listeners = listeners_on_port(port)
    who = ", ".join(sorted({item.describe() for item in listeners})) or "another process"
    return PortInUseError(
        f"port {port} is already in use by {who}; stop it, or choose another port with "
        "--port / gateway.port (--force only replaces a gateway of this same profile)"
    )


def _stale_gateway_pid(profile: Profile, port: int) -> int | None:
    """Pid of this profile's previous gateway if it is what holds ``port``."""
    try:
        record = json.loads(profile.runtime_path.read_text(encoding="utf-8"))
        recorded = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if recorded == os.getpid():
        return None
    holders = {item.pid for item in listeners_on_port(port)}
    return recorded if recorded in holders else None


def _write_runtime(profile: Profile, settings: GatewaySettings, port: int, boot_id: str) -> None:
    record = {
        "pid": os.getpid(),
        "port": port,
        "bind": settings.bind,
        "hosts": list(settings.hosts),
        "version": __version__,
        "bootId": boot_id,
        "startedAt": now_ms(),
        "profile": profile.name,
    }
    write_atomic(profile.runtime_path, json.dumps(record), 0o600)


def _say_how_configured(
    profile: Profile, config_exists: bool, settings: GatewaySettings
) -> None:
    secret = {
        "generated": f"the generated token in {profile.token_path}",
        "flag": "the --token/--password flag",
        "env": "the OPENCLAW_GATEWAY_TOKEN/PASSWORD environment variable",
        "config": "the secret in the config file",
        "none": "no secret",
    }[settings.secret_source]
    if not config_exists:
        log.info(
            "no config file at %s: running on built-in defaults "
            "(bind %s, %s auth with %s)",
            profile.config_path, settings.bind, settings.auth_mode, secret,
        )
    else:
        log.info(
            "config %s: bind %s, %s auth with %s",
            profile.config_path, settings.bind, settings.auth_mode, secret,
        )


async def _listen(server: GatewayServer, settings: GatewaySettings, profile: Profile,
                  force: bool) -> int:
    """Bind the port; with ``--force`` first stop a stale gateway of this profile on it."""
    for attempt in (1, 2):
        try:
            return await server.listen(settings.hosts, settings.port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise PortInUseError(
                    f"cannot listen on {','.join(settings.hosts)}:{settings.port}: "
                    f"{exc.strerror or exc}"
                ) from None
            stale = _stale_gateway_pid(profile, settings.port) if force else None
            if attempt == 2 or stale is None:
                raise _port_error(settings.port) from None
            log.warning("--force: stopping stale gateway pid %d holding port %d",
                        stale, settings.port)
            await asyncio.to_thread(_terminate, stale)
    raise AssertionError("unreachable")


async def _serve(app: App, options: RunOptions) -> int:
    from openclaw.gateway.server import GatewayServer

    settings, profile = app.settings, app.profile
    server = GatewayServer(app)
    port = await _listen(server, settings, profile, options.force)
    app.start(port)
    _write_runtime(profile, settings, port, app.identity.boot_id)
    supervisor = SupervisorLink()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals_seen: list[str] = []

    def on_signal(signum: int) -> None:
        signals_seen.append(signal.Signals(signum).name)
        if len(signals_seen) > 1:
            log.warning("second %s: exiting without drain", signals_seen[-1])
            os._exit(0)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    host = settings.display_host
    log.info(
        "listening on ws://%s:%d (pid %d, profile %s, port from %s)",
        host, port, os.getpid(), profile.name, settings.port_source,
    )
    supervisor.ready(f"listening on ws://{host}:{port}")
    watchdog = asyncio.create_task(supervisor.watchdog())
    await stop.wait()
    log.info("received %s: shutting down", signals_seen[0])
    supervisor.stopping(f"draining ({signals_seen[0]})")
    watchdog.cancel()
    drain_s = app.config.gateway.drain_timeout_ms / 1000
    started = time.monotonic()
    await app.drain(drain_s * 0.6)
    drain_s = max(1.0, drain_s - (time.monotonic() - started))
    await server.shutdown("gateway stopping", drain_s)
    app.close()
    profile.runtime_path.unlink(missing_ok=True)
    log.info("gateway stopped")
    return 0


def run_gateway(profile: Profile, flags: GatewayFlags, options: RunOptions) -> int:
    """Run the gateway in the foreground until SIGTERM/SIGINT; return the exit status.

    Raises:
        ConfigError: invalid config or refused settings (exit 78).
        PortInUseError: the port or the profile's lock is held by someone else.
    """
    env_file = os.environ.get("OPENCLAW_ENV_FILE")
    if env_file:  # launchd has no EnvironmentFile=: the gateway reads it itself
        load_into_environ(Path(env_file))
    config, config_exists = load_config(profile.config_path)
    ensure_private_dir(profile.state_dir)
    settings = resolve_settings(config, config_exists, profile, flags)
    lock = _acquire_lock(profile, options.force)
    file_level = options.log_level or os.environ.get("OPENCLAW_LOG_LEVEL") or config.logging.level
    console_level = "debug" if options.verbose else (
        options.log_level or os.environ.get("OPENCLAW_LOG_LEVEL") or config.logging.console_level
    )
    if file_level not in LEVELS or console_level not in LEVELS:
        raise OpenClawError(f"unknown log level; use one of {', '.join(LEVELS)}")
    redactor = Redactor(
        [s for s in (settings.token, settings.password) if s], config.logging.redact_patterns
    )
    log_dir = Path(config.logging.dir).expanduser() if config.logging.dir else profile.log_dir
    file_log = FileLog(
        log_dir,
        max_file_bytes=config.logging.max_file_bytes,
        max_archives=config.logging.max_archives,
        retention_days=config.logging.retention_days,
    )
    logging_setup = setup_logging(
        file_log, redactor, file_level=file_level, console_level=console_level, console=sys.stdout
    )
    if options.verbose:
        logging.getLogger("openclaw.gateway.ws").setLevel(logging.DEBUG)
    else:
        logging.getLogger("openclaw.gateway.ws").setLevel(logging.WARNING)
    from openclaw.gateway.app import build_app

    app = build_app(config, config_exists, settings, profile, file_log, os.environ)
    for secret in app.secrets:
        redactor.add_secret(secret)
    _say_how_configured(profile, config_exists, settings)
    installed_by = os.environ.get("OPENCLAW_SERVICE_VERSION")
    if installed_by and installed_by != __version__:
        log.warning(
            "this service was installed by openclaw %s but runs %s: run `openclaw doctor "
            "--fix` (or `openclaw gateway install --force`) to rewrite its definition",
            installed_by, __version__,
        )
    try:
        return asyncio.run(
            _serve(app, options)
        )
    except OpenClawError as exc:
        log.error("%s", exc.message)
        raise
    finally:
        logging_setup.close()
        lock.release()

