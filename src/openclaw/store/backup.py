"""Backups of one profile: create, verify, list, prune and restore archives.

One archive (``openclaw-backup-<profile>-<UTC time>[-auto].tar.gz``, 0600 in a
0700 directory) holds everything a gateway needs to come back as it was:

- ``gateway.db``: a consistent snapshot taken with SQLite's online backup API in
  one step (one read transaction: a gateway writing meanwhile is neither blocked
  nor half-copied), checked with ``PRAGMA quick_check`` before it is archived;
- ``config/openclaw.json``, ``state/service.env``, ``state/exec-approvals.json``;
- ``credentials/...`` (the generated gateway token, channel sessions);
- ``workspace/...`` (the agent's files);
- ``manifest.json`` last: the format, the openclaw version, and every file's
  path, size, mode and sha256.

Only regular files and directories are archived (symbolic links and special files
are skipped and counted), so a restore can never write outside its targets.
The CLI (``openclaw backup``), the gateway's daily backup and ``doctor --fix``
all use this module; it takes explicit paths (:class:`Sources`), never the config.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from openclaw.atomicfile import write_atomic
from openclaw.errors import OpenClawError
from openclaw.instancelock import InstanceLock
from openclaw.paths import Profile, ensure_private_dir, resolve_state_path

__all__ = [
    "BackupError",
    "BackupInfo",
    "RestoreResult",
    "Sources",
    "Verified",
    "create_backup",
    "latest_verified",
    "list_backups",
    "prune_backups",
    "restore_backup",
    "snapshot_database",
    "verify_backup",
]

#: Version of the archive layout; ``verify`` refuses a format it does not know.
FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "gateway.db"
_NAME = re.compile(
    r"^openclaw-backup-(?P<profile>[A-Za-z0-9_-]+)-(?P<stamp>\d{8}T\d{6}\d{3}Z)"
    r"(?P<auto>-auto)?\.tar\.gz$")
_CHUNK = 1 << 20


class BackupError(OpenClawError):
    """A backup could not be made, verified or restored (exit 1); names the archive."""


@dataclass(frozen=True)
class Sources:
    """Where a profile's things live: what a backup reads and a restore writes."""

    profile: str
    state_dir: Path
    config_path: Path
    workspace: Path
    backups_dir: Path

    @classmethod
    def for_profile(cls, profile: Profile, *, workspace: str | None = None,
                    backups_dir: str | None = None) -> Sources:
        """The sources of ``profile`` given ``agents.defaults.workspace`` and
        ``backup.dir`` as configured (``~`` is home, relative is under the state dir)."""
        state = profile.state_dir
        return cls(profile.name, state, profile.config_path,
                   resolve_state_path(workspace, profile.home, state, state / "workspace"),
                   resolve_state_path(backups_dir, profile.home, state, state / "backups"))

    @property
    def database(self) -> Path:
        """The gateway's SQLite database."""
        return self.state_dir / DATABASE

    @property
    def lock_path(self) -> Path:
        """The profile lock the running gateway holds."""
        return self.state_dir / "gateway.lock"

    def files(self) -> dict[str, Path]:
        """Single files: archive name → path."""
        return {"config/openclaw.json": self.config_path,
                "state/service.env": self.state_dir / "service.env",
                "state/exec-approvals.json": self.state_dir / "exec-approvals.json"}

    def trees(self) -> dict[str, Path]:
        """Directories archived whole: archive prefix → path."""
        return {"credentials": self.state_dir / "credentials", "workspace": self.workspace}


