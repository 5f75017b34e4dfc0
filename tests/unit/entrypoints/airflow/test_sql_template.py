"""The SQL templates and params the DAG factory builds (pure; rendered here with plain Jinja)."""

from __future__ import annotations

import datetime as dt
import functools
import types

import attrs
import jinja2
import pytest

from dli.domain.model.spec import DatasetSpec, Parameter, Statement
from dli.entrypoints.airflow.sql_template import (
    DATE_MACRO,
    execution_date_for,
    param_schema,
    sql_template,
    statement_task_ids,
)

UTC = dt.UTC


def _slipped_through(**fields) -> Parameter:
    """A parameter the model now refuses, as a document stored by an older, laxer version holds it."""
    with attrs.validators.disabled():
        return Parameter(**fields)


def _render(template: str, *, conf=None, logical=None, run_after=None, params=None, timezone="UTC") -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # Airflow renders with StrictUndefined
    dag_run = types.SimpleNamespace(conf=conf or {}, logical_date=logical, run_after=run_after)
    macro = functools.partial(
        lambda run, timezone: execution_date_for(
            conf=run.conf, logical_date=run.logical_date, run_after=run.run_after, timezone=timezone
        ),
        timezone=timezone,
    )
    return env.from_string(template).render(dag_run=dag_run, params=params or {}, **{DATE_MACRO: macro})


def test_bare_parameters_and_execution_date_render_from_params_and_the_run() -> None:
    template = sql_template(
        "SELECT '{{ execution_date }}', {{ min_amount }}", [Parameter(name="min_amount", type="integer")]
    )
    sql = _render(template, logical=dt.datetime(2025, 1, 5, 9, tzinfo=UTC), params={"min_amount": 7})
    assert sql == "SELECT '2025-01-05', 7"


def test_conf_execution_date_wins_over_the_logical_date() -> None:
    sql = _render(
        sql_template("{{ execution_date }}", []),
        conf={"execution_date": "2024-12-31"},
        logical=dt.datetime(2025, 1, 5, tzinfo=UTC),
    )
    assert sql == "2024-12-31"


def test_a_manual_run_without_logical_date_uses_its_trigger_time_in_the_dag_timezone() -> None:
    # 2025-01-05 20:00 UTC is already 2025-01-06 in Seoul.
    sql = _render(
        sql_template("{{ execution_date }}", []),
        run_after=dt.datetime(2025, 1, 5, 20, tzinfo=UTC),
        timezone="Asia/Seoul",
    )
    assert sql == "2025-01-06"


def test_a_parameter_without_value_renders_as_none_instead_of_failing() -> None:
    assert _render(sql_template("{{ label }}", [Parameter(name="label")]), run_after=dt.datetime.now(UTC)) == "None"


def test_a_declared_execution_date_parameter_falls_back_to_the_run_date() -> None:
    template = sql_template("{{ execution_date }}", [Parameter(name="execution_date", type="date")])
    assert (
        _render(template, logical=dt.datetime(2025, 2, 1, tzinfo=UTC), params={"execution_date": None}) == "2025-02-01"
    )


def test_the_preamble_leaves_the_users_sql_unchanged() -> None:
    sql = "INSERT INTO t\n  SELECT 1"
    assert _render(sql_template(sql, [Parameter(name="x")]), run_after=dt.datetime.now(UTC)) == sql


def test_parameter_names_jinja_cannot_assign_are_not_set() -> None:
    template = sql_template("x", [_slipped_through(name="params"), _slipped_through(name="not-an-identifier")])
    assert "set params" not in template and "not-an-identifier" not in template


@pytest.mark.parametrize(
    ("parameter", "default", "schema_type"),
    [
        (_slipped_through(name="a", type="integer", default="5"), 5, ["integer", "null"]),
        (Parameter(name="b", type="float", default=1), 1.0, ["number", "null"]),
        (Parameter(name="c", type="boolean", default=True), True, ["boolean", "null"]),
        (Parameter(name="d", type="date", default="2025-01-01"), "2025-01-01", ["string", "null"]),
        (Parameter(name="e", type="string"), None, ["string", "null"]),
    ],
)
def test_params_are_typed_and_nullable(parameter, default, schema_type) -> None:
    value, schema = param_schema(parameter)
    assert value == default and schema["type"] == schema_type


def test_a_default_that_does_not_fit_its_type_drops_the_type_rather_than_breaking_every_run() -> None:
    value, schema = param_schema(_slipped_through(name="n", type="integer", default="many"))
    assert value == "many" and "type" not in schema


def test_statement_task_ids_are_ordered_and_airflow_safe() -> None:
    spec = DatasetSpec(
        name="a.b",
        query_statement="SELECT 1",
        pre_statements=(Statement(sql="x"), Statement(sql="y", name="make table!")),
        post_statements=(Statement(sql="z", name="analyze"),),
    )
    assert statement_task_ids(spec) == (["pre_1", "pre_2_make_table"], ["post_1_analyze"])


def test_a_run_started_by_upstream_data_is_for_the_latest_date_its_triggering_events_carry():
    from dli.entrypoints.airflow.sql_template import execution_date_for

    later = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    extras = [{"execution_date": "2025-01-01"}, {"execution_date": "2025-01-03"}, {"dataset": "x"}]
    assert (
        execution_date_for(conf={}, logical_date=None, run_after=later, timezone="UTC", triggering=extras)
        == "2025-01-03"
    )
    assert (
        execution_date_for(
            conf={"execution_date": "2024-01-01"}, logical_date=None, run_after=later, timezone="UTC", triggering=extras
        )
        == "2024-01-01"
    )
    assert (
        execution_date_for(conf={}, logical_date=None, run_after=later, timezone="UTC", triggering=[{}]) == "2025-06-01"
    )
