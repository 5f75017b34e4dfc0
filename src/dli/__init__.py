"""dli: put datasets on a schedule in Apache Airflow without writing DAGs.

The public API (README.md, "Library")::

    from dli import WorkflowAPI, ExecutionContext, ExecutionMode
"""

import importlib
from typing import TYPE_CHECKING, Any

from dli._version import __version__

# Exports load on first use (PEP 562): the CLI imports this package on every start and must not pay
# for the whole library to print its help.
_EXPORTS = {
    "AuthenticationError": "dli.domain.model.errors",
    "ConfigurationError": "dli.domain.model.errors",
    "DLIError": "dli.domain.model.errors",
    "DatasetInfo": "dli.domain.model.workflow",
    "DatasetNotFoundError": "dli.domain.model.errors",
    "DatasetSpec": "dli.domain.model.spec",
    "ErrorCode": "dli.domain.model.errors",
    "ExecutionContext": "dli.entrypoints.context",
    "ExecutionMode": "dli.entrypoints.context",
    "InvalidCronError": "dli.domain.model.errors",
    "InvalidStateError": "dli.domain.model.errors",
    "Parameter": "dli.domain.model.spec",
    "ParameterInvalidError": "dli.domain.model.errors",
    "ResultStatus": "dli.domain.model.enums",
    "RetryWait": "dli.domain.model.workflow",
    "RunLogs": "dli.domain.model.workflow",
    "RunStatus": "dli.domain.model.enums",
    "RunType": "dli.domain.model.enums",
    "ScheduleConfig": "dli.domain.model.schedule",
    "ServerError": "dli.domain.model.errors",
    "ServerUnreachableError": "dli.domain.model.errors",
    "SourceType": "dli.domain.model.enums",
    "SpecInvalidError": "dli.domain.model.errors",
    "Statement": "dli.domain.model.spec",
    "StoreUnavailableError": "dli.domain.model.errors",
    "WorkflowAPI": "dli.entrypoints.api",
    "WorkflowAlreadyExistsError": "dli.domain.model.errors",
    "WorkflowExecutionError": "dli.domain.model.errors",
    "WorkflowHistoryResult": "dli.domain.model.workflow",
    "WorkflowInfo": "dli.domain.model.workflow",
    "WorkflowListResult": "dli.domain.model.workflow",
    "WorkflowNotFoundError": "dli.domain.model.errors",
    "WorkflowOverriddenError": "dli.domain.model.errors",
    "WorkflowPermissionError": "dli.domain.model.errors",
    "WorkflowRegisterResult": "dli.domain.model.workflow",
    "WorkflowRegistrationError": "dli.domain.model.errors",
    "WorkflowRun": "dli.domain.model.workflow",
    "WorkflowRunResult": "dli.domain.model.workflow",
    "WorkflowStatus": "dli.domain.model.enums",
    "WorkflowStatusResult": "dli.domain.model.workflow",
    "WorkflowUnregisterError": "dli.domain.model.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from dli.domain.model.enums import ResultStatus, RunStatus, RunType, SourceType, WorkflowStatus
    from dli.domain.model.errors import (
        AuthenticationError,
        ConfigurationError,
        DatasetNotFoundError,
        DLIError,
        ErrorCode,
        InvalidCronError,
        InvalidStateError,
        ParameterInvalidError,
        ServerError,
        ServerUnreachableError,
        SpecInvalidError,
        StoreUnavailableError,
        WorkflowAlreadyExistsError,
        WorkflowExecutionError,
        WorkflowNotFoundError,
        WorkflowOverriddenError,
        WorkflowPermissionError,
        WorkflowRegistrationError,
        WorkflowUnregisterError,
    )
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.spec import DatasetSpec, Parameter, Statement
    from dli.domain.model.workflow import (
        DatasetInfo,
        RetryWait,
        RunLogs,
        WorkflowHistoryResult,
        WorkflowInfo,
        WorkflowListResult,
        WorkflowRegisterResult,
        WorkflowRun,
        WorkflowRunResult,
        WorkflowStatusResult,
    )
    from dli.entrypoints.api import WorkflowAPI
    from dli.entrypoints.context import ExecutionContext, ExecutionMode
