"""Unit tests for openclaw.paths: profile resolution and the private state dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from openclaw.errors import ExitCode, UsageError
from openclaw.paths import (
    DEFAULT_PORT,
    DEV_PORT,
    Profile,
    ensure_private_dir,
    profile_port,
    resolve_profile,
)

HOME = "/home/alice"


def env(**extra: str) -> dict[str, str]:
    """A minimal environment mapping with HOME set, plus ``extra``."""
    return {"HOME": HOME, **extra}


# --- default, dev and named profiles ------------------------------------------------


def test_constants() -> None:
    assert DEFAULT_PORT == 18789
    assert DEV_PORT == 19001


def test_default_profile() -> None:
    profile = resolve_profile(env=env())
    assert profile.name == "default"
    assert profile.is_default
    assert profile.home == Path(HOME)
    assert profile.state_dir == Path(HOME) / ".openclaw"
    assert profile.config_path == Path(HOME) / ".openclaw" / "openclaw.json"
    assert profile.log_dir == Path(HOME) / ".openclaw" / "logs"
    assert profile.default_port == 18789


def test_default_profile_derived_paths() -> None:
    profile = resolve_profile(env=env())
    state = Path(HOME) / ".openclaw"
    assert profile.token_path == state / "credentials" / "gateway-token"
    assert profile.runtime_path == state / "gateway.runtime.json"
    assert profile.lock_path == state / "gateway.lock"


def test_default_profile_service_names() -> None:
    profile = resolve_profile(env=env())
    assert profile.systemd_unit == "openclaw-gateway.service"
    assert profile.launchd_label == "bot.molt.gateway"


def test_explicit_default_profile_name_is_the_default_profile() -> None:
    profile = resolve_profile("default", env=env())
    assert profile.is_default
    assert profile.state_dir == Path(HOME) / ".openclaw"


def test_dev_profile() -> None:
    profile = resolve_profile(dev=True, env=env())
    assert profile.name == "dev"
    assert not profile.is_default
    assert profile.state_dir == Path(HOME) / ".openclaw-dev"
    assert profile.config_path == Path(HOME) / ".openclaw-dev" / "openclaw.json"
    assert profile.log_dir == Path(HOME) / ".openclaw-dev" / "logs"
    assert profile.default_port == 19001


def test_dev_profile_service_names() -> None:
    profile = resolve_profile(dev=True, env=env())
    assert profile.systemd_unit == "openclaw-gateway-dev.service"
    assert profile.launchd_label == "bot.molt.dev"


def test_profile_port_default_and_dev() -> None:
    assert profile_port("default") == DEFAULT_PORT
    assert profile_port("dev") == DEV_PORT


@pytest.mark.parametrize("name", ["work", "rescue", "a", "Z", "my-profile", "x_1", "staging"])
def test_profile_port_of_named_profiles(name: str) -> None:
    # 19001 + 20*k with k in 1..40: never the main or the dev port, and the
    # derived ports (base + 2, + 4) of two profiles never overlap.
    port = profile_port(name)
    assert port == profile_port(name)  # deterministic
    assert (port - DEV_PORT) % 20 == 0
    assert 1 <= (port - DEV_PORT) // 20 <= 40
    assert port not in (DEFAULT_PORT, DEV_PORT)
    assert resolve_profile(name, env=env()).default_port == port


def test_profile_ports_spread_over_slots() -> None:
    ports = {profile_port(f"profile{n}") for n in range(200)}
    assert len(ports) > 20
    assert all(DEV_PORT + 20 <= p <= DEV_PORT + 800 for p in ports)


def test_profile_named_dev_gets_the_dev_port() -> None:
    assert resolve_profile("dev", env=env()).default_port == DEV_PORT


def test_named_profile() -> None:
    profile = resolve_profile("work", env=env())
    assert profile.name == "work"
    assert not profile.is_default
    assert profile.state_dir == Path(HOME) / ".openclaw-work"
    assert profile.config_path == Path(HOME) / ".openclaw-work" / "openclaw.json"
    assert profile.log_dir == Path(HOME) / ".openclaw-work" / "logs"
    assert profile.default_port == profile_port("work")
    assert profile.default_port not in (DEFAULT_PORT, DEV_PORT)
    assert profile.systemd_unit == "openclaw-gateway-work.service"
    assert profile.launchd_label == "bot.molt.work"
    assert profile.token_path == Path(HOME) / ".openclaw-work" / "credentials" / "gateway-token"


@pytest.mark.parametrize("name", ["a", "Work_2", "my-profile", "X-1_y", "123"])
def test_valid_profile_names(name: str) -> None:
    profile = resolve_profile(name, env=env())
    assert profile.name == name
    assert profile.state_dir == Path(HOME) / f".openclaw-{name}"


def test_profile_is_frozen() -> None:
    profile = resolve_profile(env=env())
    with pytest.raises(AttributeError):
        profile.name = "other"  # type: ignore[misc]


# --- --dev and --profile -------------------------------------------------------------


def test_dev_and_other_profile_conflict() -> None:
    with pytest.raises(UsageError, match="cannot combine --dev with --profile"):
        resolve_profile("work", dev=True, env=env())


def test_dev_and_profile_dev_is_allowed() -> None:
    profile = resolve_profile("dev", dev=True, env=env())
    assert profile.name == "dev"
    assert profile.default_port == DEV_PORT


def test_conflict_is_a_usage_error_with_exit_2() -> None:
    with pytest.raises(UsageError) as info:
        resolve_profile("default", dev=True, env=env())
    assert info.value.exit_code == ExitCode.USAGE == 2


# --- invalid names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a b", "../etc", "a/b", "a.b", "x;rm", "é", "name\t", "a:b", "~", "*"]
)
def test_invalid_profile_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve_profile(name, env=env())
    assert "invalid --profile" in info.value.message
    assert repr(name) in info.value.message


def test_empty_profile_requires_a_value() -> None:
    with pytest.raises(UsageError, match="--profile requires a value"):
        resolve_profile("", env=env())


@pytest.mark.parametrize("name", ["work\n", "dev\n"])
def test_profile_name_with_trailing_newline_is_refused(name: str) -> None:
    # A name becomes part of a directory name and a systemd unit name; a trailing
    # newline must not slip through the "letters, numbers, _ and - only" check.
    with pytest.raises(UsageError):
        resolve_profile(name, env=env())


def test_profile_name_with_trailing_newline_in_env_is_refused() -> None:
    with pytest.raises(UsageError):
        resolve_profile(env=env(OPENCLAW_PROFILE="work\n"))


# --- OPENCLAW_PROFILE ----------------------------------------------------------------


def test_openclaw_profile_env_picks_the_profile() -> None:
    profile = resolve_profile(env=env(OPENCLAW_PROFILE="staging"))
    assert profile.name == "staging"
    assert profile.state_dir == Path(HOME) / ".openclaw-staging"
    assert profile.systemd_unit == "openclaw-gateway-staging.service"


def test_openclaw_profile_env_dev_gets_dev_port() -> None:
    assert resolve_profile(env=env(OPENCLAW_PROFILE="dev")).default_port == DEV_PORT


def test_empty_openclaw_profile_means_default() -> None:
    assert resolve_profile(env=env(OPENCLAW_PROFILE="")).is_default


def test_profile_flag_wins_over_openclaw_profile() -> None:
    assert resolve_profile("work", env=env(OPENCLAW_PROFILE="staging")).name == "work"


def test_dev_flag_wins_over_openclaw_profile() -> None:
    assert resolve_profile(dev=True, env=env(OPENCLAW_PROFILE="staging")).name == "dev"


def test_invalid_openclaw_profile_names_the_variable() -> None:
    with pytest.raises(UsageError) as info:
        resolve_profile(env=env(OPENCLAW_PROFILE="bad name"))
    assert "OPENCLAW_PROFILE" in info.value.message
    assert "--profile" not in info.value.message


def test_env_none_reads_os_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("OPENCLAW_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("OPENCLAW_PROFILE", "fromenv")
    profile = resolve_profile()
    assert profile.name == "fromenv"
    assert profile.state_dir == tmp_path / ".openclaw-fromenv"


# --- OPENCLAW_HOME vs HOME -----------------------------------------------------------


def test_openclaw_home_wins_over_home() -> None:
    profile = resolve_profile(env=env(OPENCLAW_HOME="/srv/claw"))
    assert profile.home == Path("/srv/claw")
    assert profile.state_dir == Path("/srv/claw/.openclaw")
    assert profile.config_path == Path("/srv/claw/.openclaw/openclaw.json")


def test_openclaw_home_with_named_profile() -> None:
    profile = resolve_profile("work", env=env(OPENCLAW_HOME="/srv/claw"))
    assert profile.state_dir == Path("/srv/claw/.openclaw-work")


def test_empty_openclaw_home_falls_back_to_home() -> None:
    profile = resolve_profile(env=env(OPENCLAW_HOME=""))
    assert profile.home == Path(HOME)


def test_home_from_mapping_not_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/somewhere/else")
    assert resolve_profile(env={"HOME": "/from/mapping"}).home == Path("/from/mapping")


def test_no_home_at_all_uses_path_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    profile = resolve_profile(env={})
    assert profile.home == Path.home() == tmp_path
    assert profile.state_dir == tmp_path / ".openclaw"


# --- OPENCLAW_STATE_DIR and OPENCLAW_CONFIG_PATH -------------------------------------


def test_state_dir_overrides_profile() -> None:
    profile = resolve_profile("work", env=env(OPENCLAW_STATE_DIR="/var/lib/claw"))
    assert profile.name == "work"
    assert profile.state_dir == Path("/var/lib/claw")
    # config and logs follow the state dir when not set themselves
    assert profile.config_path == Path("/var/lib/claw/openclaw.json")
    assert profile.log_dir == Path("/var/lib/claw/logs")
    assert profile.token_path == Path("/var/lib/claw/credentials/gateway-token")
    # the name-derived things stay the profile's
    assert profile.systemd_unit == "openclaw-gateway-work.service"
    assert profile.default_port == profile_port("work")


def test_state_dir_overrides_dev_profile_but_keeps_dev_port() -> None:
    profile = resolve_profile(dev=True, env=env(OPENCLAW_STATE_DIR="/var/lib/claw"))
    assert profile.state_dir == Path("/var/lib/claw")
    assert profile.default_port == DEV_PORT
    assert profile.launchd_label == "bot.molt.dev"


def test_state_dir_wins_over_openclaw_home() -> None:
    profile = resolve_profile(
        env=env(OPENCLAW_HOME="/srv/claw", OPENCLAW_STATE_DIR="/var/lib/claw")
    )
    assert profile.home == Path("/srv/claw")
    assert profile.state_dir == Path("/var/lib/claw")


def test_config_path_overrides_only_the_config() -> None:
    profile = resolve_profile("work", env=env(OPENCLAW_CONFIG_PATH="/etc/claw.json5"))
    assert profile.config_path == Path("/etc/claw.json5")
    assert profile.state_dir == Path(HOME) / ".openclaw-work"
    assert profile.log_dir == Path(HOME) / ".openclaw-work" / "logs"


def test_config_path_and_state_dir_together() -> None:
    profile = resolve_profile(
        env=env(OPENCLAW_STATE_DIR="/var/lib/claw", OPENCLAW_CONFIG_PATH="/etc/claw.json")
    )
    assert profile.state_dir == Path("/var/lib/claw")
    assert profile.config_path == Path("/etc/claw.json")


def test_empty_overrides_are_ignored() -> None:
    profile = resolve_profile(env=env(OPENCLAW_STATE_DIR="", OPENCLAW_CONFIG_PATH=""))
    assert profile.state_dir == Path(HOME) / ".openclaw"
    assert profile.config_path == Path(HOME) / ".openclaw" / "openclaw.json"


def test_tilde_in_overrides_expands_against_the_mapping_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The module promises to be pure: computed from the flags and the env mapping.
    # A "~" in an override must therefore not depend on the process's own HOME.
    monkeypatch.setenv("HOME", "/process/home")
    profile = resolve_profile(env={"HOME": "/mapping/home", "OPENCLAW_STATE_DIR": "~/state"})
    assert profile.state_dir == Path("/mapping/home/state")


def test_profile_is_constructible_and_comparable() -> None:
    a = resolve_profile("work", env=env())
    b = resolve_profile("work", env=env())
    assert a == b
    assert isinstance(a, Profile)
    assert a != resolve_profile("other", env=env())


# --- ensure_private_dir --------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_private_dir_creates_0700(tmp_path: Path) -> None:
    target = tmp_path / "state"
    assert ensure_private_dir(target) == target
    assert target.is_dir()
    assert _mode(target) == 0o700


def test_ensure_private_dir_creates_nested_leaf_0700(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "state"
    ensure_private_dir(target)
    assert target.is_dir()
    assert _mode(target) == 0o700


def test_ensure_private_dir_is_0700_despite_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        target = tmp_path / "state"
        ensure_private_dir(target)
    finally:
        os.umask(old)
    assert _mode(target) == 0o700


def test_ensure_private_dir_is_owner_only_parents_default(tmp_path: Path) -> None:
    # Docstring: only the directory itself is 0700; parents get the default mode.
    old = os.umask(0o022)
    try:
        target = tmp_path / "parent" / "state"
        ensure_private_dir(target)
    finally:
        os.umask(old)
    assert _mode(target) == 0o700
    assert _mode(tmp_path / "parent") == 0o755


def test_ensure_private_dir_leaves_existing_dir_alone(tmp_path: Path) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    os.chmod(target, 0o755)
    (target / "keep.txt").write_text("x")
    assert ensure_private_dir(target) == target
    assert _mode(target) == 0o755
    assert (target / "keep.txt").read_text() == "x"


def test_ensure_private_dir_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "state"
    ensure_private_dir(target)
    ensure_private_dir(target)
    assert _mode(target) == 0o700
