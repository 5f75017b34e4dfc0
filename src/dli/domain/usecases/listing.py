"""GetWorkflow and ListWorkflows."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from dli.domain.model.catalog import Catalog, CatalogEntry, broken_spec, cursor_key, cursor_of, misnamed
from dli.domain.model.enums import ResultStatus, RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import DLIError, ServerError
from dli.domain.model.names import DATASET_NAME, MAX_NAME_LENGTH
from dli.domain.model.rules import Flag, Rule, Text, Whole, checked
from dli.domain.model.spec import SpecDocument
from dli.domain.model.workflow import BrokenSpec, WorkflowInfo, WorkflowListResult
from dli.domain.usecases._workflows import find, not_found, workflow_info, workflow_status
from dli.domain.usecases.message import MAX_PAGE, Message, Route, WorkflowMessage, handles, to_enum, to_source_type
from dli.ports.clock import Clock
from dli.ports.orchestrator import Orchestrator, WorkflowState
from dli.ports.spec_store import SpecCatalog, SpecStore

if TYPE_CHECKING:
    from dli.domain.usecases.authorization import Visibility


__all__ = [
    "GetSpec",
    "GetWorkflow",
    "ListWorkflows",
    "get_spec",
    "get_workflow",
    "list_workflows",
    "scan_catalog",
]


@attrs.frozen(kw_only=True, repr=False)
class GetWorkflow(WorkflowMessage[WorkflowInfo]):
    """The active workflow of a dataset (CODE over MANUAL); DLI-800 when there is none."""

    query = True
    route = Route(path="/api/v1/workflows/{dataset_name}", tag="workflows")


def _or_none(value: str | None) -> str | None:
    return value or None


def _workflow_status(value: object) -> WorkflowStatus | None:
    return to_enum(WorkflowStatus, "workflow status", value)


@attrs.frozen(kw_only=True)
class _Cursor(Rule):
    """A ``next_cursor`` as a page returned it (``<dataset>/<source>``); empty: the first page."""

    def problem(self, value: object) -> str | None:
        if value == "":
            return None
        try:
            cursor_key(value)
        except DLIError as exc:
            return exc.message
        return None

    def keywords(self) -> dict[str, Any]:
        pattern = DATASET_NAME.pattern
        pages = [
            {"pattern": f"^(?:{pattern})/{s.value}(?![\\s\\S])", "maxLength": MAX_NAME_LENGTH + 1 + len(s.value)}
            for s in SourceType
        ]
        return {"type": "string", "anyOf": [{"maxLength": 0}, *pages]}


_CURSOR = _Cursor(
    nullable=True,
    hints=("Pass the next_cursor of the previous page as it was returned.",),
    description="Start after this row: the next_cursor of the previous page, as it was returned.",
)


@attrs.frozen(kw_only=True, repr=False)
class ListWorkflows(Message[WorkflowListResult]):
    """Workflows matching the filters, sorted by name (an overridden MANUAL one is listed too)."""

    query = True
    # Many clients list the same first page: its answer is reused for a second (writes through the
    # server and store changes start afresh), on top of the few seconds run state is cached anyway.
    route = Route(path="/api/v1/workflows", tag="workflows", cache_seconds=1.0)

    source_type: SourceType | None = attrs.field(default=None, converter=to_source_type)
    """Only this source."""
    status: WorkflowStatus | None = attrs.field(default=None, converter=_workflow_status)
    """Only this status."""
    dataset_filter: str | None = checked(Text(nullable=True), request=True, default=None, converter=_or_none)
    """Substring (or glob with ``*``) the dataset name must match."""
    team: str | None = checked(Text(nullable=True), request=True, default=None, converter=_or_none)
    """Only workflows of this team (the listed spec's ``team``, exactly)."""
    running_only: bool = checked(Flag(), request=True, default=False)
    """Only workflows with a pending or running run."""
    enabled_only: bool = checked(Flag(), request=True, default=False)
    """Only active workflows (not paused, not overridden)."""
    limit: int = checked(
        Whole(low=1, high=MAX_PAGE, hints=(f"Pass a whole number from 1 to {MAX_PAGE}; follow next_cursor for more.",)),
        request=True,
        default=100,
    )
    """At most this many (one page, up to ``MAX_PAGE``)."""
    after: str | None = checked(_CURSOR, request=True, default=None, converter=_or_none)
    """Start after this row: the ``next_cursor`` of the previous page."""


@handles(GetWorkflow)
def get_workflow(message: GetWorkflow, *, store: SpecStore, orchestrator: Orchestrator, clock: Clock) -> WorkflowInfo:
    """The active workflow (code over manual); DLI-800 when there is none."""
    name = message.dataset_name
    found = find(store, name)
    if found.active is None:
        raise not_found(name)
    now = clock.now()
    next_fire = None
    if isinstance(store, SpecCatalog):  # the server keeps fire times: no cron evaluation per request
        entry = CatalogEntry(document=found.active.document, etag=found.active.etag)
        next_fire = functools.partial(store.catalog().fires.next_fire, entry, now)
    return workflow_info(
        found.active.document,
        overridden=False,
        paused=orchestrator.is_paused(name),
        running=orchestrator.is_running(name),
        now=now,
        next_fire=next_fire,
    )


@attrs.frozen(kw_only=True, repr=False)
class GetSpec(WorkflowMessage[SpecDocument]):
    """The active spec document of a dataset (CODE over MANUAL), as stored; DLI-800 when there is none.

    Not served over the REST API (the console renders it: parameters, statements); a viewer's
    right, decided by the bus like ``GetWorkflow``.
    """

    query = True


@handles(GetSpec)
def get_spec(message: GetSpec, *, store: SpecStore) -> SpecDocument:
    """The active document (code over manual); DLI-800 when there is none."""
    found = find(store, message.dataset_name)
    if found.active is None:
        raise not_found(message.dataset_name)
    return found.active.document


MAX_BROKEN_LISTED = 100
"""Broken documents named in one list result (``broken_count`` says how many there are)."""

_RUN_STATES = frozenset({WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED})


def scan_catalog(store: SpecStore) -> Catalog:
    """The catalog of a store without one of its own: every document is read (MOCK and LOCAL modes).

    A document that cannot be read, or whose ``name:`` differs from its key, is named as broken
    rather than failing the listing; a store that cannot be read fails it (DLI-503).
    """
    readable: dict[SourceType, dict[str, tuple[SpecDocument, str]]] = {SourceType.CODE: {}, SourceType.MANUAL: {}}
    broken: list[BrokenSpec] = []
    for source in (SourceType.CODE, SourceType.MANUAL):
        for name in store.list_etags(source):
            try:
                versioned = store.read(source, name)
            except ServerError:
                raise
            except DLIError as exc:
                broken.append(broken_spec(source, name, exc))
                continue
            if versioned is None:  # deleted between listing and reading
                continue
            wrong = misnamed(source, name, versioned.document)
            if wrong is not None:
                broken.append(wrong)
                continue
            readable[source][name] = (versioned.document, versioned.etag)
    return Catalog.build(code=readable[SourceType.CODE], manual=readable[SourceType.MANUAL], broken=broken)


def _ask(orchestrator: Orchestrator, names: Collection[str]) -> tuple[dict[str, WorkflowState], str | None]:
    """The orchestrator's state of ``names``, and why some are unknown (the listing goes on without them)."""
    if not names:
        return {}, None
    try:
        answered = dict(orchestrator.workflow_states(names))
    except ServerError as exc:
        return {}, f"Paused/running state unknown (status follows each spec's 'enabled'): {exc.message}"
    missing = sum(1 for name in names if name not in answered)
    if missing:
        return answered, (
            f"Paused/running state of {missing} workflow(s) unknown: the orchestrator did not answer in time"
        )
    return answered, None


def _last_runs(orchestrator: Orchestrator, names: Collection[str], warnings: list[str]) -> Mapping[str, RunStatus]:
    """The newest run's status of the page's workflows (never more); unknown, with a warning, when the
    orchestrator cannot be asked (unless the page's run state is already known to be missing)."""
    if not names:
        return {}
    try:
        return orchestrator.last_run_states(names)
    except ServerError as exc:
        problem = f"Last run states unknown: {exc.message}"
        if not any(w.startswith("Paused/running state unknown") for w in warnings):
            warnings.append(problem)
        return {}


@handles(ListWorkflows)
def list_workflows(
    message: ListWorkflows,
    *,
    store: SpecStore,
    orchestrator: Orchestrator,
    clock: Clock,
    visible: Visibility | None = None,
) -> WorkflowListResult:
    """One page of the stored workflows matching the filters; a manual spec overridden by code is listed too.

    On the server the store keeps a catalog (``SpecCatalog``): the page is a slice of it, and the
    orchestrator is asked about the page's workflows only (about every candidate when the status
    filter needs its pause state, about its running workflows for ``running_only``). When the
    orchestrator cannot be asked, rows are marked ``status_known: false`` and a warning says why,
    rather than failing the listing; ``running_only`` alone cannot be answered without it (DLI-503).
    Documents that cannot be read are named in ``broken`` and never hide the others.
    """
    now = clock.now()
    catalog = store.catalog() if isinstance(store, SpecCatalog) else scan_catalog(store)
    wanted = set(WorkflowStatus)
    if message.status is not None:
        wanted &= {message.status}
    if message.enabled_only:
        wanted &= {WorkflowStatus.ACTIVE}
    overridden = (
        None if WorkflowStatus.OVERRIDDEN in wanted and len(wanted) > 1 else WorkflowStatus.OVERRIDDEN in wanted
    )
    selection = catalog.select(source=message.source_type, pattern=message.dataset_filter, overridden=overridden)
    broken = catalog.broken_matching(source=message.source_type, pattern=message.dataset_filter)

    candidates: Sequence[CatalogEntry] = selection.entries if wanted else ()
    keys: Sequence[tuple[str, int]] | None = selection.keys if wanted else ()
    if visible is not None and not visible.everything:  # what the caller may not view is neither listed nor counted
        candidates = [e for e in candidates if visible(_active_team(catalog, e))]
        keys = None
        broken = [b for b in broken if visible(None)]
    if message.team is not None:  # a broken document has no team it could be listed under
        candidates = [e for e in candidates if e.document.spec.team == message.team]
        keys = None
        broken = []
    states: dict[str, WorkflowState] = {}
    warnings: list[str] = []
    if message.running_only:
        running = orchestrator.running()
        candidates = [e for e in candidates if e.name in running]
        keys = None
    if len(wanted & _RUN_STATES) == 1:  # active or paused, not both: the pause state decides
        states, problem = _ask(orchestrator, {e.name for e in candidates if not e.overridden})
        warnings.extend([problem] if problem else [])
        candidates = [
            e
            for e in candidates
            if workflow_status(e.document, overridden=e.overridden, paused=_paused(states, e.name)) in wanted
        ]
        keys = None

    if keys is None:
        keys = [e.sort_key for e in candidates]
    start = bisect.bisect_right(keys, cursor_key(message.after)) if message.after else 0
    page = candidates[start : start + message.limit]
    missing = {e.name for e in page} - states.keys()
    if missing:
        more, problem = _ask(orchestrator, missing)
        states.update(more)
        if problem and problem not in warnings:
            warnings.append(problem)

    last_runs = _last_runs(orchestrator, {e.name for e in page}, warnings)
    rows = []
    for entry in page:
        state = states.get(entry.name)
        rows.append(
            attrs.evolve(
                workflow_info(
                    entry.document,
                    overridden=entry.overridden,
                    paused=state.paused if state else None,
                    running=state.running if state else None,
                    now=now,
                    next_fire=functools.partial(catalog.fires.next_fire, entry, now),
                    status_known=state is not None,
                ),
                last_run_status=last_runs.get(entry.name),
            )
        )
    more_pages = start + len(page) < len(candidates)
    return WorkflowListResult(
        workflows=tuple(rows),
        total_count=len(candidates),
        status=ResultStatus.SUCCESS,
        next_cursor=cursor_of(page[-1].name, page[-1].source_type) if more_pages and page else None,
        broken=tuple(broken[:MAX_BROKEN_LISTED]),
        broken_count=len(broken),
        warnings=tuple(warnings),
    )


def _active_team(catalog: Catalog, entry: CatalogEntry) -> str | None:
    """The team of the workflow ``entry`` is a document of: its active (code over manual) spec's."""
    if entry.overridden:
        for other in catalog.entries_of(entry.name):
            if other.source_type is SourceType.CODE:
                return other.document.spec.team
    return entry.document.spec.team


def _paused(states: Mapping[str, WorkflowState], name: str) -> bool | None:
    state = states.get(name)
    return state.paused if state is not None else None
