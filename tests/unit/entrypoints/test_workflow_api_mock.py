"""The WorkflowAPI in MOCK mode: every method, and what MOCK mode promises (real use-cases over in-memory state)."""

import pytest

from dli import (
    ConfigurationError,
    ExecutionContext,
    ExecutionMode,
    InvalidCronError,
    ResultStatus,
    RunStatus,
    SourceType,
    WorkflowAPI,
    WorkflowStatus,
)


@pytest.fixture
def mock_api(tmp_path) -> WorkflowAPI:
    return WorkflowAPI(context=ExecutionContext(execution_mode=ExecutionMode.MOCK, project_path=tmp_path))


class TestWorkflowAPIRegister:
    def test_register_mock_success(self, mock_api):
        result = mock_api.register("test.dataset", cron="0 9 * * *", timezone="Asia/Seoul")
        assert result.status == ResultStatus.SUCCESS
        assert result.source_type == SourceType.MANUAL
        assert result.workflow_info is not None
        assert result.workflow_info.cron == "0 9 * * *"
        assert result.workflow_info.timezone == "Asia/Seoul"

    def test_register_mock_disabled(self, mock_api):
        result = mock_api.register("test.dataset", cron="0 9 * * *", enabled=False)
        assert result.workflow_info.status == WorkflowStatus.PAUSED
        assert result.workflow_info.next_run is None


def test_register_without_cron_takes_the_specs_schedule_section(mock_api, tmp_path):
    (tmp_path / "dataset.shop.sched.yaml").write_text(
        "name: shop.sched\nquery_statement: SELECT 1\nschedule: {cron: '15 4 * * *', timezone: Asia/Seoul}\n"
    )
    info = mock_api.register("shop.sched").workflow_info
    assert (info.cron, info.timezone, info.status) == ("15 4 * * *", "Asia/Seoul", WorkflowStatus.ACTIVE)
    # An argument given overrides its field only.
    info = mock_api.register("shop.sched", enabled=False, force=True).workflow_info
    assert (info.cron, info.timezone, info.status) == ("15 4 * * *", "Asia/Seoul", WorkflowStatus.PAUSED)


def test_register_without_cron_or_schedule_section_is_dli_805(mock_api):
    with pytest.raises(InvalidCronError) as exc:
        mock_api.register("test.dataset")
    assert exc.value.code.value == "DLI-805"


class TestWorkflowAPIRun:
    def test_run_mock_success(self, mock_api):
        mock_api.register("test.dataset", cron="0 9 * * *")
        result = mock_api.run("test.dataset", parameters={"execution_date": "2025-01-01"})
        assert result.status == ResultStatus.SUCCESS
        assert result.run_id is not None
        assert "mock_" in result.run_id

    def test_run_mock_dry_run(self, mock_api):
        mock_api.register("test.dataset", cron="0 9 * * *")
        result = mock_api.run("test.dataset", dry_run=True)
        assert result.dry_run is True
        assert result.run_status is None


class TestWorkflowAPIList:
    def test_list_mock_returns_workflows(self, mock_api):
        result = mock_api.list_workflows()
        assert result.status == ResultStatus.SUCCESS
        assert len(result.workflows) > 0
        assert result.total_count > 0

    def test_list_filter_by_source_type(self, mock_api):
        result = mock_api.list_workflows(source_type=SourceType.MANUAL)
        assert result.workflows
        for wf in result.workflows:
            assert wf.source_type == SourceType.MANUAL


class TestWorkflowAPIHistory:
    def test_history_mock_returns_runs(self, mock_api):
        result = mock_api.history(dataset_name="iceberg.analytics.daily_clicks")
        assert result.status == ResultStatus.SUCCESS
        assert len(result.runs) > 0
        assert result.dataset_info.owner == "engineer@example.com"

    def test_history_of_a_name_no_workflow_has_is_success_with_no_runs_and_a_warning(self, mock_api):
        result = mock_api.history(dataset_name="test.dataset")
        assert (result.status, result.runs, result.dataset_info) == (ResultStatus.SUCCESS, (), None)
        assert result.warnings == ("No workflow is named 'test.dataset' (see 'dli workflow list')",)


