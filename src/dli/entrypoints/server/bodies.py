"""Request bodies: attrs models (they also document the API in OpenAPI) and their strict parsing.

Every body is parsed from the raw bytes here, whatever the framework already decoded: unknown
fields, wrong JSON types and malformed JSON are refused with a DLI code before anything is written.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import attrs
import cattrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ParameterInvalidError

__all__ = [
    "BackfillRequest",
    "MalformedBodyError",
    "PauseRequest",
    "RegisterRequest",
    "RunRequest",
    "parse_body",
]

T = TypeVar("T")


class MalformedBodyError(ParameterInvalidError):
    """The body is not JSON at all (HTTP 400 rather than 422)."""


@attrs.frozen(kw_only=True)
class RegisterRequest:
    """Body of ``POST /api/v1/workflows``."""

    spec: dict[str, Any]
    """The dataset spec as the YAML mapping a user writes, with its ``schedule`` section."""
    force: bool = False
    """Replace an existing MANUAL registration."""


@attrs.frozen(kw_only=True)
class RunRequest:
    """Body of ``POST /api/v1/workflows/{name}/run``."""

    parameters: dict[str, Any] = attrs.field(factory=dict)
    """Run parameters (validated against the spec's declared parameters)."""
    dry_run: bool = False
    """Only validate the parameters."""


@attrs.frozen(kw_only=True)
class BackfillRequest:
    """Body of ``POST /api/v1/workflows/{name}/backfill``."""

    start_date: str
    """First date, YYYY-MM-DD."""
    end_date: str
    """Last date, YYYY-MM-DD (inclusive)."""
    parameters: dict[str, Any] = attrs.field(factory=dict)
    """Run parameters for every date."""
    dry_run: bool = False
    """Only list the dates."""


@attrs.frozen(kw_only=True)
class PauseRequest:
    """Body of ``POST /api/v1/workflows/{name}/pause`` and ``/unpause`` (may be empty)."""

    source_type: SourceType | None = None
    """The workflow meant when code overrides manual (``manual`` for an overridden one is DLI-806)."""


_converter = cattrs.Converter(forbid_extra_keys=True)


def _strict(kind: type) -> Any:
    def hook(value: Any, _type: type) -> Any:
        # JSON booleans are ints in Python: refuse them where a number or a string is meant.
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


for _kind in (str, bool, int):
    _converter.register_structure_hook(_kind, _strict(_kind))


def _enum(value: Any, cls: type) -> Any:
    # Registered on the enum itself, so that the str hook (SourceType is a str) does not catch it.
    if not isinstance(value, str):
        raise TypeError(f"expected one of {', '.join(m.value for m in cls)}, got {type(value).__name__}")  # type: ignore[attr-defined]
    return cls(value)


_converter.register_structure_hook(SourceType, _enum)
_converter.register_structure_hook_func(lambda t: t == dict[str, Any], _strict(dict))


def parse_body(raw: bytes, cls: type[T], *, empty_ok: bool = False) -> T:
    """The body as ``cls``, or DLI-204 naming every problem."""
    if not raw.strip():
        if empty_ok:
            return cls()
        raise MalformedBodyError("Request body is empty", hints=("Send a JSON object.",))
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBodyError(f"Request body is not valid JSON: {exc}", hints=("Send a JSON object.",)) from None
    if not isinstance(data, dict):
        raise ParameterInvalidError(f"Request body must be a JSON object, got {type(data).__name__}")
    try:
        return _converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        problems = cattrs.transform_error(exc, path="body")
        raise ParameterInvalidError(
            "Invalid request body: " + "; ".join(problems),
            hints=(f"Fields of {cls.__name__}: {', '.join(a.name for a in attrs.fields(cls))}.",),
        ) from None
