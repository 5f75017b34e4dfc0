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
    """Stable error codes (spec §4.3, DESIGN.md §3)."""

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


class DLIError(Exception):
    """Base of every dli error.

    Attributes:
        code: The stable DLI code.
        message: One line saying what went wrong.
        hints: Lines telling the user what to do about it.
        details: Machine-readable context (never secrets).
    """

    code: ErrorCode = ErrorCode.SERVER_ERROR

    def __init__(
        self,
        message: str,
        *,
        hints: tuple[str, ...] | list[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hints = tuple(hints)
        self.details = dict(details or {})

    def __str__(self) -> str:
        return f"[{self.code.value}] {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(DLIError):
    """The configuration is invalid (e.g. SERVER mode without a server URL)."""

    code = ErrorCode.CONFIG_INVALID


class DatasetNotFoundError(DLIError):
    """No spec for the dataset in the local project."""

    code = ErrorCode.DATASET_NOT_FOUND


class SpecInvalidError(DLIError):
    """A dataset spec (or a name in it) is invalid."""

    code = ErrorCode.SPEC_INVALID


class ParameterInvalidError(DLIError):
    """A run parameter or a date is missing, unknown or of the wrong type."""

    code = ErrorCode.PARAMETER_INVALID


class ServerUnreachableError(DLIError):
    """The Basecamp server cannot be reached."""

    code = ErrorCode.SERVER_UNREACHABLE


class AuthenticationError(DLIError):
    """The API token is missing or not accepted."""

    code = ErrorCode.AUTH_FAILED


class ServerError(DLIError):
    """The server, the spec store or the orchestrator failed."""

    code = ErrorCode.SERVER_ERROR


class StoreUnavailableError(ServerError):
    """The spec store cannot be used (unreachable, missing bucket, bad credentials...)."""


class WorkflowNotFoundError(DLIError):
    """No such workflow (or run)."""

    code = ErrorCode.WORKFLOW_NOT_FOUND


class WorkflowRegistrationError(DLIError):
    """Registration failed."""

    code = ErrorCode.WORKFLOW_REGISTRATION_FAILED


class WorkflowExecutionError(DLIError):
    """Triggering or controlling a run failed."""

    code = ErrorCode.WORKFLOW_EXECUTION_FAILED


class WorkflowPermissionError(DLIError):
    """The operation is not allowed on a CODE workflow (spec §2.5)."""

    code = ErrorCode.WORKFLOW_PERMISSION_DENIED


class WorkflowAlreadyExistsError(DLIError):
    """A MANUAL workflow exists and ``force`` was not given."""

    code = ErrorCode.WORKFLOW_ALREADY_EXISTS


class InvalidCronError(DLIError):
    """The cron expression or the timezone is invalid."""

    code = ErrorCode.WORKFLOW_INVALID_CRON


class WorkflowOverriddenError(DLIError):
    """The MANUAL workflow is overridden by a CODE one."""

    code = ErrorCode.WORKFLOW_OVERRIDDEN


class InvalidStateError(DLIError):
    """The workflow or run is not in a state that allows the operation."""

    code = ErrorCode.WORKFLOW_INVALID_STATE


class WorkflowUnregisterError(DLIError):
    """Unregistering failed."""

    code = ErrorCode.WORKFLOW_UNREGISTER_FAILED


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


_BY_CODE: dict[ErrorCode, type[DLIError]] = {
    cls.code: cls
    for cls in (
        ConfigurationError,
        DatasetNotFoundError,
        SpecInvalidError,
        ParameterInvalidError,
        ServerUnreachableError,
        AuthenticationError,
        ServerError,
        WorkflowNotFoundError,
        WorkflowRegistrationError,
        WorkflowExecutionError,
        WorkflowPermissionError,
        WorkflowAlreadyExistsError,
        InvalidCronError,
        WorkflowOverriddenError,
        InvalidStateError,
        WorkflowUnregisterError,
    )
}


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
