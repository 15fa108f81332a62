"""``openclaw.json`` (JSON5) → a frozen, validated :class:`Config`.

Every object in the file is closed: an unknown key is refused, as are wrong types
and out-of-range values. The refusal is a :class:`~openclaw.errors.ConfigError`
naming the file, the key path (``gateway.auth.mode``) and the reason; the gateway
exits 78 on it so a supervisor stops relaunching a gateway that cannot start.
A missing file is not an error: the gateway runs on the built-in defaults.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from openclaw.configfile import read_document
from openclaw.errors import ConfigError
from openclaw.schema import Section, describe_validation_error

__all__ = [
    "AuthConfig",
    "BackupConfig",
    "Config",
    "ControlUiConfig",
    "CronConfig",
    "CronDeliveryConfig",
    "CronJobConfig",
    "GatewayConfig",
    "HeartbeatConfig",
    "LoggingConfig",
    "MessagesConfig",
    "ModelProviderConfig",
    "ModelsConfig",
    "RateLimitConfig",
    "ServiceConfig",
    "ToolsConfig",
    "WebFetchConfig",
    "channel_section",
    "load_config",
    "parse_config",
    "parse_duration_ms",
]

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PositiveMs = Annotated[int, msgspec.Meta(ge=1, le=24 * 3600 * 1000)]
LogLevel = Literal["silent", "fatal", "error", "warn", "info", "debug", "trace"]





class RateLimitConfig(Section, frozen=True):
    """Failed-auth rate limit per remote address (loopback has its own, shorter window)."""

    max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 10
    window_ms: PositiveMs = 60_000
    lockout_ms: PositiveMs = 60_000
    loopback_max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 20
    loopback_window_ms: PositiveMs = 10_000
    loopback_lockout_ms: PositiveMs = 10_000


class AuthConfig(Section, frozen=True):
    """How clients prove they may use the gateway."""

    mode: Literal["token", "password", "none"] = "token"
    token: str | None = None
    password: str | None = None
    rate_limit: RateLimitConfig = msgspec.field(default_factory=RateLimitConfig)


class ChatCompletionsConfig(Section, frozen=True):
    """``gateway.http.endpoints.chatCompletions``: the OpenAI-compatible endpoint."""

    enabled: bool = False


class HttpEndpointsConfig(Section, frozen=True):
    """Optional HTTP APIs on the gateway's port (all off by default)."""

    chat_completions: ChatCompletionsConfig = msgspec.field(
        default_factory=ChatCompletionsConfig)


class HttpConfig(Section, frozen=True):
    """``gateway.http``: the HTTP side of the gateway's port."""

    endpoints: HttpEndpointsConfig = msgspec.field(default_factory=HttpEndpointsConfig)


class ControlUiConfig(Section, frozen=True):
    """Browser access: which page origins besides the gateway's own may connect."""

    #: Serve this gateway's own Control UI at ``/``.
    enabled: bool = True
    #: Full origins (``https://ui.example.com``), or ``"*"`` for any origin.
    allowed_origins: tuple[Annotated[str, msgspec.Meta(min_length=1)], ...] = ()


class GatewayConfig(Section, frozen=True):
    """The listener, its limits and its timers."""

    mode: Literal["local", "remote"] = "local"
    port: Port | None = None
    bind: Literal["loopback", "lan", "custom"] = "loopback"
    custom_bind_host: str | None = None
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    tick_interval_ms: Annotated[int, msgspec.Meta(ge=100, le=3_600_000)] = 30_000
    handshake_timeout_ms: Annotated[int, msgspec.Meta(ge=100, le=600_000)] = 15_000
    max_payload: Annotated[int, msgspec.Meta(ge=65_536, le=256 * 1024 * 1024)] = 26_214_400
    max_buffered_bytes: Annotated[int, msgspec.Meta(ge=65_536, le=1024**3)] = 52_428_800
    drain_timeout_ms: Annotated[int, msgspec.Meta(ge=0, le=600_000)] = 5_000
    http: HttpConfig = msgspec.field(default_factory=HttpConfig)
    control_ui: ControlUiConfig = msgspec.field(default_factory=ControlUiConfig)


