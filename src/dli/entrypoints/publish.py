"""The Code path (spec §2.1): publish a project's scheduled dataset specs to a store's ``code/``.

``publish_project`` loads and validates the whole project first (one invalid spec: DLI-203 and
nothing is written), reads what ``code/`` holds, plans (``dli.domain.model.publish``) and, unless
it is a dry run, applies the plan with the store's conditional writes.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ConfigurationError, SpecInvalidError
from dli.domain.model.publish import PublishAction, PublishedSpec, PublishPlan, plan_publish
from dli.ports.spec_store import SpecStore

__all__ = ["PublishResult", "PublishResultItem", "apply_plan", "default_publisher", "publish_project", "read_published"]

DEFAULT_PUBLISHER = "ci"


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

    @property
    def changed(self) -> bool:
        """Whether the publish wrote (or, in a dry run, would write) anything."""
        return any(self.summary.get(a.value, 0) for a in (PublishAction.CREATE, PublishAction.UPDATE,
                                                             PublishAction.DELETE))


def default_publisher() -> str:
    """``registered_by`` of published specs: ``$DLI_PUBLISHER`` or ``ci``."""
    return os.environ.get("DLI_PUBLISHER") or DEFAULT_PUBLISHER


def read_published(store: SpecStore) -> dict[str, PublishedSpec]:
    """What ``code/`` holds; an unreadable document is listed without a spec (so it is rewritten)."""
    published: dict[str, PublishedSpec] = {}
    for name, etag in store.list_etags(SourceType.CODE).items():
        try:
            versioned = store.read(SourceType.CODE, name)
        except SpecInvalidError:
            published[name] = PublishedSpec(etag=etag, spec=None)
            continue
        if versioned is not None:  # deleted since it was listed
            published[name] = PublishedSpec(etag=versioned.etag, spec=versioned.document.spec)
    return published


def apply_plan(plan: PublishPlan, store: SpecStore) -> None:
    """Write the plan's changes; creates and updates are conditional, so a concurrent publisher fails.

    Raises:
        WorkflowAlreadyExistsError: A create found a code spec someone else just wrote (DLI-804).
        WorkflowRegistrationError: An update found the code spec changed since it was read (DLI-801).
        StoreUnavailableError: The store cannot be written (DLI-503).
    """
    for item in plan.changes:
        if item.action is PublishAction.CREATE:
            assert item.document is not None
            store.create(SourceType.CODE, item.document)
        elif item.action is PublishAction.UPDATE:
            assert item.document is not None and item.etag is not None
            store.replace(SourceType.CODE, item.document, etag=item.etag)
        elif item.action is PublishAction.DELETE:
            store.delete(SourceType.CODE, item.dataset_name)


def publish_project(
    *,
    project_path: Path,
    store: SpecStore,
    prune: bool = False,
    dry_run: bool = False,
    publisher: str | None = None,
    now: dt.datetime | None = None,
) -> PublishResult:
    """Validate every spec of the project, plan, and (unless ``dry_run``) apply.

    Raises:
        ConfigurationError: ``project_path`` is not a dli project (no ``dli.yaml``) (DLI-001).
        SpecInvalidError: Some spec is invalid; the message lists each one and nothing is written (DLI-203).
        StoreUnavailableError: The store cannot be read or written (DLI-503).
    """
    from dli.adapters.local_project import FilesystemProject

    root = Path(project_path)
    if not (root / "dli.yaml").is_file():
        # Guard: with --prune, publishing an empty directory would delete every code spec.
        raise ConfigurationError(
            f"{root} is not a dli project (no dli.yaml)",
            hints=("Run publish from the project root or pass --path to it.",),
        )
    specs = FilesystemProject(root).all()
    plan = plan_publish(
        specs=specs,
        published=read_published(store),
        prune=prune,
        publisher=publisher or default_publisher(),
        now=now or dt.datetime.now(dt.timezone.utc),
    )
    if not dry_run:
        apply_plan(plan, store)
    return PublishResult(
        store=store.url,
        dry_run=dry_run,
        prune=prune,
        items=tuple(
            PublishResultItem(dataset_name=i.dataset_name, action=i.action, cron=i.cron) for i in plan.items
        ),
        skipped=plan.skipped,
        summary={action.value: plan.count(action) for action in PublishAction},
    )
