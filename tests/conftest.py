"""Shared fixtures: isolated homes, real gateway processes and in-process gateways."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import GatewayProcess
from inprocess import InProcessGateway


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HOME for one test."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """Factory: ``make_gateway(*args, config=..., env=...)`` → a started gateway.

    Every gateway made is stopped at the end of the test.
    """
    made: list[GatewayProcess] = []
    counter = [0]

    def factory(*args: str, start: bool = True, home: Path | None = None,
                **kwargs: Any) -> GatewayProcess:
        counter[0] += 1
        where = home or tmp_path / f"gw{counter[0]}"
        where.mkdir(exist_ok=True)
        gateway = GatewayProcess(where, *args, **kwargs)
        made.append(gateway)
        return gateway.start() if start else gateway

    yield factory
    for gateway in made:
        gateway.stop()


@pytest.fixture
def gateway(make_gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    """A gateway on built-in defaults (token auth, generated token)."""
    return make_gateway()


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway for a whole module of read-mostly tests (lenient auth rate limit)."""
    where = tmp_path_factory.mktemp("shared-home")
    gateway = GatewayProcess(
        where,
        config={"gateway": {"auth": {"token": "shared-secret-token",
                                     "rateLimit": {"loopbackMaxAttempts": 100000}}}},
    ).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def user_manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real ``systemd --user`` for one test module (skipped only without systemd)."""
    from systemd_harness import UserManager, skip_reason

    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    manager = UserManager(tmp_path_factory.mktemp("systemd")).start()
    yield manager
    manager.stop()


@pytest.fixture
def make_app_gateway(tmp_path: Path) -> Iterator[Callable[..., InProcessGateway]]:
    """Factory: ``make_app_gateway(config=..., env=...)`` → a started in-process gateway."""
    made: list[InProcessGateway] = []

    def make(config: dict[str, Any] | None = None, env: dict[str, str] | None = None,
             **server_options: float) -> InProcessGateway:
        home = tmp_path / f"home{len(made)}"
        home.mkdir()
        gateway = InProcessGateway(home, config, env, **server_options)
        made.append(gateway)
        return gateway.start()

    yield make
    for gateway in made:
        gateway.stop()


@pytest.fixture
def app_gateway(make_app_gateway: Callable[..., InProcessGateway]) -> InProcessGateway:
    """A started in-process gateway on the built-in defaults."""
    return make_app_gateway()
