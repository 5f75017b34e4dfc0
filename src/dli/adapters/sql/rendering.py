"""Rendering a statement's Jinja outside a run, for the SQL check.

Statements are rendered with the spec's sample variables (``sample_variables``). What only a run
has (Airflow's ``macros``, ``dag_run``, ``ti`` ...) renders as a placeholder identifier, which parses
wherever a value or a name may stand; a template that cannot render even so (arithmetic on an
Airflow value) is reported, and the statement is then not checked.

Most statements use nothing but ``{{ name }}``: those are substituted without Jinja, which would cost
more than parsing the SQL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dli.domain.model.sql_check import StatementAnalysis

__all__ = ["PLACEHOLDER", "RenderError", "render", "unrenderable"]

PLACEHOLDER = "dli_placeholder"
"""What a name only a run defines renders as."""
_SIMPLE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
_JINJA = ("{{", "{%", "{#")


class RenderError(Exception):
    """The template cannot be rendered outside a run."""


@functools.cache
def _environment() -> Any:
    from jinja2 import Undefined
    from jinja2.sandbox import SandboxedEnvironment

    class _Placeholder(Undefined):
        """A name the run would define: a placeholder that takes attributes, items and calls."""

        __slots__ = ()

        def __str__(self) -> str:
            return PLACEHOLDER

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            return self

        def __getitem__(self, _key: object) -> Any:
            return self

        def __call__(self, *_args: object, **_kwargs: object) -> Any:
            return self

    # As Airflow's template environment: sandboxed, with the 'do' extension.
    return SandboxedEnvironment(extensions=["jinja2.ext.do"], undefined=_Placeholder, cache_size=256)


@functools.lru_cache(maxsize=1024)
def _template(source: str) -> Any:
    return _environment().from_string(source)


def _value(value: object) -> str:
    return str(value)


def render(template: str, variables: Mapping[str, Any]) -> str:
    """``template`` rendered with ``variables``.

    Raises:
        RenderError: It needs what only a run has (e.g. arithmetic on an Airflow macro's result).
    """
    if not any(marker in template for marker in _JINJA):
        return template
    simple = _SIMPLE.sub(lambda m: _value(variables.get(m.group(1), PLACEHOLDER)), template)
    if not any(marker in simple for marker in _JINJA):
        return simple
    from jinja2 import TemplateError

    try:
        rendered: str = _template(template).render(**variables)
    except TemplateError as exc:
        raise RenderError(exc.message or type(exc).__name__) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise RenderError(str(exc)) from None
    # Jinja drops the final newline; keep the statement's lines where they were.
    return rendered


def unrenderable(template: str, error: RenderError) -> StatementAnalysis:
    """The analysis of a statement that cannot be rendered outside a run: not checked, and why."""
    from dli.domain.model.sql_check import StatementAnalysis

    return StatementAnalysis(rendered=template, unchecked=f"its template needs a run to render: {error}")
