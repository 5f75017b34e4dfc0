"""``WorkflowAPI``: the library facade (spec §4.1). Thin: validate arguments, call the control plane."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dli.domain.model.enums import RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import DatasetNotFoundError, ParameterInvalidError, WorkflowRegistrationError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, minimal_spec
from dli.domain.model.workflow import (
    RunLogs,
    WorkflowHistoryResult,
    WorkflowInfo,
    WorkflowListResult,
    WorkflowRegisterResult,
    WorkflowRunResult,
    WorkflowStatusResult,
)
from dli.entrypoints.context import ExecutionContext, ExecutionMode
from dli.domain.model.queries import HistoryQuery, ListQuery
from dli.ports.control_plane import ControlPlane
from dli.ports.local_specs import LocalSpecs
from dli.domain.model.workflow import DagState

__all__ = ["WorkflowAPI"]


def _enum(cls: type, value: Any, what: str) -> Any:
    if value is None or isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)  # type: ignore[attr-defined]
        raise ParameterInvalidError(f"Invalid {what}: {value!r}", hints=(f"Use one of: {allowed}.",)) from None


class WorkflowAPI:
    """Library API for workflow management.

    Example:
        >>> from dli import WorkflowAPI, ExecutionContext, ExecutionMode
        >>> api = WorkflowAPI(context=ExecutionContext(execution_mode=ExecutionMode.MOCK))
        >>> api.register("test.dataset", cron="0 9 * * *", timezone="Asia/Seoul").workflow_info.status
        <WorkflowStatus.ACTIVE: 'active'>
    """

    def __init__(
        self,
        context: ExecutionContext | None = None,
        *,
        control_plane: ControlPlane | None = None,
        local_specs: LocalSpecs | None = None,
    ) -> None:
        """Build the facade; without ports, the composition root picks them from ``context``."""
        self.context = context or ExecutionContext()
        if control_plane is None:
            from dli.entrypoints.bootstrap import build_control_plane

            control_plane = build_control_plane(self.context)
        if local_specs is None:
            from dli.adapters.local_project import FilesystemProject

            local_specs = FilesystemProject(self.context.project_path)
        self._control = control_plane
        self._local = local_specs

    def __repr__(self) -> str:
        return f"WorkflowAPI(context={self.context!r})"

    # -- lookup and registration -----------------------------------------------------------------

    def get(self, dataset_name: str) -> WorkflowInfo | None:
        """The workflow of a dataset (the CODE one when both exist), or ``None``."""
        return self._control.get(validate_dataset_name(dataset_name))

    def load_spec(self, dataset_name: str) -> DatasetSpec:
        """The local spec of ``dataset_name`` (MOCK mode generates one when the project has none)."""
        validate_dataset_name(dataset_name)
        spec = self._local.find(dataset_name)
        if spec is None:
            if self.context.execution_mode is ExecutionMode.MOCK:
                return minimal_spec(dataset_name)
            raise DatasetNotFoundError(
                f"Dataset '{dataset_name}' not found",
                hints=(f"Check the dataset name or project path ({self.context.project_path}).",),
                details={"dataset_name": dataset_name},
            )
        return spec

    def register(
        self,
        dataset_name: str,
        *,
        cron: str,
        timezone: str = "UTC",
        enabled: bool = True,
        retry_max_attempts: int = 1,
        retry_delay_seconds: int = 300,
        force: bool = False,
    ) -> WorkflowRegisterResult:
        """Register the local dataset spec as a MANUAL workflow on ``cron`` in ``timezone``.

        Raises:
            InvalidCronError: Invalid cron or timezone (DLI-805).
            DatasetNotFoundError: No local spec (DLI-101).
            WorkflowPermissionError: A CODE workflow exists (DLI-803).
            WorkflowAlreadyExistsError: A MANUAL one exists and ``force`` is false (DLI-804).
        """
        schedule = ScheduleConfig(
            cron=cron,
            timezone=timezone,
            enabled=enabled,
            retry_max_attempts=retry_max_attempts,
            retry_delay_seconds=retry_delay_seconds,
        )
        spec = attrs.evolve(self.load_spec(dataset_name), schedule=schedule)
        return self._control.register(spec=spec, force=force)

    def unregister(self, dataset_name: str) -> WorkflowRunResult:
        """Remove a MANUAL workflow (a CODE one is removed through Git: DLI-803)."""
        return self._control.unregister(validate_dataset_name(dataset_name))

    # -- execution -----------------------------------------------------------------------------

    def run(
        self, dataset_name: str, *, parameters: Mapping[str, Any] | None = None, dry_run: bool = False
    ) -> WorkflowRunResult:
        """Trigger an adhoc run; ``dry_run`` only validates the parameters."""
        return self._control.run(validate_dataset_name(dataset_name), parameters=dict(parameters or {}), dry_run=dry_run)

    def backfill(
        self,
        dataset_name: str,
        *,
        start_date: str,
        end_date: str,
        parameters: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> WorkflowRunResult:
        """Run each date from ``start_date`` to ``end_date`` (YYYY-MM-DD), in order, stopping at the first failure."""
        return self._control.backfill(
            validate_dataset_name(dataset_name),
            start_date=start_date,
            end_date=end_date,
            parameters=dict(parameters or {}),
            dry_run=dry_run,
        )

    def stop(self, run_id: str) -> WorkflowRunResult:
        """Kill a running run (DLI-807 when it already finished)."""
        return self._control.stop(run_id)

    # -- queries ---------------------------------------------------------------------------------

    def get_status(self, run_id: str) -> WorkflowStatusResult:
        """Status of one run (DLI-800 when unknown)."""
        return self._control.get_status(run_id)

    def list_workflows(
        self,
        *,
        source_type: SourceType | str | None = None,
        status: WorkflowStatus | str | None = None,
        dataset_filter: str | None = None,
        running_only: bool = False,
        enabled_only: bool = False,
        limit: int = 100,
    ) -> WorkflowListResult:
        """Registered workflows, filtered (spec §4.1)."""
        query = ListQuery(
            source_type=_enum(SourceType, source_type, "source type"),
            status=_enum(WorkflowStatus, status, "workflow status"),
            dataset_filter=dataset_filter or None,
            running_only=running_only,
            enabled_only=enabled_only,
            limit=limit,
        )
        return self._control.list_workflows(query)

    def history(
        self,
        *,
        dataset_name: str | None = None,
        source_type: SourceType | str | None = None,
        run_status: RunStatus | str | None = None,
        limit: int = 20,
        include_dataset_info: bool = True,
    ) -> WorkflowHistoryResult:
        """Runs, newest first, with the dataset's metadata when one dataset is named."""
        if isinstance(run_status, str):
            run_status = run_status.upper()
        query = HistoryQuery(
            dataset_name=validate_dataset_name(dataset_name) if dataset_name is not None else None,
            source_type=_enum(SourceType, source_type, "source type"),
            run_status=_enum(RunStatus, run_status, "run status"),
            limit=limit,
            include_dataset_info=include_dataset_info,
        )
        return self._control.history(query)

    def logs(self, run_id: str) -> RunLogs:
        """Task logs of a run."""
        return self._control.logs(run_id)

    # -- schedule control ------------------------------------------------------------------------

    def pause(self, dataset_name: str, *, source_type: SourceType | str | None = None) -> WorkflowRunResult:
        """Pause the schedule (CODE workflows too)."""
        return self._control.pause(
            validate_dataset_name(dataset_name), source_type=_enum(SourceType, source_type, "source type")
        )

    def unpause(self, dataset_name: str, *, source_type: SourceType | str | None = None) -> WorkflowRunResult:
        """Resume the schedule (DLI-806 when the manual workflow meant is overridden)."""
        return self._control.unpause(
            validate_dataset_name(dataset_name), source_type=_enum(SourceType, source_type, "source type")
        )

    # -- following runs --------------------------------------------------------------------------

    def wait_for_run(
        self,
        run_id: str,
        *,
        timeout_seconds: float | None = None,
        poll_seconds: float = 2.0,
        on_update: Callable[[WorkflowStatusResult], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> WorkflowStatusResult:
        """Poll until the run is terminal or ``timeout_seconds`` pass; return the last status seen."""
        deadline = None if timeout_seconds is None else monotonic() + timeout_seconds
        while True:
            status = self.get_status(run_id)
            if on_update is not None:
                on_update(status)
            if status.is_terminal:
                return status
            if deadline is not None and monotonic() >= deadline:
                return status
            sleep(poll_seconds if deadline is None else max(0.0, min(poll_seconds, deadline - monotonic())))

    def wait_until_live(
        self,
        dataset_name: str,
        *,
        timeout_seconds: float = 120.0,
        poll_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> DagState:
        """Poll until the orchestrator runs the workflow (Airflow parsed its DAG).

        Raises:
            WorkflowRegistrationError: The DAG has an import error (a broken spec), or it did not
                appear within ``timeout_seconds`` (DLI-801).
        """
        name = validate_dataset_name(dataset_name)
        deadline = monotonic() + timeout_seconds
        while True:
            state = self._control.dag_state(name)
            if state.error:
                raise WorkflowRegistrationError(
                    f"Workflow '{name}' is stored but its DAG cannot run: {state.error}",
                    hints=("Fix the spec and register again (--force).",),
                    details={"dataset_name": name},
                )
            if state.visible:
                return state
            if monotonic() >= deadline:
                raise WorkflowRegistrationError(
                    f"Workflow '{name}' is stored but Airflow did not pick it up within {timeout_seconds:g}s",
                    hints=("Check that the dli DAG file is in Airflow's DAG folder and reads this store.",),
                    details={"dataset_name": name},
                )
            sleep(max(0.0, min(poll_seconds, deadline - monotonic())))
