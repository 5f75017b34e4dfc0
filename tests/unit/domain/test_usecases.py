"""Use-cases over the in-memory adapters, with failures injected and a fake clock."""

import datetime as dt

import pytest

from dli import ExecutionContext, ExecutionMode, ResultStatus, RunStatus, SourceType, WorkflowAPI, WorkflowStatus
from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.errors import (
    ParameterInvalidError,
    ServerError,
    SpecInvalidError,
    WorkflowAlreadyExistsError,
    WorkflowPermissionError,
)
from dli.domain.model.spec import Parameter, SpecDocument
from dli.domain.usecases.register import RegisterWorkflow
from tests.support.backends import write_spec
from tests.support.specs import make_spec


@pytest.fixture
def env(tmp_path):
    clock = FakeClock()
    store = InMemorySpecStore()
    orch = InMemoryOrchestrator(clock=clock, queue_seconds=1, run_seconds=3)
    api = WorkflowAPI(
        ExecutionContext(execution_mode=ExecutionMode.LOCAL, project_path=tmp_path, user="alice"),
        store=store,
        orchestrator=orch,
        clock=clock,
    )
    write_spec(tmp_path, make_spec("shop.sales.daily", cron=None, description="Sales", team="@shop"))
    api.register("shop.sales.daily", cron="0 9 * * *")
    return api, orch, clock, store


def test_run_moves_pending_running_completed_on_the_clock(env):
    api, _, clock, _ = env
    run_id = api.run("shop.sales.daily").run_id
    assert api.get_status(run_id).run_status is RunStatus.PENDING
    clock.advance(1)
    status = api.get_status(run_id)
    assert status.run_status is RunStatus.RUNNING and status.is_running and not status.is_terminal
    assert api.list_workflows(running_only=True).total_count == 1
    clock.advance(3)
    status = api.get_status(run_id)
    assert status.run_status is RunStatus.COMPLETED and status.is_terminal
    assert status.duration_seconds == 3.0
    assert status.triggered_by == "alice"
    assert api.list_workflows(running_only=True).total_count == 0


def test_injected_failure_shows_its_error_in_status_history_and_logs(env):
    api, orch, clock, _ = env
    orch.inject_failure("shop.sales.daily", "no such table: events")
    run_id = api.run("shop.sales.daily").run_id
    clock.advance(10)
    status = api.get_status(run_id)
    assert status.run_status is RunStatus.FAILED
    assert status.error_message == "no such table: events"
    assert api.history(dataset_name="shop.sales.daily").runs[0].error_message == "no such table: events"
    assert "no such table: events" in api.logs(run_id).text


def test_backfill_stops_after_the_first_failed_date(env):
    api, orch, clock, _ = env
    orch.inject_failure("shop.sales.daily", "boom", dates=[dt.date(2025, 1, 2)])
    result = api.backfill("shop.sales.daily", start_date="2025-01-01", end_date="2025-01-04")
    clock.advance(60)
    statuses = [api.get_status(r) for r in result.run_ids]
    assert [s.run_status for s in statuses] == [
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.KILLED,
        RunStatus.KILLED,
    ]
    assert statuses[2].started_at is None and "backfill stopped" in statuses[2].error_message
    assert [s.parameters["execution_date"] for s in statuses] == [
        "2025-01-01",
        "2025-01-02",
        "2025-01-03",
        "2025-01-04",
    ]


def test_backfill_dates_wait_for_each_other(env):
    api, _, clock, _ = env
    result = api.backfill("shop.sales.daily", start_date="2025-01-01", end_date="2025-01-02")
    clock.advance(2)
    assert [api.get_status(r).run_status for r in result.run_ids] == [RunStatus.RUNNING, RunStatus.PENDING]


def test_stopping_a_backfill_date_ends_the_backfill(env):
    api, _, clock, _ = env
    result = api.backfill("shop.sales.daily", start_date="2025-01-01", end_date="2025-01-03")
    clock.advance(2)
    api.stop(result.run_ids[0])
    clock.advance(60)
    assert [api.get_status(r).run_status for r in result.run_ids] == [RunStatus.KILLED] * 3


def test_backfill_sets_execution_date_itself_and_warns_about_a_given_one(env):
    api, *_ = env
    result = api.backfill(
        "shop.sales.daily", start_date="2025-01-01", end_date="2025-01-02", parameters={"execution_date": "2024-12-31"}
    )
    assert "execution_date" not in result.parameters
    assert any("execution_date is set by the backfill" in w for w in result.warnings)
    logical = [api.get_status(r).logical_date.date().isoformat() for r in result.run_ids]
    assert logical == ["2025-01-01", "2025-01-02"]


