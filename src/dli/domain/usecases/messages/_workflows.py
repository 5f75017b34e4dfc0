"""The messages about one workflow besides runs: look it up, its DAG state, register, unregister, pause,
unpause, its dependencies."""

from __future__ import annotations

import attrs

from dli.domain.model.enums import DependencyDirection, SourceType
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.spec import DatasetSpec
from dli.domain.model.rules import checked
from dli.domain.usecases.messages import _NAME, DEPTH, Message, _dataset_name, _enum, _flag, _message


@_message
class GetWorkflow(Message):
    """The active workflow of a dataset (CODE over MANUAL); DLI-800 when there is none."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME)
    """The dataset."""


@_message
class GetDagState(Message):
    """Whether the orchestrator runs the workflow yet (its DAG is parsed), or its import error."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME)
    """The dataset."""


def _scheduled(_instance: object, _attribute: object, spec: object) -> None:
    if not isinstance(spec, DatasetSpec):
        raise SpecInvalidError("spec must be a dataset spec")
    if spec.schedule is None:
        raise SpecInvalidError(
            f"Dataset '{spec.name}' has no schedule",
            hints=("Pass --cron (and --timezone), or add a schedule: section to the spec.",),
        )


@_message
class RegisterWorkflow(Message):
    """Store a spec with its schedule under manual/ and make the orchestrator schedule it."""

    spec: DatasetSpec = attrs.field(validator=_scheduled)
    """The dataset spec, its ``schedule`` set."""
    force: bool = _flag(default=False)
    """Replace an existing MANUAL registration."""


@_message
class UnregisterWorkflow(Message):
    """Delete a MANUAL workflow (a CODE one goes through Git: DLI-803)."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME)
    """The dataset."""


@_message
class PauseWorkflow(Message):
    """Pause the schedule of the active workflow (CODE workflows too)."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME)
    """The dataset."""
    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """The workflow meant when code overrides manual (``manual`` for an overridden one is DLI-806)."""


@_message
class UnpauseWorkflow(Message):
    """Resume the schedule (DLI-806 when the manual workflow meant is overridden)."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME)
    """The dataset."""
    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """The workflow meant when code overrides manual."""


@_message
class GetDependencies(Message):
    """The upstream and/or downstream datasets of a workflow (its active spec's ``depends_on`` and theirs)."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME)
    """The dataset."""
    direction: DependencyDirection = attrs.field(
        default=DependencyDirection.BOTH,
        converter=lambda v: _enum(DependencyDirection, "direction")(DependencyDirection.BOTH if v is None else v),
    )
    """``upstream``, ``downstream`` or ``both``."""
    depth: int | None = checked(DEPTH, request=True, default=None)
    """At most this many steps away (``None``: all)."""
