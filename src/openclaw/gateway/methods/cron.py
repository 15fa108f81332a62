"""Scheduled-job methods: ``cron.status``, ``cron.list``, ``cron.get``, ``cron.add``,
``cron.update``, ``cron.remove``, ``cron.run``, ``cron.runs``.

``cron.list`` answers the paged shape OpenClaw's Control UI checks (``jobs``,
``total``, ``offset``, ``limit``, ``hasMore``, ``nextOffset``, ``snapshotRevision``)
and accepts its filter and sort params.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from openclaw.config import CronJobConfig
from openclaw.errors import UsageError
from openclaw.gateway.dispatch import ADMIN, READ, Context, Dispatcher

__all__ = ["register"]

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
JobId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
MAX_PAGE = 500


class ListParams(msgspec.Struct, frozen=True, rename="camel"):
    """``cron.list`` params (unknown filter keys from newer clients are ignored)."""

    agent_id: Text | None = None
    include_disabled: bool = False
    include_delivery_previews: bool = False
    compact: bool = False
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = 50
    offset: Annotated[int, msgspec.Meta(ge=0)] = 0
    enabled: Literal["all", "enabled", "disabled"] | None = None
    query: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    schedule_kind: Text | None = None
    last_run_status: Text | None = None
    sort_by: Text = "nextRunAtMs"
    sort_dir: Literal["asc", "desc"] = "asc"


class IdParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Params naming one job (``id``, or ``jobId`` as older clients send)."""

    id: JobId | None = None
    job_id: JobId | None = None
    mode: Literal["force", "due"] | None = None

    def job(self) -> str:
        """The job id given."""
        job = self.id or self.job_id
        if job is None:
            raise UsageError("id is required")
        return job


class AddParams(CronJobConfig, frozen=True):
    """``cron.add`` params: a job (see ``cron.jobs`` in the config), plus ``agentId``."""

    agent_id: Text | None = None


class UpdateParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``cron.update`` params: the job and the fields to change."""

    patch: dict[str, Any]
    id: JobId | None = None
    job_id: JobId | None = None


class RunsParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``cron.runs`` params: one job's history (or all), paged, or one run."""

    id: JobId | None = None
    job_id: JobId | None = None
    run_id: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = 50
    offset: Annotated[int, msgspec.Meta(ge=0)] = 0


_PATCHABLE = {"name", "description", "enabled", "schedule", "payload", "delivery",
              "sessionTarget", "catchUp", "deleteAfterRun"}


def _sort_key(sort_by: str) -> Any:
    def key(job: dict[str, Any]) -> tuple[int, Any]:
        if sort_by == "name":
            return (0, str(job["name"]).lower())
        value = job["state"].get(sort_by) if sort_by in job["state"] else job.get(sort_by)
        return (1, 0) if value is None else (0, value)
    return key


def register(dispatcher: Dispatcher) -> None:
    """Install the scheduled-job methods."""

    @dispatcher.register("cron.status", READ)
    def status(ctx: Context, params: object) -> dict[str, Any]:
        return ctx.app.cron.status()

    @dispatcher.register("cron.list", READ, ListParams)
    def list_jobs(ctx: Context, params: ListParams) -> dict[str, Any]:
        jobs = ctx.app.cron.list_jobs()
        wanted = params.enabled or ("all" if params.include_disabled else "enabled")
        if wanted != "all":
            jobs = [job for job in jobs if job["enabled"] == (wanted == "enabled")]
        if params.query:
            needle = params.query.lower()
            jobs = [job for job in jobs if needle in job["id"].lower()
                    or needle in str(job["name"]).lower()]
        if params.schedule_kind and params.schedule_kind != "all":
            jobs = [job for job in jobs if job["schedule"]["kind"] == params.schedule_kind]
        if params.last_run_status and params.last_run_status != "all":
            jobs = [job for job in jobs
                    if job["state"]["lastRunStatus"] == params.last_run_status]
        jobs.sort(key=_sort_key(params.sort_by), reverse=params.sort_dir == "desc")
        total = len(jobs)
        page = jobs[params.offset:params.offset + params.limit]
        end = params.offset + len(page)
        more = end < total
        return {"jobs": page, "total": total, "offset": params.offset, "limit": params.limit,
                "hasMore": more, "nextOffset": end if more else None,
                "snapshotRevision": ctx.app.cron.snapshot_revision()}

    @dispatcher.register("cron.get", READ, IdParams)
    def get(ctx: Context, params: IdParams) -> dict[str, Any]:
        return ctx.app.cron.get(params.job())

    @dispatcher.register("cron.add", ADMIN, AddParams)
    def add(ctx: Context, params: AddParams) -> dict[str, Any]:
        fields = msgspec.structs.asdict(params)
        fields.pop("agent_id")
        return ctx.app.cron.add(CronJobConfig(**fields))

    @dispatcher.register("cron.update", ADMIN, UpdateParams)
    def update(ctx: Context, params: UpdateParams) -> dict[str, Any]:
        unknown = sorted(set(params.patch) - _PATCHABLE)
        if unknown:
            raise UsageError(f"cron.update cannot change {', '.join(unknown)} (it can change "
                             f"{', '.join(sorted(_PATCHABLE))})")
        job = params.id or params.job_id
        if job is None:
            raise UsageError("id is required")
        return ctx.app.cron.update(job, params.patch)

    @dispatcher.register("cron.remove", ADMIN, IdParams)
    def remove(ctx: Context, params: IdParams) -> dict[str, Any]:
        removed = ctx.app.cron.remove(params.job())
        if not removed:
            raise UsageError(f"unknown cron job id: {params.job()!r}")
        return {"ok": True, "removed": True, "id": params.job()}

    @dispatcher.register("cron.run", ADMIN, IdParams)
    def run(ctx: Context, params: IdParams) -> dict[str, Any]:
        run_id = ctx.app.cron.run_now(params.job())
        return {"ok": True, "ran": True, "runId": run_id}

    @dispatcher.register("cron.runs", READ, RunsParams)
    def runs(ctx: Context, params: RunsParams) -> dict[str, Any]:
        entries, total = ctx.app.cron.runs(params.id or params.job_id, params.limit,
                                           params.offset, params.run_id)
        end = params.offset + len(entries)
        return {"entries": entries, "total": total, "offset": params.offset,
                "limit": params.limit, "hasMore": end < total,
                "nextOffset": end if end < total else None}
