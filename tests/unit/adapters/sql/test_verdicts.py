"""The SQL check's verdicts kept on disk: a statement checked before is not parsed again (sqlglot not
even imported), and nothing but the very same statement, dialect and parser is ever answered from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dli
from dli.adapters.sql import LazySqlAnalyzer
from dli.adapters.sql.sqlglot_analyzer import SqlglotAnalyzer
from dli.adapters.sql.verdicts import VerdictCache, default_folder, parser_fingerprint

GOOD = "INSERT INTO lake.mart.daily SELECT id, amount FROM lake.raw.orders WHERE dt = '{{ execution_date }}'"
BROKEN = "SELECT id, FROM lake.raw.orders WHERE"
VARIABLES = {"execution_date": "2025-01-31"}


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("dialect-"))


def test_a_second_check_of_the_same_statement_answers_the_first_verdict_without_building_the_parser(tmp_path):
    first = LazySqlAnalyzer(tmp_path).analyze(GOOD, variables=VARIABLES, dialect="trino")
    again = LazySqlAnalyzer(tmp_path)
    second = again.analyze(GOOD, variables=VARIABLES, dialect="trino")
    assert second == first
    assert second.reads == ("lake.raw.orders",) and second.writes == ("lake.mart.daily",)
    assert again._analyzer is None  # nothing parsed


def test_a_kept_verdict_is_what_the_parser_says(tmp_path):
    for sql in (GOOD, BROKEN, "ALTER TABLE t EXECUTE optimize", "SELECT 1; SELECT 2"):
        LazySqlAnalyzer(tmp_path).analyze(sql, variables=VARIABLES, dialect="trino")
        kept = LazySqlAnalyzer(tmp_path).analyze(sql, variables=VARIABLES, dialect="trino")
        assert kept == SqlglotAnalyzer().analyze(sql, variables=VARIABLES, dialect="trino")


def test_a_syntax_error_is_kept_and_still_refused(tmp_path):
    LazySqlAnalyzer(tmp_path).analyze(BROKEN, variables={}, dialect="trino")
    kept = LazySqlAnalyzer(tmp_path).analyze(BROKEN, variables={}, dialect="trino")
    assert kept.problem is not None and kept.problem.line == 1


def test_a_statement_changed_by_one_character_is_parsed_again(tmp_path):
    LazySqlAnalyzer(tmp_path).analyze("SELECT id FROM lake.raw.orders", variables={}, dialect="trino")
    changed = LazySqlAnalyzer(tmp_path)
    result = changed.analyze("SELECT id FROM lake.raw.orders)", variables={}, dialect="trino")
    assert result.problem is not None
    assert changed._analyzer is not None


def test_a_parameter_that_renders_differently_is_parsed_again(tmp_path):
    template = "SELECT * FROM lake.raw.orders WHERE amount > {{ min }}"
    LazySqlAnalyzer(tmp_path).analyze(template, variables={"min": "10"}, dialect="trino")
    result = LazySqlAnalyzer(tmp_path).analyze(template, variables={"min": "10 AND"}, dialect="trino")
    assert result.problem is not None


def test_the_same_statement_in_another_dialect_is_parsed_again(tmp_path):
    sql = "SELECT `a` FROM t"  # backticks: an identifier in Spark, a syntax error in Trino
    assert LazySqlAnalyzer(tmp_path).analyze(sql, variables={}, dialect="spark").problem is None
    assert LazySqlAnalyzer(tmp_path).analyze(sql, variables={}, dialect="trino").problem is not None


def test_another_parser_version_answers_none_of_the_kept_verdicts(tmp_path):
    analysis = SqlglotAnalyzer().analyze("SELECT 1", variables={}, dialect="trino")
    VerdictCache(tmp_path, "sqlglot-1").put("SELECT 1", "trino", analysis)
    VerdictCache(tmp_path, "sqlglot-1").put_dialect("trino")
    assert VerdictCache(tmp_path, "sqlglot-1").get("SELECT 1", "trino") == analysis
    assert VerdictCache(tmp_path, "sqlglot-2").get("SELECT 1", "trino") is None
    assert not VerdictCache(tmp_path, "sqlglot-2").knows_dialect("trino")


def test_an_entry_that_does_not_hold_the_very_statement_is_not_believed(tmp_path):
    cache = VerdictCache(tmp_path, "p")
    cache.put("SELECT 1", "trino", SqlglotAnalyzer().analyze("SELECT 1", variables={}, dialect="trino"))
    (entry,) = _entries(tmp_path)
    # Another statement's verdict under this statement's name (a collision, a tampered file).
    forged = json.loads(entry.read_text()) | {"sql": "SELECT 2"}
    entry.write_text(json.dumps(forged))
    assert cache.get("SELECT 1", "trino") is None


@pytest.mark.parametrize("content", ["", "{", "[]", '{"parser": "p"}', "\x00\x01"])
def test_an_unreadable_entry_is_parsed_again(tmp_path, content):
    LazySqlAnalyzer(tmp_path).analyze(BROKEN, variables={}, dialect="trino")
    for entry in _entries(tmp_path):
        entry.write_text(content)
    again = LazySqlAnalyzer(tmp_path)
    assert again.analyze(BROKEN, variables={}, dialect="trino").problem is not None
    assert again._analyzer is not None


def test_a_folder_that_cannot_be_written_only_costs_the_cache(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    analyzer = LazySqlAnalyzer(blocked / "verdicts")
    assert analyzer.analyze(BROKEN, variables={}, dialect="trino").problem is not None
    assert analyzer.analyze(GOOD, variables=VARIABLES, dialect="trino").problem is None
    assert list(tmp_path.iterdir()) == [blocked]


def test_the_folder_keeps_itself_out_of_git(tmp_path):
    LazySqlAnalyzer(tmp_path / "v").analyze(GOOD, variables=VARIABLES, dialect="trino")
    assert (tmp_path / "v" / ".gitignore").read_text() == "*\n"
    assert not list((tmp_path / "v").glob("*.tmp"))


def test_a_known_dialect_is_kept_and_an_unknown_one_is_asked_each_time(tmp_path):
    assert LazySqlAnalyzer(tmp_path).knows_dialect("bigquery")
    kept = LazySqlAnalyzer(tmp_path)
    assert kept.knows_dialect("bigquery") and kept._analyzer is None
    assert not LazySqlAnalyzer(tmp_path).knows_dialect("no_such_dialect")
    assert not VerdictCache(tmp_path, parser_fingerprint() or "").knows_dialect("no_such_dialect")


def test_the_folder_is_the_users_cache_unless_set_or_turned_off(tmp_path):
    assert default_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "dli" / "sql-check"
    assert default_folder({}) == Path("~/.cache/dli/sql-check").expanduser()
    assert default_folder({"DLI_SQL_CACHE": str(tmp_path / "x"), "XDG_CACHE_HOME": "/y"}) == tmp_path / "x"
    assert default_folder({"DLI_SQL_CACHE": "off"}) is None


def test_a_register_of_sql_checked_before_does_not_import_sqlglot(tmp_path):
    code = (
        "import sys\n"
        "from dli.adapters.sql import LazySqlAnalyzer\n"
        "a = LazySqlAnalyzer('user')\n"
        f"a.knows_dialect('trino'); a.analyze({GOOD!r}, variables={VARIABLES!r}, dialect='trino')\n"
        "print('sqlglot' in sys.modules)"
    )
    src = str(Path(dli.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    ]
    assert runs == ["True", "False"]
    assert _entries(tmp_path / "dli" / "sql-check")


def test_the_fingerprint_changes_with_sqlglots_version_and_build(tmp_path, monkeypatch):
    import importlib.machinery
    import importlib.util

    package = tmp_path / "sqlglot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    spec = importlib.machinery.ModuleSpec("sqlglot", None, is_package=True)
    spec.submodule_search_locations = [str(package)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)

    def fingerprint(version: str, compiled: bool) -> str | None:
        (package / "_version.py").write_text(f"__version__ = {version!r}\n")
        (package / "tokenizer_core.cpython-311-x86_64-linux-gnu.so").unlink(missing_ok=True)
        if compiled:
            (package / "tokenizer_core.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
        return parser_fingerprint()

    seen = {fingerprint("30.30.0", True), fingerprint("30.30.1", True), fingerprint("30.30.1", False)}
    assert len(seen) == 3 and None not in seen


def test_without_sqlglot_nothing_is_kept(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlglot", None)
    assert parser_fingerprint() is None
