"""Validation of run parameters against a spec's declared parameters, and backfill dates."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from dli.domain.model.errors import ParameterInvalidError
from dli.domain.model.spec import DatasetSpec, Parameter

__all__ = ["BUILTIN_PARAMETERS", "MAX_BACKFILL_DAYS", "backfill_dates", "coerce_parameters", "parse_date"]

# Provided by the orchestrator to every run; users may set it explicitly.
BUILTIN_PARAMETERS = frozenset({"execution_date"})
MAX_BACKFILL_DAYS = 366

_EXAMPLES = {"string": "eu", "integer": "10", "float": "0.5", "boolean": "true", "date": "2025-01-31"}
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def parse_date(value: object, *, what: str = "date") -> dt.date:
    """Parse a strict YYYY-MM-DD date, else raise DLI-204."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ParameterInvalidError(f"Invalid {what}: {value!r}", hints=("Use the YYYY-MM-DD format, e.g. 2025-01-31.",))


def _coerce(param: Parameter, value: Any) -> Any:
    def bad() -> ParameterInvalidError:
        return ParameterInvalidError(
            f"Parameter '{param.name}' must be {param.type}, got {value!r}",
            hints=(f"For example: -p {param.name}={_EXAMPLES[param.type]} (the spec declares it as {param.type}).",),
            details={"parameter": param.name, "type": param.type},
        )

    kind = param.type
    if kind == "string":
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad()
    if kind == "integer":
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise bad() from None
        raise bad()
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise bad()
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (ValueError, OverflowError):
            raise bad() from None
        # nan and inf (also "1e400", which overflows to inf) are no value a SQL statement can use.
        if not math.isfinite(number):
            raise bad()
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad()
    # date
    try:
        return parse_date(value, what=f"date for parameter '{param.name}'").isoformat()
    except ParameterInvalidError:
        raise bad() from None


def coerce_parameters(spec: DatasetSpec, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check ``given`` against the spec: known names, required ones present, values coerced.

    Returns the parameters to send (given ones coerced; defaults are left to the DAG).
    """
    given = dict(given or {})
    declared = {p.name for p in spec.parameters}
    unknown = sorted(set(given) - declared - BUILTIN_PARAMETERS)
    if unknown:
        known = ", ".join(sorted(declared | BUILTIN_PARAMETERS))
        raise ParameterInvalidError(
            f"Unknown parameter(s) for '{spec.name}': {', '.join(unknown)}",
            hints=(f"Declared parameters: {known}.",),
            details={"unknown": unknown},
        )
    out: dict[str, Any] = {}
    for param in spec.parameters:
        if param.name in given and given[param.name] is not None:
            out[param.name] = _coerce(param, given[param.name])
        elif param.required and param.default is None:
            raise ParameterInvalidError(
                f"Missing required parameter '{param.name}' for '{spec.name}'",
                hints=(f"Pass it with -p {param.name}=<{param.type}>.",),
                details={"parameter": param.name},
            )
    if "execution_date" in given and "execution_date" not in declared:
        out["execution_date"] = parse_date(given["execution_date"], what="execution_date").isoformat()
    return out


def backfill_dates(start: object, end: object, *, max_days: int = MAX_BACKFILL_DAYS) -> list[dt.date]:
    """The dates from ``start`` to ``end`` inclusive, validated (DLI-204)."""
    first = parse_date(start, what="start date")
    last = parse_date(end, what="end date")
    if last < first:
        raise ParameterInvalidError(
            f"End date {last.isoformat()} is before start date {first.isoformat()}",
            hints=("Swap --start and --end.",),
        )
    days = (last - first).days + 1
    if days > max_days:
        raise ParameterInvalidError(
            f"Backfill range of {days} days exceeds the maximum of {max_days}",
            hints=("Split the range into several backfills.",),
        )
    return [first + dt.timedelta(days=i) for i in range(days)]
