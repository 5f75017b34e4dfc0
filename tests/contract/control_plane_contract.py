"""The ControlPlane contract, exercised through ``WorkflowAPI``.

Written once; run in process (MOCK adapters) and over HTTP against a real Basecamp server. Both
must give the same results, error codes included. Subclasses provide a ``backend`` fixture
(see ``tests.support.backends.Backend``) with an empty store.
"""

from __future__ import annotations

import pytest

from dli import (
    ResultStatus,
    RunStatus,
    RunType,
    SourceType,
    WorkflowStatus,
)
from dli.domain.model.errors import ErrorCode, DLIError
from dli.domain.model.spec import Parameter
from tests.support.backends import write_spec
from tests.support.specs import make_spec

NAME = "shop.sales.daily"


def code_of(excinfo: pytest.ExceptionInfo[DLIError]) -> str:
    return excinfo.value.code.value


class ControlPlaneContract:
    """Behaviour every mode must share."""

    # -- helpers -------------------------------------------------------------------------------

    def local(self, backend, name=NAME, **fields):
        spec = make_spec(name, cron=None, **fields)
        write_spec(backend.project, spec)
        return spec

    def finish(self, backend, run_id, timeout=120.0):
        return backend.api.wait_for_run(run_id, timeout_seconds=timeout, poll_seconds=0.5, sleep=backend.sleep,
                                        monotonic=getattr(backend, "monotonic", None) or __import__("time").monotonic)

    # -- register ------------------------------------------------------------------------------

    def test_register_then_get_and_list_show_the_manual_workflow(self, backend):
        self.local(backend)
        result = backend.api.register(NAME, cron="0 9 * * *", timezone="Asia/Seoul")
        assert result.status is ResultStatus.SUCCESS
        assert result.source_type is SourceType.MANUAL
        assert result.workflow_info.status is WorkflowStatus.ACTIVE
        assert result.workflow_info.timezone == "Asia/Seoul"
        assert result.workflow_info.next_run.utcoffset().total_seconds() == 9 * 3600
        assert (result.workflow_info.next_run.hour, result.workflow_info.next_run.minute) == (9, 0)
        info = backend.api.get(NAME)
        assert (info.dataset_name, info.source_type, info.cron) == (NAME, SourceType.MANUAL, "0 9 * * *")
        listed = backend.api.list_workflows()
        assert [w.dataset_name for w in listed.workflows] == [NAME]
        assert listed.total_count == 1

    def test_register_disabled_creates_a_paused_workflow_without_next_run(self, backend):
        self.local(backend)
        info = backend.api.register(NAME, cron="0 9 * * *", enabled=False).workflow_info
        assert info.status is WorkflowStatus.PAUSED
        assert info.next_run is None
        assert backend.api.get(NAME).status is WorkflowStatus.PAUSED

    def test_register_again_without_force_is_refused_and_keeps_the_first(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 9 * * *")
        with pytest.raises(DLIError) as exc:
            backend.api.register(NAME, cron="0 8 * * *")
        assert code_of(exc) == ErrorCode.WORKFLOW_ALREADY_EXISTS.value
        assert backend.api.get(NAME).cron == "0 9 * * *"

    def test_force_register_replaces_and_reports_previous_cron(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 9 * * *")
        result = backend.api.register(NAME, cron="0 8 * * *", force=True)
        assert result.updated is True
        assert result.previous_cron == "0 9 * * *"
        assert backend.api.get(NAME).cron == "0 8 * * *"

    def test_register_over_a_code_workflow_is_denied(self, backend):
        self.local(backend)
        backend.publish_code(make_spec(NAME, cron="0 1 * * *"))
        for force in (False, True):
            with pytest.raises(DLIError) as exc:
                backend.api.register(NAME, cron="0 9 * * *", force=force)
            assert code_of(exc) == ErrorCode.WORKFLOW_PERMISSION_DENIED.value
        assert backend.api.list_workflows(source_type=SourceType.MANUAL).total_count == 0

    def test_register_without_local_spec(self, backend):
        if backend.generates_missing_specs:
            assert backend.api.register("no.such.dataset", cron="0 9 * * *").status is ResultStatus.SUCCESS
        else:
            with pytest.raises(DLIError) as exc:
                backend.api.register("no.such.dataset", cron="0 9 * * *")
            assert code_of(exc) == ErrorCode.DATASET_NOT_FOUND.value

    @pytest.mark.parametrize("cron", ["invalid", "0 9 * *", "0 9 * * * *", "61 9 * * *", ""])
    def test_invalid_cron_is_dli_805_and_writes_nothing(self, backend, cron):
        self.local(backend)
        with pytest.raises(DLIError) as exc:
            backend.api.register(NAME, cron=cron)
        assert code_of(exc) == ErrorCode.WORKFLOW_INVALID_CRON.value
        assert backend.api.get(NAME) is None

    @pytest.mark.parametrize("timezone", ["Mars/Olympus", "../etc/passwd", ""])
    def test_unknown_timezone_is_dli_805(self, backend, timezone):
        self.local(backend)
        with pytest.raises(DLIError) as exc:
            backend.api.register(NAME, cron="0 9 * * *", timezone=timezone)
        assert code_of(exc) == ErrorCode.WORKFLOW_INVALID_CRON.value

    @pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "Shop.Sales", "shop..sales", ".hidden", "a b", "x@y"])
    def test_malformed_names_are_rejected_everywhere(self, backend, name):
        calls = [
            lambda: backend.api.register(name, cron="0 9 * * *"),
            lambda: backend.api.get(name),
            lambda: backend.api.unregister(name),
            lambda: backend.api.run(name),
            lambda: backend.api.pause(name),
            lambda: backend.api.unpause(name),
            lambda: backend.api.history(dataset_name=name),
        ]
        for call in calls:
            with pytest.raises(DLIError) as exc:
                call()
            assert code_of(exc) == ErrorCode.SPEC_INVALID.value

    # -- override and permissions ---------------------------------------------------------------

    def test_code_spec_overrides_manual_and_keeps_it(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 8 * * *")
        backend.publish_code(make_spec(NAME, cron="0 9 * * *"))
        active = backend.api.get(NAME)
        assert (active.source_type, active.cron) == (SourceType.CODE, "0 9 * * *")
        listed = {w.source_type: w for w in backend.api.list_workflows().workflows}
        assert listed[SourceType.MANUAL].status is WorkflowStatus.OVERRIDDEN
        assert listed[SourceType.MANUAL].overridden_by is SourceType.CODE
        assert listed[SourceType.MANUAL].next_run is None
        assert listed[SourceType.CODE].status is WorkflowStatus.ACTIVE
        backend.remove_code(NAME)
        back = backend.api.get(NAME)
        assert (back.source_type, back.status, back.cron) == (SourceType.MANUAL, WorkflowStatus.ACTIVE, "0 8 * * *")

    def test_code_workflow_cannot_be_unregistered_but_can_be_paused(self, backend):
        backend.publish_code(make_spec(NAME, cron="0 9 * * *"))
        with pytest.raises(DLIError) as exc:
            backend.api.unregister(NAME)
        assert code_of(exc) == ErrorCode.WORKFLOW_PERMISSION_DENIED.value
        assert "paused" in backend.api.pause(NAME).message
        assert backend.api.get(NAME).status is WorkflowStatus.PAUSED
        assert "resumed" in backend.api.unpause(NAME).message
        assert backend.api.get(NAME).status is WorkflowStatus.ACTIVE

    def test_unregister_of_an_overridden_manual_keeps_the_code_workflow(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 8 * * *")
        backend.publish_code(make_spec(NAME, cron="0 9 * * *"))
        backend.api.unregister(NAME)
        assert backend.api.get(NAME).source_type is SourceType.CODE
        assert backend.api.list_workflows(source_type=SourceType.MANUAL).total_count == 0

    def test_unpausing_an_overridden_manual_workflow_is_dli_806(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 8 * * *")
        backend.publish_code(make_spec(NAME, cron="0 9 * * *"))
        with pytest.raises(DLIError) as exc:
            backend.api.unpause(NAME, source_type=SourceType.MANUAL)
        assert code_of(exc) == ErrorCode.WORKFLOW_OVERRIDDEN.value

    def test_unregister_removes_and_unknown_is_dli_800(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 9 * * *")
        assert backend.api.unregister(NAME).status is ResultStatus.SUCCESS
        assert backend.api.get(NAME) is None
        with pytest.raises(DLIError) as exc:
            backend.api.unregister(NAME)
        assert code_of(exc) == ErrorCode.WORKFLOW_NOT_FOUND.value

    # -- pause ---------------------------------------------------------------------------------

    def test_pause_and_unpause_move_the_status_and_refuse_repeats(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 9 * * *")
        backend.api.pause(NAME)
        assert backend.api.get(NAME).status is WorkflowStatus.PAUSED
        with pytest.raises(DLIError) as exc:
            backend.api.pause(NAME)
        assert code_of(exc) == ErrorCode.WORKFLOW_INVALID_STATE.value
        backend.api.unpause(NAME)
        assert backend.api.get(NAME).status is WorkflowStatus.ACTIVE
        with pytest.raises(DLIError) as exc:
            backend.api.unpause(NAME)
        assert code_of(exc) == ErrorCode.WORKFLOW_INVALID_STATE.value

    def test_pause_of_unknown_workflow_is_dli_800(self, backend):
        with pytest.raises(DLIError) as exc:
            backend.api.pause("no.such.dataset")
        assert code_of(exc) == ErrorCode.WORKFLOW_NOT_FOUND.value

    # -- list ----------------------------------------------------------------------------------

    def test_list_filters_by_source_status_name_and_limit(self, backend):
        for i in range(3):
            self.local(backend, f"shop.manual.m{i}")
            backend.api.register(f"shop.manual.m{i}", cron="0 9 * * *", enabled=i != 2)
        backend.publish_code(make_spec("shop.code.c0", cron="0 1 * * *"))
        api = backend.api
        assert {w.dataset_name for w in api.list_workflows(source_type="code").workflows} == {"shop.code.c0"}
        assert api.list_workflows(source_type=SourceType.MANUAL).total_count == 3
        assert [w.dataset_name for w in api.list_workflows(status="paused").workflows] == ["shop.manual.m2"]
        assert api.list_workflows(enabled_only=True).total_count == 3
        assert [w.dataset_name for w in api.list_workflows(dataset_filter="m1").workflows] == ["shop.manual.m1"]
        assert api.list_workflows(dataset_filter="shop.manual.*").total_count == 3
        limited = api.list_workflows(limit=2)
        assert len(limited.workflows) == 2 and limited.total_count == 4
        with pytest.raises(DLIError) as exc:
            api.list_workflows(source_type="bogus")
        assert code_of(exc) == ErrorCode.PARAMETER_INVALID.value

    # -- runs ----------------------------------------------------------------------------------

    def _register_with_params(self, backend, name=NAME):
        self.local(
            backend,
            name,
            parameters=(Parameter(name="region", type="string", required=True), Parameter(name="limit", type="integer")),
        )
        backend.api.register(name, cron="0 9 * * *")

    def test_run_validates_parameters(self, backend):
        self._register_with_params(backend)
        for params in ({}, {"region": "eu", "limit": "many"}, {"limit": "5", "typo": "1"}):
            with pytest.raises(DLIError) as exc:
                backend.api.run(NAME, parameters=params)
            assert code_of(exc) == ErrorCode.PARAMETER_INVALID.value
        assert backend.api.history(dataset_name=NAME).total_count == 0

    def test_run_passes_undeclared_parameters_and_warns(self, backend):
        self._register_with_params(backend)
        result = backend.api.run(NAME, parameters={"region": "eu", "date": "2025-01-01"})
        assert dict(result.parameters) == {"region": "eu", "date": "2025-01-01"}
        (warning,) = result.warnings
        assert "date" in warning and "declared: limit, region" in warning
        assert dict(backend.api.get_status(result.run_id).parameters) == {"region": "eu", "date": "2025-01-01"}

    def test_dry_run_validates_and_triggers_nothing(self, backend):
        self._register_with_params(backend)
        result = backend.api.run(NAME, parameters={"region": "eu", "limit": "5"}, dry_run=True)
        assert result.dry_run is True and result.run_id is None and result.run_status is None
        assert dict(result.parameters) == {"region": "eu", "limit": 5}
        assert backend.api.history(dataset_name=NAME).total_count == 0

    def test_run_completes_and_shows_in_status_and_history(self, backend):
        self._register_with_params(backend)
        result = backend.api.run(NAME, parameters={"region": "eu", "limit": "5"})
        assert result.run_id and result.run_id.startswith(NAME + "@")
        assert result.run_status in (RunStatus.PENDING, RunStatus.RUNNING)
        final = self.finish(backend, result.run_id)
        assert final.run_status is RunStatus.COMPLETED
        assert final.run_type is RunType.ADHOC
        assert final.parameters["region"] == "eu" and final.parameters["limit"] == 5
        assert final.duration_seconds is not None and final.duration_seconds >= 0
        history = backend.api.history(dataset_name=NAME)
        assert [r.run_id for r in history.runs] == [result.run_id]
        assert history.dataset_info.owner == "owner@example.com"
        with pytest.raises(DLIError) as exc:
            backend.api.stop(result.run_id)
        assert code_of(exc) == ErrorCode.WORKFLOW_INVALID_STATE.value

    def test_stop_kills_a_running_run(self, backend):
        self._register_with_params(backend)
        run_id = backend.api.run(NAME, parameters={"region": "eu"}).run_id
        stopped = backend.api.stop(run_id)
        assert stopped.run_status is RunStatus.KILLED
        assert backend.api.get_status(run_id).run_status is RunStatus.KILLED

    def test_unknown_and_malformed_run_ids_are_dli_800(self, backend):
        for run_id in (f"{NAME}@nope", "nope", "@", "../x@y"):
            with pytest.raises(DLIError) as exc:
                backend.api.get_status(run_id)
            assert code_of(exc) == ErrorCode.WORKFLOW_NOT_FOUND.value
            with pytest.raises(DLIError) as exc:
                backend.api.stop(run_id)
            assert code_of(exc) == ErrorCode.WORKFLOW_NOT_FOUND.value

    def test_run_of_unknown_workflow_is_dli_800(self, backend):
        with pytest.raises(DLIError) as exc:
            backend.api.run("no.such.dataset")
        assert code_of(exc) == ErrorCode.WORKFLOW_NOT_FOUND.value

    def test_run_of_paused_workflow_is_refused(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 9 * * *", enabled=False)
        with pytest.raises(DLIError) as exc:
            backend.api.run(NAME)
        assert code_of(exc) == ErrorCode.WORKFLOW_INVALID_STATE.value

    # -- backfill ------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("start", "end"),
        [("2025-01-03", "2025-01-01"), ("2025/01/01", "2025-01-02"), ("2025-02-30", "2025-03-01"), ("2020-01-01", "2025-01-01")],
    )
    def test_backfill_rejects_bad_ranges(self, backend, start, end):
        self.local(backend)
        backend.api.register(NAME, cron="0 9 * * *")
        with pytest.raises(DLIError) as exc:
            backend.api.backfill(NAME, start_date=start, end_date=end)
        assert code_of(exc) == ErrorCode.PARAMETER_INVALID.value

    def test_backfill_dry_run_lists_the_dates(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 9 * * *")
        result = backend.api.backfill(NAME, start_date="2025-01-30", end_date="2025-02-01", dry_run=True)
        assert result.dates == ("2025-01-30", "2025-01-31", "2025-02-01")
        assert result.run_ids == () and result.run_id is None
        assert backend.api.history(dataset_name=NAME).total_count == 0

    def test_backfill_runs_each_date_in_order(self, backend):
        self.local(backend)
        backend.api.register(NAME, cron="0 9 * * *")
        result = backend.api.backfill(NAME, start_date="2025-01-01", end_date="2025-01-03")
        assert result.dates == ("2025-01-01", "2025-01-02", "2025-01-03")
        assert len(result.run_ids) == 3 and result.run_id == result.run_ids[0]
        finals = [self.finish(backend, run_id) for run_id in result.run_ids]
        assert [f.run_status for f in finals] == [RunStatus.COMPLETED] * 3
        assert [f.run_type for f in finals] == [RunType.BACKFILL] * 3
        assert [f.logical_date.date().isoformat() for f in finals] == list(result.dates)
        starts = [f.started_at for f in finals]
        assert starts == sorted(starts)
        assert all(a.finished_at <= b.started_at for a, b in zip(finals, finals[1:]))
        history = backend.api.history(dataset_name=NAME, limit=10)
        assert {r.run_type for r in history.runs} == {RunType.BACKFILL}

    # -- history -------------------------------------------------------------------------------

    def test_history_filters_and_limits(self, backend):
        self.local(backend, "shop.a.one")
        self.local(backend, "shop.a.two")
        backend.api.register("shop.a.one", cron="0 9 * * *")
        backend.api.register("shop.a.two", cron="0 9 * * *")
        ids = [backend.api.run("shop.a.one").run_id for _ in range(3)] + [backend.api.run("shop.a.two").run_id]
        for run_id in ids:
            self.finish(backend, run_id)
        everything = backend.api.history(limit=100)
        assert everything.total_count == 4
        one = backend.api.history(dataset_name="shop.a.one", limit=2)
        assert len(one.runs) == 2 and one.total_count == 3
        assert all(r.dataset_name == "shop.a.one" for r in one.runs)
        assert backend.api.history(run_status="FAILED").total_count == 0
        assert backend.api.history(run_status=RunStatus.COMPLETED, limit=100).total_count == 4
        assert backend.api.history(source_type="code").total_count == 0
        with pytest.raises(DLIError) as exc:  # like every other command on an unknown workflow
            backend.api.history(dataset_name="no.such.dataset")
        assert code_of(exc) == ErrorCode.WORKFLOW_NOT_FOUND.value
