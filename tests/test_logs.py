"""Unit tests for openclaw.logs: the daily file log, tail and logging setup."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openclaw.logs import LEVELS, BurstLog, FileLog, TailResult, setup_logging, tail
from openclaw.redact import Redactor


def local_ts(year: int, month: int, day: int, hour: int = 12, minute: int = 0,
             second: int = 0) -> float:
    """Seconds since the epoch for a local wall-clock time (FileLog dates are local)."""
    return time.mktime((year, month, day, hour, minute, second, 0, 0, -1))


class Clock:
    """A settable clock for FileLog."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# =====================================================================================
# FileLog
# =====================================================================================


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_filelog_writes_to_dated_file(tmp_path: Path) -> None:
    clock = Clock(local_ts(2024, 6, 10, 12))
    log = FileLog(tmp_path / "logs", clock=clock)
    assert log.current_path == tmp_path / "logs" / "openclaw-2024-06-10.log"
    log.write_line(json.dumps({"message": "hello"}))
    log.write_line(json.dumps({"message": "world"}))
    log.close()
    path = tmp_path / "logs" / "openclaw-2024-06-10.log"
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    assert [json.loads(line)["message"] for line in read_lines(path)] == ["hello", "world"]
    assert sorted(os.listdir(tmp_path / "logs")) == ["openclaw-2024-06-10.log"]


def test_filelog_utf8_and_unencodable(tmp_path: Path) -> None:
    log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    log.write_line("héllo ✓")
    log.write_line("bad \udc80 surrogate")
    log.close()
    data = (tmp_path / "openclaw-2024-06-10.log").read_bytes()
    assert data == "héllo ✓\n".encode() + b"bad ? surrogate\n"


def test_filelog_file_is_0600_and_dir_0700(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        log = FileLog(tmp_path / "a" / "logs", clock=Clock(local_ts(2024, 6, 10)))
        log.write_line("x")
        log.close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "a" / "logs" / "openclaw-2024-06-10.log") == 0o600
    assert mode(tmp_path / "a" / "logs") == 0o700


def test_filelog_file_is_0600_even_with_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
        log.write_line("x")
        log.close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "openclaw-2024-06-10.log") == 0o600


def test_filelog_reopens_and_appends_after_close(tmp_path: Path) -> None:
    clock = Clock(local_ts(2024, 6, 10))
    log = FileLog(tmp_path, clock=clock)
    log.write_line("one")
    log.close()
    log.close()  # closing twice is harmless
    log.write_line("two")
    log.close()
    FileLog(tmp_path, clock=clock).write_line("three")
    assert read_lines(tmp_path / "openclaw-2024-06-10.log") == ["one", "two", "three"]


def _line(n: int) -> str:
    return f"line-{n:04d}-" + "x" * 18  # 28 chars + newline = 29 bytes


def test_size_rotation_moves_current_to_archive_1(tmp_path: Path) -> None:
    log = FileLog(tmp_path, max_file_bytes=100, max_archives=3, clock=Clock(local_ts(2024, 6, 10)))
    for n in range(4):
        log.write_line(_line(n))
    log.close()
    current = tmp_path / "openclaw-2024-06-10.log"
    archive = tmp_path / "openclaw-2024-06-10.1.log"
    # 3 lines = 87 bytes fit; the 4th would make 116 > 100, so it starts a new file
    assert read_lines(archive) == [_line(0), _line(1), _line(2)]
    assert read_lines(current) == [_line(3)]
    assert archive.stat().st_size <= 100


def test_size_rotation_keeps_at_most_max_archives(tmp_path: Path) -> None:
    log = FileLog(tmp_path, max_file_bytes=100, max_archives=2, clock=Clock(local_ts(2024, 6, 10)))
    total = 30
    for n in range(total):
        log.write_line(_line(n))
    log.close()
    names = sorted(os.listdir(tmp_path))
    assert names == [
        "openclaw-2024-06-10.1.log",
        "openclaw-2024-06-10.2.log",
        "openclaw-2024-06-10.log",
    ]
    older = read_lines(tmp_path / "openclaw-2024-06-10.2.log")
    newer = read_lines(tmp_path / "openclaw-2024-06-10.1.log")
    current = read_lines(tmp_path / "openclaw-2024-06-10.log")
    kept = older + newer + current
    # the newest lines survive, contiguous and in order; the oldest were dropped
    assert kept == [_line(n) for n in range(total - len(kept), total)]
    assert len(older) == len(newer) == 3
    assert _line(0) not in kept
    for name in names:
        assert (tmp_path / name).stat().st_size <= 100


