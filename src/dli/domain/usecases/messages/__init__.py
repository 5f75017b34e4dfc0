"""The operations of dli, one frozen message each: what a user (or CI) asks for.

A message is validated when it is built (names, enums, limits, run ids), whatever builds it: the
``WorkflowAPI`` facade, the Basecamp server from a request, or a test. Handlers therefore trust the
message they get. Every message carries its ``actor``, the user it runs for; the server sets it
from the caller's token, so a client cannot act for somebody else.

The message classes live in private submodules, grouped by the handlers that take them, and are
imported from this package on first use (PEP 562): building an attrs class costs start-up time,
and ``dli workflow list`` needs only ``ListWorkflows``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.errors import ParameterInvalidError
from dli.domain.model.names import DATASET_NAME, validate_dataset_name
from dli.domain.model.rules import RULE, Date, Flag, Matching, Whole, checked
from dli.domain.model.runs import MAX_RUN_ID_LENGTH, RUN_ID_PATTERN, split_run_id

__all__ = [
    "MAX_DEPENDENCY_DEPTH",
    "GetDagState",
    "GetDependencies",
    "GetHistory",
    "GetRunLogs",
    "GetRunStatus",
    "GetWorkflow",
    "ListWorkflows",
    "Message",
    "PauseWorkflow",
    "PublishSpecs",
    "RegisterWorkflow",
    "StopRun",
    "TriggerBackfill",
    "TriggerRun",
    "UnpauseWorkflow",
    "UnregisterWorkflow",
]

MAX_LIMIT = 10_000
MAX_PAGE = 1_000
"""Most workflows one ``ListWorkflows`` answers: a longer listing follows ``next_cursor`` page by page."""

MAX_DEPENDENCY_DEPTH = 1_000

_NAME = {RULE: DATASET_NAME}
"""Metadata of a dataset-name field: its rule, which ``_dataset_name`` enforces."""
_RUN_ID = {
    RULE: Matching(
        pattern=RUN_ID_PATTERN.removeprefix("^").removesuffix("(?![\\s\\S])"),
        max_length=MAX_RUN_ID_LENGTH,
        what="a run id",
        description="'<dataset>@<orchestrator run id>', one percent-encoded path segment; an unknown one is 404.",
    )
}
"""Metadata of a run-id field: what a run id looks like (one that does not is no run: 404)."""
DATE = Date()
"""A ``YYYY-MM-DD`` date of a backfill range (the range's order and length are checked by the handler)."""


LIMIT = Whole(low=1, high=MAX_LIMIT, hints=(f"Pass a whole number from 1 to {MAX_LIMIT}.",))
DEPTH = Whole(
    low=1,
    high=MAX_DEPENDENCY_DEPTH,
    nullable=True,
    hints=("Pass --depth N (1 = direct dependencies only), or leave it out for all of them.",),
    description="At most this many steps away (absent: all).",
)


def _flag(**field: Any) -> Any:
    return checked(Flag(hints=()), request=True, **field)


def _dataset_name(_instance: object, _attribute: object, value: object) -> None:
    validate_dataset_name(value)


def _optional_dataset_name(_instance: object, _attribute: object, value: object) -> None:
    if value is not None:
        validate_dataset_name(value)


def _run_id(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str):
        raise ParameterInvalidError(f"Run id must be a string, got {type(value).__name__}")
    split_run_id(value)


def _enum(cls: type, what: str, *, upper: bool = False) -> Any:
    """A converter to ``cls`` from its value; DLI-204 listing the allowed values otherwise."""

    def convert(value: Any) -> Any:
        if value is None or isinstance(value, cls):
            return value
        if upper and isinstance(value, str):
            value = value.upper()
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)  # type: ignore[attr-defined]
            raise ParameterInvalidError(f"Invalid {what}: {value!r}", hints=(f"Use one of: {allowed}.",)) from None

    return convert


def _parameters(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ParameterInvalidError(
            "Parameters must be a mapping of names to values", hints=("Pass -p name=value.",)
        )
    return dict(value)


def _date_text(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if DATE.problem(value) is not None:
        raise ParameterInvalidError(
            f"Invalid {attribute.name.replace('_', ' ')}: {value!r}", hints=("Use the YYYY-MM-DD format, e.g. 2025-01-31.",)
        )


_message = attrs.frozen(kw_only=True, repr=False)


@attrs.frozen(kw_only=True, repr=False)
class Message:
    """What every operation carries."""

    actor: str | None = attrs.field(default=None)
    """Who asks (``registered_by``, ``triggered_by``); the bus or the server fills it in."""

    def __repr__(self) -> str:
        # Written once here rather than generated per message class: start-up time (16 classes).
        fields = ", ".join(f"{a.name}={getattr(self, a.name)!r}" for a in attrs.fields(type(self)))
        return f"{type(self).__name__}({fields})"


_SUBMODULE = {
    "GetWorkflow": "_workflows",
    "GetDagState": "_workflows",
    "ListWorkflows": "_listing",
    "RegisterWorkflow": "_workflows",
    "UnregisterWorkflow": "_workflows",
    "PauseWorkflow": "_workflows",
    "UnpauseWorkflow": "_workflows",
    "GetDependencies": "_workflows",
    "TriggerRun": "_runs",
    "TriggerBackfill": "_runs",
    "StopRun": "_runs",
    "GetRunStatus": "_runs",
    "GetRunLogs": "_runs",
    "GetHistory": "_runs",
    "PublishSpecs": "_publish",
}
"""The submodule that defines each message class."""


def __getattr__(name: str) -> type[Message]:
    submodule = _SUBMODULE.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls: type[Message] = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = cls  # later look-ups skip this function
    return cls


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULE})


