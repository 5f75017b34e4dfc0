"""The analyzer is built lazily (sqlglot imported on the first check only) and says so when sqlglot
is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dli
from dli.adapters.sql import build_sql_analyzer
from dli.adapters.sql.unavailable import UnavailableAnalyzer


def _run(code: str) -> str:
    src = str(Path(dli.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_listing_workflows_in_mock_mode_never_imports_sqlglot():
    code = (
        "import sys\n"
        "from dli import WorkflowAPI, ExecutionContext, ExecutionMode\n"
        "api = WorkflowAPI(ExecutionContext(execution_mode=ExecutionMode.MOCK))\n"
        "api.list_workflows(limit=5)\n"
        "print('sqlglot' in sys.modules)"
    )
    assert _run(code).strip() == "False"


def test_the_lazy_analyzer_imports_sqlglot_on_its_first_check():
    code = (
        "import sys\n"
        "from dli.adapters.sql import LazySqlAnalyzer\n"
        "a = LazySqlAnalyzer()\n"
        "before = 'sqlglot' in sys.modules\n"
        "a.analyze('SELECT 1', variables={}, dialect='trino')\n"
        "print(before, 'sqlglot' in sys.modules)"
    )
    assert _run(code).split() == ["False", "True"]


def test_without_sqlglot_every_statement_is_not_checked_and_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlglot", None)  # import sqlglot now raises ImportError
    monkeypatch.delitem(sys.modules, "dli.adapters.sql.sqlglot_analyzer", raising=False)
    analyzer = build_sql_analyzer()
    assert isinstance(analyzer, UnavailableAnalyzer)
    result = analyzer.analyze("SELEC broken", variables={}, dialect="trino")
    assert result.problem is None and "pip install 'dli[sql]'" in (result.unchecked or "")


def test_a_second_mock_register_of_unchanged_sql_imports_no_sqlglot_and_a_changed_one_is_refused(tmp_path):
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dli.yaml").write_text("defaults: {dialect: trino}\n")
    spec = project / "models" / "dataset.lake.mart.daily.yaml"

    def write(query: str) -> None:
        spec.write_text(f"name: lake.mart.daily\nquery_statement: {query!r}\n")

    code = (
        "import sys\n"
        "from dli import WorkflowAPI, ExecutionContext, ExecutionMode, SpecInvalidError\n"
        f"api = WorkflowAPI(ExecutionContext(execution_mode=ExecutionMode.MOCK, project_path={str(project)!r}))\n"
        "try:\n"
        "    api.register('lake.mart.daily', cron='0 6 * * *')\n"
        "    outcome = 'registered'\n"
        "except SpecInvalidError as exc:\n"
        "    outcome = exc.code.value\n"
        "print(outcome, 'sqlglot' in sys.modules)"
    )
    src = str(Path(dli.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("DLI_SQL_CACHE", None)

    def register() -> list[str]:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        return done.stdout.split()

    write("SELECT id FROM lake.raw.orders")
    assert register() == ["registered", "True"]
    assert register() == ["registered", "False"]  # the verdict kept by the first
    write("SELECT id FROM lake.raw.orders)")
    assert register() == ["DLI-203", "True"]
    assert register() == ["DLI-203", "False"]  # a kept error still refuses
    assert not (project / ".dli").exists()  # nothing written into the project
