"""The DAG factory inside Airflow's own environment (run in that venv through a subprocess).

Airflow is not installed next to dli's tests; ``$DLI_AIRFLOW_VENV`` (default ``.venv-airflow``,
built by scripts/install-airflow.sh) is.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, Parameter, SpecDocument, Statement

REPO = Path(__file__).resolve().parents[4]
VENV = Path(os.environ.get("DLI_AIRFLOW_VENV") or REPO / ".venv-airflow")
PYTHON = VENV / "bin" / "python"

pytestmark = pytest.mark.skipif(not PYTHON.exists(), reason=f"no Airflow venv at {VENV} (scripts/install-airflow.sh)")

REGISTERED = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)

_PROBE = textwrap.dedent(
    """
    import json, sys
    from dli.entrypoints.airflow.dag_factory import load_dags
    namespace = {}
    dags = load_dags(namespace)
    out = {}
    for dag_id, dag in dags.items():
        out[dag_id] = {
            "in_namespace": namespace.get(dag_id) is dag,
            "tags": sorted(dag.tags),
            "description": dag.description,
            "timetable": type(dag.timetable).__name__,
            "cron": getattr(dag.timetable, "expression", None),
            "timetable_tz": str(getattr(dag.timetable, "timezone", "")),
            "timezone": str(dag.timezone.name if hasattr(dag.timezone, "name") else dag.timezone),
            "start_date": dag.start_date.isoformat(),
            "catchup": dag.catchup,
            "paused_on_creation": dag.is_paused_upon_creation,
            "max_active_runs": dag.max_active_runs,
            "params": {k: dag.params.get_param(k).value for k in dag.params},
            "tasks": [t.task_id for t in dag.topological_sort()] if hasattr(dag, "topological_sort") else sorted(dag.task_ids),
            "retries": {t.task_id: t.retries for t in dag.tasks},
            "retry_delay": {t.task_id: t.retry_delay.total_seconds() for t in dag.tasks},
            "timeout": {t.task_id: t.execution_timeout and t.execution_timeout.total_seconds() for t in dag.tasks},
            "conn_ids": {t.task_id: getattr(t, "conn_id", None) for t in dag.tasks},
            "continue": {t.task_id: getattr(t, "continue_on_error", None) for t in dag.tasks},
            "doc": {t.task_id: t.doc_md for t in dag.tasks},
        }
    print(json.dumps(out))
    """
)


def _run_probe(store: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH", "DLI_"))
    }
    full_env.update(
        {
            "DLI_STORE_URL": store.as_uri(),
            "AIRFLOW_HOME": str(store.parent / "airflow-home"),
            # The dli under test, not the one the Airflow venv has installed.
            "PYTHONPATH": str(REPO / "src"),
            **env,
        }
    )
    return subprocess.run([str(PYTHON), "-c", _PROBE], capture_output=True, text=True, env=full_env, timeout=300)


def _probe(store: Path, **env: str) -> dict:
    done = _run_probe(store, **env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


COMPAT_EXECUTION = {"timeout_seconds": 1800, "retry_count": 3, "retry_delay_seconds": 60, "dialect": "trino"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("factory")
    store = FilesystemSpecStore(root / "store")
    full = DatasetSpec(
        name="shop.daily",
        description="Daily numbers",
        owner="me@example.com",
        query_statement="INSERT INTO t VALUES ('{{ execution_date }}', {{ min_amount }})",
        parameters=(Parameter(name="min_amount", type="integer", default=3),),
        pre_statements=(Statement(sql="CREATE TABLE IF NOT EXISTS t (d TEXT, n INT)"),),
        post_statements=(Statement(sql="ANALYZE t", name="analyze", continue_on_error=True),),
        execution={"conn_id": "dli_local"},
        schedule=ScheduleConfig(
            cron="30 7 * * *", timezone="Asia/Seoul", enabled=False, retry_max_attempts=3, retry_delay_seconds=60
        ),
    )
    store.create(SourceType.MANUAL, SpecDocument(spec=full, source_type=SourceType.MANUAL, registered_at=REGISTERED))
    minimal = DatasetSpec(name="shop.minimal", query_statement="SELECT 1", schedule=ScheduleConfig(cron="0 9 * * *"))
    store.create(SourceType.CODE, SpecDocument(spec=minimal, source_type=SourceType.CODE))
    (root / "store" / "manual" / "shop.broken.yaml").write_text(
        "name: shop.broken\nquery_statement: SELECT 1\nschedule: {cron: 'not a cron'}\n"
    )
    # Written by another tool: the spec model refuses it when the store reads it.
    (root / "store" / "manual" / "shop.badexec.yaml").write_text(
        "name: shop.badexec\nquery_statement: SELECT 1\nexecution: {retry_count: three}\nschedule: {cron: '0 9 * * *'}\n"
    )
    specs = {
        "shop.compat": (COMPAT_EXECUTION, ScheduleConfig(cron="0 9 * * *")),
        "shop.flags": (
            COMPAT_EXECUTION,
            ScheduleConfig(cron="0 9 * * *", retry_max_attempts=5, retry_delay_seconds=10),
        ),
        "shop.unmapped": ({"dialect": "postgres"}, ScheduleConfig(cron="0 9 * * *")),
        "shop.pinned": ({**COMPAT_EXECUTION, "conn_id": "dli_local"}, ScheduleConfig(cron="0 9 * * *")),
    }
    for name, (execution, schedule) in specs.items():
        spec = DatasetSpec(
            name=name,
            query_statement="SELECT 1",
            pre_statements=(Statement(sql="SELECT 0", name="prepare"),),
            post_statements=(Statement(sql="SELECT 2"),),
            execution=execution,
            schedule=schedule,
        )
        store.create(
            SourceType.MANUAL, SpecDocument(spec=spec, source_type=SourceType.MANUAL, registered_at=REGISTERED)
        )
    mapping = json.dumps({"trino": "trino_prod"})
    return {
        "all": _probe(root / "store", DLI_DIALECT_CONNECTIONS=mapping),
        "one": _probe(root / "store", _AIRFLOW_PARSING_CONTEXT_DAG_ID="shop.minimal"),
        "bad_mapping": _run_probe(root / "store", DLI_DIALECT_CONNECTIONS="trino=trino_prod"),
    }


def test_one_dag_per_dataset_named_after_it(built) -> None:
    assert set(built["all"]) == {
        "shop.daily",
        "shop.minimal",
        "shop.broken",
        "shop.compat",
        "shop.flags",
        "shop.unmapped",
        "shop.pinned",
        "shop.badexec",
    }
    assert all(d["in_namespace"] for d in built["all"].values())


def test_schedule_retries_tags_and_pause_come_from_the_spec(built) -> None:
    dag = built["all"]["shop.daily"]
    assert dag["timetable"] == "CronTriggerTimetable" and dag["cron"] == "30 7 * * *"
    assert dag["timezone"] == "Asia/Seoul" and "Seoul" in dag["timetable_tz"]
    assert dag["tags"] == ["dli", "source:manual"]
    assert dag["paused_on_creation"] is True and dag["catchup"] is False and dag["max_active_runs"] == 1
    assert dag["description"] == "Daily numbers"
    assert dag["params"] == {"min_amount": 3}
    assert dag["retries"]["query"] == 2 and dag["retry_delay"]["query"] == 60.0
    assert dag["retries"]["dli_guard"] == 0


def test_start_date_is_the_registration_time_so_unpausing_does_not_run_a_past_tick(built) -> None:
    assert dt.datetime.fromisoformat(built["all"]["shop.daily"]["start_date"]) == REGISTERED


def test_tasks_run_guard_pre_query_post_on_the_specs_connection(built) -> None:
    dag = built["all"]["shop.daily"]
    assert dag["tasks"] == ["dli_guard", "pre_1", "query", "post_1_analyze"]
    assert dag["conn_ids"]["query"] == "dli_local"
    assert dag["continue"]["post_1_analyze"] is True and dag["continue"]["pre_1"] is False
    minimal = built["all"]["shop.minimal"]
    assert minimal["conn_ids"]["query"] == "dli_default" and minimal["tags"] == ["dli", "source:code"]


def test_each_sql_tasks_documentation_names_its_connection_and_whether_it_continues_on_error(built) -> None:
    """Airflow's REST API and UI show a task's doc_md, and neither its connection nor continue_on_error."""
    docs = built["all"]["shop.daily"]["doc"]
    assert "continue_on_error: true" in docs["post_1_analyze"] and "`post_1_analyze`" in docs["post_1_analyze"]
    assert "continue_on_error: false" in docs["pre_1"] and "continue_on_error: false" in docs["query"]
    assert all(
        "connection `dli_local` (execution.conn_id of the spec)" in docs[t]
        for t in ("pre_1", "query", "post_1_analyze")
    )
    assert all("`shop.daily`" in docs[t] for t in ("pre_1", "query", "post_1_analyze"))
    mapped = built["all"]["shop.compat"]["doc"]
    assert "connection `trino_prod` (dialect 'trino', mapped by DLI_DIALECT_CONNECTIONS)" in mapped["query"]
    assert "connection `postgres_default`" in built["all"]["shop.unmapped"]["doc"]["query"]


def test_a_broken_spec_becomes_a_paused_placeholder_and_the_others_still_load(built) -> None:
    broken = built["all"]["shop.broken"]
    assert "dli:broken" in broken["tags"] and broken["paused_on_creation"] is True
    assert broken["description"].startswith("dli: broken spec: ") and "cron" in broken["description"].lower()
    assert broken["tasks"] == ["dli_broken_spec"]


def test_a_worker_builds_only_the_dag_it_runs(built) -> None:
    assert set(built["one"]) == {"shop.minimal"}


SQL_TASKS = ("pre_1_prepare", "query", "post_1")


def test_every_sql_task_gets_the_execution_blocks_retries_delay_and_timeout(built) -> None:
    dag = built["all"]["shop.compat"]
    assert {dag["retries"][t] for t in SQL_TASKS} == {3}
    assert {dag["retry_delay"][t] for t in SQL_TASKS} == {60.0}
    assert {dag["timeout"][t] for t in SQL_TASKS} == {1800.0}
    assert dag["retries"]["dli_guard"] == 0 and dag["timeout"]["dli_guard"] is None


def test_a_spec_without_execution_block_has_no_timeout_and_the_default_retries(built) -> None:
    dag = built["all"]["shop.minimal"]
    assert (dag["retries"]["query"], dag["retry_delay"]["query"], dag["timeout"]["query"]) == (0, 300.0, None)


def test_register_retry_flags_win_over_the_execution_block(built) -> None:
    dag = built["all"]["shop.flags"]
    assert {dag["retries"][t] for t in SQL_TASKS} == {4}
    assert {dag["retry_delay"][t] for t in SQL_TASKS} == {10.0}
    assert dag["timeout"]["query"] == 1800.0


def test_the_dialect_picks_the_mapped_connection_else_airflows_dialect_default(built) -> None:
    assert {built["all"]["shop.compat"]["conn_ids"][t] for t in SQL_TASKS} == {"trino_prod"}
    assert {built["all"]["shop.unmapped"]["conn_ids"][t] for t in SQL_TASKS} == {"postgres_default"}


def test_the_specs_conn_id_wins_over_the_dialect_mapping(built) -> None:
    assert {built["all"]["shop.pinned"]["conn_ids"][t] for t in SQL_TASKS} == {"dli_local"}


def test_a_bad_execution_value_makes_a_broken_dag_naming_the_key(built) -> None:
    broken = built["all"]["shop.badexec"]
    assert "dli:broken" in broken["tags"]
    assert "execution.retry_count" in broken["description"] and "three" in broken["description"]


def test_a_bad_dialect_mapping_fails_the_dag_file_with_the_variable_named(built) -> None:
    done = built["bad_mapping"]
    assert done.returncode != 0
    assert "DLI-001" in done.stderr and "DLI_DIALECT_CONNECTIONS is not valid JSON" in done.stderr
