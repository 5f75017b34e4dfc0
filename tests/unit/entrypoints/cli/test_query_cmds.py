"""``dli workflow list``, ``history`` and ``status``."""

from __future__ import annotations

import io

import pytest

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ServerError, SpecInvalidError
from dli.entrypoints.cli.app import invoke
from dli.testing.specs import make_document

CLICKS = "iceberg.analytics.daily_clicks"


class TestList:
    def test_list_all(self, cli):
        result = cli("workflow", "list")
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["DATASET", "SOURCE", "STATUS", "TRIGGER", "CRON", "TIMEZONE", "NEXT", "RUN"]
        assert lines[-1] == "Total: 4 workflows (2 active, 1 paused, 1 overridden)"

    def test_list_filter_source(self, cli):
        result = cli("workflow", "list", "--source", "manual")
        assert result.exit_code == 0
        rows = [line.split() for line in result.stdout.splitlines()[1:] if line.startswith("iceberg.")]
        assert {row[1] for row in rows} == {"manual"}
        assert result.stdout.splitlines()[-1] == "Total: 2 workflows (1 active, 1 overridden)"

    def test_overridden_manual_shows_by_code_instead_of_next_run(self, cli):
        result = cli("workflow", "list", "-s", "manual")
        row = next(line for line in result.stdout.splitlines() if "overridden" in line)
        assert row.split()[0] == CLICKS
        assert row.endswith("- (by code)")

    def test_next_run_is_in_the_workflows_timezone(self, cli):
        cli("workflow", "unpause", "iceberg.analytics.user_metrics")
        result = cli("workflow", "list", "-d", "user_metrics")
        row = next(line for line in result.stdout.splitlines() if line.startswith("iceberg."))
        # 2025-01-01 08:00 UTC is 17:00 KST: the next 10:00 KST is the next day.
        assert row.endswith("2025-01-02 10:00 KST")

    def test_status_and_enabled_filters(self, cli):
        paused = cli("workflow", "list", "--status", "paused", "-f", "json").json()
        assert [w["dataset_name"] for w in paused["workflows"]] == ["iceberg.analytics.user_metrics"]
        result = cli("workflow", "list", "--source", "code", "--enabled-only")
        assert result.exit_code == 0

    def test_the_team_filter_lists_that_team_s_workflows_only(self, cli):
        team = cli("workflow", "list", "--team", "@data-engineering", "-f", "json").json()
        assert team["total_count"] == 4 and {w["team"] for w in team["workflows"]} == {"@data-engineering"}
        other = cli("workflow", "list", "--team", "@marketing")
        assert other.exit_code == 0 and "No workflows found." in other.stdout

    def test_json_rows_carry_the_status_of_their_newest_run_as_the_history_lists_it(self, cli):
        cli("workflow", "run", "iceberg.analytics.ad_hoc_report")
        rows = cli("workflow", "list", "-f", "json").json()["workflows"]
        assert len(rows) == 4
        for row in rows:
            runs = cli("workflow", "history", "-d", row["dataset_name"], "-n", "1", "-f", "json").json()["runs"]
            assert row["last_run_status"] == (runs[0]["status"] if runs else None), row["dataset_name"]
        assert {row["last_run_status"] for row in rows} >= {None, "COMPLETED"}

    def test_running_filter(self, cli):
        assert "No workflows found." in cli("workflow", "list", "--running").stdout
        cli("workflow", "run", "iceberg.analytics.ad_hoc_report")
        data = cli("workflow", "list", "--running", "-f", "json").json()
        assert [w["dataset_name"] for w in data["workflows"]] == ["iceberg.analytics.ad_hoc_report"]
        assert "(running)" in cli("workflow", "list", "--running").stdout

    def test_empty_list_says_so_and_totals_zero(self, cli):
        result = cli("workflow", "list", "-d", "nothing_matches_this")
        assert result.exit_code == 0
        assert result.stdout.splitlines() == ["No workflows found.", "Total: 0 workflows"]

    def test_limit_reports_how_many_matched(self, cli):
        result = cli("workflow", "list", "-n", "1")
        assert "Total: 1 workflow (1 active); 4 matched, raise --limit to see more" in result.stdout

    def test_invalid_source_is_a_usage_error(self, cli):
        assert cli("workflow", "list", "--source", "git").exit_code == 2

    def test_json_schema(self, cli):
        data = cli("workflow", "list", "--format", "json").json()
        assert set(data) == {"workflows", "total_count", "status", "next_cursor", "broken", "broken_count", "warnings"}
        assert data["total_count"] == 4 and data["status"] == "success"
        assert (data["next_cursor"], data["broken"], data["broken_count"], data["warnings"]) == (None, [], 0, [])
        info = data["workflows"][0]
        assert {
            "dataset_name",
            "source_type",
            "status",
            "cron",
            "timezone",
            "next_run",
            "overridden_by",
            "enabled",
            "running",
            "owner",
            "team",
            "description",
            "registered_by",
            "registered_at",
            "status_known",
        } <= set(info)
        assert info["status_known"] is True
        assert info["next_run"] == "2025-01-06T12:00:00+00:00"

    def test_a_limit_above_one_page_follows_the_pages_and_after_continues(self, cli):
        for i in range(1_205):
            cli.store.create(SourceType.MANUAL, make_document(f"bulk.page.t{i:04d}"))
        first = cli("workflow", "list", "-d", "bulk.page.*", "-n", "1100", "-f", "json").json()
        names = [w["dataset_name"] for w in first["workflows"]]
        assert names == [f"bulk.page.t{i:04d}" for i in range(1_100)]  # more than one request answers
        assert first["total_count"] == 1_205 and first["next_cursor"] == "bulk.page.t1099/manual"
        rest = cli("workflow", "list", "-d", "bulk.page.*", "-n", "500", "--after", first["next_cursor"], "-f", "json")
        assert [w["dataset_name"] for w in rest.json()["workflows"]] == [
            f"bulk.page.t{i:04d}" for i in range(1_100, 1_205)
        ]
        assert rest.json()["next_cursor"] is None
        table = cli("workflow", "list", "-d", "bulk.page.*", "-n", "3")
        assert table.stdout.splitlines()[-1] == (
            "Total: 3 workflows (3 active); 1205 matched, raise --limit to see more (or --after bulk.page.t0002/manual)"
        )

    def test_a_bad_cursor_is_a_parameter_error(self, cli):
        result = cli("workflow", "list", "--after", "../etc/passwd")
        assert result.exit_code != 0 and "DLI-204" in result.stderr

    def test_unreadable_specs_are_named_on_stderr_and_every_other_spec_is_listed(self, cli, monkeypatch):
        cli.store.create(SourceType.MANUAL, make_document("iceberg.broken.one"))
        read = cli.store.read

        def failing_read(source, name):
            if name == "iceberg.broken.one":
                raise SpecInvalidError("memory://manual/iceberg.broken.one.yaml: schedule.cron: it never fires")
            return read(source, name)

        monkeypatch.setattr(cli.store, "read", failing_read)
        result = cli("workflow", "list")
        assert result.exit_code == 0
        assert result.stdout.splitlines()[-1] == "Total: 4 workflows (2 active, 1 paused, 1 overridden)"
        assert "1 stored spec cannot be read and is not listed:" in result.stderr
        assert "manual/iceberg.broken.one.yaml: [DLI-203] memory://manual/iceberg.broken.one.yaml: schedule.cron" in (
            result.stderr
        )
        data = cli("workflow", "list", "-f", "json").json()
        assert data["broken_count"] == 1
        assert data["broken"][0] == {
            "dataset_name": "iceberg.broken.one",
            "source_type": "manual",
            "key": "manual/iceberg.broken.one.yaml",
            "reason": "memory://manual/iceberg.broken.one.yaml: schedule.cron: it never fires",
            "code": "DLI-203",
        }

    def test_with_the_orchestrator_down_rows_are_listed_with_their_state_unknown(self, cli, monkeypatch):
        def down(names):
            raise ServerError("Airflow at http://airflow:8080 cannot be reached")

        monkeypatch.setattr(cli.orchestrator, "workflow_states", down)
        result = cli("workflow", "list")
        assert result.exit_code == 0
        assert "Airflow at http://airflow:8080 cannot be reached" in result.stderr
        rows = [line for line in result.stdout.splitlines() if line.startswith("iceberg.")]
        assert sum(1 for line in rows if "(?)" in line) == 3  # all but the overridden row
        assert "(?) = paused/running unknown" in result.stdout.splitlines()[-1]
        data = cli("workflow", "list", "-f", "json").json()
        assert {(w["status_known"], w["running"]) for w in data["workflows"]} == {(False, None)}

    def test_fresh_mock_invocations_start_from_the_seed(self, cli):
        cli.fresh("workflow", "register", "test.dataset", "-c", "0 9 * * *")
        data = cli.fresh("workflow", "list", "-f", "json").json()
        assert "test.dataset" not in [w["dataset_name"] for w in data["workflows"]]


