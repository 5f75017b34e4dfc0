"""``dli workflow run``, ``backfill`` (with ``--wait``), ``stop`` and ``logs``."""

from __future__ import annotations

import datetime as dt

import pytest

from dli.ports.orchestrator import RunQuery

CLICKS = "iceberg.analytics.daily_clicks"
REPORT = "iceberg.analytics.ad_hoc_report"


class TestRun:
    def test_run_prints_the_run_id_and_status(self, cli):
        result = cli("workflow", "run", CLICKS)
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert lines[0] == f"Run triggered: {CLICKS}"
        assert lines[1].startswith(f"  Run ID: {CLICKS}@")
        assert "  Status: pending" in lines

    def test_params_are_parsed_and_typed_by_the_spec(self, cli):
        data = cli(
            "workflow", "run", CLICKS, "-p", "min_clicks=5", "--param", "execution_date=2025-01-01", "--format", "json"
        ).json()
        assert data["parameters"] == {"min_clicks": 5, "execution_date": "2025-01-01"}
        assert data["run_status"] == "PENDING"

    @pytest.mark.parametrize("param", ["min_clicks", "=5", "1x=2", "a b=1"])
    def test_malformed_param_is_dli_204_exit_2(self, cli, param):
        result = cli("workflow", "run", CLICKS, "-p", param)
        assert result.exit_code == 2
        assert result.stderr.startswith("Error [DLI-204]: Malformed parameter")
        assert cli("workflow", "history", "-d", CLICKS, "--format", "json").json()["total_count"] == 3

    def test_repeated_param_is_dli_204(self, cli):
        result = cli("workflow", "run", CLICKS, "-p", "min_clicks=1", "-p", "min_clicks=2")
        assert result.exit_code == 2
        assert "given twice" in result.stderr

    def test_param_of_the_wrong_type_is_dli_204(self, cli):
        result = cli("workflow", "run", CLICKS, "-p", "min_clicks=many")
        assert result.exit_code == 2
        assert result.stderr.startswith("Error [DLI-204]: Parameter 'min_clicks' must be integer")

    def test_undeclared_param_is_passed_with_a_warning_on_stderr(self, cli):
        result = cli("workflow", "run", REPORT, "-p", "nope=1")
        assert result.exit_code == 0
        assert "Parameters: nope=1" in result.stdout
        assert result.stderr.startswith(f"Warning: Parameter(s) not declared by '{REPORT}': nope")

    def test_value_may_contain_equals_signs(self, cli):
        cli("workflow", "register", "test.dataset", "-c", "0 9 * * *")
        result = cli("workflow", "run", "test.dataset", "-p", "execution_date=2025-01-01", "--dry-run")
        assert result.exit_code == 0

    def test_dry_run_runs_nothing(self, cli):
        result = cli("workflow", "run", CLICKS, "-p", "min_clicks=3", "--dry-run")
        assert result.exit_code == 0
        assert result.stdout.startswith(f"Dry run: parameters valid for {CLICKS}")
        assert "  Parameters: min_clicks=3" in result.stdout
        assert cli("workflow", "history", "-d", CLICKS, "--format", "json").json()["total_count"] == 3

    def test_unknown_dataset_is_dli_800_exit_1(self, cli):
        result = cli("workflow", "run", "no.such.dataset")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error [DLI-800]")

    def test_wait_follows_until_completed_exit_0(self, cli):
        result = cli("workflow", "run", CLICKS, "--wait", "--poll", "0.5")
        assert result.exit_code == 0
        assert "  Status: completed" in result.stdout
        assert result.stdout.rstrip().endswith("Outcome: completed")
        assert result.stderr == ""  # no progress drawn when not on a terminal

    def test_wait_on_failure_exits_3_and_shows_the_error(self, cli):
        cli.orchestrator.inject_failure(CLICKS, "Table not found")
        result = cli("workflow", "run", CLICKS, "--wait")
        assert result.exit_code == 3
        assert "  Error: Table not found" in result.stdout
        assert "Outcome: failed" in result.stdout

    def test_wait_on_a_killed_run_exits_4(self, cli):
        def stop_then_sleep(seconds: float) -> None:
            runs, _total = cli.orchestrator.list_runs(RunQuery(names=[CLICKS], limit=100))
            for run in runs:
                if not run.status.is_terminal:
                    cli.orchestrator.stop_run(run.run_id)
            cli.clock.advance(seconds)

        result = cli("workflow", "run", CLICKS, "--wait", sleep=stop_then_sleep)
        assert result.exit_code == 4
        assert "Outcome: killed" in result.stdout

    def test_wait_timeout_exits_5(self, cli):
        result = cli("workflow", "run", CLICKS, "--wait", "--timeout", "1.5", "--poll", "0.5")
        assert result.exit_code == 5
        assert "Timed out after 1.5s" in result.stdout

    def test_wait_json_has_result_outcome_and_runs(self, cli):
        result = cli("workflow", "run", CLICKS, "--wait", "--format", "json")
        data = result.json()
        assert data["outcome"] == "completed"
        assert data["result"]["run_id"] == data["runs"][0]["run_id"]
        assert data["runs"][0]["run_status"] == "COMPLETED"
        assert data["runs"][0]["started_at"].endswith("+00:00")

    def test_negative_timeout_is_dli_204(self, cli):
        result = cli("workflow", "run", CLICKS, "--wait", "--timeout", "-1")
        assert result.exit_code == 2


