"""JSON shape of the result models: one converter for the CLI's ``--format json``, the Basecamp
server's responses and the HTTP client, so that all three agree byte for byte.

snake_case keys, enum values, ISO-8601 datetimes with offsets, lists for tuples.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import make_converter

from dli.domain.model.errors import ServerError

__all__ = ["converter", "from_jsonable", "to_jsonable"]

T = TypeVar("T")

converter = make_converter()


def _unstructure_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    # Keep the zone's offset (a next run in Asia/Seoul stays +09:00) but drop the ZoneInfo object.
    return value.isoformat()


def _structure_datetime(value: Any, _type: type) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 datetime string, got {type(value).__name__}")
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


converter.register_unstructure_hook(dt.datetime, _unstructure_datetime)
converter.register_structure_hook(dt.datetime, _structure_datetime)
converter.register_unstructure_hook(zoneinfo.ZoneInfo, str)


def to_jsonable(obj: Any) -> Any:
    """The JSON-ready form (dicts, lists, strings, numbers) of a result model."""
    return converter.unstructure(obj)


def from_jsonable(data: Any, cls: type[T]) -> T:
    """Rebuild ``cls`` from its JSON form; a malformed payload is a server error (DLI-503)."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = "; ".join(cattrs.transform_error(exc)) if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        raise ServerError(
            f"Malformed {cls.__name__} in response: {detail}",
            hints=("The client and the Basecamp server may be of different dli versions: compare dli --version.",),
        ) from None
