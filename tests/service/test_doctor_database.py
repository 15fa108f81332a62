"""``openclaw doctor`` on a damaged database: found, refused while the gateway runs,
restored from the newest backup that verifies once it is stopped, damaged file kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from damage import populated, scribble, turn_count
from harness import GatewayProcess, run_cli


def doctor(home: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = run_cli("doctor", "--json", *args, home=home,
                     env={"XDG_RUNTIME_DIR": str(home / "no-manager")})
    findings = json.loads(result.stdout)["findings"]
    return result.returncode, [f for f in findings if f["id"] == "database-damaged"]


def test_doctor_fix_restores_the_latest_verified_backup(
        home: Path, make_gateway: Callable[..., GatewayProcess]) -> None:
    state = home / ".openclaw"
    state.mkdir(mode=0o700)
    db_path = state / "gateway.db"
    populated(db_path, 300)
    made = run_cli("backup", "create", "--json", home=home)
    assert made.returncode == 0, made.stderr
    archive = Path(json.loads(made.stdout)["path"])

    code, found = doctor(home)
    assert code == 0 and found == []  # a whole database: nothing to say

    gateway = make_gateway(home=home)
    scribble(db_path)  # the disk goes bad under a running gateway
    code, [finding] = doctor(home, "--fix")
    assert code == 1 and finding["fixable"] and finding["fixed"] is False
    assert str(db_path) in finding["message"] and archive.name in finding["fix"]
    assert "is running" in finding["result"] and "stop it first" in finding["result"]

    assert gateway.stop() == 0
    code, [finding] = doctor(home, "--fix")
    assert finding["fixed"] is True, finding
    assert str(archive) in finding["result"]
    [kept] = state.glob("gateway.db.damaged-*")
    assert kept.name in finding["result"]
    assert turn_count(db_path) == 300
    code, found = doctor(home)
    assert found == []
    again = make_gateway(home=home)  # and the gateway starts on the restored database
    assert again.alive()
