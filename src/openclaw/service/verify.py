"""Proof that a (re)started service really runs a *new* gateway that answers.

``systemctl start`` returning, or launchd listing the job, is not proof: the
process may have died right after, or the old one may still hold the port. Here a
start counts only when the manager's main pid differs from the old one *and* that
very pid answers ``health`` on the service's port. Failures carry the real reason:
the exit status and the last error line of the gateway's file log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openclaw.clock import now_ms
from openclaw.errors import OpenClawError
from openclaw.paths import Profile
from openclaw.service.backend import Runtime, ServiceBackend, ServiceError
from openclaw.service.lasterror import last_error

__all__ = ["HealthProbe", "Verified", "WaitOptions", "probe_health", "wait_for_gateway"]


@dataclass(frozen=True)
class Verified:
    """A gateway pid that answered health, and how long it took from the start call."""

    pid: int
    elapsed_ms: int


def probe_health(profile: Profile, port: int, timeout: float = 2.0) -> tuple[int | None, str]:
    """Ask the gateway on ``port`` for health: ``(pid, "")`` or ``(None, reason)``."""
    from openclaw.client.sync import call_once
    from openclaw.configfile import read_lenient
    from openclaw.credentials import stored_credentials

    token, password = stored_credentials(profile, read_lenient(profile.config_path))
    try:
        snapshot = call_once(f"ws://127.0.0.1:{port}", "health", {}, token=token,
                             password=password, timeout=timeout)
    except OpenClawError as exc:
        return None, exc.message
    pid = (snapshot.get("process") or {}).get("pid") if isinstance(snapshot, dict) else None
    return (pid if isinstance(pid, int) else None), ""


HealthProbe = Callable[[Profile, int, float], tuple[int | None, str]]
"""``(profile, port, timeout_s) -> (pid that answered health, or None; why not)``."""


@dataclass(frozen=True)
class WaitOptions:
    """How long and by which clock a (re)start waits for the new gateway to answer.

    ``clock`` (monotonic seconds), ``sleep`` and ``probe`` are what the wait touches
    of the outside world; tests replace them so no real gateway or time is needed.
    """

    timeout_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    probe: HealthProbe = probe_health


def _failure(runtime: Runtime, log_dir: Path, since_ms: int) -> str:
    reason = runtime.detail or f"the service is {runtime.state}"
    error = last_error(log_dir, since_ms=since_ms)
    if error:
        reason += f"; last gateway error: {error['message']}"
    return reason


def wait_for_gateway(
    backend: ServiceBackend,
    profile: Profile,
    port: int,
    *,
    old_pid: int | None,
    started_at: float,
    log_dir: Path,
    wait: WaitOptions | None = None,
) -> Verified:
    """Wait until a pid other than ``old_pid`` runs the service and answers health.

    ``started_at`` is ``wait.clock()`` just before the start call.

    Raises:
        ServiceError: the service failed, or nothing new answered within the budget
            (the message says which, with the gateway's own last error).
    """
    wait = wait or WaitOptions()
    budget_s = wait.timeout_s
    since_ms = now_ms() - int((wait.clock() - started_at) * 1000) - 1000
    deadline = started_at + budget_s
    reason = "no answer yet"
    delay = 0.02
    while True:
        runtime = backend.runtime()
        if runtime.state in ("failed", "crash-looping", "stopped", "not-installed"):
            raise ServiceError(_failure(runtime, log_dir, since_ms))
        if runtime.pid and runtime.pid != old_pid:
            pid, why = wait.probe(profile, port, min(2.0, budget_s))
            if pid == runtime.pid:
                return Verified(pid, int((wait.clock() - started_at) * 1000))
            reason = (
                f"pid {runtime.pid} runs but port {port} answers for pid {pid}" if pid
                else f"pid {runtime.pid} runs but port {port} does not answer: {why}"
            )
        elif runtime.pid == old_pid and old_pid:
            reason = f"the service manager still reports the old pid {old_pid}"
        if wait.clock() >= deadline:
            raise ServiceError(f"no new gateway answered health within {budget_s:g}s: {reason}")
        wait.sleep(delay)  # another process's progress: there is no event to await here
        delay = min(delay * 2, 0.25)
