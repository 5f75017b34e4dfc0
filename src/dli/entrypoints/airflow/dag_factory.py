"""The DAG factory: one Airflow DAG per dataset of the spec store. Runs inside Airflow's environment.

Drop a two-line file into Airflow's DAG folder (see ``dli_dags.py`` next to this module)::

    from dli.entrypoints.airflow.dag_factory import load_dags
    load_dags(globals())

Environment: ``DLI_STORE_URL`` (``file:///path`` or ``s3://bucket/prefix``), optionally
``DLI_CACHE_DIR`` (S3 cache) and the usual AWS variables. Each DAG runs ``dli_guard`` (stops a
backfill after a failed date; makes a run wait for the runs it follows), the pre statements, the
query and the post statements through ``SQLExecuteQueryOperator``, with the retries, retry delay and
timeout of the spec's ``execution`` block (``dli.domain.model.execution``) on the connection of its
``conn_id`` or ``dialect`` (``connections.py``; ``DLI_DIALECT_CONNECTIONS`` maps dialects to
connection ids).

Data-aware scheduling: the query task of every DAG publishes the Asset ``dli://<dataset>`` when it
succeeds (not in a backfill), with the run's ``execution_date`` and run id in the event's extra; a
spec scheduled ``after: upstream`` gets the Assets of its upstreams that the store holds as its
schedule (``AssetOrTimeSchedule`` with a cron too), and its SQL's ``execution_date`` is read from the
triggering events.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections.abc import Collection, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import (
    DAG,
    Asset,
    AssetAlias,
    AssetOrTimeSchedule,
    BaseSensorOperator,
    CronTriggerTimetable,
    Param,
    get_parsing_context,
)
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from dli.adapters.airflow import runs as airflow_runs
from dli.adapters.airflow.runs import shard_of, shard_of_file, shard_tag
from dli.domain.model.dependencies import DependencyGraph
from dli.domain.model.enums import SourceType
from dli.domain.model.execution import execution_settings
from dli.domain.model.runs import make_run_id
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.entrypoints.airflow.connections import DEFAULT_CONN_ID, Connection, connection_for, dialect_connections
from dli.entrypoints.airflow.spec_source import LoadedSpec, load_specs, read_named
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

__all__ = ["BROKEN_TAG", "DEFAULT_CONN_ID", "build_broken_dag", "build_dag", "load_dags", "load_shard"]

log = logging.getLogger(__name__)

BROKEN_TAG = airflow_runs.BROKEN_TAG
BROKEN_PREFIX = airflow_runs.BROKEN_PREFIX
# start_date when a document has no registration time: any past date works, but unpausing such a
# DAG makes Airflow run its latest past tick at once (see docs/airflow.md).
_FALLBACK_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_TEMPLATE_EXT = (".sql", ".json")
# How often a waiting dli_guard looks again (it frees its worker slot in between: reschedule mode).
GUARD_POKE_SECONDS = 3.0


def dataset_asset(dataset_name: str) -> Asset:
    """The Asset of a dataset, as its DAG publishes it and its downstream DAGs are scheduled on it."""
    return Asset(airflow_runs.asset_name(dataset_name))


def _run_type(dag_run: Any) -> str:
    return str(getattr(dag_run.run_type, "value", dag_run.run_type))


def _is_backfill(dag_run: Any) -> bool:
    """A backfill run of Airflow's, or one of dli's chained backfill runs: it publishes nothing."""
    return _run_type(dag_run) == "backfill" or BACKFILL_MARKER in (dag_run.conf or {})


class DliSqlOperator(SQLExecuteQueryOperator):
    """``SQLExecuteQueryOperator`` that can let the workflow go on when its statement fails, and (the
    query task) publish the dataset's Asset when it succeeds."""

    def __init__(
        self,
        *,
        continue_on_error: bool = False,
        conn_origin: str = "",
        publishes: str | None = None,
        timezone: str = "UTC",
        declares_execution_date: bool = False,
        lineage_inputs: Sequence[str] = (),
        lineage_output: str | None = None,
        **kwargs: Any,
    ) -> None:
        if publishes is not None:
            # Published through an alias, so that a run can also publish nothing: a static outlet would
            # emit an event on every success, backfills included.
            kwargs["outlets"] = [AssetAlias(airflow_runs.publish_alias(publishes))]
        super().__init__(**kwargs)
        self.continue_on_error = continue_on_error
        self.conn_origin = conn_origin
        self.publishes = publishes
        self.publish_timezone = timezone
        self.declares_execution_date = declares_execution_date
        self.lineage_inputs = tuple(lineage_inputs)
        self.lineage_output = lineage_output

    # -- OpenLineage (apache-airflow-providers-openlineage calls these when it is installed) ------

    def get_openlineage_facets_on_start(self) -> Any:
        """The dataset's lineage: it reads its ``depends_on`` and writes itself (start, complete, fail)."""
        return lineage_of(self.lineage_inputs, self.lineage_output)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self.get_openlineage_facets_on_start()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self.get_openlineage_facets_on_start()

    def execute(self, context: Any) -> Any:
        result = self._execute(context)
        if self.publishes is not None:
            self._publish(context)
        return result

    def _publish(self, context: Any) -> None:
        """Record the dataset's new data: the event starts the DAGs scheduled after it."""
        dataset = self.publishes
        if dataset is None:  # the DAG's schedule names no downstream that waits for it
            return
        dag_run = context["dag_run"]
        if _is_backfill(dag_run):
            self.log.info("dli: a backfill run publishes nothing (it does not start downstream datasets)")
            return
        declared = context["params"].get("execution_date") if self.declares_execution_date else None
        date = str(declared) if declared else _date_macro(dag_run, timezone=self.publish_timezone)
        extra = {"dataset": dataset, "execution_date": date, "run_id": make_run_id(dataset, dag_run.run_id)}
        context["outlet_events"][AssetAlias(airflow_runs.publish_alias(dataset))].add(
            dataset_asset(dataset), extra=extra
        )
        self.log.info("dli: published %s for execution_date %s", airflow_runs.asset_name(dataset), date)

    def _execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except Exception as exc:
            if isinstance(exc, AirflowNotFoundException) and f"`{self.conn_id}`" in str(exc):
                # Airflow's message names the connection; the log says why the spec led to it.
                self.log.error(
                    "dli: connection %r comes from %s. Define it in Airflow (e.g. AIRFLOW_CONN_%s) or change "
                    "the spec's execution.conn_id / dialect.",
                    self.conn_id,
                    self.conn_origin or "the spec",
                    self.conn_id.upper(),
                )
            if not self.continue_on_error:
                raise
            # The statement is marked continue_on_error: the task succeeds, the failure stays in the log.
            self.log.warning("Statement failed, continuing (continue_on_error): %s: %s", type(exc).__name__, exc)
            return None


