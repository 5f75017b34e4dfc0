"""Exit statuses and the error format."""

import io

import pytest

from dli.domain.model.errors import (
    ConfigurationError,
    DatasetNotFoundError,
    InvalidCronError,
    InvalidStateError,
    ParameterInvalidError,
    ServerUnreachableError,
    SpecInvalidError,
    WorkflowNotFoundError,
    WorkflowPermissionError,
)
from dli.entrypoints.cli.exit_codes import ExitCode, exit_code_for, print_error


@pytest.mark.parametrize("cls", [ConfigurationError, SpecInvalidError, ParameterInvalidError, InvalidCronError])
def test_bad_input_is_exit_2(cls):
    assert exit_code_for(cls("x")) == ExitCode.USAGE == 2


@pytest.mark.parametrize(
    "cls",
    [DatasetNotFoundError, ServerUnreachableError, WorkflowNotFoundError, WorkflowPermissionError, InvalidStateError],
)
def test_operation_failures_are_exit_1(cls):
    assert exit_code_for(cls("x")) == ExitCode.FAILED == 1


def test_wait_outcomes_have_distinct_codes():
    codes = [
        ExitCode.OK,
        ExitCode.FAILED,
        ExitCode.USAGE,
        ExitCode.RUN_FAILED,
        ExitCode.RUN_KILLED,
        ExitCode.WAIT_TIMEOUT,
    ]
    assert [int(c) for c in codes] == [0, 1, 2, 3, 4, 5]


def test_error_format_is_code_message_and_hints_indented():
    stream = io.StringIO()
    print_error(
        InvalidCronError("Invalid cron expression: 'x'", hints=("Expected 5 fields.", "e.g. '0 9 * * *'")),
        stream=stream,
    )
    assert stream.getvalue() == (
        "Error [DLI-805]: Invalid cron expression: 'x'\n       Expected 5 fields.\n       e.g. '0 9 * * *'\n"
    )


def _hint_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert lines[0].startswith("Error [DLI-"), stderr
    return [line for line in lines[1:] if line.startswith("       ") and line.strip()]


def test_errors_users_met_without_a_hint_now_print_one(cli, tmp_path):
    """DLI-204 wrong type, DLI-800 unknown run id, DLI-203 invalid YAML: each prints a hint line."""
    wrong_type = cli("workflow", "run", "iceberg.analytics.daily_clicks", "-p", "min_clicks=many")
    assert _hint_lines(wrong_type.stderr) == ["       For example: -p min_clicks=10 (the spec declares it as integer)."]
    for run_id in ("NOT A DATASET@x", "nope", "iceberg.analytics.daily_clicks@nope"):
        unknown_run = cli("workflow", "status", run_id)
        assert unknown_run.stderr.startswith("Error [DLI-800]") and _hint_lines(unknown_run.stderr), run_id
    (tmp_path / "project" / "dataset.a.b.yaml").write_text("name: a.b\nquery_statement: [x\n")
    invalid_yaml = cli("workflow", "register", "a.b", "-c", "0 9 * * *")
    assert invalid_yaml.stderr.startswith("Error [DLI-203]") and _hint_lines(invalid_yaml.stderr)