class TestWorkflowAPIPauseUnpause:
    def test_pause_mock_success(self, mock_api):
        mock_api.register("test.dataset", cron="0 9 * * *")
        result = mock_api.pause("test.dataset")
        assert result.status == ResultStatus.SUCCESS
        assert "paused" in result.message.lower()

    def test_unpause_mock_success(self, mock_api):
        mock_api.register("test.dataset", cron="0 9 * * *", enabled=False)
        result = mock_api.unpause("test.dataset")
        assert result.status == ResultStatus.SUCCESS
        assert "resumed" in result.message.lower()


def test_mock_mode_is_seeded_with_manual_code_and_overridden_workflows(mock_api):
    workflows = mock_api.list_workflows().workflows
    assert {w.source_type for w in workflows} == {SourceType.MANUAL, SourceType.CODE}
    assert WorkflowStatus.OVERRIDDEN in {w.status for w in workflows}
    failed = mock_api.history(run_status="failed").runs
    assert failed and failed[0].error_message


def test_mock_state_lives_as_long_as_the_api_object(tmp_path):
    ctx = ExecutionContext(execution_mode=ExecutionMode.MOCK, project_path=tmp_path)
    first = WorkflowAPI(context=ctx)
    first.register("test.dataset", cron="0 9 * * *")
    assert first.get("test.dataset") is not None
    assert WorkflowAPI(context=ctx).get("test.dataset") is None


def test_server_mode_without_url_is_dli_001():
    with pytest.raises(ConfigurationError) as exc:
        WorkflowAPI(context=ExecutionContext(execution_mode=ExecutionMode.SERVER))
    assert exc.value.code.value == "DLI-001"


def test_local_mode_without_store_is_dli_001():
    with pytest.raises(ConfigurationError):
        WorkflowAPI(context=ExecutionContext(execution_mode=ExecutionMode.LOCAL))


def test_context_repr_hides_secrets():
    ctx = ExecutionContext(execution_mode="server", server_url="http://x", api_token="s3cr3t", airflow_password="pw")
    assert "s3cr3t" not in repr(ctx) and "pw'" not in repr(ctx)


def test_mock_runs_complete_on_the_real_clock_quickly(mock_api):
    mock_api.register("test.dataset", cron="0 9 * * *")
    run_id = mock_api.run("test.dataset").run_id
    assert mock_api.wait_for_run(run_id, timeout_seconds=15, poll_seconds=0.2).run_status is RunStatus.COMPLETED


def test_invalid_enum_filters_are_dli_204(mock_api):
    with pytest.raises(Exception) as exc:
        mock_api.history(run_status="exploded")
    assert exc.value.code.value == "DLI-204"


def test_wait_for_run_rides_out_a_briefly_unavailable_backend(mock_api):
    api = mock_api
    from dli.domain.model.errors import ServerError

    run_id = api.run("iceberg.analytics.daily_clicks").run_id
    real = api.get_status
    answers = iter([ServerError("Airflow at http://a did not answer in 10 s"), None, None])

    def flaky(run_id):
        answer = next(answers, None)
        if isinstance(answer, Exception):
            raise answer
        return real(run_id)

    api.get_status = flaky
    clock = iter([0.0, 0.0] + [100.0] * 10)  # the deadline (10 s) passes only after the failed poll
    seen = []
    status = api.wait_for_run(
        run_id, timeout_seconds=10, sleep=lambda _s: None, monotonic=lambda: next(clock), on_update=seen.append
    )
    assert status.run_id == run_id and seen == [status]


def test_wait_for_run_gives_up_after_failures_in_a_row(mock_api):
    api = mock_api
    from dli.domain.model.errors import ServerError

    run_id = api.run("iceberg.analytics.daily_clicks").run_id

    def down(run_id):
        raise ServerError("Airflow at http://a did not answer in 10 s")

    api.get_status = down
    with pytest.raises(ServerError, match="did not answer"):
        api.wait_for_run(run_id, max_poll_failures=3, sleep=lambda _s: None)
