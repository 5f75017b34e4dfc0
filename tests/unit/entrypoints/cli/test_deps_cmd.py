"""Dependencies in the CLI: ``deps``, ``register --after-upstream`` (and its dry run), the trigger in
``list``, and ``backfill --with-downstream``."""

from __future__ import annotations

import pytest

from tests.support.backends import write_spec
from tests.support.specs import make_spec


@pytest.fixture
def pipeline(cli):
    """shop.a (cron) -> shop.b (after upstream) -> shop.c (after upstream; also reads an external table)."""
    write_spec(cli.project, make_spec("shop.a", cron=None))
    write_spec(cli.project, make_spec("shop.b", cron=None, depends_on=("shop.a",)))
    write_spec(cli.project, make_spec("shop.c", cron=None, depends_on=("shop.b", "ext.raw.users")))
    assert cli("workflow", "register", "shop.a", "--cron", "0 6 * * *").exit_code == 0
    assert cli("workflow", "register", "shop.b", "--after-upstream").exit_code == 0
    result = cli("workflow", "register", "shop.c", "--after-upstream")
    assert result.exit_code == 0
    return result


def test_register_after_upstream_warns_about_external_upstreams_and_shows_the_trigger(pipeline):
    assert "Warning: 'shop.c' depends on ext.raw.users, which no store knows" in pipeline.stderr
    assert "  Trigger: after upstream" in pipeline.stdout and "  Cron: -" in pipeline.stdout
    assert "Next Run" not in pipeline.stdout


def test_register_needs_a_cron_or_after_upstream(cli):
    write_spec(cli.project, make_spec("shop.a", cron=None))
    result = cli("workflow", "register", "shop.a")
    assert result.exit_code == 2
    assert "DLI-805" in result.stderr and "--after-upstream" in result.stderr


def test_list_shows_the_trigger_in_a_column_and_in_json(cli, pipeline):
    rows = {
        line.split()[0]: line.split()
        for line in cli("workflow", "list", "-d", "shop.*").stdout.splitlines()
        if line.startswith("shop.")
    }
    assert rows["shop.a"][3:5] == ["cron", "0"]
    assert rows["shop.b"][3:6] == ["upstream", "-", "UTC"] and rows["shop.b"][-1] == "-"
    listed = {w["dataset_name"]: w for w in cli("workflow", "list", "-f", "json").json()["workflows"]}
    assert (listed["shop.b"]["trigger"], listed["shop.b"]["cron"], listed["shop.b"]["next_run"]) == (
        "upstream",
        None,
        None,
    )


def test_deps_prints_a_tree_with_externals_marked(cli, pipeline):
    result = cli("workflow", "deps", "shop.b")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "shop.b (manual, upstream)",
        "  Upstream (depends on):",
        "    └── shop.a (manual, cron)",
        "  Downstream (depend on it):",
        "    └── shop.c (manual, upstream)",
        "",
        "2 managed datasets",
    ]
    up = cli("workflow", "deps", "shop.c", "--upstream").stdout.splitlines()
    assert up[:5] == [
        "shop.c (manual, upstream)",
        "  Upstream (depends on):",
        "    ├── ext.raw.users (external)",
        "    └── shop.b (manual, upstream)",
        "        └── shop.a (manual, cron)",
    ]
    assert up[-1] == "2 managed datasets, 1 external (no store knows it)"


def test_deps_depth_json_and_mermaid(cli, pipeline):
    shallow = cli("workflow", "deps", "shop.a", "--downstream", "--depth", "1", "-f", "json").json()
    assert [n["name"] for n in shallow["nodes"]] == ["shop.a", "shop.b"]
    assert shallow["edges"] == [{"upstream": "shop.a", "downstream": "shop.b"}]
    chart = cli("workflow", "deps", "shop.c", "--upstream", "-f", "mermaid").stdout
    assert chart.startswith("flowchart LR\n")
    assert '(["ext.raw.users (external)"])' in chart
    assert "n3_shop_a --> n2_shop_b" in chart and "n2_shop_b --> n0_shop_c" in chart
    assert "class n1_ext_raw_users external" in chart


def test_deps_of_an_unknown_workflow_is_dli_800(cli):
    result = cli("workflow", "deps", "no.such.dataset")
    assert result.exit_code == 1 and "DLI-800" in result.stderr


def test_register_dry_run_explains_the_trigger_and_writes_nothing(cli, pipeline):
    write_spec(cli.project, make_spec("shop.d", cron=None, depends_on=("shop.c", "ext.t")))
    result = cli("workflow", "register", "shop.d", "--after-upstream", "--cron", "0 7 * * *", "--dry-run")
    assert result.exit_code == 0
    assert (
        "  Trigger: cron 0 7 * * * or new data in every managed upstream (shop.c), whichever comes first"
        in result.stdout
    )
    assert "External upstreams (no store knows them; never a trigger): ext.t" in result.stdout
    assert "Next 5 fire times:" in result.stdout
    only = cli("workflow", "register", "shop.d", "--after-upstream", "--dry-run", "--format", "json").json()
    assert only["trigger"] == "upstream" and only["fire_times"] == []
    assert only["upstreams"] == {"managed": ["shop.c"], "external": ["ext.t"]}
    assert cli("workflow", "list", "-d", "shop.d").stdout.startswith("No workflows found.")


def test_register_and_its_dry_run_refuse_a_cycle_naming_it(cli, pipeline):
    write_spec(cli.project, make_spec("shop.a", cron=None, depends_on=("shop.c",)))
    for extra in (("--dry-run",), ()):
        result = cli("workflow", "register", "shop.a", "--cron", "0 6 * * *", "--force", *extra)
        assert result.exit_code == 2
        assert "DLI-203" in result.stderr and "shop.a -> shop.c -> shop.b -> shop.a" in result.stderr
    assert cli("workflow", "deps", "shop.a", "--upstream", "-f", "json").json()["nodes"] == [
        {
            "name": "shop.a",
            "relation": "root",
            "distance": 0,
            "external": False,
            "source_type": "manual",
            "trigger": "cron",
        }
    ]


def test_backfill_with_downstream_dry_run_shows_the_order_and_wait_follows_every_run(cli, pipeline):
    dry = cli(
        "workflow", "backfill", "shop.a", "-s", "2025-01-02", "-e", "2025-01-03", "--with-downstream", "--dry-run"
    )
    assert dry.exit_code == 0
    assert "  Dates: 2025-01-02 .. 2025-01-03 (2 dates, 6 runs)" in dry.stdout
    order = dry.stdout.splitlines()[dry.stdout.splitlines().index("  Order:") + 1 :]
    assert [line.split() for line in order] == [
        ["2025-01-02", "shop.a"],
        ["2025-01-02", "shop.b"],
        ["2025-01-02", "shop.c"],
        ["2025-01-03", "shop.a"],
        ["2025-01-03", "shop.b"],
        ["2025-01-03", "shop.c"],
    ]
    done = cli(
        "workflow",
        "backfill",
        "shop.a",
        "-s",
        "2025-01-02",
        "-e",
        "2025-01-03",
        "--with-downstream",
        "--wait",
        "-f",
        "json",
    ).json()
    assert done["outcome"] == "completed"
    assert [(r["dataset_name"], r["parameters"]["execution_date"]) for r in done["runs"]] == [
        ("shop.a", "2025-01-02"),
        ("shop.b", "2025-01-02"),
        ("shop.c", "2025-01-02"),
        ("shop.a", "2025-01-03"),
        ("shop.b", "2025-01-03"),
        ("shop.c", "2025-01-03"),
    ]
