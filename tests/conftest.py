"""Shared fixtures: isolated homes and real gateway processes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import GatewayProcess


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
