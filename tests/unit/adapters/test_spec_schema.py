"""The JSON Schema of a spec (the register body's ``spec`` in the API document) is generated from the
model's rules: it accepts exactly the spec mappings ``spec_from_dict`` reads."""

from __future__ import annotations

import jsonschema
import pytest

from dli.adapters.codecs.specs import spec_from_dict, spec_json_schema
from dli.domain.model.errors import DLIError

BASE = {"name": "shop.orders", "query_statement": "SELECT 1"}

ACCEPTED = [
    {**BASE, "schedule": {"after": "upstream"}},  # no cron: upstream data starts the runs
    {**BASE, "schedule": {"cron": "0 6 * * *", "retry": None}},  # an empty YAML key means none
    {**BASE, "schedule": {"cron": "0 6 * * *", "retry": {"max_attempts": 3}, "timezone": "Europe/Berlin"}},
    {**BASE, "schedule": {"cron": None, "after": "upstream", "retry_max_attempts": 2}},
    {**BASE, "versions": [{"started_at": "2024-01-01"}], "tags": None, "execution": {"dialect": "trino", "x": 1}},
    {"name": "a.b", "query_file": "q.sql", "parameters": [{"name": "d", "type": "date", "default": "2025-02-28"}]},
    {**BASE, "pre_statements": ["DELETE FROM t", {"sql": "ANALYZE t", "continue_on_error": True}]},
    {**BASE, "parameters": [{"name": "n", "type": "integer", "default": 3}, {"name": "s", "default": "eu"}]},
]
REFUSED = [
    {**BASE, "schedule": {"timezone": "UTC"}},  # neither a cron nor after
    {**BASE, "schedule": {"cron": "0 6 * * *", "retry": {"delay_seconds": 86_401}}},
    {**BASE, "schedule": {"cron": "0 6 * * *", "timezone": "Mars/Base"}},
    {**BASE, "schedule": {"cron": "0 6 * *"}},
    {**BASE, "schedule": {"cron": "0 6 * * *", "enabled": "false"}},
    {**BASE, "schedule": {"cron": "0 6 * * *", "after": "downstream"}},
    {**BASE, "schedule": {"cron": "0 6 * * *", "every": "day"}},
    {"name": "shop.orders"},  # no SQL
    {**BASE, "name": "Shop.Orders"},
    {**BASE, "owner": ["a"]},
    {**BASE, "parameters": [{"name": "n", "type": "integer", "default": "3"}]},
    {**BASE, "parameters": [{"name": "d", "type": "date", "default": "2025-02-30"}]},
    {**BASE, "parameters": [{"name": "n", "kind": "integer"}]},
    {**BASE, "pre_statements": ["  "]},
    {**BASE, "execution": {"retry_count": 101}},
    {**BASE, "depends_on": "shop.raw"},
]


@pytest.mark.parametrize("spec", ACCEPTED)
def test_a_spec_the_schema_allows_is_read(spec) -> None:
    jsonschema.validate(spec, spec_json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    spec_from_dict(spec)


@pytest.mark.parametrize("spec", REFUSED)
def test_a_spec_the_schema_forbids_is_refused(spec) -> None:
    validator = jsonschema.Draft202012Validator(
        spec_json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert not validator.is_valid(spec)
    with pytest.raises(DLIError):
        spec_from_dict(spec)


def test_the_schedule_schema_requires_a_cron_or_after_upstream_not_a_cron() -> None:
    schedule = spec_json_schema()["properties"]["schedule"]
    assert "required" not in schedule
    assert {"cron", "after", "timezone", "enabled", "retry"} <= set(schedule["properties"])
