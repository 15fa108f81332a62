"""Fakes for the service tests: a command runner that records and answers from a script.

launchd cannot run on these machines, and the service operations' unit tests must not
need a real systemd: every ``systemctl``/``launchctl``/``loginctl`` call goes through
:class:`~openclaw.service.runner.CommandRunner`, which this replaces.
"""

from __future__ import annotations

from collections.abc import Sequence

from openclaw.service.runner import CommandResult, CommandRunner


class RecordingRunner(CommandRunner):
    """Records every argv; answers from a script keyed by command prefix.

    Each prefix maps to a list of ``(returncode, stdout, stderr)``: they are used in
    order and the last one repeats. The longest matching prefix wins; commands
    without a script succeed with no output.
    """

    def __init__(self, script: dict[tuple[str, ...], list[tuple[int, str, str]]] | None = None):
        super().__init__(env={})
        self.calls: list[tuple[str, ...]] = []
        self.script = {prefix: list(results) for prefix, results in (script or {}).items()}

    def run(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        words = tuple(argv)
        self.calls.append(words)
        for prefix in sorted(self.script, key=len, reverse=True):
            if words[: len(prefix)] == prefix:
                queue = self.script[prefix]
                code, out, err = queue.pop(0) if len(queue) > 1 else queue[0]
                return CommandResult(words, code, out, err)
        return CommandResult(words, 0, "", "")