class LoggingConfig(Section, frozen=True):
    """The gateway's file log and console output."""

    level: LogLevel = "info"
    console_level: LogLevel = "info"
    dir: str | None = None
    max_file_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 104_857_600
    max_archives: Annotated[int, msgspec.Meta(ge=0, le=100)] = 5
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 7
    redact_patterns: tuple[str, ...] = ()


class HeartbeatConfig(Section, frozen=True):
    """The agent heartbeat: every ``every`` (``"30m"``; ``"0"`` turns it off) a turn on
    the main session reads ``HEARTBEAT.md``; a reply other than ``HEARTBEAT_OK`` goes to
    ``target`` (``none``, ``last``, ``owner`` or a channel id with ``to``)."""

    every: str = "30m"
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] = "none"
    to: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)] | None = None
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] | None = None


class AgentDefaults(Section, frozen=True):
    """Defaults shared by every agent."""

    heartbeat: HeartbeatConfig = msgspec.field(default_factory=HeartbeatConfig)
    #: ``"<provider>/<model>"``; the offline built-in needs no network and no key.
    model: str = "offline/echo"
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 600
    context_turns: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 20
    context_chars: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 24_000
    system_prompt: str | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1024
    #: Answer allowed inbound channel messages with an agent run (the assistant loop).
    reply_to_channels: bool = True
    #: The agent's workspace (its files, and the bootstrap files read into the system
    #: prompt); ``~`` is the profile's home. Default: ``<state dir>/workspace``.
    workspace: str | None = None
    #: Model calls that may ask for tools in one turn; the next call gets no tools, so
    #: it answers.
    max_tool_steps: Annotated[int, msgspec.Meta(ge=0, le=100)] = 8
    #: Characters of each workspace bootstrap file put into the system prompt.
    bootstrap_max_chars: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 20_000


class AgentsConfig(Section, frozen=True):
    """The agents section: defaults every agent run uses."""

    defaults: AgentDefaults = msgspec.field(default_factory=AgentDefaults)


class ExecToolConfig(Section, frozen=True):
    """``tools.exec``: when the ``exec`` tool may run a shell command.

    ``security``: ``deny`` (never), ``allowlist`` (commands matching ``allowlist``),
    ``full`` (any). ``ask``: ``off`` (never ask; what security refuses stays refused),
    ``on-miss`` (ask the owner when the allowlist does not match), ``always`` (ask
    for every command). The default asks for everything: nothing runs on a fresh
    install until the owner approves it. An unanswered request is denied after
    ``approvalTimeoutSeconds``.
    """

    security: Literal["deny", "allowlist", "full"] = "allowlist"
    ask: Literal["off", "on-miss", "always"] = "on-miss"
    #: Glob patterns (``git status``, ``ls *``) matched against the whole command.
    allowlist: tuple[str, ...] = ()
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 60
    approval_timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 120
    max_output_chars: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 20_000


class WebFetchConfig(Section, frozen=True):
    """``tools.web.fetch``: the ``web_fetch`` tool's limits."""

    enabled: bool = True
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=600)] = 30
    #: Bytes of a page read at most.
    max_bytes: Annotated[int, msgspec.Meta(ge=1024, le=100_000_000)] = 2_000_000
    #: Characters of extracted text returned at most (a call may ask for fewer).
    max_chars: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 50_000
    #: Fetch hosts with private, loopback or link-local addresses too.
    allow_private_network: bool = False


class WebToolsConfig(Section, frozen=True):
    """``tools.web``: web tools."""

    fetch: WebFetchConfig = msgspec.field(default_factory=WebFetchConfig)


class ToolsConfig(Section, frozen=True):
    """``tools``: the agent's built-in tools."""

    #: Turn every tool off (the model is offered none).
    enabled: bool = True
    exec: ExecToolConfig = msgspec.field(default_factory=ExecToolConfig)
    web: WebToolsConfig = msgspec.field(default_factory=WebToolsConfig)


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class CronDeliveryConfig(Section, frozen=True):
    """Where a job's reply goes: ``announce`` sends it to ``to`` on ``channel``."""

    mode: Literal["announce", "none"] = "announce"
    channel: Name | None = None
    to: Name | None = None
    account_id: Name | None = None