class TestBackfill:
    def test_backfill_lists_one_run_per_date(self, cli):
        result = cli("workflow", "backfill", CLICKS, "-s", "2025-01-01", "-e", "2025-01-03")
        assert result.exit_code == 0
        assert f"Backfill started: {CLICKS}" in result.stdout
        assert "  Dates: 2025-01-01 .. 2025-01-03 (3 dates)" in result.stdout
        rows = [line.split() for line in result.stdout.splitlines() if line.startswith("    2025-")]
        assert [row[0] for row in rows] == ["2025-01-01", "2025-01-02", "2025-01-03"]

    def test_backfill_dry_run(self, cli):
        result = cli("workflow", "backfill", CLICKS, "--start", "2025-01-01", "--end", "2025-01-02", "--dry-run")
        assert result.exit_code == 0
        assert "nothing was run" in result.stdout

    @pytest.mark.parametrize(
        ("start", "end", "message"),
        [
            ("2025-01-05", "2025-01-03", "End date 2025-01-03 is before start date 2025-01-05"),
            ("2025-13-01", "2025-12-31", "Invalid start date"),
            ("2025-01-01", "01/02/2025", "Invalid end date"),
            ("2020-01-01", "2025-01-01", "exceeds the maximum"),
        ],
    )
    def test_bad_dates_are_dli_204_exit_2(self, cli, start, end, message):
        result = cli("workflow", "backfill", CLICKS, "-s", start, "-e", end)
        assert result.exit_code == 2
        assert result.stderr.startswith("Error [DLI-204]:")
        assert message in result.stderr

    def test_wait_follows_every_date(self, cli):
        result = cli("workflow", "backfill", CLICKS, "-s", "2025-01-01", "-e", "2025-01-03", "--wait")
        assert result.exit_code == 0
        table = result.stdout.split("\n\n")[-1].splitlines()
        assert table[0].split() == ["DATE", "RUN_ID", "STATUS", "DURATION"]
        assert [row.split()[2] for row in table[1:4]] == ["completed"] * 3
        assert table[-1] == "Outcome: completed"

    def test_wait_stops_at_the_first_failed_date_exit_3(self, cli):
        cli.orchestrator.inject_failure(CLICKS, "disk full", dates=[dt.date(2025, 1, 2)])
        result = cli("workflow", "backfill", CLICKS, "-s", "2025-01-01", "-e", "2025-01-03", "--wait")
        assert result.exit_code == 3
        lines = result.stdout.splitlines()
        status_of = {
            line.split()[0]: line.split()[2] for line in lines if line.startswith("2025-") and len(line.split()) >= 4
        }
        assert status_of == {"2025-01-01": "completed", "2025-01-02": "failed", "2025-01-03": "killed"}
        assert lines[lines.index(next(x for x in lines if x.startswith("2025-01-02"))) + 1] == "  Error: disk full"

    def test_wait_json_reports_every_date(self, cli):
        data = cli(
            "workflow", "backfill", CLICKS, "-s", "2025-01-01", "-e", "2025-01-02", "--wait", "-f", "json"
        ).json()
        assert data["outcome"] == "completed"
        assert data["result"]["dates"] == ["2025-01-01", "2025-01-02"]
        assert [r["run_id"] for r in data["runs"]] == data["result"]["run_ids"]

    def test_wait_timeout_reports_unfinished_dates_exit_5(self, cli):
        result = cli("workflow", "backfill", CLICKS, "-s", "2025-01-01", "-e", "2025-01-03", "--wait", "--timeout", "5")
        assert result.exit_code == 5
        assert "pending" in result.stdout or "running" in result.stdout


