"""End to end on a production-shaped stack: PostgreSQL, Redis, Airflow 3 with the CeleryExecutor in
separate processes (two workers), the S3 store, and two Basecamp replicas.

One stack for the whole package, started once; the scenarios share DAG runs where they can, so the
module stays within a few minutes. Everything goes through the ``dli`` CLI or Basecamp's REST API
and is checked where it happens: Airflow's REST API (which worker ran a task), the SQLite database
the SQL writes to, the processes on this machine.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest

from dli.adapters.codecs.specs import spec_to_dict
from tests.e2e.production.conftest import Production
from tests.e2e.stack import write_project
from tests.support.production_stack import WORKER_HOSTNAMES, wait_for
from tests.support.specs import make_spec

pytestmark = pytest.mark.timeout(600)

ORDERS = """\
name: prod.orders
owner: e2e@example.com
parameters:
  - {name: label, type: string, default: plain}
execution:
  conn_id: dli_local
pre_statements:
  - CREATE TABLE IF NOT EXISTS prod_orders (dt TEXT, label TEXT, run_id TEXT)
query_statement: >-
  INSERT INTO prod_orders (dt, label, run_id) VALUES ('{{ execution_date }}', '{{ label }}', '{{ run_id }}')
"""

# Fails for 2025-03-01 only (the table does not exist).
FRAGILE = """\
name: prod.fragile
owner: e2e@example.com
execution:
  conn_id: dli_local
query_statement: >-
  {% if execution_date == '2025-03-01' %}INSERT INTO prod_no_such_table VALUES (1)
  {% else %}SELECT 1{% endif %}
"""

# Burns CPU inside SQLite's C code until killed: it keeps one worker busy.
BURN = """\
name: prod.burn
owner: e2e@example.com
execution:
  conn_id: dli_local
query_statement: WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c
"""


def _layered(label: str, *, code: bool) -> str:
    text = f"""\
name: prod.layered
owner: e2e@example.com
execution:
  conn_id: dli_local
pre_statements:
  - CREATE TABLE IF NOT EXISTS prod_layered (label TEXT, run_id TEXT)
