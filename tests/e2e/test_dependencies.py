"""End to end: dataset dependencies drive the schedule on a real Airflow 3 (issue #12).

Three datasets e2e.deps_a -> e2e.deps_b -> e2e.deps_c (b and c scheduled ``after: upstream``), each
writing a row (dataset, date, run) into SQLite through the ``dli_local`` connection:

- one adhoc run of a, and nothing else, runs b then c for the same date, each after its upstream;
- ``deps c --upstream`` shows a and b;
- a cycle is refused at register and at publish, nothing written;
- ``backfill a --with-downstream`` runs a, b, c for each date, in dependency and date order, and a
  plain backfill starts no downstream run.
"""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path

import pytest

from tests.e2e.stack import E2EStack, wait_for, write_project

A, B, C = "e2e.deps_a", "e2e.deps_b", "e2e.deps_c"
# A cron that does not fire while the tests run: a scheduled run of A would start B and C as well.
YEARLY = "0 6 1 1 *"


def _spec(name: str, label: str, depends_on: tuple[str, ...] = (), extra: str = "") -> str:
    deps = "".join(f"\n  - {d}" for d in depends_on)
    return f"""\
name: {name}
owner: e2e@example.com
execution:
  conn_id: dli_local
{"depends_on:" + deps if deps else ""}
pre_statements:
  - CREATE TABLE IF NOT EXISTS e2e_deps (dataset TEXT, dt TEXT, run_id TEXT)
query_statement: INSERT INTO e2e_deps (dataset, dt, run_id) VALUES ('{label}', '{{{{ execution_date }}}}', '{{{{ run_id }}}}')
{extra}"""


@pytest.fixture(scope="module")
def project(stack: E2EStack) -> Path:
    root = write_project(
        stack.root / "deps-project",
        [_spec(A, "a"), _spec(B, "b", (A,), "schedule:\n  after: upstream\n"), _spec(C, "c", (B, "e2e_ext.raw_users"))],
    )
    stack.dli_json("workflow", "register", A, "--cron", YEARLY, "--wait", project=root)
    stack.dli_json("workflow", "register", B, "--after-upstream", "--wait", project=root)
    registered = stack.dli("workflow", "register", C, "--after-upstream", "--wait", project=root)
    assert "e2e_ext.raw_users, which no store knows" in registered.stderr
    return root


def _runs(stack: E2EStack, name: str, *, at_least: int, timeout: float = 300) -> list[dict]:
    """The runs of ``name``, oldest first, once at least ``at_least`` exist and all are finished."""

    def done() -> list[dict] | None:
        listed = stack.dli("workflow", "history", "-d", name, "-n", "50", "--format", "json", check=False)
        if listed.returncode != 0:
            # Airflow on SQLite may answer one request with "database is locked" (a DLI-503): ask again.
            assert "DLI-503" in listed.stderr, listed.stderr
            return None
        runs = json.loads(listed.stdout)["runs"]
        if len(runs) >= at_least and all(r["status"] in ("COMPLETED", "FAILED", "KILLED") for r in runs):
            return list(reversed(runs))
        return None

    return wait_for(done, timeout=timeout, interval=2.0, what=f"{at_least} finished run(s) of {name}")


def _rows(stack: E2EStack, date: str) -> list[tuple[str, str]]:
    return [
        (d, dt) for d, dt, _ in stack.rows("SELECT dataset, dt, run_id FROM e2e_deps WHERE dt = ? ORDER BY rowid", date)
    ]


def test_lists_show_the_trigger_of_each_dataset(stack: E2EStack, project: Path) -> None:
    listed = {w["dataset_name"]: w for w in stack.dli_json("workflow", "list", "-d", "e2e.deps_*")["workflows"]}
    assert {n: (w["trigger"], w["cron"]) for n, w in listed.items()} == {
        A: ("cron", YEARLY),
        B: ("upstream", None),
        C: ("upstream", None),
    }
    dag = stack.dag(B)
    assert dag is not None and dag["is_paused"] is False


def test_one_run_of_the_upstream_runs_its_downstreams_in_order_for_the_same_date(
    stack: E2EStack, project: Path
) -> None:
    ran = stack.dli("workflow", "run", A, "-p", "execution_date=2025-01-01", "--wait", project=project, timeout=600)
    assert "Outcome: completed" in ran.stdout
    (a,) = _runs(stack, A, at_least=1)
    (b,) = _runs(stack, B, at_least=1)
    (c,) = _runs(stack, C, at_least=1)
    assert [r["status"] for r in (a, b, c)] == ["COMPLETED"] * 3
    assert [r["run_type"] for r in (b, c)] == ["scheduled", "scheduled"]
    # Each started (its SQL) after the run it follows had finished.
    assert a["finished_at"] <= b["started_at"] and b["finished_at"] <= c["started_at"]
    assert _rows(stack, "2025-01-01") == [("a", "2025-01-01"), ("b", "2025-01-01"), ("c", "2025-01-01")]
    # The event a published carries its date and run id.
    events = stack.rest("GET", "/api/v2/assets/events", params={"source_dag_id": A}).json()["asset_events"]
    assert {e["extra"]["execution_date"] for e in events} == {"2025-01-01"}
    assert {e["extra"]["run_id"] for e in events} == {a["run_id"]}


