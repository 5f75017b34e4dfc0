import datetime as dt
import json

import pytest
import yaml

from dli.adapters.codecs.specs import document_from_bytes, document_to_bytes, spec_from_dict, spec_to_dict
from dli.adapters.codecs.yaml_documents import load_yaml
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import InvalidCronError, SpecInvalidError
from tests.support.specs import make_document, params_spec

USER_YAML = """
name: iceberg.analytics.daily_clicks
owner: engineer@example.com
team: "@data-engineering"
description: Daily clicks
query_statement: SELECT {{ execution_date }}
parameters:
  - name: region
    type: string
    required: true
pre_statements:
  - DELETE FROM t WHERE dt = '{{ execution_date }}'
  - sql: ANALYZE t
    continue_on_error: true
execution:
  conn_id: warehouse
quality_checks: [not_null]
schema:
  - {name: clicks, type: bigint}
schedule:
  cron: "0 9 * * *"
  timezone: Asia/Seoul
  retry:
    max_attempts: 3
    delay_seconds: 60
"""


def test_user_yaml_is_read_with_unknown_fields_preserved():
    spec = spec_from_dict(yaml.safe_load(USER_YAML))
    assert spec.schedule.retry_max_attempts == 3 and spec.schedule.timezone == "Asia/Seoul"
    assert spec.pre_statements[1].continue_on_error is True
    assert spec.extra == {"quality_checks": ["not_null"], "schema": [{"name": "clicks", "type": "bigint"}]}
    again = spec_from_dict(spec_to_dict(spec))
    assert again == spec


def test_document_bytes_round_trip():
    doc = make_document(extra={"z": 1}, registered_by="bob")
    assert document_from_bytes(document_to_bytes(doc), where="x") == doc


def test_key_prefix_decides_the_source_type():
    raw = document_to_bytes(make_document(source=SourceType.MANUAL))
    assert document_from_bytes(raw, where="x", source=SourceType.CODE).source_type is SourceType.CODE


def test_ci_written_code_spec_without_registration_section_reads():
    raw = b"name: a.b\nquery_statement: SELECT 1\nschedule: {cron: '0 9 * * *'}\n"
    doc = document_from_bytes(raw, where="code/a.b.yaml", source=SourceType.CODE)
    assert doc.registered_by is None and doc.schedule.cron == "0 9 * * *"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"name: [unclosed", "invalid YAML"),
        (b"- a\n- b\n", "mapping"),
        (b"query_statement: x\nschedule: {cron: '0 9 * * *'}", "name"),
        (b"name: a.b\nquery_statement: x\n", "schedule"),
        (b"name: a.b\nschedule: {cron: '0 9 * * *'}", "query"),
        (b"name: a.b\nquery_statement: x\nschedule: {cron: 'nope'}", "cron"),
        (b"name: a.b\nquery_statement: x\nparameters: [{name: p, type: blob}]\nschedule: {cron: '0 9 * * *'}", "type"),
        (
            b"name: a.b\nquery_statement: x\nparameters: [{name: p, colour: red}]\nschedule: {cron: '0 9 * * *'}",
            "colour",
        ),
        (b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', retry: {max_attempts: 0}}", "max_attempts"),
        (b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', retry: {tries: 2}}", "tries"),
        (b"name: a.b\nquery_statement: x\nregistration: [1]\nschedule: {cron: '0 9 * * *'}", "registration"),
        (
            b"name: a.b\nquery_statement: x\nregistration: {registered_by: [x]}\nschedule: {cron: '0 9 * * *'}",
            "registration.registered_by: expected str",
        ),
        (
            b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', retry: 0}",
            "schedule.retry: expected a mapping",
        ),
        (
            b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', retry: {max_attempts: 1.0e+400}}",
            "schedule.retry.max_attempts: must be an integer from 1 to 100, got float inf",
        ),
        (
            b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', retry: {max_attempts: 1e400}}",
            "schedule.retry.max_attempts: must be an integer from 1 to 100, got str '1e400'",
        ),
        (b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', timezone: Nowhere/Land}", "timezone"),
    ],
)
def test_invalid_documents_are_dli_203_naming_the_problem(raw, needle):
    with pytest.raises(SpecInvalidError) as exc:
        document_from_bytes(raw, where="manual/a.b.yaml")
    assert exc.value.code.value in ("DLI-203", "DLI-805")
    assert needle.lower() in (exc.value.message + " ".join(exc.value.hints)).lower()


def test_parameters_serialise_compactly():
    data = spec_to_dict(params_spec())
    assert data["parameters"][0] == {"name": "region", "type": "string", "required": True}
    assert data["parameters"][1] == {"name": "limit", "type": "integer", "default": 10}


def test_registered_at_is_iso_with_offset():
    raw = document_to_bytes(make_document())
    assert b"2025-01-01T12:00:00+00:00" in raw
    assert document_from_bytes(raw, where="x").registered_at == dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)


