"""The gateway's automatic backup: one archive every ``backup.every``, the newest
``backup.keep`` automatic ones kept.

The work (SQLite's online backup, hashing, gzip) runs in a worker thread, so the
event loop keeps serving; the database snapshot is one read transaction, which in
WAL mode never blocks the loop's writes. Nothing happens during the first
``SETTLE_S`` seconds after start; then the first backup is due one interval after
the newest archive in the directory (at once when there is none or it is older),
so restarts do not multiply backups. A run
is skipped, and logged at debug level, when no source file changed since the
last archive this process wrote (same sizes and modification times).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from openclaw import __version__
from openclaw.clock import now_ms
from openclaw.config import Config, parse_duration_ms
from openclaw.errors import OpenClawError
from openclaw.paths import Profile

if TYPE_CHECKING:
    from openclaw.store.backup import BackupInfo, Sources

__all__ = ["BackupScheduler"]

log = logging.getLogger("openclaw.gateway.backup")

#: Wait after start before an overdue backup, so it does not compete with start-up.
SETTLE_S = 60.0

Fingerprint = tuple[tuple[str, int, int], ...]


class BackupScheduler:
    """Runs :func:`~openclaw.store.backup.create_backup` on a timer, off the loop.

    The archive code (``tarfile``, ``hashlib``) is imported in the worker thread on
    the first run, not at gateway start.
    """

    def __init__(self, profile: Profile, workspace: Path, backups_dir: str | None,
                 every_ms: int, keep: int, *, settle_s: float = SETTLE_S,
                 wall_ms: Callable[[], int] = now_ms) -> None:
        self.profile = profile
        self.workspace = workspace
        self.backups_dir = backups_dir
        self._sources: Sources | None = None
        self.every_ms = every_ms
        self.keep = keep
        self.settle_s = settle_s
        self.wall_ms = wall_ms
        self.made = 0
        self.skipped = 0
        self.failed = 0
        self.last: BackupInfo | None = None
        self._fingerprint: Fingerprint | None = None

    @classmethod
    def from_config(cls, config: Config, profile: Profile, workspace: Path
                    ) -> BackupScheduler | None:
        """The scheduler ``backup`` asks for, or None when it is turned off."""
        section = config.backup
        if not section.enabled:
            return None
        return cls(profile, workspace, section.dir, parse_duration_ms(section.every),
                   section.keep)

    @property
    def sources(self) -> Sources:
        """What is backed up, and where the archives go."""
        if self._sources is None:
            from openclaw.store.backup import Sources

            found = Sources.for_profile(self.profile, backups_dir=self.backups_dir)
            self._sources = Sources(found.profile, found.state_dir, found.config_path,
                                    self.workspace, found.backups_dir)
        return self._sources

    def first_delay_s(self) -> float:
        """Seconds until the first backup is due: one interval after the newest
        archive of this profile, 0 when there is none or it is older."""
        from openclaw.store.backup import list_backups

        try:
            newest = list_backups(self.sources.backups_dir, self.sources.profile)
        except OpenClawError:
            newest = []
        due_ms = newest[0].created_ms + self.every_ms if newest else 0
        return max(0.0, (due_ms - self.wall_ms()) / 1000)

    def _fingerprint_now(self) -> Fingerprint:
        paths = [self.sources.database, self.sources.database.with_name("gateway.db-wal"),
                 *self.sources.files().values()]
        for root in self.sources.trees().values():
            for here, _dirs, names in os.walk(root):
                paths.extend(Path(here) / name for name in names)
        items = []
        for path in paths:
            try:
                info = path.stat()
            except OSError:
                continue
            items.append((str(path), info.st_size, info.st_mtime_ns))
        return tuple(sorted(items))

    def run_once(self) -> BackupInfo | None:
        """One backup and prune (blocking: call it in a thread); None when skipped.

        Failures are logged, never raised: the next interval tries again.
        """
        from openclaw.store.backup import create_backup, prune_backups

        fingerprint = self._fingerprint_now()
        if fingerprint == self._fingerprint:
            self.skipped += 1
            log.debug("backup skipped: nothing changed since %s",
                      self.last.path.name if self.last else "the last one")
            return None
        started = time.monotonic()
        try:
            info = create_backup(self.sources, version=__version__, created_ms=self.wall_ms(),
                                 automatic=True)
            removed = prune_backups(self.sources.backups_dir, self.keep, self.sources.profile)
        except (OpenClawError, OSError) as exc:
            self.failed += 1
            log.warning("automatic backup failed: %s",
                        getattr(exc, "message", None) or str(exc))
            return None
        self._fingerprint = fingerprint
        self.made += 1
        self.last = info
        log.info("backup %s written: %d files, %.1f KB in %.0f ms%s", info.path,
                 info.files or 0, info.size / 1024, (time.monotonic() - started) * 1000,
                 f"; pruned {len(removed)} older" if removed else "")
        return info

    async def run(self) -> None:
        """After the settle delay, back up when due, then every interval, until
        cancelled. Nothing of the archive code is imported before the settle delay."""
        await asyncio.sleep(self.settle_s)
        delay = await asyncio.to_thread(self.first_delay_s)
        while True:
            await asyncio.sleep(delay)
            await asyncio.to_thread(self.run_once)
            delay = self.every_ms / 1000
