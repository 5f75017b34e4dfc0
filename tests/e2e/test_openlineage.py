"""The DAG factory's SQL tasks emit OpenLineage run events on real Airflow (the OpenLineage provider,
its file transport): start, complete and fail, with the dataset's ``depends_on`` as inputs and the
dataset as output, in the namespace ``DLI_OPENLINEAGE_NAMESPACE`` names.

``airflow dags test`` runs one DAG run of the real Airflow (metadata database, task runner,
listeners) without starting its services: seconds rather than a minute of ``airflow standalone``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import SpecDocument, Statement
from dli.testing.specs import make_spec

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("DLI_AIRFLOW_VENV") or REPO / ".venv-airflow")
AIRFLOW = VENV / "bin" / "airflow"

pytestmark = [
    pytest.mark.skipif(not AIRFLOW.exists(), reason=f"no Airflow venv at {VENV} (scripts/install-airflow.sh)"),
    pytest.mark.timeout(300),
]


def _has_provider() -> bool:
    done = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import airflow.providers.openlineage"], capture_output=True, check=False
    )
    return done.returncode == 0


def test_sql_tasks_emit_start_complete_and_fail_with_depends_on_as_inputs_and_the_dataset_as_output(tmp_path: Path):
    if not _has_provider():
        pytest.fail(
            "apache-airflow-providers-openlineage is not installed in the Airflow venv (scripts/install-airflow.sh)"
        )
    store = FilesystemSpecStore(tmp_path / "store")
    spec = make_spec(
        "shop.orders",
        depends_on=("raw.orders", "shop.customers"),
        query_statement="CREATE TABLE IF NOT EXISTS orders AS SELECT 1 AS id",
        post_statements=(Statement(sql="SELECT * FROM no_such_table"),),  # fails: its task's FAIL event
    )
    store.create(SourceType.MANUAL, SpecDocument(spec=spec, source_type=SourceType.MANUAL))
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO / "src" / "dli" / "entrypoints" / "airflow" / "dli_dags.py", dags / "dli_dags.py")
    events_file = tmp_path / "openlineage.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH", "DLI_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events_file), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "airflow-e2e",
            "AIRFLOW_CONN_DLI_DEFAULT": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "warehouse.sqlite")}),
            "DLI_STORE_URL": (tmp_path / "store").as_uri(),
            "DLI_OPENLINEAGE_NAMESPACE": "sqlite://warehouse",
            "PYTHONPATH": str(REPO / "src"),
        }
    )
    migrated = subprocess.run(
        [str(AIRFLOW), "db", "migrate"], capture_output=True, text=True, env=env, timeout=240, check=False
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    ran = subprocess.run(
        [str(AIRFLOW), "dags", "test", "shop.orders"], capture_output=True, text=True, env=env, timeout=240, check=False
    )
    output = ran.stdout + ran.stderr
    assert "no_such_table" in output, output[-3000:]  # the post statement ran and failed

    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    by_task: dict[str, list[dict]] = {}
    for event in events:
        by_task.setdefault(event["job"]["name"], []).append(event)
    query = by_task["shop.orders.query"]
    assert [e["eventType"] for e in query] == ["START", "COMPLETE"]
    post = by_task[next(name for name in by_task if name.startswith("shop.orders.post"))]
    assert [e["eventType"] for e in post] == ["START", "FAIL"]
    for event in (*query, *post):
        assert event["job"]["namespace"] == "airflow-e2e"
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
            ("sqlite://warehouse", "raw.orders"),
            ("sqlite://warehouse", "shop.customers"),
        ]
        assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [("sqlite://warehouse", "shop.orders")]
    assert len({e["run"]["runId"] for e in query}) == 1  # START and COMPLETE of one run