def test_archive_order_newest_is_1(tmp_path: Path) -> None:
    log = FileLog(tmp_path, max_file_bytes=30, max_archives=5, clock=Clock(local_ts(2024, 6, 10)))
    for n in range(4):  # one 29-byte line per file
        log.write_line(_line(n))
    log.close()
    assert read_lines(tmp_path / "openclaw-2024-06-10.log") == [_line(3)]
    assert read_lines(tmp_path / "openclaw-2024-06-10.1.log") == [_line(2)]
    assert read_lines(tmp_path / "openclaw-2024-06-10.2.log") == [_line(1)]
    assert read_lines(tmp_path / "openclaw-2024-06-10.3.log") == [_line(0)]
    assert not (tmp_path / "openclaw-2024-06-10.4.log").exists()


def test_max_archives_zero_keeps_only_current(tmp_path: Path) -> None:
    log = FileLog(tmp_path, max_file_bytes=100, max_archives=0, clock=Clock(local_ts(2024, 6, 10)))
    for n in range(10):
        log.write_line(_line(n))
    log.close()
    assert os.listdir(tmp_path) == ["openclaw-2024-06-10.log"]
    current = read_lines(tmp_path / "openclaw-2024-06-10.log")
    assert current == [_line(9)]  # 9 lines = 3 full files of 3; the 10th starts anew


def test_oversized_line_is_written_whole(tmp_path: Path) -> None:
    log = FileLog(tmp_path, max_file_bytes=50, max_archives=2, clock=Clock(local_ts(2024, 6, 10)))
    big = "B" * 200
    log.write_line(big)
    log.write_line("small")
    log.close()
    assert read_lines(tmp_path / "openclaw-2024-06-10.1.log") == [big]
    assert read_lines(tmp_path / "openclaw-2024-06-10.log") == ["small"]


def test_rotation_respects_limit_across_restarts(tmp_path: Path) -> None:
    # A gateway restart (new FileLog on the same day's file) must still rotate by size:
    # the file already holds max_file_bytes, so the next line belongs in a new file.
    clock = Clock(local_ts(2024, 6, 10))
    first = FileLog(tmp_path, max_file_bytes=87, max_archives=2, clock=clock)
    for n in range(3):  # 3 * 29 = 87 bytes: exactly full
        first.write_line(_line(n))
    first.close()
    second = FileLog(tmp_path, max_file_bytes=87, max_archives=2, clock=clock)
    second.write_line(_line(3))
    second.close()
    assert (tmp_path / "openclaw-2024-06-10.log").stat().st_size <= 87
    assert read_lines(tmp_path / "openclaw-2024-06-10.log") == [_line(3)]


def test_day_rollover_at_midnight(tmp_path: Path) -> None:
    clock = Clock(local_ts(2024, 6, 10, 23, 59, 59))
    log = FileLog(tmp_path, clock=clock)
    log.write_line("before midnight")
    assert log.current_path.name == "openclaw-2024-06-10.log"
    clock.now = local_ts(2024, 6, 11, 0, 0, 1)
    # until the first record of the new day, the open file is still the current one
    assert log.current_path.name == "openclaw-2024-06-10.log"
    log.write_line("after midnight")
    assert log.current_path.name == "openclaw-2024-06-11.log"
    log.write_line("still the 11th")
    log.close()
    assert read_lines(tmp_path / "openclaw-2024-06-10.log") == ["before midnight"]
    assert read_lines(tmp_path / "openclaw-2024-06-11.log") == ["after midnight", "still the 11th"]


def test_day_rollover_resets_size_accounting(tmp_path: Path) -> None:
    clock = Clock(local_ts(2024, 6, 10, 23, 0))
    log = FileLog(tmp_path, max_file_bytes=100, max_archives=2, clock=clock)
    for n in range(3):
        log.write_line(_line(n))
    clock.now = local_ts(2024, 6, 11, 1, 0)
    log.write_line(_line(3))  # new day: no rotation of the new (empty) file
    log.close()
    assert read_lines(tmp_path / "openclaw-2024-06-11.log") == [_line(3)]
    assert not (tmp_path / "openclaw-2024-06-11.1.log").exists()
    assert not (tmp_path / "openclaw-2024-06-10.1.log").exists()
    assert len(read_lines(tmp_path / "openclaw-2024-06-10.log")) == 3


