"""The SQL analyzer over sqlglot: statements parsed in their dialect, their tables, column lineage.

sqlglot's compiled build (``sqlglot[c]``, the ``sql`` extra pins it) is used when installed: it
parses several times faster than the pure Python one, with the same results.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError

from dli.adapters.sql.rendering import RenderError, render, unrenderable
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.sql_check import ColumnLineage, StatementAnalysis, SyntaxProblem

__all__ = ["SqlglotAnalyzer", "known_dialect"]

_CLASS = re.compile(r"<class '[\w.]*\.(\w+)'>")
# sqlglot's words for an expression cut short, in the user's: "incomplete And (its expression is missing)".
_MISSING = re.compile(r"Required keyword: '(\w+)' missing for (\w+)")

# sqlglot logs a warning for each statement it falls back to a Command for; dli reports those itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Statements whose target is written; the tables they read are the others.
_WRITES = (exp.Insert, exp.Create, exp.Delete, exp.Update, exp.Merge, exp.TruncateTable, exp.Drop, exp.Alter)
# Statements that neither read data for the dataset nor write it (maintenance): no tables counted.
_MAINTENANCE = (exp.Analyze,)


@functools.cache
def known_dialect(dialect: str | None) -> Dialect:
    """sqlglot's dialect of that name (``None``: the generic one).

    Raises:
        SpecInvalidError: sqlglot knows no such dialect (DLI-203).
    """
    try:
        return Dialect.get_or_raise(dialect)
    except ValueError:
        names = ", ".join(sorted(d for d in Dialect.classes if d))
        raise SpecInvalidError(
            f"unknown SQL dialect {dialect!r}",
            hints=(f"execution.dialect (or dli.yaml defaults.dialect) must be one of: {names}.",),
        ) from None


def _position(sql: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character ``offset``."""
    offset = max(0, min(offset, len(sql)))
    line = sql.count("\n", 0, offset) + 1
    return line, offset - (sql.rfind("\n", 0, offset) + 1) + 1


def _parse_problem(exc: ParseError, sql: str) -> SyntaxProblem:
    if not exc.errors:
        return SyntaxProblem(message=str(exc))
    first = exc.errors[0]
    description = _CLASS.sub(r"\1", first.get("description") or str(exc))
    description = _MISSING.sub(r"incomplete \2 (its \1 is missing)", description)
    highlight = first.get("highlight") or ""
    line, column = first.get("line"), first.get("col")
    if highlight:
        description += f" near '{highlight}'"
    if isinstance(line, int) and isinstance(column, int) and line > 0:
        # sqlglot points at the end of the offending token; the caret goes under its start.
        column = max(1, column - len(highlight) + 1) if highlight else max(column, 1)
        return SyntaxProblem(message=description, line=line, column=column)
    return SyntaxProblem(message=description)


def _token_problem(exc: TokenError, sql: str) -> SyntaxProblem:
    start, end = getattr(exc, "start", None), getattr(exc, "end", None)
    message = "cannot read the SQL's tokens (an unclosed quote or comment?)"
    if not isinstance(start, int):
        return SyntaxProblem(message=message)
    # The tokenizer reports 50 characters either side of where it stopped.
    offset = start + 50 if start > 0 else (end - 50 if isinstance(end, int) and end < len(sql) - 1 else len(sql))
    line, column = _position(sql, offset)
    return SyntaxProblem(message=message, line=line, column=column)


def _table_name(table: exp.Table) -> str | None:
    parts = [part.name for part in table.parts]
    if not parts or not all(parts):
        return None
    return ".".join(parts).lower()


def _tables(statement: exp.Expr) -> tuple[list[str], list[str]]:
    """``(reads, writes)`` of one parsed statement (one walk of its tree)."""
    if isinstance(statement, (*_MAINTENANCE, exp.Command)):
        return [], []
    target = statement.this if isinstance(statement, _WRITES) else None
    if isinstance(target, exp.Schema):
        target = target.this
    writes = [n for n in (_table_name(target),) if n is not None] if isinstance(target, exp.Table) else []
    ctes: set[str] = set()
    tables: list[exp.Table] = []
    # One search for both kinds: sqlglot's compiled walk, half the cost of a loop over every node here.
    for node in statement.find_all(exp.Table, exp.CTE):
        if isinstance(node, exp.CTE):
            ctes.add(node.alias_or_name.lower())
        elif node is not target:
            tables.append(node)  # type: ignore[arg-type]
    reads = []
    for table in tables:
        name = _table_name(table)
        if name is None or (not table.db and name in ctes):
            continue
        reads.append(name)
    return reads, writes


