"""What a run's task instances tell beyond the run's own state: the ``dli_guard`` task (a run still
waiting for its upstreams or for the run before it in a chained backfill is PENDING; a date the
guard refused is KILLED), a task waiting for its retry, and the error of a failed run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from dli.adapters.airflow import lists
from dli.adapters.airflow.logs import AirflowLogs
from dli.adapters.airflow.runs import (
    ASSET_TRIGGERED,
    BACKFILL_MARKER,
    CHAIN_AFTER,
    GUARD_TASK,
    UP_FOR_RETRY,
    parse_time,
    retry_wait,
    run_record,
)
from dli.adapters.airflow.session import AirflowSession, segment
from dli.domain.model.enums import RunStatus
from dli.domain.model.workflow_runs import RetryWait
from dli.ports.orchestrator import RunRecord

__all__ = ["MAX_ERROR_LOOKUPS", "RunDetails"]

MAX_ERROR_LOOKUPS = 20  # failed runs of one history page whose error message is fetched
_GUARD_STOPPED = "Not run: an earlier backfill date failed"

_RunKey = tuple[str, str]  # (dag_id, dag_run_id)


def _key(raw: Mapping[str, Any]) -> _RunKey:
    return raw["dag_id"], raw["dag_run_id"]


def _waits(raw: Mapping[str, Any]) -> bool:
    """Whether the run's ``dli_guard`` may hold it back: a run started by new upstream data waits for
    the runs that published it, a chained backfill run for the run before it."""
    if raw.get("run_type") == ASSET_TRIGGERED:
        return True
    marker = (raw.get("conf") or {}).get(BACKFILL_MARKER)
    return isinstance(marker, Mapping) and bool(marker.get(CHAIN_AFTER))


def _guarded(raw: Mapping[str, Any]) -> bool:
    """Whether a failed guard means the run was stopped before its SQL (a backfill date, a waiting run)."""
    return raw.get("run_type") == "backfill" or _waits(raw)


def _with_guard(record: RunRecord, guard: Mapping[str, Any] | None) -> RunRecord:
    """A run whose guard is still waiting has not started: PENDING, no start time. Once the guard let
    it through, it started when the guard ended (Airflow's own start is when the waiting began)."""
    state = (guard or {}).get("state")
    if state == "success":
        return attrs.evolve(record, started_at=parse_time(guard.get("end_date")) or record.started_at)  # type: ignore[union-attr]
    if state == "failed":
        return attrs.evolve(record, started_at=None)
    if record.status is RunStatus.RUNNING:
        return attrs.evolve(record, status=RunStatus.PENDING, started_at=None)
    return attrs.evolve(record, started_at=None)


def _guard_stopped(record: RunRecord, message: str) -> RunRecord:
    # The dataset's SQL never ran: as for the in-memory orchestrator, KILLED and never started.
    return attrs.evolve(record, status=RunStatus.KILLED, started_at=None, error_message=message)


class RunDetails:
    """Run records with what their task instances say, through one Airflow session."""

    def __init__(self, http: AirflowSession, logs: AirflowLogs) -> None:
        self._http = http
        self._logs = logs

    def record(self, raw: Mapping[str, Any]) -> RunRecord:
        """The record of one run (``GET`` of the run), its guard, failure and retry wait read one by one."""
        record = run_record(raw)
        if _waits(raw):
            record = _with_guard(record, self._guard_instance(raw))
        if record.status is RunStatus.FAILED:
            record = self._with_failure(raw, record)
        if record.status is RunStatus.RUNNING:
            record = attrs.evolve(record, retry=self._retry_waits([raw]).get(_key(raw)))
        return record

    def records(self, raws: Sequence[Mapping[str, Any]], *, with_messages: bool = True) -> list[RunRecord]:
        """Records of one page; failed runs are checked for the guard (one call) and, bounded, their error."""
        records = [run_record(raw) for raw in raws]
        waiting = [(i, raw) for i, raw in enumerate(raws) if _waits(raw)]
        if waiting:
            found = lists.task_instances(self._http, [raw for _, raw in waiting], task_ids=[GUARD_TASK])
            guards = {_key(ti): ti for ti in found}
            for index, raw in waiting:
                records[index] = _with_guard(records[index], guards.get(_key(raw)))
        running = [(i, raw) for i, raw in enumerate(raws) if records[i].status is RunStatus.RUNNING]
        if running:
            retries = self._retry_waits([raw for _, raw in running])
            for index, raw in running:
                records[index] = attrs.evolve(records[index], retry=retries.get(_key(raw)))
        failed = [(i, raw) for i, raw in enumerate(raws) if records[i].status is RunStatus.FAILED]
        if not failed:
            return records
        stopped = self._guard_failures([raw for _, raw in failed if _guarded(raw)])
        lookups = 0
        for index, raw in failed:
            if _key(raw) in stopped:
                records[index] = _guard_stopped(records[index], stopped[_key(raw)])
            elif with_messages and lookups < MAX_ERROR_LOOKUPS:
                lookups += 1
                records[index] = self._with_failure(raw, records[index])
        return records

    def of_run(self, name: str, native: str) -> list[Mapping[str, Any]]:
        """The task instances of one run, in the order they started."""
        return list(
            lists.items(
                self._http,
                "GET",
                f"/api/v2/dags/{segment(name)}/dagRuns/{segment(native)}/taskInstances",
                "task_instances",
                "list task instances",
                query={"order_by": "start_date"},
            )
        )

    def _guard_instance(self, raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
        response = self._http.call(
            "GET",
            f"/api/v2/dags/{segment(raw['dag_id'])}/dagRuns/{segment(raw['dag_run_id'])}/taskInstances/{GUARD_TASK}",
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._http.error(response, f"read the guard of run '{raw['dag_run_id']}'")
        return response.json()

    def _retry_waits(self, raws: Sequence[Mapping[str, Any]]) -> dict[_RunKey, RetryWait]:
        """``(dag_id, run_id) -> RetryWait`` of the given runs that wait for a retry: one request for
        the page, then, per waiting run (bounded), its task's retry delay and the failed attempt's error."""
        tasks: dict[tuple[str, str], Mapping[str, Any] | None] = {}
        waits: dict[_RunKey, RetryWait] = {}
        for ti in lists.task_instances(self._http, raws, state=[UP_FOR_RETRY]):
            # A run's statements run one after another: one of its tasks waits at a time.
            if _key(ti) in waits:
                continue
            if len(waits) >= MAX_ERROR_LOOKUPS:
                break
            task_key = (ti["dag_id"], ti["task_id"])
            if task_key not in tasks:
                tasks[task_key] = self._task(*task_key)
            wait = retry_wait(ti, tasks[task_key], self._logs.error_text(ti))
            if wait is not None:
                waits[_key(ti)] = wait
        return waits

    def _task(self, name: str, task_id: str) -> Mapping[str, Any] | None:
        """The task's JSON (its ``retry_delay``); ``None`` when Airflow cannot say (the time stays unknown)."""
        response = self._http.call("GET", f"/api/v2/dags/{segment(name)}/tasks/{segment(task_id)}")
        return response.json() if response.status_code == 200 else None

    def _guard_failures(self, raws: Sequence[Mapping[str, Any]]) -> dict[_RunKey, str]:
        """``(dag_id, run_id) -> message`` of backfill runs that the guard task stopped (one request)."""
        if not raws:
            return {}
        failed = lists.task_instances(self._http, raws, task_ids=[GUARD_TASK], state=["failed"])
        return {_key(ti): self._logs.error_text(ti) or _GUARD_STOPPED for ti in failed}

    def _with_failure(self, raw: Mapping[str, Any], record: RunRecord) -> RunRecord:
        """A failed run's record with its error: the guard's refusal (KILLED) or the first failed task's."""
        failed = [ti for ti in self.of_run(raw["dag_id"], raw["dag_run_id"]) if ti.get("state") == "failed"]
        guard = next((ti for ti in failed if ti["task_id"] == GUARD_TASK), None)
        if guard is not None and _guarded(raw):
            return _guard_stopped(record, self._logs.error_text(guard) or _GUARD_STOPPED)
        if not failed:
            return record
        first = failed[0]
        message = self._logs.error_text(first) or f"Task '{first['task_id']}' failed"
        return attrs.evolve(record, error_message=message)
