"""``openclaw``: argument parsing and the one error boundary.

The parser is built from the standard library's :mod:`argparse` (the fastest to
import; ``openclaw --version`` has a 60 ms budget), and each command's module is
imported only when that command runs. Every error ends here, rendered by
:func:`openclaw.cli.render.emit_error` (one line on stderr, or a JSON object on
stdout with ``--json``) with its documented exit status; ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from openclaw import __version__
from openclaw.errors import ExitCode, OpenClawError

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

__all__ = ["build_parser", "main"]

_SUPPRESS = argparse.SUPPRESS


class _UsageExit(Exception):
    """argparse refused the command line; carries the reason and the parser's prog."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.message = message
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse whose errors reach the error boundary instead of exiting on their own.

    ``prog`` is the full command (``openclaw message send``), so the message points
    at the ``--help`` of the subcommand that was being parsed.
    """

    def error(self, message: str) -> NoReturn:
        raise _UsageExit(message, self.prog)


def _global_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("global options")
    group.add_argument("--profile", default=_SUPPRESS, metavar="NAME",
                       help="use profile NAME (state in ~/.openclaw-NAME)")
    group.add_argument("--dev", action="store_true", default=_SUPPRESS,
                       help="profile 'dev' (port 19001)")
    group.add_argument("--json", action="store_true", default=_SUPPRESS,
                       help="print machine-readable JSON")
    group.add_argument("--no-color", action="store_true", default=_SUPPRESS,
                       help="no ANSI colours (also NO_COLOR=1)")
    group.add_argument("--log-level", default=_SUPPRESS,
                       choices=["silent", "fatal", "error", "warn", "info", "debug", "trace"])
    group.add_argument("--debug", action="store_true", default=_SUPPRESS,
                       help="show tracebacks for errors")


def _client_options(parser: argparse.ArgumentParser, timeout_ms: int | None) -> None:
    group = parser.add_argument_group("gateway connection")
    group.add_argument("--url", help="gateway URL (ws://host:port); never uses stored credentials")
    group.add_argument("--token", help="gateway token (default: env, config, generated token)")
    group.add_argument("--password", help="gateway password")
    if timeout_ms is not None:
        group.add_argument("--timeout", type=int, default=timeout_ms, metavar="MS",
                           help=f"timeout in milliseconds (default {timeout_ms})")


def _command(
    subparsers: Any, name: str, handler: str, help_text: str, **kwargs: Any
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help_text, description=help_text, **kwargs
    )
    _global_options(parser)
    parser.set_defaults(handler=handler, command=parser.prog)
    return parser


def _run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("gateway run options")
    group.add_argument("--port", type=int, help="port (default: env, gateway.port, 18789)")
    group.add_argument("--bind", choices=["loopback", "lan", "custom"], help="bind mode")
    group.add_argument("--auth", choices=["token", "password", "none"], help="auth mode")
    group.add_argument("--token", help="gateway token for this run")
    group.add_argument("--password", help="gateway password for this run")
    group.add_argument("--allow-unconfigured", action="store_true",
                       help="run even when the config says gateway.mode=remote")
    group.add_argument("--force", action="store_true",
                       help="first stop a stale gateway of this profile holding the port")
    group.add_argument("--verbose", action="store_true", help="debug logs on the console")


def _service_options(parser: argparse.ArgumentParser, *, wait: bool = True) -> None:
    group = parser.add_argument_group("service options")
    group.add_argument("--system", action="store_true",
                       help="the systemd system unit (/etc/systemd/system) instead of the user's")
    group.add_argument("--run-as", metavar="USER",
                       help="with --system: the user that runs the gateway (default SUDO_USER, "
                            "else the installed unit's User=)")
    group.add_argument("--backend", choices=["systemd", "launchd"],
                       help="service manager (default: this platform's; also "
                            "OPENCLAW_SERVICE_BACKEND)")
    if wait:
        group.add_argument("--timeout", type=int, default=30_000, metavar="MS",
                           help="how long to wait for the gateway to answer (default 30000)")


def _health_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="the whole snapshot: channel accounts, heartbeat, process, outbox")
    _client_options(parser, 10_000)


_SERVICE = "openclaw.cli.service_cmd:"


def _service_commands(gateway_sub: Any) -> None:
    install = _command(gateway_sub, "install", _SERVICE + "install",
                       "install the gateway as a service and start it")
    install.add_argument("--force", action="store_true",
                         help="rewrite the service definition and restart it")
    install.add_argument("--port", type=int, help="port (default: env, gateway.port, profile)")
    _service_options(install)
    uninstall = _command(gateway_sub, "uninstall", _SERVICE + "uninstall",
                         "remove the service (and this profile's legacy ones); "
                         "keep config and state")
    _service_options(uninstall, wait=False)
    for name, text in (("start", "start the installed service"),
                       ("stop", "stop the service (no-op when it is not installed)"),
                       ("restart", "restart the service and check a new process answers")):
        _service_options(_command(gateway_sub, name, _SERVICE + name, text),
                         wait=name != "stop")
    status = _command(gateway_sub, "status", "openclaw.cli.status_cmd:status",
                      "service, runtime, config, port and RPC probe, each on its own")
    status.add_argument("--deep", action="store_true",
                        help="also scan system-level and other gateway-like services")
    status.add_argument("--no-probe", action="store_true", help="skip the RPC probe")
    _service_options(status, wait=False)
    _client_options(status, 3_000)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (handlers are named, imported only when they run)."""
    parser = _Parser(prog="openclaw", description="The OpenClaw gateway and its CLI.")
    parser.add_argument("--version", action="version", version=f"openclaw {__version__}")
    _global_options(parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    gateway = _command(commands, "gateway", "openclaw.cli.gateway_cmd:run",
                       "run the gateway in the foreground (or a gateway subcommand)")
    _run_options(gateway)
    gateway_sub = gateway.add_subparsers(title="gateway commands", metavar="SUBCOMMAND",
                                         parser_class=_Parser)
    run = _command(gateway_sub, "run", "openclaw.cli.gateway_cmd:run",
                   "run the gateway in the foreground")
    _run_options(run)
    health = _command(gateway_sub, "health", "openclaw.cli.gateway_cmd:health",
                      "fetch the gateway's health snapshot")
    _health_options(health)
    call = _command(gateway_sub, "call", "openclaw.cli.gateway_cmd:call",
                    "call a gateway method (raw RPC)")
    call.add_argument("method", help="method name, e.g. health or logs.tail")
    call.add_argument("--params", default="{}", metavar="JSON", help="params object (default {})")
    call.add_argument("--expect-final", action="store_true",
                      help="wait for the final answer of a two-stage method")
    _client_options(call, 10_000)
    _service_commands(gateway_sub)

    doctor = _command(commands, "doctor", "openclaw.cli.doctor_cmd:doctor",
                      "find and repair problems with the service, config and state")
    doctor.add_argument("--fix", "--repair", action="store_true", dest="fix",
                        help="apply the repairs")
    doctor.add_argument("--yes", "-y", action="store_true", help="same as --fix")
    doctor.add_argument("--dry-run", action="store_true",
                        help="show what --fix would change, change nothing")
    doctor.add_argument("--deep", action="store_true",
                        help="also scan system-level services")
    _service_options(doctor)

    message = _command(commands, "message", "openclaw.cli.message_cmd:usage",
                       "send messages through the gateway's channels")
    message_sub = message.add_subparsers(title="message commands", metavar="SUBCOMMAND",
                                         parser_class=_Parser)
    send = _command(message_sub, "send", "openclaw.cli.message_cmd:send",
                    "send a message (idempotent; safe to retry with the same key)")
    send.add_argument("--target", "--to", required=True, metavar="T",
                      help="chat: a numeric id or @channel (per channel)")
    send.add_argument("--message", "-m", metavar="M", help="text (the caption with --media)")
    send.add_argument("--media", action="append", metavar="PATH_OR_URL",
                      help="attach a file or URL (repeatable)")
    send.add_argument("--channel", help="channel (default: the first configured)")
    send.add_argument("--account", help="channel account (default: the channel's default)")
    send.add_argument("--idempotency-key", metavar="K",
                      help="delivery key; generated and printed when omitted")
    _client_options(send, 45_000)

    agent = _command(commands, "agent", "openclaw.cli.agent_cmd:agent",
                     "run one agent turn through the gateway and stream the reply")
    question = agent.add_mutually_exclusive_group(required=True)
    question.add_argument("--message", "-m", metavar="M", help="what to ask")
    question.add_argument("--message-file", metavar="PATH",
                          help="read what to ask from PATH ('-': standard input)")
    agent.add_argument("--to", metavar="T", help="chat to deliver the reply to (with --deliver)")
    agent.add_argument("--session", metavar="S", help="session key (default: main)")
    agent.add_argument("--channel", help="channel for --deliver (default: the first)")
    agent.add_argument("--deliver", action="store_true",
                       help="also send the reply to --to through the channel")
    agent.add_argument("--model", help='"<provider>/<model>" for this run')
    agent.add_argument("--no-wait", action="store_true", help="print the run id and return")
    agent.add_argument("--timeout", type=int, metavar="S",
                       help="the run's deadline on the gateway, in seconds")
    agent.add_argument("--abort-on-interrupt", action="store_true",
                       help="Ctrl-C aborts the run without asking")
    agent.add_argument("--idempotency-key", metavar="K",
                       help="run id; asking again with it returns the same answer")
    _client_options(agent, None)  # --timeout is the run's deadline here, in seconds

    channels = _command(commands, "channels", "openclaw.cli.channels_cmd:usage",
                        "channel accounts: list, status, login, logout")
    channels_sub = channels.add_subparsers(title="channels commands", metavar="SUBCOMMAND",
                                           parser_class=_Parser)
    for name, handler, text in (
            ("list", "list_accounts", "every registered channel and its accounts"),
            ("status", "status", "every account's state (connected, logged-out, ...)")):
        view = _command(channels_sub, name, "openclaw.cli.channels_cmd:" + handler, text)
        view.add_argument("--channel", help="only this channel")
        view.add_argument("--probe", action="store_true", help="accepted; state is always live")
        _client_options(view, 10_000)
    login = _command(channels_sub, "login", "openclaw.cli.channels_cmd:login",
                     "link an account inside the gateway (QR code, or a pairing code)")
    login.add_argument("--channel", default="whatsapp", help="channel (default whatsapp)")
    login.add_argument("--account", help="account id (default: the channel's default)")
    login.add_argument("--phone", metavar="+E164",
                       help="link with a pairing code for this number instead of a QR code")
    login.add_argument("--force", action="store_true", help="relink even when linked")
    _client_options(login, 30_000)
    logout = _command(channels_sub, "logout", "openclaw.cli.channels_cmd:logout",
                      "unlink an account and delete its credentials")
    logout.add_argument("--channel", default="whatsapp", help="channel (default whatsapp)")
    logout.add_argument("--account", help="account id (default: the channel's default)")
    _client_options(logout, 30_000)

    pairing = _command(commands, "pairing", "openclaw.cli.pairing_cmd:usage",
                       "who may talk to the assistant (dmPolicy: pairing)")
    pairing_sub = pairing.add_subparsers(title="pairing commands", metavar="SUBCOMMAND",
                                         parser_class=_Parser)
    plist = _command(pairing_sub, "list", "openclaw.cli.pairing_cmd:list_requests",
                     "pending pairing requests and approved senders")
    plist.add_argument("channel", nargs="?", help="only this channel")
    _client_options(plist, 10_000)
    papprove = _command(pairing_sub, "approve", "openclaw.cli.pairing_cmd:approve",
                        "let the sender with this pairing code talk to the assistant")
    papprove.add_argument("channel", help="channel, e.g. whatsapp or telegram")
    papprove.add_argument("code", help="the code the sender was given")
    papprove.add_argument("--account", help="account id (when codes could clash)")
    _client_options(papprove, 10_000)

    approvals = _command(commands, "approvals", "openclaw.cli.approvals_cmd:usage",
                         "answer the agent's requests to run commands (tools.exec)")
    approvals_sub = approvals.add_subparsers(title="approvals commands", metavar="SUBCOMMAND",
                                             parser_class=_Parser)
    alist = _command(approvals_sub, "list", "openclaw.cli.approvals_cmd:list_pending",
                     "pending exec approval requests")
    _client_options(alist, 10_000)
    aapprove = _command(approvals_sub, "approve", "openclaw.cli.approvals_cmd:approve",
                        "let the command of a pending request run")
    aapprove.add_argument("id", help="the request id (from approvals list)")
    aapprove.add_argument("--always", action="store_true",
                          help="also allow this exact command from now on")
    _client_options(aapprove, 10_000)
    adeny = _command(approvals_sub, "deny", "openclaw.cli.approvals_cmd:deny",
                     "refuse the command of a pending request")
    adeny.add_argument("id", help="the request id (from approvals list)")
    _client_options(adeny, 10_000)
    cron = _command(commands, "cron", "openclaw.cli.cron_cmd:usage",
                    "scheduled jobs: agent turns at a time, every interval, or on a cron "
                    "expression")
    cron_sub = cron.add_subparsers(title="cron commands", metavar="SUBCOMMAND",
                                   parser_class=_Parser)
    clist = _command(cron_sub, "list", "openclaw.cli.cron_cmd:list_jobs", "the scheduled jobs")
    clist.add_argument("--all", action="store_true", help="include disabled jobs")
    _client_options(clist, 10_000)
    cadd = _command(cron_sub, "add", "openclaw.cli.cron_cmd:add",
                    "add a job: one of --at, --every, --cron, and --message")
    cadd.add_argument("--at", help="one time, ISO 8601 (e.g. 2027-02-01T16:00:00Z)")
    cadd.add_argument("--every", help="interval, e.g. 10m, 1h, 1d")
    cadd.add_argument("--cron", help='cron expression, e.g. "0 9 * * 1-5"')
    cadd.add_argument("--tz", help="IANA time zone for --cron (and an --at without offset)")
    cadd.add_argument("--message", "-m", required=True, help="what the agent is told")
    cadd.add_argument("--name", help="a name to show")
    cadd.add_argument("--id", help="the job id (default: generated)")
    cadd.add_argument("--session", choices=("isolated", "main"), default="isolated",
                      help="isolated: the job's own session (default); main: the main one")
    cadd.add_argument("--catch-up", choices=("run-once", "skip"), default="run-once",
                      help="after downtime: run the newest missed slot once (default) or skip")
    cadd.add_argument("--to", help="deliver the reply to this chat")
    cadd.add_argument("--channel", help="the channel for --to (default: as for send)")
    cadd.add_argument("--account", help="the account for --to")
    cadd.add_argument("--delete-after-run", action="store_true",
                      help="remove a one-time job after it ran")
    _client_options(cadd, 10_000)
    cremove = _command(cron_sub, "remove", "openclaw.cli.cron_cmd:remove",
                       "remove a job and its run history")
    cremove.add_argument("id", help="the job id")
    _client_options(cremove, 10_000)
    crun = _command(cron_sub, "run", "openclaw.cli.cron_cmd:run", "run a job now")
    crun.add_argument("id", help="the job id")
    _client_options(crun, 10_000)

    backup = _command(commands, "backup", "openclaw.cli.backup_cmd:usage",
                      "archives of the database, config, credentials and workspace")
    backup_sub = backup.add_subparsers(title="backup commands", metavar="SUBCOMMAND",
                                       parser_class=_Parser)
    bcreate = _command(backup_sub, "create", "openclaw.cli.backup_cmd:create",
                       "write an archive now (safe while the gateway runs)")
    bcreate.add_argument("--output", metavar="DIR",
                         help="write it into DIR (default: backup.dir, ~/.openclaw/backups)")
    bverify = _command(backup_sub, "verify", "openclaw.cli.backup_cmd:verify",
                       "check an archive: manifest, sha256 of every file, database integrity")
    bverify.add_argument("archive", help="the archive (.tar.gz)")
    brestore = _command(backup_sub, "restore", "openclaw.cli.backup_cmd:restore",
                        "restore an archive (the gateway must be stopped; what it replaces "
                        "is kept aside)")
    brestore.add_argument("archive", help="the archive (.tar.gz)")
    _command(backup_sub, "list", "openclaw.cli.backup_cmd:list_archives",
             "the archives, newest first, with size and time")

    top_health = _command(commands, "health", "openclaw.cli.gateway_cmd:health",
                          "fetch the gateway's health snapshot")
    _health_options(top_health)

    overview = _command(commands, "status", "openclaw.cli.overview_cmd:overview",
                        "the overview: gateway, service, channels, sessions, model")
    _client_options(overview, 3_000)

    dashboard = _command(commands, "dashboard", "openclaw.cli.dashboard_cmd:dashboard",
                         "print the Control UI's address with this profile's token "
                         "(--open: open it in a browser)")
    dashboard.add_argument("--open", action="store_true", help="also open it in a browser")
    _client_options(dashboard, None)

    logs = _command(commands, "logs", "openclaw.cli.logs_cmd:logs",
                    "show the gateway's file log (through the gateway, or the local "
                    "file when it is down)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--limit", type=int, default=200,
                      help="lines to show at first, 1-5000 (default 200)")
    logs.add_argument("--max-bytes", type=int, default=250_000, help="bytes per read")
    logs.add_argument("--interval", type=int, default=1000, metavar="MS",
                      help="poll interval while following (default 1000)")
    logs.add_argument("--utc", action="store_true", help="show times in UTC")
    logs.add_argument("--plain", action="store_true",
                      help="only the message of each line, no time, level or fields")
    _client_options(logs, 30_000)
    return parser


def _resolve(handler: str) -> Callable[[argparse.Namespace], int]:
    module_name, _, function = handler.partition(":")
    function_obj: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(module_name), function
    )
    return function_obj


