"""The API table: every operation over HTTP is a row, and the client's request decodes to the same message."""

from __future__ import annotations

import json

import pytest

from dli.adapters.basecamp.operations import MalformedBodyError, UnsupportedMediaTypeError, operation_for, operations
from dli.domain.model.enums import DependencyDirection, RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import InvalidCronError, ParameterInvalidError, SpecInvalidError
from dli.domain.usecases.audit import GetAuditTrail
from dli.domain.usecases.backfill import TriggerBackfill
from dli.domain.usecases.dag_state import GetDagState
from dli.domain.usecases.dependencies import GetDependencies
from dli.domain.usecases.history import GetHistory
from dli.domain.usecases.lineage import GetLineage
from dli.domain.usecases.listing import GetSpec, GetWorkflow, ListWorkflows
from dli.domain.usecases.message import Message, message_types
from dli.domain.usecases.pause import PauseWorkflow, UnpauseWorkflow
from dli.domain.usecases.publish import PlanPublish, PublishSpecs
from dli.domain.usecases.register import RegisterWorkflow, UnregisterWorkflow
from dli.domain.usecases.runs import GetRunLogs, GetRunStatus, StopRun, TriggerRun
from dli.domain.usecases.validate import ValidateSpecs
from tests.support.specs import make_spec

EXAMPLES: list[Message] = [
    ListWorkflows(
        source_type=SourceType.MANUAL,
        status=WorkflowStatus.PAUSED,
        dataset_filter="shop.*",
        running_only=True,
        enabled_only=False,
        limit=7,
    ),
    RegisterWorkflow(spec=make_spec("shop.sales.daily", timezone="Asia/Seoul"), force=True),
    GetWorkflow(dataset_name="shop.sales.daily"),
    GetDagState(dataset_name="shop.sales.daily"),
    UnregisterWorkflow(dataset_name="shop.sales.daily"),
    TriggerRun(dataset_name="shop.sales.daily", parameters={"n": 3, "day": "2025-01-01"}, dry_run=True),
    TriggerBackfill(
        dataset_name="shop.sales.daily",
        start_date="2025-01-01",
        end_date="2025-01-03",
        parameters={"n": 1},
        with_downstream=True,
    ),
    RegisterWorkflow(spec=make_spec("shop.sales.after", cron=None, after="upstream", depends_on=("shop.sales.daily",))),
    GetDependencies(dataset_name="shop.sales.daily", direction=DependencyDirection.UPSTREAM, depth=2),
    GetDependencies(dataset_name="shop.sales.daily", from_sql=True),
    GetLineage(dataset_name="shop.sales.daily", column="revenue"),
    GetLineage(dataset_name="shop.sales.daily"),
    PauseWorkflow(dataset_name="shop.sales.daily", source_type=SourceType.CODE),
    UnpauseWorkflow(dataset_name="shop.sales.daily"),
    GetRunStatus(run_id="shop.sales.daily@scheduled__2025-01-01T09:00:00+00:00"),
    StopRun(run_id="shop.sales.daily@manual__1"),
    GetRunLogs(run_id="shop.sales.daily@manual__1"),
    GetHistory(
        dataset_name="shop.sales.daily",
        source_type=SourceType.MANUAL,
        run_status=RunStatus.FAILED,
        limit=5,
        include_dataset_info=False,
    ),
    GetAuditTrail(dataset_name="shop.sales.daily", by="alice@example.com", since="2025-01-01", limit=3),
]


def test_every_message_with_a_route_has_exactly_one_row_and_only_publish_plan_validate_and_get_spec_have_none():
    # They read the local project (publish: CI writes the store directly; plan and validate: write nothing);
    # GetSpec is the web console's (it renders the spec in process).
    served = [op.message for op in operations()]
    assert len(served) == len(set(served))
    assert set(served) == set(message_types()) - {PublishSpecs, PlanPublish, ValidateSpecs, GetSpec}
    assert {type(e) for e in EXAMPLES} >= set(served)


def test_no_two_rows_share_a_method_and_path():
    rows = [(op.method, op.path) for op in operations()]
    assert len(rows) == len(set(rows))


def test_a_query_is_a_get_and_a_get_is_a_query():
    for op in operations():
        assert (op.method == "GET") == op.message.query, op.message.__name__


def test_a_message_without_a_route_is_not_served():
    with pytest.raises(TypeError, match="PublishSpecs is not served over HTTP"):
        operation_for(PublishSpecs)


