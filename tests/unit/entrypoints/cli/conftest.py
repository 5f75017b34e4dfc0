"""Call the ``dli`` cyclopts app in process, over a MOCK world that outlives one invocation.

Each ``cli(...)`` call is one ``dli`` invocation. By default invocations share one in-memory store,
orchestrator and fake clock (so that register-then-list can be tested); ``cli.fresh(...)`` uses the
real MOCK wiring, whose state lives for one invocation only.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.simulation.seed import seed_mock
from dli.adapters.stores.memory import InMemorySpecStore
from dli.entrypoints.api import WorkflowAPI
from dli.entrypoints.cli.app import invoke
from dli.entrypoints.context import ExecutionContext

NOW = dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.UTC)


@attrs.frozen
class Result:
    """What one invocation did."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


class CLI:
    def __init__(self, project: Path) -> None:
        self.project = project
        self.clock = FakeClock(current=NOW)
        self.store = InMemorySpecStore()
        self.orchestrator = InMemoryOrchestrator(clock=self.clock, store=self.store)
        seed_mock(self.store, self.orchestrator, now=self.clock.now())
        self.contexts: list[ExecutionContext] = []

    def _factory(self, context: ExecutionContext):  # type: ignore[no-untyped-def]
        self.contexts.append(context)
        return WorkflowAPI(context, store=self.store, orchestrator=self.orchestrator, clock=self.clock)

    def __call__(self, *args: str, factory: Any = "shared", sleep: Any = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = invoke(
            list(args),
            api_factory=self._factory if factory == "shared" else factory,
            stdout=out,
            stderr=err,
            sleep=sleep or self.clock.advance,
            monotonic=lambda: self.clock.now().timestamp(),
            now=self.clock.now,
        )
        return Result(exit_code=int(code), stdout=out.getvalue(), stderr=err.getvalue())

    def fresh(self, *args: str) -> Result:
        """An invocation with the real MOCK wiring (its own seeded world, the system clock)."""

        def record(context: ExecutionContext):  # type: ignore[no-untyped-def]
            self.contexts.append(context)
            return WorkflowAPI(context)

        return self(*args, factory=record)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No DLI_* variable, no user config file, the current directory an empty project."""
    for name in list(__import__("os").environ):
        if name.startswith("DLI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no user config file there
    monkeypatch.setenv("DLI_MODE", "mock")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return project


@pytest.fixture
def cli(isolated_env: Path) -> CLI:
    return CLI(isolated_env)
