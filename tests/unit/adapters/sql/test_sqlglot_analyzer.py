"""The sqlglot adapter: statements parsed in their dialect, positions of syntax errors, tables, lineage."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlglot")

from dli.adapters.sql.rendering import PLACEHOLDER, render
from dli.adapters.sql.sqlglot_analyzer import SqlglotAnalyzer
from dli.domain.model.errors import SpecInvalidError

ANALYZER = SqlglotAnalyzer()
DATE = {"execution_date": "2025-01-01"}


def analyze(sql, dialect, variables=DATE):
    return ANALYZER.analyze(sql, variables=variables, dialect=dialect)


# Statements each valid in its dialect, with the tables they read and write.
VALID = [
    (
        "trino",
        (
            "INSERT INTO iceberg.reporting.daily SELECT country, COUNT(*) FROM iceberg.analytics.clicks "
            "WHERE dt = DATE '{{ execution_date }}' AND ts > current_timestamp - INTERVAL '1' DAY GROUP BY 1"
        ),
        ("iceberg.analytics.clicks",),
        ("iceberg.reporting.daily",),
    ),
    (
        "bigquery",
        (
            "MERGE `proj.mart.users` AS t USING (SELECT * FROM `proj.raw.users` WHERE _PARTITIONDATE = "
            "'{{ execution_date }}') AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = s.name "
            "WHEN NOT MATCHED THEN INSERT ROW"
        ),
        ("proj.raw.users",),
        ("proj.mart.users",),
    ),
    (
        "spark",
        (
            "INSERT OVERWRITE TABLE mart.daily PARTITION (dt = '{{ execution_date }}') "
            "SELECT user_id, explode(items) FROM raw.events LATERAL VIEW OUTER explode(tags) t AS tag"
        ),
        ("raw.events",),
        ("mart.daily",),
    ),
    (
        "postgres",
        (
            "WITH recent AS (SELECT id, amount::numeric FROM public.orders WHERE created_at >= "
            "'{{ execution_date }}'::date) INSERT INTO mart.totals SELECT id, SUM(amount) FROM recent GROUP BY id "
            "ON CONFLICT (id) DO UPDATE SET total = EXCLUDED.total"
        ),
        ("public.orders",),
        ("mart.totals",),
    ),
]


@pytest.mark.parametrize(("dialect", "sql", "reads", "writes"), VALID, ids=[v[0] for v in VALID])
def test_a_valid_statement_of_each_dialect_parses_with_its_tables(dialect, sql, reads, writes):
    result = analyze(sql, dialect)
    assert result.problem is None and result.unchecked is None
    assert "2025-01-01" in result.rendered
    assert result.reads == reads and result.writes == writes


# Statements broken in their dialect, with the (line, column) of the offending token's start.
BROKEN = [
    ("trino", "SELECT a,\n       b\nFROM t\nWHERE a = = 1", (4, 11)),
    ("bigquery", "SELECT *\nFROM `p.d.t`\nWHERE x IN (1, 2", (3, 16)),
    ("spark", "INSERT INTO db.t\nSELEC a FROM db.s", (2, 1)),
    ("postgres", "SELECT id\nFROM public.orders\nGROUP BY BY id", (3, 13)),  # "BY" read as a column, "id" is extra
]


@pytest.mark.parametrize(("dialect", "sql", "where"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_syntax_error_of_each_dialect_has_its_line_and_column(dialect, sql, where):
    result = analyze(sql, dialect)
    assert result.problem is not None
    assert (result.problem.line, result.problem.column) == where
    assert result.problem.message


def test_the_same_statement_is_valid_in_one_dialect_and_an_error_in_another():
    sql = "SELECT id FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY ts) = 1"
    assert analyze(sql, "bigquery").problem is None
    assert analyze("SELECT a FROM t WHERE a <=> b ON", "trino").problem is not None


def test_an_unclosed_quote_is_a_syntax_error_with_a_line():
    result = analyze("SELECT 1\nFROM t\nWHERE a = 'open", "trino")
    assert result.problem is not None and result.problem.line == 3


def test_a_vendor_command_the_parser_does_not_know_is_not_checked_not_refused():
    result = analyze(
        "ALTER TABLE iceberg.analytics.daily_clicks EXECUTE optimize WHERE dt = '{{ execution_date }}'", "trino"
    )
    assert result.problem is None
    assert result.unchecked is not None and "ALTER" in result.unchecked and "trino" in result.unchecked


def test_maintenance_statements_count_no_tables():
    result = analyze("ANALYZE iceberg.raw.user_events", "trino")
    assert result.problem is None and result.reads == () and result.writes == ()


def test_cte_names_are_not_tables_and_delete_targets_are_written():
    result = analyze("DELETE FROM s.t WHERE id IN (SELECT id FROM s.gone)", "trino")
    assert result.writes == ("s.t",) and result.reads == ("s.gone",)
    result = analyze("WITH c AS (SELECT 1 AS x FROM s.src) SELECT x FROM c", "trino")
    assert result.reads == ("s.src",)


def test_the_analyzer_says_which_dialects_it_knows():
    assert ANALYZER.knows_dialect("trino") and ANALYZER.knows_dialect("bigquery")
    assert not ANALYZER.knows_dialect("trinoo")


def test_jinja_renders_with_the_variables_and_run_only_names_as_a_placeholder():
    sql = "{% set t = 'a.b' %}SELECT * FROM {{ t }} WHERE d = '{{ macros.ds_add(ds, 1) }}' AND n = {{ n }}"
    assert render(sql, {"n": 3}) == f"SELECT * FROM a.b WHERE d = '{PLACEHOLDER}' AND n = 3"
    assert render("SELECT {{ missing }}", {}) == f"SELECT {PLACEHOLDER}"
    assert render("SELECT 1", {}) == "SELECT 1"


def test_a_template_that_needs_a_run_to_render_is_not_checked():
    result = analyze("SELECT {{ macros.x + 1 }}", "trino")
    assert result.problem is None and result.unchecked is not None and "needs a run" in result.unchecked


def test_column_lineage_traces_each_output_column_to_its_upstream_columns():
    sql = (
        "INSERT INTO mart.out SELECT o.region AS region, SUM(o.amount * r.rate) AS revenue, 1 AS one "
        "FROM raw.orders AS o JOIN raw.rates AS r ON o.currency = r.currency GROUP BY o.region"
    )
    lineage = {c.column: set(c.sources) for c in ANALYZER.lineage(sql, variables={}, dialect="trino")}
    assert lineage == {
        "region": {"raw.orders.region"},
        "revenue": {"raw.orders.amount", "raw.rates.rate"},
        "one": set(),
    }
    [only] = ANALYZER.lineage(sql, variables={}, dialect="trino", column="REVENUE")
    assert only.column == "revenue"
    with pytest.raises(SpecInvalidError, match="no output column 'nope'"):
        ANALYZER.lineage(sql, variables={}, dialect="trino", column="nope")
