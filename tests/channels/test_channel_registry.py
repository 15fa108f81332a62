"""Channel-generic tests, run against every registered channel.

Whatever a channel module declares in its registry entry must hold: the spec module is
cheap to import, its config section is closed and validated under ``channels.<name>``,
an unknown channel name is refused naming the known ones, secrets are declared, the
factory builds a channel that carries its spec, and a target that names nothing is
refused with ``INVALID_REQUEST`` before any network call.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from openclaw.channels.base import TargetError
from openclaw.channels.registry import REGISTERED, ChannelEnv, all_specs, get_spec
from openclaw.config import channel_section, parse_config
from openclaw.errors import ConfigError

SPECS = list(all_specs())
NAMES = [spec.name for spec in SPECS]


def test_every_registered_channel_has_a_spec_under_its_name() -> None:
    assert list(REGISTERED) == NAMES and NAMES, "the registry is empty"
    for spec in SPECS:
        assert spec.label and spec.setup_hint, f"{spec.name}: label and setup hint"
        assert issubclass(spec.section, msgspec.Struct)


@pytest.mark.parametrize("name", NAMES)
def test_the_spec_module_does_not_import_network_code(name: str) -> None:
    code = (f"import sys; from openclaw.channels.registry import get_spec; get_spec({name!r}); "
            "print(','.join(m for m in ('httpx', 'httpcore', 'neonize', 'asyncio') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "", f"{name} spec imports {result.stdout.strip()}"


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_key_in_the_section_is_refused_with_its_path(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"channels": {name: {"noSuchKey": 1}}}, "/etc/x.json")
    assert caught.value.key == f"channels.{name}.noSuchKey"
    assert "unknown key" in caught.value.reason


def test_an_unknown_channel_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"channels": {"carrierpigeon": {}}}, "/etc/x.json")
    assert caught.value.key == "channels.carrierpigeon"
    assert all(name in caught.value.reason for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_section_converts_to_the_declared_struct(name: str) -> None:
    spec = get_spec(name)
    section = channel_section(parse_config({"channels": {name: {"enabled": False}}}), name)
    assert isinstance(section, spec.section)
    assert spec.resolve(section, ChannelEnv(None, {}, Path("/nonexistent"))) == []


@pytest.mark.parametrize("name", NAMES)
def test_secrets_are_declared_for_redaction_and_the_env_file(name: str) -> None:
    spec = get_spec(name)
    assert spec.secret_env or spec.credentials_dir, f"{name} declares no secrets"
    assert all(var.isupper() for var in spec.secret_env)
    assert bool(spec.secret_keys) == bool(spec.secret_env), "config keys for env secrets"


def _sample_account(name: str) -> Any:
    """One account of ``name``, resolved from its secret in the environment."""
    spec = get_spec(name)
    section = channel_section(parse_config({"channels": {name: {}}}), name)
    environ = {var: "123456:secret-value-for-tests" for var in spec.secret_env}
    accounts = spec.resolve(section, ChannelEnv(None, environ, Path("/nonexistent")))
    assert accounts, f"{name}: a secret in the environment configures an account"
    return accounts[0]


@pytest.mark.parametrize("name", NAMES)
def test_an_account_holds_its_secrets_and_the_factory_builds_the_channel(name: str) -> None:
    spec = get_spec(name)
    account = _sample_account(name)
    if spec.secret_env:
        assert "123456:secret-value-for-tests" in account.secrets()
    assert "secret-value-for-tests" not in repr(account)
    channel = spec.create(account)
    assert channel.name == name and channel.spec is spec
    assert channel.account_id == account.account_id
    assert "secret-value-for-tests" not in repr(channel.snapshot())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("target", ["", "   ", "not a chat!", "../../etc/passwd"])
def test_a_target_that_names_nothing_is_refused_before_any_call(name: str, target: str) -> None:
    channel = get_spec(name).create(_sample_account(name))
    with pytest.raises(TargetError) as caught:
        channel.normalize_target(target)
    assert caught.value.code == "INVALID_REQUEST"


@pytest.mark.parametrize("name", NAMES)
def test_every_account_has_an_access_policy_that_defaults_to_pairing(name: str) -> None:
    access = _sample_account(name).access
    assert access.dm_policy == "pairing"


@pytest.mark.parametrize("name", NAMES)
def test_capabilities_are_reported(name: str) -> None:
    wire = get_spec(name).capabilities.to_wire()
    assert set(wire) == {"media", "groups", "login"}
