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
(DLI-503) naming Airflow's URL (never the credentials). Lists are read page by page (``_pages``):
Airflow silently caps every page at its ``maximum_page_limit`` (100 by default).
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
import zoneinfo
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

import attrs
import httpx

from dli.adapters.airflow.runs import (
    AIRFLOW_STATES,
    ASSET_TRIGGERED,
    BACKFILL_MARKER,
    CHAIN_AFTER,
    BROKEN_PREFIX,
    BROKEN_TAG,
    GUARD_TASK,
    KILLED_NOTE,
    TRIGGERED_BY_NOTE,
    UP_FOR_RETRY,
    format_event,
    parse_time,
    retry_wait,
    run_record,
    shard_of,
    shard_of_file,
    shard_tag,
    zone,
)
from dli.adapters.airflow.session import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    AirflowSession,
    error_detail,
    segment,
)
from dli.adapters.http_retry import DEFAULT_POLICY, RetryPolicy
from dli.domain.model.enums import RunStatus
from dli.domain.model.errors import (
    DLIError,
    InvalidStateError,
    ParameterInvalidError,
    WorkflowExecutionError,
    WorkflowNotFoundError,
)
from dli.domain.model.runs import make_run_id, split_run_id
from dli.ports.clock import Clock
from dli.domain.model.workflow import RetryWait
from dli.ports.orchestrator import BackfillHandle, ChainStep, DagState, RunRecord, WorkflowState

__all__ = ["AirflowOrchestrator"]

_PAGE = 100  # Airflow's default maximum_page_limit: a larger page is silently cut to it
_MAX_FAILED_SCAN = 2_000  # failed runs examined to tell FAILED from KILLED in a filtered history
_MAX_ERROR_LOOKUPS = 20  # failed runs of one history page whose error message is fetched
_PATTERN_CHARS = 2_000  # DAG ids per dag_id_pattern search, joined by '|': a URL well under 8 KiB


def _chunks(names: Sequence[str], max_chars: int) -> Iterator[list[str]]:
    """``names`` in runs whose '|'-joined length stays under ``max_chars``."""
    chunk: list[str] = []
    size = 0
    for name in names:
        if chunk and size + len(name) + 1 > max_chars:
            yield chunk
            chunk, size = [], 0
        chunk.append(name)
        size += len(name) + 1
    if chunk:
        yield chunk


def _database_locked(response: httpx.Response) -> bool:
    """Airflow on SQLite refused a write with 503 "database is locked": rolled back, safe to repeat."""
    return response.status_code == 503 and "locked" in response.text.lower()


def _database_failed(response: httpx.Response) -> bool:
    """Airflow's database refused the write (SQLite locked past its timeout answers 500 "Database
    error"): for a request that sets a state, which is the same when sent twice, safe to repeat."""
    return _database_locked(response) or (response.status_code == 500 and "database error" in response.text.lower())


def _waits(raw: Mapping[str, Any]) -> bool:
    """Whether the run's ``dli_guard`` may hold it back: a run started by new upstream data waits for
    the runs that published it, a chained backfill run for the run before it."""
    if raw.get("run_type") == ASSET_TRIGGERED:
        return True
    marker = (raw.get("conf") or {}).get(BACKFILL_MARKER)
    return isinstance(marker, Mapping) and bool(marker.get(CHAIN_AFTER))


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


