"""The chaos run, short: ``bench/chaos.py`` kills a loaded gateway with SIGKILL a few
times and checks that nothing was lost or done twice; and its checker, fed a real
history with one invariant broken at a time, fails naming that invariant.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"
ROUNDS = 5


def run_chaos(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``bench/chaos.py ARGS`` with this interpreter, to completion."""
    return subprocess.run([sys.executable, str(CHAOS), *args], capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def chaos_history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One short chaos run (5 kills, ~30 s here; bounded at 100 s for a busy machine)."""
    path = tmp_path_factory.mktemp("chaos") / "history.json"
    proc = run_chaos("--rounds", str(ROUNDS), "--seed", "25", "--min-life", "3.2",
                     "--max-life", "4.5", "--max-down", "2", "--early-kills", "0.2",
                     "--term-kills", "0.15", "--history", str(path), timeout=100)
    history: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    history["_proc"] = {"returncode": proc.returncode, "stdout": proc.stdout,
                        "stderr": proc.stderr}
    return history


def test_a_short_chaos_run_holds_every_invariant(chaos_history: dict[str, Any]) -> None:
    proc = chaos_history["_proc"]
    assert proc["returncode"] == 0, proc["stdout"] + proc["stderr"]
    assert "chaos: every invariant held" in proc["stdout"]
    *kills, final = chaos_history["lives"]
    assert len(kills) == ROUNDS and final["how"] == "SIGTERM"
    # The kills landed on load (seed 25: once during a start, once during a drain), and
    # every kind of work was there to be broken.
    assert sum(life["inFlightAtKill"] for life in kills) > 0
    assert any(life.get("early") for life in kills)
    assert any(life["how"].startswith("SIGTERM") for life in kills)
    assert any(r["final"].startswith("sent:") for r in chaos_history["sends"].values())
    assert any(r["wait"] == "ok" for r in chaos_history["chats"].values())
    assert chaos_history["inbound"] and chaos_history["inbox"]
    assert any(e["status"] == "ok" for e in chaos_history["cronRuns"])
    assert chaos_history["integrity"] == ["ok"]


def _sent_key(history: dict[str, Any]) -> str:
    return next(k for k, r in history["sends"].items() if r["final"].startswith("sent:"))


def double_send(history: dict[str, Any]) -> None:
    key = _sent_key(history)
    history["deliveries"].append({"chatId": "4242", "text": f"chaos send {key}"})


def lost_send(history: dict[str, Any]) -> None:
    key = _sent_key(history)
    history["deliveries"] = [d for d in history["deliveries"]
                             if d["text"] != f"chaos send {key}"]


def failed_send(history: dict[str, Any]) -> None:
    history["sends"][_sent_key(history)]["final"] = "error:UNAVAILABLE: gave up"


def lost_run(history: dict[str, Any]) -> None:
    key = next(k for k, r in history["chats"].items() if r["first"] == "started")
    history["chats"][key]["wait"] = "timeout"
    history["runs"][key]["final"] = None


def inbound_twice(history: dict[str, Any]) -> None:
    history["inbox"].append(dict(history["inbox"][0]))


def answered_twice(history: dict[str, Any]) -> None:
    reply = next(d for d in history["deliveries"] if d["chatId"] == "5151")
    history["deliveries"].append(dict(reply))


def never_answered(history: dict[str, Any]) -> None:
    history["deliveries"] = [d for d in history["deliveries"] if d["chatId"] != "5151"]


def cron_slot_lost(history: dict[str, Any]) -> None:
    del history["cronRuns"][len(history["cronRuns"]) // 2]


def cron_slot_twice(history: dict[str, Any]) -> None:
    history["cronRuns"].append(dict(history["cronRuns"][0]))


def cron_missed_while_up(history: dict[str, Any]) -> None:
    # A slot run on schedule at least 2 s before a kill (every life with load is 3.2 s or
    # more, the job runs every second), now recorded missed at the next start.
    entry = next(e for e in history["cronRuns"] if e["status"] == "ok" and any(
        (life["listeningAtMs"] or e["slotMs"] + 1) <= e["slotMs"] <= life["endedAtMs"] - 2000
        for life in history["lives"]))
    entry.update(status="missed", endedMs=entry["slotMs"] + 5000)


def exchange_twice(history: dict[str, Any]) -> None:
    run_id = next(k for k, n in history["turns"].items() if k.startswith("inbound:"))
    history["turns"][run_id] = 2


def cron_not_caught_up(history: dict[str, Any]) -> None:
    # The run after a stretch of missed slots, as if a later tick (not the catch-up) ran it.
    entries = history["cronRuns"]
    index = next(i for i, e in enumerate(entries[:-1])
                 if e["status"] == "missed" and entries[i + 1]["status"] != "missed")
    entries[index + 1]["startedMs"] += 700


def corrupt_database(history: dict[str, Any]) -> None:
    history["integrity"] = ["*** in database main ***", "Page 7: btreeInitPage() returns 11"]


@pytest.mark.parametrize(("breakage", "reason"), [
    (double_send, r"sends: key \S+ was delivered 2 times"),
    (lost_send, r"sends: key \S+ is reported sent but the Bot API got it 0 times"),
    (failed_send, r"sends: key \S+ is neither delivered nor outcome-unknown"),
    (lost_run, r"runs: accepted run \S+ has no final after the restart"),
    (inbound_twice, r"inbound: message \S+ is stored 2 times"),
    (answered_twice, r"inbound: message \S+ was answered 2 times"),
    (never_answered, r"inbound: message \S+ was never answered"),
    (cron_slot_lost, r"cron: slot \d+ was lost"),
    (cron_slot_twice, r"cron: slot \d+ has 2 runs"),
    (cron_missed_while_up, r"cron: slot \d+ was missed while the gateway was up"),
    (cron_not_caught_up, r"cron: the missed slot \d+ was not followed by the newest due "
                         r"slot's run"),
    (exchange_twice, r"transcript: run inbound:\S+ ended ok and its exchange is stored 2 "
                     r"times"),
    (corrupt_database, r"database: PRAGMA integrity_check says"),
])
def test_the_checker_fails_a_broken_history_naming_the_invariant(
        chaos_history: dict[str, Any], tmp_path: Path,
        breakage: Callable[[dict[str, Any]], None], reason: str) -> None:
    if chaos_history["_proc"]["returncode"] != 0:
        pytest.fail("the chaos run itself failed; see the test above")
    broken = copy.deepcopy(chaos_history)
    breakage(broken)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    proc = run_chaos("--check", str(path), timeout=30)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("chaos: FAILED: "), proc.stderr
    assert any(re.search(reason, line) for line in proc.stderr.splitlines()), proc.stderr


def test_the_checker_passes_the_unbroken_history(chaos_history: dict[str, Any],
                                                  tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(chaos_history))
    proc = run_chaos("--check", str(path), timeout=30)
    assert proc.returncode == chaos_history["_proc"]["returncode"] == 0, proc.stderr
