"""The Airflow connection of a dataset's SQL: conn_id, the dialect's mapping, ``<dialect>_default``, ``dli_default``."""

from __future__ import annotations

import pytest

from dli.domain.model.errors import ConfigurationError
from dli.domain.model.execution import ExecutionSettings
from dli.entrypoints.airflow.connections import connection_for, dialect_connections

MAPPING = {"trino": "trino_prod"}


def test_without_conn_id_or_dialect_the_sql_runs_on_dli_default() -> None:
    assert connection_for(ExecutionSettings(), MAPPING).conn_id == "dli_default"


def test_a_mapped_dialect_runs_on_the_mapped_connection() -> None:
    connection = connection_for(ExecutionSettings(dialect="trino"), MAPPING)
    assert connection.conn_id == "trino_prod" and "DLI_DIALECT_CONNECTIONS" in connection.origin


def test_an_unmapped_dialect_runs_on_airflows_dialect_default() -> None:
    connection = connection_for(ExecutionSettings(dialect="postgres"), MAPPING)
    assert connection.conn_id == "postgres_default" and "postgres" in connection.origin


def test_the_specs_conn_id_wins_over_its_dialect() -> None:
    connection = connection_for(ExecutionSettings(dialect="trino", conn_id="dli_local"), MAPPING)
    assert connection.conn_id == "dli_local" and "conn_id" in connection.origin


def test_an_unset_or_blank_variable_maps_nothing() -> None:
    assert dialect_connections({}) == {}
    assert dialect_connections({"DLI_DIALECT_CONNECTIONS": "  "}) == {}


def test_the_variable_is_a_json_object_whose_dialects_match_in_any_case() -> None:
    mapping = dialect_connections({"DLI_DIALECT_CONNECTIONS": '{"Trino": "trino_prod", "sqlite": " dli_local "}'})
    assert mapping == {"trino": "trino_prod", "sqlite": "dli_local"}
    assert connection_for(ExecutionSettings(dialect="trino"), mapping).conn_id == "trino_prod"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("trino=trino_prod", "not valid JSON"),
        ('["trino"]', "must be a JSON object"),
        ('{"trino": 3}', "'trino'"),
        ('{"trino": ""}', "'trino'"),
    ],
)
def test_a_bad_variable_is_a_configuration_error_with_an_example(raw: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        dialect_connections({"DLI_DIALECT_CONNECTIONS": raw})
    assert exc.value.code.value == "DLI-001"
    assert expected in exc.value.message and "DLI_DIALECT_CONNECTIONS" in exc.value.message
    assert '{"trino": "trino_prod"' in exc.value.hints[0]
