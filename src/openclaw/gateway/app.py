"""The composition root: one typed object holding every part of the gateway.

:func:`build_app` is the only place the gateway is assembled. It builds each part in
start order, handing every part what it needs through its constructor (nothing is
patched on afterwards and nothing is Optional), and refuses a config that cannot run
(:class:`~openclaw.errors.ConfigError`, exit 78) before any port is opened:

    identity → event bus → presence → database (ledger, inbox, runs, sessions,
    session metadata, scheduled jobs) → channel accounts (from the channel
    registry) → sends → agent runtime → heartbeat → scheduler (declared jobs
    loaded) → chat view (agent events → chat events) → assistant loop → method
    table → HTTP routes

:meth:`App.start` brings the parts up once the port listens (recovery, queued sends,
channels, timers); :meth:`App.drain` and :meth:`App.close` take them down in reverse
order. Method handlers receive the :class:`App` through their
:class:`~openclaw.gateway.dispatch.Context`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openclaw.agent.exec import ExecApprovals
from openclaw.agent.runtime import AgentRuntime
from openclaw.agent.store import RunStore, SessionStore
from openclaw.agent.toolset import builtin_tools, workspace_path
from openclaw.agent.workspace import Workspace
from openclaw.channels.manager import ChannelManager, configured_accounts
from openclaw.channels.registry import ChannelEnv
from openclaw.clock import now_ms
from openclaw.config import Config, CronJobConfig, parse_duration_ms
from openclaw.errors import ConfigError, OpenClawError
from openclaw.gateway.assistant import Assistant
from openclaw.gateway.backups import BackupScheduler
from openclaw.gateway.bus import EventBus, Session
from openclaw.gateway.chat import ChatService
from openclaw.gateway.clients import forget
from openclaw.gateway.configedit import ConfigEdits
from openclaw.gateway.cron import CronService
from openclaw.gateway.dispatch import APPROVALS, Dispatcher
from openclaw.gateway.heartbeat import Heartbeat, HeartbeatTurn
from openclaw.gateway.http import RouteTable, default_routes
from openclaw.gateway.methods import register_all
from openclaw.gateway.presence import Presence
from openclaw.gateway.runevents import RunEvents
from openclaw.gateway.sending import SendService
from openclaw.gateway.settings import GatewaySettings
from openclaw.inbound import InboundMessage
from openclaw.logs import BurstLog, FileLog
from openclaw.paths import Profile
from openclaw.protocol.auth import Authenticator, RateLimit
from openclaw.redact import Redactor
from openclaw.store.cron import CronStore
from openclaw.store.db import Checkpointer, DiskFull, open_database
from openclaw.store.inbox import Inbox
from openclaw.store.ledger import Ledger
from openclaw.store.pairing import PairingRequest, PairingStore
from openclaw.store.sessions import SessionMetaStore

__all__ = ["DEFAULT_AGENT_ID", "EVENTS", "App", "Identity", "Lifecycle", "build_app"]

log = logging.getLogger("openclaw.gateway")
#: Refused and dropped connections (one line per burst, see BurstLog).
REFUSALS_LOG = logging.getLogger("openclaw.gateway.ws")

DEFAULT_AGENT_ID = "main"
#: Every event this gateway emits (``hello-ok``'s ``features.events``).
EVENTS = ["connect.challenge", "tick", "presence", "health", "heartbeat", "shutdown",
          "message", "agent", "chat", "session.message", "session.tool", "sessions.changed",
          "cron", "exec.approval.requested", "exec.approval.resolved"]
_HOUR_S = 3600


@dataclass(frozen=True)
class Identity:
    """Who this gateway process is: boot id, instance id, host, start times."""

    boot_id: str
    instance_id: str
    host: str
    pid: int
    started_at_ms: int
    started_monotonic: float

    @property
    def uptime_ms(self) -> int:
        """Milliseconds since start."""
        return int((time.monotonic() - self.started_monotonic) * 1000)

    @classmethod
    def new(cls) -> Identity:
        """A fresh identity for this process."""
        boot_id = str(uuid.uuid4())
        return cls(boot_id, f"gateway-{boot_id[:8]}", socket.gethostname(), os.getpid(),
                   now_ms(), time.monotonic())


@dataclass
class Lifecycle:
    """Where the gateway is in its life: the port it got, ready, draining."""

    port: int
    ready: bool = False
    draining: bool = False


@dataclass
class HealthVersion:
    """``stateVersion.health`` and what it summarises, to broadcast only real changes."""

    version: int = 1
    fingerprint: tuple[Any, ...] = ()


@dataclass(frozen=True, eq=False)
class App:
    """Every part of a running gateway (see the module docstring for the order)."""

    config: Config
    config_exists: bool
    settings: GatewaySettings
    profile: Profile
    identity: Identity
    lifecycle: Lifecycle
    file_log: FileLog
    authenticator: Authenticator
    bus: EventBus
    presence: Presence
    heartbeat: Heartbeat
    health: HealthVersion
    db_path: Any
    checkpointer: Checkpointer
    ledger: Ledger
    inbox: Inbox
    pairing: PairingStore
    channels: ChannelManager
    sends: SendService
    agent: AgentRuntime
    cron: CronService
    run_events: RunEvents
    chat: ChatService
    assistant: Assistant
    workspace: Workspace
    approvals: ExecApprovals
    dispatcher: Dispatcher
    routes: RouteTable
    #: Secret values to keep out of logs (channel tokens, model API keys).
    secrets: tuple[str, ...]
    #: Config changes written over the wire that wait for a restart.
    config_edits: ConfigEdits = field(default_factory=ConfigEdits)
    #: Every refused or dropped connection is noted here: one log line per burst.
    refusals: BurstLog = field(default_factory=lambda: BurstLog(REFUSALS_LOG))
    queued_system_events: list[str] = field(default_factory=list)
    #: The automatic backup (``backup.*``), None when turned off.
    backups: BackupScheduler | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    # ----------------------------------------------------------------- views

    @property
    def events(self) -> list[str]:
        """Every event this gateway emits."""
        return EVENTS

    def state_version(self) -> dict[str, int]:
        """``{presence, health}`` counters."""
        return {"presence": self.presence.version, "health": self.health.version}

    def health_changed(self) -> None:
        """Broadcast a ``health`` event if what it summarises changed."""
        from openclaw.gateway.methods.health import health_snapshot

        fingerprint = (self.heartbeat.seconds, self.channels.connection_states())
        if fingerprint != self.health.fingerprint:
            self.health.fingerprint = fingerprint
            self.health.version += 1
            self.bus.broadcast("health", health_snapshot(self),
                               state_version=self.state_version())

    def on_inbound(self, seq: int, message: InboundMessage) -> None:
        """A channel stored a new message: hand it to the assistant loop."""
        self.assistant.on_inbound(seq, message)

    def on_channels_changed(self) -> None:
        """An account connected or disconnected."""
        self.health_changed()

    def on_pairing_request(self, request: PairingRequest) -> None:
        """Tell an unknown sender their one-time pairing code, in their chat (once: the
        send key is made from the code)."""
        text = (f"This assistant only answers people its owner approved. Your pairing code "
                f"is {request.code}. Ask the owner to run: openclaw pairing approve "
                f"{request.channel} {request.code}")
        key = f"pairing:{request.channel}:{request.account_id}:{request.sender}:{request.code}"

        async def deliver() -> None:
            try:
                await self.sends.deliver_text(key, request.chat_id, text, request.channel,
                                              request.account_id)
            except OpenClawError as exc:
                log.warning("cannot send the pairing code to %s on %s/%s: %s", request.sender,
                            request.channel, request.account_id, exc.message)

        self._tasks.append(asyncio.get_running_loop().create_task(deliver(), name=key[:60]))

    @property
    def ready(self) -> bool:
        """Listening, not draining, and every channel account has connected once."""
        return self.lifecycle.ready and not self.lifecycle.draining and self.channels.all_started

    # ----------------------------------------------------------------- life

    def start(self, port: int) -> None:
        """Bring the parts up once ``port`` listens: recover the ledger and the runs,
        resume queued sends, answer messages that arrived before a stop, start the
        channels, timers and housekeeping."""
        self.lifecycle.port = port
        self.sends.resume()
        self.assistant.answer_backlog()  # before recovery: their runs start again
        self.cron.start()  # likewise for scheduled runs a dead process left unfinished
        recovered = self.agent.recover()
        if recovered:
            log.info("agent: %d run(s) from the previous process ended as interrupted",
                     recovered)
        self.channels.attach(self)
        self.channels.start_all()
        self.sends.start_pruning()
        self.heartbeat.start()
        loop = asyncio.get_running_loop()
        self._tasks.extend([
            loop.create_task(self._tick(), name="tick"),
            loop.create_task(self._prune(), name="prune"),
            loop.create_task(self.checkpointer.run(), name="checkpoint"),
        ])
        if self.backups is not None:
            self._tasks.append(loop.create_task(self.backups.run(), name="backup"))
        self.health.fingerprint = (self.heartbeat.seconds, self.channels.connection_states())
        self.lifecycle.ready = True

    async def _tick(self) -> None:
        interval = self.config.gateway.tick_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.bus.broadcast("tick", {"ts": now_ms()})

    async def _prune(self) -> None:
        inbox_ms = parse_duration_ms(self.config.messages.inbox_retention)
        while True:
            try:
                self.inbox.prune(now_ms() - inbox_ms)
                self.agent.runs.prune(now_ms() - self.sends.retention_ms)
            except DiskFull as exc:  # deleting needs log space too; the next round retries
                log.warning("cannot prune old messages and runs: %s", exc.message)
            await asyncio.sleep(_HOUR_S)

    async def drain(self, budget_s: float) -> None:
        """Stop taking work and finish what is in progress, within ``budget_s``: timers
        first, then agent runs, sends in flight, and the channels."""
        self.lifecycle.draining = True
        self.lifecycle.ready = False
        for task in self._tasks:
            task.cancel()
        self.presence.stop()
        self.heartbeat.stop()
        self.cron.stop()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self.agent.shutdown(budget_s / 2)
        left = max(0.5, budget_s - (loop.time() - started))
        await self.sends.shutdown(left)
        await self.channels.stop_all(timeout_s=min(5.0, max(0.5, budget_s)))

    def close(self) -> None:
        """Release what :func:`build_app` opened, in reverse (after the last client)."""
        self.checkpointer.close()
        self.ledger.db.close()


def _model_secrets(config: Config, environ: Mapping[str, str]) -> list[str]:
    keys = [provider.api_key or environ.get(provider.api_key_env or "") or ""
            for provider in config.models.providers.values()]
    keys += [environ.get(name, "") for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")]
    return [key for key in keys if key]


def _routes(config: Config) -> RouteTable:
    routes = default_routes()
    if config.gateway.control_ui.enabled:
        from openclaw.gateway.ui_static import add_ui_routes

        add_ui_routes(routes)
    if config.gateway.http.endpoints.chat_completions.enabled:
        from openclaw.gateway.openai_http import add_openai_routes

        add_openai_routes(routes)
    return routes


def build_app(config: Config, config_exists: bool, settings: GatewaySettings, profile: Profile,
              file_log: FileLog, environ: Mapping[str, str]) -> App:
    """Assemble the gateway in start order (nothing listens yet).

    Raises:
        ConfigError: a channel account or the default model cannot be used (exit 78).
        OpenClawError: the database cannot be opened (its path and the fix).
    """
    source = str(profile.config_path) if config_exists else None
    gw = config.gateway
    accounts = configured_accounts(config.channels, ChannelEnv(source, environ, profile.state_dir))
    identity = Identity.new()
    limits = gw.auth.rate_limit
    authenticator = Authenticator(
        settings.auth_mode, token=settings.token, password=settings.password,
        limit=RateLimit(limits.max_attempts, limits.window_ms, limits.lockout_ms),
        loopback_limit=RateLimit(limits.loopback_max_attempts, limits.loopback_window_ms,
                                 limits.loopback_lockout_ms))
    health = HealthVersion()

    def on_drop(session: Session) -> None:  # a client that stopped reading was cut off
        forget(bus, presence, session)

    refusals = BurstLog(REFUSALS_LOG)
    bus = EventBus(gw.max_buffered_bytes, on_drop=on_drop, refusals=refusals)

    def publish_presence(entries: list[dict[str, Any]]) -> None:
        bus.broadcast("presence", {"presence": entries},
                      state_version={"presence": presence.version, "health": health.version})

    presence = Presence(identity.instance_id, settings.display_host, publish_presence)
    heartbeat_config = config.agents.defaults.heartbeat

    def publish(event: str) -> Callable[[dict[str, Any]], None]:
        return lambda payload: bus.send_to_readers(event, payload)

    run_events = RunEvents(bus)
    db_path = profile.state_dir / "gateway.db"
    db = open_database(db_path)
    try:
        ledger, inbox, pairing = Ledger(db), Inbox(db), PairingStore(db)
        channels = ChannelManager.from_accounts(accounts, inbox, pairing)
        messages = config.messages
        sends = SendService(ledger, channels,
                            timeout_ms=parse_duration_ms(messages.send_timeout),
                            retention_ms=parse_duration_ms(messages.retention))
        meta = SessionMetaStore(db)
        secrets = tuple([secret for item in accounts for secret in item.account.secrets()]
                        + _model_secrets(config, environ))
        workspace = Workspace(workspace_path(config, profile.home, profile.state_dir))
        try:
            created = workspace.bootstrap()
        except OSError as exc:  # the agent still answers; its file tools will say why
            log.warning("workspace %s cannot be set up: %s", workspace.root, exc)
        else:
            if created:
                log.info("workspace %s: created %s", workspace.root, ", ".join(created))

        def publish_approval(event: str, payload: dict[str, Any]) -> None:
            bus.broadcast(event, payload, scope=APPROVALS)

        approvals = ExecApprovals(publish_approval, config.tools.exec.approval_timeout_seconds,
                                  profile.state_dir / "exec-approvals.json")
        transcripts = SessionStore(db)
        send = sends.deliver_text if channels.order else None
        class Jobs:  # the scheduler for the cron tool; it is built after the agent
            def add(self, job: CronJobConfig) -> dict[str, Any]:
                return cron.add(job)

            def remove(self, job_id: str) -> bool:
                return cron.remove(job_id)

            def list_jobs(self, include_disabled: bool = True) -> list[dict[str, Any]]:
                return cron.list_jobs(include_disabled)

        def submit_turn(run_id: str, key: str, message: str
                        ) -> asyncio.Future[dict[str, Any]] | dict[str, Any]:
            """``sessions_send``'s way in: the runtime's submit (built after the tools)."""
            _, run = agent.submit(run_id, message, session_key=key)
            return run if isinstance(run, dict) else run.final

        tools = builtin_tools(config, workspace, approvals, environ,
                              Redactor(secrets, config.logging.redact_patterns),
                              sessions=transcripts, send=send,
                              cron=Jobs() if config.cron.enabled else None,
                              submit=submit_turn)
        bootstrap_cap = config.agents.defaults.bootstrap_max_chars

        def on_agent_event(payload: dict[str, Any]) -> None:  # agent → agent + chat events
            chat.on_agent_event(payload)

        agent = AgentRuntime(RunStore(db), transcripts, config, environ, on_agent_event,
                             deliver=send,
                             session_model=meta.model_for, tools=tools,
                             system_extra=lambda: workspace.prompt(bootstrap_cap))
        heartbeat = Heartbeat(
            parse_duration_ms(heartbeat_config.every), profile.state_dir / "heartbeat.json",
            publish("heartbeat"), heartbeat_config.every,
            HeartbeatTurn(agent, heartbeat_config, workspace.root, inbox, send))
        cron = CronService(CronStore(db), agent, config.cron, publish("cron"))
        cron.load_declared(config.cron.jobs)
        chat = ChatService(bus, agent, meta, str(db_path), run_events)
        try:  # the default model must be usable before any run is accepted
            agent.provider_for(config.agents.defaults.model)
        except OpenClawError as exc:
            raise ConfigError(source, "agents.defaults.model", exc.message) from None
        assistant = Assistant(agent, inbox, bus,
                              reply=config.agents.defaults.reply_to_channels)
    except BaseException:
        db.close()
        raise
    dispatcher = Dispatcher()
    register_all(dispatcher)
    app = App(
        config=config, config_exists=config_exists, settings=settings, profile=profile,
        identity=identity, lifecycle=Lifecycle(settings.port), file_log=file_log,
        authenticator=authenticator, bus=bus, presence=presence, heartbeat=heartbeat,
        health=health, db_path=db_path, checkpointer=Checkpointer(db_path), ledger=ledger,
        inbox=inbox, pairing=pairing, channels=channels, sends=sends, agent=agent, cron=cron,
        run_events=run_events,
        chat=chat, assistant=assistant, workspace=workspace, approvals=approvals,
        dispatcher=dispatcher, routes=_routes(config), secrets=secrets, refusals=refusals,
        backups=BackupScheduler.from_config(config, profile, workspace.root),
    )
    return app
