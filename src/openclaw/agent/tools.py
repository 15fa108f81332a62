"""The tools an agent run may call, and the one way they are called.

A :class:`Tool` is a :class:`~openclaw.agent.providers.base.ToolSpec` (name,
description, JSON Schema parameters, as offered to the model) and an async handler
taking the parsed arguments and a :class:`ToolContext`. :class:`ToolBox` holds a
run's tools and calls them for the runtime: it checks the arguments against the
schema's ``required`` and property ``type`` s, runs the handler, and turns every
failure (a :class:`ToolError`, a bad argument, an unknown tool, a bug) into an error
result for the model, never an exception for the run. Results are capped in size and
secrets are masked before they reach the model, the transcript or the log; every
call is logged with its duration and outcome.

Tool output is data: it goes back to the model as a tool result and is stored as
such; nothing in it is ever interpreted by the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from openclaw.agent.providers.base import ToolCall, ToolSpec
from openclaw.errors import OpenClawError
from openclaw.redact import Redactor

__all__ = ["Tool", "ToolBox", "ToolContext", "ToolError", "ToolHandler", "ToolOutcome"]

log = logging.getLogger("openclaw.agent.tools")

#: Characters of one tool result kept (for the model and the transcript).
MAX_RESULT_CHARS: Final = 50_000
_JSON_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,),
}


class ToolError(OpenClawError):
    """A tool refused or failed; its message is the error result the model gets."""


@dataclass(frozen=True)
class ToolContext:
    """Who is calling: the run, its session, the call's id (an idempotency handle)."""

    run_id: str
    session_key: str
    call_id: str


ToolHandler = Callable[[dict[str, Any], ToolContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    """A tool: what the model is told, and the handler that does the work."""

    spec: ToolSpec
    handler: ToolHandler


@dataclass(frozen=True)
class ToolOutcome:
    """A call's result as the model and the transcript see it."""

    content: str
    is_error: bool
    duration_ms: int


class ToolBox:
    """The tools of the agent, by name (see the module docstring)."""

    def __init__(self, tools: Iterable[Tool] = (), redactor: Redactor | None = None,
                 max_result_chars: int = MAX_RESULT_CHARS) -> None:
        self.tools: dict[str, Tool] = {tool.spec.name: tool for tool in tools}
        self.redactor = redactor or Redactor()
        self.max_result_chars = max_result_chars
        #: Called by :meth:`close` (tools that keep something running, such as
        #: background commands).
        self.closers: list[Callable[[], Awaitable[None]]] = []

    async def close(self) -> None:
        """Release what the tools hold (the gateway is stopping)."""
        for closer in self.closers:
            await closer()

    def add(self, tool: Tool) -> None:
        """Offer one more tool (a later one of the same name replaces the earlier)."""
        self.tools[tool.spec.name] = tool

    def specs(self) -> list[ToolSpec]:
        """What the model is offered, in a stable order."""
        return [self.tools[name].spec for name in sorted(self.tools)]

    async def call(self, call: ToolCall, context: ToolContext) -> ToolOutcome:
        """Run ``call``; every failure is an error outcome (cancellation still ends the
        run: an aborted run must not carry on)."""
        started = time.monotonic()
        is_error = True
        try:
            tool = self.tools.get(call.name)
            if call.error is not None:
                content = f"error: {call.error}"
            elif tool is None:
                known = ", ".join(sorted(self.tools)) or "none"
                content = f"error: unknown tool {call.name!r} (tools: {known})"
            else:
                problem = check_arguments(tool.spec.parameters, call.arguments)
                if problem is not None:
                    content = f"error: {problem}"
                else:
                    content = await tool.handler(call.arguments, context)
                    is_error = False
        except ToolError as exc:
            content = f"error: {exc.message}"
        except asyncio.CancelledError:
            log.info("tool %s (%s) in run %s: cancelled after %dms", call.name, call.id,
                     context.run_id, int((time.monotonic() - started) * 1000))
            raise
        except Exception as exc:  # a tool's bug is the model's error result, not the run's
            log.exception("tool %s failed in run %s", call.name, context.run_id)
            content = f"error: the tool failed: {type(exc).__name__}: {exc}"
        content = self.redactor.redact(content)
        if len(content) > self.max_result_chars:
            content = (content[:self.max_result_chars]
                       + f"\n… [cut: {len(content) - self.max_result_chars} more characters]")
        duration = int((time.monotonic() - started) * 1000)
        log.info("tool %s (%s) in run %s: %s in %dms", call.name, call.id, context.run_id,
                 "error" if is_error else "ok", duration)
        return ToolOutcome(content, is_error, duration)


def check_arguments(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """Why ``arguments`` do not fit ``schema`` (required keys, property types), or None.

    Deliberately shallow: the handlers check values; this catches a model that left
    out an argument or sent the wrong kind of value, with a message it can act on.
    """
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if name not in arguments:
            return f"missing required argument {name!r}"
    for name, value in arguments.items():
        spec = properties.get(name)
        if not isinstance(spec, dict) or "type" not in spec:
            continue
        kinds = _JSON_TYPES.get(str(spec["type"]))
        if kinds is None:
            continue
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if wrong_bool or not isinstance(value, kinds):
            return f"argument {name!r} must be of type {spec['type']}"
    return None
