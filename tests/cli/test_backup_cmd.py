"""``openclaw backup create|verify|restore|list`` as a user runs them, next to a real
gateway: an online snapshot, checks that fail loudly, a restore refused over a live
gateway and done once it is stopped."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

from harness import GatewayProcess, run_cli
from openclaw.store.db import inspect_database


def test_create_list_verify_restore_around_a_running_gateway(
        home: Path, make_gateway: Callable[..., GatewayProcess]) -> None:
    gateway = make_gateway(home=home)
    state = home / ".openclaw"
    token = gateway.token
    (state / "workspace" / "notes.md").write_text("remember the milk\n")

    first = run_cli("backup", "create", "--json", home=home)
    assert first.returncode == 0, first.stderr
    archive = Path(json.loads(first.stdout)["path"])
    assert archive.parent == state / "backups"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.parent.stat().st_mode) == 0o700
    second = run_cli("backup", "create", home=home)
    assert second.returncode == 0 and second.stdout.startswith("wrote "), second.stderr
    listed = run_cli("backup", "list", "--json", home=home)
    paths = [item["path"] for item in json.loads(listed.stdout)["backups"]]
    assert len(paths) == 2 and paths[1] == str(archive)  # newest first
    text = run_cli("backup", "list", home=home).stdout.splitlines()
    assert len(text) == 2 and text[1].endswith(archive.name) and "manual" in text[1]

    verified = run_cli("backup", "verify", str(archive), home=home)
    assert verified.returncode == 0 and verified.stdout.startswith("ok: "), verified.stderr
    assert "database integrity ok" in verified.stdout
    for result in (first, second, listed, verified):  # secrets never printed
        assert token not in result.stdout + result.stderr

    broken = home / "broken.tar.gz"
    broken.write_bytes(archive.read_bytes()[:-200])
    refused = run_cli("backup", "verify", str(broken), home=home)
    assert refused.returncode == 1 and refused.stdout == ""
    assert str(broken) in refused.stderr.splitlines()[0]
    missing = run_cli("backup", "verify", str(home / "nope.tar.gz"), home=home)
    assert missing.returncode == 2 and "no backup archive at" in missing.stderr

    (state / "workspace" / "notes.md").write_text("changed\n")
    live = run_cli("backup", "restore", str(archive), home=home)
    assert live.returncode == 1
    line = live.stderr.splitlines()[0]
    assert f"pid {gateway.pid}" in line and "stop it first" in line
    assert (state / "workspace" / "notes.md").read_text() == "changed\n"  # untouched

    assert gateway.stop() == 0
    (state / "credentials" / "gateway-token").unlink()
    done = run_cli("backup", "restore", str(archive), "--json", home=home)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert str(state / "gateway.db") in report["restored"]
    assert (state / "workspace" / "notes.md").read_text() == "remember the milk\n"
    assert (state / "credentials" / "gateway-token").read_text().strip() == token
    [aside] = state.glob("restore-aside-*")
    assert (aside / "workspace" / "notes.md").read_text() == "changed\n"
    assert inspect_database(state / "gateway.db") is None
    again = make_gateway(home=home)
    assert again.token == token


def test_backup_alone_names_the_subcommands(home: Path) -> None:
    result = run_cli("backup", home=home)
    assert result.returncode == 2
    assert "create, verify, restore, list" in result.stderr