BODY = {"name": "a.b", "query_statement": "SELECT 1", "schedule": {"cron": "0 9 * * *"}}


def with_fields(fields=None, **more):
    fields = {**(fields or {}), **more}
    body = {**BODY, **fields}
    if "schedule" in fields and isinstance(fields["schedule"], dict):
        body["schedule"] = {**BODY["schedule"], **fields["schedule"]}
    return body


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"query_statement": 123}, "spec.query_statement: expected str, got int 123"),
        ({"owner": ["a"]}, "spec.owner: expected str, got list ['a']"),
        ({"schedule": {"enabled": "false"}}, "spec.schedule.enabled: expected bool, got str 'false'"),
        ({"parameters": [{"name": "a b"}]}, "spec.parameters[0].name: invalid parameter name 'a b'"),
        (
            {"parameters": [{"name": "n", "type": "integer", "default": "10"}]},
            "spec.parameters[0].default: expected an int for a parameter of type integer, got str '10'",
        ),
        ({"parameters": ["n"]}, "spec.parameters[0]: expected a mapping, got str 'n'"),
        ({"pre_statements": "x"}, "spec.pre_statements: expected a list, got str 'x'"),
        (
            {"post_statements": [{"sql": "x", "continue_on_error": "yes"}]},
            "spec.post_statements[0].continue_on_error: expected bool",
        ),
        ({"post_statements": [7]}, "spec.post_statements[0]: expected SQL text or a mapping with 'sql'"),
        ({"post_statements": [{"name": "x"}]}, "spec.post_statements[0].sql: missing required field"),
        (
            {"schedule": {"retry": {"max_attempts": json.loads("1e400")}}},
            "spec.schedule.retry.max_attempts: must be an integer from 1 to 100, got float inf",
        ),
        (
            {"schedule": {"retry": {"delay_seconds": 10**20}}},
            "spec.schedule.retry.delay_seconds: must be an integer from 0 to 86400",
        ),
        ({"execution": {"timeout_seconds": -1}}, "spec.execution.timeout_seconds: must be an integer"),
        ({"execution": {"retry_count": "2"}}, "spec.execution.retry_count: must be an integer"),
        ({"execution": {"conn_id": 5}}, "spec.execution.conn_id: must be an Airflow connection id"),
        ({"execution": "trino"}, "spec.execution: expected a mapping"),
        ({"tags": "nightly"}, "spec.tags: expected a list"),
        ({"name": "Bad Name"}, "spec.name: invalid dataset name"),
        ({"schedule": {"colour": "red"}}, "spec.schedule: unknown field(s) colour"),
        ({1: "x"}, "spec: field names must be text"),
    ],
)
def test_api_body_problems_are_dli_203_naming_the_field_path(fields, message):
    with pytest.raises(SpecInvalidError) as exc:
        spec_from_dict(with_fields(fields), where="spec")
    assert exc.value.code.value == "DLI-203"
    assert exc.value.message.startswith(message)
    assert exc.value.hints


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"cron": "0 6 31 2 *"}, "spec.schedule.cron: invalid cron expression '0 6 31 2 *' - it never fires"),
        ({"cron": "61 6 * * *"}, "spec.schedule.cron: invalid cron expression '61 6 * * *' - the minute field"),
        ({"timezone": "Mars/Base"}, "spec.schedule.timezone: unknown timezone 'Mars/Base'"),
    ],
)
def test_api_body_cron_and_timezone_problems_stay_dli_805(schedule, message):
    with pytest.raises(InvalidCronError) as exc:
        spec_from_dict(with_fields(schedule=schedule), where="spec")
    assert exc.value.message.startswith(message)


def test_problems_of_several_parameters_and_of_the_schedule_are_reported_together():
    body = with_fields(
        parameters=[{"name": "a b"}, {"name": "ok"}, {"name": "n", "type": "float", "default": "x"}],
        schedule={"enabled": "no"},
    )
    with pytest.raises(SpecInvalidError) as exc:
        spec_from_dict(body, where="spec")
    assert exc.value.details["problems"] == [
        "spec.parameters[0].name: invalid parameter name 'a b'",
        "spec.parameters[2].default: expected a finite number for a parameter of type float, got str 'x'",
        "spec.schedule.enabled: expected bool, got str 'no'",
    ]