query_statement: INSERT INTO prod_layered (label, run_id) VALUES ('{label}', '{{{{ run_id }}}}')
"""
    return text + ('schedule:\n  cron: "0 9 * * *"\n  timezone: UTC\n' if code else "")


@pytest.fixture(scope="module")
def project(production: Production) -> Path:
    return write_project(production.root / "project", [ORDERS, FRAGILE, BURN, _layered("manual", code=False)])


def _register(production: Production, project: Path, name: str, *, replica: int = 0, cron: str = "0 9 * * *") -> None:
    result = production.dli_json(
        "workflow", "register", name, "--cron", cron, "--tz", "UTC", "--wait", project=project, replica=replica
    )
    assert result["status"] == "success"


def _running_pid(production: Production, run_id: str, task_id: str) -> tuple[int, str] | None:
    for ti in production.task_instances(run_id):
        if ti["task_id"] == task_id and ti["state"] == "running" and ti.get("pid"):
            return ti["pid"], ti["hostname"]
    return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def test_a_registration_through_one_replica_is_live_in_airflow_and_listed_by_the_other(
    production: Production, project: Path
) -> None:
    _register(production, project, "prod.orders", replica=0)
    dag = production.dag("prod.orders")
    assert dag is not None and dag["is_paused"] is False
    assert {t["name"] for t in dag["tags"]} >= {"dli", "source:manual"}
    # Replica 2 learns of replica 1's write from the store, on its next check (every 1 s here).
    wait_for(
        lambda: production.listed("prod.orders", replica=1) == {("manual", "active")}, timeout=10, what="listed on 2"
    )


@pytest.fixture(scope="module")
def burning(production: Production, project: Path) -> tuple[str, int, str]:
    """A run whose task burns CPU on one worker: ``(run_id, task pid, worker)``."""
    # A cron that does not fire while the tests run: a scheduled run would burn a CPU until the stack stops.
    _register(production, project, "prod.burn", replica=1, cron="0 6 1 1 *")
    run_id = production.dli_json("workflow", "run", "prod.burn", replica=1)["run_id"]
    pid, host = wait_for(lambda: _running_pid(production, run_id, "query"), timeout=120, what="the burning task")
    return run_id, pid, host


def test_a_run_with_a_parameter_completes_on_the_worker_a_busy_one_leaves_free(
    production: Production, project: Path, burning: tuple[str, int, str]
) -> None:
    burn_run, burn_pid, busy = burning
    run_id = production.dli_json("workflow", "run", "prod.orders", "-p", "label=celery", replica=0)["run_id"]
    final = production.wait_run(run_id, replica=1)
    assert final["run_status"] == "COMPLETED" and final["parameters"] == {"label": "celery"}
    assert production.rows("SELECT label FROM prod_orders WHERE run_id = ?", run_id.split("@", 1)[1]) == [("celery",)]
    # One task at a time per worker: every task of this run went to the other worker.
    assert production.hosts(run_id) == set(WORKER_HOSTNAMES) - {busy}
    assert _alive(burn_pid)
    assert production.dli_json("workflow", "status", burn_run)["run_status"] == "RUNNING"


def test_stop_kills_a_running_run_and_its_task_process_on_the_worker(
    production: Production, burning: tuple[str, int, str]
) -> None:
    run_id, pid, _ = burning
    assert production.dli_json("workflow", "stop", run_id, replica=1)["run_status"] == "KILLED"
    assert production.dli_json("workflow", "status", run_id, replica=0)["run_status"] == "KILLED"
    wait_for(lambda: not _alive(pid), timeout=60, what=f"task process {pid} gone")


def test_backfill_runs_three_dates_in_order_with_a_row_for_each(production: Production) -> None:
    result = production.dli_json(
        "workflow", "backfill", "prod.orders", "--start", "2025-01-01", "--end", "2025-01-03", "-p", "label=bf"
    )
    finals = [production.wait_run(r) for r in result["run_ids"]]
    assert [f["run_status"] for f in finals] == ["COMPLETED"] * 3
    assert [f["logical_date"][:10] for f in finals] == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert all(a["finished_at"] <= b["started_at"] for a, b in pairwise(finals))
    rows = production.rows("SELECT dt, label FROM prod_orders WHERE label = 'bf' ORDER BY dt")
    assert rows == [("2025-01-01", "bf"), ("2025-01-02", "bf"), ("2025-01-03", "bf")]


def test_failed_sql_is_failed_with_airflows_error_in_status_history_and_logs(
    production: Production, project: Path
) -> None:
    _register(production, project, "prod.fragile")
    run_id = production.dli_json("workflow", "run", "prod.fragile", "-p", "execution_date=2025-03-01")["run_id"]
    final = production.wait_run(run_id)
    assert final["run_status"] == "FAILED"
    assert "no such table: prod_no_such_table" in final["error_message"]
    history = production.dli_json("workflow", "history", "--dataset", "prod.fragile", replica=1)
    entry = next(r for r in history["runs"] if r["run_id"] == run_id)
    assert entry["status"] == "FAILED" and "no such table" in entry["error_message"]
    assert "prod_no_such_table" in production.dli("workflow", "logs", run_id, replica=1).stdout


def test_publish_overrides_manual_on_both_replicas_and_prune_falls_back(production: Production, project: Path) -> None:
    _register(production, project, "prod.layered", replica=1)
    code = write_project(production.root / "code-project", [_layered("code", code=True)])
    production.publish(code)
    both = (0, 1)
    overridden = {("code", "active"), ("manual", "overridden")}
    wait_for(
        lambda: all(production.listed("prod.layered", replica=r) == overridden for r in both),
        timeout=15,
        what="manual overridden on both replicas",
    )
    wait_for(
        lambda: "source:code" in {t["name"] for t in production.dag("prod.layered")["tags"]},
        timeout=60,
        what="the code DAG in Airflow",
    )
    run_id = production.dli_json("workflow", "run", "prod.layered", replica=1)["run_id"]
    assert production.wait_run(run_id)["run_status"] == "COMPLETED"
    assert production.rows("SELECT label FROM prod_layered WHERE run_id = ?", run_id.split("@", 1)[1]) == [("code",)]

    production.publish(write_project(production.root / "empty-project", []), "--prune")
    wait_for(
        lambda: all(production.listed("prod.layered", replica=r) == {("manual", "active")} for r in both),
        timeout=15,
        what="manual active again on both replicas",
    )
    wait_for(
        lambda: "source:manual" in {t["name"] for t in production.dag("prod.layered")["tags"]},
        timeout=60,
        what="the manual DAG back in Airflow",
    )
    run_id = production.dli_json("workflow", "run", "prod.layered", replica=0)["run_id"]
    assert production.wait_run(run_id)["run_status"] == "COMPLETED"
    assert production.rows("SELECT label FROM prod_layered WHERE run_id = ?", run_id.split("@", 1)[1]) == [("manual",)]


def _shown(production: Production, name: str, *, replica: int) -> dict | None:
    answer = production.call("GET", f"/api/v1/workflows/{name}", replica=replica)
    return answer.json() if answer.status_code == 200 else None


def test_twenty_concurrent_registrations_across_both_replicas_have_exactly_one_winner(
    production: Production,
) -> None:
    crons = [f"{minute} 5 * * *" for minute in range(20)]

    def register(index: int) -> tuple[int, dict]:
        spec = spec_to_dict(make_spec("prod.race", cron=crons[index]))
        answer = production.call("POST", "/api/v1/workflows", replica=index % 2, json={"spec": spec, "force": False})
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(register, range(20)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 19, answers
    assert {body["error"]["code"] for status, body in answers if status == 409} <= {"DLI-804", "DLI-801"}
    (winner,) = [crons[i] for i, (status, _) in enumerate(answers) if status == 201]
    # The replica that did not take the winning write sees it within its next check (every 1 s).
    written = time.monotonic()
    for replica in (0, 1):
        shown = wait_for(
            lambda r=replica: _shown(production, "prod.race", replica=r), timeout=10, what=f"prod.race on {replica + 1}"
        )
        assert shown["cron"] == winner, shown
    assert time.monotonic() - written < 5


def test_every_task_ran_on_one_of_the_two_celery_workers_and_both_had_work(production: Production) -> None:
    finished = [ti for ti in production.all_task_instances() if ti["state"] in ("success", "failed")]
    assert len(finished) >= 10
    assert {ti["hostname"] for ti in finished} == set(WORKER_HOSTNAMES)