def _usage_error(message: str, prog: str) -> OpenClawError:
    from openclaw.errors import UsageError

    return UsageError(message, hint=f"see '{prog} --help'")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # the most common probe: skip building the parser
        sys.stdout.write(f"openclaw {__version__}\n")
        return 0
    # Imported after the --version answer: cli.common pulls in pathlib, json and the
    # credential and config-file modules, about 14 ms of CPU that --version never needs.
    from openclaw.cli.common import explain
    from openclaw.cli.render import emit_error

    parser = build_parser()
    as_json = "--json" in args
    try:
        ns = parser.parse_args(args)
    except _UsageExit as usage:
        return emit_error(_usage_error(usage.message, usage.prog), as_json)
    as_json = bool(getattr(ns, "json", False))
    debug = bool(getattr(ns, "debug", False))
    handler = getattr(ns, "handler", None)
    if handler is None:
        parser.print_help()
        return ExitCode.USAGE
    if getattr(ns, "no_color", False):
        os.environ["NO_COLOR"] = "1"
    try:
        return _resolve(handler)(ns)
    except OpenClawError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        explain(exc, ns)
        return emit_error(exc, as_json)
    except KeyboardInterrupt:
        interrupted = OpenClawError("interrupted")
        interrupted.code, interrupted.exit_code = "INTERRUPTED", ExitCode.INTERRUPTED
        return emit_error(interrupted, as_json)
    except BrokenPipeError:
        return ExitCode.FAILURE
    except Exception as exc:  # the one place unexpected errors are caught
        if debug:
            raise
        internal = OpenClawError(
            f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
        internal.code = "INTERNAL"
        return emit_error(internal, as_json)
