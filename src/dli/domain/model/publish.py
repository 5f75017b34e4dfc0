"""PlanPublish: what ``dli workflow publish`` (the Code path) would change in ``code/``.

A pure function of the project's specs and what ``code/`` holds; applying the plan is the
PublishSpecs handler's job. Specs are compared by content, never by registration metadata, so publishing the
same project twice writes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.spec import DatasetSpec, SpecDocument

__all__ = [
    "PublishAction",
    "PublishItem",
    "PublishPlan",
    "PublishResult",
    "PublishResultItem",
    "PublishedSpec",
    "plan_publish",
]


class PublishAction(str, enum.Enum):
    """What publishing does to one code spec."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    DELETE = "delete"
    KEEP = "keep"
    """In ``code/`` but no longer in the project, and ``--prune`` was not given."""


@attrs.frozen(kw_only=True)
class PublishedSpec:
    """A document found under ``code/``."""

    etag: str
    """Its version tag, for the conditional update or delete."""
    spec: DatasetSpec | None
    """Its spec, or ``None`` when the stored document cannot be read (it is then rewritten)."""


@attrs.frozen(kw_only=True)
class PublishItem:
    """One line of the plan."""

    dataset_name: str
    """The dataset."""
    action: PublishAction
    """What happens to its code spec."""
    cron: str | None = None
    """The schedule's cron in the project (``None`` for a delete or keep)."""
    etag: str | None = attrs.field(default=None, repr=False)
    """The stored version the update or delete is conditional on."""
    document: SpecDocument | None = attrs.field(default=None, repr=False, eq=False)
    """What a create or update writes."""

    @property
    def writes(self) -> bool:
        """Whether applying this item changes the store."""
        return self.action in (PublishAction.CREATE, PublishAction.UPDATE, PublishAction.DELETE)


@attrs.frozen(kw_only=True)
class PublishPlan:
    """Every change (and non-change) publishing makes, sorted by dataset name."""

    items: tuple[PublishItem, ...]
    """One per dataset scheduled in the project or present in ``code/``."""
    prune: bool
    """Whether code specs that left the project are deleted."""
    skipped: tuple[str, ...] = ()
    """Project datasets without a ``schedule:`` section (not workflows, so not published)."""

    def count(self, action: PublishAction) -> int:
        """How many items have ``action``."""
        return sum(1 for item in self.items if item.action is action)

    @property
    def changes(self) -> tuple[PublishItem, ...]:
        """The items that write to the store."""
        return tuple(item for item in self.items if item.writes)


def plan_publish(
    *,
    specs: Sequence[DatasetSpec],
    published: Mapping[str, PublishedSpec],
    prune: bool,
    publisher: str,
    now: dt.datetime,
) -> PublishPlan:
    """Decide create / update / unchanged / delete (or keep) for every code spec.

    Args:
        specs: Every spec of the project (already loaded, so syntactically valid).
        published: What ``code/`` holds, by dataset name.
        prune: Delete code specs of datasets that are no longer scheduled in the project.
        publisher: Recorded as ``registered_by`` on what is written.
        now: Recorded as ``registered_at`` on what is written.

    Raises:
        SpecInvalidError: A dataset is defined twice; nothing should be published (DLI-203).
    """
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SpecInvalidError(
            f"Dataset(s) defined more than once in the project: {', '.join(duplicates)}",
            hints=("Each dataset name must appear in exactly one dataset.<name>.yaml.",),
            details={"errors": [f"'{name}' is defined more than once" for name in duplicates]},
        )
    scheduled = {spec.name: spec for spec in specs if spec.schedule is not None}
    skipped = tuple(sorted(spec.name for spec in specs if spec.schedule is None))
    items: list[PublishItem] = []
    for name in sorted(set(scheduled) | set(published)):
        spec, stored = scheduled.get(name), published.get(name)
        if spec is None:
            assert stored is not None
            action = PublishAction.DELETE if prune else PublishAction.KEEP
            items.append(PublishItem(dataset_name=name, action=action, etag=stored.etag))
            continue
        assert spec.schedule is not None
        cron = spec.schedule.cron
        if stored is not None and stored.spec == spec:
            items.append(PublishItem(dataset_name=name, action=PublishAction.UNCHANGED, cron=cron, etag=stored.etag))
            continue
        document = SpecDocument(spec=spec, source_type=SourceType.CODE, registered_by=publisher, registered_at=now)
        action = PublishAction.CREATE if stored is None else PublishAction.UPDATE
        items.append(
            PublishItem(
                dataset_name=name,
                action=action,
                cron=cron,
                etag=stored.etag if stored else None,
                document=document,
            )
        )
    return PublishPlan(items=tuple(items), prune=prune, skipped=skipped)


@attrs.frozen(kw_only=True)
class PublishResultItem:
    """One dataset of a publish."""

    dataset_name: str
    """The dataset."""
    action: PublishAction
    """What publishing did (or, in a dry run, would do) to its code spec."""
    cron: str | None = None
    """Its cron in the project; ``None`` for a delete or keep."""


@attrs.frozen(kw_only=True)
class PublishResult:
    """What ``dli workflow publish`` did (``--format json`` prints this)."""

    store: str
    """The store's URL (no secrets)."""
    dry_run: bool
    """Whether nothing was written."""
    prune: bool
    """Whether code specs that left the project were deleted."""
    items: tuple[PublishResultItem, ...]
    """One per dataset scheduled in the project or present in ``code/``, sorted by name."""
    skipped: tuple[str, ...] = ()
    """Project datasets without a ``schedule:`` section (not published)."""
    summary: dict[str, int] = attrs.field(factory=dict)
    """Count per action (``create``, ``update``, ``unchanged``, ``delete``, ``keep``)."""
    warnings: tuple[str, ...] = ()
    """What to know about the published specs, e.g. upstreams no store knows (external tables)."""

    @property
    def changed(self) -> bool:
        """Whether the publish wrote (or, in a dry run, would write) anything."""
        return any(
            self.summary.get(a.value, 0) for a in (PublishAction.CREATE, PublishAction.UPDATE, PublishAction.DELETE)
        )
