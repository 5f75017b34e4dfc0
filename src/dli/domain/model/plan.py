"""The plan before publish (``dli workflow plan``): what publishing the project would change, explained.

Built on the publish planner (``publish.plan_publish``): each create, update and delete (``--prune``),
with, per change, the spec fields that differ (and a unified diff of the SQL), the MANUAL workflow
it overrides or lets go, the schedule change and its next fire times, the managed datasets downstream
of it, and the SQL check's findings. Pure: the handler reads, this module explains.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from dli.domain.model.publish import PublishAction, PublishItem
from dli.domain.model.schedule import FireTime, fire_times
from dli.domain.model.spec import DatasetSpec
from dli.domain.model.sql_check import Finding

__all__ = ["NEXT_FIRE_TIMES", "PlanItem", "PlanResult", "explain_item", "spec_diff"]

NEXT_FIRE_TIMES = 3
_SQL_FIELDS = ("pre_statements", "query_statement", "post_statements")


@attrs.frozen(kw_only=True)
class PlanItem:
    """One dataset the publish would change (or keep as it is)."""

    dataset_name: str
    action: PublishAction
    changed_fields: tuple[str, ...] = ()
    """The spec fields an update changes (top level: ``schedule``, ``query_statement`` ...)."""
    diff: str = ""
    """A unified diff of the changed fields (the SQL line by line), old (``code/``) to new (project)."""
    manual: str | None = None
    """``overridden``: a MANUAL workflow of that name becomes overridden; ``active again``: the delete
    lets the MANUAL one run again."""
    previous_cron: str | None = None
    cron: str | None = None
    timezone: str | None = None
    next_fire_times: tuple[FireTime, ...] = ()
    """The next fire times of a new or changed schedule."""
    downstream: tuple[str, ...] = ()
    """Managed datasets downstream of it (nearest first), which the change reaches."""
    findings: tuple[Finding, ...] = ()
    """What the SQL check says about its statements."""


@attrs.frozen(kw_only=True)
class PlanResult:
    """``dli workflow plan``: what ``publish`` would do to the store; nothing is written."""

    store: str
    prune: bool
    items: tuple[PlanItem, ...]
    """Every change (create, update, delete), then what stays (unchanged, keep), by name."""
    summary: dict[str, int] = attrs.field(factory=dict)
    skipped: tuple[str, ...] = ()
    """Project datasets without a schedule (not published)."""
    warnings: tuple[str, ...] = ()
    errors: int = 0
    """SQL errors: publish would refuse the project."""

    @property
    def changed(self) -> bool:
        """Whether publishing would write anything."""
        return any(item.action in _WRITES for item in self.items)


_WRITES = (PublishAction.CREATE, PublishAction.UPDATE, PublishAction.DELETE)


def _fields(spec: DatasetSpec) -> dict[str, Any]:
    return attrs.asdict(spec, recurse=True)


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, (list, tuple)):
        out = []
        for index, entry in enumerate(value):
            if isinstance(entry, Mapping) and "sql" in entry:
                head = f"# [{index}]" + (f" {entry.get('name')}" if entry.get("name") else "")
                if entry.get("continue_on_error"):
                    head += " (continue_on_error)"
                out += [head, *str(entry["sql"]).splitlines()]
            else:
                out.append(repr(entry))
        return out
    if isinstance(value, Mapping):
        return [f"{key}: {value[key]!r}" for key in sorted(value)]
    return [repr(value)]


def spec_diff(old: DatasetSpec | None, new: DatasetSpec) -> tuple[tuple[str, ...], str]:
    """``(changed fields, unified diff)`` between the stored spec and the project's."""
    before = _fields(old) if old is not None else {}
    after = _fields(new)
    changed = tuple(key for key in after if before.get(key) != after[key])
    chunks = []
    for key in changed:
        diff = difflib.unified_diff(
            _lines(before.get(key)), _lines(after[key]), fromfile=f"code/{key}", tofile=f"project/{key}", lineterm=""
        )
        chunks.append("\n".join(diff))
    return changed, "\n".join(chunk for chunk in chunks if chunk)


def explain_item(
    item: PublishItem,
    *,
    project: DatasetSpec | None,
    stored: DatasetSpec | None,
    manual: Collection[str],
    downstream: Mapping[str, int],
    findings: tuple[Finding, ...],
    now: dt.datetime,
) -> PlanItem:
    """The plan line of one publish item, explained."""
    name = item.dataset_name
    changed: tuple[str, ...] = ()
    diff = ""
    if item.action in (PublishAction.CREATE, PublishAction.UPDATE) and project is not None:
        changed, diff = spec_diff(stored if item.action is PublishAction.UPDATE else None, project)
        if item.action is PublishAction.CREATE:
            changed, diff = (), ""  # all new: the diff would be the whole spec
    manual_change = None
    if name in manual:
        if item.action is PublishAction.CREATE:
            manual_change = "overridden"
        elif item.action is PublishAction.DELETE:
            manual_change = "active again"
    schedule = project.schedule if project is not None else None
    previous = stored.schedule if stored is not None else None
    cron = schedule.cron if schedule is not None else None
    timezone = schedule.timezone if schedule is not None else None
    times: tuple[FireTime, ...] = ()
    schedule_changed = item.action is PublishAction.CREATE or (
        item.action is PublishAction.UPDATE
        and (previous is None or schedule is None or (previous.cron, previous.timezone) != (cron, timezone))
    )
    if schedule_changed and cron is not None and timezone is not None:
        times = tuple(itertools.islice(fire_times(cron, timezone, after=now), NEXT_FIRE_TIMES))
    reached = tuple(n for n, _ in sorted(downstream.items(), key=lambda kv: (kv[1], kv[0])) if n != name)
    return PlanItem(
        dataset_name=name,
        action=item.action,
        changed_fields=changed,
        diff=diff,
        manual=manual_change,
        previous_cron=previous.cron if previous is not None and schedule_changed else None,
        cron=cron,
        timezone=timezone,
        next_fire_times=times,
        downstream=reached if item.action in _WRITES else (),
        findings=findings,
    )
