"""Checking the Jinja of a spec's SQL before the spec is stored.

Airflow renders every statement of a dataset (pre statements, query, post statements) with Jinja
when a run starts. A statement that is not a valid template (``{{ execution_date }`` , an unclosed
``{% if %}``) would be registered and every run of it would fail with ``TemplateSyntaxError``:
register and publish parse each one first, with the options Airflow's template environment uses,
and refuse the spec (DLI-203) naming the statement and the line.

Only the syntax is checked: names and filters are Airflow's to resolve at run time (``ds``,
``macros``, the spec's parameters...). ``jinja2`` is imported on first use, so commands that read
no spec never load it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.spec import DatasetSpec

__all__ = ["TEMPLATE_HINT", "check_templates", "template_problems"]

TEMPLATE_HINT = (
    "Statements are Jinja templates ({{ execution_date }}, {% set x = ... %}): close every '{{' with '}}' "
    "and every '{%' with '%}', end each {% if %}/{% for %} block, and wrap literal braces in "
    "{% raw %}...{% endraw %}."
)
_ROOT = re.compile(r"[A-Za-z_]\w*")
_SHOWN_LINE = 120


@functools.cache
def _environment() -> Any:
    from jinja2.sandbox import SandboxedEnvironment

    # Airflow's template environment (airflow.sdk ... templater.create_template_env): sandboxed,
    # with the 'do' extension, so that {% do ... %} parses here as it does there.
    return SandboxedEnvironment(extensions=["jinja2.ext.do"], cache_size=0)


def _statements(spec: DatasetSpec, query_label: str | None) -> Iterator[tuple[str, str]]:
    """``(label, sql)`` of every statement, in the order the DAG runs them."""
    for key in ("pre_statements",):
        for index, statement in enumerate(spec.pre_statements):
            yield _label(key, index, statement.name), statement.sql
    if spec.query_statement is not None:
        if query_label is None:
            query_label = "query_statement"
            if spec.query_file is not None:
                query_label += f" (from query_file {spec.query_file})"
        yield query_label, spec.query_statement
    for index, statement in enumerate(spec.post_statements):
        yield _label("post_statements", index, statement.name), statement.sql


def _label(key: str, index: int, name: str | None) -> str:
    return f"{key}[{index}]" + (f" ({name})" if name else "")


def template_problems(spec: DatasetSpec, *, query_label: str | None = None) -> list[tuple[str, str]]:
    """``(problem, offending line)`` for every statement of ``spec`` that is not a valid Jinja template.

    A problem reads ``<statement>, line <n>: invalid Jinja template: <Jinja's message>``; the line
    number counts from the statement's first line (for a query file: the file's line). The offending
    line is shown as ``<statement> line <n>: <its text>`` (empty when Jinja names no line of it).
    ``query_label`` names the query (e.g. ``query_file sql/x.sql``) when the caller knows better.
    """
    from jinja2 import TemplateSyntaxError

    environment = _environment()
    problems = []
    for label, sql in _statements(spec, query_label):
        try:
            environment.parse(sql)
        except TemplateSyntaxError as exc:
            lines = sql.splitlines()
            text = lines[exc.lineno - 1].strip() if 0 < exc.lineno <= len(lines) else ""
            if len(text) > _SHOWN_LINE:
                text = text[: _SHOWN_LINE - 3] + "..."
            where_in = f"{label}, line {exc.lineno}"
            problems.append(
                (f"{where_in}: invalid Jinja template: {exc.message}", f"{where_in}: {text}" if text else "")
            )
    return problems


def check_templates(spec: DatasetSpec, *, where: str, query_label: str | None = None) -> None:
    """Refuse ``spec`` if one of its statements is not a valid Jinja template.

    ``where`` names the document as ``spec_from_dict`` does: a root name (``spec`` ->
    ``spec.pre_statements[1], line 1: ...``) or a location (a file -> ``<file>: pre_statements[1], ...``).

    Raises:
        SpecInvalidError: Every statement that does not parse, with its line (DLI-203).
    """
    problems = template_problems(spec, query_label=query_label)
    if not problems:
        return
    rooted = bool(_ROOT.fullmatch(where))
    lines = [f"{where}.{problem}" if rooted else problem for problem, _ in problems]
    message = "; ".join(lines) if rooted else f"{where}: " + "; ".join(lines)
    shown = tuple(text for _, text in problems if text)
    raise SpecInvalidError(message, hints=(*shown, TEMPLATE_HINT), details={"problems": lines})
