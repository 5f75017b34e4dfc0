"""How Airflow 3's run JSON maps to dli's runs, and the names dli and its DAG factory share.

No HTTP here: the DAG factory (inside Airflow) imports the shared names from this module.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
import zoneinfo
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dli.domain.model.enums import RunStatus, RunType
from dli.domain.model.runs import make_run_id
from dli.ports.orchestrator import RunRecord

if TYPE_CHECKING:
    from dli.domain.model.workflow_runs import RetryWait

__all__ = [
    "AIRFLOW_STATES",
    "ASSET_TRIGGERED",
    "BACKFILL_MARKER",
    "CHAIN_AFTER",
    "asset_name",
    "publish_alias",
    "BROKEN_PREFIX",
    "BROKEN_TAG",
    "GUARD_TASK",
    "KILLED_NOTE",
    "TRIGGERED_BY_NOTE",
    "format_event",
    "parse_time",
    "retry_wait",
    "run_record",
    "shard_file",
    "shard_of",
    "shard_of_file",
    "shard_tag",
    "timedelta_of",
    "zone",
]

# Names the DAG factory writes and the REST adapter reads.
BACKFILL_MARKER = "dli_backfill"
GUARD_TASK = "dli_guard"
BROKEN_TAG = "dli:broken"
BROKEN_PREFIX = "dli: broken spec: "
KILLED_NOTE = "dli:killed"
TRIGGERED_BY_NOTE = "dli: triggered by "
# A chained backfill run (backfill --with-downstream, or a workflow without a cron) is a manual run
# whose marker names the run it waits for: {"dag_id", "run_id", "dataset", "date"}.
CHAIN_AFTER = "after"
ASSET_TRIGGERED = "asset_triggered"
"""Airflow's run type of a run started by asset events (new upstream data)."""


def asset_name(dataset_name: str) -> str:
    """The Airflow Asset every dataset's DAG publishes: ``dli://<dataset>`` (Airflow keeps it as the
    name and, with a trailing ``/``, as the URI)."""
    return f"dli://{dataset_name}"


def publish_alias(dataset_name: str) -> str:
    """The AssetAlias the query task publishes through, so that a run may also publish nothing (a backfill)."""
    return f"dli-publish:{dataset_name}"


_SHARD_FILE = re.compile(r"(?:^|/)dli_shard_(\d{3})_of_(\d{3})\.py$")


def shard_of(dataset_name: str, shards: int) -> int:
    """The shard of the DAG bundle that holds the DAG of ``dataset_name``: stable across processes,
    hosts and Python versions (CRC-32, not ``hash()``), so the DAG processor, the workers and the
    REST adapter agree on it."""
    return zlib.crc32(dataset_name.encode()) % shards


def shard_file(index: int, shards: int) -> str:
    """The file name of shard ``index`` of ``shards`` in the DAG bundle."""
    return f"dli_shard_{index:03d}_of_{shards:03d}.py"


def shard_tag(index: int, shards: int) -> str:
    """The tag of every DAG of shard ``index``: Airflow lists a shard's DAGs (and its file token) by it."""
    return f"dli:shard:{index:03d}-of-{shards:03d}"


def shard_of_file(path: str) -> tuple[int, int] | None:
    """``(index, shards)`` of a shard file path (Airflow's ``relative_fileloc``), else ``None``."""
    match = _SHARD_FILE.search(path.replace("\\", "/"))
    return (int(match[1]), int(match[2])) if match else None


_STATES = {
    "queued": RunStatus.PENDING,
    "running": RunStatus.RUNNING,
    "success": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
}
# Airflow states to ask for, per dli status (KILLED is a failed run with dli's note).
AIRFLOW_STATES = {
    RunStatus.PENDING: ["queued"],
    RunStatus.RUNNING: ["running"],
    RunStatus.COMPLETED: ["success"],
    RunStatus.FAILED: ["failed"],
    RunStatus.KILLED: ["failed"],
}
_RUN_TYPES = {
    "manual": RunType.ADHOC,
    "scheduled": RunType.SCHEDULED,
    "backfill": RunType.BACKFILL,
    "asset_triggered": RunType.SCHEDULED,
}


def parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def timedelta_of(value: Any) -> dt.timedelta | None:
    """A duration of Airflow's REST API: ``{"__type": "TimeDelta", "days", "seconds", "microseconds"}``
    (a task's ``retry_delay``), or a number of seconds; ``None`` when it is neither."""
    if isinstance(value, Mapping):
        try:
            return dt.timedelta(
                days=float(value.get("days") or 0),
                seconds=float(value.get("seconds") or 0),
                microseconds=float(value.get("microseconds") or 0),
            )
        except (TypeError, ValueError):
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    return None


