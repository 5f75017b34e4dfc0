"""The SQL check's verdicts (domain/model/sql_check.py, usecases/validate.py), with a scripted analyzer.

The analyzer only reports; these tests pin what dli makes of each report: an error, a warning, a
note, or nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.spec import Parameter, Statement
from dli.domain.model.sql_check import (
    SAMPLE_EXECUTION_DATE,
    Severity,
    StatementAnalysis,
    StatementReport,
    SyntaxProblem,
    dependency_findings,
    match_dataset,
    sample_variables,
    sql_error,
)
from dli.domain.usecases.validate import check_spec_sql, refuse_sql_errors
from dli.testing.specs import make_spec


class ScriptedAnalyzer:
    """Answers each statement's SQL from a table; records the dialect and variables it was given."""

    def __init__(self, answers: dict[str, StatementAnalysis] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, str | None, dict]] = []

    def knows_dialect(self, dialect):
        return dialect != "nosuchsql"

    def analyze(self, template, *, variables, dialect):
        self.calls.append((template, dialect, dict(variables)))
        return self.answers.get(template, StatementAnalysis(rendered=template))

    def lineage(self, template, *, variables, dialect, column=None):
        return ()


BROKEN = StatementAnalysis(
    rendered="SELECT a\nFROM t WHERE (",
    problem=SyntaxProblem(message="Expecting )", line=2, column=14),
)


def test_a_syntax_error_is_an_error_naming_statement_line_and_column_with_a_caret():
    spec = make_spec(query_statement="Q", execution={"dialect": "trino"})
    report = check_spec_sql(spec, ScriptedAnalyzer({"Q": BROKEN}))
    [error] = report.errors
    assert error.severity is Severity.ERROR and error.statement == "query_statement"
    assert error.message.startswith("query_statement, line 2, column 14: SQL syntax error: Expecting )")
    assert error.excerpt == "FROM t WHERE (\n             ^"
    assert report.statements[0].checked is False


def test_a_syntax_error_in_a_continue_on_error_statement_is_only_a_warning():
    spec = make_spec(
        query_statement="SELECT 1",
        post_statements=(Statement(sql="Q", name="stats", continue_on_error=True),),
        execution={"dialect": "trino"},
    )
    report = check_spec_sql(spec, ScriptedAnalyzer({"Q": BROKEN}))
    assert report.errors == ()
    [warning] = report.warnings
    assert warning.statement == "post_statements[0] (stats)" and "continue_on_error: true" in warning.message


def test_a_statement_the_parser_does_not_know_is_a_note_never_a_refusal():
    spec = make_spec(query_statement="ALTER", execution={"dialect": "trino"})
    report = check_spec_sql(spec, ScriptedAnalyzer({"ALTER": StatementAnalysis(unchecked="a vendor command")}))
    assert report.errors == () and report.warnings == ()
    [note] = report.notes
    assert note.message == "query_statement: not checked (a vendor command)"


def test_no_dialect_parses_generically_with_a_warning_saying_where_to_set_one():
    analyzer = ScriptedAnalyzer()
    report = check_spec_sql(make_spec(query_statement="SELECT 1"), analyzer)
    assert analyzer.calls[0][1] is None and report.dialect is None
    [warning] = report.warnings
    assert "no SQL dialect" in warning.message and "defaults.dialect" in (warning.hint or "")


def test_the_spec_dialect_is_passed_lower_case_and_statements_go_in_run_order():
    spec = make_spec(
        query_statement="QUERY",
        pre_statements=(Statement(sql="PRE"),),
        post_statements=(Statement(sql="POST"),),
        execution={"dialect": "BigQuery"},
    )
    analyzer = ScriptedAnalyzer()
    check_spec_sql(spec, analyzer)
    assert [(sql, dialect) for sql, dialect, _ in analyzer.calls] == [
        ("PRE", "bigquery"),
        ("QUERY", "bigquery"),
        ("POST", "bigquery"),
    ]


