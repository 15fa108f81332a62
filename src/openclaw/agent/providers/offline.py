"""The offline built-in model: deterministic replies, no network, no key.

It is what ``agents.defaults.model`` points at out of the box (``offline/echo``), so a
fresh gateway answers chat messages before any provider is configured, and tests get
exact, repeatable output. Nothing about it pretends to be a real model: every reply
says ``(offline model)``, the Completion's model is ``offline/<model>``, and the
provider's ``api`` is ``"offline"`` (``status`` shows it).

Tools: when tools are offered and the last user message asks in one of these
recognisable forms, the model calls the tool instead of answering (one call, id
``offline_<n>``), and once the last message is that tool's result it answers with the
result:

* ``run `CMD` `` (or ``run: CMD``, ``exec `CMD` ``) → ``exec {command}``;
* ``read PATH`` → ``read {path}``;
* ``write PATH: TEXT`` → ``write {path, content}``;
* ``edit PATH: OLD -> NEW`` → ``edit {path, oldText, newText}``;
* ``remind me in N minutes to TEXT`` (``s``/``m``/``h``) → ``cron {action: add, in,
  message: "Reminder: TEXT"}``.

Otherwise, rules applied to the last user message:

* a simple arithmetic question (``what is 2+3``, ``calculate (1.5 + 2) * 4``, or a bare
  expression) is answered with its value, computed by walking the parsed expression:
  numbers, parentheses and ``+ - * /`` only, so nothing is ever executed;
* a greeting (``hi``, ``hello``, ...) is answered with a greeting that says what this
  model is and how to configure a real one;
* anything else is echoed: ``(offline model) You said: <text>``.

The reply is streamed word by word, yielding to the event loop every few words so a
long echo never starves other tasks; token counts are word counts.
"""

from __future__ import annotations

import ast
import asyncio
import math
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from openclaw.agent.providers.base import Completion, Delta, Message, ToolCall, ToolSpec

__all__ = ["OfflineProvider", "evaluate_arithmetic", "offline_reply", "offline_tool_call"]

LABEL: Final = "(offline model)"
_WORDS_PER_YIELD: Final = 3
_MAX_EXPRESSION: Final = 200  # characters; longer input is echoed, never evaluated
_QUESTION = re.compile(
    r"^\s*(?:what\s+is|what's|whats|calculate|compute|evaluate|eval)\s+(?P<expr>.+?)"
    r"[\s?!.=]*$", re.IGNORECASE | re.DOTALL)
_BARE_EXPRESSION = re.compile(r"^[\d\s.+\-*/×÷()]*\d[\d\s.+\-*/×÷()]*[+\-*/×÷][\d\s.()]*\d"
                              r"[\d\s.()]*[\s?=]*$")
_WORD_OPERATORS: Final = ((re.compile(r"\s+plus\s+", re.I), " + "),
                          (re.compile(r"\s+minus\s+", re.I), " - "),
                          (re.compile(r"\s+(?:times|multiplied\s+by)\s+", re.I), " * "),
                          (re.compile(r"\s+(?:divided\s+by|over)\s+", re.I), " / "))
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|hiya|howdy|hallo|good\s+(?:morning|afternoon|"
                       r"evening))\b", re.IGNORECASE)
_PIECE = re.compile(r"\s*\S+\s*")
_TOOL_REQUESTS: Final = (
    (re.compile(r"^\s*(?:please\s+)?(?:run|exec|execute)\s*(?::\s*(?P<a>.+?)|`(?P<b>[^`]+)`)\s*$",
                re.IGNORECASE | re.DOTALL), "exec"),
    (re.compile(r"^\s*(?:please\s+)?read\s+(?P<path>\S+?)[\s.?!]*$", re.IGNORECASE), "read"),
    (re.compile(r"^\s*(?:please\s+)?write\s+(?P<path>[^\s:]+)\s*:\s?(?P<content>.*)$",
                re.IGNORECASE | re.DOTALL), "write"),
    (re.compile(r"^\s*(?:please\s+)?edit\s+(?P<path>[^\s:]+)\s*:\s?(?P<old>.+?)\s+->\s+"
                r"(?P<new>.*)$", re.IGNORECASE | re.DOTALL), "edit"),
    (re.compile(r"^\s*(?:please\s+)?remind\s+me\s+in\s+(?P<n>\d+)\s*(?P<unit>s|secs?|seconds?|"
                r"m|mins?|minutes?|h|hours?)\s+to\s+(?P<what>.+?)[\s.!]*$",
                re.IGNORECASE | re.DOTALL), "cron"),
)
_RESULT_CHARS: Final = 2000  # of a tool result quoted in the answer

GREETING_REPLY: Final = (
    f"Hello! {LABEL} I am the built-in offline model: I need no network or API key, "
    "and I can only greet, do simple arithmetic and repeat what you say. Set "
    "agents.defaults.model to a real model (for example openai/gpt-4o-mini) for more.")


