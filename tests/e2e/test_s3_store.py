"""End to end on S3 (moto): the server and the DAG factory both read ``s3://`` (the factory through its
ETag-refreshed local cache)."""

from __future__ import annotations

from dli.adapters.airflow.runs import shard_file, shard_of
from tests.e2e.stack import S3_BUNDLE, S3_PREFIX, S3_SHARDS, E2EStack, s3_client, wait_for, write_project

S3_ORDERS = """\
name: e2e_s3.orders
owner: e2e@example.com
parameters:
  - name: amount
    type: integer
    default: 1
execution:
  conn_id: dli_local
pre_statements:
  - CREATE TABLE IF NOT EXISTS e2e_s3_orders (dt TEXT, amount INTEGER, run_id TEXT)
query_statement: INSERT INTO e2e_s3_orders VALUES ('{{ execution_date }}', {{ amount }}, '{{ run_id }}')
"""


def test_register_and_run_on_an_s3_store(stack: E2EStack) -> None:
    server = stack.basecamp_s3()
    project = write_project(stack.root / "s3-project", [S3_ORDERS])
    stack.dli_json(
        "workflow", "register", "e2e_s3.orders", "--cron", "0 6 * * *", "--wait", project=project, server=server
    )
    keys = [o["Key"] for o in s3_client(stack).list_objects_v2(Bucket=stack.s3_bucket).get("Contents", [])]
    assert "specs/manual/e2e_s3.orders.yaml" in keys
    # dli's DAG bundle holds it, in the shard file of its name.
    dag = stack.dag("e2e_s3.orders")
    assert dag["bundle_name"] == S3_BUNDLE
    assert dag["relative_fileloc"] == shard_file(shard_of("e2e_s3.orders", S3_SHARDS), S3_SHARDS)
    run_id = stack.dli_json("workflow", "run", "e2e_s3.orders", "-p", "amount=42", project=project, server=server)[
        "run_id"
    ]
    final = stack.wait_run(run_id, server=server)
    assert final["run_status"] == "COMPLETED"
    assert stack.rows("SELECT amount FROM e2e_s3_orders WHERE run_id = ?", run_id.split("@", 1)[1]) == [(42,)]
    # The factory keeps a local copy per ETag; a re-registration with another cron is a new ETag.
    stack.dli_json(
        "workflow",
        "register",
        "e2e_s3.orders",
        "--cron",
        "0 7 * * *",
        "--force",
        "--wait",
        project=project,
        server=server,
    )
    wait_for(
        lambda: stack.dag("e2e_s3.orders")["timetable_summary"] == "0 7 * * *", timeout=60, what="new cron in Airflow"
    )
    cached = list((stack.root / "s3cache").rglob("e2e_s3.orders.*.yaml"))
    assert len(cached) == 1


def test_on_the_bundle_a_broken_spec_breaks_only_its_dag_and_unregister_retires_the_dag(stack: E2EStack) -> None:
    server = stack.basecamp_s3()
    taken = {shard_of("e2e_s3.orders", S3_SHARDS), shard_of("e2e_s3.broken", S3_SHARDS)}
    solo = next(f"e2e_s3.solo_{i}" for i in range(100) if shard_of(f"e2e_s3.solo_{i}", S3_SHARDS) not in taken)
    project = write_project(stack.root / "s3-solo", [S3_ORDERS.replace("e2e_s3.orders", solo)])
    s3 = s3_client(stack)
    s3.put_object(
        Bucket=stack.s3_bucket,
        Key=f"{S3_PREFIX}/manual/e2e_s3.broken.yaml",
        Body=b"name: e2e_s3.broken\nquery_statement: SELECT 1\nschedule: {cron: 'not a cron'}\n",
    )
    try:
        stack.dli_json("workflow", "register", solo, "--cron", "0 6 * * *", "--wait", project=project, server=server)
        wait_for(
            lambda: "dli:broken" in {t["name"] for t in (stack.dag("e2e_s3.broken") or {}).get("tags", [])},
            timeout=60,
            what="the broken spec's placeholder DAG",
        )
        assert "dli:broken" not in {t["name"] for t in stack.dag(solo)["tags"]}
        assert stack.dag(solo)["relative_fileloc"] == shard_file(shard_of(solo, S3_SHARDS), S3_SHARDS)
        stack.dli_json("workflow", "unregister", solo, project=project, server=server)
        # Its shard file is gone with its only dataset: Airflow retires the DAG.
        wait_for(lambda: (stack.dag(solo) or {"is_stale": True})["is_stale"], timeout=60, what="the DAG retired")
    finally:
        s3.delete_object(Bucket=stack.s3_bucket, Key=f"{S3_PREFIX}/manual/e2e_s3.broken.yaml")
