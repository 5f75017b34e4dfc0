"""dli: put datasets on a schedule in Apache Airflow without writing DAGs.

The public API (README.md, "Library")::

    from dli import WorkflowAPI, ExecutionContext, ExecutionMode
"""

import importlib
from typing import TYPE_CHECKING, Any

from dli._version import __version__

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
    from dli.domain.model.workflow import DatasetInfo, WorkflowInfo, WorkflowListResult, WorkflowRegisterResult
    from dli.domain.model.workflow_runs import (
        RetryWait,
        RunLogs,
        WorkflowHistoryResult,
        WorkflowRun,
        WorkflowRunResult,
        WorkflowStatusResult,
    )
    from dli.entrypoints.api import WorkflowAPI
    from dli.entrypoints.context import ExecutionContext, ExecutionMode

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "DLIError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DatasetSpec",
    "ErrorCode",
    "ExecutionContext",
    "ExecutionMode",
    "InvalidCronError",
    "InvalidStateError",
    "Parameter",
    "ParameterInvalidError",
    "ResultStatus",
    "RetryWait",
    "RunLogs",
    "RunStatus",
    "RunType",
    "ScheduleConfig",
    "ServerError",
    "ServerUnreachableError",
    "SourceType",
    "SpecInvalidError",
    "Statement",
    "StoreUnavailableError",
    "WorkflowAPI",
    "WorkflowAlreadyExistsError",
    "WorkflowExecutionError",
    "WorkflowHistoryResult",
    "WorkflowInfo",
    "WorkflowListResult",
    "WorkflowNotFoundError",
    "WorkflowOverriddenError",
    "WorkflowPermissionError",
    "WorkflowRegisterResult",
    "WorkflowRegistrationError",
    "WorkflowRun",
    "WorkflowRunResult",
    "WorkflowStatus",
    "WorkflowStatusResult",
    "WorkflowUnregisterError",
    "__version__",
]

# The one place where the library loads lazily (PEP 562). Every `dli` command imports this package
# first, as the parent of the CLI, and must not pay for the whole library to print its help; inside
# the package modules import each other plainly, and the CLI loads its command modules on demand.
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
    "RetryWait": "dli.domain.model.workflow_runs",
    "RunLogs": "dli.domain.model.workflow_runs",
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
    "WorkflowHistoryResult": "dli.domain.model.workflow_runs",
    "WorkflowInfo": "dli.domain.model.workflow",
    "WorkflowListResult": "dli.domain.model.workflow",
    "WorkflowNotFoundError": "dli.domain.model.errors",
    "WorkflowOverriddenError": "dli.domain.model.errors",
    "WorkflowPermissionError": "dli.domain.model.errors",
    "WorkflowRegisterResult": "dli.domain.model.workflow",
    "WorkflowRegistrationError": "dli.domain.model.errors",
    "WorkflowRun": "dli.domain.model.workflow_runs",
    "WorkflowRunResult": "dli.domain.model.workflow_runs",
    "WorkflowStatus": "dli.domain.model.enums",
    "WorkflowStatusResult": "dli.domain.model.workflow_runs",
    "WorkflowUnregisterError": "dli.domain.model.errors",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