def _touch(directory: Path, *names: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text("old\n")


def test_prune_on_open_deletes_files_older_than_retention(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "openclaw-2024-06-01.log",  # 9 days old
        "openclaw-2024-06-01.1.log",  # its archive
        "openclaw-2024-06-06.log",  # 4 days old: older than 3
        "openclaw-2024-06-07.log",  # exactly 3 days old: kept
        "openclaw-2024-06-08.2.log",
        "openclaw-2024-06-09.log",
        "other.txt",
        "openclaw-notes.log",
        "openclaw-2024-06-01.log.bak",
    )
    log = FileLog(tmp_path, retention_days=3, clock=Clock(local_ts(2024, 6, 10, 12)))
    log.write_line("now")
    log.close()
    assert sorted(os.listdir(tmp_path)) == [
        "openclaw-2024-06-01.log.bak",
        "openclaw-2024-06-07.log",
        "openclaw-2024-06-08.2.log",
        "openclaw-2024-06-09.log",
        "openclaw-2024-06-10.log",
        "openclaw-notes.log",
        "other.txt",
    ]


def test_prune_runs_on_day_rollover(tmp_path: Path) -> None:
    clock = Clock(local_ts(2024, 6, 10, 23, 30))
    log = FileLog(tmp_path, retention_days=1, clock=clock)
    log.write_line("day 10")
    _touch(tmp_path, "openclaw-2024-06-09.log", "openclaw-2024-06-09.1.log")
    clock.now = local_ts(2024, 6, 11, 0, 30)
    log.write_line("day 11")
    log.close()
    assert sorted(os.listdir(tmp_path)) == ["openclaw-2024-06-10.log", "openclaw-2024-06-11.log"]


def test_prune_with_missing_directory_is_harmless(tmp_path: Path) -> None:
    log = FileLog(tmp_path / "new", clock=Clock(local_ts(2024, 6, 10)))
    log.write_line("first")
    log.close()
    assert read_lines(tmp_path / "new" / "openclaw-2024-06-10.log") == ["first"]


# =====================================================================================
# tail
# =====================================================================================


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as stream:
        stream.write(data)


def test_tail_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.log"
    result = tail(path, None)
    assert result == TailResult(str(path), 0, 0, [])
    assert tail(path, 1234) == TailResult(str(path), 0, 0, [])
    assert result.to_wire() == {"file": str(path), "cursor": 0, "size": 0, "lines": []}


def test_tail_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, b"")
    assert tail(path, None) == TailResult(str(path), 0, 0, [])


def test_tail_no_cursor_small_file(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, b"a\nbb\nccc\n")
    result = tail(path, None)
    assert result.lines == ["a", "bb", "ccc"]
    assert result.cursor == result.size == 9
    assert not result.truncated
    assert not result.reset
    assert result.file == str(path)


def _numbered(count: int) -> bytes:
    return b"".join(f"line{n:02d}\n".encode() for n in range(count))  # 7 bytes each


def test_tail_no_cursor_reads_last_max_bytes_truncated(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(10))  # 70 bytes
    result = tail(path, None, max_bytes=21)  # starts at 49, a line boundary
    assert result.lines == ["line07", "line08", "line09"]
    assert result.truncated
    assert not result.reset
    assert result.cursor == 70


def test_tail_no_cursor_drops_partial_first_line(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(10))
    result = tail(path, None, max_bytes=20)  # starts at 50, inside line07
    assert result.lines == ["line08", "line09"]
    assert result.truncated
    assert result.cursor == 70


def test_tail_no_cursor_exact_fit_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(10))
    result = tail(path, None, max_bytes=70)
    assert len(result.lines) == 10
    assert not result.truncated


def test_tail_cursor_at_end_returns_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(3))
    result = tail(path, 21)
    assert result.lines == []
    assert result.cursor == 21
    assert result.size == 21
    assert not result.truncated
    assert not result.reset
    assert result.to_wire() == {"file": str(path), "cursor": 21, "size": 21, "lines": []}


def test_tail_cursor_reads_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(3))
    first = tail(path, None)
    append(path, b"new1\nnew2\n")
    second = tail(path, first.cursor)
    assert second.lines == ["new1", "new2"]
    assert second.cursor == 31
    assert not second.truncated and not second.reset


def test_tail_cursor_past_size_resets(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, b"fresh\nfile\n")
    result = tail(path, 5000)
    assert result.reset
    assert not result.truncated
    assert result.lines == ["fresh", "file"]
    assert result.cursor == 11
    wire = result.to_wire()
    assert wire["reset"] is True
    assert "truncated" not in wire


def test_tail_cursor_past_size_resets_and_truncates_big_file(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(10))
    result = tail(path, 10_000, max_bytes=14)
    assert result.reset
    assert result.truncated
    assert result.lines == ["line08", "line09"]


def test_tail_cursor_too_far_behind_resets_and_truncates(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(10))
    result = tail(path, 0, max_bytes=21)
    assert result.reset
    assert result.truncated
    assert result.lines == ["line07", "line08", "line09"]
    assert result.cursor == 70
    wire = result.to_wire()
    assert wire["reset"] is True and wire["truncated"] is True


def test_tail_cursor_too_far_behind_mid_line(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(10))
    result = tail(path, 7, max_bytes=18)  # start 52, inside line07
    assert result.reset and result.truncated
    assert result.lines == ["line08", "line09"]