LINEAGE_NAMESPACE_ENV = "DLI_OPENLINEAGE_NAMESPACE"
"""The OpenLineage namespace of dli's datasets (default ``dli``): where Marquez or DataHub group them."""


def lineage_of(inputs: Sequence[str], output: str | None) -> Any:
    """OpenLineage inputs and outputs of a SQL task (``None`` without the OpenLineage provider)."""
    try:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    namespace = os.environ.get(LINEAGE_NAMESPACE_ENV) or "dli"
    return OperatorLineage(
        inputs=[Dataset(namespace=namespace, name=name) for name in inputs],
        outputs=[Dataset(namespace=namespace, name=output)] if output else [],
    )


def _date_macro(dag_run: Any, *, timezone: str) -> str:
    return execution_date_for(
        conf=getattr(dag_run, "conf", None),
        logical_date=getattr(dag_run, "logical_date", None),
        run_after=getattr(dag_run, "run_after", None),
        timezone=timezone,
        triggering=[getattr(e, "extra", None) for e in getattr(dag_run, "consumed_asset_events", None) or ()],
    )


def _state(ti: Any, dag_id: str, run_id: str) -> str:
    state = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
    return str(getattr(state, "value", state))


class DliGuard(BaseSensorOperator):
    """First task of every run: decides whether the run's SQL may start, and waits until it may.

    - A date of an Airflow backfill whose previous date failed does not run (``backfill_guard``).
    - A chained backfill run (``backfill --with-downstream``, or a workflow without a cron) waits
      until the run before it in the chain ended; if that one failed, or was itself stopped, it
      does not run.
    - A run started by new upstream data waits until the upstream runs that published it ended (the
      event is emitted by their query task, before their post statements); if one of them failed,
      it does not run.

    It waits in ``reschedule`` mode: no worker slot is held while another run goes on.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(mode="reschedule", poke_interval=GUARD_POKE_SECONDS, retries=0, **kwargs)

    def poke(self, context: Any) -> bool:
        dag_run = context["dag_run"]
        marker = (dag_run.conf or {}).get(BACKFILL_MARKER)
        if marker and _run_type(dag_run) == "backfill":
            backfill_guard(**context)
            return True
        ti = context["ti"]
        after = marker.get(airflow_runs.CHAIN_AFTER) if isinstance(marker, dict) else None
        if after:
            return self._after_chained(ti, dag_run, after)
        if _run_type(dag_run) == airflow_runs.ASSET_TRIGGERED:
            return self._after_publishers(ti, dag_run)
        return True

    def _after_chained(self, ti: Any, dag_run: Any, after: Mapping[str, Any]) -> bool:
        try:
            state = _state(ti, after["dag_id"], after["run_id"])
        except Exception as exc:  # noqa: BLE001 - the run it follows is gone: never run in its place
            raise AirflowFailException(f"Not run: the backfill run it follows cannot be read ({exc})") from None
        if state == "success":
            return True
        if state != "failed":
            self.log.info("dli: waiting for %s (%s)", make_run_id(after["dag_id"], after["run_id"]), state)
            return False
        # Name the run that really failed: a run stopped by its own guard left it in XCom.
        first = (
            ti.xcom_pull(task_ids=TASK_ID_GUARD, dag_id=after["dag_id"], run_id=after["run_id"], key="stopped_after")
            or f"{after.get('dataset', after['dag_id'])} {after.get('date', '')}".strip()
        )
        ti.xcom_push(key="stopped_after", value=first)
        raise AirflowFailException(f"Not run: the backfill stopped after {first} failed")

    def _after_publishers(self, ti: Any, dag_run: Any) -> bool:
        waiting = []
        for event in getattr(dag_run, "consumed_asset_events", None) or ():
            if not (event.source_dag_id and event.source_run_id):
                continue  # published through the REST API: no run to wait for
            try:
                state = _state(ti, event.source_dag_id, event.source_run_id)
            except Exception:  # noqa: BLE001 - the publishing run is gone; its data was published
                continue
            public = make_run_id(event.source_dag_id, event.source_run_id)
            if state == "failed":
                raise AirflowFailException(f"Not run: the upstream run {public} that published new data failed")
            if state != "success":
                waiting.append(public)
        if waiting:
            self.log.info("dli: waiting for the upstream runs %s to end", ", ".join(waiting))
            return False
        return True


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


def _task_doc(dataset: str, task_id: str, connection: Connection, continue_on_error: bool) -> str:
    """The task's documentation in Airflow (UI and REST API): where its SQL runs and what a failure does.

    Neither the connection nor ``continue_on_error`` is otherwise visible before a run.
    """
    what = "The query" if task_id == TASK_ID_QUERY else f"Statement `{task_id}`"
    on_error = (
        "continue_on_error: true (a failure is logged and the run goes on)"
        if continue_on_error
        else "continue_on_error: false (a failure fails the run)"
    )
    return (
        f"{what} of dli dataset `{dataset}`, on connection `{connection.conn_id}` ({connection.origin}).\n\n{on_error}"
    )


def _sql(sql: str, spec: DatasetSpec) -> str:
    text = sql_template(sql, spec.parameters)
    # Airflow reads a template string ending in .sql/.json as a file name.
    return text + "\n" if text.rstrip().endswith(_TEMPLATE_EXT) else text


def _schedule(document: SpecDocument, managed: Collection[str]) -> Any:
    """The DAG's schedule: the cron, the Assets of its managed upstreams (``after: upstream``), or both.

    Upstreams the store does not hold (external tables) are left out: nothing would ever publish them.
    With none left, an upstream-only workflow has no schedule (runs are triggered by hand).
    """
    schedule = document.schedule
    cron = CronTriggerTimetable(schedule.cron, timezone=schedule.timezone) if schedule.cron is not None else None
    if not schedule.after_upstream:
        return cron
    graph = DependencyGraph.of({**{name: () for name in managed}, document.spec.name: document.spec.depends_on})
    assets = [dataset_asset(name) for name in graph.managed_upstreams(document.spec.name)]
    if not assets:
        return cron
    if cron is None:
        return assets  # every one of them must have published since the last run (AssetAll)
    return AssetOrTimeSchedule(timetable=cron, assets=assets)


def build_dag(
    document: SpecDocument,
    *,
    dialects: Mapping[str, str] | None = None,
    managed: Collection[str] = (),
    tags: Collection[str] = (),
) -> DAG:
    """The DAG of one resolved spec document; ``dialects`` maps SQL dialects to connection ids;
    ``managed`` names the datasets the store holds (upstreams among them can start it)."""
    spec = document.spec
    schedule = document.schedule
    if spec.query_statement is None:
        raise ValueError(
            f"{spec.name}: query_file {spec.query_file!r} was not inlined (publish or register inlines it)"
        )
    settings = execution_settings(spec)
    connection = connection_for(settings, dialects or {})
    params = {}
    for parameter in spec.parameters:
        default, schema = param_schema(parameter)
        params[parameter.name] = Param(default, **schema)
    dag = DAG(
        dag_id=spec.name,
        description=spec.description,
        schedule=_schedule(document, managed),
        # In the schedule's zone, for Airflow's UI (the REST API reports UTC, so backfills get the zone from dli).
        start_date=pendulum.instance(document.registered_at or _FALLBACK_START).in_timezone(schedule.timezone),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=not schedule.enabled,
        tags=["dli", f"source:{document.source_type.value}", *tags],
        params=params,
        user_defined_macros={DATE_MACRO: functools.partial(_date_macro, timezone=schedule.timezone)},
        default_args={"owner": spec.owner or "dli"},
    )
    timeout = dt.timedelta(seconds=settings.timeout_seconds) if settings.timeout_seconds else None
    previous = DliGuard(task_id=TASK_ID_GUARD, dag=dag)
    declares_date = spec.parameter("execution_date") is not None
    pre_ids, post_ids = statement_task_ids(spec)
    steps = [(task_id, st.sql, st.continue_on_error) for task_id, st in zip(pre_ids, spec.pre_statements, strict=True)]
    steps.append((TASK_ID_QUERY, spec.query_statement, False))
    steps += [
        (task_id, st.sql, st.continue_on_error) for task_id, st in zip(post_ids, spec.post_statements, strict=True)
    ]
    for task_id, sql, continue_on_error in steps:
        task = DliSqlOperator(
            task_id=task_id,
            doc_md=_task_doc(spec.name, task_id, connection, continue_on_error),
            sql=_sql(sql, spec),
            conn_id=connection.conn_id,
            conn_origin=connection.origin,
            retries=settings.retries,
            retry_delay=dt.timedelta(seconds=settings.retry_delay_seconds),
            execution_timeout=timeout,
            split_statements=True,
            do_xcom_push=False,
            continue_on_error=continue_on_error,
            publishes=spec.name if task_id == TASK_ID_QUERY else None,
            timezone=schedule.timezone,
            declares_execution_date=declares_date,
            lineage_inputs=spec.depends_on,
            lineage_output=spec.name,
            dag=dag,
        )
        previous >> task
        previous = task
    return dag


def build_broken_dag(loaded: LoadedSpec, error: str, *, tags: Collection[str] = ()) -> DAG:
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
        tags=["dli", BROKEN_TAG, f"source:{loaded.source.value}", *tags],
    )
    PythonOperator(task_id="dli_broken_spec", python_callable=_fail_broken, op_kwargs={"error": message}, dag=dag)
    return dag


def _build_dags(
    loaded_specs: Iterable[LoadedSpec],
    *,
    managed: Collection[str],
    dialects: Mapping[str, str],
    tags: Collection[str] = (),
) -> dict[str, DAG]:
    dags: dict[str, DAG] = {}
    for loaded in loaded_specs:
        if loaded.document is None:
            dag = build_broken_dag(loaded, loaded.error or "unreadable spec", tags=tags)
        else:
            try:
                dag = build_dag(loaded.document, dialects=dialects, managed=managed, tags=tags)
            except Exception as exc:  # noqa: BLE001 - isolate the broken spec
                log.warning("dli: spec %s is broken: %s", loaded.name, exc)
                hints = " ".join(getattr(exc, "hints", ()))
                dag = build_broken_dag(
                    loaded, f"{type(exc).__name__}: {exc}" + (f" ({hints})" if hints else ""), tags=tags
                )
        dags[loaded.name] = dag
    return dags


def _store_url(store_url: str | None) -> str:
    url = store_url or os.environ.get("DLI_STORE_URL")
    if not url:
        raise RuntimeError("dli DAG factory: set DLI_STORE_URL (file:///path or s3://bucket/prefix) for Airflow")
    return url


def load_dags(namespace: MutableMapping[str, Any] | None = None, *, store_url: str | None = None) -> dict[str, DAG]:
    """Build the DAGs of the store at ``store_url`` (default ``$DLI_STORE_URL``) into ``namespace``.

    On a worker only the DAG being run is built. Raises (an import error of the DAG file) only when
    the store itself cannot be used; a broken spec becomes a broken placeholder DAG.
    """
    url = _store_url(store_url)
    # A bad mapping fails the file (an import error naming it) rather than send SQL to a guessed connection.
    dialects = dialect_connections(os.environ)
    loaded_specs = load_specs(url, only=get_parsing_context().dag_id)
    # Every dataset the store holds (on a worker, which builds one DAG to run it, the schedule does not matter).
    managed = frozenset(loaded.name for loaded in loaded_specs)
    dags = _build_dags(loaded_specs, managed=managed, dialects=dialects)
    if namespace is not None:
        namespace.update(dags)
    return dags


def load_shard(
    namespace: MutableMapping[str, Any] | None,
    shard_path: str,
    *,
    store_url: str,
    specs: Mapping[str, tuple[str, str, Sequence[str]]] | None = None,
) -> dict[str, DAG]:
    """Build the DAGs of one shard file of dli's DAG bundle (``bundle.py``) into ``namespace``.

    ``specs`` (name -> source, ETag, managed upstreams), written into the file by the bundle, are
    read without listing the store. On a worker only the DAG being run is built, as ``load_dags``
    does; a file without ``specs`` (a worker's copy) lists the store on the DAG processor.
    """
    parsed = shard_of_file(shard_path)
    if parsed is None:
        raise RuntimeError(f"dli DAG bundle: {shard_path} is not a shard file (dli_shard_NNN_of_NNN.py)")
    number, shards = parsed
    dialects = dialect_connections(os.environ)
    only = get_parsing_context().dag_id
    if specs is not None and not only:
        from dli.entrypoints.airflow.shards import record_parse
        from dli.entrypoints.bootstrap import build_factory_store

        # First: the bundle's ParseWatch learns that a parse of this content started.
        record_parse(shard_path, specs)

        listed: dict[SourceType, dict[str, str]] = {source: {} for source in SourceType}
        sources = {}
        for name, (source, etag, _) in specs.items():
            sources[name] = SourceType(source)
            listed[sources[name]][name] = etag
        loaded_specs = read_named(build_factory_store(store_url, listed=listed), sources)
        # What a schedule needs of the store: which of its upstreams it holds (recorded per spec).
        managed: Collection[str] = frozenset(specs).union(*(upstreams for _, _, upstreams in specs.values()))
    else:
        everything = load_specs(store_url, only=only)
        managed = frozenset(loaded.name for loaded in everything)
        loaded_specs = [loaded for loaded in everything if only or shard_of(loaded.name, shards) == number]
    # The tag lets dli find this file's token (to ask Airflow to parse it) from any DAG of the shard.
    dags = _build_dags(loaded_specs, managed=managed, dialects=dialects, tags=[shard_tag(number, shards)])
    if namespace is not None:
        namespace.update(dags)
    return dags