@attrs.frozen
class _Failure:
    """What the task instances say about a failed run."""

    guard_stopped: bool
    message: str | None


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
        self._clock = clock
        self._dag_wait = dag_wait_seconds
        self._sleep = sleep
        # Airflow's file token of each DAG file seen (relative_fileloc -> token): a write asks Airflow
        # to parse the file of its dataset, which with dli's DAG bundle is one shard of the store.
        self._file_tokens: dict[str, str] = {}
        # The last DAG read, used by the sync() that follows (a write reads its DAG first).
        self._last_read: tuple[str, Mapping[str, Any] | None] | None = None

    def __repr__(self) -> str:
        return f"AirflowOrchestrator(base_url={self._http.display!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- DAGs --------------------------------------------------------------------------------------

    def _get_dag(self, name: str) -> Mapping[str, Any] | None:
        response = self._http.call("GET", f"/api/v2/dags/{segment(name)}")
        if response.status_code == 404:
            self._last_read = (name, None)
            return None
        if response.status_code != 200:
            raise self._http.error(response, f"read DAG '{name}'")
        dag = response.json()
        self._remember_file(dag)
        self._last_read = (name, dag)
        return dag

    def _remember_file(self, dag: Mapping[str, Any]) -> None:
        token = dag.get("file_token")
        if token:
            self._file_tokens[str(dag.get("relative_fileloc") or dag.get("fileloc") or token)] = str(token)

    def _on_dag(self, name: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        """``send()``, a request on the DAG of ``name``, sent again while Airflow answers 404.

        A just-written spec may need a moment (bounded) to become a DAG. Sending first and waiting
        only on a 404 spares reading the DAG before every write; a 404 did nothing, so sending again
        cannot do anything twice.
        """
        response = send()
        if response.status_code != 404:
            return response
        deadline = time.monotonic() + self._dag_wait
        self._reparse(name)
        # A parse takes a second or two: ask often at first, then every second.
        for delay in itertools.chain((0.25, 0.25, 0.5, 0.5), itertools.repeat(1.0)):
            if time.monotonic() >= deadline:
                break
            self._sleep(delay)
            response = send()
            if response.status_code != 404:
                return response
        raise WorkflowExecutionError(
            f"Airflow at {self._http.display} has no DAG '{name}' yet (not parsed within {self._dag_wait:g}s)",
            hints=(
                "Check that the dli DAG file is in Airflow's DAG folder and DLI_STORE_URL points at this store;",
                "'dli workflow register --wait' reports the DAG's import error, if any.",
            ),
            details={"dataset_name": name},
        )

    def _file_of(self, name: str, dag: Mapping[str, Any] | None) -> str | None:
        """The token of the file that holds (or will hold) the DAG of ``name``.

        Its own DAG's file when it has one. A new dataset of dli's DAG bundle lands in the shard file
        ``shard_of(name, shards)``: that file's token, found by the shard's tag, else (a shard without
        DAGs yet) any shard file of the bundle: parsing one makes Airflow refresh the bundle, which
        writes the new shard file, and Airflow parses a new file first.
        Without a bundle, the one DAG file of the factory.
        """
        if dag is not None and dag.get("file_token"):
            return str(dag["file_token"])
        if not self._file_tokens:
            for found in self._items("GET", "/api/v2/dags", "dags", "list DAGs", query={"tags": "dli"}, max_items=1):
                self._remember_file(found)
        shards = {shard_of_file(where): token for where, token in self._file_tokens.items()}
        shards.pop(None, None)
        if not shards:
            return next(iter(self._file_tokens.values()), None)
        count = next(iter(shards))[1]  # type: ignore[index]
        wanted = (shard_of(name, count), count)
        if wanted not in shards:
            query = {"tags": shard_tag(*wanted)}
            for found in self._items("GET", "/api/v2/dags", "dags", "list DAGs", query=query, max_items=1):
                self._remember_file(found)
                if found.get("file_token"):
                    shards[wanted] = str(found["file_token"])
        return shards.get(wanted) or next(iter(shards.values()))

    def _reparse(self, name: str, dag: Mapping[str, Any] | None = None) -> None:
        """Ask Airflow to parse the DAG file of ``name`` now; without one, the refresh interval does it."""
        token = self._file_of(name, dag)
        if not token:
            return
        response = self._http.call("PUT", f"/api/v2/parseDagFile/{token}")
        if response.status_code == 404:
            self._file_tokens = {where: t for where, t in self._file_tokens.items() if t != token}
        # 409: a reparse of the file is already pending. Any other refusal is not worth failing for:
        # the DAG processor's refresh interval picks the change up anyway.

    def sync(self, name: str) -> None:
        last, self._last_read = self._last_read, None
        self._reparse(name, last[1] if last is not None and last[0] == name else self._get_dag(name))

    def dag_state(self, name: str) -> DagState:
        dag = self._get_dag(name)
        if dag is not None:
            tags = {t.get("name") for t in dag.get("tags") or ()}
            if BROKEN_TAG in tags:
                description = str(dag.get("description") or "")
                return DagState(visible=True, error=description.removeprefix(BROKEN_PREFIX) or "broken spec")
            return DagState(visible=True, error=None)
        for item in self._items("GET", "/api/v2/importErrors", "import_errors", "list import errors"):
            trace = str(item.get("stack_trace") or "")
            if "dli" in trace:
                last = [line for line in trace.strip().splitlines() if line.strip()][-1:]
                return DagState(visible=False, error=f"{item.get('filename')}: {last[0] if last else 'import error'}")
        return DagState(visible=False, error=None)

    def is_paused(self, name: str) -> bool | None:
        dag = self._get_dag(name)
        return None if dag is None else bool(dag.get("is_paused"))

    def is_running(self, name: str) -> bool:
        response = self._http.call(
            "GET", f"/api/v2/dags/{segment(name)}/dagRuns", params={"state": ["queued", "running"], "limit": 1}
        )
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise self._http.error(response, f"list the runs of '{name}'")
        body = response.json()
        return bool(body.get("dag_runs")) or int(body.get("total_entries") or 0) > 0

    def workflow_states(self, names: Collection[str]) -> Mapping[str, WorkflowState]:
        """Two calls per chunk of names (a page of a listing is one chunk), never a scan of every DAG.

        ``dag_id_pattern`` takes ``a|b|c`` as an OR of case-insensitive substring matches (Airflow
        3.3; ``_`` matches any character), so the search may also find other DAGs: only the exact
        names are kept. Runs come from the batch run list, filtered by DAG ids and state.
        """
        wanted = sorted(set(names))
        paused: dict[str, bool] = {}
        running: set[str] = set()
        for chunk in _chunks(wanted, _PATTERN_CHARS):
            exact = set(chunk)
            for dag in self._items("GET", "/api/v2/dags", "dags", "list DAGs", query={"dag_id_pattern": "|".join(chunk)}):
                self._remember_file(dag)
                if dag.get("dag_id") in exact:
                    paused[dag["dag_id"]] = bool(dag.get("is_paused"))
            for raws, _ in self._run_pages(chunk, ["queued", "running"]):
                running.update(run["dag_id"] for run in raws if run.get("dag_id") in exact)
        return {name: WorkflowState(paused=paused.get(name), running=name in running) for name in wanted}

    def pause_states(self) -> Mapping[str, bool]:
        states: dict[str, bool] = {}
        for dag in self._items("GET", "/api/v2/dags", "dags", "list DAGs", query={"tags": "dli", "order_by": "dag_id"}):
            states[dag["dag_id"]] = bool(dag.get("is_paused"))
            self._remember_file(dag)
        return states

    def set_paused(self, name: str, paused: bool) -> None:
        response = self._on_dag(
            name,
            lambda: self._http.call(
                "PATCH",
                f"/api/v2/dags/{segment(name)}",
                params={"update_mask": "is_paused"},
                json={"is_paused": paused},
                also_retry=_database_failed,
                policy=self._locked_policy(),
            ),
        )
        if response.status_code != 200:
            raise self._http.error(response, f"{'pause' if paused else 'unpause'} '{name}'")

    # -- runs --------------------------------------------------------------------------------------

    def trigger(self, name: str, *, parameters: Mapping[str, Any], triggered_by: str | None) -> RunRecord:
        note = f"{TRIGGERED_BY_NOTE}{triggered_by}" if triggered_by else "dli: triggered"
        # 48 random bits after the second: two triggers of one DAG cannot collide in practice.
        native = f"dli__{self._clock.now().astimezone(dt.timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:12]}"
        response = self._on_dag(
            name,
            lambda: self._http.call(
                "POST",
                f"/api/v2/dags/{segment(name)}/dagRuns",
                json={"dag_run_id": native, "logical_date": None, "conf": dict(parameters), "note": note},
            ),
        )
        if response.status_code == 400:
            raise ParameterInvalidError(f"Airflow rejected the parameters of '{name}': {error_detail(response)}")
        if response.status_code not in (200, 201):
            raise self._http.error(response, f"trigger '{name}'")
        return run_record(response.json())

    def backfill(
        self,
        name: str,
        *,
        dates: Sequence[dt.date],
        parameters: Mapping[str, Any],
        triggered_by: str | None,
        timezone: str = "UTC",
    ) -> BackfillHandle:
        if not dates:
            raise ParameterInvalidError("A backfill needs at least one date")
        # The schedule's timezone comes from the spec: Airflow reports every DAG's timezone as UTC.
        zone_name = timezone
        try:
            zone: dt.tzinfo = zoneinfo.ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone, zone_name = dt.timezone.utc, "UTC"
        ordered = sorted(dates)
        start = dt.datetime.combine(ordered[0], dt.time(), tzinfo=zone)
        end = dt.datetime.combine(ordered[-1], dt.time(23, 59, 59), tzinfo=zone)
        marker = {
            "id": uuid.uuid4().hex,
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
        response = self._on_dag(
            name,
            lambda: self._http.call(
                "POST", "/api/v2/backfills", json=body, also_retry=_database_locked, policy=self._locked_policy()
            ),
        )
        if response.status_code == 409:
            raise InvalidStateError(f"Cannot backfill '{name}': {error_detail(response)}", details={"dataset_name": name})
        if response.status_code in (400, 422):
            raise ParameterInvalidError(f"Airflow refused the backfill of '{name}': {error_detail(response)}")
        if response.status_code not in (200, 201):
            raise self._http.error(response, f"backfill '{name}'")
        backfill_id = str(response.json().get("id"))
        listed = self._items(
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

    def backfill_chain(self, steps: Sequence[ChainStep], *, triggered_by: str | None) -> BackfillHandle:
        """One manual run per step, all created now, each naming the run before it in its marker: its
        ``dli_guard`` waits (without holding a worker slot) until that run ended, and stops the chain
        when it did not succeed. Created in chain order, so that two runs of one DAG start in that order.
        """
        if not steps:
            raise ParameterInvalidError("A backfill needs at least one date")
        chain_id = uuid.uuid4().hex
        stamp = f"{self._clock.now().astimezone(dt.timezone.utc):%Y%m%dT%H%M%S}_{chain_id[:12]}"
        note = f"{TRIGGERED_BY_NOTE}{triggered_by}" if triggered_by else "dli: triggered"
        created: list[tuple[str, str]] = []
        previous: dict[str, str] | None = None
        try:
            for index, step in enumerate(steps):
                native = f"dli_backfill__{stamp}_{index:04d}"
                day = step.date.isoformat()
                zone_name = step.timezone if isinstance(zone(step.timezone), zoneinfo.ZoneInfo) else "UTC"
                marker: dict[str, Any] = {
                    "id": chain_id, "date": day, "timezone": zone_name, "index": index, "triggered_by": triggered_by
                }
                if previous is not None:
                    marker[CHAIN_AFTER] = previous
                body = {
                    "dag_run_id": native,
                    "logical_date": None,
                    "conf": {**step.parameters, "execution_date": day, BACKFILL_MARKER: marker},
                    "note": note,
                }
                response = self._on_dag(
                    step.name,
                    lambda name=step.name, body=body: self._http.call(
                        "POST", f"/api/v2/dags/{segment(name)}/dagRuns", json=body
                    ),
                )
                if response.status_code == 400:
                    raise ParameterInvalidError(
                        f"Airflow rejected the parameters of '{step.name}': {error_detail(response)}"
                    )
                if response.status_code not in (200, 201):
                    raise self._http.error(response, f"backfill '{step.name}' for {day}")
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

    def _guard_instance(self, raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
        response = self._http.call(
            "GET",
            f"/api/v2/dags/{segment(raw['dag_id'])}/dagRuns/{segment(raw['dag_run_id'])}/taskInstances/{GUARD_TASK}",
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._http.error(response, f"read the guard of run '{raw['dag_run_id']}'")
        return response.json()  # type: ignore[no-any-return]

    def _get_raw_run(self, run_id: str) -> tuple[str, Mapping[str, Any] | None]:
        name, native = split_run_id(run_id)
        response = self._http.call("GET", f"/api/v2/dags/{segment(name)}/dagRuns/{segment(native)}")
        if response.status_code == 404:
            return name, None
        if response.status_code != 200:
            raise self._http.error(response, f"read run '{run_id}'")
        return name, response.json()

    def get_run(self, run_id: str) -> RunRecord | None:
        try:
            _, raw = self._get_raw_run(run_id)
        except WorkflowNotFoundError:
            return None
        if raw is None:
            return None
        record = run_record(raw)
        if _waits(raw):
            record = _with_guard(record, self._guard_instance(raw))
        if record.status is RunStatus.FAILED:
            record = self._with_failure(record, self._failure(raw, with_message=True))
        if record.status is RunStatus.RUNNING:
            record = attrs.evolve(record, retry=self._retry_waits([raw]).get((raw["dag_id"], raw["dag_run_id"])))
        return record

    def _locked_policy(self) -> RetryPolicy:
        # SQLite's lock can last a few seconds under concurrent writers: more patience than usual.
        return attrs.evolve(self._http.retry_policy, attempts=5, max_wait_seconds=2.0)

    def stop_run(self, run_id: str) -> RunRecord:
        name, raw = self._get_raw_run(run_id)
        if raw is None:
            raise WorkflowNotFoundError(f"Run '{run_id}' not found", details={"run_id": run_id})
        record = run_record(raw)
        if record.status.is_terminal:
            raise InvalidStateError(f"Run '{run_id}' already finished ({record.status.value})", details={"run_id": run_id})
        note = "\n".join(filter(None, [KILLED_NOTE, raw.get("note")]))
        response = self._http.call(
            "PATCH",
            f"/api/v2/dags/{segment(name)}/dagRuns/{segment(raw['dag_run_id'])}",
            json={"state": "failed", "note": note},
            also_retry=_database_failed,
            policy=self._locked_policy(),
        )
        if response.status_code != 200:
            raise self._http.error(response, f"stop run '{run_id}'")
        return run_record(response.json())

    def list_runs(
        self,
        *,
        names: Collection[str] | None = None,
        status: RunStatus | None = None,
        limit: int = 20,
    ) -> tuple[Sequence[RunRecord], int]:
        if names is not None and not names:
            return [], 0
        if status in (RunStatus.FAILED, RunStatus.KILLED):
            return self._list_failed_or_killed(names, status, limit)
        records: list[RunRecord] = []
        total = 0
        # At least one page even for limit 0: its total_entries is the count asked for.
        for raws, total in self._run_pages(names, AIRFLOW_STATES[status] if status else None, max_items=max(limit, 1)):
            records.extend(self._records(raws))
        return records[:limit], total

    def _run_pages(
        self, names: Collection[str] | None, states: list[str] | None, *, max_items: int | None = None
    ) -> Iterator[tuple[list[Mapping[str, Any]], int]]:
        # Newest created first: run_after would put a backfill of old dates behind today's runs.
        query: dict[str, Any] = {"order_by": "-id"}
        if names is not None:
            query["dag_ids"] = sorted(names)
        if states:
            query["states"] = states
        return self._pages("POST", "/api/v2/dags/~/dagRuns/list", "dag_runs", "list runs", query=query, max_items=max_items)

    def _list_failed_or_killed(
        self, names: Collection[str] | None, status: RunStatus, limit: int
    ) -> tuple[Sequence[RunRecord], int]:
        """Airflow has one ``failed`` state for both: page through failed runs and tell them apart."""
        matched: list[RunRecord] = []
        total = 0
        for raws, _ in self._run_pages(names, ["failed"], max_items=_MAX_FAILED_SCAN):
            for record in self._records(raws, with_messages=len(matched) < limit):
                if record.status is status:
                    total += 1
                    if len(matched) < limit:
                        matched.append(record)
        return matched, total

    def running(self) -> set[str]:
        return {run["dag_id"] for raws, _ in self._run_pages(None, ["queued", "running"]) for run in raws}

    def logs(self, run_id: str) -> str:
        name, raw = self._get_raw_run(run_id)
        if raw is None:
            raise WorkflowNotFoundError(f"Run '{run_id}' not found", details={"run_id": run_id})
        chunks = []
        for ti in self._task_instances(name, raw["dag_run_id"]):
            for attempt in range(1, int(ti.get("try_number") or 0) + 1):
                events = self._log_events(name, raw["dag_run_id"], ti["task_id"], attempt)
                chunks.append(f"=== {ti['task_id']} (attempt {attempt}, {ti.get('state')}) ===")
                chunks.extend(format_event(e) for e in events if format_event(e))
        return "\n".join(chunks) + ("\n" if chunks else "")

    # -- paging ------------------------------------------------------------------------------------

    def _pages(
        self,
        method: str,
        path: str,
        key: str,
        action: str,
        *,
        query: Mapping[str, Any] | None = None,
        max_items: int | None = None,
    ) -> Iterator[tuple[list[Mapping[str, Any]], int]]:
        """``(items, total_entries)`` page after page of an Airflow list, up to ``max_items`` items.

        GET lists take ``limit``/``offset`` query parameters; the POST ``.../list`` endpoints take
        ``page_limit``/``page_offset`` in the body. Lazy: a caller that stops reading stops the paging.
        Every list is a read, the POST ones too: a page Airflow's database refused (SQLite locked) is
        asked again.
        """
        offset = 0
        while max_items is None or offset < max_items:
            size = _PAGE if max_items is None else min(_PAGE, max_items - offset)
            if method == "GET":
                body = self._http.json(
                    method, path, action, params={**(query or {}), "limit": size, "offset": offset},
                    also_retry=_database_failed,
                )
            else:
                body = self._http.json(
                    method, path, action, json={**(query or {}), "page_limit": size, "page_offset": offset},
                    also_retry=_database_failed,
                )
            items = list(body.get(key) or ())
            total = int(body.get("total_entries") or 0)
            yield items, total
            offset += len(items)
            if not items or offset >= total:
                return

    def _items(
        self,
        method: str,
        path: str,
        key: str,
        action: str,
        *,
        query: Mapping[str, Any] | None = None,
        max_items: int | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        """The items of every page of an Airflow list (``_pages``), one by one."""
        for items, _ in self._pages(method, path, key, action, query=query, max_items=max_items):
            yield from items

    # -- mapping -----------------------------------------------------------------------------------

    def _records(self, raws: Sequence[Mapping[str, Any]], *, with_messages: bool = True) -> list[RunRecord]:
        """Records of one page; failed runs are checked for the guard (one call) and, bounded, their error."""
        records = [run_record(raw) for raw in raws]
        waiting = [(i, raw) for i, raw in enumerate(raws) if _waits(raw)]
        if waiting:
            guards = self._guards([raw for _, raw in waiting])
            for index, raw in waiting:
                records[index] = _with_guard(records[index], guards.get((raw["dag_id"], raw["dag_run_id"])))
        running = [(i, raw) for i, raw in enumerate(raws) if records[i].status is RunStatus.RUNNING]
        if running:
            retries = self._retry_waits([raw for _, raw in running])
            for index, raw in running:
                records[index] = attrs.evolve(records[index], retry=retries.get((raw["dag_id"], raw["dag_run_id"])))
        failed = [(i, raw) for i, raw in enumerate(raws) if records[i].status is RunStatus.FAILED]
        if not failed:
            return records
        guard_stopped = self._guard_failures(
            [raw for _, raw in failed if raw.get("run_type") == "backfill" or _waits(raw)]
        )
        lookups = 0
        for index, raw in failed:
            key = (raw["dag_id"], raw["dag_run_id"])
            if key in guard_stopped:
                records[index] = self._with_failure(records[index], _Failure(True, guard_stopped[key]))
            elif with_messages and lookups < _MAX_ERROR_LOOKUPS:
                lookups += 1
                records[index] = self._with_failure(records[index], self._failure(raw, with_message=True))
        return records

    def _guards(self, raws: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
        """``(dag_id, run_id) -> dli_guard task instance`` of the given runs (one request a page)."""
        tis = self._items(
            "POST",
            "/api/v2/dags/~/dagRuns/~/taskInstances/list",
            "task_instances",
            "list task instances",
            query={
                "dag_ids": sorted({r["dag_id"] for r in raws}),
                "dag_run_ids": sorted({r["dag_run_id"] for r in raws}),
                "task_ids": [GUARD_TASK],
            },
        )
        wanted = {(r["dag_id"], r["dag_run_id"]) for r in raws}
        return {key: ti for ti in tis if (key := (ti["dag_id"], ti["dag_run_id"])) in wanted}

    def _retry_waits(self, raws: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], RetryWait]:
        """``(dag_id, run_id) -> RetryWait`` of the given runs that wait for a retry: one request for
        the page, then, per waiting run (bounded), its task's retry delay and the failed attempt's error."""
        tis = self._items(
            "POST",
            "/api/v2/dags/~/dagRuns/~/taskInstances/list",
            "task_instances",
            "list task instances",
            query={
                "dag_ids": sorted({r["dag_id"] for r in raws}),
                "dag_run_ids": sorted({r["dag_run_id"] for r in raws}),
                "state": [UP_FOR_RETRY],
            },
        )
        wanted = {(r["dag_id"], r["dag_run_id"]) for r in raws}
        tasks: dict[tuple[str, str], Mapping[str, Any] | None] = {}
        waits: dict[tuple[str, str], RetryWait] = {}
        for ti in tis:
            key = (ti["dag_id"], ti["dag_run_id"])
            # A run's statements run one after another: one of its tasks waits at a time.
            if key not in wanted or key in waits:
                continue
            if len(waits) >= _MAX_ERROR_LOOKUPS:
                break
            task_key = (ti["dag_id"], ti["task_id"])
            if task_key not in tasks:
                tasks[task_key] = self._task(*task_key)
            wait = retry_wait(ti, tasks[task_key], self._error_text(ti))
            if wait is not None:
                waits[key] = wait
        return waits

    def _task(self, name: str, task_id: str) -> Mapping[str, Any] | None:
        """The task's JSON (its ``retry_delay``); ``None`` when Airflow cannot say (the time stays unknown)."""
        response = self._http.call("GET", f"/api/v2/dags/{segment(name)}/tasks/{segment(task_id)}")
        return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

    def _guard_failures(self, raws: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
        """``(dag_id, run_id) -> message`` of backfill runs that the guard task stopped (one request)."""
        if not raws:
            return {}
        tis = self._items(
            "POST",
            "/api/v2/dags/~/dagRuns/~/taskInstances/list",
            "task_instances",
            "list task instances",
            query={
                "dag_ids": sorted({r["dag_id"] for r in raws}),
                "dag_run_ids": sorted({r["dag_run_id"] for r in raws}),
                "task_ids": [GUARD_TASK],
                "state": ["failed"],
            },
        )
        wanted = {(r["dag_id"], r["dag_run_id"]) for r in raws}
        out = {}
        for ti in tis:
            key = (ti["dag_id"], ti["dag_run_id"])
            if key in wanted:
                out[key] = self._error_text(ti) or "Not run: an earlier backfill date failed"
        return out

    def _with_failure(self, record: RunRecord, failure: _Failure) -> RunRecord:
        if failure.guard_stopped:
            # The dataset's SQL never ran: as for the in-memory orchestrator, KILLED and never started.
            return attrs.evolve(record, status=RunStatus.KILLED, started_at=None, error_message=failure.message)
        return attrs.evolve(record, error_message=failure.message or record.error_message)

    def _task_instances(self, name: str, native: str) -> list[Mapping[str, Any]]:
        return list(
            self._items(
                "GET",
                f"/api/v2/dags/{segment(name)}/dagRuns/{segment(native)}/taskInstances",
                "task_instances",
                "list task instances",
                query={"order_by": "start_date"},
            )
        )

    def _failure(self, raw: Mapping[str, Any], *, with_message: bool) -> _Failure:
        tis = self._task_instances(raw["dag_id"], raw["dag_run_id"])
        failed = [ti for ti in tis if ti.get("state") == "failed"]
        guard = next((ti for ti in failed if ti["task_id"] == GUARD_TASK), None)
        if guard is not None and (raw.get("run_type") == "backfill" or _waits(raw)):
            return _Failure(True, self._error_text(guard) or "Not run: an earlier backfill date failed")
        if not failed or not with_message:
            return _Failure(False, None)
        first = failed[0]
        message = self._error_text(first) or f"Task '{first['task_id']}' failed"
        return _Failure(False, message)

    def _log_events(self, name: str, native: str, task_id: str, attempt: int) -> list[Any]:
        response = self._http.call(
            "GET",
            f"/api/v2/dags/{segment(name)}/dagRuns/{segment(native)}/taskInstances/{segment(task_id)}/logs/{attempt}",
            params={"full_content": "true"},
        )
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise self._http.error(response, f"read the log of task '{task_id}'")
        content = response.json().get("content")
        return list(content) if isinstance(content, list) else [str(content or "")]

    def _error_text(self, ti: Mapping[str, Any]) -> str | None:
        """``exc_type: exc_value`` of the error event in the task's last attempt (Airflow has no error field)."""
        attempt = int(ti.get("try_number") or 0)
        if attempt < 1:
            return None
        events = self._log_events(ti["dag_id"], ti["dag_run_id"], ti["task_id"], attempt)
        for event in reversed(events):
            if isinstance(event, Mapping) and event.get("error_detail"):
                details = [d for d in event["error_detail"] if isinstance(d, Mapping)]
                main = next((d for d in details if not d.get("is_cause")), details[0] if details else None)
                if main is None:
                    continue
                if main.get("exc_type") == "AirflowFailException":
                    return str(main.get("exc_value"))
                return f"{main.get('exc_type')}: {main.get('exc_value')}"
        return None