class TestStop:
    def test_stop_a_running_run(self, cli):
        run_id = cli("workflow", "run", CLICKS, "-f", "json").json()["run_id"]
        result = cli("workflow", "stop", run_id)
        assert result.exit_code == 0
        status = cli("workflow", "status", run_id, "-f", "json").json()
        assert status["run_status"] == "KILLED"

    def test_stop_a_finished_run_is_dli_807_exit_1(self, cli):
        run_id = cli("workflow", "history", "-d", CLICKS, "-f", "json").json()["runs"][0]["run_id"]
        result = cli("workflow", "stop", run_id)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error [DLI-807]")

    @pytest.mark.parametrize("run_id", ["nope", f"{CLICKS}@nope"])
    def test_unknown_run_id_is_dli_800_exit_1(self, cli, run_id):
        result = cli("workflow", "stop", run_id)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error [DLI-800]")


class TestLogs:
    def test_logs_prints_the_run_logs(self, cli):
        run_id = cli("workflow", "run", CLICKS, "--wait", "-f", "json").json()["result"]["run_id"]
        result = cli("workflow", "logs", run_id)
        assert result.exit_code == 0
        assert result.stdout.strip()
        assert result.stdout.endswith("\n")

    def test_logs_json(self, cli):
        run_id = cli("workflow", "run", CLICKS, "-f", "json").json()["run_id"]
        data = cli("workflow", "logs", run_id, "--format", "json").json()
        assert data["run_id"] == run_id and isinstance(data["text"], str)

    def test_logs_of_unknown_run_is_dli_800(self, cli):
        result = cli("workflow", "logs", f"{CLICKS}@missing")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error [DLI-800]")


FLAKY = "shop.flaky"


def _flaky(cli, *, failing_attempts=None) -> None:
    """A spec with 2 retries, 300 s apart, whose statement fails (its first ``failing_attempts`` attempts)."""
    (cli.project / f"dataset.{FLAKY}.yaml").write_text(
        f"name: {FLAKY}\nexecution:\n  retry_count: 2\n  retry_delay_seconds: 300\nquery_statement: SELECT 1\n"
    )
    assert cli("workflow", "register", FLAKY, "-c", "0 9 * * *").exit_code == 0
    cli.orchestrator.inject_failure(FLAKY, "no such table: t", attempts=failing_attempts)


class TestWaitThroughRetries:
    def test_wait_says_once_per_failed_attempt_that_the_run_waits_for_a_retry(self, cli):
        _flaky(cli)
        result = cli("workflow", "run", FLAKY, "--wait", "--poll", "1")
        assert result.exit_code == 3  # every attempt failed
        notices = result.stderr.splitlines()
        assert len(notices) == 2, result.stderr  # polled hundreds of times, told twice
        assert notices[0].startswith(f"{FLAKY}@")
        assert notices[0].endswith(
            ": attempt 1 of 3 failed: no such table: t; next attempt 2 of 3, due 2025-01-01 08:05:04 UTC (in 5m00s)"
        )
        assert ": attempt 2 of 3 failed: no such table: t; next attempt 3 of 3, due" in notices[1]
        assert "  Error: no such table: t" in result.stdout.splitlines()

    def test_a_retry_that_succeeds_ends_the_wait_completed(self, cli):
        _flaky(cli, failing_attempts=1)
        result = cli("workflow", "run", FLAKY, "--wait", "--poll", "1", "--format", "json")
        assert result.exit_code == 0
        assert result.json()["outcome"] == "completed" and result.json()["runs"][0]["retry"] is None
        assert len(result.stderr.splitlines()) == 1 and "attempt 1 of 3 failed" in result.stderr

    def test_a_timeout_during_the_retry_wait_reports_it(self, cli):
        _flaky(cli)
        result = cli("workflow", "run", FLAKY, "--wait", "--poll", "1", "--timeout", "60")
        assert result.exit_code == 5
        assert "  Status: running (waiting to retry)" in result.stdout.splitlines()
        assert "  Last error: no such table: t" in result.stdout.splitlines()