def test_statements_are_rendered_with_parameter_defaults_and_a_sample_execution_date():
    spec = make_spec(
        parameters=(
            Parameter(name="execution_date", type="date", required=True),
            Parameter(name="lookback", type="integer", default=7),
            Parameter(name="region", type="string", required=True),
            Parameter(name="since", type="date", default=dt.date(2024, 5, 1)),
        )
    )
    variables = sample_variables(spec)
    assert variables["execution_date"] == variables["ds"] == SAMPLE_EXECUTION_DATE
    assert variables["ds_nodash"] == SAMPLE_EXECUTION_DATE.replace("-", "")
    assert variables["lookback"] == 7 and variables["since"] == "2024-05-01"
    assert isinstance(variables["region"], str) and variables["region"]  # a sample of its type
    assert variables["params"]["lookback"] == 7


def test_errors_of_several_specs_are_one_dli_203_each_naming_its_file():
    spec = make_spec(query_statement="Q", execution={"dialect": "trino"})
    report = check_spec_sql(spec, ScriptedAnalyzer({"Q": BROKEN}))
    with pytest.raises(SpecInvalidError) as caught:
        refuse_sql_errors([report], files={spec.name: "models/dataset.shop.sales.daily.yaml"})
    error = caught.value
    assert error.code.value == "DLI-203"
    assert error.message.startswith("models/dataset.shop.sales.daily.yaml: shop.sales.daily: query_statement, line 2")
    assert "query_statement line 2:\nFROM t WHERE (\n             ^" in error.hints
    assert sql_error([check_spec_sql(make_spec(), ScriptedAnalyzer())]) is None


def test_a_read_dataset_missing_from_depends_on_is_a_warning_naming_the_fix():
    spec = make_spec("shop.report", query_statement="SELECT 1", execution={"dialect": "trino"})
    reports = [StatementReport(statement="query_statement", checked=True, reads=("shop.orders",))]
    [warning] = dependency_findings(spec, reports, managed=["shop.orders", "shop.report"])
    assert "reads dataset 'shop.orders', which depends_on does not name" in warning.message
    assert warning.hint == "Add 'shop.orders' to depends_on."


def test_a_depends_on_no_statement_reads_is_a_warning_only_when_every_statement_was_checked():
    spec = make_spec("shop.report", depends_on=("shop.orders", "shop.users"))
    read = StatementReport(statement="query_statement", checked=True, reads=("orders",))
    [warning] = dependency_findings(spec, [read], managed=["shop.orders", "shop.users"])
    assert warning.message == "depends_on names 'shop.users', which no statement reads"
    unchecked = StatementReport(statement="post_statements[0]", checked=False)
    assert dependency_findings(spec, [read, unchecked], managed=["shop.orders"]) == []


def test_tables_match_datasets_by_name_or_without_their_catalog_but_a_bare_name_only_exactly():
    datasets = ["iceberg.analytics.daily_clicks", "orders"]
    assert match_dataset("ICEBERG.analytics.daily_clicks", datasets) == "iceberg.analytics.daily_clicks"
    assert match_dataset("analytics.daily_clicks", datasets) == "iceberg.analytics.daily_clicks"
    assert match_dataset("daily_clicks", datasets) is None
    assert match_dataset("orders", datasets) == "orders"
    assert match_dataset("other.daily_clicks", datasets) is None


def test_a_dialect_the_parser_does_not_know_is_parsed_generically_and_its_errors_are_warnings():
    # The dialect also picks the Airflow connection: a name sqlglot lacks must not refuse the spec.
    spec = make_spec(query_statement="Q", execution={"dialect": "NoSuchSQL"})
    analyzer = ScriptedAnalyzer({"Q": BROKEN})
    report = check_spec_sql(spec, analyzer)
    assert analyzer.calls[0][1] is None and report.errors == ()
    messages = [w.message for w in report.warnings]
    assert any("sqlglot knows no SQL dialect 'nosuchsql'" in m for m in messages)
    assert any("SQL syntax error (parsed as generic SQL" in m for m in messages)