def test_tail_cursor_exactly_max_bytes_behind_is_not_reset(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(10))
    result = tail(path, 49, max_bytes=21)
    assert not result.reset
    assert not result.truncated
    assert result.lines == ["line07", "line08", "line09"]


def test_tail_partial_last_line_is_held_back(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, b"a\nb\npart")
    first = tail(path, None)
    assert first.lines == ["a", "b"]
    assert first.cursor == 4  # just after the last newline, before the partial line
    assert first.size == 8
    again = tail(path, first.cursor)
    assert again.lines == []
    assert again.cursor == 4
    append(path, b"ial line\nnext")
    second = tail(path, first.cursor)
    assert second.lines == ["partial line"]
    assert second.cursor == 17
    append(path, b"\n")
    assert tail(path, second.cursor).lines == ["next"]


def test_tail_only_a_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, b"no newline yet")
    result = tail(path, None)
    assert result.lines == []
    assert result.cursor == 0
    assert result.size == 14


def test_tail_limit_keeps_last_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(10))
    result = tail(path, None, limit=3)
    assert result.lines == ["line07", "line08", "line09"]
    assert result.truncated
    assert not result.reset
    assert result.cursor == 70


def test_tail_limit_equal_to_count_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(5))
    result = tail(path, 0, limit=5)
    assert len(result.lines) == 5
    assert not result.truncated


def test_tail_limit_with_cursor(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, _numbered(2))
    append(path, b"a\nb\nc\nd\n")
    result = tail(path, 14, limit=2)
    assert result.lines == ["c", "d"]
    assert result.truncated
    assert result.cursor == result.size


def test_tail_keeps_empty_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, b"a\n\nb\n")
    assert tail(path, None).lines == ["a", "", "b"]


def test_tail_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    write(path, b"ok\n\xff\xfe bad\n")
    assert tail(path, None).lines == ["ok", "\ufffd\ufffd bad"]


def test_tail_multibyte_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    data = "héllo ✓\n日本語\n".encode()
    write(path, data)
    result = tail(path, None)
    assert result.lines == ["héllo ✓", "日本語"]
    assert result.cursor == len(data)


def test_tail_result_to_wire_flags_only_when_true() -> None:
    plain = TailResult("f", 1, 2, ["x"])
    assert plain.to_wire() == {"file": "f", "cursor": 1, "size": 2, "lines": ["x"]}
    both = TailResult("f", 1, 2, [], truncated=True, reset=True)
    assert both.to_wire() == {
        "file": "f", "cursor": 1, "size": 2, "lines": [], "truncated": True, "reset": True,
    }


def test_tail_follows_filelog(tmp_path: Path) -> None:
    log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    log.write_line('{"n": 1}')
    first = tail(log.current_path, None)
    log.write_line('{"n": 2}')
    log.write_line('{"n": 3}')
    second = tail(log.current_path, first.cursor)
    log.close()
    assert [json.loads(x)["n"] for x in first.lines] == [1]
    assert [json.loads(x)["n"] for x in second.lines] == [2, 3]


_LINE_TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)),
    max_size=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), lines=st.lists(_LINE_TEXT, max_size=25))