def test_backfill_of_a_spec_requiring_execution_date_supplies_it(tmp_path):
    clock = FakeClock()
    api = WorkflowAPI(
        ExecutionContext(execution_mode=ExecutionMode.LOCAL, project_path=tmp_path, user="alice"),
        store=InMemorySpecStore(),
        orchestrator=InMemoryOrchestrator(clock=clock),
        clock=clock,
    )
    required = (Parameter(name="execution_date", type="date", required=True),)
    write_spec(tmp_path, make_spec("shop.daily", cron=None, parameters=required))
    api.register("shop.daily", cron="0 6 * * *")
    result = api.backfill("shop.daily", start_date="2025-01-02", end_date="2025-01-04")
    assert result.dates == ("2025-01-02", "2025-01-03", "2025-01-04") and result.warnings == ()
    with pytest.raises(ParameterInvalidError, match="Missing required parameter 'execution_date'"):
        api.run("shop.daily")  # an adhoc run still needs it


def test_run_passes_undeclared_parameters_with_a_warning_naming_them_and_the_declared(env):
    api, *_ = env
    result = api.run("shop.sales.daily", parameters={"date": "2025-01-01", "region": "eu"})
    assert result.parameters == {"date": "2025-01-01", "region": "eu"}
    (warning,) = result.warnings
    assert "date, region" in warning and "declared: none" in warning
    status = api.get_status(result.run_id)
    assert status.parameters == {"date": "2025-01-01", "region": "eu"}


def test_declared_parameter_of_the_wrong_type_is_still_an_error(tmp_path):
    clock = FakeClock()
    api = WorkflowAPI(
        ExecutionContext(execution_mode=ExecutionMode.LOCAL, project_path=tmp_path, user="alice"),
        store=InMemorySpecStore(),
        orchestrator=InMemoryOrchestrator(clock=clock),
        clock=clock,
    )
    write_spec(tmp_path, make_spec("shop.typed", cron=None, parameters=(Parameter(name="n", type="integer"),)))
    api.register("shop.typed", cron="0 6 * * *")
    with pytest.raises(ParameterInvalidError, match="must be integer"):
        api.run("shop.typed", parameters={"n": "abc", "extra": 1})


def test_register_records_who_and_when(env):
    api, _, clock, store = env
    doc = store.read(SourceType.MANUAL, "shop.sales.daily").document
    assert doc.registered_by == "alice" and doc.registered_at == clock.now()
    assert doc.spec.description == "Sales"


def test_register_keeps_the_local_spec_fields(env):
    api, _, _, store = env
    info = api.get("shop.sales.daily")
    assert (info.team, info.description, info.registered_by) == ("@shop", "Sales", "alice")


def test_register_message_requires_a_schedule():
    with pytest.raises(SpecInvalidError):
        RegisterWorkflow(spec=make_spec(cron=None))


def test_code_workflow_pause_survives_listing_and_unpause_resumes(env):
    api, _, _, store = env
    store.create(
        SourceType.CODE, SpecDocument(spec=make_spec("shop.code.x", enabled=False), source_type=SourceType.CODE)
    )
    assert api.get("shop.code.x").status is WorkflowStatus.PAUSED  # spec's enabled: false, orchestrator unaware
    api.unpause("shop.code.x")
    assert api.get("shop.code.x").status is WorkflowStatus.ACTIVE
    with pytest.raises(WorkflowPermissionError):
        api.unregister("shop.code.x")


def test_wait_for_run_returns_the_last_status_on_timeout(env):
    api, _, clock, _ = env
    run_id = api.run("shop.sales.daily").run_id
    seen = []
    ticks = iter(range(100))
    status = api.wait_for_run(
        run_id,
        timeout_seconds=2,
        poll_seconds=1,
        on_update=seen.append,
        sleep=lambda s: None,
        monotonic=lambda: next(ticks),
    )
    assert status.run_status is RunStatus.PENDING and len(seen) >= 2


def test_history_of_code_source_excludes_manual_runs(env):
    api, _, clock, store = env
    store.create(SourceType.CODE, SpecDocument(spec=make_spec("shop.code.x"), source_type=SourceType.CODE))
    api.run("shop.sales.daily")
    code_run = api.run("shop.code.x").run_id
    result = api.history(source_type="code")
    assert [r.run_id for r in result.runs] == [code_run]
    assert result.runs[0].source_type is SourceType.CODE
    assert api.history(source_type="manual").runs[0].source_type is SourceType.MANUAL


