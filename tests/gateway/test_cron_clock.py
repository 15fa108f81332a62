"""The scheduler against a controlled wall clock: a jump forward runs the newest
passed slot once and records the others as missed; a jump back fires nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from openclaw.agent.runtime import AgentRuntime
from openclaw.agent.store import RunStore, SessionStore
from openclaw.config import Config, CronConfig, CronJobConfig, CronPayloadConfig
from openclaw.gateway.cron import MISSED_CAP, CronService
from openclaw.store.cron import CronStore
from openclaw.store.db import open_database

START = 1_800_000_000_000


def test_wall_clock_jumps(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = open_database(tmp_path / "gateway.db")
        clock = [START]
        events: list[dict[str, Any]] = []
        agent = AgentRuntime(RunStore(db), SessionStore(db), Config(), {}, lambda _e: None)
        cron = CronService(CronStore(db), agent, CronConfig(), events.append,
                           wall_ms=lambda: clock[0])
        cron.start()
        job = cron.add(CronJobConfig(schedule={"kind": "every", "everyMs": 60_000},
                                     payload=CronPayloadConfig(message="tick"), id="minute"))
        assert job["state"]["nextRunAtMs"] == START + 60_000

        async def settle() -> None:
            cron.recompute()
            for _ in range(50):
                await asyncio.sleep(0.01)
                if not cron.status()["running"]:
                    return

        clock[0] = START + 10 * 60_000 + 5  # the wall clock jumps ten minutes forward
        await settle()
        entries, total = cron.runs("minute", 100)
        ran = [e for e in entries if e["status"] != "missed"]
        assert [e["scheduledAtMs"] for e in ran] == [START + 10 * 60_000]
        assert ran[0]["status"] == "ok"
        assert sorted(e["scheduledAtMs"] for e in entries if e["status"] == "missed") == [
            START + k * 60_000 for k in range(1, 10)]
        assert cron.get("minute")["state"]["nextRunAtMs"] == START + 11 * 60_000

        clock[0] = START + 5 * 60_000  # and back: nothing is due, nothing runs again
        await settle()
        assert cron.runs("minute", 100)[1] == total
        assert cron.get("minute")["state"]["nextRunAtMs"] == START + 11 * 60_000
        clock[0] = START + 11 * 60_000
        await settle()
        assert cron.runs("minute", 100)[1] == total + 1
        cron.stop()
        await agent.shutdown(1.0)
        db.close()

    asyncio.run(scenario())


def test_a_long_gap_records_the_first_slots_and_runs_the_newest(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = open_database(tmp_path / "gateway.db")
        clock = [START]
        agent = AgentRuntime(RunStore(db), SessionStore(db), Config(), {}, lambda _e: None)
        cron = CronService(CronStore(db), agent, CronConfig(max_runs_per_job=5000),
                           lambda _e: None,
                           wall_ms=lambda: clock[0])
        cron.add(CronJobConfig(schedule={"kind": "every", "everyMs": 1000},
                               payload=CronPayloadConfig(message="tick"), id="second"))
        clock[0] = START + 5000 * 1000 + 300  # 5,000 slots passed while it was down
        cron.start()
        for _ in range(50):
            await asyncio.sleep(0.01)
            if not cron.status()["running"]:
                break
        entries, total = cron.runs("second", 2000)
        ran = [e for e in entries if e["status"] != "missed"]
        assert [(e["scheduledAtMs"], e["trigger"]) for e in ran] == [
            (START + 5000 * 1000, "catch-up")]
        assert total == MISSED_CAP + 1
        assert cron.get("second")["state"]["nextRunAtMs"] == START + 5001 * 1000
        cron.stop()
        await agent.shutdown(1.0)
        db.close()

    asyncio.run(scenario())
