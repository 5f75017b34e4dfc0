"""``WorkflowAPI``: the library facade. Thin: each method builds one message and hands it to the bus.

Each method imports its use-case module when it runs: a message class is defined next to its handler,
and ``dli workflow list`` should not pay for building every message class and importing every handler.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import attrs

from dli.domain.model.enums import DependencyDirection, RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import (
    ConfigurationError,
    DatasetNotFoundError,
    ParameterInvalidError,
    ServerError,
    ServerUnreachableError,
    SpecInvalidError,
    WorkflowNotFoundError,
    WorkflowRegistrationError,
)
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.schedule import registration_schedule
from dli.domain.model.spec import DatasetSpec, minimal_spec
from dli.domain.usecases.message import MAX_LIMIT, MAX_PAGE
from dli.entrypoints.context import ExecutionContext, ExecutionMode

if TYPE_CHECKING:  # annotations only: a listing does not import the models of runs
    from dli.domain.model.audit import AuditTrail
    from dli.domain.model.dependencies import WorkflowDependenciesResult
    from dli.domain.model.plan import PlanResult
    from dli.domain.model.publish import PublishResult
    from dli.domain.model.sql_check import ValidationResult, WorkflowLineageResult
    from dli.domain.model.workflow import DagState, WorkflowInfo, WorkflowListResult, WorkflowRegisterResult
    from dli.domain.model.workflow_runs import RunLogs, WorkflowHistoryResult, WorkflowRunResult, WorkflowStatusResult
    from dli.domain.usecases.bus import Handles
    from dli.entrypoints.bootstrap import Wiring
    from dli.entrypoints.bootstrap.wiring import Ports

__all__ = ["WorkflowAPI"]


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
        wiring: Wiring | None = None,
        **ports: Unpack[Ports],
    ) -> None:
        """Build the facade; the composition root wires what is not given from ``context``.

        ``ports`` swaps in any of ``bus``, ``local_specs``, ``store``, ``orchestrator``, ``clock``
        (tests pass fakes).
        """
        self.context = context or ExecutionContext()
        if wiring is None:
            from dli.entrypoints.bootstrap import bootstrap

            wiring = bootstrap(self.context, **ports)
        self._bus = wiring.bus
        self._local = wiring.local_specs
        self._publisher = wiring.publisher
        self._local_bus = wiring.local_bus

    def close(self) -> None:
        """Close the connections of the backends (HTTP pools); the facade is unusable afterwards."""
        self._bus.close()

    def __enter__(self) -> WorkflowAPI:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WorkflowAPI(context={self.context!r})"

    # -- lookup and registration -----------------------------------------------------------------

    def get(self, dataset_name: str) -> WorkflowInfo | None:
        """The workflow of a dataset (the CODE one when both exist), or ``None``."""
        from dli.domain.usecases.listing import GetWorkflow

        try:
            return self._bus.handle(GetWorkflow(dataset_name=dataset_name))
        except WorkflowNotFoundError:
            return None

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

    def project_warnings(self) -> tuple[str, ...]:
        """What reading the local project so far found worth telling, each once: keys of ``dli.yaml``
        and fields of the specs read that look like misspellings of ones dli uses (they are ignored,
        or kept as unknown fields; never refused). ``register`` and ``publish`` report them too."""
        return self._local.warnings()

    def register(
        self,
        dataset_name: str,
        *,
        cron: str | None = None,
        timezone: str | None = None,
        enabled: bool | None = None,
        retry_max_attempts: int | None = None,
        retry_delay_seconds: int | None = None,
        force: bool = False,
        after_upstream: bool | None = None,
        dry_run: bool = False,
    ) -> WorkflowRegisterResult:
        """Register the local dataset spec as a MANUAL workflow on ``cron`` in ``timezone``, and/or
        (``after_upstream``) whenever every upstream dataset of its ``depends_on`` that dli manages
        has published new data.

        The schedule is the spec's ``schedule:`` section, each argument given (not ``None``)
        overriding its field; what neither gives has its default (UTC, enabled, 1 attempt, 300 s).
        The result's ``warning`` names upstreams no store knows (external tables) and the
        ``project_warnings`` of reading the spec.

        Raises:
            InvalidCronError: Invalid cron or timezone, or neither a cron nor ``after_upstream``,
                given or in the spec (DLI-805).
            DatasetNotFoundError: No local spec (DLI-101).
            SpecInvalidError: Its ``depends_on`` closes a dependency cycle (DLI-203, naming it).
            WorkflowPermissionError: A CODE workflow exists (DLI-803).
            WorkflowAlreadyExistsError: A MANUAL one exists and ``force`` is false (DLI-804).

        ``dry_run``: every one of these checks (and the SQL check, and the policy's), then nothing is
        written: the result says whether it would register or update, and what it would warn about.
        """
        from dli.domain.usecases.register import RegisterWorkflow

        spec = self.load_spec(dataset_name)
        schedule = registration_schedule(
            spec.schedule,
            cron=cron,
            after_upstream=after_upstream,
            timezone=timezone,
            enabled=enabled,
            retry_max_attempts=retry_max_attempts,
            retry_delay_seconds=retry_delay_seconds,
        )
        spec = attrs.evolve(spec, schedule=schedule)
        try:
            result: WorkflowRegisterResult = self._bus.handle(RegisterWorkflow(spec=spec, force=force, dry_run=dry_run))
        except SpecInvalidError as exc:
            raise _in_file(exc, self._local.location(spec.name)) from None
        told = [*self.project_warnings(), *result.warnings]
        return attrs.evolve(result, warning="; ".join(told) or None, warnings=tuple(told))

    def unregister(self, dataset_name: str) -> WorkflowRunResult:
        """Remove a MANUAL workflow (a CODE one is removed through Git: DLI-803)."""
        from dli.domain.usecases.register import UnregisterWorkflow

        return self._bus.handle(UnregisterWorkflow(dataset_name=dataset_name))

    # -- execution -----------------------------------------------------------------------------

    def run(
        self, dataset_name: str, *, parameters: Mapping[str, Any] | None = None, dry_run: bool = False
    ) -> WorkflowRunResult:
        """Trigger an adhoc run; ``dry_run`` only validates the parameters.

        Parameters the spec does not declare are passed to the run as given, and named in the
        result's ``warnings``.
        """
        from dli.domain.usecases.runs import TriggerRun

        message = TriggerRun(dataset_name=dataset_name, parameters=parameters, dry_run=dry_run)
        return self._bus.handle(message)

    def backfill(
        self,
        dataset_name: str,
        *,
        start_date: str,
        end_date: str,
        parameters: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        with_downstream: bool = False,
    ) -> WorkflowRunResult:
        """Run each date from ``start_date`` to ``end_date`` (YYYY-MM-DD), in order, stopping at the first failure.

        A backfill does not start the workflows scheduled after this one. With ``with_downstream``,
        every managed dataset downstream of it runs too: date by date, each date's datasets in
        dependency order, each run after the previous one ended (``datasets``, ``dates`` and
        ``run_ids`` of the result list the runs in that order).
        """
        from dli.domain.usecases.backfill import TriggerBackfill

        message = TriggerBackfill(
            dataset_name=dataset_name,
            start_date=start_date,
            end_date=end_date,
            parameters=parameters,
            dry_run=dry_run,
            with_downstream=with_downstream,
        )
        return self._bus.handle(message)

    def stop(self, run_id: str) -> WorkflowRunResult:
        """Kill a running run (DLI-807 when it already finished)."""
        from dli.domain.usecases.runs import StopRun

        return self._bus.handle(StopRun(run_id=run_id))

    # -- queries ---------------------------------------------------------------------------------

    def get_status(self, run_id: str) -> WorkflowStatusResult:
        """Status of one run (DLI-800 when unknown)."""
        from dli.domain.usecases.runs import GetRunStatus

        return self._bus.handle(GetRunStatus(run_id=run_id))

    def list_workflows(
        self,
        *,
        source_type: SourceType | str | None = None,
        status: WorkflowStatus | str | None = None,
        dataset_filter: str | None = None,
        team: str | None = None,
        running_only: bool = False,
        enabled_only: bool = False,
        limit: int = 100,
        after: str | None = None,
    ) -> WorkflowListResult:
        """Registered workflows, filtered by source, status, name pattern, team, running and enabled: at most ``limit``, from ``after`` (a ``next_cursor``).

        One request answers at most ``MAX_PAGE`` workflows; a larger ``limit`` follows ``next_cursor``
        page by page (the result's ``next_cursor`` continues after the last workflow returned).
        """
        from dli.domain.usecases.listing import ListWorkflows

        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ParameterInvalidError(
                f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}",
                hints=(f"Pass a whole number from 1 to {MAX_LIMIT}; follow next_cursor for more.",),
            )
        pages: list[WorkflowListResult] = []
        rows: list[WorkflowInfo] = []
        cursor = after
        while True:
            message = ListWorkflows(
                source_type=source_type,
                status=status,
                dataset_filter=dataset_filter,
                team=team,
                running_only=running_only,
                enabled_only=enabled_only,
                limit=min(limit - len(rows), MAX_PAGE),
                after=cursor,
            )
            page: WorkflowListResult = self._bus.handle(message)
            pages.append(page)
            rows.extend(page.workflows)
            cursor = page.next_cursor
            if cursor is None or len(rows) >= limit or not page.workflows:
                break
        if len(pages) == 1:
            return pages[0]
        last = pages[-1]
        warnings = tuple(dict.fromkeys(w for p in pages for w in p.warnings))
        return attrs.evolve(last, workflows=tuple(rows), warnings=warnings)

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
        from dli.domain.usecases.history import GetHistory

        message = GetHistory(
            dataset_name=dataset_name,
            source_type=source_type,
            run_status=run_status,
            limit=limit,
            include_dataset_info=include_dataset_info,
        )
        return self._bus.handle(message)

    def audit(
        self,
        *,
        dataset_name: str | None = None,
        by: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> AuditTrail:
        """The audit trail, newest first: writes and refusals (of ``dataset_name``, by ``by``, from the
        day ``since`` on); on a server with a policy, only the teams the caller may view."""
        from dli.domain.usecases.audit import GetAuditTrail

        return self._bus.handle(GetAuditTrail(dataset_name=dataset_name, by=by, since=since, limit=limit))

    def dependencies(
        self,
        dataset_name: str,
        *,
        direction: DependencyDirection | str = DependencyDirection.BOTH,
        depth: int | None = None,
        from_sql: bool = False,
    ) -> WorkflowDependenciesResult:
        """The upstream and/or downstream datasets of a workflow (``direction``: ``upstream``,
        ``downstream`` or ``both``), at most ``depth`` steps away; names no store knows are external.
        ``from_sql``: also the tables its SQL reads (``from_sql`` of the result), beside ``depends_on``.

        Raises:
            WorkflowNotFoundError: No store knows the workflow (DLI-800).
        """
        from dli.domain.usecases.dependencies import GetDependencies

        message = GetDependencies(dataset_name=dataset_name, direction=direction, depth=depth, from_sql=from_sql)
        return self._bus.handle(message)

    def lineage(self, dataset_name: str, *, column: str | None = None) -> WorkflowLineageResult:
        """Which upstream columns feed each output column of a workflow's query (its active spec's),
        parsed in its dialect; ``column``: that output column only.

        Raises:
            WorkflowNotFoundError: No store knows the workflow (DLI-800).
            SpecInvalidError: The query does not parse, has no SELECT, or no column ``column`` (DLI-203).
        """
        from dli.domain.usecases.lineage import GetLineage

        return self._bus.handle(GetLineage(dataset_name=dataset_name, column=column))

    def logs(self, run_id: str) -> RunLogs:
        """Task logs of a run."""
        from dli.domain.usecases.runs import GetRunLogs

        return self._bus.handle(GetRunLogs(run_id=run_id))

    # -- schedule control ------------------------------------------------------------------------

    def pause(self, dataset_name: str, *, source_type: SourceType | str | None = None) -> WorkflowRunResult:
        """Pause the schedule (CODE workflows too)."""
        from dli.domain.usecases.pause import PauseWorkflow

        return self._bus.handle(PauseWorkflow(dataset_name=dataset_name, source_type=source_type))

    def unpause(self, dataset_name: str, *, source_type: SourceType | str | None = None) -> WorkflowRunResult:
        """Resume the schedule (DLI-806 when the manual workflow meant is overridden)."""
        from dli.domain.usecases.pause import UnpauseWorkflow

        return self._bus.handle(UnpauseWorkflow(dataset_name=dataset_name, source_type=source_type))

    # -- checking the project --------------------------------------------------------------------

    def validate(self, names: Sequence[str] = (), *, strict: bool = False) -> ValidationResult:
        """Check the SQL of the local project's specs (``names``; none: every spec), writing nothing.

        Each statement is rendered with its parameters' defaults and parsed in the spec's dialect:
        syntax errors, statements not checked, the ``depends_on`` the SQL disagrees with. ``strict``
        counts warnings as errors. The result's ``valid`` says whether register/publish would accept
        the SQL; nothing raises for a finding.

        Raises:
            DatasetNotFoundError: A named dataset has no spec (DLI-101).
            SpecInvalidError: A spec file is not a valid spec (DLI-203).
        """
        from dli.domain.usecases.validate import ValidateSpecs

        return self._checker().handle(ValidateSpecs(names=names, strict=strict))

    def project_has(self, dataset_name: str) -> bool:
        """Whether the local project has a spec of ``dataset_name`` (MOCK mode makes one up otherwise)."""
        return self._local.find(dataset_name) is not None

    def _checker(self) -> Handles:
        if self._local_bus is None:
            raise ConfigurationError("This facade was wired without a local bus (validate, lineage)")
        return self._local_bus

    # -- the code path ---------------------------------------------------------------------------

    def publish(
        self,
        *,
        store_url: str,
        project_path: Path | str | None = None,
        prune: bool = False,
        dry_run: bool = False,
        publisher: str | None = None,
    ) -> PublishResult:
        """Publish the project's scheduled specs to ``code/`` of the store at ``store_url`` (what CI/CD runs).

        Every spec of the project (``project_path``, default: the context's) is validated first: one
        invalid spec (DLI-203) and nothing is written. ``publisher`` is recorded as ``registered_by``
        (default: ``ci``).
        """
        from dli.domain.usecases.publish import PublishSpecs

        bus = self._publisher(store_url, Path(project_path or self.context.project_path))
        try:
            return bus.handle(PublishSpecs(prune=prune, dry_run=dry_run, actor=publisher))
        finally:
            bus.close()

    def plan(self, *, store_url: str, project_path: Path | str | None = None, prune: bool = False) -> PlanResult:
        """What ``publish`` would change in the store at ``store_url``, explained; writes nothing.

        Each create, update (its changed fields and a diff of the SQL) and delete (``prune``), the
        MANUAL workflows that would become overridden or active again, schedule changes with their
        next fire times, the managed datasets downstream of each change, and the SQL check's
        findings (``errors``: publish would refuse).
        """
        from dli.domain.usecases.publish import PlanPublish

        bus = self._publisher(store_url, Path(project_path or self.context.project_path))
        try:
            return bus.handle(PlanPublish(prune=prune))
        finally:
            bus.close()

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
        max_poll_failures: int = 3,
    ) -> WorkflowStatusResult:
        """Poll until the run is terminal or ``timeout_seconds`` pass; return the last status seen.

        A poll that fails because a backend is briefly unavailable (DLI-501, DLI-503: e.g. a busy
        Airflow not answering one request in time) is retried at the next poll; only
        ``max_poll_failures`` failures in a row end the wait with that error.
        """
        import tenacity  # only a wait pays for importing it

        deadline = None if timeout_seconds is None else monotonic() + timeout_seconds

        def give_up(attempt: tenacity.RetryCallState) -> bool:
            return attempt.attempt_number >= max_poll_failures or (deadline is not None and monotonic() >= deadline)

        # One poll: a failure is retried at the next poll, until failures in a row or the deadline end it.
        poll = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((ServerError, ServerUnreachableError)),
            stop=give_up,
            wait=tenacity.wait_fixed(poll_seconds),
            sleep=sleep,
            reraise=True,
        )
        while True:
            status = poll(self.get_status, run_id)
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
        poll_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> DagState:
        """Poll until the orchestrator runs the workflow (Airflow parsed its DAG).

        Raises:
            WorkflowRegistrationError: The DAG has an import error (a broken spec), or it did not
                appear within ``timeout_seconds`` (DLI-801).
        """
        from dli.domain.usecases.dag_state import GetDagState

        query = GetDagState(dataset_name=dataset_name)
        name = query.dataset_name
        deadline = monotonic() + timeout_seconds
        while True:
            state: DagState = self._bus.handle(query)
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


def _in_file(error: SpecInvalidError, location: str | None) -> SpecInvalidError:
    """An SQL check's error (its statements named under ``spec``) naming the spec's file instead."""
    if location is None or not error.details.get("sql"):
        return error
    message = error.message.replace("spec: ", f"{location}: ")
    return SpecInvalidError(message, hints=error.hints, details=error.details)
