"""End to end: every dataset of every real project of ``../shared/corpus/`` registers, unedited, on
the real Airflow, and its DAG carries what the project's files say.

The corpus holds projects written for other versions of the dli toolchain, verbatim (see its
README). Each dataset is registered from its project folder (nothing is copied into it, nothing
written), then Airflow's own REST API is read: the DAG exists and is not broken, its schedule is the
registered cron in the registered timezone, and every SQL task carries the spec's ``execution``
block merged over ``dli.yaml`` ``defaults`` (the spec wins), the built-in defaults of
docs/airflow.md otherwise. The corpus is Trino SQL and the stack has no Trino: one run of each
dataset is started only to see its first statement rendered and failing at connecting, on the
connection its dialect gives (``trino_default`` here: the stack maps only ``sqlite``), then stopped.

The expected values are read from the YAML files with plain ``yaml``, never with dli, so that a
factory or a project loader that drops a setting fails here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
import yaml

from tests.e2e.stack import E2EStack, wait_for
from tests.e2e.test_execution_block import _seconds, _tasks

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
# A missing corpus is a failure, not a skip: a test that never runs proves nothing.
PROJECTS = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []
# Fires on 29 February only: the schedule is enabled as users register it, yet starts no run here.
CRON = "15 6 29 2 *"
TIMEZONE = "Asia/Seoul"  # not UTC, so that a timezone dropped on the way shows
RUN_DATE = "2025-01-01"
# The built-in defaults of docs/airflow.md ("Execution settings and connections").
DEFAULT_RETRIES, DEFAULT_RETRY_DELAY, DEFAULT_CONN_ID = 0, 300, "dli_default"
GUARD = "dli_guard"
# A statement name becomes part of a task id with anything but these characters replaced.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@attrs.frozen
class Step:
    task_id: str
    continue_on_error: bool


@attrs.frozen
class Expected:
    """One corpus dataset, and what its DAG must carry, from its YAML file and its project's ``dli.yaml``."""

    project: Path
    name: str
    owner: str | None
    retries: int
    retry_delay: float
    timeout: float | None
    dialect: str | None
    conn_id: str | None
    steps: tuple[Step, ...]
    """The SQL tasks in chain order: pre statements, the query, post statements."""

    def connection(self, dialect_connections: dict[str, str]) -> str:
        """docs/airflow.md: ``conn_id``; else the dialect's mapping; else ``<dialect>_default``; else ``dli_default``."""
        if self.conn_id:
            return self.conn_id
        if self.dialect:
            mapped = {k.lower(): v for k, v in dialect_connections.items()}
            return mapped.get(self.dialect.lower(), f"{self.dialect.lower()}_default")
        return DEFAULT_CONN_ID


