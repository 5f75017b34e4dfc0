"""The SQL analyzer: Jinja rendering (``rendering``) and sqlglot parsing (``sqlglot_analyzer``).

``build_sql_analyzer()`` gives the sqlglot analyzer when the ``sql`` extra is installed, else one
that checks nothing and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dli.domain.model.sql_check import ColumnLineage, StatementAnalysis
    from dli.ports.sql_analyzer import SqlAnalyzer

__all__ = ["LazySqlAnalyzer", "build_sql_analyzer"]


class LazySqlAnalyzer:
    """The analyzer, built on first use: importing sqlglot costs a few hundred milliseconds that
    commands checking no SQL (``list``, ``status`` ...) do not pay."""

    def __init__(self) -> None:
        self._analyzer: SqlAnalyzer | None = None

    def _built(self) -> SqlAnalyzer:
        if self._analyzer is None:
            self._analyzer = build_sql_analyzer()
        return self._analyzer

    def knows_dialect(self, dialect: str) -> bool:
        return self._built().knows_dialect(dialect)

    def analyze(self, template: str, *, variables: Mapping[str, Any], dialect: str | None) -> StatementAnalysis:
        return self._built().analyze(template, variables=variables, dialect=dialect)

    def lineage(
        self, template: str, *, variables: Mapping[str, Any], dialect: str | None, column: str | None = None
    ) -> tuple[ColumnLineage, ...]:
        return self._built().lineage(template, variables=variables, dialect=dialect, column=column)


def build_sql_analyzer() -> SqlAnalyzer:
    """The sqlglot analyzer, or (sqlglot not installed) one that marks every statement not checked."""
    try:
        from dli.adapters.sql.sqlglot_analyzer import SqlglotAnalyzer
    except ImportError:
        from dli.adapters.sql.unavailable import UnavailableAnalyzer

        return UnavailableAnalyzer()
    return SqlglotAnalyzer()
