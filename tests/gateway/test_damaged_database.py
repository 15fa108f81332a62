"""A damaged ``gateway.db`` stops the gateway at start: exit 78, one line naming the
file and the fix, and the file left exactly as it was (never replaced by an empty one)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from damage import populated, scribble, truncate
from harness import GatewayProcess
from openclaw.errors import DamagedDatabase
from openclaw.store.db import inspect_database, open_database


@pytest.mark.parametrize(("damage", "expected"), [(truncate, "truncated"),
                                                  (scribble, "tree page")])
def test_the_gateway_refuses_a_damaged_database_and_leaves_it(
        home: Path, damage: object, expected: str) -> None:
    state = home / ".openclaw"
    state.mkdir(mode=0o700)
    path = state / "gateway.db"
    populated(path)
    damage(path)  # type: ignore[operator]
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    gateway = GatewayProcess(home)
    status, output = gateway.run_to_exit()
    assert status == 78, output
    assert f"gateway failed to start: the gateway database {path} is damaged" in \
        gateway.log_text()  # for `openclaw logs` and `gateway status` under a supervisor
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
