"""``openclaw backup create|verify|restore|list``: archives of a profile's database,
config, credentials and workspace (:mod:`openclaw.store.backup`; ``docs/backup.md``).

They work on the files directly, not through the gateway: ``create`` snapshots the
database online (a running gateway keeps serving), ``restore`` refuses while one
runs.
"""

from __future__ import annotations

from openclaw.cli.common import display_path, profile_of, wants_json
from openclaw.cli.render import emit
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Any

    from openclaw.store.backup import BackupInfo, RestoreResult, Sources, Verified

__all__ = ["create", "list_archives", "restore", "sources_of", "usage", "verify"]


def usage(ns: argparse.Namespace) -> int:
    """``openclaw backup`` alone: say which subcommands exist."""
    from openclaw.errors import UsageError

    raise UsageError("openclaw backup needs a subcommand: create, verify, restore, list")


def sources_of(ns: argparse.Namespace) -> Sources:
    """The profile's sources, with the workspace and backups dir the config names
    (read leniently: a config the gateway would refuse can still be backed up)."""
    from openclaw.configfile import read_lenient
    from openclaw.store.backup import Sources

    profile = profile_of(ns)
    config = read_lenient(profile.config_path)
    return Sources.for_profile(profile, workspace=config.string("agents.defaults.workspace"),
                               backups_dir=config.string("backup.dir"))


def _when(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


class Created(CommandResult):
    """``backup create``: the archive written."""

    def __init__(self, info: BackupInfo) -> None:
        self.info = info

    def to_json(self) -> Any:
        """The archive: path, bytes, time, files, skipped."""
        return self.info.to_json()

    def to_text(self) -> str:
        """One line, plus what was skipped."""
        info = self.info
        text = f"wrote {display_path(info.path)} ({_size(info.size)}, {_files(info.files or 0)})"
        if info.skipped:
            text += f"\nskipped (not regular files): {', '.join(info.skipped)}"
        return text


class VerifiedResult(CommandResult):
    """``backup verify``: what was checked."""

    def __init__(self, verified: Verified) -> None:
        self.verified = verified

    def to_json(self) -> Any:
        """The archive, its manifest's summary, and the database check."""
        manifest = self.verified.manifest
        return {"ok": True, "path": str(self.verified.path), "files": self.verified.files,
                "version": manifest.get("version"), "profile": manifest.get("profile"),
                "createdAtMs": manifest.get("createdAtMs"),
                "database": self.verified.database}

    def to_text(self) -> str:
        """One line."""
        manifest = self.verified.manifest
        db = "database integrity ok" if self.verified.database else "no database"
        return (f"ok: {display_path(self.verified.path)}: {_files(self.verified.files)} match "
                f"the manifest, {db} (openclaw {manifest.get('version')}, profile "
                f"{manifest.get('profile')}, {_when(int(manifest.get('createdAtMs', 0)))})")


class Restored(CommandResult):
    """``backup restore``: what was put back and where the replaced things are."""

    def __init__(self, result: RestoreResult) -> None:
        self.result = result

    def to_json(self) -> Any:
        """The archive, the restored paths, the paths kept aside."""
        return {"archive": str(self.result.archive), "restored": self.result.restored,
                "aside": [str(path) for path in self.result.aside]}

    def to_text(self) -> str:
        """What was restored, then where the replaced files went."""
        lines = [f"restored {display_path(self.result.archive)}:"]
        lines += [f"  {display_path(path)}" for path in self.result.restored]
        if self.result.aside:
            folders = sorted({display_path(p.parent) for p in self.result.aside})
            lines.append(f"what it replaced is kept in {', '.join(folders)}")
        lines.append("start the gateway again (`openclaw gateway start`, or `openclaw gateway`)")
        return "\n".join(lines)


class Listing(CommandResult):
    """``backup list``: archives newest first."""

    def __init__(self, directory: Path, archives: list[BackupInfo]) -> None:
        self.directory = directory
        self.archives = archives

    def to_json(self) -> Any:
        """The directory and each archive."""
        return {"dir": str(self.directory), "backups": [a.to_json() for a in self.archives]}

    def to_text(self) -> str:
        """``time  size  kind  path``, one a line."""
        if not self.archives:
            return f"no backups in {display_path(self.directory)}"
        return "\n".join(
            f"{_when(a.created_ms)}  {_size(a.size):>9}  {'auto  ' if a.automatic else 'manual'}"
            f"  {display_path(a.path)}" for a in self.archives)


def create(ns: argparse.Namespace) -> int:
    """Write an archive now (into ``--output DIR``, default the backups directory)."""
    from pathlib import Path

    from openclaw import __version__
    from openclaw.clock import now_ms
    from openclaw.store.backup import create_backup

    sources = sources_of(ns)
    directory = Path(ns.output).expanduser() if ns.output else None
    info = create_backup(sources, version=__version__, created_ms=now_ms(), directory=directory)
    return emit(Created(info), wants_json(ns))


def _archive(ns: argparse.Namespace) -> Path:
    from pathlib import Path

    from openclaw.errors import UsageError

    path = Path(ns.archive).expanduser()
    if not path.is_file():
        raise UsageError(f"no backup archive at {path}",
                         hint="`openclaw backup list` shows the archives")
    return path


def verify(ns: argparse.Namespace) -> int:
    """Check an archive's manifest, hashes and database integrity."""
    from openclaw.store.backup import verify_backup

    return emit(VerifiedResult(verify_backup(_archive(ns))), wants_json(ns))


def restore(ns: argparse.Namespace) -> int:
    """Restore an archive over the profile (refused while its gateway runs)."""
    from openclaw.store.backup import restore_backup

    archive = _archive(ns)
    return emit(Restored(restore_backup(archive, sources_of(ns))), wants_json(ns))


def list_archives(ns: argparse.Namespace) -> int:
    """The profile's archives in the backups directory, newest first."""
    from openclaw.store.backup import list_backups

    sources = sources_of(ns)
    directory = sources.backups_dir
    return emit(Listing(directory, list_backups(directory, sources.profile)), wants_json(ns))