def test_deps_shows_the_upstreams_and_the_external_table(stack: E2EStack, project: Path) -> None:
    graph = stack.dli_json("workflow", "deps", C, "--upstream", project=project)
    assert {(n["name"], n["external"]) for n in graph["nodes"]} == {
        (C, False),
        (B, False),
        (A, False),
        ("e2e_ext.raw_users", True),
    }
    tree = stack.dli("workflow", "deps", C, "--upstream", project=project).stdout
    assert f"└── {A} (manual, cron)" in tree and "e2e_ext.raw_users (external)" in tree


def test_a_cycle_is_refused_at_register_and_at_publish_and_nothing_is_written(stack: E2EStack, project: Path) -> None:
    stored = (stack.store_dir / "manual" / f"{A}.yaml").read_bytes()
    path = project / f"dataset.{A}.yaml"
    original = path.read_text()
    path.write_text(_spec(A, "a", (B,)))
    try:
        refused = stack.dli("workflow", "register", A, "--cron", YEARLY, "--force", project=project, check=False)
    finally:
        path.write_text(original)
    assert refused.returncode == 2
    assert "DLI-203" in refused.stderr and f"{A} -> {B} -> {A}" in refused.stderr
    assert (stack.store_dir / "manual" / f"{A}.yaml").read_bytes() == stored

    cyclic = write_project(
        stack.root / "deps-cycle",
        [
            _spec("e2e.cyc_a", "x", ("e2e.cyc_b",), 'schedule:\n  cron: "0 6 * * *"\n'),
            _spec("e2e.cyc_b", "y", ("e2e.cyc_a",), "schedule:\n  after: upstream\n"),
        ],
    )
    published = stack.dli("workflow", "publish", "--store", stack.store_url, "--path", str(cyclic), check=False)
    assert published.returncode == 2
    assert "DLI-203" in published.stderr and "e2e.cyc_a -> e2e.cyc_b -> e2e.cyc_a" in published.stderr
    code = stack.store_dir / "code"
    assert not (code.exists() and list(code.glob("e2e.cyc_*")))


def test_backfill_with_downstream_runs_each_date_through_the_pipeline_in_order(stack: E2EStack, project: Path) -> None:
    before_b = len(_runs(stack, B, at_least=1))
    result = stack.dli(
        "workflow",
        "backfill",
        A,
        "-s",
        "2025-01-02",
        "-e",
        "2025-01-03",
        "--with-downstream",
        "--wait",
        "--format",
        "json",
        project=project,
        timeout=900,
    )
    done = json.loads(result.stdout)
    assert done["outcome"] == "completed"
    runs = done["runs"]
    assert [(r["dataset_name"], r["parameters"]["execution_date"]) for r in runs] == [
        (A, "2025-01-02"),
        (B, "2025-01-02"),
        (C, "2025-01-02"),
        (A, "2025-01-03"),
        (B, "2025-01-03"),
        (C, "2025-01-03"),
    ]
    assert all(r["run_status"] == "COMPLETED" and r["run_type"] == "backfill" for r in runs)
    assert all(x["finished_at"] <= y["started_at"] for x, y in pairwise(runs))
    assert _rows(stack, "2025-01-02") == [("a", "2025-01-02"), ("b", "2025-01-02"), ("c", "2025-01-02")]
    assert _rows(stack, "2025-01-03") == [("a", "2025-01-03"), ("b", "2025-01-03"), ("c", "2025-01-03")]
    # The backfill's runs published nothing: b ran only for the backfill, no extra upstream-started run.
    assert len(_runs(stack, B, at_least=before_b + 2)) == before_b + 2


def test_a_backfill_alone_starts_no_downstream_run(stack: E2EStack, project: Path) -> None:
    before = len(_runs(stack, B, at_least=1))
    rows = _rows(stack, "2025-01-01")
    # A's cron fires on 1 January: an Airflow backfill of that one date.
    result = stack.dli_json("workflow", "backfill", A, "-s", "2025-01-01", "-e", "2025-01-01", project=project)
    (final,) = [stack.wait_run(r) for r in result["run_ids"]]
    assert (final["run_status"], final["run_type"]) == ("COMPLETED", "backfill")
    time.sleep(20)  # longer than an upstream-started run takes to appear
    assert len(stack.dli_json("workflow", "history", "-d", B, "-n", "50")["runs"]) == before
    assert _rows(stack, "2025-01-01") == [*rows, ("a", "2025-01-01")]
