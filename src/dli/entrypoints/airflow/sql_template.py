"""The SQL templates the DAG factory hands to Airflow (pure: no Airflow import, unit-testable).

Users write ``{{ execution_date }}`` and ``{{ <parameter> }}`` as bare Jinja variables. Airflow 3 has
neither in its template context (``execution_date`` was removed; params live under ``params``), so
each statement gets a short preamble of ``{% set %}`` lines that define them from what Airflow does
provide. ``logical_date``/``ds`` are undefined for manual runs with a null logical date, so the date
is computed by a macro from ``dag_run`` (always defined) instead.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

from dli.adapters.airflow import runs as airflow_runs
from dli.domain.model.dependencies import latest_execution_date
from dli.domain.model.spec import DatasetSpec, Parameter

__all__ = [
    "BACKFILL_MARKER",
    "DATE_MACRO",
    "TASK_ID_QUERY",
    "TASK_ID_GUARD",
    "execution_date_for",
    "param_schema",
    "sql_template",
    "statement_task_ids",
]

DATE_MACRO = "dli_execution_date"
"""Name of the user-defined macro that computes ``execution_date`` for a run."""
# Shared with the REST adapter, which reads what the DAGs write: the backfill marker in ``conf``
# (dates, timezone, who) and the first task of every DAG, which stops a backfill date whose
# previous date failed.
BACKFILL_MARKER = airflow_runs.BACKFILL_MARKER
TASK_ID_GUARD = airflow_runs.GUARD_TASK
TASK_ID_QUERY = "query"
"""The task running the dataset's main query."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Jinja names that a {% set %} would shadow with surprising results.
_RESERVED = frozenset({"true", "false", "none", "True", "False", "None", "params", "dag_run", "loop", "self"})
_TASK_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _settable(name: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(name)) and name not in _RESERVED


def sql_template(sql: str, parameters: Iterable[Parameter]) -> str:
    """``sql`` with the preamble defining ``execution_date`` and every parameter as bare variables.

    A run's ``conf`` overrides parameter defaults through Airflow's ``params``; ``execution_date`` is
    the run's ``conf["execution_date"]`` when given, else its date in the DAG's timezone.
    """
    lines = []
    declared = set()
    for parameter in parameters:
        if not _settable(parameter.name):
            continue
        declared.add(parameter.name)
        lines.append(f'{{% set {parameter.name} = params.get("{parameter.name}") %}}')
    if "execution_date" in declared:
        lines.append(f"{{% set execution_date = execution_date or {DATE_MACRO}(dag_run) %}}")
    else:
        lines.append(f"{{% set execution_date = {DATE_MACRO}(dag_run) %}}")
    # Jinja's {% set %} leaves no text behind; the '-' trims the newlines so that the rendered SQL
    # (shown in Airflow's UI and logs) is exactly what the user wrote.
    preamble = "".join(line.replace("{%", "{%-").replace("%}", "-%}") for line in lines)
    return preamble + sql


def execution_date_for(
    *,
    conf: Mapping[str, Any] | None,
    logical_date: dt.datetime | None,
    run_after: dt.datetime | None,
    timezone: str,
    triggering: Iterable[Mapping[str, Any] | None] = (),
) -> str:
    """The ``YYYY-MM-DD`` a run is for: ``conf["execution_date"]``; else, for a run started by new
    upstream data, the latest ``execution_date`` among the triggering asset events' extras
    (``triggering``); else its (logical) date in ``timezone``.

    Manual runs triggered with a null logical date use the time they were triggered (``run_after``).
    """
    given = (conf or {}).get("execution_date")
    if given:
        return str(given)
    published = latest_execution_date(triggering)
    if published:
        return published
    when = logical_date or run_after
    if when is None:  # pragma: no cover - Airflow always sets run_after
        when = dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d")


_JSON_TYPES = {"string": "string", "integer": "integer", "float": "number", "boolean": "boolean", "date": "string"}


def _coerce_default(parameter: Parameter) -> tuple[bool, Any]:
    """``(ok, value)``: the spec's default in the parameter's type, when it can be."""
    value = parameter.default
    if value is None:
        return True, None
    kind = parameter.type
    try:
        if kind == "string":
            return (not isinstance(value, bool)), str(value)
        if kind == "date":
            return True, str(value.isoformat() if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        if kind == "integer" and not isinstance(value, bool):
            return True, int(value)
        if kind == "float" and not isinstance(value, bool):
            return True, float(value)
        if kind == "boolean" and isinstance(value, bool):
            return True, value
    except (TypeError, ValueError):
        pass
    return False, value


def param_schema(parameter: Parameter) -> tuple[Any, dict[str, Any]]:
    """``(default, json_schema)`` for the Airflow ``Param`` of a spec parameter.

    Types always allow ``null`` (a parameter without default is simply absent); a default that does
    not fit the declared type drops the type (Airflow would otherwise reject every run with 400).
    dli validates and coerces run parameters before they reach Airflow, so leniency costs nothing.
    """
    ok, default = _coerce_default(parameter)
    schema: dict[str, Any] = {}
    if ok:
        schema["type"] = [_JSON_TYPES[parameter.type], "null"]
    if parameter.description:
        schema["description"] = parameter.description
    return default, schema


def statement_task_ids(spec: DatasetSpec) -> tuple[list[str], list[str]]:
    """Task ids of the pre and post statements: ``pre_<n>[_<name>]``, ``post_<n>[_<name>]``."""

    def ids(prefix: str, statements: Iterable[Any]) -> list[str]:
        out = []
        for index, statement in enumerate(statements, start=1):
            label = _TASK_ID_UNSAFE.sub("_", statement.name or "").strip("_")[:60]
            out.append(f"{prefix}_{index}_{label}" if label else f"{prefix}_{index}")
        return out

    return ids("pre", spec.pre_statements), ids("post", spec.post_statements)
