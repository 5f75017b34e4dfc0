"""The analyzer used when sqlglot is not installed: every statement is marked not checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dli.domain.model.errors import ConfigurationError
from dli.domain.model.sql_check import ColumnLineage, StatementAnalysis

__all__ = ["UnavailableAnalyzer"]

_WHY = "sqlglot is not installed: pip install 'dli[sql]'"


class UnavailableAnalyzer:
    """Checks nothing and says why."""

    def knows_dialect(self, dialect: str) -> bool:
        return True  # nothing is parsed: no dialect to doubt

    def analyze(self, template: str, *, variables: Mapping[str, Any], dialect: str | None) -> StatementAnalysis:
        return StatementAnalysis(rendered=template, unchecked=_WHY)

    def lineage(
        self, template: str, *, variables: Mapping[str, Any], dialect: str | None, column: str | None = None
    ) -> tuple[ColumnLineage, ...]:
        raise ConfigurationError("Column lineage needs sqlglot", hints=("pip install 'dli[sql]'",))
