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
    codes = [ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.RUN_FAILED, ExitCode.RUN_KILLED, ExitCode.WAIT_TIMEOUT]
    assert [int(c) for c in codes] == [0, 1, 2, 3, 4, 5]


def test_error_format_is_code_message_and_hints_indented():
    stream = io.StringIO()
    print_error(InvalidCronError("Invalid cron expression: 'x'", hints=("Expected 5 fields.", "e.g. '0 9 * * *'")), stream=stream)
    assert stream.getvalue() == (
        "Error [DLI-805]: Invalid cron expression: 'x'\n"
        "       Expected 5 fields.\n"
        "       e.g. '0 9 * * *'\n"
    )
