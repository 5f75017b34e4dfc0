import datetime as dt

import pytest

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.spec import DatasetSpec, Parameter, Statement, check_execution
from tests.support.specs import make_spec


def field_of(exc_info):
    assert exc_info.value.code.value == "DLI-203"
    return exc_info.value.details["field"]


@pytest.mark.parametrize("name", ["a b", "1st", "for", "params", "dag_run", "True", "", "x" * 65, "ré", 5])
def test_parameter_names_must_be_template_identifiers(name):
    with pytest.raises(SpecInvalidError) as exc:
        Parameter(name=name)
    assert field_of(exc) == "name"


@pytest.mark.parametrize("name", ["region", "_x", "min_amount2", "execution_date"])
def test_identifier_parameter_names_are_accepted(name):
    assert Parameter(name=name).name == name


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        ("string", 10),
        ("integer", "10"),
        ("integer", True),
        ("integer", 1.5),
        ("float", "0.5"),
        ("float", float("nan")),
        ("float", float("inf")),
        ("boolean", "false"),
        ("boolean", 0),
        ("date", "2025-13-01"),
        ("date", "yesterday"),
        ("date", 20250101),
    ],
)
def test_a_default_must_fit_the_declared_type(kind, default):
    with pytest.raises(SpecInvalidError) as exc:
        Parameter(name="p", type=kind, default=default)
    assert field_of(exc) == "default"
    assert kind in exc.value.message


@pytest.mark.parametrize(
    ("kind", "default"),
    [("string", "eu"), ("integer", 10), ("float", 0.5), ("float", 2), ("boolean", False), ("date", "2025-01-31")],
)
def test_defaults_of_the_declared_type_are_accepted(kind, default):
    assert Parameter(name="p", type=kind, default=default).default == default


def test_a_date_default_is_kept_as_text_like_json_has_it():
    assert Parameter(name="p", type="date", default=dt.date(2025, 1, 31)).default == "2025-01-31"


@pytest.mark.parametrize(("field", "value"), [("type", "blob"), ("required", "yes"), ("description", 3)])
def test_other_parameter_fields_are_typed(field, value):
    with pytest.raises(SpecInvalidError) as exc:
        Parameter(name="p", **{field: value})
    assert field_of(exc) == field


def test_a_parameter_is_declared_once():
    with pytest.raises(SpecInvalidError) as exc:
        make_spec(parameters=(Parameter(name="a"), Parameter(name="b"), Parameter(name="a")))
    assert field_of(exc) == "parameters[2].name"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"sql": 1}, "sql"),
        ({"sql": "  "}, "sql"),
        ({"sql": "x", "name": 2}, "name"),
        ({"sql": "x", "continue_on_error": "true"}, "continue_on_error"),
    ],
)
def test_statements_are_typed(fields, field):
    with pytest.raises(SpecInvalidError) as exc:
        Statement(**fields)
    assert field_of(exc) == field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"query_statement": 123}, "query_statement"),
        ({"owner": ["a"]}, "owner"),
        ({"team": 1}, "team"),
        ({"description": {}}, "description"),
        ({"query_file": 1, "query_statement": None}, "query_file"),
        ({"tags": "abc"}, "tags"),
        ({"tags": ["a", 1]}, "tags[1]"),
        ({"depends_on": [None]}, "depends_on[0]"),
        ({"domains": 3}, "domains"),
        ({"pre_statements": ("x",)}, "pre_statements[0]"),
        ({"parameters": ({"name": "a"},)}, "parameters[0]"),
        ({"schedule": {"cron": "0 9 * * *"}}, "schedule"),
        ({"extra": []}, "extra"),
        ({"name": "Not A Name"}, "name"),
    ],
)
def test_every_spec_field_is_typed(fields, field):
    with pytest.raises(SpecInvalidError) as exc:
        DatasetSpec(**{"name": "a.b", "query_statement": "SELECT 1", **fields})
    assert field_of(exc) == field


@pytest.mark.parametrize(
    ("execution", "field"),
    [
        ({"timeout_seconds": 0}, "execution.timeout_seconds"),
        ({"timeout_seconds": 10**9}, "execution.timeout_seconds"),
        ({"timeout_seconds": "60"}, "execution.timeout_seconds"),
        ({"retry_count": -1}, "execution.retry_count"),
        ({"retry_count": 101}, "execution.retry_count"),
        ({"retry_count": True}, "execution.retry_count"),
        ({"retry_delay_seconds": 1.5}, "execution.retry_delay_seconds"),
        ({"retry_delay_seconds": 86_401}, "execution.retry_delay_seconds"),
        ({"dialect": 1}, "execution.dialect"),
        ({"conn_id": ""}, "execution.conn_id"),
        ({1: "x"}, "execution"),
        (["conn_id"], "execution"),
    ],
)
def test_known_execution_keys_are_typed_and_bounded(execution, field):
    with pytest.raises(SpecInvalidError) as exc:
        make_spec(execution=execution)
    assert field_of(exc) == field


def test_execution_keeps_keys_it_does_not_know():
    execution = {
        "conn_id": "wh",
        "dialect": "trino",
        "timeout_seconds": 3600,
        "retry_count": 0,
        "retry_delay_seconds": 0,
        "warehouse": {"size": "L"},
    }
    assert make_spec(execution=execution).execution == execution


def test_check_execution_names_the_block_it_is_given():
    with pytest.raises(SpecInvalidError) as exc:
        check_execution({"retry_count": 1000}, field="defaults")
    assert exc.value.message.startswith("defaults.retry_count: must be an integer from 0 to 100")


def test_a_spec_without_sql_is_refused():
    with pytest.raises(SpecInvalidError) as exc:
        DatasetSpec(name="a.b")
    assert "neither query_statement nor query_file" in exc.value.message