class TestHistory:
    def test_history_basic(self, cli):
        result = cli("workflow", "history")
        assert result.exit_code == 0
        assert result.stdout.splitlines()[0].split() == ["RUN_ID", "STATUS", "TYPE", "STARTED", "(UTC)", "DURATION"]
        assert result.stdout.splitlines()[-1] == "Total: 4 runs shown (4 available)"

    def test_history_with_dataset_info(self, cli):
        result = cli("workflow", "history", "-d", CLICKS, "--show-dataset-info")
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert lines[:5] == [
            "Dataset Info:",
            f"  Name: {CLICKS}",
            "  Owner: engineer@example.com",
            "  Team: @data-engineering",
            "  Description: Daily click aggregation for analytics",
        ]
        assert "Run History:" in lines

    def test_dataset_info_only_when_asked(self, cli):
        result = cli("workflow", "history", "-d", CLICKS)
        assert "Dataset Info:" not in result.stdout
        assert cli("workflow", "history", "-d", CLICKS, "-f", "json").json()["dataset_info"] is None

    def test_error_line_follows_the_failed_run(self, cli):
        lines = cli("workflow", "history", "-d", CLICKS).stdout.splitlines()
        failed = next(i for i, line in enumerate(lines) if " failed " in line)
        assert lines[failed].split()[1:4] == ["failed", "scheduled", "2024-12-29"]
        assert lines[failed].split()[-1] == "45s"
        assert lines[failed + 1] == "  Error: BigQuery quota exceeded"
        assert sum(1 for line in lines if "Error:" in line) == 1

    def test_limit_and_total_available(self, cli):
        result = cli("workflow", "history", "-d", CLICKS, "-n", "1")
        assert result.stdout.splitlines()[-1] == "Total: 1 run shown (3 available)"

    def test_status_filter(self, cli):
        data = cli("workflow", "history", "--status", "failed", "-f", "json").json()
        assert [r["status"] for r in data["runs"]] == ["FAILED"]

    def test_source_filter(self, cli):
        data = cli("workflow", "history", "--source", "manual", "-f", "json").json()
        assert {r["dataset_name"] for r in data["runs"]} == {"iceberg.analytics.ad_hoc_report"}

    def test_no_runs(self, cli):
        assert cli("workflow", "register", "test.dataset", "-c", "0 9 * * *").exit_code == 0
        result = cli("workflow", "history", "-d", "test.dataset")
        assert result.stdout.splitlines() == ["No runs found.", "", "Total: 0 runs shown (0 available)"]

    def test_a_dataset_no_workflow_has_is_an_empty_history_with_a_warning_naming_it(self, cli):
        # --dataset is a filter (spec 5.4): nothing matches, nothing fails.
        result = cli("workflow", "history", "-d", "nothing.here")
        assert result.exit_code == 0
        assert result.stdout.splitlines() == ["No runs found.", "", "Total: 0 runs shown (0 available)"]
        assert result.stderr == "Warning: No workflow is named 'nothing.here' (see 'dli workflow list')\n"

    def test_a_misspelt_dataset_gets_a_did_you_mean(self, cli):
        result = cli("workflow", "history", "-d", "iceberg.analytics.daily_click")
        assert result.exit_code == 0
        assert result.stderr == (
            f"Warning: No workflow is named 'iceberg.analytics.daily_click'; did you mean '{CLICKS}'?\n"
        )

    def test_dataset_info_of_a_name_without_spec_says_none_was_found(self, cli):
        result = cli("workflow", "history", "-d", "test.dataset", "--show-dataset-info")
        assert result.exit_code == 0
        assert result.stdout.splitlines() == [
            "Dataset Info:",
            "  No dataset information found for 'test.dataset'.",
            "",
            "Run History:",
            "No runs found.",
            "",
            "Total: 0 runs shown (0 available)",
        ]
        assert "No workflow is named 'test.dataset'" in result.stderr

    def test_json_of_an_unknown_dataset_carries_the_warning(self, cli):
        data = cli("workflow", "history", "-d", "nothing.here", "--show-dataset-info", "-f", "json").json()
        assert data == {
            "runs": [],
            "total_count": 0,
            "status": "success",
            "dataset_info": None,
            "warnings": ["No workflow is named 'nothing.here' (see 'dli workflow list')"],
        }

    def test_malformed_dataset_is_dli_203_exit_2(self, cli):
        result = cli("workflow", "history", "-d", "Not A Name")
        assert result.exit_code == 2
        assert result.stderr.startswith("Error [DLI-203]")

    def test_invalid_status_is_a_usage_error(self, cli):
        assert cli("workflow", "history", "--status", "exploded").exit_code == 2

    def test_json_schema(self, cli):
        data = cli("workflow", "history", "-d", CLICKS, "--show-dataset-info", "--format", "json").json()
        assert set(data) == {"runs", "total_count", "status", "dataset_info", "warnings"}
        assert data["warnings"] == []
        assert data["dataset_info"]["owner"] == "engineer@example.com"
        run = data["runs"][0]
        assert {
            "run_id",
            "dataset_name",
            "source_type",
            "status",
            "run_type",
            "parameters",
            "logical_date",
            "started_at",
            "finished_at",
            "error_message",
            "triggered_by",
        } <= set(run)
        assert run["started_at"] == "2024-12-31T09:00:40+00:00"