class CronPayloadConfig(Section, frozen=True):
    """What a job does: an agent turn with ``message``."""

    message: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]
    kind: Literal["agentTurn"] = "agentTurn"
    model: Name | None = None
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] | None = None


class CronJobConfig(Section, frozen=True):
    """One scheduled job, as declared in ``cron.jobs`` or sent to ``cron.add``."""

    schedule: dict[str, Any]
    payload: CronPayloadConfig
    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = None
    name: Name | None = None
    description: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    enabled: bool = True
    #: ``isolated`` runs on the job's own session ``cron:<id>``; ``main`` on ``main``.
    session_target: Literal["isolated", "main"] = "isolated"
    delivery: CronDeliveryConfig | None = None
    #: What a start does with slots missed while the gateway was down.
    catch_up: Literal["skip", "run-once"] = "run-once"
    delete_after_run: bool = False


class CronConfig(Section, frozen=True):
    """Scheduled jobs: the scheduler switch, declared jobs, run-history limits."""

    enabled: bool = True
    jobs: tuple[CronJobConfig, ...] = ()
    #: Finished runs kept per job (the newest), and for how long at most.
    max_runs_per_job: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 200
    run_retention: str = "7d"


_MEMORY = r"^[1-9][0-9]*[KMGT]?$|^[1-9][0-9]?%$|^100%$|^infinity$"
MemoryLimit = Annotated[str, msgspec.Meta(pattern=_MEMORY)]


class ServiceConfig(Section, frozen=True):
    """How ``gateway install`` supervises the gateway (systemd/launchd settings).

    Changing these takes effect with ``openclaw gateway install --force`` (``doctor``
    reports an installed service that differs).
    """

    restart_sec: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 2
    watchdog_sec: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 30
    memory_high: MemoryLimit | None = None
    memory_max: MemoryLimit | None = None


class MessagesConfig(Section, frozen=True):
    """Outbound delivery and the inbox (durations like ``"30s"``, ``"24h"``, ``"7d"``)."""

    send_timeout: str = "30s"
    retention: str = "24h"
    inbox_retention: str = "7d"


class BackupConfig(Section, frozen=True):
    """The gateway's automatic backup (``openclaw backup``; ``docs/backup.md``).

    Every ``every`` (at least 1m) the gateway archives its database, config,
    credentials and workspace into ``dir`` (default ``<state dir>/backups``) from a
    worker thread, and keeps the newest ``keep`` automatic archives.
    """

    enabled: bool = True
    every: str = "1d"
    keep: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 7
    dir: str | None = None


class ModelProviderConfig(Section, frozen=True):
    """``models.providers.<id>``: an endpoint speaking one of the supported APIs."""

    api: Literal["openai-completions", "anthropic-messages"] | None = None
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None


class ModelsConfig(Section, frozen=True):
    """Model providers (built-in ids: offline, openai, anthropic, ollama)."""

    providers: dict[str, ModelProviderConfig] = msgspec.field(default_factory=dict)


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename={"schema": "$schema"}):
    """The whole validated config (all defaults when there is no file)."""

    schema: str | None = None
    gateway: GatewayConfig = msgspec.field(default_factory=GatewayConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    agents: AgentsConfig = msgspec.field(default_factory=AgentsConfig)
    service: ServiceConfig = msgspec.field(default_factory=ServiceConfig)
    #: ``channels.<name>``: each section converted by its channel's spec
    #: (:mod:`openclaw.channels.registry`); read them with :func:`channel_section`.
    channels: dict[str, Any] = msgspec.field(default_factory=dict)
    messages: MessagesConfig = msgspec.field(default_factory=MessagesConfig)
    models: ModelsConfig = msgspec.field(default_factory=ModelsConfig)
    cron: CronConfig = msgspec.field(default_factory=CronConfig)
    tools: ToolsConfig = msgspec.field(default_factory=ToolsConfig)
    backup: BackupConfig = msgspec.field(default_factory=BackupConfig)


#: The shortest ``backup.every``: each backup reads the whole database and workspace.
MIN_BACKUP_EVERY_MS = 60_000
_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 60_000}