def test_tail_property_every_complete_line_exactly_once(data: st.DataObject,
                                                       lines: list[str]) -> None:
    """Appending lines in arbitrary pieces while tailing from the returned cursor
    yields every complete line once, in order, with no loss and no duplicate."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "openclaw.log"
        path.write_bytes(b"")
        seen: list[str] = []
        cursor: int | None = data.draw(st.sampled_from([None, 0]), label="first cursor")

        def poll() -> None:
            nonlocal cursor
            result = tail(path, cursor, limit=10_000, max_bytes=1_000_000)
            assert not result.truncated
            assert not result.reset
            assert result.cursor <= result.size
            seen.extend(result.lines)
            cursor = result.cursor

        for line in lines:
            encoded = line.encode("utf-8") + b"\n"
            cuts = sorted(
                data.draw(
                    st.lists(st.integers(0, len(encoded)), max_size=3), label="cut points"
                )
            )
            pieces = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)],
                                                    strict=True)]
            for piece in pieces:
                append(path, piece)
                if data.draw(st.booleans(), label="poll now"):
                    poll()
        poll()
        poll()  # a second poll at the end returns nothing new
        assert seen == lines


@settings(max_examples=150, deadline=None)
@given(data=st.data(), count=st.integers(0, 40), max_bytes=st.integers(1, 120),
       limit=st.integers(1, 10))
def test_tail_property_small_budgets_never_cut_or_repeat(data: st.DataObject, count: int,
                                                         max_bytes: int, limit: int) -> None:
    """With small byte/line budgets lines may be skipped, but every returned line is
    whole, lines never repeat or go backwards, and any skip is flagged truncated."""
    lines = [f"<{n}:" + "y" * data.draw(st.integers(0, 12), label="width") + ">"
             for n in range(count)]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "openclaw.log"
        path.write_bytes(b"")
        state: dict[str, Any] = {"cursor": None, "last": -1, "flagged": False}

        def poll() -> TailResult:
            result = tail(path, state["cursor"], limit=limit, max_bytes=max_bytes)
            assert len(result.lines) <= limit
            state["flagged"] = state["flagged"] or result.truncated
            indexes = []
            for line in result.lines:
                assert line in lines, f"cut or invented line {line!r}"
                indexes.append(lines.index(line))
            if indexes:
                assert indexes == sorted(set(indexes)), "lines out of order or repeated"
                assert indexes[0] > state["last"], "line returned twice"
                gap = indexes[0] != state["last"] + 1 or indexes[-1] - indexes[0] + 1 != len(
                    indexes
                )
                if gap:
                    assert state["flagged"], "lines skipped without truncated"
                state["last"] = indexes[-1]
                state["flagged"] = False
            state["cursor"] = result.cursor
            return result

        written = 0
        while written < count:
            batch = data.draw(st.integers(1, 5), label="batch")
            for line in lines[written:written + batch]:
                append(path, line.encode() + b"\n")
            written = min(count, written + batch)
            if data.draw(st.booleans(), label="poll now"):
                poll()
        final = poll()
        assert final.cursor == final.size == path.stat().st_size
        assert poll().lines == []


# =====================================================================================
# setup_logging
# =====================================================================================


@pytest.fixture
def clean_openclaw_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger("openclaw")
    saved = (list(root.handlers), root.level, root.propagate)
    yield root
    for handler in list(root.handlers):
        if handler not in saved[0]:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved[1])
    root.propagate = saved[2]


def _entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(path)]


def test_levels_table() -> None:
    assert LEVELS["warn"] == logging.WARNING
    assert LEVELS["fatal"] == logging.CRITICAL
    assert LEVELS["trace"] < logging.DEBUG
    assert LEVELS["silent"] > logging.CRITICAL
    assert "warning" not in LEVELS


def test_setup_logging_writes_redacted_json(tmp_path: Path,
                                            clean_openclaw_logger: logging.Logger) -> None:
    file_log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    setup = setup_logging(file_log, Redactor(["gw-secret-token"]), console=None)
    log = logging.getLogger("openclaw.gateway.server")
    log.warning(
        "client sent gw-secret-token and password=hunter22",
        extra={"fields": {"connId": "c-1", "auth": "Bearer gw-secret-token", "count": 3,
                          "ok": True}},
    )
    setup.close()
    (entry,) = _entries(tmp_path / "openclaw-2024-06-10.log")
    assert entry["level"] == "warn"
    assert entry["subsystem"] == "gateway.server"
    assert entry["message"] == "client sent *** and password=***"
    assert entry["connId"] == "c-1"
    assert "gw-secret-token" not in entry["auth"]
    assert entry["count"] == 3
    assert entry["ok"] is True
    assert entry["pid"] == os.getpid()
    assert entry["time"].endswith("Z")
    assert time.strptime(entry["time"][:19], "%Y-%m-%dT%H:%M:%S")
    assert len(entry["time"]) == len("2024-06-10T12:00:00.000Z")


def test_setup_logging_level_names(tmp_path: Path,
                                   clean_openclaw_logger: logging.Logger) -> None:
    file_log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    setup = setup_logging(file_log, Redactor(), file_level="trace", console=None)
    log = logging.getLogger("openclaw.x")
    log.log(LEVELS["trace"], "t")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    log.critical("c")
    setup.close()
    assert [(e["level"], e["message"]) for e in _entries(tmp_path / "openclaw-2024-06-10.log")] == [
        ("trace", "t"), ("debug", "d"), ("info", "i"), ("warn", "w"), ("error", "e"),
        ("fatal", "c"),
    ]


def test_setup_logging_file_level_filters(tmp_path: Path,
                                          clean_openclaw_logger: logging.Logger) -> None:
    file_log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    setup = setup_logging(file_log, Redactor(), file_level="warn", console=None)
    log = logging.getLogger("openclaw.x")
    log.info("not written")
    log.debug("not written")
    log.warning("written")
    setup.close()
    assert [e["message"] for e in _entries(tmp_path / "openclaw-2024-06-10.log")] == ["written"]


def test_setup_logging_subsystem_names(tmp_path: Path,
                                       clean_openclaw_logger: logging.Logger) -> None:
    file_log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    setup = setup_logging(file_log, Redactor(), console=None)
    logging.getLogger("openclaw").info("root")
    logging.getLogger("openclaw.channels.telegram").info("nested")
    setup.close()
    assert [e["subsystem"] for e in _entries(tmp_path / "openclaw-2024-06-10.log")] == [
        "openclaw", "channels.telegram",
    ]


def test_fields_do_not_override_core_keys(tmp_path: Path,
                                          clean_openclaw_logger: logging.Logger) -> None:
    file_log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    setup = setup_logging(file_log, Redactor(), console=None)
    logging.getLogger("openclaw.x").info(
        "real", extra={"fields": {"message": "fake", "level": "fatal", "extra": 1}}
    )
    setup.close()
    (entry,) = _entries(tmp_path / "openclaw-2024-06-10.log")
    assert entry["message"] == "real"
    assert entry["level"] == "info"
    assert entry["extra"] == 1


def test_exception_is_logged_redacted(tmp_path: Path,
                                      clean_openclaw_logger: logging.Logger) -> None:
    file_log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    setup = setup_logging(file_log, Redactor(["exc-secret-value"]), console=None)
    try:
        raise RuntimeError("boom with exc-secret-value")
    except RuntimeError:
        logging.getLogger("openclaw.x").exception("failed")
    setup.close()
    (entry,) = _entries(tmp_path / "openclaw-2024-06-10.log")
    assert entry["level"] == "error"
    assert "RuntimeError" in entry["error"]
    assert "exc-secret-value" not in entry["error"]


def test_nested_field_values_are_redacted(tmp_path: Path,
                                          clean_openclaw_logger: logging.Logger) -> None:
    # "Redactor removes secrets ... before a line is written anywhere."
    file_log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    setup = setup_logging(file_log, Redactor(["nested-secret-token"]), console=None)
    logging.getLogger("openclaw.x").info(
        "request", extra={"fields": {"params": {"auth": {"token": "nested-secret-token"}},
                                     "list": ["nested-secret-token"]}}
    )
    setup.close()
    text = (tmp_path / "openclaw-2024-06-10.log").read_text()
    assert "nested-secret-token" not in text


def test_console_output_is_redacted(tmp_path: Path,
                                    clean_openclaw_logger: logging.Logger) -> None:
    console = io.StringIO()
    file_log = FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10)))
    setup = setup_logging(file_log, Redactor(["console-secret"]), console=console,
                          console_level="warn")
    log = logging.getLogger("openclaw.gateway")
    log.info("quiet on console")
    log.warning("loud console-secret", extra={"fields": {"port": 18789, "k": "console-secret"}})
    setup.close()
    out = console.getvalue()
    assert "quiet on console" not in out
    assert "console-secret" not in out
    assert "warn " in out
    assert "gateway: loud ***" in out
    assert "port=18789" in out
    assert "k=***" in out
    # the file still got both (file level info)
    assert len(_entries(tmp_path / "openclaw-2024-06-10.log")) == 2


def test_console_silent_installs_file_handler_only(tmp_path: Path,
                                                   clean_openclaw_logger: logging.Logger) -> None:
    console = io.StringIO()
    setup = setup_logging(FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10))), Redactor(),
                          console=console, console_level="silent")
    logging.getLogger("openclaw.x").error("err")
    setup.close()
    assert len(setup.handlers) == 1
    assert console.getvalue() == ""


def test_setup_does_not_propagate_and_close_detaches(tmp_path: Path,
                                                     clean_openclaw_logger: logging.Logger) -> None:
    root = clean_openclaw_logger
    before = list(root.handlers)
    setup = setup_logging(FileLog(tmp_path, clock=Clock(local_ts(2024, 6, 10))), Redactor(),
                          console=None, file_level="debug")
    assert root.propagate is False
    assert root.level == logging.DEBUG
    assert all(h in root.handlers for h in setup.handlers)
    setup.close()
    assert root.handlers == before
    logging.getLogger("openclaw.x").debug("after close")
    assert not (tmp_path / "openclaw-2024-06-10.log").exists()


# =====================================================================================
# Following the log across rotations: FileLog.generation / locate + tail(rotated_from)
# =====================================================================================


def test_generation_bumps_on_rotation_and_day_roll(tmp_path: Path) -> None:
    clock = Clock(local_ts(2024, 6, 10, 23, 0))
    log = FileLog(tmp_path, max_file_bytes=60, max_archives=3, clock=clock)
    assert log.generation == 0
    log.write_line(_line(0))
    assert log.generation == 0
    assert log.locate(0) == tmp_path / "openclaw-2024-06-10.log"
    log.write_line(_line(1))  # 58 bytes: still fits
    log.write_line(_line(2))  # rotates
    assert log.generation == 1
    assert log.locate(0) == tmp_path / "openclaw-2024-06-10.1.log"
    assert log.locate(1) == tmp_path / "openclaw-2024-06-10.log"
    clock.now = local_ts(2024, 6, 11, 0, 30)
    log.write_line(_line(3))
    assert log.generation == 2
    assert log.locate(1) == tmp_path / "openclaw-2024-06-10.log"
    assert log.locate(2) == tmp_path / "openclaw-2024-06-11.log"
    assert log.current_path == tmp_path / "openclaw-2024-06-11.log"
    log.close()
    assert read_lines(log.locate(0)) == [_line(0), _line(1)]  # type: ignore[arg-type]


def test_locate_forgets_deleted_archives(tmp_path: Path) -> None:
    log = FileLog(tmp_path, max_file_bytes=30, max_archives=2, clock=Clock(local_ts(2024, 6, 10)))
    for n in range(5):  # one line per file: generations 0..4
        log.write_line(_line(n))
    log.close()
    assert log.generation == 4
    assert log.locate(0) is None
    assert log.locate(1) is None
    assert log.locate(2) == tmp_path / "openclaw-2024-06-10.2.log"
    assert log.locate(3) == tmp_path / "openclaw-2024-06-10.1.log"
    assert read_lines(tmp_path / "openclaw-2024-06-10.2.log") == [_line(2)]


def test_tail_rotated_from_reads_rest_of_old_file_then_new(tmp_path: Path) -> None:
    old = tmp_path / "old.log"
    middle = tmp_path / "middle.log"
    new = tmp_path / "new.log"
    write(old, b"seen1\nseen2\nunseen3\n")
    write(middle, b"m1\nm2\n")
    write(new, b"n1\npartial")
    result = tail(new, 12, rotated_from=[old, middle])
    assert result.lines == ["unseen3", "m1", "m2", "n1"]
    assert result.reset
    assert not result.truncated
    assert result.file == str(new)
    assert result.cursor == 3  # before the partial line of the new file
    follow = tail(new, result.cursor)
    assert follow.lines == []


def test_tail_rotated_from_respects_limit(tmp_path: Path) -> None:
    old = tmp_path / "old.log"
    new = tmp_path / "new.log"
    write(old, b"a\nb\nc\n")
    write(new, b"d\ne\n")
    result = tail(new, 0, limit=3, rotated_from=[old])
    assert result.lines == ["c", "d", "e"]
    assert result.truncated and result.reset


class _Follower:
    """A logs.tail client as the gateway serves it: cursor plus the generation it
    belongs to; after the active file was replaced the chain of files is read."""

    def __init__(self, file_log: FileLog) -> None:
        self.file_log = file_log
        self.generation = file_log.generation
        self.cursor: int | None = None
        self.seen: list[str] = []

    def poll(self) -> TailResult:
        file_log = self.file_log
        now = file_log.generation
        path = file_log.current_path
        if self.cursor is None or self.generation == now:
            result = tail(path, self.cursor, 100_000, 10_000_000)
        else:
            chain = [file_log.locate(g) for g in range(self.generation, now)]
            assert all(p is not None for p in chain), "archive deleted despite max_archives"
            result = tail(path, self.cursor, 100_000, 10_000_000,
                          rotated_from=[p for p in chain if p is not None])
        assert not result.truncated
        self.generation = now
        self.cursor = result.cursor
        self.seen.extend(result.lines)
        return result


_FOLLOW_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 40)),
        st.tuples(st.just("poll"), st.just(0)),
        st.tuples(st.just("advance"), st.integers(0, 3 * 3600)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=_FOLLOW_OPS, max_file_bytes=st.integers(30, 200))
def test_follow_across_rotation_and_midnight_loses_nothing(
    ops: list[tuple[str, int]], max_file_bytes: int
) -> None:
    """A follower that keeps (generation, cursor) sees every line once, in order,
    across size rotations and day roll-overs (archives kept long enough). Closing
    the log mid-run is covered separately below."""
    with tempfile.TemporaryDirectory() as directory:
        clock = Clock(local_ts(2024, 6, 10, 22, 0))
        log = FileLog(Path(directory), max_file_bytes=max_file_bytes, max_archives=100,
                      retention_days=3650, clock=clock)
        follower = _Follower(log)
        follower.poll()  # start following before anything is written
        written: list[str] = []
        for op, arg in ops:
            if op == "write":
                line = f"<{len(written)}:" + "z" * arg + ">"
                log.write_line(line)
                written.append(line)
            elif op == "poll":
                follower.poll()
            else:
                clock.now += arg
        follower.poll()
        follower.poll()
        log.close()
        assert follower.seen == written


def test_follow_after_close_across_midnight_no_duplicates(tmp_path: Path) -> None:
    # close() is documented as "the next write reopens it". If the clock passes
    # midnight while closed, current_path already names the new day's file although
    # the generation still belongs to yesterday's; a follower polling in that gap
    # must not be sent yesterday's lines a second time once the new file opens.
    clock = Clock(local_ts(2024, 6, 10, 23, 0))
    log = FileLog(tmp_path, clock=clock)
    follower = _Follower(log)
    follower.poll()
    log.write_line("day 10")
    follower.poll()
    log.close()
    clock.now = local_ts(2024, 6, 11, 0, 30)
    follower.poll()
    log.write_line("day 11")
    follower.poll()
    log.close()
    assert follower.seen == ["day 10", "day 11"]


def test_unwritable_log_is_reported_once_and_recovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from openclaw.logs import JsonFileHandler

    directory = tmp_path / "logs"
    handler = JsonFileHandler(FileLog(directory), Redactor())
    logger = logging.getLogger("openclaw.test.unwritable")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        directory.write_text("not a directory")  # every open now fails
        for _ in range(3):
            logger.error("lost while the log cannot be written")
        err = capsys.readouterr().err
        assert err.count("cannot write the file log") == 1
        assert "Traceback" not in err
        directory.unlink()
        logger.error("written again")
        assert "writable again" in capsys.readouterr().err
        assert "written again" in next(directory.glob("*.log")).read_text()
    finally:
        logger.removeHandler(handler)


def test_cursor_not_at_a_line_start_is_a_reset(tmp_path: Path) -> None:
    # A cursor into a file rotated away while the reader was disconnected lands at
    # an arbitrary byte of the new file: it must not yield a fragment of a line.
    path = tmp_path / "openclaw-2026-01-01.log"
    path.write_text('{"n": 1, "pad": "aaaaaaaa"}\n{"n": 2, "pad": "bbbbbbbb"}\n')
    result = tail(path, 5)
    assert result.reset is True
    assert result.lines == ['{"n": 1, "pad": "aaaaaaaa"}', '{"n": 2, "pad": "bbbbbbbb"}']
    exact = tail(path, len('{"n": 1, "pad": "aaaaaaaa"}\n'))
    assert exact.reset is False and exact.lines == ['{"n": 2, "pad": "bbbbbbbb"}']


# --- BurstLog ------------------------------------------------------------------------


class _Timers:
    """A scheduler for BurstLog whose callbacks the test fires by hand."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Any]] = []

    def __call__(self, delay: float, callback: Any) -> None:
        self.pending.append((delay, callback))

    def fire(self) -> None:
        due, self.pending = self.pending, []
        for _, callback in due:
            callback()