class SqlglotAnalyzer:
    """Renders and parses statements with sqlglot."""

    def knows_dialect(self, dialect: str) -> bool:
        try:
            known_dialect(dialect)
        except SpecInvalidError:
            return False
        return True

    def analyze(self, template: str, *, variables: Mapping[str, Any], dialect: str | None) -> StatementAnalysis:
        try:
            sql = render(template, variables)
        except RenderError as exc:
            return unrenderable(template, exc)
        return self.parse(sql, dialect=dialect)

    def parse(self, sql: str, *, dialect: str | None) -> StatementAnalysis:
        """The analysis of ``sql``, already rendered."""
        parser = known_dialect(dialect)
        try:
            # The dialect instance is kept: sqlglot.parse(read=name) looks it up and builds one each call.
            statements = parser.parse(sql, error_level=ErrorLevel.RAISE)
        except ParseError as exc:
            return StatementAnalysis(rendered=sql, problem=_parse_problem(exc, sql))
        except TokenError as exc:
            return StatementAnalysis(rendered=sql, problem=_token_problem(exc, sql))
        parsed = [s for s in statements if s is not None]
        commands = [s for s in parsed if isinstance(s, exp.Command)]
        reads: list[str] = []
        writes: list[str] = []
        for statement in parsed:
            r, w = _tables(statement)
            reads += r
            writes += w
        unchecked = None
        if commands:
            verb = str(commands[0].this).upper()
            unchecked = f"sqlglot does not parse this {verb} statement in the {dialect or 'generic'} dialect"
        return StatementAnalysis(
            rendered=sql,
            unchecked=unchecked,
            reads=tuple(dict.fromkeys(reads)),
            writes=tuple(dict.fromkeys(writes)),
        )

    def lineage(
        self, template: str, *, variables: Mapping[str, Any], dialect: str | None, column: str | None = None
    ) -> tuple[ColumnLineage, ...]:
        from sqlglot.lineage import lineage

        known_dialect(dialect)
        try:
            sql = render(template, variables)
            statement = sqlglot.parse_one(sql, read=dialect)
        except (RenderError, ParseError, TokenError) as exc:
            raise SpecInvalidError(f"the query cannot be parsed for lineage: {exc}") from None
        query = _query_of(statement)
        if query is None:
            raise SpecInvalidError(
                "the query statement has no SELECT to trace",
                hints=(
                    "Lineage traces the columns of the query's SELECT (also inside INSERT ... SELECT or CREATE ... AS SELECT).",
                ),
            )
        outputs = [select.alias_or_name for select in query.selects]
        if column is not None:
            wanted = [o for o in outputs if o.lower() == column.lower()]
            if not wanted:
                raise SpecInvalidError(
                    f"the query has no output column {column!r}",
                    hints=(f"Its output columns: {', '.join(outputs)}.",),
                )
            outputs = wanted
        found = []
        for name in outputs:
            try:
                node = lineage(name, query, {}, dialect=dialect)
            except (sqlglot.errors.SqlglotError, KeyError, ValueError) as exc:
                raise SpecInvalidError(f"cannot trace column {name!r}: {exc}") from None
            sources = []
            for leaf in _leaves(node):
                if isinstance(leaf.expression, exp.Table):
                    sources.append(f"{_table_name(leaf.expression)}.{leaf.name.split('.')[-1]}")
            found.append(ColumnLineage(column=name, sources=tuple(dict.fromkeys(sources))))
        return tuple(found)


def _query_of(statement: exp.Expr | None) -> exp.Query | None:
    if isinstance(statement, exp.Query):
        return statement
    if isinstance(statement, (exp.Insert, exp.Create)) and isinstance(statement.expression, exp.Query):
        return statement.expression
    return None


def _leaves(node: Any) -> Iterator[Any]:
    if not node.downstream:
        yield node
        return
    for child in node.downstream:
        yield from _leaves(child)
