"""``openclaw cron list|add|remove|run`` against a running gateway."""

from __future__ import annotations

import json

from harness import GatewayProcess, run_cli


def cli(gateway: GatewayProcess, *args: str) -> tuple[int, str, str]:
    result = run_cli(*args, "--url", gateway.url, "--token", gateway.token, home=gateway.home,
                     timeout=30)
    return result.returncode, result.stdout, result.stderr


def test_add_list_run_remove(gateway: GatewayProcess) -> None:
    code, out, err = cli(gateway, "cron", "add", "--cron", "0 9 * * 1-5", "--tz",
                         "Europe/Berlin", "-m", "plan the day", "--name", "Weekdays",
                         "--id", "weekdays")
    assert code == 0, err
    assert out.startswith("added weekdays (cron 0 9 * * 1-5 (Europe/Berlin)), next ")
    code, out, _ = cli(gateway, "cron", "list")
    assert code == 0 and out.startswith("weekdays  Weekdays  cron 0 9 * * 1-5")
    code, out, _ = cli(gateway, "cron", "run", "weekdays", "--json")
    assert code == 0 and json.loads(out)["runId"].startswith("cron:weekdays:manual:")
    code, out, _ = cli(gateway, "cron", "list", "--json")
    assert [job["id"] for job in json.loads(out)["jobs"]] == ["weekdays"]
    code, out, _ = cli(gateway, "cron", "remove", "weekdays")
    assert (code, out.strip()) == (0, "removed weekdays")
    code, out, _ = cli(gateway, "cron", "list")
    assert (code, out.strip()) == (0, "no scheduled jobs")


def test_bad_input_is_refused_with_the_reason(gateway: GatewayProcess) -> None:
    code, _, err = cli(gateway, "cron", "add", "--every", "10m", "--cron", "* * * * *",
                       "-m", "x")
    assert code == 2 and "exactly one of --at, --every, --cron" in err
    code, _, err = cli(gateway, "cron", "add", "--cron", "0 25 * * *", "-m", "x")
    assert code != 0 and "not a cron expression" in err
    code, _, err = cli(gateway, "cron", "remove", "nope")
    assert code != 0 and "unknown cron job id" in err
