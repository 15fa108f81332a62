"""The package layers hold: the import contracts in pyproject.toml, checked by import-linter.

A contract is broken by one stray import (the daemon importing ``service/``, the store
importing a channel, the protocol core importing the daemon), so this test fails the
moment the layering rots, naming the offending import chain.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is not installed: pip install -e '.[test]'"
    return subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def test_every_import_contract_is_kept() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_broken_layer_is_caught(tmp_path: Path) -> None:
    """The checker really looks: a module of the store importing a channel breaks it."""
    stray = ROOT / "src" / "openclaw" / "store" / "_stray_for_test.py"
    stray.write_text("from openclaw.channels import registry  # noqa: F401\n")
    try:
        result = _lint_imports()
    finally:
        stray.unlink()
    assert result.returncode != 0
    assert "openclaw.store._stray_for_test -> openclaw.channels.registry" in result.stdout