def _server_side(op, path, params, body):
    """What the server does with the client's request: the path segments back, then decode."""
    from urllib.parse import unquote

    segments = dict(zip(op.path.split("/"), path.split("/"), strict=True))
    path_values = {name: unquote(segments["{" + name + "}"]) for name in op.path_fields}
    if op.method == "GET":
        # The route hands the query's (name, text) pairs over as they were sent.
        query = list((params or {}).items())
        return op.decode(path=path_values, query=query, body=b"", content_type=None, actor="bob")
    raw = json.dumps(body).encode() if body is not None else b""
    return op.decode(path=path_values, query=(), body=raw, content_type="application/json", actor="bob")


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda e: type(e).__name__)
def test_the_client_encoding_decodes_on_the_server_to_the_same_message_acting_for_the_token(message):
    op = operation_for(message)
    path, params, body = op.encode(message)
    decoded = _server_side(op, path, params, body)
    assert decoded == type(message)(**_fields(message), actor="bob")


def _fields(message):
    return {a.name: getattr(message, a.name) for a in type(message).__attrs_attrs__ if a.name != "actor"}


def test_a_client_cannot_act_for_someone_else():
    op = operation_for(TriggerRun)
    with pytest.raises(ParameterInvalidError, match="actor"):
        op.decode(
            path={"dataset_name": "a.b"},
            query=(),
            body=b'{"actor": "mallory"}',
            content_type="application/json",
            actor="bob",
        )


@pytest.mark.parametrize(
    ("body", "error", "text"),
    [
        (b"\xff\xfe", MalformedBodyError, "not valid UTF-8"),
        (b"{not json", MalformedBodyError, "not valid JSON"),
        (b"[1, 2]", ParameterInvalidError, "must be a JSON object"),
        (b'{"parameters": {}, "dry_run": "yes"}', ParameterInvalidError, "body.dry_run"),
        (b'{"parameters": [], "dry_run": false}', ParameterInvalidError, "body.parameters"),
        (b'{"surprise": 1}', ParameterInvalidError, "surprise"),
        (b'{"parameters": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}", ParameterInvalidError, "deeper than"),
        (b"[" * 5000 + b"]" * 5000, ParameterInvalidError, "deeper than"),
    ],
)
def test_bad_bodies_are_refused_with_a_dli_code_naming_the_problem(body, error, text):
    op = operation_for(TriggerRun)
    with pytest.raises(error, match=text):
        op.decode(path={"dataset_name": "a.b"}, query=(), body=body, content_type="application/json", actor=None)


def test_a_body_not_sent_as_json_is_415():
    op = operation_for(TriggerRun)
    with pytest.raises(UnsupportedMediaTypeError) as exc:
        op.decode(path={"dataset_name": "a.b"}, query=(), body=b"dry_run=1", content_type="text/plain", actor=None)
    assert exc.value.http_status == 415


def test_register_body_keeps_cron_errors_as_dli_805_and_spec_errors_as_dli_203():
    op = operation_for(RegisterWorkflow)

    def decode(spec):
        raw = json.dumps({"spec": spec}).encode()
        return op.decode(path={}, query=(), body=raw, content_type="application/json", actor=None)

    with pytest.raises(InvalidCronError):
        decode({"name": "a.b", "query_statement": "SELECT 1", "schedule": {"cron": "61 * * * *"}})
    with pytest.raises(SpecInvalidError, match="schedule"):
        decode({"name": "a.b", "query_statement": "SELECT 1"})
    with pytest.raises(SpecInvalidError):
        decode({"name": "Not A Name", "query_statement": "SELECT 1", "schedule": {"cron": "0 9 * * *"}})


def test_enum_values_the_message_does_not_know_list_the_allowed_ones():
    op = operation_for(PauseWorkflow)
    with pytest.raises(ParameterInvalidError, match="Invalid source type: 'git'") as exc:
        op.decode(
            path={"dataset_name": "a.b"},
            query=(),
            body=b'{"source_type": "git"}',
            content_type="application/json",
            actor=None,
        )
    assert exc.value.hints == ("Use one of: manual, code.",)


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ([("source_type", "null")], "Invalid source type: 'null'"),
        ([("source_type", "code"), ("source_type", "manual")], "given more than once"),
        ([("limit", "5"), ("limit", "6")], "given more than once"),
        ([("include_dataset_info", "1")], "must be true or false"),
        ([("limit", "1e2")], "must be a whole number"),
    ],
)
def test_a_query_value_the_document_does_not_allow_is_refused_not_guessed(query, problem) -> None:
    with pytest.raises(ParameterInvalidError, match=problem):
        operation_for(GetHistory).decode(path={}, query=query, body=b"", content_type=None, actor="bob")


def test_a_json_number_with_no_fraction_is_an_integer_as_json_schema_reads_it() -> None:
    body = {
        "spec": {
            "name": "a.b",
            "query_statement": "SELECT 1",
            "schedule": {"cron": "0 6 * * *", "retry": {"max_attempts": 3.0}},
        }
    }
    message = operation_for(RegisterWorkflow).decode(
        path={}, query=(), body=json.dumps(body).encode(), content_type="application/json", actor="bob"
    )
    assert message.spec.schedule.retry_max_attempts == 3
