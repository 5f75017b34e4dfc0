"""The ControlPlane contract, exercised through ``WorkflowAPI``.

Written once; run in process (MOCK adapters) and over HTTP against a real Basecamp server. Both
must give the same results, error codes included. Subclasses provide a ``backend`` fixture
(see ``tests.support.backends.Backend``) with an empty store.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from dli import (
    ResultStatus,
    RunStatus,
    RunType,
    SourceType,
    WorkflowStatus,
)
from dli.domain.model.errors import DLIError, ErrorCode
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
        return backend.api.wait_for_run(
            run_id,
            timeout_seconds=timeout,
            poll_seconds=0.5,
            sleep=backend.sleep,
            monotonic=getattr(backend, "monotonic", None) or __import__("time").monotonic,
        )

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

    def test_every_write_and_refusal_is_in_the_audit_trail_newest_first(self, backend):
        self.local(backend, team="@de")
        backend.api.register(NAME, cron="0 9 * * *")
        backend.api.pause(NAME)
        with pytest.raises(DLIError):
            backend.api.pause(NAME)  # already paused: a failed write is recorded too
        backend.api.get(NAME)  # a read is not
        trail = backend.api.audit(dataset_name=NAME)
        assert [(r.action, r.outcome.value, r.code) for r in trail.records] == [
            ("pause", "failed", "DLI-807"),
            ("pause", "ok", None),
            ("register", "ok", None),
        ]
        assert trail.total_count == 3
        assert {(r.dataset, r.team, r.source_type) for r in trail.records} == {(NAME, "@de", SourceType.MANUAL)}
        assert [r.action for r in backend.api.audit(dataset_name=NAME, limit=1).records] == ["pause"]
        assert backend.api.audit(dataset_name="shop.other.daily").records == ()

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

    def test_list_filters_by_source_status_name_team_and_limit(self, backend):
        for i in range(3):
            self.local(backend, f"shop.manual.m{i}")
            backend.api.register(f"shop.manual.m{i}", cron="0 9 * * *", enabled=i != 2)
        backend.publish_code(make_spec("shop.code.c0", cron="0 1 * * *", team="@mkt"))
        api = backend.api
        assert [w.dataset_name for w in api.list_workflows(team="@mkt").workflows] == ["shop.code.c0"]
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
            parameters=(
                Parameter(name="region", type="string", required=True),
                Parameter(name="limit", type="integer"),
            ),
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
        [
            ("2025-01-03", "2025-01-01"),
            ("2025/01/01", "2025-01-02"),
            ("2025-02-30", "2025-03-01"),
            ("2020-01-01", "2025-01-01"),
        ],
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
        assert all(a.finished_at <= b.started_at for a, b in pairwise(finals))
        history = backend.api.history(dataset_name=NAME, limit=10)
        assert {r.run_type for r in history.runs} == {RunType.BACKFILL}

    def test_register_without_cron_takes_the_specs_schedule_section(self, backend):
        write_spec(backend.project, make_spec(NAME, cron="15 4 * * *", timezone="Asia/Seoul"))
        result = backend.api.register(NAME)
        assert (result.workflow_info.cron, result.workflow_info.timezone) == ("15 4 * * *", "Asia/Seoul")
        assert result.workflow_info.next_run.utcoffset().total_seconds() == 9 * 3600
        # Arguments override field by field: the spec's timezone stays under a new cron.
        updated = backend.api.register(NAME, cron="0 9 * * *", enabled=False, force=True)
        assert (updated.workflow_info.cron, updated.workflow_info.timezone) == ("0 9 * * *", "Asia/Seoul")
        assert updated.workflow_info.status is WorkflowStatus.PAUSED
        assert backend.api.get(NAME).cron == "0 9 * * *"

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
        assert backend.api.history(dataset_name="shop.a.one", limit=2).warnings == ()

    def test_history_of_a_name_no_workflow_has_is_empty_and_warns(self, backend):
        # The dataset is a filter (spec 5.4): nothing matches, nothing fails; the warning names it.
        self.local(backend, "shop.a.one")
        backend.api.register("shop.a.one", cron="0 9 * * *")
        result = backend.api.history(dataset_name="no.such.dataset")
        assert (result.status, result.runs, result.total_count, result.dataset_info) == (
            ResultStatus.SUCCESS,
            (),
            0,
            None,
        )
        assert result.warnings == ("No workflow is named 'no.such.dataset' (see 'dli workflow list')",)
        close = backend.api.history(dataset_name="shop.a.onw")
        assert close.warnings == ("No workflow is named 'shop.a.onw'; did you mean 'shop.a.one'?",)

    def test_history_of_a_registered_workflow_without_runs_is_empty_with_its_info(self, backend):
        self.local(backend, "shop.a.one")
        backend.api.register("shop.a.one", cron="0 9 * * *")
        result = backend.api.history(dataset_name="shop.a.one")
        assert (result.runs, result.total_count, result.warnings) == ((), 0, ())
        assert result.dataset_info.owner == "owner@example.com"

    # -- dependencies --------------------------------------------------------------------------

    def _pipeline(self, backend, *, b_paused=False):
        """shop.a (cron) -> shop.b -> shop.c, both scheduled after their upstream."""
        self.local(backend, "shop.a")
        self.local(backend, "shop.b", depends_on=("shop.a",))
        self.local(backend, "shop.c", depends_on=("shop.b", "ext.raw.users"))
        backend.api.register("shop.a", cron="0 6 * * *")
        backend.api.register("shop.b", after_upstream=True, enabled=not b_paused)
        return backend.api.register("shop.c", after_upstream=True)

    def _runs(self, backend, name, count, timeout=60.0):
        """The first ``count`` runs of ``name``, oldest first, once they are all finished."""
        waited = 0.0
        while True:
            runs = backend.api.history(dataset_name=name, limit=50).runs
            if len(runs) >= count and all(r.is_terminal for r in runs):
                return list(reversed(runs))[:count]
            if waited > timeout:
                raise AssertionError(f"{name}: {len(runs)} run(s) after {timeout}s: {runs}")
            backend.sleep(0.5)
            waited += 0.5

    def test_a_schedule_after_upstream_has_no_cron_and_no_next_run_and_list_shows_the_trigger(self, backend):
        self._pipeline(backend)
        self.local(backend, "shop.d", depends_on=("shop.a",))
        backend.api.register("shop.d", cron="0 7 * * *", after_upstream=True)
        listed = {w.dataset_name: w for w in backend.api.list_workflows().workflows}
        assert {n: w.trigger.value for n, w in listed.items()} == {
            "shop.a": "cron",
            "shop.b": "upstream",
            "shop.c": "upstream",
            "shop.d": "both",
        }
        assert (listed["shop.b"].cron, listed["shop.b"].next_run) == (None, None)
        assert listed["shop.d"].next_run is not None and listed["shop.a"].next_run is not None
        assert backend.api.get("shop.b").trigger.value == "upstream"

    def test_register_without_cron_or_after_upstream_is_dli_805(self, backend):
        self.local(backend)
        with pytest.raises(DLIError) as exc:
            backend.api.register(NAME)
        assert code_of(exc) == ErrorCode.WORKFLOW_INVALID_CRON.value
        assert backend.api.get(NAME) is None

    def test_an_upstream_run_starts_its_upstream_scheduled_downstreams_for_the_same_date(self, backend):
        self._pipeline(backend)
        run_id = backend.api.run("shop.a", parameters={"execution_date": "2025-01-01"}).run_id
        (a,) = self._runs(backend, "shop.a", 1)
        assert a.run_id == run_id and a.status is RunStatus.COMPLETED
        (b,) = self._runs(backend, "shop.b", 1)
        (c,) = self._runs(backend, "shop.c", 1)
        for downstream, upstream in ((b, a), (c, b)):
            assert downstream.status is RunStatus.COMPLETED
            assert downstream.run_type is RunType.SCHEDULED
            assert downstream.parameters["execution_date"] == "2025-01-01"
            assert downstream.started_at >= upstream.finished_at

    def test_a_paused_downstream_is_not_started_and_neither_is_what_follows_it(self, backend):
        self._pipeline(backend, b_paused=True)
        backend.api.run("shop.a", parameters={"execution_date": "2025-01-01"})
        self._runs(backend, "shop.a", 1)
        for _ in range(10):
            backend.sleep(0.5)
        assert backend.api.history(dataset_name="shop.b").total_count == 0
        assert backend.api.history(dataset_name="shop.c").total_count == 0

    def test_a_backfill_alone_does_not_start_its_downstreams(self, backend):
        self._pipeline(backend)
        result = backend.api.backfill("shop.a", start_date="2025-01-02", end_date="2025-01-03")
        assert [f.run_status for f in (self.finish(backend, r) for r in result.run_ids)] == [RunStatus.COMPLETED] * 2
        for _ in range(10):
            backend.sleep(0.5)
        assert backend.api.history(dataset_name="shop.b").total_count == 0

    def test_a_workflow_without_cron_is_backfilled_one_run_per_date_without_starting_its_downstreams(self, backend):
        self._pipeline(backend)
        result = backend.api.backfill("shop.b", start_date="2025-01-02", end_date="2025-01-03")
        finals = [self.finish(backend, r) for r in result.run_ids]
        assert [f.run_status for f in finals] == [RunStatus.COMPLETED] * 2
        assert [f.parameters["execution_date"] for f in finals] == ["2025-01-02", "2025-01-03"]
        assert finals[0].finished_at <= finals[1].started_at
        for _ in range(10):
            backend.sleep(0.5)
        assert backend.api.history(dataset_name="shop.c").total_count == 0

    def test_backfill_with_downstream_runs_date_by_date_in_dependency_order(self, backend):
        self._pipeline(backend)
        dry = backend.api.backfill(
            "shop.a", start_date="2025-01-02", end_date="2025-01-03", dry_run=True, with_downstream=True
        )
        plan = list(zip(dry.dates, dry.datasets, strict=True))
        assert plan == [
            ("2025-01-02", "shop.a"),
            ("2025-01-02", "shop.b"),
            ("2025-01-02", "shop.c"),
            ("2025-01-03", "shop.a"),
            ("2025-01-03", "shop.b"),
            ("2025-01-03", "shop.c"),
        ]
        assert dry.run_ids == () and backend.api.history(limit=100).total_count == 0
        result = backend.api.backfill("shop.a", start_date="2025-01-02", end_date="2025-01-03", with_downstream=True)
        assert list(zip(result.dates, result.datasets, strict=True)) == plan
        finals = [self.finish(backend, r) for r in result.run_ids]
        assert [(f.dataset_name, f.parameters["execution_date"]) for f in finals] == [(n, d) for d, n in plan]
        assert all(f.run_status is RunStatus.COMPLETED and f.run_type is RunType.BACKFILL for f in finals)
        assert all(a.finished_at <= b.started_at for a, b in pairwise(finals))
        for _ in range(10):
            backend.sleep(0.5)
        assert backend.api.history(dataset_name="shop.c", limit=50).total_count == 2  # nothing more started

    def test_backfill_with_downstream_needs_every_dataset_unpaused(self, backend):
        self._pipeline(backend, b_paused=True)
        with pytest.raises(DLIError) as exc:
            backend.api.backfill("shop.a", start_date="2025-01-02", end_date="2025-01-02", with_downstream=True)
        assert code_of(exc) == ErrorCode.WORKFLOW_INVALID_STATE.value and "shop.b" in exc.value.message
        assert backend.api.history(limit=100).total_count == 0

    def test_a_dependency_cycle_is_refused_at_register_naming_it_and_nothing_is_written(self, backend):
        self.local(backend, "shop.a", depends_on=("shop.b",))
        backend.api.register("shop.a", cron="0 6 * * *")
        self.local(backend, "shop.b", depends_on=("shop.a",))
        with pytest.raises(DLIError) as exc:
            backend.api.register("shop.b", after_upstream=True)
        assert code_of(exc) == ErrorCode.SPEC_INVALID.value
        assert "shop.b -> shop.a -> shop.b" in exc.value.message
        assert backend.api.get("shop.b") is None
        self.local(backend, "shop.self", depends_on=("shop.self",))
        with pytest.raises(DLIError) as exc:
            backend.api.register("shop.self", cron="0 6 * * *")
        assert "shop.self -> shop.self" in exc.value.message

    def test_an_upstream_no_store_knows_is_allowed_with_a_warning_and_shows_as_external(self, backend):
        self.local(backend, "shop.a", depends_on=("ext.raw.events",))
        result = backend.api.register("shop.a", cron="0 6 * * *")
        assert result.status is ResultStatus.SUCCESS and "ext.raw.events" in result.warning
        graph = backend.api.dependencies("shop.a", direction="upstream")
        assert [(n.name, n.external) for n in graph.nodes] == [("shop.a", False), ("ext.raw.events", True)]

    def test_dependencies_walk_upstream_downstream_and_within_the_depth(self, backend):
        self._pipeline(backend)
        up = backend.api.dependencies("shop.c", direction="upstream")
        assert [(n.name, n.relation, n.distance) for n in up.nodes] == [
            ("shop.c", "root", 0),
            ("ext.raw.users", "upstream", 1),
            ("shop.b", "upstream", 1),
            ("shop.a", "upstream", 2),
        ]
        assert {(e.upstream, e.downstream) for e in up.edges} == {
            ("shop.b", "shop.c"),
            ("ext.raw.users", "shop.c"),
            ("shop.a", "shop.b"),
        }
        near = backend.api.dependencies("shop.c", direction="upstream", depth=1)
        assert {n.name for n in near.nodes} == {"shop.c", "shop.b", "ext.raw.users"}
        assert ("shop.a", "shop.b") not in {(e.upstream, e.downstream) for e in near.edges}
        down = backend.api.dependencies("shop.a", direction="downstream")
        assert [(n.name, n.trigger.value, n.source_type.value) for n in down.nodes] == [
            ("shop.a", "cron", "manual"),
            ("shop.b", "upstream", "manual"),
            ("shop.c", "upstream", "manual"),
        ]
        both = backend.api.dependencies("shop.b")
        assert {(n.name, n.relation) for n in both.nodes} == {
            ("shop.b", "root"),
            ("shop.a", "upstream"),
            ("shop.c", "downstream"),
        }
        with pytest.raises(DLIError) as exc:
            backend.api.dependencies("no.such.dataset")
        assert code_of(exc) == ErrorCode.WORKFLOW_NOT_FOUND.value
        for bad in ({"direction": "sideways"}, {"depth": 0}):
            with pytest.raises(DLIError) as exc:
                backend.api.dependencies("shop.a", **bad)
            assert code_of(exc) == ErrorCode.PARAMETER_INVALID.value

    def test_the_active_specs_depends_on_counts_code_over_manual(self, backend):
        self.local(backend, "shop.up")
        backend.api.register("shop.up", cron="0 6 * * *")
        self.local(backend, NAME, depends_on=("shop.up",))
        backend.api.register(NAME, cron="0 9 * * *")
        assert [n.name for n in backend.api.dependencies("shop.up", direction="downstream").nodes] == ["shop.up", NAME]
        backend.publish_code(make_spec(NAME, cron="0 9 * * *", depends_on=("ext.other",)))
        assert [n.name for n in backend.api.dependencies("shop.up", direction="downstream").nodes] == ["shop.up"]
        assert [n.name for n in backend.api.dependencies(NAME, direction="upstream").nodes] == [NAME, "ext.other"]
        backend.remove_code(NAME)
        assert [n.name for n in backend.api.dependencies("shop.up", direction="downstream").nodes] == ["shop.up", NAME]
