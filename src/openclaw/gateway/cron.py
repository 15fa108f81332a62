"""The scheduler: jobs that run an agent turn at a time, every interval, or on a cron
expression, with their outcome optionally delivered to a chat.

The scheduler task sleeps until the earliest next slot of any enabled job (one
indexed lookup), so idle jobs cost nothing; a change to the jobs wakes it to
recompute. Sleeping is measured on the monotonic clock, but slots are wall-clock
times: the task wakes at least once a minute, so a wall-clock jump is noticed and
the sleep recomputed. Each due slot is claimed in the database before its run
starts (:meth:`CronStore.claim`), with the run id ``cron:<job>:<slot ms>``, so no
slot ever runs twice, also across ``kill -9``; a run a dead process left unfinished
is submitted again under the same id at the next start (its reply is delivered
under ``reply:<run id>``, once). Slots that pass while the gateway is down are each
recorded as ``missed``; the job's ``catchUp`` says whether the newest of them runs
at start (``run-once``) or not (``skip``).

:class:`CronService` is also the API other parts (methods, an agent tool) call:
:meth:`add`, :meth:`update`, :meth:`remove`, :meth:`run_now`, :meth:`list_jobs`,
:meth:`runs`, :meth:`status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec

from openclaw.agent.runtime import AgentRuntime, Run
from openclaw.clock import now_ms
from openclaw.config import CronConfig, CronJobConfig, parse_duration_ms
from openclaw.errors import OpenClawError, UsageError
from openclaw.protocol.errors import error_from
from openclaw.schedule import Schedule, ScheduleError, parse_schedule
from openclaw.store.cron import CronStore
from openclaw.store.db import DiskFull

__all__ = ["MISSED_CAP", "WALL_CHECK_S", "CronService"]

log = logging.getLogger("openclaw.cron")

#: The longest sleep, so that a wall-clock jump is noticed within it.
WALL_CHECK_S = 60.0
#: How long the scheduler waits before claiming a due slot again when the disk is full.
DISK_FULL_RETRY_S = 1.0
#: Missed slots recorded one by one per job and catch-up; later ones are summed up.
MISSED_CAP = 1000


#: Why missed slots did not run: the gateway was down (found at start), or a later slot
#: was already due when the scheduler claimed them while it ran.
_DOWN = "the gateway was not running at this time"
_PASSED = ("a later slot was already due when this one was claimed (the wall clock "
           "jumped, the machine was suspended, or the disk was full)")


def _run_id(job_id: str, slot_ms: int) -> str:
    return f"cron:{job_id}:{slot_ms}"


class CronService:
    """Keeps the jobs, sleeps until the next one is due, and runs it."""

    def __init__(self, store: CronStore, agent: AgentRuntime, config: CronConfig,
                 emit: Callable[[dict[str, Any]], None],
                 wall_ms: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.agent = agent
        self.config = config
        self.emit = emit
        self.wall_ms = wall_ms
        self.enabled = config.enabled
        self.retention_ms = parse_duration_ms(config.run_retention)
        self.next_wake_ms: int | None = None
        self.revision = 0
        self._boot = uuid.uuid4().hex[:8]
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._active: set[str] = set()

    # ------------------------------------------------------------------ life

    def load_declared(self, jobs: tuple[CronJobConfig, ...]) -> None:
        """Make the jobs declared in config (``cron.jobs``) exist as declared; drop
        declared jobs that are no longer in config. A job whose schedule did not change
        keeps its next slot (and an ``every`` job its anchor)."""
        now = self.wall_ms()
        declared = {job.id for job in jobs}
        for row in self.store.jobs():
            if row["source"] == "config" and row["id"] not in declared:
                self.store.delete(row["id"])
                log.info("cron: removed job %s (no longer in config)", row["id"])
        for job in jobs:
            job_id = job.id
            assert job_id is not None  # checked when the config was loaded
            existing = self.store.get(job_id)
            old_schedule = existing["spec"]["schedule"] if existing else None
            if old_schedule is not None and _same_schedule(old_schedule, job.schedule):
                job = msgspec.structs.replace(job, schedule=old_schedule)
                spec, schedule = self._spec(job, now)
                self.store.put(job_id, spec, "config", job.enabled,
                               existing["nextRunAtMs"] if existing and existing["enabled"] ==
                               job.enabled else (schedule.next_after(now) if job.enabled else None))
            else:
                spec, schedule = self._spec(job, now)
                self.store.put(job_id, spec, "config", job.enabled,
                               schedule.next_after(now) if job.enabled else None)

    def start(self) -> None:
        """Resume runs a previous process left unfinished, catch up on slots missed
        while it was down, then start the scheduler. Call before the agent runtime
        recovers its runs, so resumed runs are not ended as interrupted."""
        for run in self.store.running():
            job = self.store.get(run["jobId"])
            if job is None:
                self.store.finish(run["runId"], "error", "the job was removed", None, None)
                continue
            log.info("cron: resuming run %s of job %s", run["runId"], job["id"])
            self._submit(job, run["runId"])
        if not self.enabled:
            return
        now = self.wall_ms()
        try:
            for job in self.store.due(now):
                self._fire(job, now, catch_up=True)
        except DiskFull as exc:  # the scheduler claims them once there is room
            log.warning("cron: cannot catch up on due slots: %s", exc.message)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="cron")

    def stop(self) -> None:
        """Stop the scheduler (runs in progress are left to the agent runtime's drain)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def recompute(self) -> None:
        """Wake the scheduler to look at the jobs and the clock again now."""
        self._changed.set()

    def _changed_now(self) -> None:
        self.revision += 1
        self._changed.set()

    async def _loop(self) -> None:
        offset = time.time() - time.monotonic()
        while True:
            self._changed.clear()
            moved = (time.time() - time.monotonic()) - offset
            if abs(moved) > 1.0:
                offset += moved
                log.info("cron: the wall clock moved by %+.1fs; next times recomputed", moved)
            now = self.wall_ms()
            try:
                for job in self.store.due(now):
                    self._fire(job, now, catch_up=False)
            except DiskFull as exc:  # the slot is claimed when there is room again
                log.warning("cron: cannot claim a due slot: %s; trying again in %gs",
                            exc.message, DISK_FULL_RETRY_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), DISK_FULL_RETRY_S)
                continue
            upcoming = self.store.next_due()
            self.next_wake_ms = upcoming
            delay = (None if upcoming is None
                     else min(WALL_CHECK_S, max(0.0, (upcoming - self.wall_ms()) / 1000)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), delay)

    # ------------------------------------------------------------------ runs

    def _fire(self, job: dict[str, Any], now: int, *, catch_up: bool) -> None:
        """Claim the due slots of ``job`` up to ``now``: the newest runs (unless a
        start's catch-up policy is ``skip``), the others are recorded as missed."""
        job_id = job["id"]
        try:
            schedule = self._schedule(job)
            slots = schedule.slots_between(job["nextRunAtMs"], now, MISSED_CAP + 1)
            following = schedule.next_after(max(now, slots[-1] if slots else now))
        except (ScheduleError, ValueError) as exc:  # a stored job that cannot be computed
            log.error("cron: job %s disabled: %s", job_id, exc)
            self.store.set_enabled(job_id, False, None)
            return
        if not slots:
            self.store.set_enabled(job_id, True, following)
            return
        if len(slots) > MISSED_CAP:  # the ones in between are only counted, in the log
            newest = schedule.last_at_or_before(now)
            slots = slots[:MISSED_CAP] + ([newest] if newest and newest > slots[-1] else [])
            log.warning("cron: job %s missed more than %d slots up to %s; the first %d are "
                        "recorded one by one", job_id, MISSED_CAP, now, MISSED_CAP)
        run_it = not (catch_up and job["spec"].get("catchUp") == "skip")
        run_slot = slots[-1] if run_it else None
        missed = slots[:-1] if run_it else slots
        run_id = _run_id(job_id, run_slot) if run_slot is not None else ""
        claimed = self.store.claim(job_id, run_slot or 0, run_id, "catch-up" if catch_up
                                   else "schedule",
                                   [(slot, _run_id(job_id, slot)) for slot in missed],
                                   following, disable=following is None,
                                   missed_summary=_DOWN if catch_up else _PASSED)
        for slot in missed:
            self.emit({"action": "missed", "jobId": job_id, "runId": _run_id(job_id, slot),
                       "scheduledAtMs": slot})
        if missed:
            log.warning("cron: job %s missed %d slot(s): %s", job_id, len(missed),
                        _DOWN if catch_up else _PASSED)
        if claimed and run_id:
            self._submit(self.store.get(job_id) or job, run_id)

    def _submit(self, job: dict[str, Any], run_id: str) -> None:
        spec = job["spec"]
        payload = spec["payload"]
        delivery = spec.get("delivery") or {}
        deliver = None
        if delivery.get("mode", "announce") == "announce" and delivery.get("to"):
            deliver = (delivery["to"], delivery.get("channel"), delivery.get("accountId"))
        session = "main" if spec.get("sessionTarget") == "main" else f"cron:{job['id']}"
        self.emit({"action": "started", "jobId": job["id"], "runId": run_id})
        self._active.add(run_id)
        try:
            _, found = self.agent.submit(
                run_id, payload["message"], session_key=session, model=payload.get("model"),
                timeout_s=payload.get("timeoutSeconds"), deliver=deliver, resumable=True)
        except OpenClawError as exc:
            self._finished(job["id"], run_id, {"status": "error", "summary": exc.message,
                                               "error": error_from(exc)})
            return
        if isinstance(found, Run):
            found.final.add_done_callback(
                lambda done: self._finished(job["id"], run_id, done.result()))
        else:
            self._finished(job["id"], run_id, found)

    def _finished(self, job_id: str, run_id: str, final: dict[str, Any]) -> None:
        self._active.discard(run_id)
        if self.agent.stopping and final.get("status") != "ok":
            return  # cut short by a stop: the next start runs it again under this id
        status = "ok" if final.get("status") == "ok" else "error"
        delivery = final.get("deliveryStatus")
        try:
            self.store.finish(run_id, status, final.get("summary"), final.get("error"),
                              delivery)
        except DiskFull as exc:  # left running: the next start submits it again, same id
            log.warning("cron: the outcome of run %s cannot be stored: %s", run_id,
                        exc.message)
            self.emit({"action": "finished", "jobId": job_id, "runId": run_id,
                       "status": status, "summary": final.get("summary"),
                       "error": final.get("error"), "delivery": delivery})
            self._changed_now()
            return
        self.emit({"action": "finished", "jobId": job_id, "runId": run_id, "status": status,
                   "summary": final.get("summary"), "error": final.get("error"),
                   "delivery": delivery})
        self.store.prune(job_id, self.config.max_runs_per_job, self.wall_ms() - self.retention_ms)
        job = self.store.get(job_id)
        if (job is not None and status == "ok" and job["spec"].get("deleteAfterRun")
                and job["nextRunAtMs"] is None):
            self.store.delete(job_id)
            self.emit({"action": "removed", "jobId": job_id})
        self._changed_now()

    # ------------------------------------------------------------------ API

    def _spec(self, job: CronJobConfig, now: int) -> tuple[dict[str, Any], Schedule]:
        schedule = parse_schedule(job.schedule, now)
        spec = msgspec.to_builtins(job)
        spec["schedule"] = schedule.to_wire()
        return spec, schedule

    def _schedule(self, job: dict[str, Any]) -> Schedule:
        return parse_schedule(job["spec"]["schedule"], job["createdAtMs"])

    def _require(self, job_id: str) -> dict[str, Any]:
        job = self.store.get(job_id)
        if job is None:
            raise UsageError(f"unknown cron job id: {job_id!r}")
        return job

    def add(self, job: CronJobConfig) -> dict[str, Any]:
        """Create a job (a new id unless one is given; an existing id is refused)."""
        job_id = job.id or uuid.uuid4().hex[:12]
        if self.store.get(job_id) is not None:
            raise UsageError(f"a cron job with id {job_id!r} exists: use cron.update")
        job = msgspec.structs.replace(job, id=job_id)
        now = self.wall_ms()
        try:
            spec, schedule = self._spec(job, now)
        except ScheduleError as exc:
            raise UsageError(f"invalid schedule: {exc}") from None
        following = schedule.next_after(now) if job.enabled else None
        if job.enabled and following is None:
            raise UsageError("the schedule has no time in the future")
        self.store.put(job_id, spec, "api", job.enabled, following)
        self._changed_now()
        self.emit({"action": "added", "jobId": job_id, "nextRunAtMs": following})
        return self.describe(self._require(job_id))

    def update(self, job_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Change some fields of a job; a new schedule or re-enabling restarts its
        slots from now."""
        job = self._require(job_id)
        spec = {**job["spec"], **patch, "id": job_id}
        try:
            config = msgspec.convert(spec, CronJobConfig)
        except msgspec.ValidationError as exc:
            raise UsageError(f"invalid cron job: {exc}") from None
        now = self.wall_ms()
        try:
            new_spec, schedule = self._spec(config, now)
        except ScheduleError as exc:
            raise UsageError(f"invalid schedule: {exc}") from None
        if "schedule" in patch or (config.enabled and not job["enabled"]):
            following = schedule.next_after(now)
        else:
            following = job["nextRunAtMs"] if job["nextRunAtMs"] is not None else None
        if not config.enabled:
            following = None
        self.store.put(job_id, new_spec, job["source"], config.enabled, following)
        self._changed_now()
        self.emit({"action": "updated", "jobId": job_id, "nextRunAtMs": following})
        return self.describe(self._require(job_id))

    def remove(self, job_id: str) -> bool:
        """Delete a job and its run history; False when there was none."""
        removed = self.store.delete(job_id)
        if removed:
            self._changed_now()
            self.emit({"action": "removed", "jobId": job_id})
        return removed

    def run_now(self, job_id: str) -> str:
        """Start a run of the job now (its schedule is unchanged); the run id."""
        job = self._require(job_id)
        stamp = self.wall_ms()
        run_id = f"cron:{job_id}:manual:{stamp}"
        if self.store.claim(job_id, stamp, run_id, "manual", (), None, disable=False):
            self._submit(job, run_id)
        return run_id

    def get(self, job_id: str) -> dict[str, Any]:
        """One job as the methods show it."""
        return self.describe(self._require(job_id))

    def list_jobs(self, include_disabled: bool = True) -> list[dict[str, Any]]:
        """Every job as the methods show it."""
        return [self.describe(job) for job in self.store.jobs()
                if include_disabled or job["enabled"]]

    def runs(self, job_id: str | None, limit: int, offset: int = 0,
             run_id: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Run history, newest first, and its size."""
        if job_id is not None:
            self._require(job_id)
        return self.store.runs(job_id, limit, offset, run_id)

    def status(self) -> dict[str, Any]:
        """``cron.status``: on/off, job count, when the scheduler wakes next."""
        jobs = self.store.jobs()
        return {"enabled": self.enabled, "jobs": len(jobs),
                "enabledJobs": sum(1 for job in jobs if job["enabled"]),
                "running": len(self._active), "nextWakeAtMs": self.store.next_due()
                if self.enabled else None}

    def snapshot_revision(self) -> str:
        """Changes whenever a job changes (for paged listings)."""
        return f"{self._boot}-{self.revision}"

    @staticmethod
    def describe(job: dict[str, Any]) -> dict[str, Any]:
        """A stored job → its wire shape (spec fields, ``source`` and ``state``)."""
        spec = dict(job["spec"])
        spec.update({"id": job["id"], "name": spec.get("name") or job["id"],
                     "enabled": job["enabled"], "source": job["source"],
                     "createdAtMs": job["createdAtMs"], "updatedAtMs": job["updatedAtMs"],
                     "state": {"nextRunAtMs": job["nextRunAtMs"],
                               "lastRunAtMs": job["lastRunAtMs"],
                               "lastRunStatus": job["lastRunStatus"],
                               "lastError": job["lastError"]}})
        return spec


def _same_schedule(stored: dict[str, Any], declared: dict[str, Any]) -> bool:
    """True when a declared schedule is the stored one (ignoring what storing added)."""
    if stored.get("kind") != declared.get("kind"):
        return False
    try:
        a = parse_schedule(stored, 0)
        b = parse_schedule({**declared, **({"anchorMs": a.anchor_ms} if a.kind == "every"
                                           and "anchorMs" not in declared else {})}, 0)
    except ScheduleError:
        return False
    return a == b
