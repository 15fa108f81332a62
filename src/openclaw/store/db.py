"""The gateway's SQLite database: opening, pragmas and schema migrations.

One connection, owned by the gateway's event loop. WAL mode with
``synchronous=NORMAL``: a committed transaction survives the process being
killed (``kill -9``, OOM); only a power loss or OS crash can take back the last
commits. Statements are small and indexed, so they run on the loop directly.
Migrations are numbered scripts applied in order, tracked by ``user_version``.

A full disk is told apart in one place: the connection raises :class:`DiskFull` (a
retryable ``UNAVAILABLE`` naming the directory) for SQLite's "database or disk is
full", so every caller, from a method handler to a channel's receive loop, gets the
same one-line error instead of a bare ``sqlite3.OperationalError``.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openclaw.errors import DamagedDatabase, OpenClawError
from openclaw.protocol.errors import Unavailable

__all__ = ["MIGRATIONS", "RESERVE_BYTES", "Checkpointer", "DiskFull", "check_space", "damaged",
           "disk_full", "inspect_database", "open_database", "transaction"]

#: Nothing new (a send, a run, inbound messages, a scheduled slot) is recorded while the
#: disk holding the database has less than this free: what was accepted must still be
#: able to record its outcome.
RESERVE_BYTES = 1 << 20

#: SQLite checkpoints on its own only past this many WAL pages (40 MB): a backstop,
#: since the :class:`Checkpointer` does it off the event loop long before.
AUTOCHECKPOINT_PAGES = 10_000

MIGRATIONS: tuple[str, ...] = (
    # 1: the send ledger / outbox, the inbox, channel cursors.
    """
    CREATE TABLE sends (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        channel TEXT NOT NULL,
        account_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        request TEXT NOT NULL,
        result TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        deadline_ms INTEGER NOT NULL
    );
    CREATE INDEX sends_by_state ON sends (state, next_attempt_ms);
    CREATE INDEX sends_by_age ON sends (created_ms);
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        account_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        sender_name TEXT,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        UNIQUE (channel, account_id, chat_id, message_id)
    );
    CREATE INDEX messages_by_age ON messages (received_ms);
    CREATE TABLE channel_cursors (
        channel TEXT NOT NULL,
        account_id TEXT NOT NULL,
        cursor TEXT,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (channel, account_id)
    );
    """,
    # 2: only queued rows need finding by state; a partial index is not touched by the
    # common path (attempting → sent), which saves index writes on every send.
    """
    DROP INDEX sends_by_state;
    CREATE INDEX sends_queued ON sends (next_attempt_ms) WHERE state = 'queued';
    """,
    # 3: agent runs (durable finals by runId), session transcripts, and which inbound
    # messages the assistant has answered.
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        session_key TEXT NOT NULL,
        state TEXT NOT NULL,
        request TEXT NOT NULL,
        final TEXT,
        accepted_ms INTEGER NOT NULL,
        started_ms INTEGER,
        ended_ms INTEGER
    );
    CREATE INDEX runs_open ON runs (accepted_ms) WHERE state IN ('queued', 'running');
    CREATE INDEX runs_by_age ON runs (accepted_ms);
    CREATE TABLE turns (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        session_key TEXT NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        run_id TEXT
    );
    CREATE INDEX turns_by_session ON turns (session_key, seq);
    ALTER TABLE messages ADD COLUMN handled INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET handled = 1;
    CREATE INDEX messages_unhandled ON messages (seq) WHERE handled = 0;
    """,
    # 4: session metadata (id, label, model override, thinking level, times), backfilled
    # for every session that has turns; per-turn metadata (injected notes, labels).
    """
    CREATE TABLE session_meta (
        session_key TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        label TEXT,
        model TEXT,
        thinking_level TEXT,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX session_meta_label ON session_meta (label) WHERE label IS NOT NULL;
    INSERT INTO session_meta (session_key, session_id, created_ms, updated_ms)
        SELECT session_key, lower(hex(randomblob(16))), MIN(ts), MAX(ts)
        FROM turns GROUP BY session_key;
    ALTER TABLE turns ADD COLUMN meta TEXT;
    """,
    # 5: DM pairing (pending requests with their one-time codes, approved senders) and
    # the files of received media.
    """
    CREATE TABLE pairing_requests (
        channel TEXT NOT NULL,
        account_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        sender_name TEXT,
        code TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        PRIMARY KEY (channel, account_id, sender)
    );
    CREATE UNIQUE INDEX pairing_requests_code ON pairing_requests (channel, code);
    CREATE TABLE pairing_allow (
        channel TEXT NOT NULL,
        account_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        sender_name TEXT,
        approved_ms INTEGER NOT NULL,
        PRIMARY KEY (channel, account_id, sender)
    );
    ALTER TABLE messages ADD COLUMN media TEXT;
    """,
    # 6: scheduled jobs (the spec as JSON, the next slot due) and their run history,
    # one row per slot: a slot is claimed once, so it never runs twice.
    """
    CREATE TABLE cron_jobs (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        source TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        next_run_ms INTEGER,
        last_run_ms INTEGER,
        last_status TEXT,
        last_error TEXT,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX cron_jobs_due ON cron_jobs (next_run_ms) WHERE enabled = 1;
    CREATE TABLE cron_runs (
        run_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        slot_ms INTEGER NOT NULL,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        started_ms INTEGER,
        ended_ms INTEGER,
        summary TEXT,
        error TEXT,
        delivery TEXT
    );
    CREATE INDEX cron_runs_by_job ON cron_runs (job_id, slot_ms);
    CREATE INDEX cron_runs_running ON cron_runs (run_id) WHERE status = 'running';
    """,
)


