"""``openclaw agent``: one agent turn through the gateway, streamed to the terminal.

The run belongs to the gateway, not to this process: ``--no-wait`` prints the run
id and leaves, a lost connection or Ctrl-C does not stop the run (unless you say
so), and asking again with the same ``--idempotency-key`` returns the stored
answer rather than running twice. A generated run id is shown once the gateway has
accepted the run (before that, nothing exists to ask about again).
"""

from __future__ import annotations

import sys

from openclaw.cli.common import resolve_target, wants_json
from openclaw.cli.render import emit, emit_error
from openclaw.errors import ExitCode, GatewayUnreachable, OpenClawError, UsageError
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["AgentResult", "NoWaitResult", "agent", "read_message"]


def read_message(ns: argparse.Namespace) -> str:
    """The question: ``--message``, or the contents of ``--message-file`` (``-``: stdin)."""
    path = getattr(ns, "message_file", None)
    if path is None:
        return str(ns.message)
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read --message-file {path}: {reason}") from None
    text = text.rstrip("\n")
    if not text.strip():
        raise UsageError(f"--message-file {path} is empty")
    return text


def _params(ns: argparse.Namespace, message: str, key: str) -> dict[str, Any]:
    params: dict[str, Any] = {"message": message, "idempotencyKey": key}
    for name, value in (("to", ns.to), ("sessionKey", ns.session), ("channel", ns.channel),
                        ("model", ns.model), ("timeout", ns.timeout)):
        if value is not None:
            params[name] = value
    if ns.deliver:
        params["deliver"] = True
    return params


def _ask_abort() -> bool:
    if not sys.stdin.isatty():
        return False
    sys.stderr.write("\nabort the run on the gateway? [y/N] ")
    sys.stderr.flush()
    try:
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    except (KeyboardInterrupt, EOFError):
        return False


class NoWaitResult(CommandResult):
    """``--no-wait``: the gateway's first answer (``runId`` and ``status``)."""

    def __init__(self, accepted: dict[str, Any]) -> None:
        self.accepted = accepted

    def to_json(self) -> Any:
        """The first answer as received."""
        return self.accepted

    def to_text(self) -> str:
        """``<runId> <status>``."""
        return f"{self.accepted.get('runId')} {self.accepted.get('status')}"


class AgentResult(CommandResult):
    """The final answer of a run, and what of its reply was already streamed."""

    def __init__(self, final: dict[str, Any], streamed: str) -> None:
        self.final = final
        self.streamed = streamed
        self.exit_code = ExitCode.OK if final.get("status") == "ok" else ExitCode.FAILURE

    @property
    def reply(self) -> str:
        """The reply text of the final."""
        return "".join(str(p.get("text", ""))
                       for p in (self.final.get("result") or {}).get("payloads") or [])

    @property
    def offline(self) -> bool:
        """True when the built-in offline model answered."""
        return bool(((self.final.get("result") or {}).get("meta") or {}).get("offline"))

    def error(self) -> OpenClawError | None:
        """An error final as the error to report (``CODE: message``), else None."""
        if self.final.get("status") == "ok":
            return None
        error = self.final.get("error") or {}
        failure = OpenClawError(f"{error.get('code', 'ERROR')}: "
                                f"{error.get('message', self.final.get('summary'))}")
        failure.code = str(error.get("code", "ERROR"))
        return failure

    def to_json(self) -> Any:
        """The final as received."""
        return self.final

    def to_text(self) -> str:
        """The rest of the reply: all of it when nothing streamed, or when the stream
        joined late and missed its start; just the line end otherwise."""
        if not self.streamed:  # a stored final: nothing was streamed this time
            return self.reply
        if self.streamed != self.reply:
            return "\n" + self.reply
        return ""


def agent(ns: argparse.Namespace) -> int:
    """Run one agent turn; stream the reply; print the final (exit 1 on an error final)."""
    from openclaw.client.sync import GatewayClient

    message = read_message(ns)
    key = ns.idempotency_key
    generated = not key
    if not key:
        import secrets

        key = secrets.token_hex(16)
    params = _params(ns, message, key)
    target = resolve_target(ns)
    as_json = wants_json(ns)
    streaming = not as_json and not ns.no_wait
    printed: list[str] = []
    accepted: list[bool] = []

    def on_accepted(payload: Any) -> None:
        if not accepted and generated and streaming:
            sys.stderr.write(f"run id: {key}\n")
            sys.stderr.flush()
        accepted.append(True)

    def on_event(frame: dict[str, Any]) -> None:
        payload = frame.get("payload") or {}
        if frame.get("event") != "agent" or payload.get("runId") != key or not streaming:
            return
        if payload.get("stream") == "assistant":
            text = str((payload.get("data") or {}).get("text", ""))
            printed.append(text)
            sys.stdout.write(text)
            sys.stdout.flush()

    with GatewayClient(target.url, token=target.token, password=target.password,
                       timeout=10.0, on_event=on_event) as client:
        if ns.no_wait:
            return emit(NoWaitResult(client.call("agent", params, timeout=30)), as_json)
        try:
            # No client-side deadline: the gateway ends every run (its deadline, abort or
            # shutdown) and ticks prove it is alive meanwhile.
            final = client.call("agent", params, timeout=None, expect_final=True,
                                on_interim=on_accepted)
        except GatewayUnreachable as exc:
            if accepted:
                exc.hint = (f"the run {key} goes on in the gateway; ask for its answer "
                            f"again with --idempotency-key {key}")
            raise
        except KeyboardInterrupt:
            if ns.abort_on_interrupt or _ask_abort():
                answer = client.call("agent.abort", {"runId": key}, timeout=10)
                done = "aborted" if answer.get("aborted") else "had already ended"
                interrupted = OpenClawError(f"run {key} {done}")
            else:
                interrupted = OpenClawError(f"run {key} continues on the gateway; ask for "
                                            f"it again with --idempotency-key {key}")
            interrupted.code, interrupted.exit_code = "INTERRUPTED", ExitCode.INTERRUPTED
            if streaming:
                sys.stderr.write("\n")
            return emit_error(interrupted, as_json)
    if printed:
        sys.stdout.write("\n")  # the end of the streamed reply
    result = AgentResult(final, "".join(printed))
    status = emit(result, as_json)
    if not as_json:
        if result.offline:
            sys.stderr.write("(offline built-in model: configure agents.defaults.model for a "
                             "real one)\n")
        failure = result.error()
        if failure is not None:
            return emit_error(failure, False)
    return status
