"""PublishSpecs: the Code path. The project's scheduled specs go to the store's ``code/``.

The whole project is loaded and validated first (one invalid spec: DLI-203 and nothing is written),
``code/`` is read, ``plan_publish`` decides, and the plan is applied with the store's conditional
writes, so a concurrent publisher fails rather than being overwritten.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from dli.domain.model.access import AuthMethod
from dli.domain.model.audit import AuditOutcome, AuditRecord
from dli.domain.model.dependencies import DependencyGraph, check_acyclic, upstream_warnings
from dli.domain.model.enums import DependencyDirection, SourceType
from dli.domain.model.errors import DLIError, SpecInvalidError
from dli.domain.model.plan import PlanResult, explain_item
from dli.domain.model.publish import (
    PublishAction,
    PublishedSpec,
    PublishItem,
    PublishPlan,
    PublishResult,
    PublishResultItem,
    plan_publish,
)
from dli.domain.model.spec import DatasetSpec
from dli.domain.model.sql_check import DatasetNames, Finding
from dli.domain.usecases.message import Message, flag, handles
from dli.domain.usecases.validate import check_spec_sql, refuse_sql_errors, sql_warnings
from dli.ports.clock import Clock
from dli.ports.local_specs import LocalSpecs
from dli.ports.spec_store import (
    NOT_STARTED,
    BulkSpecStore,
    NotStarted,
    PublishedSpecIndex,
    SpecStore,
    VersionedDocument,
)
from dli.ports.sql_analyzer import SqlAnalyzer

if TYPE_CHECKING:
    from dli.ports.audit_log import AuditLog

__all__ = ["DEFAULT_PUBLISHER", "PlanPublish", "PublishSpecs", "plan_specs", "publish_specs"]


@attrs.frozen(kw_only=True, repr=False)
class PublishSpecs(Message[PublishResult]):
    """Publish the project's scheduled specs to the store's ``code/`` (what CI/CD runs; not served over HTTP)."""

    prune: bool = flag(default=False)
    """Delete code specs whose dataset left the project."""
    dry_run: bool = flag(default=False)
    """Only plan."""


DEFAULT_PUBLISHER = "ci"


def _list_both(store: SpecStore) -> tuple[Mapping[str, str], Mapping[str, str]]:
    """``code/`` and ``manual/`` listed, both at once where the store sends requests concurrently."""
    calls = [functools.partial(store.list_etags, source) for source in (SourceType.CODE, SourceType.MANUAL)]
    if not isinstance(store, BulkSpecStore):
        return calls[0](), calls[1]()
    outcomes = store.run_all(calls)
    for outcome in outcomes:
        if isinstance(outcome, DLIError):
            raise outcome
    code, manual = outcomes
    assert not isinstance(code, (DLIError, NotStarted)) and not isinstance(manual, (DLIError, NotStarted))
    return code, manual


def _read_published(
    store: SpecStore, project: dict[str, DatasetSpec], listed: Mapping[str, str]
) -> dict[str, PublishedSpec]:
    """What ``code/`` holds (``listed``); an unreadable document is listed without a spec (so it is rewritten).

    A document the store knows to hold the project's spec unchanged (``PublishedSpecIndex``) is not read.
    """
    known = store.known_specs(SourceType.CODE, listed, project) if isinstance(store, PublishedSpecIndex) else set()
    published = {name: PublishedSpec(etag=listed[name], spec=project[name]) for name in sorted(known)}
    for name, read in _read_many(store, SourceType.CODE, [n for n in listed if n not in known]).items():
        if isinstance(read, SpecInvalidError):
            published[name] = PublishedSpec(etag=listed[name], spec=None)
        elif read is not None:  # deleted since it was listed
            published[name] = PublishedSpec(etag=read.etag, spec=read.document.spec)
    return dict(sorted(published.items()))


def _graph_after(
    plan: PublishPlan,
    project: dict[str, DatasetSpec],
    published: dict[str, PublishedSpec],
    store: SpecStore,
    listed_manual: Mapping[str, str],
) -> DependencyGraph:
    """The dependency graph of the active specs once the plan is applied: the new ``code/`` over
    ``manual/`` (a manual spec whose code spec is pruned becomes active again)."""
    code: dict[str, DatasetSpec | None] = {}
    for item in plan.items:
        if item.action in (PublishAction.CREATE, PublishAction.UPDATE, PublishAction.UNCHANGED):
            code[item.dataset_name] = project[item.dataset_name]
        elif item.action is PublishAction.KEEP:
            code[item.dataset_name] = published[item.dataset_name].spec
    manual: dict[str, DatasetSpec | None] = {}
    wanted = [name for name in listed_manual if name not in code]
    for name, read in _read_many(store, SourceType.MANUAL, wanted).items():
        if isinstance(read, SpecInvalidError):
            manual[name] = None
        elif read is not None:
            manual[name] = read.document.spec
    return DependencyGraph.of_specs({**manual, **code})


# -- reading and writing many documents (concurrently where the store does: BulkSpecStore) ------


def _read_many(
    store: SpecStore, source: SourceType, names: list[str]
) -> dict[str, VersionedDocument | None | SpecInvalidError]:
    if isinstance(store, BulkSpecStore):
        return dict(store.read_many(source, names))
    read: dict[str, VersionedDocument | None | SpecInvalidError] = {}
    for name in names:
        try:
            read[name] = store.read(source, name)
        except SpecInvalidError as exc:
            read[name] = exc
    return read


def _write(store: SpecStore, item: PublishItem) -> str | None:
    """Apply one change; the new etag of what a create or update wrote."""
    if item.action is PublishAction.CREATE:
        assert item.document is not None
        return store.create(SourceType.CODE, item.document)
    if item.action is PublishAction.UPDATE:
        assert item.document is not None and item.etag is not None
        return store.replace(SourceType.CODE, item.document, etag=item.etag)
    store.delete(SourceType.CODE, item.dataset_name)
    return None


def _apply(plan: PublishPlan, store: SpecStore) -> dict[str, str | None]:
    """Apply the plan's changes, each atomic and conditional; the etag each create or update wrote.

    Raises:
        DLIError: The first change (in plan order) that failed; once one fails no other starts, and
            the error's details list what was ``written`` and what was ``not_written`` anyway.
    """
    changes = plan.changes
    calls: list[Callable[[], str | None]] = [functools.partial(_write, store, item) for item in changes]
    if isinstance(store, BulkSpecStore):
        outcomes: list[object] = list(store.run_all(calls))
    else:
        outcomes = [NOT_STARTED] * len(calls)
        for index, call in enumerate(calls):
            try:
                outcomes[index] = call()
            except DLIError as exc:
                outcomes[index] = exc
                break
    failures = [o for o in outcomes if isinstance(o, DLIError)]
    written = [
        i.dataset_name for i, o in zip(changes, outcomes, strict=True) if not isinstance(o, (DLIError, NotStarted))
    ]
    if failures:
        error = failures[0]
        not_written = [
            i.dataset_name for i, o in zip(changes, outcomes, strict=True) if isinstance(o, (DLIError, NotStarted))
        ]
        error.details = {**error.details, "written": written, "not_written": not_written}
        if len(changes) > 1:
            error.message = (
                f"{error.message} ({len(written)} of this publish's {len(changes)} changes were written, "
                f"{len(not_written)} were not: see not_written)"
            )
        raise error
    return {
        item.dataset_name: outcome for item, outcome in zip(changes, outcomes, strict=True) if isinstance(outcome, str)
    }


def _remember(
    store: SpecStore, plan: PublishPlan, project: dict[str, DatasetSpec], etags: dict[str, str | None]
) -> None:
    """Tell a ``PublishedSpecIndex`` which spec each code document now holds (the next publish's shortcut)."""
    if not isinstance(store, PublishedSpecIndex):
        return
    holds: dict[str, tuple[str, DatasetSpec]] = {}
    for item in plan.items:
        etag = etags.get(item.dataset_name) if item.writes else item.etag
        if item.action in (PublishAction.CREATE, PublishAction.UPDATE, PublishAction.UNCHANGED) and etag:
            holds[item.dataset_name] = (etag, project[item.dataset_name])
    store.remember_specs(SourceType.CODE, holds)


_WRITES = frozenset({PublishAction.CREATE, PublishAction.UPDATE, PublishAction.DELETE})


def _record(plan: PublishPlan, published: dict[str, PublishedSpec], actor: str, clock: Clock, audit: AuditLog) -> None:
    """One audit record per code spec the publish wrote (CI holds its own store credentials: no server sees it)."""
    now = clock.now()
    for item in plan.items:
        if item.action not in _WRITES:
            continue
        before = published.get(item.dataset_name)
        spec = item.document.spec if item.document is not None else (before.spec if before is not None else None)
        audit.append(
            AuditRecord(
                time=now,
                actor=actor,
                auth=AuthMethod.LOCAL.value,
                action="publish",
                outcome=AuditOutcome.OK,
                dataset=item.dataset_name,
                team=spec.team if spec is not None else None,
                source_type=SourceType.CODE,
                detail=item.action.value,
            )
        )


@handles(PublishSpecs)
def publish_specs(
    message: PublishSpecs,
    *,
    store: SpecStore,
    local_specs: LocalSpecs,
    clock: Clock,
    sql_analyzer: SqlAnalyzer | None = None,
    audit: AuditLog | None = None,
) -> PublishResult:
    """Validate every spec of the project, plan, and (unless ``dry_run``) apply.

    Raises:
        SpecInvalidError: Some spec is invalid (with an SQL analyzer: a statement's SQL does not
            parse in its dialect), or the specs would depend on each other in a cycle;
            the message lists each problem (or the cycle) and nothing is written (DLI-203).
        WorkflowAlreadyExistsError: A create found a code spec someone else just wrote (DLI-804).
        WorkflowRegistrationError: An update found the code spec changed since it was read (DLI-801).
        StoreUnavailableError: The store cannot be read or written (DLI-503).
    """
    specs = local_specs.all()
    project = {spec.name: spec for spec in specs if spec.schedule is not None}
    listed_code, listed_manual = _list_both(store)
    published = _read_published(store, project, listed_code)
    plan = plan_publish(
        specs=specs,
        published=published,
        prune=message.prune,
        publisher=message.actor or DEFAULT_PUBLISHER,
        now=clock.now(),
    )
    graph = _graph_after(plan, project, published, store, listed_manual)
    # A dependency cycle through a published dataset: DLI-203 naming it, nothing written (a dry run says so too).
    check_acyclic(graph, roots=sorted(project))
    sql = []
    if sql_analyzer is not None:
        managed = DatasetNames.of(graph.upstreams)
        reports = [check_spec_sql(project[name], sql_analyzer, managed=managed) for name in sorted(project)]
        # Every spec's errors at once, each naming its file: nothing is written (a dry run says so too).
        refuse_sql_errors(reports, files={name: local_specs.location(name) for name in project})
        sql = [w for report in reports for w in sql_warnings(report)]
    warnings = (
        *local_specs.warnings(),
        *(w for name in sorted(project) for w in upstream_warnings(graph, project[name])),
        *sql,
    )
    if not message.dry_run:
        _remember(store, plan, project, _apply(plan, store))
        if audit is not None:
            _record(plan, published, message.actor or DEFAULT_PUBLISHER, clock, audit)
    return PublishResult(
        store=store.url,
        dry_run=message.dry_run,
        prune=message.prune,
        items=tuple(PublishResultItem(dataset_name=i.dataset_name, action=i.action, cron=i.cron) for i in plan.items),
        skipped=plan.skipped,
        summary={action.value: plan.count(action) for action in PublishAction},
        warnings=warnings,
    )


@attrs.frozen(kw_only=True, repr=False)
class PlanPublish(Message[PlanResult]):
    """What ``publish`` would change, explained (what CI runs on a pull request); writes nothing (not served)."""

    query = True

    prune: bool = flag(default=False)
    """Plan the deletes of code specs whose dataset left the project."""


@handles(PlanPublish)
def plan_specs(
    message: PlanPublish,
    *,
    store: SpecStore,
    local_specs: LocalSpecs,
    clock: Clock,
    sql_analyzer: SqlAnalyzer | None = None,
) -> PlanResult:
    """The publish plan with each change explained: changed fields and SQL diff, MANUAL workflows
    overridden or active again, schedule changes and their next fire times, the datasets downstream,
    the SQL check's findings (errors counted, not raised: the plan shows them all).

    Raises:
        SpecInvalidError: A spec file is invalid, or the specs would form a dependency cycle (DLI-203).
    """
    specs = local_specs.all()
    project = {spec.name: spec for spec in specs if spec.schedule is not None}
    listed_code, listed_manual = _list_both(store)
    published = _read_published(store, project, listed_code)
    now = clock.now()
    plan = plan_publish(specs=specs, published=published, prune=message.prune, publisher=DEFAULT_PUBLISHER, now=now)
    graph = _graph_after(plan, project, published, store, listed_manual)
    check_acyclic(graph, roots=sorted(project))
    manual = set(listed_manual)
    managed = DatasetNames.of(graph.upstreams)
    warnings = [*local_specs.warnings()]
    items = []
    errors = 0
    for item in plan.items:
        spec = project.get(item.dataset_name)
        findings: tuple[Finding, ...] = ()
        if sql_analyzer is not None and spec is not None and item.writes:
            report = check_spec_sql(spec, sql_analyzer, managed=managed)
            findings = report.findings
            errors += len(report.errors)
        stored = published.get(item.dataset_name)
        items.append(
            explain_item(
                item,
                project=spec,
                stored=stored.spec if stored is not None else None,
                manual=manual,
                downstream=graph.walk(item.dataset_name, DependencyDirection.DOWNSTREAM),
                findings=tuple(findings),
                now=now,
            )
        )
        if spec is not None and item.writes:
            warnings += upstream_warnings(graph, spec)
    order = {PublishAction.CREATE: 0, PublishAction.UPDATE: 1, PublishAction.DELETE: 2}
    items.sort(key=lambda i: (order.get(i.action, 3), i.dataset_name))
    return PlanResult(
        store=store.url,
        prune=message.prune,
        items=tuple(items),
        summary={action.value: plan.count(action) for action in PublishAction},
        skipped=plan.skipped,
        warnings=tuple(dict.fromkeys(warnings)),
        errors=errors,
    )