UP_FOR_RETRY = "up_for_retry"
"""Airflow's state of a task instance whose attempt failed and that waits for its next one."""


def retry_wait(ti: Mapping[str, Any], task: Mapping[str, Any] | None, error: str | None) -> RetryWait | None:
    """What a task instance in ``up_for_retry`` says about its run's wait; ``None`` in any other state.

    Airflow 3: ``try_number`` is the attempt that failed (counted from 1), ``max_tries`` the retries
    (attempts in all: ``max_tries + 1``; a cleared task gets more), ``end_date`` when the attempt
    failed. The next attempt is due at ``end_date + retry_delay`` (Airflow's ``next_retry_datetime``,
    which its API does not expose); ``task`` is the task's JSON (``GET /dags/{dag}/tasks/{task}``),
    whose ``retry_delay`` it reads. With an exponential backoff (dli never sets one) Airflow adds a
    random part, so the time is not known.
    """
    if ti.get("state") != UP_FOR_RETRY:
        return None
    from dli.domain.model.workflow_runs import RetryWait

    attempt = max(1, _int(ti.get("try_number"), 1))
    # up_for_retry means an attempt is left, whatever a stale max_tries says.
    max_attempts = max(_int(ti.get("max_tries"), 0) + 1, attempt + 1)
    failed_at = parse_time(ti.get("end_date"))
    delay = timedelta_of((task or {}).get("retry_delay"))
    backoff = bool((task or {}).get("retry_exponential_backoff"))
    next_at = failed_at + delay if failed_at is not None and delay is not None and not backoff else None
    return RetryWait(
        attempt=attempt, max_attempts=max_attempts, last_error=error, failed_at=failed_at, next_attempt_at=next_at
    )


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def zone(name: Any) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(str(name or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def format_event(event: Any) -> str:
    if not isinstance(event, Mapping):
        return str(event)
    text = str(event.get("event", ""))
    if text.startswith("::group::") or text.startswith("::endgroup::"):
        return ""
    parts = [p for p in (event.get("timestamp"), str(event.get("level") or "").upper() or None, text) if p]
    line = " ".join(str(p) for p in parts)
    for detail in event.get("error_detail") or ():
        if isinstance(detail, Mapping):
            line += f"\n    {detail.get('exc_type')}: {detail.get('exc_value')}"
    return line


def run_record(raw: Mapping[str, Any]) -> RunRecord:
    """The RunRecord of one dagRun of Airflow's REST API (without the failure details)."""
    name = raw["dag_id"]
    conf = dict(raw.get("conf") or {})
    marker = conf.pop(BACKFILL_MARKER, None)
    note_lines = str(raw.get("note") or "").splitlines()
    status = _STATES.get(str(raw.get("state")), RunStatus.PENDING)
    killed = status is RunStatus.FAILED and KILLED_NOTE in note_lines
    if killed:
        status = RunStatus.KILLED
    run_type = _RUN_TYPES.get(str(raw.get("run_type")), RunType.SCHEDULED)
    logical = parse_time(raw.get("logical_date"))
    triggered_by = next(
        (line.removeprefix(TRIGGERED_BY_NOTE) for line in note_lines if line.startswith(TRIGGERED_BY_NOTE)), None
    )
    if isinstance(marker, Mapping):
        tz = zone(marker.get("timezone"))
        chained_date = marker.get("date")
        if run_type is RunType.ADHOC and isinstance(chained_date, str):
            # A chained backfill run: a manual run (no logical date) processing the marker's date.
            run_type = RunType.BACKFILL
            try:
                logical = dt.datetime.combine(dt.date.fromisoformat(chained_date), dt.time(), tzinfo=tz)
            except ValueError:
                pass
        if logical is not None:
            logical = logical.astimezone(tz)
            conf.setdefault("execution_date", logical.date().isoformat())
        triggered_by = triggered_by or marker.get("triggered_by")
    if triggered_by is None and run_type is RunType.ADHOC and not any(line.startswith("dli:") for line in note_lines):
        # Triggered outside dli (Airflow's UI or API): Airflow knows who.
        triggered_by = raw.get("triggering_user_name")
    return RunRecord(
        run_id=make_run_id(name, raw["dag_run_id"]),
        dataset_name=name,
        status=status,
        run_type=run_type,
        parameters=conf,
        logical_date=logical or parse_time(raw.get("run_after")),
        queued_at=parse_time(raw.get("queued_at")),
        started_at=parse_time(raw.get("start_date")),
        finished_at=parse_time(raw.get("end_date")) if status.is_terminal else None,
        error_message="Killed by user" if killed else None,
        triggered_by=triggered_by,
    )
