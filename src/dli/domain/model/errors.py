"""Errors of dli, each with its stable DLI code.

The codes are part of the public contract: the CLI prints them, the Basecamp server returns them in
its error JSON, and the HTTP adapter maps them back to the same exception classes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = [
    "already_registered",
    "AuthenticationError",
    "ConfigurationError",
    "DLIError",
    "DatasetNotFoundError",
    "ErrorCode",
    "InvalidCronError",
    "InvalidStateError",
    "ParameterInvalidError",
    "ServerError",
    "ServerUnreachableError",
    "SpecInvalidError",
    "StoreUnavailableError",
    "WorkflowAlreadyExistsError",
    "WorkflowExecutionError",
    "WorkflowNotFoundError",
    "WorkflowOverriddenError",
    "WorkflowPermissionError",
    "WorkflowRegistrationError",
    "WorkflowUnregisterError",
    "describe",
    "error_for_code",
    "field_error",
]


class ErrorCode(str, enum.Enum):
    """Stable error codes: printed by the CLI, returned by the server, listed in docs/cli.md ("Errors")."""

    CONFIG_INVALID = "DLI-001"
    DATASET_NOT_FOUND = "DLI-101"
    SPEC_INVALID = "DLI-203"
    PARAMETER_INVALID = "DLI-204"
    SERVER_UNREACHABLE = "DLI-501"
    AUTH_FAILED = "DLI-502"
    SERVER_ERROR = "DLI-503"
    WORKFLOW_NOT_FOUND = "DLI-800"
    WORKFLOW_REGISTRATION_FAILED = "DLI-801"
    WORKFLOW_EXECUTION_FAILED = "DLI-802"
    WORKFLOW_PERMISSION_DENIED = "DLI-803"
    WORKFLOW_ALREADY_EXISTS = "DLI-804"
    WORKFLOW_INVALID_CRON = "DLI-805"
    WORKFLOW_OVERRIDDEN = "DLI-806"
    WORKFLOW_INVALID_STATE = "DLI-807"
    WORKFLOW_UNREGISTER_FAILED = "DLI-808"


_BY_CODE: dict[ErrorCode, type[DLIError]] = {}
"""The class of each code, for errors received over the wire: the first class that states the code."""


class DLIError(Exception):
    """Base of every dli error.

    Attributes:
        code: The stable DLI code.
        message: One line saying what went wrong.
        hints: Lines telling the user what to do about it; the class's ``default_hints`` when the
            raiser gave none, so that no error is shown without one.
        details: Machine-readable context (never secrets).
    """

    code: ErrorCode = ErrorCode.SERVER_ERROR
    default_hints: tuple[str, ...] = (
        "Try again; if it keeps failing, the Basecamp server's log (or Airflow's) has the details.",
    )
    """What to do about an error of this kind, for a raiser that has nothing more specific to say."""

    def __init__(
        self,
        message: str,
        *,
        hints: tuple[str, ...] | list[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hints = tuple(hints) or type(self).default_hints
        self.details = dict(details or {})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:  # a class that states its code (StoreUnavailableError is a ServerError)
            _BY_CODE.setdefault(cls.code, cls)

    def __str__(self) -> str:
        return f"[{self.code.value}] {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(DLIError):
    """The configuration is invalid (e.g. SERVER mode without a server URL)."""

    code = ErrorCode.CONFIG_INVALID
    default_hints = (
        "Settings come from flags, the environment (DLI_*), the project's dli.yaml and the user config "
        "file ($DLI_CONFIG, else ~/.config/dli/config.yaml): see docs/cli.md, Configuration.",
    )


class DatasetNotFoundError(DLIError):
    """No spec for the dataset in the local project."""

    code = ErrorCode.DATASET_NOT_FOUND
    default_hints = (
        "Specs are dataset.<name>.yaml files under the folder holding dli.yaml: run from there, or "
        "pass --path <project folder>.",
    )


class SpecInvalidError(DLIError):
    """A dataset spec (or a name in it) is invalid."""

    code = ErrorCode.SPEC_INVALID
    default_hints = ("The fields of a dataset spec and their types are listed under 'A dataset spec' in the README.",)


class ParameterInvalidError(DLIError):
    """A run parameter or a date is missing, unknown or of the wrong type."""

    code = ErrorCode.PARAMETER_INVALID
    default_hints = (
        "Check the values given: run parameters as -p key=value, of the types the spec declares; "
        "dates as YYYY-MM-DD (e.g. 2025-01-31).",
    )


class ServerUnreachableError(DLIError):
    """The Basecamp server cannot be reached."""

    code = ErrorCode.SERVER_UNREACHABLE
    default_hints = (
        "Is the server running? For the local stack: dli dev status (dli dev up starts it); otherwise "
        "check --server / DLI_SERVER_URL.",
    )


class AuthenticationError(DLIError):
    """The API token is missing or not accepted."""

    code = ErrorCode.AUTH_FAILED
    default_hints = (
        "Set DLI_API_TOKEN, or server: {token: ...} in the user config file; ask an administrator for "
        "a token (basecamp token add <user>).",
    )


class ServerError(DLIError):
    """The server, the spec store or the orchestrator failed."""

    code = ErrorCode.SERVER_ERROR


class StoreUnavailableError(ServerError):
    """The spec store cannot be used (unreachable, missing bucket, bad credentials...)."""


class WorkflowNotFoundError(DLIError):
    """No such workflow (or run)."""

    code = ErrorCode.WORKFLOW_NOT_FOUND
    default_hints = (
        "See the registered workflows with 'dli workflow list' and the run ids with "
        "'dli workflow history' (run ids look like '<dataset>@<run>').",
    )


class WorkflowRegistrationError(DLIError):
    """Registration failed."""

    code = ErrorCode.WORKFLOW_REGISTRATION_FAILED
    default_hints = ("Nothing was changed: run the command again; 'dli workflow list' shows what is registered.",)


class WorkflowExecutionError(DLIError):
    """Triggering or controlling a run failed."""

    code = ErrorCode.WORKFLOW_EXECUTION_FAILED
    default_hints = (
        "Check that Airflow is running and the workflow's DAG has loaded (dli workflow register --wait "
        "reports its import error); 'dli workflow logs <run id>' shows a run's task logs.",
    )


class WorkflowPermissionError(DLIError):
    """The operation is not allowed on a CODE workflow (those change through Git; pause and unpause only)."""

    code = ErrorCode.WORKFLOW_PERMISSION_DENIED
    default_hints = (
        "CODE workflows change through Git (CI/CD publishes them); from the CLI they can only be paused and unpaused.",
    )


class WorkflowAlreadyExistsError(DLIError):
    """A MANUAL workflow exists and ``force`` was not given."""

    code = ErrorCode.WORKFLOW_ALREADY_EXISTS
    default_hints = ("Use --force to overwrite the existing MANUAL registration.",)


class InvalidCronError(DLIError):
    """The cron expression or the timezone is invalid."""

    code = ErrorCode.WORKFLOW_INVALID_CRON
    default_hints = (
        "Expected 5-field format: minute hour day month weekday, e.g. '0 9 * * *'; the timezone is an "
        "IANA name, e.g. Europe/Berlin.",
    )


class WorkflowOverriddenError(DLIError):
    """The MANUAL workflow is overridden by a CODE one."""

    code = ErrorCode.WORKFLOW_OVERRIDDEN
    default_hints = (
        "A CODE spec of the same name is active: change it through Git, or remove it there to make "
        "the MANUAL one active again.",
    )


class InvalidStateError(DLIError):
    """The workflow or run is not in a state that allows the operation."""

    code = ErrorCode.WORKFLOW_INVALID_STATE
    default_hints = (
        "See the current state with 'dli workflow list' (workflows) or 'dli workflow status <run id>' (runs).",
    )


class WorkflowUnregisterError(DLIError):
    """Unregistering failed."""

    code = ErrorCode.WORKFLOW_UNREGISTER_FAILED
    default_hints = ("Run the command again; 'dli workflow list' shows whether the workflow is still registered.",)


_KINDS = {bool: "bool", int: "int", float: "float", str: "str", list: "list", tuple: "list", dict: "mapping"}


def describe(value: object) -> str:
    """A value as an error message shows it: its YAML/JSON kind and a short repr, e.g. ``str 'false'``."""
    if value is None:
        return "null"
    kind = _KINDS.get(type(value), type(value).__name__)
    shown = repr(value)
    return f"{kind} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def field_error(
    field: str,
    problem: str,
    *,
    hints: tuple[str, ...] | list[str] = (),
    error: type[DLIError] = SpecInvalidError,
) -> DLIError:
    """The error for one field of a spec, ``field: problem``.

    ``details`` carry the field and the problem apart, so that a reader of a whole document can put
    the field's full path (e.g. ``spec.schedule.enabled``) in front of the problem.
    """
    return error(f"{field}: {problem}", hints=hints, details={"field": field, "problem": problem})


def error_for_code(
    code: str,
    message: str,
    *,
    hints: tuple[str, ...] | list[str] = (),
    details: Mapping[str, Any] | None = None,
) -> DLIError:
    """Rebuild the exception for a DLI code received over the wire (unknown codes -> ServerError)."""
    try:
        cls = _BY_CODE[ErrorCode(code)]
    except ValueError:
        cls = ServerError
    return cls(message, hints=hints, details=details)


def already_registered(name: str, source: str | None = None) -> WorkflowAlreadyExistsError:
    """DLI-804 for a MANUAL registration (or a document under ``source``) that exists already."""
    where = f" ({source})" if source else ""
    return WorkflowAlreadyExistsError(
        f"Workflow '{name}' is already registered{where}",
        hints=("Use --force to overwrite the existing MANUAL registration.",),
        details={"dataset_name": name},
    )
