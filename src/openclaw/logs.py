"""The gateway's file log: JSON lines, one file a day, size rotation, redaction, tail.

* :class:`FileLog` appends lines to ``<dir>/openclaw-YYYY-MM-DD.log`` (local date),
  moves to a new file at midnight, rotates by size into at most ``max_archives``
  numbered archives (``openclaw-YYYY-MM-DD.1.log`` is the newest) and deletes dated
  files older than ``retention_days``. Disk use is therefore bounded.
* Every line passes a :class:`~openclaw.redact.Redactor` (the gateway's own token
  and password, and anything that looks like a credential) before it is written
  anywhere.
* :func:`tail` is the primitive behind ``logs.tail``: read new whole lines from a
  byte cursor, with ``reset`` when the file was rotated or truncated under the
  reader and ``truncated`` when lines were skipped.
* :func:`setup_logging` wires these into the standard :mod:`logging` tree.
* :class:`BurstLog` logs the first of a burst of like events (refused connections,
  failed logins) and then one summary line per window, so an attack cannot flood the
  log or the disk one line per attempt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from openclaw.redact import Redactor

__all__ = [
    "LEVELS",
    "BurstLog",
    "FileLog",
    "TailResult",
    "setup_logging",
    "tail",
]

TRACE = 5
_SILENT = logging.CRITICAL + 10
logging.addLevelName(TRACE, "TRACE")

#: Config level names → stdlib levels.
LEVELS: dict[str, int] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "silent": _SILENT,
}
_NAMES = {
    TRACE: "trace",
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}

_DATED = re.compile(r"^openclaw-(?P<date>\d{4}-\d{2}-\d{2})(?:\.(?P<n>\d+))?\.log$")


class FileLog:
    """Append-only daily log file with size rotation and bounded archives.

    Not thread-safe on its own; :class:`JsonFileHandler` serialises access.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_file_bytes: int = 104_857_600,
        max_archives: int = 5,
        retention_days: int = 7,
        clock: Any = time.time,
    ) -> None:
        self.directory = directory
        self.max_file_bytes = max_file_bytes
        self.max_archives = max_archives
        self.retention_days = retention_days
        self._clock = clock
        self._date = ""
        self._stream: IO[bytes] | None = None
        self._size = 0
        #: Bumped each time the active file is replaced (size rotation or a new day),
        #: so a reader can tell which file its byte cursor belongs to.
        self.generation = 0
        self._places: dict[int, Path] = {}

    @property
    def current_path(self) -> Path:
        """The file being written now.

        Until the first record of a new day arrives this is still yesterday's file:
        it is the file a reader must finish, and the generation counter moves on
        only when the new file is really opened.
        """
        if self._date:
            return self._places[self.generation]
        return self.directory / f"openclaw-{self._today()}.log"

    def _today(self) -> str:
        return time.strftime("%Y-%m-%d", time.localtime(self._clock()))

    def _open(self, date: str) -> None:
        self.close()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"openclaw-{date}.log"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._stream = os.fdopen(fd, "ab", buffering=0)
        self._size = os.fstat(fd).st_size
        if date != self._date:
            if self._date:
                self.generation += 1
            self._date = date
            self._prune()
        self._places[self.generation] = path

    def _archive(self, date: str, n: int) -> Path:
        return self.directory / f"openclaw-{date}.{n}.log"

    def locate(self, generation: int) -> Path | None:
        """Where the file that was active at ``generation`` lives now (None: deleted)."""
        return self._places.get(generation)

    def _shift_places(self, date: str) -> None:
        current = self.directory / f"openclaw-{date}.log"
        for generation, path in list(self._places.items()):
            match = _DATED.match(path.name)
            if match is None or match["date"] != date:
                continue
            n = int(match["n"] or 0) + 1
            if path != current and match["n"] is None:
                continue
            if n > self.max_archives:
                del self._places[generation]
            else:
                self._places[generation] = self._archive(date, n)
        for stale in sorted(self._places)[: max(0, len(self._places) - 64)]:
            del self._places[stale]

    def _rotate(self) -> None:
        date = self._date
        self.close()
        current = self.directory / f"openclaw-{date}.log"
        self._shift_places(date)
        self.generation += 1
        if self.max_archives == 0:
            current.unlink(missing_ok=True)
        else:
            self._archive(date, self.max_archives).unlink(missing_ok=True)
            for n in range(self.max_archives - 1, 0, -1):
                older = self._archive(date, n)
                if older.exists():
                    older.rename(self._archive(date, n + 1))
            if current.exists():
                current.rename(self._archive(date, 1))
        self._open(date)

    def _prune(self) -> None:
        cutoff = time.strftime(
            "%Y-%m-%d", time.localtime(self._clock() - self.retention_days * 86400)
        )
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            match = _DATED.match(name)
            if match and match["date"] < cutoff:
                (self.directory / name).unlink(missing_ok=True)

    def write_line(self, line: str) -> None:
        """Append one line (a newline is added); roll the day or rotate first if due."""
        data = line.encode("utf-8", "replace") + b"\n"
        today = self._today()
        if self._stream is None or today != self._date:
            self._open(today)
        if self._size > 0 and self._size + len(data) > self.max_file_bytes:
            self._rotate()
        assert self._stream is not None
        self._stream.write(data)
        self._size += len(data)

    def close(self) -> None:
        """Close the current file; the next write reopens it."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _subsystem(name: str) -> str:
    return name.removeprefix("openclaw.").removeprefix("openclaw") or "openclaw"


_FORMATTER = logging.Formatter()


class JsonFileHandler(logging.Handler):
    """Writes each record as one redacted JSON object to a :class:`FileLog`."""

    def __init__(self, file_log: FileLog, redactor: Redactor) -> None:
        super().__init__()
        self.file_log = file_log
        self.redactor = redactor
        self.failing = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry: dict[str, Any] = {
                "time": _iso(record.created),
                "level": _NAMES.get(record.levelno, record.levelname.lower()),
                "subsystem": _subsystem(record.name),
                "message": self.redactor.redact(record.getMessage()),
                "pid": record.process,
            }
            fields = getattr(record, "fields", None)
            if isinstance(fields, dict):
                for key, value in fields.items():
                    entry.setdefault(key, self.redactor.redact_value(value))
            if record.exc_info:
                entry["error"] = self.redactor.redact(_FORMATTER.formatException(record.exc_info))
            line = json.dumps(entry, ensure_ascii=False, default=str)
            with self.lock:  # type: ignore[union-attr]
                self.file_log.write_line(line)
        except OSError as exc:
            self._write_failed(exc)
            return
        except Exception:
            self.handleError(record)
            return
        if self.failing:
            self.failing = False
            sys.stderr.write("openclaw: file log writable again\n")

    def _write_failed(self, exc: OSError) -> None:
        """A full disk or a vanished directory must not stop the gateway or flood stderr:
        say it once, drop records until a write succeeds again."""
        self.file_log.close()
        if not self.failing:
            self.failing = True
            sys.stderr.write(
                f"openclaw: cannot write the file log in {self.file_log.directory}: "
                f"{exc.strerror or exc}; records are dropped until it works again\n"
            )

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self.file_log.close()
        super().close()


class ConsoleFormatter(logging.Formatter):
    """Human lines for stdout: ``HH:MM:SS level subsystem: message key=value``."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        level = _NAMES.get(record.levelno, record.levelname.lower())
        text = f"{stamp} {level:<5} {_subsystem(record.name)}: {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return self.redactor.redact(text)


