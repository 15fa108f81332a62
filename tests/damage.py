"""A populated gateway database, and the two ways a disk or a copy damages one:
cut short at a page boundary, and garbage written into a page."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from openclaw.store.db import open_database

PAGE = 4096


def populated(path: Path, turns: int = 400) -> None:
    """A migrated gateway database holding ``turns`` transcript rows, all in the main
    file (closing the last connection checkpoints the WAL)."""
    db = open_database(path)
    db.execute("BEGIN")
    for i in range(turns):
        db.execute("INSERT INTO turns (session_key, role, text, ts) VALUES ('main', 'user', ?, ?)",
                   (f"message {i} " + "x" * 300, i))
    db.execute("COMMIT")
    db.close()


def truncate(path: Path) -> None:
    """Cut the file to half its pages: a whole number of pages, so only the header's
    page count shows it."""
    size = path.stat().st_size
    assert size > 8 * PAGE
    with open(path, "r+b") as stream:
        stream.truncate(size // PAGE // 2 * PAGE)


def scribble(path: Path) -> None:
    """Overwrite the root page of the turns table after its page header; the file
    header and length stay intact, so only reading the pages shows it."""
    db = sqlite3.connect(path)
    [(root,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'turns'")
    db.close()
    with open(path, "r+b") as stream:
        stream.seek((root - 1) * PAGE + 12)
        stream.write(b"\xa5" * 1500)


def turn_count(path: Path) -> int:
    """Rows in the turns table."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM turns").fetchone()[0])
    finally:
        db.close()
