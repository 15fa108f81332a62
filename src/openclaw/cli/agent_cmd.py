"""``openclaw agent``: one agent turn through the gateway, streamed to the terminal.

The run belongs to the gateway, not to this process: ``--no-wait`` prints the run
id and leaves, a lost connection or Ctrl-C does not stop the run (unless you say
so), and asking again with the same ``--idempotency-key`` returns the stored
answer rather than running twice.
"""

from __future__ import annotations

import sys

from openclaw.cli.common import print_json, resolve_target, wants_json
from openclaw.errors import EXIT_FAILURE, EXIT_INTERRUPTED

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["agent"]

def _params(ns: argparse.Namespace, key: str) -> dict[str, Any]:
    params: dict[str, Any] = {"message": ns.message, "idempotencyKey": key}
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


def agent(ns: argparse.Namespace) -> int:
    """Run one agent turn; stream the reply; print the final (exit 1 on an error final)."""
    from openclaw.client.sync import GatewayClient

    key = ns.idempotency_key
    if not key:
        import secrets

        key = secrets.token_hex(16)
        sys.stderr.write(f"run id: {key}\n")
    params = _params(ns, key)
    target = resolve_target(ns)
    streaming = not wants_json(ns) and not ns.no_wait
    printed: list[str] = []

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
            accepted = client.call("agent", params, timeout=30)
            if wants_json(ns):
                print_json(accepted)
            else:
                sys.stdout.write(f"{accepted.get('runId')} {accepted.get('status')}\n")
            return 0
        try:
            # No client-side deadline: the gateway ends every run (its deadline, abort or
            # shutdown) and ticks prove it is alive meanwhile.
            final = client.call("agent", params, timeout=None, expect_final=True)
        except KeyboardInterrupt:
            if ns.abort_on_interrupt or _ask_abort():
                answer = client.call("agent.abort", {"runId": key}, timeout=10)
                done = "aborted" if answer.get("aborted") else "had already ended"
                sys.stderr.write(f"\nopenclaw: run {key} {done}\n")
            else:
                sys.stderr.write(f"\nopenclaw: run {key} continues on the gateway; ask for "
                                 f"it again with --idempotency-key {key}\n")
            return EXIT_INTERRUPTED
    return _report(ns, final, printed)


def _report(ns: argparse.Namespace, final: dict[str, Any], printed: list[str]) -> int:
    if wants_json(ns):
        print_json(final)
    else:
        text = "".join(str(p.get("text", ""))
                       for p in (final.get("result") or {}).get("payloads") or [])
        shown = "".join(printed)
        if not shown:  # a stored final: nothing was streamed this time
            sys.stdout.write(text)
        elif shown != text:  # joined a run late and missed its start: show it whole
            sys.stdout.write("\n" + text)
        sys.stdout.write("\n")
        meta = (final.get("result") or {}).get("meta") or {}
        if meta.get("offline"):
            sys.stderr.write("(offline built-in model: configure agents.defaults.model for a "
                             "real one)\n")
    if final.get("status") != "ok":
        error = final.get("error") or {}
        sys.stderr.write(f"openclaw: {error.get('code', 'ERROR')}: "
                         f"{error.get('message', final.get('summary'))}\n")
        return EXIT_FAILURE
    return 0