@dataclass
class LoggingSetup:
    """What :func:`setup_logging` installed, so the gateway can report and close it."""

    file_log: FileLog
    redactor: Redactor
    handlers: list[logging.Handler] = field(default_factory=list)

    def close(self) -> None:
        """Detach and close the handlers."""
        root = logging.getLogger("openclaw")
        for handler in self.handlers:
            root.removeHandler(handler)
            handler.close()


def setup_logging(
    file_log: FileLog,
    redactor: Redactor,
    *,
    file_level: str = "info",
    console_level: str = "info",
    console: TextIO | None = sys.stdout,
) -> LoggingSetup:
    """Send the ``openclaw`` logger tree to the file log and (optionally) the console."""
    root = logging.getLogger("openclaw")
    root.propagate = False
    file_handler = JsonFileHandler(file_log, redactor)
    file_handler.setLevel(LEVELS[file_level])
    handlers: list[logging.Handler] = [file_handler]
    if console is not None and console_level != "silent":
        console_handler = logging.StreamHandler(console)
        console_handler.setFormatter(ConsoleFormatter(redactor))
        console_handler.setLevel(LEVELS[console_level])
        handlers.append(console_handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(min(h.level for h in handlers))
    return LoggingSetup(file_log, redactor, handlers)


#: ``schedule(delay_s, callback)``: run ``callback`` after ``delay_s`` seconds.
Scheduler = Callable[[float, Callable[[], None]], object]


def _loop_scheduler(delay_s: float, callback: Callable[[], None]) -> object:
    import asyncio

    return asyncio.get_running_loop().call_later(delay_s, callback)


@dataclass
class _Burst:
    first_message: str
    started: float
    more: int = 0


class BurstLog:
    """One log line per burst of like events, not one per event.

    :meth:`note` logs the first event of a kind (a warning with its fields); the
    ones that follow within ``window_s`` are only counted, and when the window ends
    a single line says ``"<kind>: N more in the last Xs"``. While events keep coming
    that summary repeats once per window; after a quiet window the next event is
    logged in full again. The gateway uses one of these for every refusal (failed
    logins, handshake timeouts, cut upgrades, oversized frames, dropped clients).

    ``schedule`` runs the end-of-window summary (by default on the running asyncio
    loop); without a running loop the summary is written by the next :meth:`note`
    after the window, or by :meth:`flush`.
    """

    def __init__(self, logger: logging.Logger, *, window_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Scheduler | None = None) -> None:
        self.logger = logger
        self.window_s = window_s
        self._clock = clock
        self._schedule = schedule or _loop_scheduler
        self._bursts: dict[str, _Burst] = {}

    def note(self, kind: str, message: str, fields: dict[str, Any] | None = None,
             level: int = logging.WARNING) -> bool:
        """Record one event of ``kind``; return True when it was logged in full."""
        now = self._clock()
        burst = self._bursts.get(kind)
        if burst is not None and now - burst.started >= self.window_s:
            self._end(kind, burst)  # its timer did not run (no loop): close it now
            burst = self._bursts.get(kind)
        if burst is not None:
            burst.more += 1
            return False
        self.logger.log(level, message, extra={"fields": {"refusal": kind, **(fields or {})}})
        self._open(kind, _Burst(message, now))
        return True

    def _open(self, kind: str, burst: _Burst) -> None:
        self._bursts[kind] = burst
        # without a running loop, the next note or flush() ends the window
        with contextlib.suppress(RuntimeError):
            self._schedule(self.window_s, lambda: self._end(kind, burst))

    def _summary(self, kind: str, burst: _Burst) -> None:
        elapsed = max(self._clock() - burst.started, 0.0)
        self.logger.warning("%s: %d more in the last %.0fs", kind, burst.more, elapsed,
                            extra={"fields": {"refusal": kind, "count": burst.more}})

    def _end(self, kind: str, burst: _Burst) -> None:
        if self._bursts.get(kind) is not burst:  # already ended (flush, or a late timer)
            return
        del self._bursts[kind]
        if burst.more:
            self._summary(kind, burst)
            # still under way: the next window starts now and gets its own summary
            self._open(kind, _Burst(burst.first_message, self._clock()))

    def flush(self) -> None:
        """Write the summary of every burst still open (at shutdown, or in tests)."""
        for kind, burst in list(self._bursts.items()):
            del self._bursts[kind]
            if burst.more:
                self._summary(kind, burst)


@dataclass(frozen=True)
class TailResult:
    """One ``logs.tail`` answer (see :func:`tail`)."""

    file: str
    cursor: int
    size: int
    lines: list[str]
    truncated: bool = False
    reset: bool = False

    def to_wire(self) -> dict[str, Any]:
        """The protocol payload: ``truncated``/``reset`` only when true."""
        payload: dict[str, Any] = {
            "file": self.file,
            "cursor": self.cursor,
            "size": self.size,
            "lines": self.lines,
        }
        if self.truncated:
            payload["truncated"] = True
        if self.reset:
            payload["reset"] = True
        return payload


def _at_line_start(stream: IO[bytes], cursor: int) -> bool:
    """Every cursor this module hands out sits just after a newline. One that does
    not belongs to another file (rotated while the reader was away)."""
    if cursor == 0:
        return True
    stream.seek(cursor - 1)
    return stream.read(1) == b"\n"


def tail(
    path: Path,
    cursor: int | None,
    limit: int = 500,
    max_bytes: int = 250_000,
    rotated_from: Sequence[Path] = (),
) -> TailResult:
    """Read whole lines of ``path`` after byte offset ``cursor``.

    * No cursor: the last ``max_bytes`` of the file (``truncated`` if that skipped data).
    * ``cursor`` past the end, or not at the start of a line (the file was rotated or
      truncated): ``reset``, then as above.
    * ``cursor`` more than ``max_bytes`` behind: ``reset`` and ``truncated``, then as above.
    * Otherwise everything from ``cursor``.

    A partial first line (when reading starts mid-line) is dropped; a partial last
    line (still being written) is left for the next call, so the returned cursor
    always sits just after a newline and no line is returned twice or cut. Only the
    last ``limit`` lines are returned (``truncated`` when more were read).

    ``rotated_from`` lists, oldest first, the files written since the reader's
    last call when the caller knows the active file was replaced meanwhile (size
    rotation or a new day): the first is read from ``cursor``, the others whole,
    then ``path`` from its start, so a follower loses nothing; ``reset`` is set
    to say the file changed.
    """
    if rotated_from and cursor is not None:
        lines: list[str] = []
        truncated = False
        for index, older in enumerate(rotated_from):
            part = tail(older, cursor if index == 0 else 0, 1_000_000, max_bytes)
            lines += part.lines
            truncated = truncated or part.truncated
        fresh = tail(path, 0, limit, max_bytes)
        lines += fresh.lines
        truncated = truncated or fresh.truncated or len(lines) > limit
        return TailResult(fresh.file, fresh.cursor, fresh.size, lines[-limit:], truncated, True)
    name = str(path)
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            truncated = reset = False
            if cursor is not None and (cursor > size or not _at_line_start(stream, cursor)):
                reset = True
                cursor = None
            if cursor is None:
                start = max(0, size - max_bytes)
                truncated = start > 0
            elif size - cursor > max_bytes:
                reset = truncated = True
                start = size - max_bytes
            else:
                start = cursor
            mid_line = False
            if start > 0 and start != cursor:
                stream.seek(start - 1)
                mid_line = stream.read(1) != b"\n"
            else:
                stream.seek(start)
            data = stream.read(size - start)
    except FileNotFoundError:
        return TailResult(name, 0, 0, [])
    end = data.rfind(b"\n") + 1
    next_cursor = start + end
    body = data[:end]
    if mid_line:
        first = body.find(b"\n") + 1
        body = body[first:]
    lines = body.decode("utf-8", "replace").split("\n")[:-1] if body else []
    if len(lines) > limit:
        lines = lines[-limit:]
        truncated = True
    return TailResult(name, next_cursor, size, lines, truncated, reset)

