"""The SQL analyzer: Jinja rendering (``rendering``) and sqlglot parsing (``sqlglot_analyzer``).

``build_sql_analyzer()`` gives the sqlglot analyzer when the ``sql`` extra is installed, else one
that checks nothing and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pathlib import Path

    from dli.adapters.sql.verdicts import VerdictCache
    from dli.domain.model.sql_check import ColumnLineage, StatementAnalysis
    from dli.ports.sql_analyzer import SqlAnalyzer

__all__ = ["LazySqlAnalyzer", "build_sql_analyzer"]


class LazySqlAnalyzer:
    """The analyzer, built on first use: importing sqlglot costs a few hundred milliseconds that
    commands checking no SQL (``list``, ``status`` ...) do not pay.

    Given a folder (``"user"``: the user's cache folder, ``verdicts.default_folder``), verdicts are
    kept there: a statement checked before by the same sqlglot is not parsed again, and sqlglot is
    not even imported.
    """

    def __init__(self, verdicts: Path | Literal["user"] | None = None) -> None:
        self._analyzer: SqlAnalyzer | None = None
        self._folder = verdicts
        self._cache: VerdictCache | None = None
        self._cache_opened = False

    def _built(self) -> SqlAnalyzer:
        if self._analyzer is None:
            self._analyzer = build_sql_analyzer()
        return self._analyzer

    def _verdicts(self) -> VerdictCache | None:
        if not self._cache_opened:
            self._cache_opened = True
            if self._folder is not None:
                from dli.adapters.sql.verdicts import VerdictCache, default_folder, parser_fingerprint

                folder = default_folder() if self._folder == "user" else self._folder
                fingerprint = parser_fingerprint()
                if folder is not None and fingerprint is not None:
                    self._cache = VerdictCache(folder, fingerprint)
        return self._cache

    def knows_dialect(self, dialect: str) -> bool:
        cache = self._verdicts()
        if cache is not None and cache.knows_dialect(dialect):
            return True
        known = self._built().knows_dialect(dialect)
        if known and cache is not None:
            cache.put_dialect(dialect)
        return known

    def analyze(self, template: str, *, variables: Mapping[str, Any], dialect: str | None) -> StatementAnalysis:
        cache = self._verdicts()
        if cache is None:
            return self._built().analyze(template, variables=variables, dialect=dialect)
        from dli.adapters.sql.rendering import RenderError, render, unrenderable

        try:
            sql = render(template, variables)
        except RenderError as exc:
            return unrenderable(template, exc)
        found = cache.get(sql, dialect)
        if found is not None:
            return found
        parse = getattr(self._built(), "parse", None)
        if parse is None:  # sqlglot is there but cannot be imported: nothing parsed, nothing kept
            return self._built().analyze(template, variables=variables, dialect=dialect)
        found = parse(sql, dialect=dialect)
        cache.put(sql, dialect, found)
        return found

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