class DiskFull(Unavailable, sqlite3.OperationalError):
    """The disk holding the gateway's state is full: nothing new can be recorded.

    Retryable: the same request succeeds once space is freed, with no restart. Still a
    ``sqlite3.OperationalError``, so code that handles database errors handles it too.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__(
            f"the disk holding {directory} is full: nothing new can be recorded; free "
            "space there and retry", retryable=True, details={"reason": "disk-full"})
        self.directory = directory


def _is_full(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_FULL


class _Connection(sqlite3.Connection):
    """A connection whose writes raise :class:`DiskFull` when the disk is full."""

    directory: Path | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if _is_full(exc):
                raise DiskFull(self.directory or Path(".")) from exc
            raise


def disk_full(exc: BaseException) -> DiskFull | None:
    """The :class:`DiskFull` that ``exc`` amounts to, if it is one: SQLite's "database
    or disk is full" or a file write failing with ``ENOSPC``/``EDQUOT`` (the file
    named in the error, else the current directory, is the place reported)."""
    if isinstance(exc, DiskFull):
        return exc
    if isinstance(exc, sqlite3.Error) and _is_full(exc):
        return DiskFull(Path("."))
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(Path(os.fsdecode(exc.filename)).parent if exc.filename else Path("."))
    return None


def check_space(db: sqlite3.Connection, reserve: int = RESERVE_BYTES) -> None:
    """Refuse to record something new: raise :class:`DiskFull` when the disk holding
    ``db`` has less than ``reserve`` bytes free for an unprivileged writer.

    Called before a new send, run, inbound batch or scheduled slot is recorded; the
    writes that finish what is already recorded (outcomes, finals) are not checked,
    so the reserve lets them through. A connection not opened by
    :func:`open_database`, or a figure that cannot be read, passes.
    """
    directory = getattr(db, "directory", None)
    if directory is None:
        return
    try:
        stat = os.statvfs(directory)
    except OSError:
        return
    if stat.f_bavail * stat.f_frsize < reserve:
        raise DiskFull(directory)


def open_database(path: Path, *, check: bool = True) -> sqlite3.Connection:
    """Open and migrate the database at ``path``, creating it owner-only if missing.

    An existing file is checked first (:func:`inspect_database`): a truncated or
    corrupt one is refused and left exactly as it is, never replaced by an empty
    database, so it can still be restored or examined. A new database is built
    under a temporary name and renamed into place once its schema is written, so
    an empty ``gateway.db`` is never something this function left behind.

    Raises:
        DamagedDatabase: the file is truncated, corrupt or not a database (exit 78).
        OpenClawError: the file was written by a newer version (its schema is ahead
            of this code's), or cannot be read.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path)
    elif check:
        problem = inspect_database(path)
        if problem is not None:
            raise damaged(path, problem)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                         factory=_Connection)
    db.directory = path.parent
    try:
        _configure(db)
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
    except DiskFull:
        db.close()
        raise
    except sqlite3.DatabaseError as exc:
        db.close()
        raise damaged(path, str(exc)) from None
    if version > len(MIGRATIONS):
        db.close()
        raise OpenClawError(
            f"the gateway database {path} has schema version {version}, newer than this "
            f"openclaw understands ({len(MIGRATIONS)}): upgrade openclaw, or move the file aside"
        )
    _migrate(db, version)
    return db


