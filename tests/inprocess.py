"""The gateway in-process, on port 0: the composition root and the real server, no subprocess.

:class:`InProcessGateway` builds the :class:`~openclaw.gateway.app.App` with
``build_app`` exactly as ``openclaw gateway`` does, listens on ``127.0.0.1:0`` and
runs the event loop in a thread, so a test can talk to it over a real WebSocket
(``call``) and also reach into the parts (``app``, ``run``) to call handlers and
snapshot functions directly. It starts in milliseconds, which is what makes method
tests cheap; the subprocess gateway (``harness.GatewayProcess``) stays for what
needs a real process (signals, exit codes, the lock, the CLI).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from openclaw.client.sync import GatewayClient, call_once
from openclaw.config import load_config
from openclaw.gateway.app import App, build_app
from openclaw.gateway.server import GatewayServer
from openclaw.gateway.settings import GatewayFlags, resolve_settings
from openclaw.logs import FileLog
from openclaw.paths import ensure_private_dir, resolve_profile

T = TypeVar("T")


class InProcessGateway:
    """One gateway built by ``build_app`` and served on a free port in a loop thread."""

    def __init__(self, home: Path, config: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None, **server_options: float) -> None:
        self.home = home
        self.token = secrets.token_hex(16)
        self.profile = resolve_profile(env={"HOME": str(home)})
        ensure_private_dir(self.profile.state_dir)
        if config is not None:
            self.profile.config_path.parent.mkdir(parents=True, exist_ok=True)
            self.profile.config_path.write_text(json.dumps(config))
        self.env = dict(env or {})
        self.server_options = server_options
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.app: App | None = None
        self.server: GatewayServer | None = None
        self.port = 0

    def start(self) -> InProcessGateway:
        """Build the app and listen (raises what build_app raises: ConfigError, ...)."""
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        config, exists = load_config(self.profile.config_path)
        settings = resolve_settings(config, exists, self.profile,
                                    GatewayFlags(port=0, token=self.token), env=self.env)
        file_log = FileLog(self.profile.log_dir)
        self.app = build_app(config, exists, settings, self.profile, file_log, self.env)
        self.server = GatewayServer(self.app, **self.server_options)
        self.port = await self.server.listen(("127.0.0.1",), self.port)
        self.app.start(self.port)

    @property
    def url(self) -> str:
        """The WebSocket URL."""
        return f"ws://127.0.0.1:{self.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the gateway's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """One RPC over a real WebSocket connection (raises RequestError on ok:false)."""
        return call_once(self.url, method, params, token=self.token, **kwargs)

    def client(self, **kwargs: Any) -> GatewayClient:
        """A connected blocking client (close it, or use it as a context manager)."""
        client = GatewayClient(self.url, token=self.token, **kwargs)
        client.connect()
        return client

    def start_again(self) -> InProcessGateway:
        """After :meth:`stop`: a new gateway on the same home, token and port, as after a
        restart (the state directory and database carry over)."""
        if not self.loop.is_closed():
            raise RuntimeError("stop() the gateway before starting it again")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.app = None
        self.server = None
        return self.start()

    def stop(self) -> None:
        """Drain, close every client, close the database, stop the loop (idempotent)."""
        if self.loop.is_closed():
            return
        if self.app is not None and self.server is not None:
            app, server = self.app, self.server

            async def stop() -> None:
                await app.drain(2.0)
                await server.shutdown("test over", 2.0)
                app.close()
                rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in rest:  # nothing may outlive the loop it runs on
                    task.cancel()
                await asyncio.gather(*rest, return_exceptions=True)
            self.run(stop())
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()
