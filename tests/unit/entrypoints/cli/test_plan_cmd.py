"""``dli workflow plan``: publish's plan explained (fields and SQL diff, MANUAL workflows overridden or
active again, schedule changes with fire times, downstream reach, SQL findings); writes nothing;
``--detailed-exitcode`` as terraform plan's."""

from __future__ import annotations

from pathlib import Path

import pytest

from dli.domain.model.enums import SourceType
from dli.testing.specs import make_document

pytest.importorskip("sqlglot")

ORDERS = """\
name: shop.orders
execution: {dialect: trino}
schedule: {cron: "0 5 * * *", timezone: Europe/Berlin}
query_statement: INSERT INTO shop.orders SELECT * FROM raw.orders WHERE dt = '{{ execution_date }}'
"""
REPORT = """\
name: shop.report
execution: {dialect: trino}
depends_on: [shop.orders]
schedule: {cron: "0 6 * * *", after: upstream}
query_statement: INSERT INTO shop.report SELECT region, COUNT(*) FROM shop.orders GROUP BY region
"""


def _write(project: Path, text: str) -> None:
    name = text.split("\n", 1)[0].removeprefix("name: ")
    (project / f"dataset.{name}.yaml").write_text(text)


@pytest.fixture
def setup(cli, tmp_path):
    project = cli.project
    (project / "dli.yaml").write_text("project: shop\n")
    _write(project, ORDERS)
    _write(project, REPORT)
    store = tmp_path / "store"
    store.mkdir()
    assert cli.fresh("workflow", "publish", "--store", store.as_uri()).exit_code == 0
    return project, store


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_nothing_to_do_exits_0_with_detailed_exitcode(cli, setup):
    _, store = setup
    result = cli.fresh("workflow", "plan", "--store", store.as_uri(), "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "0 to create, 0 to update, 0 to delete, 2 unchanged." in result.stdout


def test_a_changed_spec_shows_its_fields_sql_diff_fire_times_and_downstream_and_exits_2(cli, setup):
    project, store = setup
    before = _snapshot(store)
    _write(project, ORDERS.replace('"0 5 * * *"', '"30 4 * * *"').replace("SELECT *", "SELECT id, amount"))
    result = cli.fresh("workflow", "plan", "--store", store.as_uri(), "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    out = result.stdout
    assert "~ update shop.orders" in out and "changed: query_statement, schedule" in out
    assert "-INSERT INTO shop.orders SELECT * FROM raw.orders" in out
    assert "+INSERT INTO shop.orders SELECT id, amount FROM raw.orders" in out
    assert "schedule: 0 5 * * * -> 30 4 * * * (Europe/Berlin); next: " in out and out.count(" 04:30 CET") == 3
    assert "reaches downstream: shop.report" in out
    assert _snapshot(store) == before  # nothing written
    data = cli.fresh("workflow", "plan", "--store", store.as_uri(), "-f", "json").json()
    [item] = [i for i in data["items"] if i["action"] == "update"]
    assert item["changed_fields"] == ["query_statement", "schedule"] and len(item["next_fire_times"]) == 3


def test_a_new_code_spec_over_a_manual_one_and_a_pruned_one_are_named(cli, setup):
    project, store = setup
    from dli.adapters.stores.filesystem import FilesystemSpecStore

    files = FilesystemSpecStore(store)
    files.create(SourceType.MANUAL, make_document("shop.extra", source=SourceType.MANUAL))
    files.create(SourceType.MANUAL, make_document("shop.report", source=SourceType.MANUAL))
    _write(project, ORDERS.replace("shop.orders", "shop.extra"))
    (project / "dataset.shop.report.yaml").unlink()
    result = cli.fresh("workflow", "plan", "--store", store.as_uri(), "--prune", "-f", "markdown")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "| create | `shop.extra` | the MANUAL workflow 'shop.extra' becomes overridden by this CODE spec" in out
    assert "| delete | `shop.report` | the MANUAL workflow 'shop.report' becomes active again" in out
    assert "1 to create, 0 to update, 1 to delete, 1 unchanged" in out


def test_a_syntax_error_is_shown_in_the_plan_and_exits_1(cli, setup):
    project, store = setup
    _write(project, REPORT.replace("GROUP BY region", "GROUP BY BY region"))
    result = cli.fresh("workflow", "plan", "--store", store.as_uri(), "--detailed-exitcode")
    assert result.exit_code == 1
    assert "SQL error: query_statement, line 1, column" in result.stdout
    assert "1 SQL error(s): publish would refuse the project" in result.stdout


def test_an_invalid_spec_file_is_exit_1_with_detailed_exitcode(cli, setup):
    project, store = setup
    (project / "dataset.shop.bad.yaml").write_text("name: shop.bad\nquery_statement: [not, text]\n")
    result = cli.fresh("workflow", "plan", "--store", store.as_uri(), "--detailed-exitcode")
    assert result.exit_code == 1 and "[DLI-203]" in result.stderr
    assert cli.fresh("workflow", "plan", "--store", store.as_uri()).exit_code == 2  # DLI-203's usual exit