@dataclass(frozen=True)
class BackupInfo:
    """One archive in the backups directory (from its name and size; not verified)."""

    path: Path
    size: int
    created_ms: int
    automatic: bool
    files: int | None = None
    skipped: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``--json`` output."""
        data: dict[str, Any] = {"path": str(self.path), "bytes": self.size,
                                "createdAtMs": self.created_ms, "automatic": self.automatic}
        if self.files is not None:
            data["files"] = self.files
            data["skipped"] = list(self.skipped)
        return data


@dataclass(frozen=True)
class Verified:
    """A verified archive: its manifest and what the database check said."""

    path: Path
    manifest: dict[str, Any]
    database: str | None  # "ok", or None when the archive holds no database

    @property
    def files(self) -> int:
        """How many files the archive holds."""
        return len(self.manifest["files"])


@dataclass
class RestoreResult:
    """What a restore put back, and where what it replaced was kept."""

    archive: Path
    restored: list[str] = field(default_factory=list)
    aside: list[Path] = field(default_factory=list)


# ------------------------------------------------------------------ create


def snapshot_database(source: Path, target: Path) -> int:
    """Copy the live database at ``source`` to ``target`` (one self-contained file, no
    WAL) with SQLite's backup API; return its schema version.

    Raises:
        BackupError: the database is damaged: a backup of it would replace a good one.
    """
    src = sqlite3.connect(source, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=5000")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        dst = sqlite3.connect(target, isolation_level=None)
        try:
            src.backup(dst)  # pages=-1: one step, so one consistent read transaction
            dst.execute("PRAGMA journal_mode=DELETE")
            check = [str(row[0]) for row in dst.execute("PRAGMA quick_check(5)")]
            version = int(dst.execute("PRAGMA user_version").fetchone()[0])
        finally:
            dst.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot snapshot the database {source}: {exc}") from None
    finally:
        src.close()
    if check != ["ok"]:
        raise BackupError(f"the database {source} is damaged ({'; '.join(check)}); not backing "
                          "it up, so no good backup is pruned in its favour")
    return version


#: A file up to this size is copied through memory on its way into an archive; a
#: larger one through a temporary file.
SPOOL_BYTES = 8 << 20


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> dict[str, Any]:
    """Add ``path`` as it was when read: it is first copied (and hashed) into a spool,
    so a file being rewritten meanwhile (a note the agent or the user is editing) is
    archived as one of its states instead of failing the backup."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream, tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
        info = os.fstat(stream.fileno())
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            spool.write(chunk)
        member = tarfile.TarInfo(arcname)
        member.size, member.mtime = spool.tell(), int(info.st_mtime)
        member.mode = stat.S_IMODE(info.st_mode)
        spool.seek(0)
        tar.addfile(member, spool)
    return {"path": arcname, "size": member.size, "mode": member.mode,
            "sha256": digest.hexdigest()}


def _add_dir(tar: tarfile.TarFile, path: Path, arcname: str) -> dict[str, Any]:
    member = tarfile.TarInfo(arcname)
    member.type = tarfile.DIRTYPE
    member.mode = stat.S_IMODE(path.stat().st_mode)
    member.mtime = int(path.stat().st_mtime)
    tar.addfile(member)
    return {"path": arcname, "mode": member.mode}


def _walk(root: Path, prefix: str, skipped: list[str]) -> list[tuple[str, Path, bool]]:
    """``(arcname, path, is_dir)`` of the tree at ``root``, parents first, sorted."""
    items: list[tuple[str, Path, bool]] = [(prefix, root, True)]
    for here, dirs, names in os.walk(root):
        dirs.sort()
        base = Path(here)
        relative = base.relative_to(root).as_posix()
        arc = prefix if relative == "." else f"{prefix}/{relative}"
        for name in list(dirs):
            if (base / name).is_symlink():
                dirs.remove(name)
                skipped.append(f"{arc}/{name}")
            else:
                items.append((f"{arc}/{name}", base / name, True))
        for name in sorted(names):
            path = base / name
            if path.is_symlink() or not path.is_file():
                skipped.append(f"{arc}/{name}")
            else:
                items.append((f"{arc}/{name}", path, False))
    return items