def parse_duration_ms(text: str) -> int:
    """Parse ``"30m"``, ``"90s"``, ``"1h"``, ``"500ms"`` (a bare number is minutes)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 90s, 1h)")
    return int(float(match["n"]) * _UNIT_MS[match["unit"]])


def _check(config: Config, source: str | None) -> None:
    gateway = config.gateway
    if gateway.bind == "custom" and not gateway.custom_bind_host:
        raise ConfigError(
            source, "gateway.customBindHost", 'required when gateway.bind is "custom"'
        )
    for index, pattern in enumerate(config.logging.redact_patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                source, f"logging.redactPatterns[{index}]", f"not a regular expression: {exc}"
            ) from None
    try:
        every = parse_duration_ms(config.agents.defaults.heartbeat.every)
    except ValueError as exc:
        raise ConfigError(source, "agents.defaults.heartbeat.every", str(exc)) from None
    if 0 < every < 1000:
        raise ConfigError(
            source, "agents.defaults.heartbeat.every", "must be at least 1s (or 0 to turn it off)"
        )
    _check_cron(config.cron, source)
    try:
        if parse_duration_ms(config.backup.every) < MIN_BACKUP_EVERY_MS:
            raise ValueError("must be at least 1m")
    except ValueError as exc:
        raise ConfigError(source, "backup.every", str(exc)) from None
    for key in ("send_timeout", "retention", "inbox_retention"):
        name = "messages." + "".join(
            part if i == 0 else part.title() for i, part in enumerate(key.split("_")))
        try:
            value = parse_duration_ms(getattr(config.messages, key))
        except ValueError as exc:
            raise ConfigError(source, name, str(exc)) from None
        if value < 1000:
            raise ConfigError(source, name, "must be at least 1s")


def _check_cron(cron: CronConfig, source: str | None) -> None:
    from openclaw.schedule import ScheduleError, parse_schedule

    try:
        if parse_duration_ms(cron.run_retention) < 1000:
            raise ValueError("must be at least 1s")
    except ValueError as exc:
        raise ConfigError(source, "cron.runRetention", str(exc)) from None
    seen: set[str] = set()
    for index, job in enumerate(cron.jobs):
        if job.id is None:
            raise ConfigError(source, f"cron.jobs[{index}].id", "required for a declared job")
        if job.id in seen:
            raise ConfigError(source, f"cron.jobs[{index}].id", f"duplicate job id {job.id!r}")
        seen.add(job.id)
        try:
            parse_schedule(job.schedule, 0)
        except ScheduleError as exc:
            raise ConfigError(source, f"cron.jobs[{index}].schedule", str(exc)) from None
        delivery = job.delivery
        if delivery is not None and delivery.mode == "announce" and delivery.to is None:
            raise ConfigError(source, f"cron.jobs[{index}].delivery.to",
                              "required when delivery.mode is announce")


def parse_config(document: dict[str, Any], source: str | None = None) -> Config:
    """Validate an already-parsed document; ``source`` names it in errors."""
    try:
        config = msgspec.convert(document, Config)
    except msgspec.ValidationError as exc:
        key, reason = describe_validation_error(exc)
        raise ConfigError(source, key, reason) from None
    _check(config, source)
    if config.channels:
        from openclaw.channels.registry import validate_sections

        config = msgspec.structs.replace(
            config, channels=validate_sections(config.channels, source))
    return config


def channel_section(config: Config, name: str) -> Any:
    """The validated ``channels.<name>`` section, or None when it is not configured."""
    return config.channels.get(name)


def load_config(path: Path) -> tuple[Config, bool]:
    """Load and validate ``path``; return ``(config, exists)``.

    A missing file gives the built-in defaults and ``exists=False``.
    """
    document = read_document(path)
    if document is None:
        return Config(), False
    return parse_config(document, str(path)), True