def _configure(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA foreign_keys=ON")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back when the block raises.

    The write lock is taken at the start, so the block's reads see what it writes
    over. When SQLite has already ended the transaction itself (it does on a full
    disk), there is nothing to roll back and the error goes on as it is.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _migrate(db: sqlite3.Connection, version: int) -> None:
    for number in range(version, len(MIGRATIONS)):
        try:
            with transaction(db):
                for statement in _statements(MIGRATIONS[number]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={number + 1}")
        except BaseException:
            db.close()
            raise


def _create(path: Path) -> None:
    """A new, fully migrated database at ``path``, appearing there in one rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    db = sqlite3.connect(tmp, isolation_level=None)
    try:
        _migrate(db, 0)
        db.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file header
    finally:
        db.close()  # the last connection: SQLite checkpoints and removes the WAL
    with open(tmp, "rb") as stream:
        os.fsync(stream.fileno())
    os.replace(tmp, path)


def damaged(path: Path, problem: str) -> DamagedDatabase:
    """The one error for a damaged database: the file, what is wrong, and the fix."""
    return DamagedDatabase(
        f"the gateway database {path} is damaged ({problem}); it was left as it is. "
        "Restore the latest backup with `openclaw doctor --fix`, or a chosen one with "
        "`openclaw backup restore <archive>`",
        hint="`openclaw backup list` shows the archives; a restore keeps the file it "
             "replaces",
    )


def inspect_database(path: Path) -> str | None:
    """What is wrong with the database file at ``path``, or None when it looks whole.

    The header check is free: the magic string, a valid page size, and a file as
    long as the header says (a truncated copy or a half-written restore fails here).
    ``PRAGMA quick_check`` then reads every page once and checks each b-tree page's
    structure, which finds garbage written into the middle of the file; it skips
    the index-versus-table cross-checks of ``integrity_check``, which is what keeps
    it to a few milliseconds per megabyte.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:
            header = stream.read(100)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if size == 0:
        return "the file is empty (0 bytes): truncated"
    if len(header) < 100 or not header.startswith(_MAGIC):
        return "not an SQLite database: the file header is wrong"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"invalid page size {page_size} in the file header"
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]
    if size % page_size:
        return f"truncated: {size} bytes is not a whole number of {page_size}-byte pages"
    if header_valid and pages * page_size > size:
        return f"truncated: {size} bytes, the header says {pages * page_size}"
    try:
        db = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = db.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        db.close()
    results = [" ".join(str(row[0]).replace("*** in database main ***", "").split())
               for row in rows]
    if results != ["ok"]:
        return "; ".join(results)
    return None


_MAGIC = b"SQLite format 3\x00"


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


class Checkpointer:
    """Copies the write-ahead log into the database from a worker thread.

    SQLite's automatic checkpoint runs inside whichever commit crosses the limit, on
    the event loop, and it ``fsync``s: every client waits behind it (seen as a
    15-20 ms p99 on agent runs). A PASSIVE checkpoint from another connection in a
    thread never blocks writers, so the loop only ever appends to the log.
    """

    def __init__(self, path: Path, every_s: float = 1.0) -> None:
        self.path = path
        self.every_s = every_s
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # close() never races a checkpoint in its thread
        self.checkpoints = 0

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: ``(busy, log pages, pages checkpointed)``."""
        with self._lock:
            if self._db is None:
                self._db = sqlite3.connect(self.path, isolation_level=None,
                                           check_same_thread=False)
                self._db.execute("PRAGMA busy_timeout=5000")
            busy, log, done = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            return int(busy), int(log), int(done)

    async def run(self) -> None:
        """Checkpoint every ``every_s`` seconds until cancelled."""
        import asyncio
        import logging

        log = logging.getLogger("openclaw.store")
        failing = False
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await asyncio.to_thread(self.checkpoint)
            except sqlite3.Error as exc:  # the next round, or SQLite's backstop, retries
                if not failing:  # once per episode: a full disk fails it every round
                    log.warning("checkpoint failed: %s; retrying every %gs", exc, self.every_s)
                failing = True
                continue
            if failing:
                failing = False
                log.info("checkpoint works again")

    def close(self) -> None:
        """Close the checkpoint connection."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
