"""The README's quick start stays true: CI runs the same test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    command = ci[-1]
    assert "pytest" in command
    assert f"\n{command}\n" in readme


def test_readme_has_exactly_two_quick_start_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("With the gateway running", 1)[0]
    blocks = section.split("```sh\n")[1:]
    commands = [block.split("```", 1)[0].strip() for block in blocks]
    assert len(commands) == 2
    assert commands[0].endswith("openclaw gateway")
    assert commands[1].endswith("python -m pytest")