class OfflineProvider:
    """The built-in ``offline`` provider (api ``"offline"``): see the module docstring.

    ``timeout_s`` is accepted and ignored (a reply takes microseconds); ``max_tokens``
    truncates the reply to that many words, ending with stop reason ``max_tokens``.
    """

    api = "offline"

    def __init__(self, id: str = "offline") -> None:
        self.id = id

    def __repr__(self) -> str:
        return f"OfflineProvider(id={self.id!r})"

    def describe(self) -> dict[str, Any]:
        """``{id, api, baseUrl: None, keySource: "none"}``: nothing leaves the process."""
        return {"id": self.id, "api": self.api, "baseUrl": None, "keySource": "none"}

    async def close(self) -> None:
        """Nothing to release."""

    async def stream(self, model: str, messages: list[Message], *, timeout_s: float,
                     max_tokens: int | None = None, tools: Sequence[ToolSpec] = (),
                     ) -> AsyncIterator[Delta | ToolCall | Completion]:
        """Yield the reply as word Deltas (or one ToolCall), then a Completion
        ``offline/<model>``."""
        usage = {"inputTokens": sum(len(m.content.split()) for m in messages),
                 "outputTokens": 0}
        call = offline_tool_call(messages, {tool.name for tool in tools})
        if call is not None:
            yield call
            usage["outputTokens"] = 1
            yield Completion(model=f"offline/{model}", usage=usage, stop_reason="tool_use")
            return
        pieces = _PIECE.findall(offline_reply(messages))
        stop_reason = "end_turn"
        if max_tokens is not None and len(pieces) > max_tokens:
            pieces, stop_reason = pieces[:max(max_tokens, 0)], "max_tokens"
        for index, piece in enumerate(pieces):
            if index and index % _WORDS_PER_YIELD == 0:
                await asyncio.sleep(0)
            yield Delta(piece)
        usage["outputTokens"] = len(pieces)
        yield Completion(model=f"offline/{model}", usage=usage, stop_reason=stop_reason)


def offline_tool_call(messages: list[Message], tools: set[str]) -> ToolCall | None:
    """The tool call the offline model makes for ``messages``, if any: only when the
    last message is the user's, asks in a recognised form, and that tool is offered."""
    if not messages or messages[-1].role != "user" or not tools:
        return None
    text = messages[-1].content
    for pattern, name in _TOOL_REQUESTS:
        match = pattern.match(text)
        if match is None or name not in tools:
            continue
        found = match.groupdict()
        if name == "exec":
            arguments: dict[str, object] = {"command": (found["a"] or found["b"]).strip()}
        elif name == "read":
            arguments = {"path": found["path"]}
        elif name == "cron":
            arguments = {"action": "add", "in": found["n"] + found["unit"][0].lower(),
                         "message": f"Reminder: {found['what']}", "name": "reminder"}
        elif name == "write":
            arguments = {"path": found["path"], "content": found["content"]}
        else:
            arguments = {"path": found["path"], "oldText": found["old"], "newText": found["new"]}
        return ToolCall(f"offline_{len(messages)}", name, arguments)
    return None


def offline_reply(messages: list[Message]) -> str:
    """The whole reply the offline model gives to ``messages`` (deterministic)."""
    if messages and messages[-1].role == "tool":
        last = messages[-1]
        result = last.content if len(last.content) <= _RESULT_CHARS else (
            last.content[:_RESULT_CHARS] + " …")
        verdict = "failed" if last.is_error else "returned"
        return f"{LABEL} The {last.tool_name or 'tool'} tool {verdict}: {result}"
    text = next((m.content.strip() for m in reversed(messages) if m.role == "user"), "")
    if not text:
        return f"{LABEL} There is no message to answer."
    expression = _expression(text)
    if expression is not None:
        try:
            shown, value = evaluate_arithmetic(expression)
        except ZeroDivisionError:
            return f"{LABEL} I cannot divide by zero."
        except ValueError:
            pass
        else:
            return f"{LABEL} {shown} = {value}"
    if _GREETING.match(text):
        return GREETING_REPLY
    return f"{LABEL} You said: {text}"


def _expression(text: str) -> str | None:
    if len(text) > _MAX_EXPRESSION:
        return None
    match = _QUESTION.match(text)
    if match:
        return match["expr"]
    if _BARE_EXPRESSION.match(text):
        return text.rstrip(" ?=\t\n")
    return None


def evaluate_arithmetic(expression: str) -> tuple[str, str]:
    """``(normalized expression, value)`` of a ``+ - * /`` expression on numbers.

    The text is parsed with :mod:`ast` and the tree walked here; any other node (a
    name, a call, ``**``) is refused, so evaluating never runs code or explodes in
    size. Integral results print without a decimal point; others with 12
    significant digits.

    Raises:
        ValueError: not such an expression (or its value is not finite).
        ZeroDivisionError: it divides by zero.
    """
    text = expression.replace("×", "*").replace("÷", "/")
    for pattern, operator in _WORD_OPERATORS:
        text = pattern.sub(operator, text)
    if len(text) > _MAX_EXPRESSION:
        raise ValueError("expression too long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValueError("not an arithmetic expression") from None
    if not isinstance(tree.body, (ast.BinOp, ast.UnaryOp)):
        raise ValueError("not an arithmetic expression")  # a lone number is no question
    value = _evaluate(tree.body)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("the value is not finite")
        if value.is_integer() and abs(value) < 1e15:
            value = int(value)
    shown = ast.unparse(tree.body)
    return shown, (str(value) if isinstance(value, int) else f"{value:.12g}")


def _evaluate(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not (
            isinstance(node.value, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        operand = _evaluate(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        left, right = _evaluate(node.left), _evaluate(node.right)
        try:
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            return left / right
        except OverflowError:
            raise ValueError("the value is too large") from None
    raise ValueError("only numbers, parentheses and + - * / are allowed")