def test_a_cron_problem_among_others_is_dli_203():
    with pytest.raises(SpecInvalidError):
        spec_from_dict(with_fields(owner=1, schedule={"cron": "61 6 * * *"}), where="spec")


def test_a_spec_file_problem_names_the_file_then_the_field():
    with pytest.raises(SpecInvalidError) as exc:
        spec_from_dict(with_fields(owner=1), where="/p/dataset.a.b.yaml")
    assert exc.value.message == "/p/dataset.a.b.yaml: owner: expected str, got int 1"


def test_a_stored_document_with_a_bad_cron_is_an_invalid_document():
    raw = b"name: a.b\nquery_statement: x\nschedule: {cron: '0 6 31 2 *'}\n"
    with pytest.raises(SpecInvalidError) as exc:
        document_from_bytes(raw, where="manual/a.b.yaml")
    assert exc.value.code.value == "DLI-203"
    assert exc.value.message.startswith("manual/a.b.yaml: schedule.cron: invalid cron expression")


def test_a_stored_document_with_enabled_as_text_is_refused():
    raw = b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', enabled: 'false'}\n"
    with pytest.raises(SpecInvalidError) as exc:
        document_from_bytes(raw, where="manual/a.b.yaml")
    assert "schedule.enabled: expected bool" in exc.value.message


def test_execution_round_trips_with_unknown_keys():
    execution = {"conn_id": "wh", "timeout_seconds": 60, "retry_count": 1, "warehouse": "XL"}
    spec = spec_from_dict(with_fields(execution=execution))
    assert spec.execution == execution
    assert spec_from_dict(spec_to_dict(spec)) == spec


def test_an_unquoted_yaml_date_default_reads_as_text():
    data = load_yaml(
        "name: a.b\nquery_statement: x\nparameters: [{name: d, type: date, default: 2025-01-31}]\n", where="f"
    )
    assert spec_from_dict(data).parameters[0].default == "2025-01-31"


DATED_YAML = """
name: shop.dated
query_statement: SELECT 1
execution: {conn_id: wh, since: 2024-06-01}
versions:
  - {version: v1, started_at: 2024-01-01, released: 2024-01-02 10:30:00+02:00}
labels: !!set {a, b}
blob: !!binary aGVsbG8=
schedule: {cron: "0 9 * * *"}
"""


def test_yaml_dates_in_fields_dli_keeps_become_iso_text_so_the_spec_is_json():
    spec = spec_from_dict(load_yaml(DATED_YAML.encode(), where="x"))
    data = spec_to_dict(spec)
    assert json.loads(json.dumps(data)) == data  # the register API sends this mapping as JSON
    assert data["versions"] == [{"version": "v1", "started_at": "2024-01-01", "released": "2024-01-02T10:30:00+02:00"}]
    assert data["execution"]["since"] == "2024-06-01"
    assert data["labels"] == ["a", "b"] and data["blob"] == "aGVsbG8="


def test_a_spec_with_dates_reads_back_equal_from_its_json_and_its_stored_document():
    # Equal, so that publishing the same project twice writes nothing the second time.
    spec = spec_from_dict(load_yaml(DATED_YAML.encode(), where="x"))
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(spec)))) == spec
    doc = make_document("shop.dated", extra=dict(spec.extra))
    assert document_from_bytes(document_to_bytes(doc), where="x") == doc


def test_a_spec_built_in_python_with_a_date_in_extra_is_json_ready_too():
    from tests.support.specs import make_spec

    spec = make_spec(
        "shop.dated", extra={"since": dt.date(2024, 1, 1), "at": {dt.date(2024, 1, 2): dt.datetime(2024, 1, 2)}}
    )
    assert json.dumps(spec_to_dict(spec)) and spec_to_dict(spec)["at"] == {"2024-01-02": "2024-01-02T00:00:00"}


def test_a_misspelt_field_of_a_parameter_or_statement_is_refused_with_a_did_you_mean():
    # Parameters and statements are dli's own shapes: an unknown field there is refused, the hint names the field meant.
    body = with_fields(
        parameters=[{"name": "n", "type": "integer", "defualt": 3}],
        post_statements=[{"sql": "x", "continue_on_eror": True}],
    )
    with pytest.raises(SpecInvalidError) as exc:
        spec_from_dict(body, where="spec")
    assert "spec.parameters[0]: unknown field(s) defualt" in exc.value.message
    assert "Did you mean 'defualt' for 'default'?" in exc.value.hints
    assert "Did you mean 'continue_on_eror' for 'continue_on_error'?" in exc.value.hints
