"""``openclaw cron list|add|remove|run``: scheduled jobs, through the gateway
(``cron.list``, ``cron.add``, ``cron.remove``, ``cron.run``)."""

from __future__ import annotations

from openclaw.cli.common import call_gateway, wants_json
from openclaw.cli.render import emit
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["add", "list_jobs", "remove", "run", "usage"]


def usage(ns: argparse.Namespace) -> int:
    """``openclaw cron`` alone: say which subcommands exist."""
    from openclaw.errors import UsageError

    raise UsageError("openclaw cron needs a subcommand: list, add, remove, run")




def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _schedule(schedule: dict[str, Any]) -> str:
    kind = schedule.get("kind")
    if kind == "at":
        return f"at {schedule.get('at')}"
    if kind == "every":
        return f"every {schedule.get('everyMs', 0) / 1000:g}s"
    zone = f" ({schedule['tz']})" if schedule.get("tz") else ""
    return f"cron {schedule.get('expr')}{zone}"


class JobList(CommandResult):
    """The jobs, one line each."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def to_json(self) -> Any:
        """The ``cron.list`` answer."""
        return self.answer

    def to_text(self) -> str:
        """``id  name  schedule  next  last``."""
        jobs = self.answer.get("jobs", [])
        if not jobs:
            return "no scheduled jobs"
        lines = []
        for job in jobs:
            state = job.get("state", {})
            flag = "" if job.get("enabled") else "  (disabled)"
            lines.append(f"{job['id']}  {job.get('name')}  {_schedule(job['schedule'])}  "
                         f"next {_when(state.get('nextRunAtMs'))}  "
                         f"last {state.get('lastRunStatus') or '-'}{flag}")
        return "\n".join(lines)


class JobAnswer(CommandResult):
    """One job, or one action on it."""

    def __init__(self, answer: dict[str, Any], verb: str) -> None:
        self.answer = answer
        self.verb = verb

    def to_json(self) -> Any:
        """The method's answer."""
        return self.answer

    def to_text(self) -> str:
        """One line."""
        a = self.answer
        if self.verb == "added":
            return (f"added {a['id']} ({_schedule(a['schedule'])}), next "
                    f"{_when(a.get('state', {}).get('nextRunAtMs'))}")
        if self.verb == "run":
            return f"started run {a.get('runId')}"
        return f"removed {a.get('id')}"


def list_jobs(ns: argparse.Namespace) -> int:
    """The scheduled jobs (enabled ones; ``--all`` for every job)."""
    params = {"includeDisabled": bool(ns.all), "limit": 500, "sortBy": "nextRunAtMs"}
    return emit(JobList(call_gateway(ns, "cron.list", params)), wants_json(ns))


def add(ns: argparse.Namespace) -> int:
    """Add a job from ``--at``, ``--every`` or ``--cron`` (with ``--tz``) and a message."""
    from openclaw.errors import UsageError

    chosen = [flag for flag in ("at", "every", "cron") if getattr(ns, flag)]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --at, --every, --cron")
    schedule: dict[str, Any] = {"kind": chosen[0]}
    if ns.at:
        schedule["at"] = ns.at
    elif ns.every:
        schedule["every"] = ns.every
    else:
        schedule["expr"] = ns.cron
    if ns.tz:
        schedule["tz"] = ns.tz
    params: dict[str, Any] = {"schedule": schedule, "payload": {"message": ns.message},
                              "catchUp": ns.catch_up, "sessionTarget": ns.session}
    for key, value in (("name", ns.name), ("id", ns.id)):
        if value:
            params[key] = value
    if ns.delete_after_run:
        params["deleteAfterRun"] = True
    if ns.to:
        delivery = {"mode": "announce", "to": ns.to}
        if ns.channel:
            delivery["channel"] = ns.channel
        if ns.account:
            delivery["accountId"] = ns.account
        params["delivery"] = delivery
    return emit(JobAnswer(call_gateway(ns, "cron.add", params), "added"), wants_json(ns))


def remove(ns: argparse.Namespace) -> int:
    """Remove a job and its run history."""
    answer = call_gateway(ns, "cron.remove", {"id": ns.id})
    return emit(JobAnswer(answer, "removed"), wants_json(ns))


def run(ns: argparse.Namespace) -> int:
    """Run a job now (its schedule is unchanged)."""
    return emit(JobAnswer(call_gateway(ns, "cron.run", {"id": ns.id}), "run"), wants_json(ns))
