"""Scheduled jobs and their run history (the ``cron_jobs`` and ``cron_runs`` tables).

A job row holds the job's spec as JSON and the next slot it is due, in wall-clock
milliseconds. A run row is keyed by the agent run id made from the job and the slot,
so claiming a slot (:meth:`CronStore.claim`) inserts that row and moves the job's
next slot in one transaction: a slot is claimed once, also across ``kill -9``.
Missed slots get rows too (status ``missed``), so none disappears silently.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from openclaw.clock import now_ms
from openclaw.store.db import check_space, transaction

__all__ = ["CronStore"]

_JOB_COLUMNS = ("id, spec, source, enabled, next_run_ms, last_run_ms, last_status, last_error, "
                "created_ms, updated_ms")
_RUN_COLUMNS = ("run_id, job_id, slot_ms, trigger, status, started_ms, ended_ms, summary, error, "
                "delivery")


def _job(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "spec": json.loads(row[1]), "source": row[2], "enabled": bool(row[3]),
            "nextRunAtMs": row[4], "lastRunAtMs": row[5], "lastRunStatus": row[6],
            "lastError": row[7], "createdAtMs": row[8], "updatedAtMs": row[9]}


def _run(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"runId": row[0], "jobId": row[1], "scheduledAtMs": row[2], "trigger": row[3],
            "status": row[4], "startedAtMs": row[5], "endedAtMs": row[6], "summary": row[7],
            "error": json.loads(row[8]) if row[8] else None,
            "delivery": json.loads(row[9]) if row[9] else None}


class CronStore:
    """Reads and writes scheduled jobs and their runs."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    # ------------------------------------------------------------------ jobs

    def put(self, job_id: str, spec: dict[str, Any], source: str, enabled: bool,
            next_run_ms: int | None) -> None:
        """Create or replace job ``job_id`` (its history and last result are kept)."""
        stamp = now_ms()
        self.db.execute(
            "INSERT INTO cron_jobs (id, spec, source, enabled, next_run_ms, created_ms, "
            "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "spec = excluded.spec, source = excluded.source, enabled = excluded.enabled, "
            "next_run_ms = excluded.next_run_ms, updated_ms = excluded.updated_ms",
            (job_id, json.dumps(spec), source, int(enabled), next_run_ms, stamp, stamp))

    def get(self, job_id: str) -> dict[str, Any] | None:
        """One job, or None."""
        row = self.db.execute(f"SELECT {_JOB_COLUMNS} FROM cron_jobs WHERE id = ?",
                              (job_id,)).fetchone()
        return None if row is None else _job(row)

    def jobs(self) -> list[dict[str, Any]]:
        """Every job, oldest first."""
        rows = self.db.execute(f"SELECT {_JOB_COLUMNS} FROM cron_jobs ORDER BY created_ms, id")
        return [_job(row) for row in rows]

    def delete(self, job_id: str) -> bool:
        """Remove a job and its history; False when there was none."""
        with transaction(self.db):
            gone = self.db.execute("DELETE FROM cron_jobs WHERE id = ?", (job_id,)).rowcount
            self.db.execute("DELETE FROM cron_runs WHERE job_id = ?", (job_id,))
        return gone > 0

    def set_enabled(self, job_id: str, enabled: bool, next_run_ms: int | None) -> None:
        """Turn a job on or off with its next slot."""
        self.db.execute("UPDATE cron_jobs SET enabled = ?, next_run_ms = ?, updated_ms = ? "
                        "WHERE id = ?", (int(enabled), next_run_ms, now_ms(), job_id))

    def next_due(self) -> int | None:
        """The earliest next slot of any enabled job (an indexed lookup)."""
        row = self.db.execute("SELECT MIN(next_run_ms) FROM cron_jobs WHERE enabled = 1 "
                              "AND next_run_ms IS NOT NULL").fetchone()
        return None if row[0] is None else int(row[0])

    def due(self, until_ms: int) -> list[dict[str, Any]]:
        """Enabled jobs whose next slot is at or before ``until_ms``."""
        rows = self.db.execute(
            f"SELECT {_JOB_COLUMNS} FROM cron_jobs WHERE enabled = 1 AND next_run_ms IS NOT "
            "NULL AND next_run_ms <= ? ORDER BY next_run_ms", (until_ms,))
        return [_job(row) for row in rows]

    # ------------------------------------------------------------------ runs

    def claim(self, job_id: str, slot_ms: int, run_id: str, trigger: str,
              missed: Iterable[tuple[int, str]], next_run_ms: int | None,
              disable: bool,
              missed_summary: str = "the gateway was not running at this time") -> bool:
        """Record ``missed`` slots ``(slot, run id)``, claim ``run_id`` (status running,
        unless it is None-like empty) and move the job to ``next_run_ms``, atomically.
        ``missed_summary`` says why the missed slots did not run.

        Returns False (and changes nothing) when ``run_id`` was claimed before.

        Raises:
            DiskFull: the disk is (nearly) full; nothing was claimed.
        """
        check_space(self.db)
        stamp = now_ms()
        with transaction(self.db):
            if run_id:
                inserted = self.db.execute(
                    "INSERT OR IGNORE INTO cron_runs (run_id, job_id, slot_ms, trigger, status, "
                    "started_ms) VALUES (?, ?, ?, ?, 'running', ?)",
                    (run_id, job_id, slot_ms, trigger, stamp)).rowcount
                if not inserted:
                    return False
            for missed_slot, missed_id in missed:
                self.db.execute(
                    "INSERT OR IGNORE INTO cron_runs (run_id, job_id, slot_ms, trigger, status, "
                    "ended_ms, summary) VALUES (?, ?, ?, 'schedule', 'missed', ?, ?)",
                    (missed_id, job_id, missed_slot, stamp, missed_summary))
            if trigger != "manual":
                self.db.execute(
                    "UPDATE cron_jobs SET next_run_ms = ?, enabled = enabled AND ? WHERE id = ?",
                    (next_run_ms, int(not disable), job_id))
            if run_id:
                self.db.execute("UPDATE cron_jobs SET last_run_ms = ?, last_status = 'running' "
                                "WHERE id = ?", (stamp, job_id))
        return True

    def finish(self, run_id: str, status: str, summary: str | None,
               error: dict[str, Any] | None, delivery: dict[str, Any] | None) -> None:
        """Store a run's outcome and the job's last result."""
        stamp = now_ms()
        self.db.execute(
            "UPDATE cron_runs SET status = ?, ended_ms = ?, summary = ?, error = ?, delivery = ? "
            "WHERE run_id = ?",
            (status, stamp, summary, json.dumps(error) if error else None,
             json.dumps(delivery) if delivery else None, run_id))
        self.db.execute(
            "UPDATE cron_jobs SET last_status = ?, last_error = ? WHERE id = "
            "(SELECT job_id FROM cron_runs WHERE run_id = ?)",
            (status, (error or {}).get("message"), run_id))

    def running(self) -> list[dict[str, Any]]:
        """Runs claimed but not finished (a previous process died or stopped in them)."""
        rows = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM cron_runs WHERE status = 'running' "
                               "ORDER BY started_ms")
        return [_run(row) for row in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run, or None."""
        row = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM cron_runs WHERE run_id = ?",
                              (run_id,)).fetchone()
        return None if row is None else _run(row)

    def runs(self, job_id: str | None, limit: int, offset: int = 0,
             run_id: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """A job's runs (or every job's), newest slot first, and how many there are."""
        where, args = [], []
        if job_id is not None:
            where.append("job_id = ?")
            args.append(job_id)
        if run_id is not None:
            where.append("run_id = ?")
            args.append(run_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = int(self.db.execute(f"SELECT COUNT(*) FROM cron_runs {clause}",
                                    args).fetchone()[0])
        rows = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM cron_runs {clause} ORDER BY slot_ms DESC, "
            "COALESCE(started_ms, ended_ms) DESC LIMIT ? OFFSET ?", [*args, limit, offset])
        return [_run(row) for row in rows], total

    def prune(self, job_id: str, keep: int, older_than_ms: int) -> int:
        """Drop a job's finished runs beyond the newest ``keep`` or older than
        ``older_than_ms``; unfinished runs are always kept."""
        return self.db.execute(
            "DELETE FROM cron_runs WHERE job_id = ? AND status != 'running' AND ("
            "slot_ms < ? OR run_id NOT IN (SELECT run_id FROM cron_runs WHERE job_id = ? "
            "ORDER BY slot_ms DESC LIMIT ?))",
            (job_id, older_than_ms, job_id, keep)).rowcount
