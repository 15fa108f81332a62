"""The cached config verdict: reused while the file is unchanged, redone after an edit."""

from __future__ import annotations

import json
import os
from pathlib import Path

from openclaw.configcheck import check_config


def test_missing_file_is_valid(tmp_path: Path) -> None:
    assert check_config(tmp_path / "nope.json", tmp_path / "cache.json") == (True, None)


def test_verdict_is_cached_and_invalidated_by_an_edit(tmp_path: Path) -> None:
    config, cache = tmp_path / "openclaw.json", tmp_path / "cache.json"
    config.write_text('{"gateway": {"bind": "moon"}}')
    valid, error = check_config(config, cache)
    assert valid is False and error is not None and "gateway.bind" in error
    assert json.loads(cache.read_text())["valid"] is False

    # A forged cache entry with the same identity is believed: proof the cache is read.
    stored = json.loads(cache.read_text())
    cache.write_text(json.dumps({**stored, "error": "from the cache"}))
    assert check_config(config, cache) == (False, "from the cache")

    config.write_text('{"gateway": {"bind": "lan"}}')  # new size and mtime
    os.utime(config, ns=(1, 1))
    assert check_config(config, cache) == (True, None)
    assert json.loads(cache.read_text())["valid"] is True


def test_no_cache_dir_still_answers(tmp_path: Path) -> None:
    config = tmp_path / "openclaw.json"
    config.write_text("{}")
    assert check_config(config, tmp_path / "missing-dir" / "cache.json") == (True, None)
    assert not (tmp_path / "missing-dir").exists()
