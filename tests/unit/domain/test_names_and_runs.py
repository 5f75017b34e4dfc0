import pytest

from dli.domain.model.errors import SpecInvalidError, WorkflowNotFoundError
from dli.domain.model.names import MAX_NAME_LENGTH, validate_dataset_name
from dli.domain.model.runs import make_run_id, split_run_id


@pytest.mark.parametrize("name", ["a", "iceberg.analytics.daily_clicks", "a1_b.c2", "x" * MAX_NAME_LENGTH])
def test_valid_names_pass_unchanged(name):
    assert validate_dataset_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../x",
        "a/b",
        "a\\b",
        "A.b",
        "a..b",
        ".a",
        "a.",
        "1abc",
        "a b",
        "a-b",
        "a@b",
        "a:b",
        "x" * (MAX_NAME_LENGTH + 1),
        None,
        3,
    ],
)
def test_names_that_could_escape_a_key_or_dag_id_are_rejected(name):
    with pytest.raises(SpecInvalidError) as exc:
        validate_dataset_name(name)
    assert exc.value.code.value == "DLI-203"


def test_run_ids_round_trip_with_airflow_style_native_ids():
    native = "scheduled__2025-01-01T09:00:00+00:00"
    assert split_run_id(make_run_id("a.b", native)) == ("a.b", native)


@pytest.mark.parametrize("run_id", ["nope", "@x", "a.b@", "A.B@x", "../a@x", "a" * 1001 + "@x"])
def test_run_ids_that_name_no_workflow_are_dli_800(run_id):
    with pytest.raises(WorkflowNotFoundError):
        split_run_id(run_id)
