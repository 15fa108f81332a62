"""write_atomic: whole content or none, owner-only from the first instant, durable
(file and directory synced), no temporary files left; and the state files that use it."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openclaw.atomicfile import write_atomic
from openclaw.gateway.heartbeat import Heartbeat


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that would leave new files world-readable."""
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


def test_writes_text_and_bytes_with_the_mode_past_the_umask(
    tmp_path: Path, loose_umask: None
) -> None:
    secret = tmp_path / "deep" / "er" / "token"
    write_atomic(secret, "s3cret\n")
    assert secret.read_text() == "s3cret\n" and mode_of(secret) == 0o600
    unit = tmp_path / "unit.service"
    write_atomic(unit, b"[Unit]\n", 0o644)
    assert unit.read_bytes() == b"[Unit]\n" and mode_of(unit) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "unit.service"]


def test_replacing_a_readable_file_makes_it_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    path.chmod(0o644)
    write_atomic(path, "new")
    assert path.read_text() == "new" and mode_of(path) == 0o600


def test_the_file_is_complete_and_private_before_it_is_renamed_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    path = tmp_path / "runtime.json"
    path.write_text("old")
    seen: list[tuple[str, int, str]] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        seen.append((Path(src).read_text(), mode_of(Path(src)), Path(dst).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_atomic(path, "x" * 100_000)
    assert seen == [("x" * 100_000, 0o600, "old")]  # readers saw "old" until the rename


def test_the_file_and_then_its_directory_are_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[bool, bool]] = []  # (a directory?, already renamed into place?)
    path = tmp_path / "heartbeat.json"
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), path.exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_atomic(path, "{}")
    assert synced == [(False, False), (True, True)]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gateway-token"
    path.write_text("old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["gateway-token"]


def test_concurrent_writers_use_their_own_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second writer starting while the first is between write and rename must not
    truncate or steal the first one's temporary file."""
    path = tmp_path / "state.json"
    real_replace = os.replace
    renamed: list[tuple[str, str]] = []  # (temporary name, its content at the rename)

    def replace(src: Any, dst: Any) -> None:
        if not renamed and Path(src).read_text() == "first":
            write_atomic(path, "second")  # the second writer runs to completion here
        renamed.append((Path(src).name, Path(src).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_atomic(path, "first")
    assert [content for _, content in renamed] == ["second", "first"]
    assert renamed[0][0] != renamed[1][0]
    assert path.read_text() == "first"  # the last rename wins, whole
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_the_heartbeat_switch_is_kept_owner_only(tmp_path: Path, loose_umask: None) -> None:
    path = tmp_path / "heartbeat.json"
    path.write_text(json.dumps({"enabled": True}))
    path.chmod(0o644)  # as written by an older gateway
    beats: list[dict[str, Any]] = []
    heartbeat = Heartbeat(0, path, beats.append, "0m")  # interval 0: no timer to run
    assert heartbeat.enabled
    heartbeat.set_enabled(False)
    assert mode_of(path) == 0o600
    assert json.loads(path.read_text()) == {"enabled": False}
    assert not Heartbeat(0, path, beats.append, "0m").enabled  # survives a restart
    assert [p.name for p in tmp_path.iterdir()] == ["heartbeat.json"]
