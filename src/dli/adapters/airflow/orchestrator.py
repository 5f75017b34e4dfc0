"""The Orchestrator port over Apache Airflow 3's REST API (v2), with httpx.

Mapping (docs/airflow.md, docs/airflow-notes.md): one DAG per dataset (``dag_id`` = dataset name); public run
ids are ``<dataset>@<airflow run id>`` so a run is found without scanning DAGs; states queued ->
PENDING, running -> RUNNING, success -> COMPLETED, failed -> FAILED, and a run stopped through dli
(note ``dli:killed``) or a backfill date the DAG's ``dli_guard`` task refused to run -> KILLED. A
run whose ``dli_guard`` still waits (for the upstream runs that published its data, or for the run
before it in a chained backfill) is PENDING, and its SQL started when the guard let it through.
A running run one of whose tasks is ``up_for_retry`` (an attempt failed, retries are left) stays
RUNNING with its ``retry`` set: the attempt, the failed attempt's error, the next attempt's time.
Every request has short connect and read timeouts and is repeated only where that cannot do anything
twice (``dli.adapters.http_retry``); an unreachable, hung or failing Airflow is a ``ServerError``
(DLI-503) naming Airflow's URL (never the credentials). Lists are read page by page (``lists``):
Airflow silently caps every page at its ``maximum_page_limit`` (100 by default).

One module a concern, behind this one port: ``dags`` (lookup, pause state, parse requests),
``dag_runs`` (trigger, read, stop, list), ``backfills``, ``task_instances`` (the guard task, retry
waits, errors), ``logs``, ``lists`` (paging) and ``session`` (authentication, timeouts, retries).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import httpx

from dli.adapters.airflow import lists
from dli.adapters.airflow.backfills import AirflowBackfills
from dli.adapters.airflow.dag_runs import AirflowRuns
from dli.adapters.airflow.dags import PATTERN_CHARS, AirflowDags
from dli.adapters.airflow.session import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, AirflowSession
from dli.adapters.http_retry import DEFAULT_POLICY, RetryPolicy
from dli.domain.model.enums import RunStatus
from dli.domain.model.workflow import DagState
from dli.ports.clock import Clock
from dli.ports.orchestrator import BackfillHandle, BackfillRequest, ChainStep, RunQuery, RunRecord, WorkflowState

__all__ = ["AirflowOrchestrator"]


class AirflowOrchestrator:
    """Implements the Orchestrator port against an Airflow 3 API server."""

    def __init__(
        self,
        *,
        base_url: str,
        username: str | None,
        password: str | None,
        clock: Clock,
        connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout_seconds: float = DEFAULT_READ_TIMEOUT,
        timeout_seconds: float | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        dag_wait_seconds: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``timeout_seconds``, when given, caps both timeouts (a caller's own patience)."""
        if timeout_seconds is not None:
            connect_timeout_seconds = min(connect_timeout_seconds, timeout_seconds)
            read_timeout_seconds = min(read_timeout_seconds, timeout_seconds)
        self._http = AirflowSession(
            base_url=base_url,
            username=username,
            password=password,
            connect_timeout_seconds=connect_timeout_seconds,
            read_timeout_seconds=read_timeout_seconds,
            retry_policy=retry_policy,
            transport=transport,
            sleep=sleep,
        )
        self._dags = AirflowDags(self._http, dag_wait_seconds=dag_wait_seconds, sleep=sleep)
        self._runs = AirflowRuns(self._http, self._dags, clock)
        self._backfills = AirflowBackfills(self._http, self._dags, clock)

    def __repr__(self) -> str:
        return f"AirflowOrchestrator(base_url={self._http.display!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- DAGs --------------------------------------------------------------------------------------

    def sync(self, name: str) -> None:
        self._dags.sync(name)

    def dag_state(self, name: str) -> DagState:
        return self._dags.dag_state(name)

    def is_paused(self, name: str) -> bool | None:
        return self._dags.is_paused(name)

    def pause_states(self) -> Mapping[str, bool]:
        return self._dags.pause_states()

    def set_paused(self, name: str, paused: bool) -> None:
        self._dags.set_paused(name, paused)

    def workflow_states(self, names: Collection[str]) -> Mapping[str, WorkflowState]:
        """Two calls per chunk of names (a page of a listing is one chunk), never a scan of every DAG:
        the DAGs by ``dag_id_pattern``, their runs from the batch run list, filtered by DAG ids and state."""
        wanted = sorted(set(names))
        paused: dict[str, bool] = {}
        running: set[str] = set()
        for chunk in lists.chunks(wanted, PATTERN_CHARS):
            paused.update(self._dags.paused_among(chunk))
            running.update(self._runs.running(chunk) & set(chunk))
        return {name: WorkflowState(paused=paused.get(name), running=name in running) for name in wanted}

    def last_run_states(self, names: Collection[str]) -> Mapping[str, RunStatus]:
        return self._runs.last_run_states(names)

    # -- runs --------------------------------------------------------------------------------------

    def trigger(self, name: str, *, parameters: Mapping[str, Any], triggered_by: str | None) -> RunRecord:
        return self._runs.trigger(name, parameters=parameters, triggered_by=triggered_by)

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get_run(run_id)

    def stop_run(self, run_id: str) -> RunRecord:
        return self._runs.stop_run(run_id)

    def list_runs(self, query: RunQuery) -> tuple[Sequence[RunRecord], int]:
        return self._runs.page(query.names, query.status, query.limit)

    def is_running(self, name: str) -> bool:
        return self._runs.is_running(name)

    def running(self) -> set[str]:
        return self._runs.running()

    def logs(self, run_id: str) -> str:
        return self._runs.logs(run_id)

    # -- backfills ---------------------------------------------------------------------------------

    def backfill(self, request: BackfillRequest) -> BackfillHandle:
        return self._backfills.of_dates(
            request.name, request.dates, request.parameters, request.triggered_by, request.timezone
        )

    def backfill_chain(self, steps: Sequence[ChainStep], *, triggered_by: str | None) -> BackfillHandle:
        return self._backfills.chain(steps, triggered_by)
