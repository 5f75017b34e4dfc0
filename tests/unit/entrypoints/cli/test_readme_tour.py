"""The README's five-minute tour runs as written right after ``scripts/demo.sh``.

The commands are read from the two files themselves and run, in order, against one MOCK world that
outlives each invocation (the demo's registrations are still there when the tour starts), from the
example project's folder, as a user would.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
SHOP = ROOT / "examples" / "shop"


def _expand(line: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), line)


def _dli_commands(lines: list[str], variables: dict[str, str]) -> list[list[str]]:
    """The ``dli workflow ...`` command lines among ``lines``, each split at ``&&``, comments dropped."""
    commands = []
    for line in lines:
        tokens = shlex.split(_expand(line, variables), comments=True)
        while tokens:
            head, tokens = (
                (tokens[: tokens.index("&&")], tokens[tokens.index("&&") + 1 :]) if "&&" in tokens else (tokens, [])
            )
            if head and head[0] == "dli" and "dev" not in head[1:3]:
                commands.append(head[1:])
    return commands


def demo_commands(variables: dict[str, str]) -> list[list[str]]:
    lines = (ROOT / "scripts" / "demo.sh").read_text().splitlines()
    return _dli_commands([line.removeprefix("show ") for line in lines if line.startswith("show dli ")], variables)


def tour_commands(variables: dict[str, str]) -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    tour = readme.split("## A five-minute tour", 1)[1]
    block = tour.split("```bash\n", 1)[1].split("```", 1)[0]
    return _dli_commands(block.splitlines(), variables)


@pytest.fixture
def variables(tmp_path: Path) -> dict[str, str]:
    return {"ROOT": str(ROOT), "DLI_DEV_HOME": str(tmp_path / ".dli-dev"), "OLDPWD": str(tmp_path)}


def test_the_commands_are_found(variables):
    assert ["workflow", "register"] == demo_commands(variables)[0][:2]
    tour = tour_commands(variables)
    assert tour[0][:3] == ["workflow", "register", "shop.orders_raw"]
    assert ["workflow", "pause", "shop.orders_raw"] in tour and ["workflow", "unpause", "shop.orders_raw"] in tour
    assert any(command[:2] == ["workflow", "publish"] for command in tour)


def test_the_tour_runs_as_written_after_the_demo(cli, monkeypatch, variables):
    monkeypatch.chdir(SHOP)
    for command in demo_commands(variables):
        result = cli(*command)
        assert result.exit_code == 0, (command, result.output)
    for command in tour_commands(variables):
        result = cli(*command)
        assert result.exit_code == 0, (command, result.output)
