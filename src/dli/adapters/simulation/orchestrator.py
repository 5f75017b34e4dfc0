"""In-memory orchestrator: simulates Airflow's run life cycle on an injectable clock.

A run is PENDING for ``queue_seconds``, RUNNING for ``run_seconds``, then COMPLETED, or FAILED when
a failure was injected for its dataset. Backfill dates run one after another; a failed (or killed)
date ends the backfill and the dates after it end KILLED without running.

Retries as the DAG factory sets them in Airflow: a run of a spec whose execution settings
(``dli.domain.model.execution``) allow retries gets that many more attempts of ``run_seconds`` each.
Between a failed attempt and the next it stays RUNNING, waiting ``retry_delay_seconds`` with its
``retry`` set (Airflow's ``up_for_retry``); it ends FAILED when its last attempt fails. An injected
failure may fail only the first attempts (a flaky statement that a retry fixes).

Given the spec store (as the DAG factory reads it in Airflow), it also simulates data-aware
scheduling: a completed run that is not a backfill publishes its dataset, and a workflow scheduled
``after: upstream`` (not paused) runs once every upstream it has in the store has published since
its last such run, for the latest ``execution_date`` among those events.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import zoneinfo
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from dli.domain.model.enums import RunStatus, RunType, SourceType
from dli.domain.model.errors import ConfigurationError, DLIError, InvalidStateError, WorkflowNotFoundError
from dli.domain.model.runs import make_run_id, split_run_id
from dli.domain.model.workflow import DagState
from dli.ports.clock import Clock
from dli.ports.orchestrator import BackfillHandle, BackfillRequest, ChainStep, RunQuery, RunRecord, WorkflowState
from dli.ports.spec_store import SpecStore

__all__ = ["InMemoryOrchestrator"]

_UTC = dt.UTC


@attrs.frozen
class _Failure:
    message: str
    dates: frozenset[dt.date] | None  # None: every date
    attempts: int | None  # how many attempts of a run fail; None: every one


@attrs.define
class _Run:
    record: RunRecord
    start_at: dt.datetime | None  # None: waits for the previous backfill date
    fails_with: str | None
    after: str | None = None  # run id this backfill date waits for
    log: list[str] = attrs.field(factory=list)
    attempts: int = 1  # attempts in all (the spec's retries + 1)
    retry_delay: dt.timedelta = dt.timedelta(0)
    failing_attempts: int | None = None  # with fails_with: how many attempts fail (None: all)
    logged_attempts: int = 0  # attempts whose end is in the log


def _queued(
    name: str,
    native: str,
    run_type: RunType,
    parameters: Mapping[str, Any],
    *,
    logical_date: dt.datetime,
    at: dt.datetime,
    by: str | None = None,
) -> RunRecord:
    """A new run of ``name``, PENDING since ``at``."""
    return RunRecord(
        run_id=make_run_id(name, native),
        dataset_name=name,
        status=RunStatus.PENDING,
        run_type=run_type,
        parameters=dict(parameters),
        logical_date=logical_date,
        queued_at=at,
        triggered_by=by,
    )


class InMemoryOrchestrator:
    """The fake of the Orchestrator port."""

    @classmethod
    def from_url(cls, url: str, *, clock: Clock, store: SpecStore | None = None) -> InMemoryOrchestrator:
        """The simulation ``memory://?queue_seconds=0.1&run_seconds=0.2`` names (fast runs: tests, demos).

        Raises:
            ConfigurationError: A timing that is not a number, or an unknown option (DLI-001).
        """
        options = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
        try:
            timings = {k: float(options.pop(k)) for k in ("queue_seconds", "run_seconds") if k in options}
        except ValueError:
            raise ConfigurationError(f"Invalid orchestrator URL {url!r}: timings must be numbers") from None
        if options:
            raise ConfigurationError(f"Unknown option(s) in {url!r}: {', '.join(sorted(options))}")
        return cls(clock=clock, store=store, **timings)

    def __init__(
        self, *, clock: Clock, queue_seconds: float = 1.0, run_seconds: float = 3.0, store: SpecStore | None = None
    ) -> None:
        """``store``: the specs to schedule upstream-triggered workflows from (none: no such runs)."""
        self._clock = clock
        self._store = store
        # Per upstream-scheduled workflow: upstream -> (execution_date, run id) published since its last run.
        self._events: dict[str, dict[str, tuple[str, str]]] = {}
        self._queue = dt.timedelta(seconds=queue_seconds)
        self._duration = dt.timedelta(seconds=run_seconds)
        self._paused: dict[str, bool] = {}
        self._runs: dict[str, _Run] = {}
        self._failures: dict[str, _Failure] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- test and seeding hooks -------------------------------------------------------------

    def inject_failure(
        self, name: str, message: str, *, dates: Collection[dt.date] | None = None, attempts: int | None = None
    ) -> None:
        """Make future runs of ``name`` fail (only those for ``dates``, when given): every attempt, or
        only the first ``attempts`` of each run (a retry after them succeeds)."""
        with self._lock:
            self._failures[name] = _Failure(message, frozenset(dates) if dates is not None else None, attempts)

    def clear_failure(self, name: str) -> None:
        """Let future runs of ``name`` succeed again."""
        with self._lock:
            self._failures.pop(name, None)

    def add_run(self, record: RunRecord) -> None:
        """Record a run that already happened (seed data, scheduled runs)."""
        with self._lock:
            self._runs[record.run_id] = _Run(record=record, start_at=record.started_at, fails_with=None)

    # -- the port ------------------------------------------------------------------------------

    def sync(self, name: str) -> None:
        """Nothing to pick up: the simulation needs no DAG file."""

    def dag_state(self, name: str) -> DagState:
        """Always live: the simulation needs no parsing."""
        return DagState(visible=True)

    def is_paused(self, name: str) -> bool | None:
        with self._lock:
            return self._paused.get(name)

    def is_running(self, name: str) -> bool:
        with self._lock:
            self._advance()
            return any(r.record.dataset_name == name and not r.record.status.is_terminal for r in self._runs.values())

    def workflow_states(self, names: Collection[str]) -> Mapping[str, WorkflowState]:
        with self._lock:
            self._advance()
            active = {r.record.dataset_name for r in self._runs.values() if not r.record.status.is_terminal}
            return {name: WorkflowState(paused=self._paused.get(name), running=name in active) for name in names}

    def last_run_states(self, names: Collection[str]) -> Mapping[str, RunStatus]:
        wanted = set(names)
        runs, _ = self.list_runs(RunQuery(names=wanted, limit=len(self._runs)))
        newest: dict[str, RunStatus] = {}
        for record in runs:  # newest first
            newest.setdefault(record.dataset_name, record.status)
        return newest

    def pause_states(self) -> Mapping[str, bool]:
        with self._lock:
            return dict(self._paused)

    def set_paused(self, name: str, paused: bool) -> None:
        with self._lock:
            self._paused[name] = paused

    def trigger(self, name: str, *, parameters: Mapping[str, Any], triggered_by: str | None) -> RunRecord:
        with self._lock:
            now = self._clock.now()
            native = f"mock_adhoc__{now.strftime('%Y%m%dT%H%M%S')}_{next(self._ids)}"
            record = _queued(name, native, RunType.ADHOC, parameters, logical_date=now, at=now, by=triggered_by)
            self._runs[record.run_id] = self._new_run(record, name, now.date(), start_at=now + self._queue)
            return record

    def backfill(self, request: BackfillRequest) -> BackfillHandle:
        steps = [
            ChainStep(name=request.name, date=d, parameters=request.parameters, timezone=request.timezone)
            for d in request.dates
        ]
        return self.backfill_chain(steps, triggered_by=request.triggered_by)

    def backfill_chain(self, steps: Sequence[ChainStep], *, triggered_by: str | None) -> BackfillHandle:
        with self._lock:
            now = self._clock.now()
            backfill_id = str(next(self._ids))
            previous: str | None = None
            run_ids = []
            for step in steps:
                native = f"mock_backfill__{step.date.isoformat()}_{backfill_id}"
                logical = dt.datetime.combine(step.date, dt.time(), tzinfo=zoneinfo.ZoneInfo(step.timezone))
                parameters = {**step.parameters, "execution_date": step.date.isoformat()}
                record = _queued(
                    step.name, native, RunType.BACKFILL, parameters, logical_date=logical, at=now, by=triggered_by
                )
                self._runs[record.run_id] = self._new_run(
                    record,
                    step.name,
                    step.date,
                    start_at=now + self._queue if previous is None else None,
                    after=previous,
                )
                previous = record.run_id
                run_ids.append(record.run_id)
            return BackfillHandle(backfill_id=backfill_id, run_ids=tuple(run_ids))

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            self._advance()
            run = self._runs.get(run_id)
            return run.record if run else None

    def list_runs(self, query: RunQuery) -> tuple[Sequence[RunRecord], int]:
        names, status = query.names, query.status
        with self._lock:
            self._advance()
            matched = [
                r.record
                for r in self._runs.values()
                if (names is None or r.record.dataset_name in names) and (status is None or r.record.status is status)
            ]
        epoch = dt.datetime.min.replace(tzinfo=_UTC)
        matched.sort(
            key=lambda r: (r.queued_at or r.started_at or epoch, r.logical_date or epoch, r.run_id), reverse=True
        )
        return matched[: query.limit], len(matched)

    def stop_run(self, run_id: str) -> RunRecord:
        with self._lock:
            self._advance()
            run = self._runs.get(run_id)
            if run is None:
                raise WorkflowNotFoundError(f"Run '{run_id}' not found", details={"run_id": run_id})
            if run.record.status.is_terminal:
                raise InvalidStateError(f"Run '{run_id}' already finished ({run.record.status.value})")
            now = self._clock.now()
            run.record = attrs.evolve(
                run.record, status=RunStatus.KILLED, finished_at=now, error_message="Killed by user", retry=None
            )
            run.log.append(f"{now.isoformat()} run killed by user")
            self._advance()
            return run.record

    def running(self) -> set[str]:
        with self._lock:
            self._advance()
            return {r.record.dataset_name for r in self._runs.values() if not r.record.status.is_terminal}

    def logs(self, run_id: str) -> str:
        with self._lock:
            self._advance()
            split_run_id(run_id)
            run = self._runs.get(run_id)
            if run is None:
                raise WorkflowNotFoundError(f"Run '{run_id}' not found", details={"run_id": run_id})
            return "\n".join(run.log) + ("\n" if run.log else "")

    # -- simulation ----------------------------------------------------------------------------

    def _new_run(
        self,
        record: RunRecord,
        name: str,
        date: dt.date,
        *,
        start_at: dt.datetime | None,
        after: str | None = None,
        log: list[str] | None = None,
    ) -> _Run:
        """A run of ``name`` for ``date``, with its spec's retries and the failure injected for it, if any."""
        failure = self._failures.get(name)
        if failure is not None and failure.dates is not None and date not in failure.dates:
            failure = None
        attempts, delay = self._retry_settings(name)
        return _Run(
            record=record,
            start_at=start_at,
            fails_with=failure.message if failure else None,
            after=after,
            log=log or [],
            attempts=attempts,
            retry_delay=delay,
            failing_attempts=failure.attempts if failure else None,
        )

    def _retry_settings(self, name: str) -> tuple[int, dt.timedelta]:
        """``(attempts, delay)`` of the active spec of ``name``, as the DAG factory gives its tasks."""
        stored = None
        if self._store is not None:
            try:
                stored = self._store.read(SourceType.CODE, name) or self._store.read(SourceType.MANUAL, name)
            except DLIError:  # unreadable: Airflow would run no DAG for it; one attempt here
                stored = None
        if stored is None:
            return 1, dt.timedelta(0)
        from dli.domain.model.execution import execution_settings

        settings = execution_settings(stored.document.spec)
        return settings.retries + 1, dt.timedelta(seconds=settings.retry_delay_seconds)

    def _advance(self) -> None:
        """Move every run to where the clock says it is; insertion order resolves backfill chains.

        Runs that complete publish their dataset; the runs that this starts are created, then moved
        on in the next pass, until nothing changes.
        """
        while True:
            completed = self._advance_runs()
            if self._store is None or not completed:
                return
            spawned = False
            for record in sorted(completed, key=lambda r: (r.finished_at, r.run_id)):
                if record.run_type is not RunType.BACKFILL:  # a backfill never starts downstreams
                    spawned |= self._publish(record)
            if not spawned:
                return

    def _advance_runs(self) -> list[RunRecord]:
        """One pass over the runs; the records of those that completed in it."""
        now = self._clock.now()
        completed = []
        for run in list(self._runs.values()):
            record = run.record
            if record.status.is_terminal:
                continue
            if run.start_at is None and run.after is not None:
                before = self._runs[run.after].record
                if before.status is RunStatus.COMPLETED and before.finished_at is not None:
                    run.start_at = before.finished_at + self._queue
                elif before.status.is_terminal:
                    at = before.finished_at or now
                    run.record = attrs.evolve(
                        record,
                        status=RunStatus.KILLED,
                        finished_at=at,
                        error_message=f"Not run: the backfill stopped after {before.run_id} ended {before.status.value}",
                    )
                    run.log.append(f"{at.isoformat()} not run: an earlier backfill date did not complete")
                    continue
            if run.start_at is None or now < run.start_at:
                continue
            if record.status is RunStatus.PENDING:
                record = attrs.evolve(record, status=RunStatus.RUNNING, started_at=run.start_at)
                run.log.append(f"{run.start_at.isoformat()} run started")
            run.record = record = self._attempts(run, record, now)
            if record.status is RunStatus.COMPLETED:
                completed.append(record)
        return completed

    def _attempts(self, run: _Run, record: RunRecord, now: dt.datetime) -> RunRecord:
        """Where the attempts of a started run are at ``now``: each runs ``run_seconds``, a failed one
        with attempts left is followed by the retry delay, then the next attempt."""
        assert run.start_at is not None
        begin = run.start_at
        for attempt in range(1, run.attempts + 1):
            end = begin + self._duration
            if now < end:
                return attrs.evolve(record, retry=None)
            failed = run.fails_with is not None and (run.failing_attempts is None or attempt <= run.failing_attempts)
            last = not failed or attempt == run.attempts
            next_begin = end + run.retry_delay
            if run.logged_attempts < attempt:
                run.logged_attempts = attempt
                if not failed:
                    run.log.append(f"{end.isoformat()} query executed; run completed")
                elif last:
                    run.log.append(f"{end.isoformat()} ERROR {run.fails_with}")
                else:
                    run.log.append(
                        f"{end.isoformat()} ERROR {run.fails_with} (attempt {attempt} of {run.attempts}; "
                        f"next attempt at {next_begin.isoformat()})"
                    )
            if not failed:
                return attrs.evolve(record, status=RunStatus.COMPLETED, finished_at=end, retry=None)
            if last:
                return attrs.evolve(
                    record, status=RunStatus.FAILED, finished_at=end, error_message=run.fails_with, retry=None
                )
            if now < next_begin:
                from dli.domain.model.workflow_runs import RetryWait

                wait = RetryWait(
                    attempt=attempt,
                    max_attempts=run.attempts,
                    last_error=run.fails_with,
                    failed_at=end,
                    next_attempt_at=next_begin,
                )
                return attrs.evolve(record, retry=wait)
            begin = next_begin
        raise AssertionError("unreachable: the last attempt ends the run")  # pragma: no cover

    def _publish(self, record: RunRecord) -> bool:
        """``record``'s dataset has new data: start the upstream-scheduled workflows now complete; any started?"""
        assert self._store is not None and record.finished_at is not None
        from dli.domain.usecases.dependencies import load_active_specs  # only once a run completes

        active = load_active_specs(self._store)
        graph = active.graph
        upstream = active.documents.get(record.dataset_name)
        date = record.parameters.get("execution_date")
        if not isinstance(date, str) or not date:
            when = record.logical_date or record.finished_at
            zone = zoneinfo.ZoneInfo(upstream.schedule.timezone) if upstream is not None else _UTC
            date = when.astimezone(zone).date().isoformat()
        started = False
        for name in graph.downstreams.get(record.dataset_name, ()):
            document = active.documents.get(name)
            if document is None or not document.schedule.after_upstream:
                continue
            paused = self._paused.get(name)
            if paused if paused is not None else not document.schedule.enabled:
                continue  # as in Airflow: a paused workflow is not queued by the events it misses
            events = self._events.setdefault(name, {})
            events[record.dataset_name] = (date, record.run_id)
            if not all(u in events for u in graph.managed_upstreams(name)):
                continue
            from dli.domain.model.dependencies import latest_execution_date

            execution_date = latest_execution_date({"execution_date": d} for d, _ in events.values()) or date
            sources = sorted(events)
            events.clear()
            at = record.finished_at
            native = f"mock_asset_triggered__{at.strftime('%Y%m%dT%H%M%S')}_{next(self._ids)}"
            triggered = _queued(
                name, native, RunType.SCHEDULED, {"execution_date": execution_date}, logical_date=at, at=at
            )
            self._runs[triggered.run_id] = self._new_run(
                triggered,
                name,
                dt.date.fromisoformat(execution_date),
                start_at=at + self._queue,
                log=[f"{at.isoformat()} started by new data in {', '.join(sources)} (execution_date {execution_date})"],
            )
            started = True
        return started
