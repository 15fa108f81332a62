"""Fixtures for gateway tests: the in-process gateway on port 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inprocess import InProcessGateway


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
