"""The soak run (``bench/soak.py``): its short version passes against a real gateway and
writes its CSV and plot, and its verdict fails on growth and lag."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
# bench/ is not a package: it is on the path only while soak (and its _common) load, so
# its other scripts (bench/ui.py) cannot shadow test packages of the same name.
sys.path.insert(0, str(BENCH))
try:
    import soak
finally:
    sys.path.remove(str(BENCH))

CI_DURATION_S = 60
CI_CLIENTS = 1000


@pytest.mark.timeout(180)
def test_short_soak_holds_the_load_and_writes_csv_and_plot(tmp_path: Path) -> None:
    """60 s with 1,000 clients and every stream: exit 0, nothing lost, samples and plot.

    About 65 s of wall time on a 2-core machine (60 s of load, a few seconds to set up
    and drain).
    """
    out = tmp_path / "soak"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "soak.py"), "--duration", str(CI_DURATION_S),
         "--clients", str(CI_CLIENTS), "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=170, check=False)
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert proc.stderr.rstrip().endswith("soak: passed"), tail
    document = json.loads(proc.stdout)
    assert document["problems"] == []
    results = {row["id"]: row for row in document["results"]}
    assert results["soak_errors"]["value"] == 0
    # The load was held: every stream ran near its default rate for the whole run.
    for name, rate in (("soak_sends", 4), ("soak_inbound", 1), ("soak_turns", 1),
                       ("soak_calls", 4)):
        assert results[name]["value"] >= 0.8 * rate, (name, results[name])
    assert results["soak_tool_turns"]["value"] > 0
    assert results["soak_cron"]["value"] > 0
    assert results["soak_cli"]["value"] >= 2

    with (out / "soak.csv").open(encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == soak.CSV_FIELDS
        rows = list(reader)
    assert len(rows) >= CI_DURATION_S // 5 - 1
    for row in rows:
        assert int(row["connections"]) >= CI_CLIENTS, row
        assert int(row["fds"]) >= CI_CLIENTS, row
        assert float(row["rss_mb"]) > 0 and float(row["db_kb"]) > 0, row
        assert int(row["lag_samples"]) > 0, row
    assert float(rows[-1]["t_s"]) >= CI_DURATION_S - 1
    assert (out / "soak.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def bounds(**overrides: float) -> argparse.Namespace:
    """The script's default bounds, with ``overrides``."""
    values = {"max_rss_slope": 2.0, "max_fd_slope": 10.0, "max_lag_p99": 500.0,
              "max_lag_max": 2000.0}
    values.update(overrides)
    return argparse.Namespace(**values)


def rows(rss_per_min: float = 0.0, fds_per_min: float = 0.0, count: int = 24
         ) -> list[dict[str, float]]:
    """Samples every 5 s growing linearly (plus a fixed wobble) at the given rates."""
    wobble = [0.3, -0.2, 0.1, -0.3]
    return [{"t_s": 5.0 * i, "rss_mb": 60 + rss_per_min * i / 12 + wobble[i % 4],
             "fds": 1020 + round(fds_per_min * i / 12) + (i % 3)} for i in range(count)]


def test_verdict_passes_flat_samples_and_names_each_bound_broken() -> None:
    """Flat memory and descriptors with lag under the bounds pass; growth over the
    second half, or lag over a bound, is named with the option that sets it."""
    figures, broken = soak.verdict(bounds(), rows(), [1.0] * 99 + [40.0])
    assert broken == []
    assert abs(figures["rssSlopeMBPerMin"]) < 2.0

    _, broken = soak.verdict(bounds(), rows(rss_per_min=5.0), [1.0] * 100)
    assert len(broken) == 1 and "RSS grows" in broken[0] and "--max-rss-slope" in broken[0]

    _, broken = soak.verdict(bounds(), rows(fds_per_min=30.0), [1.0] * 100)
    assert len(broken) == 1 and "descriptors grow" in broken[0]

    _, broken = soak.verdict(bounds(), rows(), [1.0] * 90 + [900.0] * 10)
    assert len(broken) == 1 and "p99" in broken[0] and "--max-lag-p99" in broken[0]

    _, broken = soak.verdict(bounds(), rows(), [1.0] * 999 + [2500.0])
    assert len(broken) == 1 and "lag max" in broken[0]

    _, broken = soak.verdict(bounds(), rows(count=2), [1.0])
    assert any("only 2 samples" in reason for reason in broken)


def test_growth_in_the_first_half_only_is_warm_up() -> None:
    """Memory that rises while caches fill and then stays flat is not a leak: only the
    second half's slope counts."""
    samples = rows()
    for index, row in enumerate(samples[:12]):
        row["rss_mb"] = 40 + index * 2
    for row in samples[12:]:
        row["rss_mb"] = 62.0
    figures, broken = soak.verdict(bounds(), samples, [1.0] * 100)
    assert broken == []
    assert figures["rssSlopeMBPerMin"] == pytest.approx(0.0)


def test_one_step_is_not_growth_but_repeated_steps_are() -> None:
    """A single rise (a module imported once, the first automatic backup) at the end of
    the run is not a leak; memory that rises a step every few samples is. Twelve rows
    are the CI's 60 s run."""
    samples = rows(count=12)
    samples[-1]["rss_mb"] += 3.0
    figures, broken = soak.verdict(bounds(), samples, [1.0] * 100)
    assert broken == []
    assert abs(figures["rssSlopeMBPerMin"]) < 2.0

    stairs = rows()
    for index, row in enumerate(stairs):
        row["rss_mb"] = 60.0 + 1.0 * (index // 3)  # +1 MB every 15 s: 4 MB/min
    _, broken = soak.verdict(bounds(), stairs, [1.0] * 100)
    assert len(broken) == 1 and "RSS grows" in broken[0]
