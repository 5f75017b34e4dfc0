"""DLI errors as HTTP responses: one status per code, one JSON shape for every error."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from dli.domain.model.errors import DLIError, ErrorCode, StoreUnavailableError

__all__ = ["ErrorBody", "ErrorDetail", "error_bytes", "error_payload", "status_for"]

# Every code has a status, so that no known condition ends as a 500.
STATUS_BY_CODE: Mapping[ErrorCode, int] = {
    ErrorCode.CONFIG_INVALID: 503,  # the server is misconfigured: not the caller's fault
    ErrorCode.DATASET_NOT_FOUND: 404,
    ErrorCode.SPEC_INVALID: 422,
    ErrorCode.PARAMETER_INVALID: 422,
    ErrorCode.SERVER_UNREACHABLE: 503,
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.SERVER_ERROR: 503,
    ErrorCode.WORKFLOW_NOT_FOUND: 404,
    ErrorCode.WORKFLOW_REGISTRATION_FAILED: 409,  # a conditional write lost a race
    ErrorCode.WORKFLOW_EXECUTION_FAILED: 502,  # the orchestrator refused or failed
    ErrorCode.WORKFLOW_PERMISSION_DENIED: 403,
    ErrorCode.WORKFLOW_ALREADY_EXISTS: 409,
    ErrorCode.WORKFLOW_INVALID_CRON: 422,
    ErrorCode.WORKFLOW_OVERRIDDEN: 409,
    ErrorCode.WORKFLOW_INVALID_STATE: 409,
    ErrorCode.WORKFLOW_UNREGISTER_FAILED: 503,  # only when the store refuses or cannot be reached
}


@attrs.frozen(kw_only=True)
class ErrorDetail:
    """What went wrong."""

    code: str
    """Stable DLI code, e.g. ``DLI-803``."""
    message: str
    """One line saying what went wrong."""
    details: dict[str, Any] = attrs.field(factory=dict)
    """Machine-readable context."""
    hints: list[str] = attrs.field(factory=list)
    """What to do about it."""


@attrs.frozen(kw_only=True)
class ErrorBody:
    """The body of every error response."""

    error: ErrorDetail
    """The error."""


def status_for(exc: DLIError) -> int:
    """The HTTP status of a DLI error."""
    if isinstance(exc, StoreUnavailableError):
        return 503
    return STATUS_BY_CODE.get(exc.code, 503)


def error_payload(
    code: ErrorCode | str, message: str, *, details: Mapping[str, Any] | None = None, hints: Sequence[str] = ()
) -> dict[str, Any]:
    """``{"error": {...}}``."""
    return {
        "error": {
            "code": code.value if isinstance(code, ErrorCode) else code,
            "message": message,
            "details": dict(details or {}),
            "hints": list(hints),
        }
    }


def error_bytes(code: ErrorCode | str, message: str, **kwargs: Any) -> bytes:
    """The error payload as JSON bytes."""
    return json.dumps(error_payload(code, message, **kwargs), ensure_ascii=False, default=str).encode()


def dli_error_bytes(exc: DLIError) -> bytes:
    """The error payload of a DLI error."""
    return error_bytes(exc.code, exc.message, details=exc.details, hints=exc.hints)