def _burst_log(clock: Clock, timers: Any = None) -> tuple[BurstLog, list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []
    logger = logging.getLogger(f"openclaw.test.burst{id(records)}")
    logger.propagate = False
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    return BurstLog(logger, window_s=10, clock=clock, schedule=timers), records


def test_a_burst_is_one_line_then_one_summary_per_window() -> None:
    clock, timers = Clock(100.0), _Timers()
    burst, records = _burst_log(clock, timers)
    assert burst.note("auth", "connect refused", {"remote": "127.0.0.1"}) is True
    for _ in range(499):
        assert burst.note("auth", "connect refused") is False
    assert burst.note("handshake-timeout", "no connect") is True  # another kind: its own line
    assert [r.getMessage() for r in records] == ["connect refused", "no connect"]
    assert records[0].fields == {"refusal": "auth", "remote": "127.0.0.1"}  # type: ignore[attr-defined]
    clock.now += 10
    timers.fire()  # the window ends: one summary for the 499, nothing for the lone one
    assert [r.getMessage() for r in records[2:]] == ["auth: 499 more in the last 10s"]
    burst.note("auth", "connect refused")  # still under way: counted in the next window
    clock.now += 10
    timers.fire()
    assert records[-1].getMessage() == "auth: 1 more in the last 10s"
    clock.now += 10
    timers.fire()  # a quiet window ends the burst
    assert len(records) == 4
    assert burst.note("auth", "connect refused") is True
    assert len(records) == 5


def test_without_a_loop_the_next_note_or_flush_writes_the_summary() -> None:
    clock = Clock(100.0)
    burst, records = _burst_log(clock)  # default scheduler: no running loop here
    for _ in range(3):
        burst.note("close-1009", "closing a client: 1009")
    clock.now += 11
    burst.note("close-1009", "closing a client: 1009")
    assert [r.getMessage() for r in records] == [
        "closing a client: 1009", "close-1009: 2 more in the last 11s"]
    burst.flush()  # the note that ended the window counts in the next one
    assert records[-1].getMessage() == "close-1009: 1 more in the last 0s"
    assert burst.note("close-1009", "closing a client: 1009") is True  # a new burst
    burst.flush()
    assert len(records) == 4
