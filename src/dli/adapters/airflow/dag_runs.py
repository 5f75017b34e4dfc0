"""DAG runs in Airflow: trigger, read, stop and list them, with what their task instances tell
(``task_instances``) and their logs."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dli.adapters.airflow import lists
from dli.adapters.airflow.dags import AirflowDags
from dli.adapters.airflow.logs import AirflowLogs
from dli.adapters.airflow.runs import AIRFLOW_STATES, KILLED_NOTE, TRIGGERED_BY_NOTE, run_record
from dli.adapters.airflow.session import AirflowSession, database_failed, error_detail, segment
from dli.adapters.airflow.task_instances import RunDetails
from dli.domain.model.enums import RunStatus
from dli.domain.model.errors import InvalidStateError, ParameterInvalidError, WorkflowNotFoundError
from dli.domain.model.runs import split_run_id
from dli.ports.clock import Clock
from dli.ports.orchestrator import RunRecord

__all__ = ["AirflowRuns", "create_run", "run_note"]

_MAX_FAILED_SCAN = 2_000  # failed runs examined to tell FAILED from KILLED in a filtered history
_ACTIVE = ["queued", "running"]
_LAST_RUN_FETCHES = 8  # concurrent requests for the newest run of each row of a listed page


def run_note(triggered_by: str | None) -> str:
    """The note of a run dli created: who triggered it."""
    return f"{TRIGGERED_BY_NOTE}{triggered_by}" if triggered_by else "dli: triggered"


def create_run(
    http: AirflowSession, dags: AirflowDags, name: str, body: Mapping[str, Any], action: str
) -> Mapping[str, Any]:
    """Create the manual run ``body`` describes on the DAG of ``name`` (waiting for a new DAG to appear).

    Raises:
        ParameterInvalidError: Airflow rejected the run's parameters (DLI-201).
        ServerError: Airflow failed otherwise (DLI-503).
    """
    path = f"/api/v2/dags/{segment(name)}/dagRuns"
    # The run id is ours (unique per request): a create refused by Airflow's database can be sent
    # again, and a 409 after that means an earlier attempt did create it.
    response = dags.on_dag(
        name, lambda: http.call("POST", path, json=dict(body), also_retry=database_failed, policy=http.locked_policy)
    )
    if response.status_code == 409 and body.get("dag_run_id"):
        existing = http.call("GET", f"{path}/{segment(str(body['dag_run_id']))}")
        if existing.status_code == 200:
            return existing.json()
    if response.status_code == 400:
        raise ParameterInvalidError(f"Airflow rejected the parameters of '{name}': {error_detail(response)}")
    if response.status_code not in (200, 201):
        raise http.error(response, action)
    return response.json()


class AirflowRuns:
    """The runs of one Airflow."""

    def __init__(self, http: AirflowSession, dags: AirflowDags, clock: Clock) -> None:
        self._http = http
        self._dags = dags
        self._clock = clock
        self._logs = AirflowLogs(http)
        self._details = RunDetails(http, self._logs)

    def trigger(self, name: str, *, parameters: Mapping[str, Any], triggered_by: str | None) -> RunRecord:
        # 48 random bits after the second: two triggers of one DAG cannot collide in practice.
        native = f"dli__{self._clock.now().astimezone(dt.UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:12]}"
        body = {"dag_run_id": native, "logical_date": None, "conf": dict(parameters), "note": run_note(triggered_by)}
        return run_record(create_run(self._http, self._dags, name, body, f"trigger '{name}'"))

    def _get_raw(self, run_id: str) -> tuple[str, Mapping[str, Any] | None]:
        name, native = split_run_id(run_id)
        response = self._http.call("GET", f"/api/v2/dags/{segment(name)}/dagRuns/{segment(native)}")
        if response.status_code == 404:
            return name, None
        if response.status_code != 200:
            raise self._http.error(response, f"read run '{run_id}'")
        return name, response.json()

    def _existing(self, run_id: str) -> tuple[str, Mapping[str, Any]]:
        name, raw = self._get_raw(run_id)
        if raw is None:
            raise WorkflowNotFoundError(f"Run '{run_id}' not found", details={"run_id": run_id})
        return name, raw

    def get_run(self, run_id: str) -> RunRecord | None:
        try:
            _, raw = self._get_raw(run_id)
        except WorkflowNotFoundError:
            return None
        return None if raw is None else self._details.record(raw)

    def stop_run(self, run_id: str) -> RunRecord:
        name, raw = self._existing(run_id)
        record = run_record(raw)
        if record.status.is_terminal:
            raise InvalidStateError(
                f"Run '{run_id}' already finished ({record.status.value})", details={"run_id": run_id}
            )
        note = "\n".join(filter(None, [KILLED_NOTE, raw.get("note")]))
        response = self._http.call(
            "PATCH",
            f"/api/v2/dags/{segment(name)}/dagRuns/{segment(raw['dag_run_id'])}",
            json={"state": "failed", "note": note},
            also_retry=database_failed,
            policy=self._http.locked_policy,
        )
        if response.status_code != 200:
            raise self._http.error(response, f"stop run '{run_id}'")
        return run_record(response.json())

    def page(
        self, names: Collection[str] | None, status: RunStatus | None, limit: int
    ) -> tuple[Sequence[RunRecord], int]:
        """The newest ``limit`` runs (of ``names``, in ``status``) and how many there are (the port's ``list_runs``)."""
        if names is not None and not names:
            return [], 0
        if status in (RunStatus.FAILED, RunStatus.KILLED):
            return self._list_failed_or_killed(names, status, limit)
        records: list[RunRecord] = []
        total = 0
        # At least one page even for limit 0: its total_entries is the count asked for.
        states = AIRFLOW_STATES[status] if status else None
        for raws, page_total in lists.run_pages(self._http, names, states, max_items=max(limit, 1)):
            records.extend(self._details.records(raws))
            total = page_total  # every page repeats the count; the last one is the newest
        return records[:limit], total

    def _list_failed_or_killed(
        self, names: Collection[str] | None, status: RunStatus, limit: int
    ) -> tuple[Sequence[RunRecord], int]:
        """Airflow has one ``failed`` state for both: page through failed runs and tell them apart."""
        matched: list[RunRecord] = []
        total = 0
        for raws, _ in lists.run_pages(self._http, names, ["failed"], max_items=_MAX_FAILED_SCAN):
            for record in self._details.records(raws, with_messages=len(matched) < limit):
                if record.status is status:
                    total += 1
                    if len(matched) < limit:
                        matched.append(record)
        return matched, total

    def running(self, names: Collection[str] | None = None) -> set[str]:
        """The DAGs (among ``names``; all: ``None``) with a queued or running run."""
        return {run["dag_id"] for raws, _ in lists.run_pages(self._http, names, _ACTIVE) for run in raws}

    def last_run_states(self, names: Collection[str]) -> dict[str, RunStatus]:
        """The status of each DAG's newest run: one ``limit=1`` request per DAG, a few at a time (the
        batch run list cannot return one run per DAG: one busy DAG would crowd the others out)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=min(_LAST_RUN_FETCHES, len(wanted))) as pool:
            newest = pool.map(self._newest_run, wanted)
            return {name: record.status for name, record in zip(wanted, newest, strict=True) if record is not None}

    def _newest_run(self, name: str) -> RunRecord | None:
        # Newest created first, as the history lists them (run_after would put a backfill of old dates first).
        response = self._http.call(
            "GET", f"/api/v2/dags/{segment(name)}/dagRuns", params={"order_by": "-id", "limit": 1}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._http.error(response, f"list the runs of '{name}'")
        runs = response.json().get("dag_runs") or []
        return run_record(runs[0]) if runs else None

    def is_running(self, name: str) -> bool:
        response = self._http.call(
            "GET", f"/api/v2/dags/{segment(name)}/dagRuns", params={"state": _ACTIVE, "limit": 1}
        )
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise self._http.error(response, f"list the runs of '{name}'")
        body = response.json()
        return bool(body.get("dag_runs")) or int(body.get("total_entries") or 0) > 0

    def logs(self, run_id: str) -> str:
        name, raw = self._existing(run_id)
        native = raw["dag_run_id"]
        return self._logs.text(name, native, self._details.of_run(name, native))
