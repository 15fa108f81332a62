"""The ``cron`` tool: where a reminder's reply goes, and what it refuses."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from openclaw.agent.cron_tool import cron_tool
from openclaw.agent.tools import ToolContext, ToolError
from openclaw.config import CronJobConfig


class Jobs:
    """Records the jobs the tool adds."""

    def __init__(self) -> None:
        self.added: list[CronJobConfig] = []

    def add(self, job: CronJobConfig) -> dict[str, Any]:
        self.added.append(job)
        return {"id": "j1"}

    def remove(self, job_id: str) -> bool:
        return job_id == "j1"

    def list_jobs(self, include_disabled: bool = True) -> list[dict[str, Any]]:
        return [{"id": "j1"}]


def call(jobs: Jobs, session: str, **arguments: Any) -> str:
    tool = cron_tool(jobs)
    return asyncio.run(tool.handler(arguments, ToolContext("run", session, "call")))


def test_a_reminder_from_a_chat_is_delivered_to_that_chat() -> None:
    jobs = Jobs()
    before = int(time.time() * 1000)
    assert call(jobs, "telegram:default:4242", message="stretch", **{"in": "2m"}).startswith(
        "scheduled: ")
    [job] = jobs.added
    assert job.delivery is not None and job.delivery.to == "4242"
    assert job.delivery.channel == "telegram" and job.delivery.account_id == "default"
    assert job.schedule["kind"] == "at"
    assert before + 120_000 <= job.schedule["atMs"] <= int(time.time() * 1000) + 120_000
    assert job.delete_after_run


def test_a_reminder_from_the_main_session_runs_there_without_delivery() -> None:
    jobs = Jobs()
    call(jobs, "main", message="stretch", **{"in": "90s"})
    [job] = jobs.added
    assert job.session_target == "main" and job.delivery is not None
    assert job.delivery.mode == "none"


def test_bad_requests_are_tool_errors() -> None:
    jobs = Jobs()
    with pytest.raises(ToolError, match="at least 1s"):
        call(jobs, "main", message="x", **{"in": "10ms"})
    with pytest.raises(ToolError, match="message"):
        call(jobs, "main", **{"in": "1m"})
    with pytest.raises(ToolError, match="schedule"):
        call(jobs, "main", message="x")
    with pytest.raises(ToolError, match="no scheduled job"):
        call(jobs, "main", action="remove", id="nope")
    assert json.loads(call(jobs, "main", action="list")) == [{"id": "j1"}]
