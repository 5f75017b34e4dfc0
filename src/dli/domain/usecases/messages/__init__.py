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
from dli.domain.model.names import DATASET_NAME_PATTERN, MAX_NAME_LENGTH, validate_dataset_name
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
    "SCHEMA",
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

SCHEMA = "json_schema"
"""Key of a field's attrs ``metadata``: what its validator accepts, as JSON Schema keywords.

The validators enforce; these facts only describe them, so that the API document generated from
the messages (``dli.entrypoints.server.routes``) tells clients which requests are valid.
"""


def _schema(**keywords: Any) -> dict[str, Any]:
    return {SCHEMA: keywords}


_NAME_SCHEMA = _schema(
    pattern=DATASET_NAME_PATTERN, minLength=1, maxLength=MAX_NAME_LENGTH, examples=["shop.orders"]
)
_RUN_ID_SCHEMA = _schema(
    pattern=RUN_ID_PATTERN, maxLength=MAX_RUN_ID_LENGTH, examples=["shop.orders@scheduled__2025-01-01T06:00:00+00:00"]
)
_LIMIT_SCHEMA = _schema(minimum=1, maximum=MAX_LIMIT)
_DATE_SCHEMA = _schema(format="date", pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2025-01-01"])


def _dataset_name(_instance: object, _attribute: object, value: object) -> None:
    validate_dataset_name(value)


def _optional_dataset_name(_instance: object, _attribute: object, value: object) -> None:
    if value is not None:
        validate_dataset_name(value)


def _run_id(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str):
        raise ParameterInvalidError(f"Run id must be a string, got {type(value).__name__}")
    split_run_id(value)


def _limit(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ParameterInvalidError(
            f"{attribute.name} must be between 1 and {MAX_LIMIT}, got {value!r}",
            hints=(f"Pass a whole number from 1 to {MAX_LIMIT}.",),
        )


def _depth(_instance: object, _attribute: object, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DEPENDENCY_DEPTH:
        raise ParameterInvalidError(
            f"depth must be between 1 and {MAX_DEPENDENCY_DEPTH}, got {value!r}",
            hints=("Pass --depth N (1 = direct dependencies only), or leave it out for all of them.",),
        )


def _page_size(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE:
        raise ParameterInvalidError(
            f"{attribute.name} must be between 1 and {MAX_PAGE}, got {value!r}",
            hints=(f"Pass a whole number from 1 to {MAX_PAGE}; follow next_cursor for more.",),
        )


def _cursor(_instance: object, _attribute: object, value: object) -> None:
    if value is not None:
        from dli.domain.model.catalog import cursor_key  # only a second page needs it (start-up time)

        cursor_key(value)  # type: ignore[arg-type]


def _flag(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if not isinstance(value, bool):
        raise ParameterInvalidError(f"{attribute.name} must be true or false, got {value!r}")


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
    if not isinstance(value, str):
        raise ParameterInvalidError(f"{attribute.name} must be a YYYY-MM-DD string, got {type(value).__name__}")


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