def test_backfill_dates_are_days_in_the_workflows_timezone(tmp_path):
    clock = FakeClock()
    api = WorkflowAPI(
        ExecutionContext(execution_mode=ExecutionMode.LOCAL, project_path=tmp_path, user="alice"),
        store=InMemorySpecStore(),
        orchestrator=InMemoryOrchestrator(clock=clock),
        clock=clock,
    )
    write_spec(tmp_path, make_spec("shop.seoul", cron=None))
    api.register("shop.seoul", cron="30 7 * * *", timezone="Asia/Seoul")
    result = api.backfill("shop.seoul", start_date="2025-01-01", end_date="2025-01-02")
    logical = [api.get_status(r).logical_date for r in result.run_ids]
    assert [d.isoformat() for d in logical] == ["2025-01-01T00:00:00+09:00", "2025-01-02T00:00:00+09:00"]


# -- a write that persisted is never a failure (issue #11) ----------------------------------------


class _FlakyOrchestrator(InMemoryOrchestrator):
    """The in-memory orchestrator, with chosen calls failing as a down Airflow fails, and a call log."""

    def __init__(self, *, clock, failing=()):
        super().__init__(clock=clock)
        self.failing = set(failing)
        self.calls: list[str] = []

    def _call(self, name):
        self.calls.append(name)
        if name in self.failing:
            raise ServerError("Airflow at http://airflow.test:8080 did not answer in 10 s")

    def sync(self, name):
        self._call("sync")

    def is_paused(self, name):
        self._call("is_paused")
        return super().is_paused(name)

    def set_paused(self, name, paused):
        self._call("set_paused")
        super().set_paused(name, paused)


@pytest.fixture
def flaky(tmp_path):
    clock = FakeClock()
    store = InMemorySpecStore()
    orch = _FlakyOrchestrator(clock=clock)
    api = WorkflowAPI(
        ExecutionContext(execution_mode=ExecutionMode.LOCAL, project_path=tmp_path, user="alice"),
        store=store,
        orchestrator=orch,
        clock=clock,
    )
    # A dialect, so that the SQL check has nothing to say either.
    write_spec(tmp_path, make_spec("shop.flaky", cron=None, execution={"dialect": "trino"}))
    return api, orch, store


@pytest.mark.parametrize("failing", ["sync", "set_paused"])
def test_register_succeeds_with_a_warning_when_airflow_cannot_be_told(flaky, failing):
    api, orch, store = flaky
    orch.failing = {failing}
    result = api.register("shop.flaky", cron="0 6 * * *", enabled=False)
    assert result.status is ResultStatus.SUCCESS and not result.updated
    assert store.read(SourceType.MANUAL, "shop.flaky").document.schedule.cron == "0 6 * * *"
    assert "is stored, but Airflow could not be told: [DLI-503] Airflow at http://airflow.test:8080" in result.warning
    assert "next parse of the spec store" in result.warning and "dli workflow pause shop.flaky" in result.warning
    assert result.workflow_info.status is WorkflowStatus.PAUSED  # as the DAG factory will create it
    # After the first failure nothing more is asked of a hung orchestrator.
    assert orch.calls == (["sync"] if failing == "sync" else ["sync", "set_paused"])


def test_register_without_a_problem_has_no_warning(flaky):
    api, orch, _ = flaky
    assert api.register("shop.flaky", cron="0 6 * * *").warning is None
    assert orch.calls == ["sync", "set_paused"]


@pytest.mark.parametrize("failing", [{"is_paused"}, {"set_paused"}, {"sync"}, {"is_paused", "sync"}])
def test_unregister_deletes_and_warns_when_airflow_cannot_be_told(flaky, failing):
    api, orch, store = flaky
    api.register("shop.flaky", cron="0 6 * * *")
    orch.calls.clear()
    orch.failing = failing
    result = api.unregister("shop.flaky")
    assert result.status is ResultStatus.SUCCESS
    assert store.read(SourceType.MANUAL, "shop.flaky") is None
    (warning,) = result.warnings
    assert "is unregistered, but Airflow could not be told: [DLI-503] Airflow at http://airflow.test:8080" in warning
    assert "sync" not in orch.calls or "sync" in failing  # a failed pause is not followed by a sync


def test_unregister_pauses_only_a_dag_the_orchestrator_has_and_runs(flaky):
    api, orch, store = flaky
    api.register("shop.flaky", cron="0 6 * * *", enabled=False)
    orch.calls.clear()
    assert api.unregister("shop.flaky").warnings == ()
    assert orch.calls == ["is_paused", "sync"]  # already paused: nothing to pause
    # A spec the orchestrator never saw (never parsed): nothing to pause, the delete goes on.
    store.create(SourceType.MANUAL, SpecDocument(spec=make_spec("shop.unseen"), source_type=SourceType.MANUAL))
    orch.calls.clear()
    assert api.unregister("shop.unseen").warnings == ()
    assert orch.calls == ["is_paused", "sync"] and store.read(SourceType.MANUAL, "shop.unseen") is None


