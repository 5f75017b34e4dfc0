"""The DAG factory: one Airflow DAG per dataset of the spec store. Runs inside Airflow's environment.

Drop a two-line file into Airflow's DAG folder (see ``dli_dags.py`` next to this module)::

    from dli.entrypoints.airflow.dag_factory import load_dags
    load_dags(globals())

Environment: ``DLI_STORE_URL`` (``file:///path`` or ``s3://bucket/prefix``), optionally
``DLI_CACHE_DIR`` (S3 cache) and the usual AWS variables. Each DAG runs ``dli_guard`` (stops a
backfill after a failed date), the pre statements, the query and the post statements through
``SQLExecuteQueryOperator``, with the retries, retry delay and timeout of the spec's ``execution``
block (``dli.domain.model.execution``) on the connection of its ``conn_id`` or ``dialect``
(``connections.py``; ``DLI_DIALECT_CONNECTIONS`` maps dialects to connection ids).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronTriggerTimetable, Param, get_parsing_context
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from dli.adapters.airflow import runs as airflow_runs
from dli.domain.model.execution import execution_settings
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.entrypoints.airflow.connections import DEFAULT_CONN_ID, connection_for, dialect_connections
from dli.entrypoints.airflow.spec_source import LoadedSpec, load_specs
from dli.entrypoints.airflow.sql_template import (
    BACKFILL_MARKER,
    DATE_MACRO,
    TASK_ID_GUARD,
    TASK_ID_QUERY,
    execution_date_for,
    param_schema,
    sql_template,
    statement_task_ids,
)

__all__ = ["BROKEN_TAG", "DEFAULT_CONN_ID", "build_broken_dag", "build_dag", "load_dags"]

log = logging.getLogger(__name__)

BROKEN_TAG = airflow_runs.BROKEN_TAG
BROKEN_PREFIX = airflow_runs.BROKEN_PREFIX
# start_date when a document has no registration time: any past date works, but unpausing such a
# DAG makes Airflow run its latest past tick at once (see docs/airflow.md).
_FALLBACK_START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
_TEMPLATE_EXT = (".sql", ".json")


class DliSqlOperator(SQLExecuteQueryOperator):
    """``SQLExecuteQueryOperator`` that can let the workflow go on when its statement fails."""

    def __init__(self, *, continue_on_error: bool = False, conn_origin: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.continue_on_error = continue_on_error
        self.conn_origin = conn_origin

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except Exception as exc:
            if isinstance(exc, AirflowNotFoundException) and f"`{self.conn_id}`" in str(exc):
                # Airflow's message names the connection; the log says why the spec led to it.
                self.log.error(
                    "dli: connection %r comes from %s. Define it in Airflow (e.g. AIRFLOW_CONN_%s) or change "
                    "the spec's execution.conn_id / dialect.",
                    self.conn_id, self.conn_origin or "the spec", self.conn_id.upper(),
                )
            if not self.continue_on_error:
                raise
            # The statement is marked continue_on_error: the task succeeds, the failure stays in the log.
            self.log.warning("Statement failed, continuing (continue_on_error): %s: %s", type(exc).__name__, exc)
            return None


def _date_macro(dag_run: Any, *, timezone: str) -> str:
    return execution_date_for(
        conf=getattr(dag_run, "conf", None),
        logical_date=getattr(dag_run, "logical_date", None),
        run_after=getattr(dag_run, "run_after", None),
        timezone=timezone,
    )


def backfill_guard(**context: Any) -> None:
    """First task of every run: a backfill date whose previous date failed does not run.

    Airflow's backfill goes on after a failed date; dli's contract is to stop. The backfill runs
    one date at a time (``max_active_runs=1``), so the previous date's run has ended when this one
    starts and reading its state is race-free.
    """
    dag_run = context["dag_run"]
    marker = (dag_run.conf or {}).get(BACKFILL_MARKER)
    if not marker or str(getattr(dag_run.run_type, "value", dag_run.run_type)) != "backfill":
        return
    ti = context["ti"]
    previous = ti.get_previous_dagrun()
    start = dt.datetime.fromisoformat(marker["from"])
    if previous is None or previous.logical_date is None or previous.logical_date < start:
        return  # the first date of this backfill
    state = ti.get_dagrun_state(dag_id=dag_run.dag_id, run_id=previous.run_id)
    if str(getattr(state, "value", state)) != "failed":
        return
    # Name the date that really failed: a previous date stopped by this guard left it in XCom.
    first = ti.xcom_pull(task_ids=TASK_ID_GUARD, dag_id=dag_run.dag_id, run_id=previous.run_id, key="stopped_after")
    if not first:
        first = execution_date_for(
            conf=None, logical_date=previous.logical_date, run_after=None, timezone=marker.get("timezone") or "UTC"
        )
    ti.xcom_push(key="stopped_after", value=first)
    raise AirflowFailException(f"Not run: the backfill stopped after {first} failed")


def _fail_broken(error: str) -> None:
    raise AirflowFailException(f"The dli spec of this dataset is broken: {error}")


def _sql(sql: str, spec: DatasetSpec) -> str:
    text = sql_template(sql, spec.parameters)
    # Airflow reads a template string ending in .sql/.json as a file name.
    return text + "\n" if text.rstrip().endswith(_TEMPLATE_EXT) else text


def build_dag(document: SpecDocument, *, dialects: Mapping[str, str] | None = None) -> DAG:
    """The DAG of one resolved spec document; ``dialects`` maps SQL dialects to connection ids."""
    spec = document.spec
    schedule = document.schedule
    if spec.query_statement is None:
        raise ValueError(f"{spec.name}: query_file {spec.query_file!r} was not inlined (publish or register inlines it)")
    settings = execution_settings(spec)
    connection = connection_for(settings, dialects or {})
    params = {}
    for parameter in spec.parameters:
        default, schema = param_schema(parameter)
        params[parameter.name] = Param(default, **schema)
    dag = DAG(
        dag_id=spec.name,
        description=spec.description,
        schedule=CronTriggerTimetable(schedule.cron, timezone=schedule.timezone),
        # In the schedule's zone, for Airflow's UI (the REST API reports UTC, so backfills get the zone from dli).
        start_date=pendulum.instance(document.registered_at or _FALLBACK_START).in_timezone(schedule.timezone),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=not schedule.enabled,
        tags=["dli", f"source:{document.source_type.value}"],
        params=params,
        user_defined_macros={DATE_MACRO: functools.partial(_date_macro, timezone=schedule.timezone)},
        default_args={"owner": spec.owner or "dli"},
    )
    timeout = dt.timedelta(seconds=settings.timeout_seconds) if settings.timeout_seconds else None
    previous = PythonOperator(task_id=TASK_ID_GUARD, python_callable=backfill_guard, retries=0, dag=dag)
    pre_ids, post_ids = statement_task_ids(spec)
    steps = [(task_id, st.sql, st.continue_on_error) for task_id, st in zip(pre_ids, spec.pre_statements)]
    steps.append((TASK_ID_QUERY, spec.query_statement, False))
    steps += [(task_id, st.sql, st.continue_on_error) for task_id, st in zip(post_ids, spec.post_statements)]
    for task_id, sql, continue_on_error in steps:
        task = DliSqlOperator(
            task_id=task_id,
            sql=_sql(sql, spec),
            conn_id=connection.conn_id,
            conn_origin=connection.origin,
            retries=settings.retries,
            retry_delay=dt.timedelta(seconds=settings.retry_delay_seconds),
            execution_timeout=timeout,
            split_statements=True,
            do_xcom_push=False,
            continue_on_error=continue_on_error,
            dag=dag,
        )
        previous >> task
        previous = task
    return dag


def build_broken_dag(loaded: LoadedSpec, error: str) -> DAG:
    """A paused, unscheduled placeholder whose only task fails with ``error``.

    One broken spec must not hide the others (a raising DAG file would take every DAG of the store
    down with it), and the error must be visible where users look: the DAG's description, its tag
    ``dli:broken`` (read by ``dli workflow register --wait``) and the failing task's log.
    """
    message = error if len(error) <= 2000 else error[:1997] + "..."
    dag = DAG(
        dag_id=loaded.name,
        description=BROKEN_PREFIX + message,
        schedule=None,
        start_date=_FALLBACK_START,
        catchup=False,
        is_paused_upon_creation=True,
        tags=["dli", BROKEN_TAG, f"source:{loaded.source.value}"],
    )
    PythonOperator(task_id="dli_broken_spec", python_callable=_fail_broken, op_kwargs={"error": message}, dag=dag)
    return dag


def load_dags(namespace: MutableMapping[str, Any] | None = None, *, store_url: str | None = None) -> dict[str, DAG]:
    """Build the DAGs of the store at ``store_url`` (default ``$DLI_STORE_URL``) into ``namespace``.

    On a worker only the DAG being run is built. Raises (an import error of the DAG file) only when
    the store itself cannot be used; a broken spec becomes a broken placeholder DAG.
    """
    url = store_url or os.environ.get("DLI_STORE_URL")
    if not url:
        raise RuntimeError("dli DAG factory: set DLI_STORE_URL (file:///path or s3://bucket/prefix) for Airflow")
    # A bad mapping fails the file (an import error naming it) rather than send SQL to a guessed connection.
    dialects = dialect_connections(os.environ)
    only = get_parsing_context().dag_id
    dags: dict[str, DAG] = {}
    for loaded in load_specs(url, only=only):
        if loaded.document is None:
            dag = build_broken_dag(loaded, loaded.error or "unreadable spec")
        else:
            try:
                dag = build_dag(loaded.document, dialects=dialects)
            except Exception as exc:  # noqa: BLE001 - isolate the broken spec
                log.warning("dli: spec %s is broken: %s", loaded.name, exc)
                hints = " ".join(getattr(exc, "hints", ()))
                dag = build_broken_dag(loaded, f"{type(exc).__name__}: {exc}" + (f" ({hints})" if hints else ""))
        dags[loaded.name] = dag
    if namespace is not None:
        namespace.update(dags)
    return dags
