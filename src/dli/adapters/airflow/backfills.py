"""Backfills in Airflow: one DAG's dates through Airflow's backfill API, or a chain of manual runs
over several DAGs, each run's ``dli_guard`` waiting for the run before it."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from dli.adapters.airflow import lists
from dli.adapters.airflow.dag_runs import create_run, run_note
from dli.adapters.airflow.dags import AirflowDags
from dli.adapters.airflow.runs import BACKFILL_MARKER, CHAIN_AFTER, KILLED_NOTE, zone
from dli.adapters.airflow.session import AirflowSession, database_failed, database_locked, error_detail, segment
from dli.domain.model.errors import DLIError, InvalidStateError, ParameterInvalidError
from dli.domain.model.runs import make_run_id
from dli.ports.clock import Clock
from dli.ports.orchestrator import BackfillHandle, ChainStep

__all__ = ["AirflowBackfills"]

# How often a backfill refused by Airflow's database (500 "Database error") is created again.
_RECREATE_ATTEMPTS = 3


class AirflowBackfills:
    """Backfills through one Airflow session."""

    def __init__(self, http: AirflowSession, dags: AirflowDags, clock: Clock) -> None:
        self._http = http
        self._dags = dags
        self._clock = clock

    def of_dates(
        self,
        name: str,
        dates: Sequence[dt.date],
        parameters: Mapping[str, Any],
        triggered_by: str | None,
        timezone: str,
    ) -> BackfillHandle:
        """Airflow's backfill of the DAG of ``name`` over ``dates`` (the Orchestrator port's ``backfill``)."""
        if not dates:
            raise ParameterInvalidError("A backfill needs at least one date")
        # The schedule's timezone comes from the spec: Airflow reports every DAG's timezone as UTC.
        zone_name = timezone
        try:
            tz: dt.tzinfo = zoneinfo.ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz, zone_name = dt.UTC, "UTC"
        ordered = sorted(dates)
        start = dt.datetime.combine(ordered[0], dt.time(), tzinfo=tz)
        end = dt.datetime.combine(ordered[-1], dt.time(23, 59, 59), tzinfo=tz)
        marker_id = uuid.uuid4().hex
        marker = {
            "id": marker_id,
            "from": start.isoformat(),
            "timezone": zone_name,
            "dates": [d.isoformat() for d in ordered],
            "triggered_by": triggered_by,
        }
        body = {
            "dag_id": name,
            "from_date": start.isoformat(),
            "to_date": end.isoformat(),
            "max_active_runs": 1,
            # Re-running dates that already ran (a fix after a failure) is the point of a backfill.
            "reprocess_behavior": "completed",
            "dag_run_conf": {**parameters, BACKFILL_MARKER: marker},
        }

        def create() -> httpx.Response:
            return self._dags.on_dag(
                name,
                lambda: self._http.call(
                    "POST", "/api/v2/backfills", json=body, also_retry=database_locked, policy=self._http.locked_policy
                ),
            )

        response = create()
        for _attempt in range(_RECREATE_ATTEMPTS):
            if not database_failed(response):
                break
            # Airflow on SQLite answered 500 "Database error" after it may have committed part of the
            # backfill (and then dropped its runs): a backfill of ours left active would refuse the
            # next one (409) while running nothing. Cancel it, then ask again.
            self._cancel_ours(name, marker_id)
            response = create()
        if response.status_code == 409:
            raise InvalidStateError(
                f"Cannot backfill '{name}': {error_detail(response)}", details={"dataset_name": name}
            )
        if response.status_code in (400, 422):
            raise ParameterInvalidError(f"Airflow refused the backfill of '{name}': {error_detail(response)}")
        if response.status_code not in (200, 201):
            raise self._http.error(response, f"backfill '{name}'")
        backfill_id = str(response.json().get("id"))
        listed = lists.items(
            self._http,
            "GET",
            f"/api/v2/dags/{segment(name)}/dagRuns",
            "dag_runs",
            f"list the backfill runs of '{name}'",
            query={
                "run_type": "backfill",
                "logical_date_gte": start.isoformat(),
                "logical_date_lte": end.isoformat(),
                "order_by": "logical_date",
            },
        )
        run_ids = tuple(
            make_run_id(name, run["dag_run_id"])
            for run in listed
            if ((run.get("conf") or {}).get(BACKFILL_MARKER) or {}).get("id") == marker["id"]
        )
        if not run_ids:
            raise ParameterInvalidError(
                f"The schedule of '{name}' has no fire time from {ordered[0]} to {ordered[-1]}: nothing to backfill",
                hints=("A backfill runs the schedule's fire times in the range: widen it, or check the cron.",),
                details={"dataset_name": name},
            )
        return BackfillHandle(backfill_id=backfill_id, run_ids=run_ids)

    def _cancel_ours(self, name: str, marker_id: str) -> None:
        """Cancel the active backfills of ``name`` created with ``marker_id`` (a failed attempt's leftovers)."""
        listed = lists.items(
            self._http,
            "GET",
            "/api/v2/backfills",
            "backfills",
            f"list the backfills of '{name}'",
            query={"dag_id": name},
        )
        for backfill in listed:
            conf = backfill.get("dag_run_conf") or {}
            if backfill.get("completed_at") is None and (conf.get(BACKFILL_MARKER) or {}).get("id") == marker_id:
                self._http.call("PUT", f"/api/v2/backfills/{backfill['id']}/cancel", also_retry=database_failed)

    def chain(self, steps: Sequence[ChainStep], triggered_by: str | None) -> BackfillHandle:
        """The port's ``backfill_chain``: one manual run per step, all created now, each naming the run
        before it in its marker: its ``dli_guard`` waits (without holding a worker slot) until that run
        ended, and stops the chain when it did not succeed. Created in chain order, so that two runs of
        one DAG start in that order.
        """
        if not steps:
            raise ParameterInvalidError("A backfill needs at least one date")
        chain_id = uuid.uuid4().hex
        stamp = f"{self._clock.now().astimezone(dt.UTC):%Y%m%dT%H%M%S}_{chain_id[:12]}"
        note = run_note(triggered_by)
        created: list[tuple[str, str]] = []
        previous: dict[str, str] | None = None
        try:
            for index, step in enumerate(steps):
                native = f"dli_backfill__{stamp}_{index:04d}"
                day = step.date.isoformat()
                zone_name = step.timezone if isinstance(zone(step.timezone), zoneinfo.ZoneInfo) else "UTC"
                marker: dict[str, Any] = {
                    "id": chain_id,
                    "date": day,
                    "timezone": zone_name,
                    "index": index,
                    "triggered_by": triggered_by,
                }
                if previous is not None:
                    marker[CHAIN_AFTER] = previous
                body = {
                    "dag_run_id": native,
                    "logical_date": None,
                    "conf": {**step.parameters, "execution_date": day, BACKFILL_MARKER: marker},
                    "note": note,
                }
                create_run(self._http, self._dags, step.name, body, f"backfill '{step.name}' for {day}")
                created.append((step.name, native))
                previous = {"dag_id": step.name, "run_id": native, "dataset": step.name, "date": day}
        except DLIError:
            self._abandon(created)
            raise
        return BackfillHandle(backfill_id=chain_id, run_ids=tuple(make_run_id(n, r) for n, r in created))

    def _abandon(self, created: Sequence[tuple[str, str]]) -> None:
        """Stop the runs of a chain that could not be created whole (best effort: the error is what matters)."""
        for name, native in reversed(created):
            try:
                self._http.call(
                    "PATCH",
                    f"/api/v2/dags/{segment(name)}/dagRuns/{segment(native)}",
                    json={"state": "failed", "note": f"{KILLED_NOTE}\ndli: the backfill could not be created whole"},
                )
            except DLIError:
                pass
