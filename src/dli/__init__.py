"""dli: put datasets on a schedule in Apache Airflow without writing DAGs.

The public API (DESIGN.md §3)::

    from dli import WorkflowAPI, ExecutionContext, ExecutionMode
"""

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Exports load on first use (PEP 562): the CLI imports this package on every start and must not pay
# for the whole library to print its help.
_EXPORTS = {
    "AuthenticationError": "dli.domain.errors",
    "ConfigurationError": "dli.domain.errors",
    "DLIError": "dli.domain.errors",
    "DatasetInfo": "dli.domain.workflow",
    "DatasetNotFoundError": "dli.domain.errors",
    "DatasetSpec": "dli.domain.spec",
    "ErrorCode": "dli.domain.errors",
    "ExecutionContext": "dli.entrypoints.context",
    "ExecutionMode": "dli.entrypoints.context",
    "InvalidCronError": "dli.domain.errors",
    "InvalidStateError": "dli.domain.errors",
    "Parameter": "dli.domain.spec",
    "ParameterInvalidError": "dli.domain.errors",
    "ResultStatus": "dli.domain.enums",
    "RunLogs": "dli.domain.workflow",
    "RunStatus": "dli.domain.enums",
    "RunType": "dli.domain.enums",
    "ScheduleConfig": "dli.domain.schedule",
    "ServerError": "dli.domain.errors",
    "ServerUnreachableError": "dli.domain.errors",
    "SourceType": "dli.domain.enums",
    "SpecInvalidError": "dli.domain.errors",
    "Statement": "dli.domain.spec",
    "StoreUnavailableError": "dli.domain.errors",
    "WorkflowAPI": "dli.entrypoints.api",
    "WorkflowAlreadyExistsError": "dli.domain.errors",
    "WorkflowExecutionError": "dli.domain.errors",
    "WorkflowHistoryResult": "dli.domain.workflow",
    "WorkflowInfo": "dli.domain.workflow",
    "WorkflowListResult": "dli.domain.workflow",
    "WorkflowNotFoundError": "dli.domain.errors",
    "WorkflowOverriddenError": "dli.domain.errors",
    "WorkflowPermissionError": "dli.domain.errors",
    "WorkflowRegisterResult": "dli.domain.workflow",
    "WorkflowRegistrationError": "dli.domain.errors",
    "WorkflowRun": "dli.domain.workflow",
    "WorkflowRunResult": "dli.domain.workflow",
    "WorkflowStatus": "dli.domain.enums",
    "WorkflowStatusResult": "dli.domain.workflow",
    "WorkflowUnregisterError": "dli.domain.errors",
    "bootstrap": "dli.entrypoints.bootstrap",
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
    from dli.domain.enums import ResultStatus, RunStatus, RunType, SourceType, WorkflowStatus
    from dli.domain.errors import (
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
    from dli.domain.schedule import ScheduleConfig
    from dli.domain.spec import DatasetSpec, Parameter, Statement
    from dli.domain.workflow import (
        DatasetInfo,
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
    from dli.entrypoints.bootstrap import bootstrap
    from dli.entrypoints.context import ExecutionContext, ExecutionMode
