"""Agent runs: one per ``agent`` request, keyed by its idempotency key (= runId).

A run is accepted (recorded) at once, then waits for its session's turn: runs of
one session go one at a time, in order, so a transcript never interleaves. It
streams the model's reply as ``agent`` events and ends with a final answer that is
stored, so the same key always gets the same final, also after a restart. Every
run has a server-side deadline; ``agent.abort`` and shutdown end runs early with a
stored final too, so nobody waits forever on a run that cannot finish. A run does
not belong to the connection that asked for it: the client may go away and come
back to ``agent.wait``.

A run may use tools: the model is offered the :class:`~openclaw.agent.tools.ToolBox`'s
tools, and a turn loops model → tools → model until the model answers without asking
for a tool, or ``agents.defaults.maxToolSteps`` model calls have asked for tools (the
next call is offered none, so it answers). Each call is streamed as an ``agent`` event
of stream ``tool`` (phase ``start`` with the arguments, then ``result``) and stored in
the transcript as a ``tool`` turn between the user's message and the reply. The
workspace's bootstrap files are part of every run's system prompt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openclaw.agent.providers.base import (
    Completion,
    Delta,
    Message,
    Provider,
    ProviderError,
    ToolCall,
    ToolSpec,
)
from openclaw.agent.store import RunStore, SessionStore
from openclaw.agent.tools import ToolBox, ToolContext
from openclaw.backoff import Backoff
from openclaw.clock import now_ms
from openclaw.config import Config
from openclaw.errors import OpenClawError, UsageError
from openclaw.protocol.errors import WireError, error_from
from openclaw.store.db import DiskFull

__all__ = ["AgentRuntime", "Deliver", "Run"]

#: ``deliver(key, to, text, channel, account)`` → the ``send`` result.
Deliver = Callable[[str, str, str, "str | None", "str | None"],
                   Awaitable[dict[str, Any]]]

log = logging.getLogger("openclaw.agent")

RETRIES = 2  # provider retries when nothing was streamed yet



@dataclass
class Run:
    """A run in this process."""

    run_id: str
    session_key: str
    message: str
    model_ref: str
    timeout_s: float
    extra_system: str | None
    accepted_at: int
    final: asyncio.Future[dict[str, Any]]
    task: asyncio.Task[None] | None = None
    seq: int = 0
    started_at: int | None = None
    text: list[str] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)
    abort_reason: str | None = None
    deliver: tuple[str, str | None, str | None] | None = None  # (to, channel, account)
    resumable: bool = False  # cut short by a stop: run again at the next start
    resumed: bool = False  # accepted by a previous process that died before its final
    tool_turns: list[dict[str, Any]] = field(default_factory=list)  # stored with the reply


class AgentRuntime:
    """Accepts, runs, streams, stores and answers agent runs."""

    def __init__(self, runs: RunStore, sessions: SessionStore, config: Config,
                 environ: Mapping[str, str], emit: Callable[[dict[str, Any]], None],
                 deliver: Deliver | None = None,
                 session_model: Callable[[str], str | None] | None = None,
                 tools: ToolBox | None = None,
                 system_extra: Callable[[], str] | None = None) -> None:
        self.runs = runs
        self.sessions = sessions
        self.config = config
        self.defaults = config.agents.defaults
        self.environ = environ
        self.emit_event = emit
        self.deliver = deliver
        #: The session's model override (``sessions.patch``), used when a run names none.
        self.session_model = session_model or (lambda _key: None)
        self.active: dict[str, Run] = {}
        #: The tools runs may call (none: the model is offered no tools).
        self.tools = tools or ToolBox()
        #: More system prompt, read at each run (the workspace's bootstrap files).
        self.system_extra = system_extra or (lambda: "")
        #: Delays between provider retries; ``delay(n)`` only (runs retry concurrently).
        self.backoff = Backoff(base=1.0, cap=30.0)
        self._locks: dict[str, asyncio.Lock] = {}
        self._providers: dict[str, Provider] = {}
        self.stopping = False

    # ------------------------------------------------------------------ providers

    def provider_for(self, model_ref: str) -> tuple[Provider, str]:
        """The provider and model name of ``"<provider>/<model>"``.

        Raises:
            UsageError: the reference or the provider's config cannot be used.
        """
        from openclaw.agent.providers.registry import build_provider, parse_model_ref

        try:
            provider_id, model = parse_model_ref(model_ref)
            provider = self._providers.get(provider_id)
            if provider is None:
                provider = build_provider(provider_id, self.config, self.environ)
                self._providers[provider_id] = provider
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return provider, model

    def describe(self) -> dict[str, Any]:
        """The default model and its provider, for ``status`` (never a key)."""
        ref = self.defaults.model
        try:
            provider, _ = self.provider_for(ref)
        except UsageError as exc:
            return {"model": ref, "error": exc.message}
        return {"model": ref, "provider": provider.describe(),
                "offline": provider.api == "offline"}

    # ------------------------------------------------------------------ requests

    def submit(self, run_id: str, message: str, *, session_key: str | None = None,
               timeout_s: float | None = None, model: str | None = None,
               extra_system: str | None = None,
               deliver: tuple[str, str | None, str | None] | None = None,
               resumable: bool = False) -> tuple[str, Run | dict[str, Any]]:
        """Start (or find) run ``run_id``.

        Returns ``("accepted", run)`` for a new run, ``("in_flight", run)`` for one
        already running here, or ``("final", payload)`` for one that has ended.
        """
        run = self.active.get(run_id)
        if run is not None:
            return "in_flight", run
        stored = self.runs.get(run_id)
        if stored is not None and stored["final"] is not None:
            return "final", stored["final"]
        if self.stopping:
            raise WireError("UNAVAILABLE", "the gateway is stopping; retry with the same "
                               "idempotencyKey after it restarts", retryable=True)
        key = session_key or "main"
        model_ref = model or self.session_model(key) or self.defaults.model
        self.provider_for(model_ref)  # refuse a bad model before accepting the run
        if deliver is not None and self.deliver is None:
            raise UsageError("deliver needs a channel: none is configured")
        request = {"message": message, "sessionKey": key, "model": model_ref,
                   "timeout": timeout_s, "extraSystemPrompt": extra_system,
                   "deliver": list(deliver) if deliver else None}
        accepted_at = self.runs.accept(run_id, key, request)
        run = Run(run_id, key, message, model_ref,
                  float(timeout_s or self.defaults.timeout_seconds), extra_system,
                  accepted_at, asyncio.get_running_loop().create_future())
        run.final.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        run.deliver = deliver
        run.resumable = resumable
        run.resumed = stored is not None
        self.active[run_id] = run
        run.task = asyncio.get_running_loop().create_task(self._execute(run),
                                                          name=f"agent {run_id[:40]}")
        return "accepted", run

    async def wait(self, run_id: str, timeout_ms: int | None) -> dict[str, Any]:
        """``agent.wait``: the run's end, or ``status: "timeout"`` if it does not end in
        time (the run itself keeps going)."""
        run = self.active.get(run_id)
        if run is not None:
            try:
                final = await asyncio.wait_for(
                    asyncio.shield(run.final),
                    None if timeout_ms is None else timeout_ms / 1000)
            except TimeoutError:
                return {"runId": run_id, "status": "timeout", "startedAt": run.started_at}
            return self._wait_answer(run_id, final)
        stored = self.runs.get(run_id)
        if stored is None:
            raise UsageError(f"unknown runId: {run_id!r}")
        if stored["final"] is None:
            return {"runId": run_id, "status": "timeout", "startedAt": stored["startedAt"]}
        return self._wait_answer(run_id, stored["final"])

    def _wait_answer(self, run_id: str, final: dict[str, Any]) -> dict[str, Any]:
        stored = self.runs.get(run_id) or {}
        answer = {"runId": run_id, "status": final.get("status"),
                  "startedAt": stored.get("startedAt"), "endedAt": stored.get("endedAt")}
        if final.get("error"):
            answer["error"] = final["error"]
        return answer

    def abort(self, run_id: str, reason: str = "aborted by request") -> dict[str, Any]:
        """``agent.abort``: end a run now (its final says it was aborted)."""
        run = self.active.get(run_id)
        if run is None or run.task is None or run.task.done():
            if self.runs.get(run_id) is None:
                raise UsageError(f"unknown runId: {run_id!r}")
            return {"ok": True, "aborted": False}
        run.abort_reason = reason
        run.task.cancel()
        return {"ok": True, "aborted": True}

    # ------------------------------------------------------------------ execution

    def _emit(self, run: Run, stream: str, data: dict[str, Any]) -> None:
        run.seq += 1
        self.emit_event({"runId": run.run_id, "seq": run.seq, "stream": stream,
                         "ts": now_ms(), "data": data})

    def _context(self, run: Run) -> list[Message]:
        messages: list[Message] = []
        system = "\n\n".join(p for p in (self.defaults.system_prompt, self.system_extra(),
                                          run.extra_system) if p)
        if system:
            messages.append(Message("system", system))
        for role, text in self.sessions.context(run.session_key, self.defaults.context_turns,
                                                self.defaults.context_chars):
            messages.append(Message("user" if role == "user" else "assistant", text))
        messages.append(Message("user", run.message))
        return messages

    async def _execute(self, run: Run) -> None:
        lock = self._locks.setdefault(run.session_key, asyncio.Lock())
        final: dict[str, Any]
        try:
            async with lock:
                run.started_at = self.runs.start(run.run_id)
                self._emit(run, "lifecycle", {"phase": "start", "sessionKey": run.session_key,
                                              "model": run.model_ref})
                started = time.monotonic()
                stored = (self.sessions.stored_reply(run.session_key, run.run_id)
                          if run.resumed else None)
                try:
                    if stored is not None:
                        completion = self._replay(run, stored)
                    else:
                        async with asyncio.timeout(run.timeout_s):
                            completion = await self._call_model(run)
                except TimeoutError:
                    final = self._error_final(
                        run, "AGENT_TIMEOUT",
                        f"the run did not finish within its {run.timeout_s:g}s deadline")
                except ProviderError as exc:
                    final = self._error_final(run, "UNAVAILABLE", exc.message,
                                              {"kind": exc.kind, "status": exc.status})
                else:
                    text = "".join(run.text)
                    if stored is None:
                        self.sessions.add_exchange(run.session_key, run.message, text,
                                                   run.run_id, run.tool_turns)
                    provider, _ = self.provider_for(run.model_ref)
                    final = {
                        "runId": run.run_id, "status": "ok",
                        "summary": text[:200],
                        "result": {"payloads": [{"text": text}], "meta": {
                            "durationMs": int((time.monotonic() - started) * 1000),
                            "model": completion.model, "provider": provider.id,
                            "offline": provider.api == "offline",
                            "usage": completion.usage, "stopReason": completion.stop_reason,
                        }},
                    }
                    if stored is not None:
                        final["result"]["meta"]["resumed"] = True
                    if run.deliver is not None and self.deliver is not None:
                        final["deliveryStatus"] = await self._deliver(run, text)
        except asyncio.CancelledError:
            reason = run.abort_reason or "the gateway is stopping"
            final = self._error_final(run, "ABORTED", f"run aborted: {reason}")
            if run.resumable and self.stopping:  # left unfinished: it runs again after start
                self._flush(run)
                self._emit(run, "lifecycle", {"phase": "error", "error": final["error"]})
                self.active.pop(run.run_id, None)
                if not run.final.done():
                    run.final.set_result(final)
                return
        except OpenClawError as exc:  # e.g. a full disk: the run cannot be recorded
            log.warning("agent run %s failed: %s", run.run_id, exc.message)
            final = self._error_final(run, exc.code, exc.message, exc.details)
        except Exception as exc:  # a bug must still give the run a final
            log.exception("agent run %s failed", run.run_id)
            final = self._error_final(run, "UNAVAILABLE", f"internal error: {exc}")
        self._finish(run, final)

    def _replay(self, run: Run, reply: str) -> Completion:
        """A resumed run whose exchange a dead process stored: its reply again, streamed
        as one piece, without asking the model (which could answer differently from what
        the transcript, and maybe the chat, already has)."""
        _, model = self.provider_for(run.model_ref)
        run.text.append(reply)
        self._stream(run, reply)
        log.info("agent run %s: its reply was stored before the restart; not asking the "
                 "model again", run.run_id)
        return Completion(model, {}, None)

    async def _deliver(self, run: Run, text: str) -> dict[str, Any]:
        """Send the reply through the channel, idempotently (key ``reply:<runId>``), so a
        run finished twice (a retry after a crash) never posts twice."""
        assert run.deliver is not None and self.deliver is not None
        to, channel, account = run.deliver
        try:
            result = await self.deliver(f"reply:{run.run_id}", to, text, channel, account)
        except OpenClawError as exc:
            return {"status": "failed", "error": error_from(exc)}
        return {"status": "sent", **result}

    def _error_final(self, run: Run, code: str, message: str,
                     details: dict[str, Any] | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": code, "message": message}
        if details:
            error["details"] = details
        partial = "".join(run.text)
        return {"runId": run.run_id, "status": "error", "summary": message, "error": error,
                "result": {"payloads": [{"text": partial}] if partial else [], "meta": {}}}

    def _stream(self, run: Run, text: str) -> None:
        """Queue a delta; deltas that arrive in one loop iteration go out as one event.

        Every event is a frame to every reading client, so a provider that yields
        word by word would otherwise cost a frame per word per client.
        """
        run.unsent.append(text)
        if len(run.unsent) == 1:
            asyncio.get_running_loop().call_soon(self._flush, run)

    def _flush(self, run: Run) -> None:
        if run.unsent:
            text, run.unsent[:] = "".join(run.unsent), []
            self._emit(run, "assistant", {"text": text})

    def _finish(self, run: Run, final: dict[str, Any]) -> None:
        self._flush(run)  # every delta before the lifecycle end
        try:
            ended = self.runs.finish(run.run_id, final)
        except DiskFull as exc:  # waiters still get the final; a restart marks it interrupted
            log.warning("agent run %s: its final cannot be stored: %s", run.run_id, exc.message)
            ended = now_ms()
        phase = "end" if final["status"] == "ok" else "error"
        data: dict[str, Any] = {"phase": phase, "endedAt": ended}
        if final.get("error"):
            data["error"] = final["error"]
        self._emit(run, "lifecycle", data)
        self.active.pop(run.run_id, None)
        if not run.final.done():
            run.final.set_result(final)

    async def _call_model(self, run: Run) -> Completion:
        """The turn's model calls and tool calls; the last call's Completion (usage
        summed over every call)."""
        provider, model = self.provider_for(run.model_ref)
        messages = self._context(run)
        specs = self.tools.specs()
        usage: dict[str, int] = {}
        step = 0
        while True:
            offered = specs if step < self.defaults.max_tool_steps else []
            completion, text, calls = await self._model_step(run, provider, model, messages,
                                                             offered)
            for name, value in completion.usage.items():
                usage[name] = usage.get(name, 0) + value
            step += 1
            if not calls or not offered:
                return Completion(completion.model, usage, completion.stop_reason)
            self._flush(run)  # the text so far goes out before the tool events
            messages.append(Message("assistant", text, tool_calls=tuple(calls)))
            for call in calls:
                messages.append(await self._run_tool(run, call))

    async def _model_step(self, run: Run, provider: Provider, model: str,
                          messages: list[Message], tools: list[ToolSpec]
                          ) -> tuple[Completion, str, list[ToolCall]]:
        """One model call, retried while it has streamed nothing: its Completion, its
        text and the tools it asked for."""
        attempt = 0
        while True:
            attempt += 1
            text: list[str] = []
            calls: list[ToolCall] = []
            try:
                completion: Completion | None = None
                async for item in provider.stream(model, messages, timeout_s=run.timeout_s,
                                                  max_tokens=self.defaults.max_tokens,
                                                  tools=tools):
                    if isinstance(item, Delta):
                        if item.text:
                            text.append(item.text)
                            run.text.append(item.text)
                            self._stream(run, item.text)
                    elif isinstance(item, ToolCall):
                        calls.append(item)
                    else:
                        completion = item
                if completion is None:
                    raise ProviderError("malformed", f"{provider.id}: the stream ended early")
                return completion, "".join(text), calls
            except ProviderError as exc:
                if not exc.retryable or text or calls or attempt > RETRIES:
                    raise
                delay = self.backoff.delay(attempt - 1, exc.retry_after_s)
                log.warning("agent run %s: %s; retrying in %.1fs", run.run_id, exc.message, delay)
                await asyncio.sleep(delay)

    async def _run_tool(self, run: Run, call: ToolCall) -> Message:
        """Run one tool call, stream it, keep it for the transcript; the result message."""
        self._emit(run, "tool", {"phase": "start", "name": call.name, "toolCallId": call.id,
                                 "args": self.tools.redactor.redact_value(call.arguments)})
        outcome = await self.tools.call(call, ToolContext(run.run_id, run.session_key, call.id))
        self._emit(run, "tool", {"phase": "result", "name": call.name, "toolCallId": call.id,
                                 "isError": outcome.is_error, "result": outcome.content,
                                 "durationMs": outcome.duration_ms})
        run.tool_turns.append({"text": outcome.content, "meta": {
            "toolCallId": call.id, "toolName": call.name,
            "args": self.tools.redactor.redact_value(call.arguments),
            "isError": outcome.is_error, "durationMs": outcome.duration_ms}})
        return Message("tool", outcome.content, tool_call_id=call.id, tool_name=call.name,
                       is_error=outcome.is_error)

    # ------------------------------------------------------------------ lifecycle

    def recover(self) -> int:
        """At start: runs a dead process accepted but never finished get an error final
        (except those running again already, such as answers to inbound messages)."""
        count = 0
        for run_id in self.runs.unfinished():
            if run_id in self.active:
                continue
            self.runs.finish_interrupted(run_id, {
                "runId": run_id, "status": "error",
                "summary": "the gateway stopped before this run finished",
                "error": {"code": "UNAVAILABLE",
                          "message": "the gateway stopped before this run finished; "
                                     "send the message again with a new idempotencyKey"},
                "result": {"payloads": [], "meta": {}}})
            count += 1
        return count

    async def shutdown(self, drain_s: float) -> None:
        """Let runs finish within ``drain_s``, then abort the rest with a stored final."""
        self.stopping = True
        tasks = [run.task for run in self.active.values() if run.task is not None]
        if tasks:
            log.info("waiting up to %.1fs for %d agent run(s)", drain_s, len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=drain_s)
            for run in list(self.active.values()):
                self.abort(run.run_id, "the gateway is stopping")
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        for provider in self._providers.values():
            await provider.close()
        await self.tools.close()