# -- a stored document that cannot be read ---------------------------------------------------------


@pytest.fixture
def broken_store(tmp_path):
    """A filesystem store whose MANUAL ``shop.bad.upload`` cannot be read (uploaded by hand, not by dli)."""
    from dli.adapters.stores.filesystem import FilesystemSpecStore

    root = tmp_path / "store"
    (root / "manual").mkdir(parents=True)
    (root / "manual" / "shop.bad.upload.yaml").write_bytes(b"name: [unclosed")
    return FilesystemSpecStore.from_url(root.as_uri()), root


def _local_api(tmp_path, store):
    clock = FakeClock()
    project = tmp_path / "project"
    write_spec(project, make_spec("shop.bad.upload", cron=None, description="Fixed"))
    context = ExecutionContext(execution_mode=ExecutionMode.LOCAL, project_path=project, user="alice")
    return WorkflowAPI(context, store=store, orchestrator=InMemoryOrchestrator(clock=clock), clock=clock)


def test_register_names_an_unreadable_manual_spec_and_force_replaces_it(tmp_path, broken_store):
    store, root = broken_store
    api = _local_api(tmp_path, store)
    with pytest.raises(WorkflowAlreadyExistsError, match="cannot be read") as refused:
        api.register("shop.bad.upload", cron="0 9 * * *")
    assert "--force" in " ".join(refused.value.hints)
    assert (root / "manual" / "shop.bad.upload.yaml").read_bytes() == b"name: [unclosed"  # nothing written
    result = api.register("shop.bad.upload", cron="0 9 * * *", force=True)
    assert (result.updated, result.previous_cron) == (True, None)
    assert store.read(SourceType.MANUAL, "shop.bad.upload").document.spec.description == "Fixed"


def test_unregister_deletes_an_unreadable_manual_spec(tmp_path, broken_store):
    store, root = broken_store
    api = _local_api(tmp_path, store)
    assert api.unregister("shop.bad.upload").status is ResultStatus.SUCCESS
    assert not (root / "manual" / "shop.bad.upload.yaml").exists()


def test_an_unreadable_code_spec_keeps_its_name_code_managed(tmp_path, broken_store):
    store, root = broken_store
    (root / "code").mkdir()
    (root / "manual" / "shop.bad.upload.yaml").rename(root / "code" / "shop.bad.upload.yaml")
    api = _local_api(tmp_path, store)
    with pytest.raises(WorkflowPermissionError):
        api.register("shop.bad.upload", cron="0 9 * * *", force=True)
    with pytest.raises(WorkflowPermissionError):
        api.unregister("shop.bad.upload")
    assert store.list_etags(SourceType.MANUAL) == {}


@pytest.mark.parametrize("found_by", ["listing", "change-feed"])
def test_the_server_index_lets_force_replace_an_unreadable_manual_spec(tmp_path, found_by):
    from dli.adapters.stores.filesystem import FilesystemSpecStore
    from dli.adapters.stores.indexed import IndexedSpecStore

    class FeedOverFiles(FilesystemSpecStore):
        """Files plus a change feed naming the hand-made upload (as an S3 record would)."""

        def recent_changes(self, *, seconds):
            from dli.ports.change_feed import SpecChange

            uploaded = (self._root / "manual" / "shop.bad.upload.yaml").exists()  # noqa: SLF001
            return [SpecChange(marker="m1", source=SourceType.MANUAL, name="shop.bad.upload")] if uploaded else []

    root = tmp_path / "store"
    inner = FeedOverFiles.from_url(root.as_uri())
    index = IndexedSpecStore(inner)
    index.check()
    (root / "manual").mkdir(parents=True, exist_ok=True)
    (root / "manual" / "shop.bad.upload.yaml").write_bytes(b"name: [unclosed")
    index.check(full=found_by == "listing")
    assert [b.dataset_name for b in index.broken()] == ["shop.bad.upload"]
    if found_by == "change-feed":
        assert index.check().full is True  # the read told no etag: the next check lists the store
    with pytest.raises(SpecInvalidError) as unreadable:
        index.read(SourceType.MANUAL, "shop.bad.upload")
    assert unreadable.value.hints == (
        "Replace it with 'dli workflow register shop.bad.upload --force', "
        "or remove it with 'dli workflow unregister shop.bad.upload'.",
    )
    api = _local_api(tmp_path, index)
    api.register("shop.bad.upload", cron="0 9 * * *", force=True)
    assert index.broken() == ()
    assert inner.read(SourceType.MANUAL, "shop.bad.upload").document.spec.description == "Fixed"
