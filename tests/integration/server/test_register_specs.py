"""SERVER mode register of specs as users write them, against a real ``basecamp serve``: YAML that is
not JSON (dates in fields dli keeps as they are) travels, and broken Jinja is refused by the server
whatever client sent it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from dli.adapters.codecs.specs import spec_to_dict
from tests.integration.server.conftest import LiveServer
from tests.support.specs import make_spec

DATED_SPEC = """\
name: shop.dated
owner: engineer@example.com
query_statement: SELECT '{{ execution_date }}'
schema:
  - {name: dt, type: date}
versions:
  - version: v1
    started_at: 2024-01-01
    released_at: 2024-01-02 09:30:00
"""


def dli(live: LiveServer, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    env.update(DLI_API_TOKEN=live.process.token, XDG_CONFIG_HOME=str(project / ".xdg"))
    return subprocess.run(
        [sys.executable, "-m", "dli", "--mode", "server", "--server", live.url, "--path", str(project), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_server_mode_registers_a_spec_whose_unknown_field_holds_a_yaml_date(live: LiveServer, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "dli.yaml").write_text("project: shop\n")
    (project / "dataset.shop.dated.yaml").write_text(DATED_SPEC)

    result = dli(live, project, "workflow", "register", "shop.dated", "--cron", "0 6 * * *")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "not JSON serializable" not in result.stderr
    stored = yaml.safe_load((live.store_dir / "manual" / "shop.dated.yaml").read_text())
    assert stored["versions"] == [{"version": "v1", "started_at": "2024-01-01", "released_at": "2024-01-02T09:30:00"}]
    assert stored["schema"] == [{"name": "dt", "type": "date"}]
    listed = json.loads(dli(live, project, "workflow", "list", "-d", "shop.dated", "--format", "json").stdout)
    assert [w["dataset_name"] for w in listed["workflows"]] == ["shop.dated"]
    again = dli(live, project, "workflow", "register", "shop.dated", "--cron", "0 7 * * *", "--force")
    assert again.returncode == 0, again.stderr


def test_the_server_refuses_a_spec_with_broken_jinja_and_stores_nothing(live: LiveServer):
    spec = spec_to_dict(make_spec("shop.broken_jinja", cron="0 9 * * *"))
    spec["pre_statements"] = ["SELECT 1", "DELETE FROM t WHERE dt = '{{ execution_date }'"]
    response = live.call("POST", "/api/v1/workflows", json={"spec": spec, "force": False})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "DLI-203"
    assert error["message"].startswith("spec.pre_statements[1], line 1: invalid Jinja template: unexpected '}'")
    assert error["hints"]
    assert not any("shop.broken_jinja" in f for f in live.stored_files())


def test_server_mode_register_takes_the_specs_schedule_section_and_flags_override_it(live: LiveServer, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "dli.yaml").write_text("")
    (project / "dataset.shop.scheduled.yaml").write_text(
        'name: shop.scheduled\nquery_statement: SELECT 1\nschedule: {cron: "15 4 * * *", timezone: Asia/Seoul}\n'
    )
    (project / "dataset.shop.unscheduled.yaml").write_text("name: shop.unscheduled\nquery_statement: SELECT 1\n")

    dry = dli(live, project, "workflow", "register", "shop.scheduled", "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    assert (json.loads(dry.stdout)["schedule"]["cron"], json.loads(dry.stdout)["schedule"]["timezone"]) == (
        "15 4 * * *",
        "Asia/Seoul",
    )
    result = dli(live, project, "workflow", "register", "shop.scheduled")
    assert result.returncode == 0, result.stderr
    assert "  Cron: 15 4 * * *" in result.stdout and "  Timezone: Asia/Seoul" in result.stdout
    stored = yaml.safe_load((live.store_dir / "manual" / "shop.scheduled.yaml").read_text())
    assert (stored["schedule"]["cron"], stored["schedule"]["timezone"]) == ("15 4 * * *", "Asia/Seoul")

    again = dli(
        live, project, "workflow", "register", "shop.scheduled", "--retry-attempts", "3", "--disabled", "--force"
    )
    assert again.returncode == 0, again.stderr
    stored = yaml.safe_load((live.store_dir / "manual" / "shop.scheduled.yaml").read_text())["schedule"]
    assert (stored["cron"], stored["timezone"], stored["enabled"], stored["retry"]["max_attempts"]) == (
        "15 4 * * *",
        "Asia/Seoul",
        False,
        3,
    )

    refused = dli(live, project, "workflow", "register", "shop.unscheduled")
    assert refused.returncode == 2
    assert refused.stderr.startswith("Error [DLI-805]: A schedule needs a cron expression")
    assert not any("shop.unscheduled" in f for f in live.stored_files())


def test_server_mode_history_of_a_name_no_workflow_has_is_empty_with_a_warning(live: LiveServer, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "dli.yaml").write_text("")
    (project / "dataset.shop.history_seen.yaml").write_text("name: shop.history_seen\nquery_statement: SELECT 1\n")
    assert dli(live, project, "workflow", "register", "shop.history_seen", "-c", "0 9 * * *").returncode == 0

    result = dli(live, project, "workflow", "history", "-d", "shop.history_sen", "--show-dataset-info")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Warning: No workflow is named 'shop.history_sen'; did you mean 'shop.history_seen'?\n"
    assert result.stdout.splitlines()[:2] == ["Dataset Info:", "  No dataset information found for 'shop.history_sen'."]
    assert result.stdout.splitlines()[-1] == "Total: 0 runs shown (0 available)"
    data = json.loads(dli(live, project, "workflow", "history", "-d", "no.such.thing", "-f", "json").stdout)
    assert (data["runs"], data["warnings"]) == ([], ["No workflow is named 'no.such.thing' (see 'dli workflow list')"])
    known = json.loads(dli(live, project, "workflow", "history", "-d", "shop.history_seen", "-f", "json").stdout)
    assert (known["runs"], known["warnings"]) == ([], [])


def test_the_server_refuses_a_spec_whose_sql_does_not_parse_in_its_dialect_and_stores_nothing(live: LiveServer):
    # Whatever client sent it (an older dli, curl): the server runs the SQL check on what it is sent.
    spec = spec_to_dict(make_spec("shop.broken_sql", cron="0 9 * * *", execution={"dialect": "trino"}))
    spec["query_statement"] = (
        "SELECT region,\n  COUNT(*)\nFROM shop.orders\nWHERE dt = '{{ execution_date }}' AND AND 1 = 1"
    )
    response = live.call("POST", "/api/v1/workflows", json={"spec": spec, "force": False})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "DLI-203"
    assert error["message"].startswith("spec: shop.broken_sql: query_statement, line 4, column 29: SQL syntax error")
    assert "WHERE dt = '2025-01-01' AND AND 1 = 1\n                            ^" in "\n".join(error["hints"])
    assert not any("shop.broken_sql" in f for f in live.stored_files())


def test_the_server_accepts_a_vendor_statement_it_cannot_parse_and_warns_about_a_missing_dialect(live: LiveServer):
    spec = spec_to_dict(make_spec("shop.vendor_sql", cron="0 9 * * *"))
    spec["post_statements"] = [{"sql": "ALTER TABLE shop.vendor_sql EXECUTE optimize", "continue_on_error": True}]
    response = live.call("POST", "/api/v1/workflows", json={"spec": spec, "force": False})
    assert response.status_code == 201, response.text
    assert "no SQL dialect" in response.json()["warning"]
    assert "manual/shop.vendor_sql.yaml" in live.stored_files()


def test_server_mode_register_names_the_spec_file_of_a_syntax_error(live: LiveServer, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "dli.yaml").write_text("defaults: {dialect: postgres}\n")
    path = project / "dataset.shop.typo.yaml"
    path.write_text("name: shop.typo\nquery_statement: SELECT id FROM public.orders GROUP BY BY id\n")
    result = dli(live, project, "workflow", "register", "shop.typo", "--cron", "0 6 * * *")
    assert result.returncode == 2
    assert f"[DLI-203]: {path}: shop.typo: query_statement, line 1, column " in result.stderr
    assert not any("shop.typo" in f for f in live.stored_files())


def test_server_mode_deps_from_sql_and_lineage_read_the_stored_sql(live: LiveServer, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "dli.yaml").write_text("defaults: {dialect: spark}\n")
    (project / "dataset.mart.lineage_daily.yaml").write_text(
        "name: mart.lineage_daily\ndepends_on: [raw.events]\nquery_statement: |\n"
        "  INSERT OVERWRITE TABLE mart.lineage_daily\n"
        "  SELECT user_id, COUNT(*) AS clicks FROM raw.events WHERE dt = '{{ execution_date }}' GROUP BY user_id\n"
    )
    assert dli(live, project, "workflow", "register", "mart.lineage_daily", "--cron", "0 6 * * *").returncode == 0
    deps = dli(live, project, "workflow", "deps", "mart.lineage_daily", "--from-sql", "-f", "json")
    assert deps.returncode == 0, deps.stderr
    assert json.loads(deps.stdout)["from_sql"] == [{"table": "raw.events", "dataset": None, "declared": True}]
    lineage = dli(live, project, "workflow", "lineage", "mart.lineage_daily", "-f", "json")
    assert lineage.returncode == 0, lineage.stderr
    body = json.loads(lineage.stdout)
    assert body["dialect"] == "spark"
    assert {c["column"]: c["sources"] for c in body["columns"]} == {
        "user_id": ["raw.events.user_id"],
        "clicks": [],
    }