class TestStatus:
    def test_status_of_a_run(self, cli):
        run_id = cli("workflow", "history", "-d", CLICKS, "--status", "failed", "-f", "json").json()["runs"][0][
            "run_id"
        ]
        result = cli("workflow", "status", run_id)
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert lines[0] == f"Run: {run_id}"
        assert "  Status: failed" in lines
        assert "  Duration: 45s" in lines
        assert "  Error: BigQuery quota exceeded" in lines

    def test_status_json(self, cli):
        run_id = cli("workflow", "run", CLICKS, "-f", "json").json()["run_id"]
        data = cli("workflow", "status", run_id, "--format", "json").json()
        assert data["run_id"] == run_id and data["run_status"] == "PENDING" and data["run_type"] == "adhoc"

    @pytest.mark.parametrize("run_id", ["unknown", "no.such@run", f"{CLICKS}@nope"])
    def test_unknown_run_id_is_dli_800_exit_1(self, cli, run_id):
        result = cli("workflow", "status", run_id)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error [DLI-800]")
        assert "Traceback" not in result.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_tables_are_never_truncated_on_a_narrow_terminal(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = _Terminal()
    code = invoke(["workflow", "list"], api_factory=cli._factory, stdout=out, stderr=io.StringIO(), now=cli.clock.now)
    assert code == 0
    text = out.getvalue()
    assert "…" not in text
    assert "iceberg.analytics.ad_hoc_report" in text and "2025-01-06 12:00 UTC" in text
    assert "\x1b[" in text  # coloured on a terminal


FLAKY = "shop.flaky"
FLAKY_SPEC = f"""\
name: {FLAKY}
owner: me@example.com
execution:
  retry_count: 2
  retry_delay_seconds: 300
query_statement: SELECT * FROM missing_table
"""


def _waiting_for_a_retry(cli) -> str:
    """A run of a spec with 2 retries, 300 s apart, whose first attempt failed: the run id.

    The simulated run queues 1 s and each attempt runs 3 s: attempt 1 failed at 08:00:04.
    """
    (cli.project / f"dataset.{FLAKY}.yaml").write_text(FLAKY_SPEC)
    assert cli("workflow", "register", FLAKY, "-c", "0 9 * * *").exit_code == 0
    cli.orchestrator.inject_failure(FLAKY, "no such table: missing_table")
    run_id = cli("workflow", "run", FLAKY, "-f", "json").json()["run_id"]
    cli.clock.advance(10)
    return run_id


class TestRetryWait:
    def test_status_shows_the_failed_attempt_the_next_ones_due_time_and_the_error(self, cli):
        run_id = _waiting_for_a_retry(cli)
        lines = cli("workflow", "status", run_id).stdout.splitlines()
        assert "  Status: running (waiting to retry)" in lines
        assert "  Attempt: 1 of 3 failed at 2025-01-01 08:00:04 UTC" in lines
        assert "  Next attempt: 2 of 3, due 2025-01-01 08:05:04 UTC (in 4m54s)" in lines
        assert "  Last error: no such table: missing_table" in lines
        assert not any(line.startswith("  Error:") for line in lines)  # the run has not failed

    def test_status_json_carries_the_retry_and_keeps_the_run_running(self, cli):
        data = cli("workflow", "status", _waiting_for_a_retry(cli), "-f", "json").json()
        assert data["run_status"] == "RUNNING" and data["error_message"] is None
        assert data["retry"] == {
            "attempt": 1,
            "max_attempts": 3,
            "last_error": "no such table: missing_table",
            "failed_at": "2025-01-01T08:00:04+00:00",
            "next_attempt_at": "2025-01-01T08:05:04+00:00",
        }

    def test_the_next_attempt_due_is_counted_down_to_now(self, cli):
        run_id = _waiting_for_a_retry(cli)
        cli.clock.advance(293)  # 08:05:03: one second before the second attempt starts
        assert "  Next attempt: 2 of 3, due 2025-01-01 08:05:04 UTC (in 1s)" in cli("workflow", "status", run_id).stdout

    def test_history_puts_the_attempt_and_the_error_under_the_waiting_run(self, cli):
        run_id = _waiting_for_a_retry(cli)
        lines = cli("workflow", "history", "-d", FLAKY).stdout.splitlines()
        row = next(i for i, line in enumerate(lines) if line.startswith(run_id))
        assert lines[row].split()[1:4] == ["running", "(waiting", "to"]
        assert lines[row + 1] == "  Attempt 1 of 3 failed; next attempt 2 of 3, due 2025-01-01 08:05:04 UTC"
        assert lines[row + 2] == "  Last error: no such table: missing_table"
        run = cli("workflow", "history", "-d", FLAKY, "-f", "json").json()["runs"][0]
        assert run["status"] == "RUNNING" and run["retry"]["attempt"] == 1

    def test_once_the_next_attempt_runs_the_retry_is_gone_and_the_last_failure_fails_the_run(self, cli):
        run_id = _waiting_for_a_retry(cli)
        cli.clock.advance(295)  # 08:05:05: attempt 2 runs from 08:05:04 to 08:05:07
        assert cli("workflow", "status", run_id, "-f", "json").json()["retry"] is None
        cli.clock.advance(5)  # attempt 2 failed: waiting for attempt 3
        assert cli("workflow", "status", run_id, "-f", "json").json()["retry"]["attempt"] == 2
        cli.clock.advance(400)
        data = cli("workflow", "status", run_id, "-f", "json").json()
        assert data["run_status"] == "FAILED" and data["retry"] is None
        assert data["error_message"] == "no such table: missing_table"

    def test_a_run_that_never_failed_has_no_retry(self, cli):
        run_id = cli("workflow", "run", CLICKS, "-f", "json").json()["run_id"]
        cli.clock.advance(2)
        data = cli("workflow", "status", run_id, "-f", "json").json()
        assert data["run_status"] == "RUNNING" and data["retry"] is None
        assert "  Status: running" in cli("workflow", "status", run_id).stdout.splitlines()
