"""The offline built-in model: deterministic replies, no network, no key.

It is what ``agents.defaults.model`` points at out of the box (``offline/echo``), so a
fresh gateway answers chat messages before any provider is configured, and tests get
exact, repeatable output. Nothing about it pretends to be a real model: every reply
says ``(offline model)``, the Completion's model is ``offline/<model>``, and the
provider's ``api`` is ``"offline"`` (``status`` shows it).

Rules, applied to the last user message:

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
from collections.abc import AsyncIterator
from typing import Any, Final

from openclaw.agent.providers.base import Completion, Delta, Message

__all__ = ["OfflineProvider", "evaluate_arithmetic", "offline_reply"]

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
                     max_tokens: int | None = None) -> AsyncIterator[Delta | Completion]:
        """Yield the reply as word Deltas, then a Completion ``offline/<model>``."""
        pieces = _PIECE.findall(offline_reply(messages))
        stop_reason = "end_turn"
        if max_tokens is not None and len(pieces) > max_tokens:
            pieces, stop_reason = pieces[:max(max_tokens, 0)], "max_tokens"
        for index, piece in enumerate(pieces):
            if index and index % _WORDS_PER_YIELD == 0:
                await asyncio.sleep(0)
            yield Delta(piece)
        usage = {"inputTokens": sum(len(m.content.split()) for m in messages),
                 "outputTokens": len(pieces)}
        yield Completion(model=f"offline/{model}", usage=usage, stop_reason=stop_reason)


def offline_reply(messages: list[Message]) -> str:
    """The whole reply the offline model gives to ``messages`` (deterministic)."""
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
