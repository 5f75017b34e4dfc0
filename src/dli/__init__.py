"""dli: put datasets on a schedule in Apache Airflow without writing DAGs.

The public API (DESIGN.md §3)::

    from dli import WorkflowAPI, ExecutionContext, ExecutionMode
"""

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

__version__ = "0.1.0"

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
    "WorkflowStatusResult",
    "WorkflowUnregisterError",
    "__version__",
    "bootstrap",
]
