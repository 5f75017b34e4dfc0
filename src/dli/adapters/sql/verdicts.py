"""The SQL check's verdicts kept on disk, in the user's cache folder (``default_folder``).

Importing sqlglot costs a CLI process a few hundred milliseconds, more than the parse itself: a
``register`` (or ``validate``, ``publish``) of statements already checked reads the verdict instead.
An entry is found by the SHA-256 of what decides the parse (the rendered statement, the dialect, the
parser's fingerprint) and holds the statement itself, compared on reading: a changed statement, a
different dialect, another sqlglot or another dli analyzer is a miss, so the cache never passes what
was not parsed. An unreadable entry is a miss; a folder that cannot be written only costs the cache.

The folder is the user's, not the project's: a verdict depends on the statement alone, so every
project shares it, and no command writes into a project (its folder is the user's Git checkout).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dli.domain.model.sql_check import StatementAnalysis

__all__ = ["VerdictCache", "default_folder", "parser_fingerprint"]

# What the verdicts depend on besides the statement: the analyzer's code and this module's format.
_OWN_SOURCES = ("sqlglot_analyzer.py", "verdicts.py")


def default_folder(env: Mapping[str, str] = os.environ) -> Path | None:
    """``$DLI_SQL_CACHE`` (``off``: none), else ``$XDG_CACHE_HOME/dli/sql-check``, else ``~/.cache/dli/sql-check``."""
    chosen = env.get("DLI_SQL_CACHE")
    if chosen:
        return None if chosen.lower() == "off" else Path(chosen)
    base = env.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(base) / "dli" / "sql-check"


def parser_fingerprint() -> str | None:
    """Who parses: the installed sqlglot (its version and build) and dli's analyzer, without importing sqlglot.

    ``None`` when sqlglot is not installed (nothing is parsed, nothing is kept).
    """
    try:
        spec = importlib.util.find_spec("sqlglot")
    except (ImportError, ValueError):  # e.g. blocked in sys.modules
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in (package / "_version.py", package / "__init__.py"):
        try:
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
            if path.name == "_version.py":
                digest.update(path.read_bytes())
        except OSError:
            digest.update(f"{path.name}:missing\n".encode())
    # The compiled build (sqlglot[c]) and the pure Python one are different parsers as far as a cache knows.
    digest.update(b"compiled" if any(package.glob("tokenizer_core.*.so")) else b"python")
    here = Path(__file__).parent
    try:
        for name in _OWN_SOURCES:
            digest.update((here / name).read_bytes())
    except OSError:  # installed without its sources: no way to tell one dli analyzer from another
        return None
    return digest.hexdigest()


def _encode(analysis: StatementAnalysis) -> dict[str, Any]:
    problem = analysis.problem
    return {
        "problem": None if problem is None else [problem.message, problem.line, problem.column],
        "unchecked": analysis.unchecked,
        "reads": list(analysis.reads),
        "writes": list(analysis.writes),
    }


def _decode(sql: str, entry: dict[str, Any]) -> StatementAnalysis:
    from dli.domain.model.sql_check import StatementAnalysis, SyntaxProblem

    problem = entry["problem"]
    return StatementAnalysis(
        rendered=sql,
        problem=None if problem is None else SyntaxProblem(message=problem[0], line=problem[1], column=problem[2]),
        unchecked=entry["unchecked"],
        reads=tuple(entry["reads"]),
        writes=tuple(entry["writes"]),
    )


class VerdictCache:
    """Verdicts of one parser (``fingerprint``) under ``folder``, one small JSON file each."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self._folder = folder
        self._fingerprint = fingerprint

    def _path(self, sql: str, dialect: str | None) -> Path:
        key = hashlib.sha256(f"{self._fingerprint}\0{dialect or ''}\0{sql}".encode()).hexdigest()
        return self._folder / f"{key}.json"

    def get(self, sql: str, dialect: str | None) -> StatementAnalysis | None:
        """The kept verdict of exactly ``sql`` in ``dialect`` by this parser, or ``None``."""
        try:
            entry = json.loads(self._path(sql, dialect).read_text(encoding="utf-8"))
            if (entry["parser"], entry["dialect"], entry["sql"]) != (self._fingerprint, dialect, sql):
                return None
            return _decode(sql, entry)
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def put(self, sql: str, dialect: str | None, analysis: StatementAnalysis) -> None:
        """Keep the verdict (written whole or not at all; a failure to write is not an error)."""
        entry = {"parser": self._fingerprint, "dialect": dialect, "sql": sql, **_encode(analysis)}
        try:
            self._write(self._path(sql, dialect), entry)
        except OSError:
            return

    def knows_dialect(self, dialect: str) -> bool:
        """Whether this parser was found to know ``dialect`` (only a known one is kept)."""
        try:
            entry = json.loads(self._dialect_path(dialect).read_text(encoding="utf-8"))
            return bool(entry["parser"] == self._fingerprint and entry["dialect"] == dialect)
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def put_dialect(self, dialect: str) -> None:
        """Keep that this parser knows ``dialect``."""
        try:
            self._write(self._dialect_path(dialect), {"parser": self._fingerprint, "dialect": dialect})
        except OSError:
            return

    def _dialect_path(self, dialect: str) -> Path:
        key = hashlib.sha256(f"{self._fingerprint}\0dialect\0{dialect}".encode()).hexdigest()
        return self._folder / f"dialect-{key}.json"

    def _write(self, path: Path, entry: dict[str, Any]) -> None:
        if not self._folder.is_dir():
            self._folder.mkdir(parents=True, exist_ok=True)
            # A cache, not part of the project: git leaves it out (as pytest does its own).
            (self._folder / ".gitignore").write_text("*\n", encoding="utf-8")
        handle, temporary = tempfile.mkstemp(dir=self._folder, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(entry, file)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
