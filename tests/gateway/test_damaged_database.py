"""A damaged ``gateway.db`` stops the gateway at start: exit 78, one line naming the
file and the fix, and the file left exactly as it was (never replaced by an empty one)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness import GatewayProcess
from openclaw.errors import DamagedDatabase
from openclaw.store.db import inspect_database, open_database

PAGE = 4096


def populated(path: Path, turns: int = 400) -> None:
    """A gateway database with some turns in it, checkpointed into the main file."""
    db = open_database(path)
    db.execute("BEGIN")
    for i in range(turns):
        db.execute("INSERT INTO turns (session_key, role, text, ts) VALUES ('main', 'user', ?, ?)",
                   (f"message {i} " + "x" * 300, i))
    db.execute("COMMIT")
    db.close()


def truncate(path: Path) -> None:
    """Cut at a page boundary: only the header's page count shows it."""
    size = path.stat().st_size
    assert size > 8 * PAGE
    with open(path, "r+b") as stream:
        stream.truncate(size // PAGE // 2 * PAGE)


def garbage(path: Path) -> None:
    """Overwrite the middle of a b-tree page of the turns table, header intact."""
    with open(path, "r+b") as stream:
        stream.seek(path.stat().st_size // PAGE // 2 * PAGE + 8)
        stream.write(b"\xa5" * 1500)


@pytest.mark.parametrize(("damage", "expected"), [(truncate, "truncated"),
                                                  (garbage, "tree page")])
def test_the_gateway_refuses_a_damaged_database_and_leaves_it(
        home: Path, damage: object, expected: str) -> None:
    state = home / ".openclaw"
    state.mkdir(mode=0o700)
    path = state / "gateway.db"
    populated(path)
    damage(path)  # type: ignore[operator]
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    status, output = GatewayProcess(home).run_to_exit()
    assert status == 78, output
    [line] = [ln for ln in output.splitlines() if "is damaged" in ln]
    assert str(path) in line and expected in line
    assert "openclaw doctor --fix" in line and "openclaw backup restore" in line
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # not recreated
    assert sorted(p.name for p in state.glob("gateway.db*")) == ["gateway.db"]


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + b"\x00" * 50,
                                     b"not a database at all\n" * 300])
def test_empty_short_and_foreign_files_are_damaged_not_new(tmp_path: Path,
                                                           content: bytes) -> None:
    path = tmp_path / "gateway.db"
    path.write_bytes(content)
    with pytest.raises(DamagedDatabase) as caught:
        open_database(path)
    assert str(path) in caught.value.message and caught.value.exit_code == 78
    assert path.read_bytes() == content


def test_a_whole_database_passes_and_a_new_one_appears_complete(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    populated(path, 10)
    assert inspect_database(path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gateway.db"]  # no temporary left
