"""End to end on S3 (moto): the server and the DAG factory both read ``s3://`` (the factory through its
ETag-refreshed local cache)."""

from __future__ import annotations

from tests.e2e.stack import E2EStack, s3_client, wait_for, write_project

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
    stack.dli_json("workflow", "register", "e2e_s3.orders", "--cron", "0 6 * * *", "--wait", project=project, server=server)
    keys = [o["Key"] for o in s3_client(stack).list_objects_v2(Bucket=stack.s3_bucket).get("Contents", [])]
    assert "specs/manual/e2e_s3.orders.yaml" in keys
    run_id = stack.dli_json("workflow", "run", "e2e_s3.orders", "-p", "amount=42", project=project, server=server)["run_id"]
    final = stack.wait_run(run_id, server=server)
    assert final["run_status"] == "COMPLETED"
    assert stack.rows("SELECT amount FROM e2e_s3_orders WHERE run_id = ?", run_id.split("@", 1)[1]) == [(42,)]
    # The factory keeps a local copy per ETag; a re-registration with another cron is a new ETag.
    stack.dli_json(
        "workflow", "register", "e2e_s3.orders", "--cron", "0 7 * * *", "--force", "--wait", project=project, server=server
    )
    wait_for(lambda: stack.dag("e2e_s3.orders")["timetable_summary"] == "0 7 * * *", timeout=60, what="new cron in Airflow")
    cached = list((stack.root / "s3cache").rglob("e2e_s3.orders.*.yaml"))
    assert len(cached) == 1