def archive_name(profile: str, created_ms: int, automatic: bool) -> str:
    """``openclaw-backup-<profile>-<YYYYmmddTHHMMSSmmm>Z[-auto].tar.gz`` (UTC)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(created_ms // 1000))
    return (f"openclaw-backup-{profile}-{stamp}{created_ms % 1000:03d}Z"
            f"{'-auto' if automatic else ''}.tar.gz")


def create_backup(sources: Sources, *, version: str, created_ms: int,
                  automatic: bool = False, directory: Path | None = None) -> BackupInfo:
    """Write one archive of ``sources`` into ``directory`` (default the backups dir).

    The archive is written under a temporary name, synced and renamed into place,
    so a crash never leaves a half archive under a backup's name.

    Raises:
        BackupError: the database is damaged, or a file vanished or shrank meanwhile.
    """
    target_dir = ensure_private_dir(directory or sources.backups_dir)
    name = archive_name(sources.profile, created_ms, automatic)
    final = target_dir / name
    tmp = target_dir / f".{name}.{os.getpid()}.tmp"
    files: list[dict[str, Any]] = []
    dirs: list[dict[str, Any]] = []
    skipped: list[str] = []
    manifest: dict[str, Any] = {"format": FORMAT, "version": version,
                                "profile": sources.profile, "createdAtMs": created_ms,
                                "automatic": automatic}
    try:
        with tempfile.TemporaryDirectory(dir=target_dir, prefix=".snapshot-") as work:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                    if sources.database.is_file():
                        snapshot = Path(work) / DATABASE
                        manifest["schemaVersion"] = snapshot_database(sources.database,
                                                                      snapshot)
                        files.append(_add_file(tar, snapshot, DATABASE))
                    for arcname, path in sources.files().items():
                        if path.is_file():
                            files.append(_add_file(tar, path, arcname))
                    for prefix, root in sources.trees().items():
                        if not root.is_dir():
                            continue
                        for arcname, path, is_dir in _walk(root, prefix, skipped):
                            if is_dir:
                                dirs.append(_add_dir(tar, path, arcname))
                            else:
                                files.append(_add_file(tar, path, arcname))
                    manifest.update(files=files, dirs=dirs, skipped=skipped)
                    data = json.dumps(manifest, indent=1).encode("utf-8")
                    member = tarfile.TarInfo(MANIFEST)
                    member.size, member.mode, member.mtime = len(data), 0o600, created_ms // 1000
                    tar.addfile(member, io.BytesIO(data))
                raw.flush()
                os.fsync(raw.fileno())
        os.replace(tmp, final)
    except OSError as exc:
        raise BackupError(f"cannot write the backup {final}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return BackupInfo(final, final.stat().st_size, created_ms, automatic, len(files),
                      tuple(skipped))


# ------------------------------------------------------------------ verify


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts \
        and "\\" not in name


def verify_backup(path: Path, extract_to: Path | None = None) -> Verified:
    """Check ``path``: it reads to the end, holds only regular files and directories
    with safe names, every file matches the manifest's size and sha256 (and nothing
    is missing or extra), and the database copy passes ``PRAGMA integrity_check``.

    With ``extract_to``, the files are also written there (as the restore's staging).

    Raises:
        BackupError: naming the archive and the first problem found.
    """
    def bad(reason: str) -> BackupError:
        return BackupError(f"backup {path} failed verification: {reason}")

    seen: dict[str, tuple[int, str]] = {}
    seen_dirs: set[str] = set()
    manifest: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="openclaw-verify-") as work:
        copy = Path(work) / DATABASE
        try:
            with tarfile.open(path, mode="r:gz") as tar:
                for member in tar:
                    if not _safe_name(member.name):
                        raise bad(f"unsafe member name {member.name!r}")
                    if member.isdir():
                        seen_dirs.add(member.name)
                        if extract_to is not None:
                            (extract_to / member.name).mkdir(parents=True, exist_ok=True,
                                                             mode=0o700)
                        continue
                    if not member.isfile():
                        raise bad(f"{member.name} is not a regular file")
                    stream = tar.extractfile(member)
                    assert stream is not None  # a regular file always has one
                    if member.name == MANIFEST:
                        try:
                            manifest = json.loads(stream.read())
                        except ValueError as exc:
                            raise bad(f"the manifest is not JSON: {exc}") from None
                        continue
                    outputs = []
                    if member.name == DATABASE:
                        outputs.append(copy)
                    if extract_to is not None:
                        outputs.append(extract_to / member.name)
                    seen[member.name] = _copy_hashing(stream, outputs, member.mode)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise bad(f"the archive cannot be read to the end ({exc})") from None
        if not isinstance(manifest, dict):
            raise bad("it has no manifest.json (not an openclaw backup, or truncated)")
        if manifest.get("format") != FORMAT:
            raise bad(f"unknown format {manifest.get('format')!r} (this openclaw reads "
                      f"format {FORMAT}; a newer openclaw wrote it)")
        listed = {entry["path"]: entry for entry in manifest.get("files", [])}
        for name, entry in listed.items():
            if name not in seen:
                raise bad(f"{name} is listed in the manifest but missing")
            size, digest = seen[name]
            if size != entry.get("size") or digest != entry.get("sha256"):
                raise bad(f"{name} does not match the manifest (size or sha256 differs)")
        extra = sorted(set(seen) - set(listed))
        if extra:
            raise bad(f"{extra[0]} is in the archive but not in the manifest")
        database = None
        if DATABASE in seen:
            database = _integrity(copy)
            if database != "ok":
                raise bad(f"the database copy fails integrity_check: {database}")
    return Verified(path, manifest, database)


def _copy_hashing(stream: IO[bytes], outputs: list[Path], mode: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    sinks = []
    try:
        for target in outputs:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            sinks.append(os.fdopen(fd, "wb"))
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            for sink in sinks:
                sink.write(chunk)
        for sink in sinks:
            sink.flush()
            os.fchmod(sink.fileno(), mode & 0o700)  # owner bits only: these hold secrets
            os.fsync(sink.fileno())
    finally:
        for sink in sinks:
            sink.close()
    return size, digest.hexdigest()


def _integrity(path: Path) -> str:
    try:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            rows = [str(row[0]) for row in db.execute("PRAGMA integrity_check(5)")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "ok" if rows == ["ok"] else "; ".join(rows)


# ------------------------------------------------------------------ list, prune


def list_backups(directory: Path, profile: str | None = None) -> list[BackupInfo]:
    """The archives in ``directory`` (only ``profile``'s when given: profiles may share
    a directory), newest first by the time in their name."""
    found = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise BackupError(f"cannot read the backups directory {directory}: "
                          f"{exc.strerror or exc}") from None
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        if profile is not None and match["profile"] != profile:
            continue
        stamp = match["stamp"]
        created = _utc_seconds(stamp[:15]) * 1000 + int(stamp[15:18])
        found.append(BackupInfo(Path(entry.path), entry.stat().st_size, created,
                                bool(match["auto"])))
    found.sort(key=lambda info: (info.created_ms, info.path.name), reverse=True)
    return found


def _utc_seconds(stamp: str) -> int:
    import calendar

    return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%S"))


def prune_backups(directory: Path, keep: int, profile: str) -> list[Path]:
    """Delete ``profile``'s automatic archives beyond the newest ``keep``; archives
    made by ``openclaw backup create`` and other profiles' are never pruned. Returns
    what was deleted."""
    automatic = [info for info in list_backups(directory, profile) if info.automatic]
    removed = []
    for info in automatic[keep:]:
        info.path.unlink(missing_ok=True)
        removed.append(info.path)
    return removed


def latest_verified(directory: Path, profile: str) -> tuple[Verified | None, list[str]]:
    """``profile``'s newest archive that verifies, and why each newer one did not."""
    problems: list[str] = []
    for info in list_backups(directory, profile):
        try:
            return verify_backup(info.path), problems
        except BackupError as exc:
            problems.append(exc.message)
    return None, problems


# ------------------------------------------------------------------ restore


def _stamp() -> str:
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"


def _move_aside(path: Path, aside_dir: Path, name: str, result: RestoreResult) -> None:
    if not path.exists() and not path.is_symlink():
        return
    ensure_private_dir(aside_dir)
    target = aside_dir / name
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.move(str(path), str(target))
    result.aside.append(target)


def _hold_lock(sources: Sources) -> InstanceLock:
    ensure_private_dir(sources.state_dir)
    lock = InstanceLock(sources.lock_path)
    if not lock.acquire():
        holder = lock.holder()
        raise BackupError(
            f"a gateway of profile {sources.profile!r} is running"
            f"{f' (pid {holder})' if holder else ''}: stop it first (`openclaw gateway stop`, "
            "or Ctrl-C on a foreground gateway), then restore")
    return lock


def restore_backup(archive: Path, sources: Sources, *, database_only: bool = False
                   ) -> RestoreResult:
    """Put the contents of ``archive`` back in place of the profile's current ones.

    Refuses while a gateway of the profile runs (its lock is held) and holds that
    lock meanwhile, so no gateway starts half-way. The archive is verified while it
    is unpacked into a staging directory; only then is each item swapped in (a
    rename per item). Everything replaced is moved to
    ``<state dir>/restore-aside-<time>/``, never deleted. The result equals the
    backup: an item the archive does not hold is moved aside too. With
    ``database_only`` (``doctor --fix``) only the database is restored, and the one
    it replaces is kept as ``gateway.db.damaged-<time>`` next to it.

    Raises:
        BackupError: a gateway runs, the archive fails verification, or it holds no
            database when ``database_only`` asks for one.
    """
    lock = _hold_lock(sources)
    try:
        state = sources.state_dir
        stamp = _stamp()
        result = RestoreResult(archive)
        with tempfile.TemporaryDirectory(dir=state, prefix=".restore-") as staging_name:
            staging = Path(staging_name)
            verified = verify_backup(archive, extract_to=staging)
            names = {entry["path"] for entry in verified.manifest["files"]}
            if database_only and DATABASE not in names:
                raise BackupError(f"backup {archive} holds no database")
            aside = state / f"restore-aside-{stamp}"
            db_files = [sources.database.with_name(DATABASE + suffix)
                        for suffix in ("", "-wal", "-shm")]
            for path in db_files:
                if database_only:
                    if path.exists():
                        damaged = path.with_name(f"{path.name}.damaged-{stamp}")
                        os.replace(path, damaged)
                        result.aside.append(damaged)
                else:
                    _move_aside(path, aside, path.name, result)
            if DATABASE in names:
                os.replace(staging / DATABASE, sources.database)
                result.restored.append(str(sources.database))
            if database_only:
                return result
            for arcname, path in sources.files().items():
                _move_aside(path, aside, arcname, result)
                if arcname in names:
                    write_atomic(path, (staging / arcname).read_bytes(),
                                 stat.S_IMODE((staging / arcname).stat().st_mode) or 0o600)
                    result.restored.append(str(path))
            for prefix, root in sources.trees().items():
                _move_aside(root, aside, prefix, result)
                if (staging / prefix).is_dir():
                    root.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(staging / prefix), str(root))
                    result.restored.append(str(root))
        return result
    finally:
        lock.release()