def _is_dataset_file(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and (
        path.name in ("dataset.yaml", "dataset.yml") or (path.name.startswith("dataset.") and path.stem != "dataset")
    )


def _steps(kind: str, statements: list[Any]) -> list[Step]:
    steps = []
    for index, statement in enumerate(statements, start=1):
        if isinstance(statement, str):
            statement = {"sql": statement}
        label = _UNSAFE.sub("_", statement.get("name") or "").strip("_")[:60]
        task_id = f"{kind}_{index}_{label}" if label else f"{kind}_{index}"
        steps.append(Step(task_id, bool(statement.get("continue_on_error", False))))
    return steps


def expected_datasets(project: Path) -> list[Expected]:
    config = yaml.safe_load((project / "dli.yaml").read_text()) or {}
    defaults = config.get("defaults") or {}
    found = []
    for path in sorted(project.rglob("dataset*.y*ml")):
        if not _is_dataset_file(path) or any(part.startswith(".") for part in path.relative_to(project).parts):
            continue
        data = yaml.safe_load(path.read_text())
        execution = {**defaults, **(data.get("execution") or {})}
        timeout = execution.get("timeout_seconds")
        found.append(
            Expected(
                project=project,
                name=data.get("name") or path.name.split(".", 1)[1].rsplit(".", 1)[0],
                owner=data.get("owner"),
                retries=execution.get("retry_count", DEFAULT_RETRIES),
                retry_delay=float(execution.get("retry_delay_seconds", DEFAULT_RETRY_DELAY)),
                timeout=None if timeout is None else float(timeout),
                dialect=execution.get("dialect"),
                conn_id=execution.get("conn_id"),
                steps=(
                    *_steps("pre", data.get("pre_statements") or []),
                    Step("query", False),
                    *_steps("post", data.get("post_statements") or []),
                ),
            )
        )
    return found


EXPECTED = [d for project in PROJECTS for d in expected_datasets(project)]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with its content's hash: any write shows."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def registered(stack: E2EStack) -> Iterator[dict[str, dict[str, Any]]]:
    """Every corpus dataset registered from its project folder, as a user would (schedule enabled).

    Unregistered afterwards whatever happened: the stack is shared with the rest of the e2e suite.
    """
    before = {project: snapshot(project) for project in PROJECTS}
    done: list[Expected] = []
    results: dict[str, dict[str, Any]] = {}
    try:
        for dataset in EXPECTED:
            results[dataset.name] = stack.dli_json(
                "workflow",
                "register",
                dataset.name,
                "--cron",
                CRON,
                "--timezone",
                TIMEZONE,
                "--wait",
                project=dataset.project,
            )
            done.append(dataset)
        yield results
    finally:
        for dataset in done:
            stack.dli("workflow", "unregister", dataset.name, project=dataset.project, check=False)
        for project, files in before.items():
            assert snapshot(project) == files, f"dli wrote into the corpus project {project}"


def _dialect_connections(stack: E2EStack) -> dict[str, str]:
    """The factory's ``DLI_DIALECT_CONNECTIONS``, as the stack gives it to Airflow."""
    assert stack.airflow is not None
    return json.loads(stack.airflow.extra_env.get("DLI_DIALECT_CONNECTIONS") or "{}")


def test_the_corpus_folder_is_there_with_projects_holding_datasets() -> None:
    assert CORPUS.is_dir(), f"the corpus folder {CORPUS} is missing (it sits next to the repository: ../shared/corpus)"
    assert PROJECTS, f"no project in {CORPUS}"
    for project in PROJECTS:
        assert (project / "dli.yaml").is_file(), project
        assert [d for d in EXPECTED if d.project == project], f"no dataset spec in {project}"


@pytest.mark.parametrize("dataset", EXPECTED, ids=[f"{d.project.name}:{d.name}" for d in EXPECTED])
def test_a_corpus_dataset_registers_into_a_dag_that_is_not_broken(
    stack: E2EStack, registered: dict[str, dict[str, Any]], dataset: Expected
) -> None:
    assert registered[dataset.name]["status"] == "success", registered[dataset.name]
    dag = stack.dag(dataset.name)
    assert dag is not None, f"Airflow has no DAG {dataset.name}"
    assert "dli:broken" not in {t["name"] for t in dag["tags"]}, dag["description"]
    assert not dag["has_import_errors"] and not dag["is_stale"], dag
    errors = stack.rest("GET", "/api/v2/importErrors", params={"limit": 100}).json()["import_errors"]
    assert not [e for e in errors if e["filename"] in (dag["fileloc"], dag["relative_fileloc"])], errors


@pytest.mark.parametrize("dataset", EXPECTED, ids=[f"{d.project.name}:{d.name}" for d in EXPECTED])
def test_a_corpus_dags_schedule_is_the_registered_cron_in_the_registered_timezone(
    stack: E2EStack, registered: dict[str, dict[str, Any]], dataset: Expected
) -> None:
    dag = stack.dag(dataset.name)
    assert dag is not None
    assert dag["timetable_summary"] == CRON, dag
    assert dag["is_paused"] is False
    # Airflow reports times in UTC: the next fire time is 29 February 06:15 on the registered zone's clock.
    fires = wait_for(
        lambda: (stack.dag(dataset.name) or {}).get("next_dagrun_run_after"), timeout=60, what="the next fire time"
    )
    local = dt.datetime.fromisoformat(fires.replace("Z", "+00:00")).astimezone(ZoneInfo(TIMEZONE))
    assert (local.month, local.day, local.hour, local.minute) == (2, 29, 6, 15), (fires, local)


@pytest.mark.parametrize("dataset", EXPECTED, ids=[f"{d.project.name}:{d.name}" for d in EXPECTED])
def test_every_sql_task_of_a_corpus_dag_carries_the_execution_block_over_the_project_defaults(
    stack: E2EStack, registered: dict[str, dict[str, Any]], dataset: Expected
) -> None:
    tasks = _tasks(stack, dataset.name)
    chain = [GUARD, *(s.task_id for s in dataset.steps)]
    assert sorted(tasks) == sorted(chain)
    for task_id, after in zip(chain, [*chain[1:], None], strict=True):
        assert tasks[task_id]["downstream_task_ids"] == ([after] if after else []), tasks[task_id]
    for step in dataset.steps:
        task = tasks[step.task_id]
        assert task["retries"] == dataset.retries, task
        assert _seconds(task["retry_delay"]) == dataset.retry_delay, task
        assert _seconds(task["execution_timeout"]) == dataset.timeout, task
        assert task["trigger_rule"] == "all_success", task
        if dataset.owner:
            assert task["owner"] == dataset.owner, task
    assert tasks[GUARD]["retries"] == 0


@pytest.mark.parametrize("dataset", EXPECTED, ids=[f"{d.project.name}:{d.name}" for d in EXPECTED])
def test_every_sql_task_of_a_corpus_dag_runs_on_the_connection_of_its_dialect_and_says_if_it_continues_on_error(
    stack: E2EStack, registered: dict[str, dict[str, Any]], dataset: Expected
) -> None:
    tasks = _tasks(stack, dataset.name)
    conn_id = dataset.connection(_dialect_connections(stack))
    for step in dataset.steps:
        task = tasks[step.task_id]
        # The REST API shows no operator field but the templated ones and the task's documentation.
        assert task["doc_md"] and f"connection `{conn_id}`" in task["doc_md"], task
        assert f"continue_on_error: {str(step.continue_on_error).lower()}" in task["doc_md"], task


def _task_instance(stack: E2EStack, run_id: str, task_id: str) -> dict[str, Any]:
    name, native = run_id.split("@", 1)
    response = stack.rest("GET", f"/api/v2/dags/{name}/dagRuns/{native}/taskInstances/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("dataset", EXPECTED, ids=[f"{d.project.name}:{d.name}" for d in EXPECTED])
def test_a_run_of_a_corpus_dataset_renders_its_first_statement_and_fails_at_connecting_to_its_dialects_connection(
    stack: E2EStack, registered: dict[str, dict[str, Any]], dataset: Expected
) -> None:
    conn_id = dataset.connection(_dialect_connections(stack))
    first = dataset.steps[0].task_id
    run_id = stack.dli_json(
        "workflow", "run", dataset.name, "-p", f"execution_date={RUN_DATE}", project=dataset.project
    )["run_id"]
    try:
        # The first attempt ends (up for retry, or failed when the block allows no retry); no later one is awaited.
        ended = wait_for(
            lambda: (ti := _task_instance(stack, run_id, first))["state"] in ("up_for_retry", "failed") and ti,
            timeout=240,
            what=f"the first attempt of {first}",
        )
        assert ended["rendered_fields"]["conn_id"] == conn_id, ended["rendered_fields"]
        # The corpus's Jinja rendered on Airflow before connecting: no placeholder is left.
        sql = ended["rendered_fields"]["sql"]
        sql = "\n".join(sql) if isinstance(sql, list) else sql
        assert "{{" not in sql and "{%" not in sql, sql
        logs = stack.dli("workflow", "logs", run_id, project=dataset.project).stdout
        assert f"The conn_id `{conn_id}` isn't defined" in logs, logs[-3000:]
        # dli's own line says how the spec led to that connection and how to define it.
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in logs, logs[-3000:]
    finally:
        # Not left to retry for minutes against a connection that does not exist.
        stack.dli("workflow", "stop", run_id, project=dataset.project, check=False)
    stack.wait_run(run_id, project=dataset.project)
    # The run ended without any SQL task succeeding. (Its status is not asserted: on a SQLite metadata
    # database, Airflow's scheduler can overwrite the stop with "success" when it stops a run whose
    # only unfinished tasks were waiting, all then skipped; see docs/airflow.md, pitfalls.)
    states = {s.task_id: _task_instance(stack, run_id, s.task_id)["state"] for s in dataset.steps}
    assert "success" not in states.values(), states
