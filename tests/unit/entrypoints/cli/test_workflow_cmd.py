"""The CLI tests of WORKFLOW_FEATURE.md section 10.2, as the spec writes them.

The spec wrote them for Typer's ``CliRunner`` and ``dli.main.app``; dli is a cyclopts app. The
``runner`` fixture below stands in for ``CliRunner``: ``runner.invoke(app, args)`` runs one ``dli``
invocation in process, in MOCK mode (``DLI_MODE=mock``, set by this folder's ``isolated_env``
fixture; the project folder is empty, so no local spec exists), with the real MOCK wiring (a fresh
seeded world per invocation, as a new process would have). The classes, names, arguments and
assertions below are the spec's, unchanged; keep them so.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import attrs
import pytest

from dli.entrypoints.cli.app import app, invoke


@attrs.frozen
class InvokeResult:
    """What ``CliRunner.invoke`` gives: the exit code and the output (stdout, then stderr)."""

    exit_code: int
    output: str


class CliRunner:
    """``typer.testing.CliRunner`` for the cyclopts app: one in-process invocation per call."""

    def invoke(self, cli_app: object, args: Sequence[str]) -> InvokeResult:
        assert cli_app is app  # the one dli app: invoke() runs it
        out, err = io.StringIO(), io.StringIO()
        code = invoke(list(args), stdout=out, stderr=err)
        return InvokeResult(exit_code=int(code), output=out.getvalue() + err.getvalue())


@pytest.fixture
def runner(isolated_env) -> CliRunner:  # isolated_env: DLI_MODE=mock, an empty project as the current folder
    return CliRunner()


class TestWorkflowRegisterCommand:
    """Tests for `dli workflow register` command."""

    def test_register_success(self, runner: CliRunner) -> None:
        """Register command succeeds with valid args."""
        result = runner.invoke(
            app,
            ["workflow", "register", "test.dataset", "--cron", "0 9 * * *"],
        )

        assert result.exit_code == 0
        assert "registered" in result.output.lower()

    def test_register_missing_cron(self, runner: CliRunner) -> None:
        """Register fails without --cron."""
        result = runner.invoke(
            app,
            ["workflow", "register", "test.dataset"],
        )

        assert result.exit_code != 0

    def test_register_with_timezone(self, runner: CliRunner) -> None:
        """Register with timezone option."""
        result = runner.invoke(
            app,
            [
                "workflow",
                "register",
                "test.dataset",
                "--cron",
                "0 9 * * *",
                "--timezone",
                "Asia/Seoul",
            ],
        )

        assert result.exit_code == 0
        assert "Asia/Seoul" in result.output


class TestWorkflowListCommand:
    """Tests for `dli workflow list` command."""

    def test_list_all(self, runner: CliRunner) -> None:
        """List all workflows."""
        result = runner.invoke(app, ["workflow", "list"])

        assert result.exit_code == 0

    def test_list_filter_source(self, runner: CliRunner) -> None:
        """List with source filter."""
        result = runner.invoke(
            app,
            ["workflow", "list", "--source", "manual"],
        )

        assert result.exit_code == 0


class TestWorkflowHistoryCommand:
    """Tests for `dli workflow history` command."""

    def test_history_basic(self, runner: CliRunner) -> None:
        """History command basic execution."""
        result = runner.invoke(app, ["workflow", "history"])

        assert result.exit_code == 0

    def test_history_with_dataset_info(self, runner: CliRunner) -> None:
        """History with dataset info flag."""
        result = runner.invoke(
            app,
            ["workflow", "history", "-d", "test.dataset", "--show-dataset-info"],
        )

        assert result.exit_code == 0


def test_the_runner_runs_in_mock_mode_over_an_empty_project(runner: CliRunner, isolated_env) -> None:
    # What makes the tests above mean what the spec meant: MOCK mode (its seeded sample workflows),
    # and no local spec of test.dataset (so register without --cron has no schedule to take).
    import os

    assert os.environ["DLI_MODE"] == "mock"
    assert list(isolated_env.iterdir()) == []
    assert "iceberg.analytics.daily_clicks" in runner.invoke(app, ["workflow", "list"]).output
    missing = runner.invoke(app, ["workflow", "register", "test.dataset"])
    assert (missing.exit_code, missing.output.splitlines()[0]) == (
        2,
        "Error [DLI-805]: A schedule needs a cron expression, 'after: upstream', or both",
    )
