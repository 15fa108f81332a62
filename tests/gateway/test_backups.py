"""The automatic backup inside a serving gateway: it really runs (off the event
loop, which keeps answering), retention prunes, an unchanged profile is skipped,
and the config decides interval, retention and whether it runs at all."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import until
from inprocess import InProcessGateway
from openclaw.config import parse_config
from openclaw.errors import ConfigError
from openclaw.gateway.backups import BackupScheduler
from openclaw.store.backup import create_backup, list_backups, verify_backup

T0 = 1_700_000_000_000  # in the past: a backup made then is overdue now


def test_backups_run_while_serving_and_retention_prunes(
        make_app_gateway: Callable[..., InProcessGateway],
        caplog: pytest.LogCaptureFixture) -> None:
    gw = make_app_gateway(config={"backup": {"every": "1h", "keep": 3}})
    app = gw.app
    assert app is not None and app.backups is not None
    assert (app.backups.every_ms, app.backups.keep) == (3_600_000, 3)
    # The gateway's own scheduler waits an hour; this one, on the same loop and the
    # same profile, is due every 100 ms with no settle delay.
    scheduler = BackupScheduler(gw.profile, app.workspace.root, None, every_ms=100, keep=2,
                                settle_s=0)
    manual = create_backup(scheduler.sources, version="1", created_ms=T0)
    caplog.set_level(logging.INFO, logger="openclaw.gateway.backup")
    running = asyncio.run_coroutine_threadsafe(scheduler.run(), gw.loop)
    slowest = 0.0
    deadline = time.monotonic() + 15
    try:
        while scheduler.made < 5:
            assert time.monotonic() < deadline, f"{scheduler.made} backups made"
            # a change before each round, so none is skipped
            (app.workspace.root / "note.md").write_text(f"round {scheduler.made}")
            started = time.monotonic()
            assert gw.call("health")["ok"] is True
            slowest = max(slowest, time.monotonic() - started)
            assert time.monotonic() - started < 5
        # Nothing changes now, so rounds are skipped: after the last change is backed
        # up, and after the gateway's checkpointer has moved its log into the file.
        for _ in range(5):
            made, skipped = scheduler.made, scheduler.skipped
            until(lambda skipped=skipped: scheduler.skipped >= skipped + 3, "3 skipped rounds")
            if scheduler.made == made:
                break
        assert scheduler.made == made
    finally:
        running.cancel()
    assert scheduler.failed == 0
    archives = list_backups(scheduler.sources.backups_dir)
    automatic = [info for info in archives if info.automatic]
    assert len(automatic) == 2  # keep=2: the older ones were pruned
    assert manual.path in [info.path for info in archives]  # a manual one never is
    for info in automatic:
        assert verify_backup(info.path).database == "ok"
    written = [r.getMessage() for r in caplog.records if "written" in r.getMessage()]
    assert len(written) >= 5 and gw.token not in "".join(written)
    assert slowest < 2.0  # served throughout (a generous bound: the machine is shared)


def test_the_first_backup_is_due_one_interval_after_the_newest(tmp_path: Path) -> None:
    gw = InProcessGateway(tmp_path)
    clock = [T0 + 10_000]
    scheduler = BackupScheduler(gw.profile, tmp_path / "ws", None, every_ms=60_000, keep=1,
                                wall_ms=lambda: clock[0])
    assert scheduler.first_delay_s() == 0  # no backup yet: due (after the settle delay)
    create_backup(scheduler.sources, version="1", created_ms=T0, automatic=True)
    assert scheduler.first_delay_s() == 50
    clock[0] = T0 + 600_000
    assert scheduler.first_delay_s() == 0  # overdue


def test_the_config_turns_it_off_and_refuses_a_silly_interval(
        make_app_gateway: Callable[..., InProcessGateway]) -> None:
    gw = make_app_gateway(config={"backup": {"enabled": False}})
    assert gw.app is not None and gw.app.backups is None
    default = parse_config({}).backup
    assert (default.enabled, default.every, default.keep) == (True, "1d", 7)
    with pytest.raises(ConfigError, match=r"backup\.every: must be at least 1m"):
        parse_config({"backup": {"every": "30s"}}, "openclaw.json")
    with pytest.raises(ConfigError, match=r"backup\.keep"):
        parse_config({"backup": {"keep": 0}}, "openclaw.json")
