"""The SQL check from the command line: ``validate``, and ``register`` (and its dry run) and
``publish`` refusing a statement that does not parse in its dialect, naming file, statement, line
and column with a caret, and writing nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dli.domain.model.enums import SourceType

pytest.importorskip("sqlglot")

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus" / "upstream_sample"

BROKEN = """\
name: shop.broken
owner: me@example.com
execution: {dialect: trino}
depends_on: [shop.orders]
query_statement: |
  INSERT INTO shop.broken
  SELECT region, COUNT(*)
  FROM shop.orders
  WHERE dt = '{{ execution_date }}' AND AND amount > 0
  GROUP BY region
"""
SOFT = """\
name: shop.soft
owner: me@example.com
execution: {dialect: trino}
query_statement: SELECT region FROM shop.orders
post_statements:
  - name: stats
    sql: DELETE FROM shop.soft WHERE (dt < DATE '{{ execution_date }}'
    continue_on_error: true
"""
ORDERS = """\
name: shop.orders
owner: me@example.com
execution: {dialect: trino}
query_statement: INSERT INTO shop.orders SELECT * FROM raw.orders
"""


def _project(root: Path, *specs: str) -> Path:
    (root / "dli.yaml").write_text("project: shop\n")
    (root / "models").mkdir(exist_ok=True)
    for text in specs:
        name = text.split("\n", 1)[0].removeprefix("name: ")
        (root / "models" / f"dataset.{name}.yaml").write_text(text)
    return root


def _assert_names_the_syntax_error(stderr: str, project: Path) -> None:
    assert "[DLI-203]" in stderr
    assert (
        f"{project / 'models' / 'dataset.shop.broken.yaml'}: shop.broken: query_statement, line 4, column 29" in stderr
    )
    # The offending line and a caret under the second AND.
    assert "WHERE dt = '2025-01-01' AND AND amount > 0" in stderr
    lines = stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if line.rstrip().endswith("AND AND amount > 0"))
    caret = lines[at + 1]
    assert caret.strip() == "^"
    assert lines[at][caret.index("^") :].startswith("AND amount")


def test_validate_lists_each_spec_and_fails_with_dli_203_on_a_syntax_error(cli):
    project = _project(cli.project, BROKEN, ORDERS)
    result = cli("workflow", "validate")
    assert result.exit_code == 2
    assert "FAIL shop.broken (trino; 0 of 1 statement(s) checked)" in result.stdout
    assert "ok   shop.orders (trino; 1 of 1 statement(s) checked)" in result.stdout
    assert "2 specs checked: 1 error(s)" in result.stdout
    _assert_names_the_syntax_error(result.stderr, project)


def test_validate_json_has_the_findings_and_exits_2_when_invalid(cli):
    _project(cli.project, BROKEN, ORDERS)
    result = cli("workflow", "validate", "shop.broken", "--format", "json")
    assert result.exit_code == 2
    data = result.json()
    [spec] = data["specs"]
    assert spec["valid"] is False and spec["dialect"] == "trino"
    [finding] = spec["findings"]
    assert (finding["severity"], finding["line"], finding["column"]) == ("error", 4, 29)
    assert data["errors"] == 1


def test_validate_of_a_valid_project_exits_0_with_its_tables(cli):
    _project(cli.project, ORDERS)
    result = cli("workflow", "validate", "--all", "-f", "json")
    assert result.exit_code == 0, result.stderr
    [statement] = result.json()["specs"][0]["statements"]
    assert statement["reads"] == ["raw.orders"] and statement["writes"] == ["shop.orders"]


def test_a_continue_on_error_statement_with_a_syntax_error_is_only_a_warning(cli):
    _project(cli.project, SOFT, ORDERS)
    result = cli("workflow", "validate", "shop.soft")
    assert result.exit_code == 0, result.stderr
    assert "warning post_statements[0] (stats), line 1" in result.stdout
    registered = cli("workflow", "register", "shop.soft", "--cron", "0 6 * * *")
    assert registered.exit_code == 0, registered.stderr
    assert "continue_on_error: true" in registered.stderr


def test_register_refuses_a_syntax_error_naming_the_file_and_writes_nothing(cli):
    project = _project(cli.project, BROKEN, ORDERS)
    result = cli("workflow", "register", "shop.broken", "--cron", "0 6 * * *")
    assert result.exit_code == 2
    assert "[DLI-203]" in result.stderr and "query_statement, line 4, column 29: SQL syntax error" in result.stderr
    assert str(project / "models" / "dataset.shop.broken.yaml") in result.stderr
    assert cli.store.read(SourceType.MANUAL, "shop.broken") is None


def test_register_dry_run_refuses_it_too(cli):
    project = _project(cli.project, BROKEN, ORDERS)
    result = cli("workflow", "register", "shop.broken", "--cron", "0 6 * * *", "--dry-run")
    assert result.exit_code == 2
    _assert_names_the_syntax_error(result.stderr, project)


def test_register_warns_about_a_read_dataset_missing_from_depends_on(cli):
    _project(cli.project, ORDERS, SOFT)
    assert cli("workflow", "register", "shop.orders", "--cron", "0 5 * * *").exit_code == 0
    result = cli("workflow", "register", "shop.soft", "--cron", "0 6 * * *")
    assert result.exit_code == 0
    assert "the SQL reads dataset 'shop.orders', which depends_on does not name" in result.stderr
    assert "Add 'shop.orders' to depends_on." in result.stderr


def test_publish_refuses_a_syntax_error_and_writes_nothing(cli, tmp_path_factory):
    project = _project(cli.project, BROKEN.replace("depends_on", "schedule: {cron: '0 6 * * *'}\ndepends_on"), ORDERS)
    store = tmp_path_factory.mktemp("store")
    result = cli.fresh("workflow", "publish", "--path", str(project), "--store", store.as_uri())
    assert result.exit_code == 2
    assert "[DLI-203]" in result.stderr
    assert f"{project / 'models' / 'dataset.shop.broken.yaml'}: shop.broken: query_statement, line 4" in result.stderr
    assert not any(p.is_file() for p in store.rglob("*"))


def test_a_spec_without_a_dialect_is_parsed_generically_with_a_warning(cli):
    _project(cli.project, ORDERS.replace("execution: {dialect: trino}\n", ""))
    result = cli("workflow", "validate")
    assert result.exit_code == 0
    assert "ok   shop.orders (generic SQL;" in result.stdout
    assert "warning no SQL dialect" in result.stdout


def test_the_dli_yaml_default_dialect_is_used_when_the_spec_names_none(cli):
    _project(cli.project, ORDERS.replace("execution: {dialect: trino}\n", ""))
    (cli.project / "dli.yaml").write_text("project: shop\ndefaults: {dialect: bigquery}\n")
    result = cli("workflow", "validate")
    assert "ok   shop.orders (bigquery;" in result.stdout


def test_the_corpus_project_validates_with_its_vendor_statements_noted(cli, tmp_path):
    project = tmp_path / "corpus"
    shutil.copytree(CORPUS, project)
    result = cli("workflow", "validate", "--path", str(project))
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.stdout
    assert "not checked (sqlglot does not parse this ALTER statement in the trino dialect)" in result.stdout


REPORT = """\
name: shop.report
owner: me@example.com
execution: {dialect: trino}
depends_on: [shop.orders, shop.users]
query_statement: |
  INSERT INTO shop.report
  SELECT o.region AS region, SUM(o.amount * f.rate) AS revenue, '{{ execution_date }}' AS dt
  FROM shop.orders AS o JOIN raw.fx AS f ON o.currency = f.currency
  GROUP BY o.region
"""


@pytest.fixture
def registered(cli):
    _project(cli.project, ORDERS, REPORT)
    assert cli("workflow", "register", "shop.orders", "--cron", "0 5 * * *").exit_code == 0
    result = cli("workflow", "register", "shop.report", "--cron", "0 6 * * *")
    assert result.exit_code == 0
    return result


def test_register_warns_about_a_depends_on_entry_no_statement_reads(registered):
    assert "depends_on names 'shop.users', which no statement reads" in registered.stderr


def test_deps_from_sql_shows_the_tables_read_beside_the_declared_edges(cli, registered):
    result = cli("workflow", "deps", "shop.report", "--upstream", "--from-sql")
    assert result.exit_code == 0, result.stderr
    assert "From the SQL (tables its statements read):" in result.stdout
    assert "  shop.orders  (dataset shop.orders; declared in depends_on)" in result.stdout
    assert "  raw.fx  (not a dataset dli manages; NOT in depends_on)" in result.stdout
    assert "depends_on names 'shop.users', which no statement reads" in result.stderr
    data = cli("workflow", "deps", "shop.report", "--from-sql", "-f", "json").json()
    assert {e["table"]: e["declared"] for e in data["from_sql"]} == {"shop.orders": True, "raw.fx": False}
    assert cli("workflow", "deps", "shop.report", "-f", "json").json()["from_sql"] is None


def test_lineage_traces_each_output_column_to_its_upstream_columns(cli, registered):
    result = cli("workflow", "lineage", "shop.report", "-f", "json")
    assert result.exit_code == 0, result.stderr
    columns = {c["column"]: set(c["sources"]) for c in result.json()["columns"]}
    assert columns == {
        "region": {"shop.orders.region"},
        "revenue": {"shop.orders.amount", "raw.fx.rate"},
        "dt": set(),
    }
    table = cli("workflow", "lineage", "shop.report", "--column", "region").stdout.splitlines()
    assert table == ["COLUMN  SOURCES", "region  shop.orders.region"]


def test_lineage_of_an_unknown_column_is_dli_203_listing_the_columns(cli, registered):
    result = cli("workflow", "lineage", "shop.report", "--column", "nope")
    assert result.exit_code == 2
    assert "no output column 'nope'" in result.stderr and "region, revenue, dt" in result.stderr
