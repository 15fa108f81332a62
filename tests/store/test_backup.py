"""Backup archives against real files: a consistent snapshot of a database being
written, the manifest and its checks, restore with everything replaced kept aside,
retention."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import stat
import tarfile
import threading
from pathlib import Path

import pytest

from openclaw.instancelock import InstanceLock
from openclaw.paths import resolve_profile
from openclaw.store.backup import (
    BackupError,
    Sources,
    create_backup,
    latest_verified,
    list_backups,
    prune_backups,
    restore_backup,
    verify_backup,
)
from openclaw.store.db import open_database

T0 = 1_800_000_000_000


def make_state(home: Path) -> Sources:
    """A profile with a database, config, env file, token, WhatsApp creds, workspace."""
    profile = resolve_profile(env={"HOME": str(home)})
    state = profile.state_dir
    (state / "credentials" / "whatsapp" / "default").mkdir(parents=True, mode=0o700)
    (state / "credentials" / "gateway-token").write_text("tok-123\n")
    (state / "credentials" / "whatsapp" / "default" / "creds.json").write_text('{"k": 1}')
    profile.config_path.write_text('{"gateway": {"port": 18999}}')
    (state / "service.env").write_text("OPENCLAW_GATEWAY_TOKEN=abc\n")
    (state / "workspace").mkdir()
    (state / "workspace" / "AGENTS.md").write_text("be nice\n")
    db = open_database(state / "gateway.db")
    db.execute("INSERT INTO turns (session_key, role, text, ts) VALUES ('main', 'user', 'hi', 1)")
    db.close()
    return Sources.for_profile(profile)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar if m.isfile()}


def repack(archive: Path, change: dict[str, bytes], *, fix_manifest: bool = False) -> Path:
    """A copy of ``archive`` with some members' contents replaced."""
    out = archive.with_name("tampered.tar.gz")
    content = {**members(archive), **change}
    if fix_manifest:
        manifest = json.loads(content["manifest.json"])
        for entry in manifest["files"]:
            data = content[entry["path"]]
            entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
        content["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(out, "w:gz") as tar:
        for name, data in content.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def test_a_snapshot_taken_while_the_database_is_written_is_consistent(home: Path) -> None:
    sources = make_state(home)
    writer = open_database(sources.database)
    stop = threading.Event()
    batches = [0]

    def write() -> None:  # every transaction inserts ten rows of one batch
        while not stop.is_set():
            batches[0] += 1
            writer.execute("BEGIN")
            for i in range(10):
                writer.execute("INSERT INTO turns (session_key, role, text, ts) "
                               "VALUES (?, 'user', ?, ?)", (f"b{batches[0]}", "x" * 200, i))
            writer.execute("COMMIT")

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while batches[0] < 50:  # the writer is well under way
            stop.wait(0.01)
        info = create_backup(sources, version="9.9", created_ms=T0)
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert info.path.parent == home / ".openclaw" / "backups"
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(info.path.parent.stat().st_mode) == 0o700
    verified = verify_backup(info.path)
    assert verified.database == "ok" and verified.manifest["version"] == "9.9"
    names = {entry["path"] for entry in verified.manifest["files"]}
    assert names == {"gateway.db", "config/openclaw.json", "state/service.env",
                     "credentials/gateway-token", "credentials/whatsapp/default/creds.json",
                     "workspace/AGENTS.md"}
    out = home / "out"
    out.mkdir()
    (out / "copy.db").write_bytes(members(info.path)["gateway.db"])
    sizes = rows(out / "copy.db", "SELECT session_key, COUNT(*) FROM turns "
                                  "WHERE session_key != 'main' GROUP BY session_key")
    assert len(sizes) >= 50 and {count for _, count in sizes} == {10}  # no half batch
    assert not list(info.path.parent.glob(".*"))  # no temporary file or snapshot left


def test_a_file_rewritten_while_it_is_archived_goes_in_as_read(home: Path) -> None:
    """A workspace note rewritten over and over (truncated, then written) during the
    backups never fails them: each archive holds the note as it was read (one of its
    states, or the start of one being written), and its manifest matches it."""
    sources = make_state(home)
    note = sources.workspace / "note.md"
    states = {f"version {k} ".encode() * (200 + 300 * (k % 5)) for k in range(5)}
    stop = threading.Event()

    def rewrite() -> None:
        k = 0
        while not stop.is_set():
            note.write_bytes(f"version {k % 5} ".encode() * (200 + 300 * (k % 5)))
            k += 1

    note.write_bytes(b"")
    thread = threading.Thread(target=rewrite)
    thread.start()
    try:
        archives = [create_backup(sources, version="1", created_ms=T0 + k).path
                    for k in range(40)]
    finally:
        stop.set()
        thread.join()
    for archive in archives:
        verify_backup(archive)
        content = members(archive)["workspace/note.md"]
        assert any(state.startswith(content) for state in states)


@pytest.mark.parametrize("damage", ["truncated", "changed-file", "bad-database", "unsafe-name"])
def test_verify_names_the_archive_and_what_is_wrong(home: Path, damage: str) -> None:
    sources = make_state(home)
    archive = create_backup(sources, version="1", created_ms=T0).path
    if damage == "truncated":
        data = archive.read_bytes()
        archive.write_bytes(data[: len(data) // 2])
        bad, expected = archive, "cannot be read to the end"
    elif damage == "changed-file":
        bad = repack(archive, {"workspace/AGENTS.md": b"be mean\n"})
        expected = "workspace/AGENTS.md does not match the manifest"
    elif damage == "bad-database":
        db = bytearray(members(archive)["gateway.db"])
        db[4096 * 2: 4096 * 2 + 200] = b"\xff" * 200  # garbage into a b-tree page
        bad = repack(archive, {"gateway.db": bytes(db)}, fix_manifest=True)
        expected = "integrity_check"
    else:
        bad = repack(archive, {"../escape": b"x"})
        expected = "unsafe member name '../escape'"
    with pytest.raises(BackupError) as caught:
        verify_backup(bad)
    assert str(bad) in caught.value.message and expected in caught.value.message


def test_restore_puts_everything_back_and_keeps_what_it_replaced(home: Path) -> None:
    sources = make_state(home)
    archive = create_backup(sources, version="1", created_ms=T0).path
    state = sources.state_dir
    db = open_database(sources.database)
    db.execute("DELETE FROM turns")
    db.close()
    sources.config_path.write_text('{"gateway": {"port": 1}}')
    (state / "credentials" / "gateway-token").unlink()
    (state / "workspace" / "junk.txt").write_text("new")

    result = restore_backup(archive, sources)
    assert rows(sources.database, "SELECT text FROM turns") == [("hi",)]
    assert json.loads(sources.config_path.read_text())["gateway"]["port"] == 18999
    assert (state / "credentials" / "gateway-token").read_text() == "tok-123\n"
    assert stat.S_IMODE((state / "credentials" / "gateway-token").stat().st_mode) == 0o600
    assert sorted(p.name for p in (state / "workspace").iterdir()) == ["AGENTS.md"]
    [kept] = state.glob("restore-aside-*")  # what was replaced, in one folder
    assert {p.relative_to(kept).as_posix() for p in result.aside} >= {
        "gateway.db", "config/openclaw.json", "workspace", "credentials"}
    assert (kept / "workspace" / "junk.txt").read_text() == "new"
    assert json.loads((kept / "config" / "openclaw.json").read_text())["gateway"]["port"] == 1
    assert rows(kept / "gateway.db", "SELECT COUNT(*) FROM turns") == [(0,)]
    assert not list(state.glob(".restore-*"))  # the staging directory is gone


def test_restore_refuses_while_the_profile_lock_is_held(home: Path) -> None:
    sources = make_state(home)
    archive = create_backup(sources, version="1", created_ms=T0).path
    before = sources.database.read_bytes()
    lock = InstanceLock(sources.lock_path)
    assert lock.acquire()
    try:
        with pytest.raises(BackupError, match=r"is running .*stop it first"):
            restore_backup(archive, sources)
    finally:
        lock.release()
    assert sources.database.read_bytes() == before


def test_retention_prunes_only_automatic_archives_oldest_first(home: Path) -> None:
    sources = make_state(home)
    made = [create_backup(sources, version="1", created_ms=T0 + k * 1000, automatic=True)
            for k in range(4)]
    manual = create_backup(sources, version="1", created_ms=T0 - 1000)
    other = Sources("work", sources.state_dir, sources.config_path, sources.workspace,
                    sources.backups_dir)  # another profile sharing the directory
    theirs = [create_backup(other, version="1", created_ms=T0 - 5000 + k, automatic=True)
              for k in range(3)]
    removed = prune_backups(sources.backups_dir, keep=2, profile="default")
    assert sorted(removed) == sorted(info.path for info in made[:2])
    assert all(info.path.exists() for info in theirs)
    listed = list_backups(sources.backups_dir, "default")
    assert [info.path for info in listed] == [made[3].path, made[2].path, manual.path]
    assert [info.created_ms for info in listed] == [T0 + 3000, T0 + 2000, T0 - 1000]


def test_latest_verified_skips_a_broken_newest_archive(home: Path) -> None:
    sources = make_state(home)
    good = create_backup(sources, version="1", created_ms=T0).path
    newer = create_backup(sources, version="1", created_ms=T0 + 1000).path
    newer.write_bytes(newer.read_bytes()[:100])
    verified, problems = latest_verified(sources.backups_dir, "default")
    assert verified is not None and verified.path == good
    assert len(problems) == 1 and newer.name in problems[0]
