import datetime as dt

import pytest
import yaml

from dli.adapters.codecs.specs import document_from_bytes, document_to_bytes, spec_from_dict, spec_to_dict
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError
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
        (b"name: a.b\nquery_statement: x\nparameters: [{name: p, colour: red}]\nschedule: {cron: '0 9 * * *'}", "colour"),
        (b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', retry: {max_attempts: 0}}", "max_attempts"),
        (b"name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *', retry: {tries: 2}}", "tries"),
        (b"name: a.b\nquery_statement: x\nregistration: [1]\nschedule: {cron: '0 9 * * *'}", "registration"),
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
    assert document_from_bytes(raw, where="x").registered_at == dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone.utc)
