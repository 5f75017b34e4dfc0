"""SQL analyzer port: renders a statement's Jinja and parses its SQL in a dialect.

The adapter (sqlglot) only reports what it found; ``domain/model/sql_check.py`` decides what is an
error, a warning or fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the model of the SQL check is loaded by whoever checks SQL, not by every bus
    from dli.domain.model.sql_check import ColumnLineage, StatementAnalysis

__all__ = ["SqlAnalyzer"]


class SqlAnalyzer(Protocol):
    """Parses the statements of dataset specs."""

    def knows_dialect(self, dialect: str) -> bool:
        """Whether ``dialect`` (lower case) is one the parser has a grammar for."""
        ...

    def analyze(self, template: str, *, variables: Mapping[str, Any], dialect: str | None) -> StatementAnalysis:
        """Render ``template`` with ``variables`` and parse it in ``dialect`` (``None``: a generic parse).

        Never raises for bad SQL: a syntax error is the result's ``problem``; a statement the parser
        does not know, or a template that cannot be rendered outside a run, is ``unchecked``.
        """
        ...

    def lineage(
        self, template: str, *, variables: Mapping[str, Any], dialect: str | None, column: str | None = None
    ) -> tuple[ColumnLineage, ...]:
        """The upstream columns feeding each output column of the query in ``template`` (or of ``column`` only).

        Raises:
            SpecInvalidError: The statement does not parse, has no query, or has no column ``column`` (DLI-203).
        """
        ...
