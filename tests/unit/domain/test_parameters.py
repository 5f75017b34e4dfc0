import datetime as dt

import pytest

from dli.domain.model.errors import ParameterInvalidError
from dli.domain.model.parameters import MAX_BACKFILL_DAYS, backfill_dates, coerce_parameters, parse_date
from tests.support.specs import make_spec, params_spec


def test_values_are_coerced_to_their_declared_types():
    out = coerce_parameters(
        params_spec(), {"region": "eu", "limit": "7", "ratio": "0.5", "full": "yes", "day": "2025-01-02"}
    )
    assert out == {"region": "eu", "limit": 7, "ratio": 0.5, "full": True, "day": "2025-01-02"}


def test_native_values_are_accepted():
    out = coerce_parameters(params_spec(), {"region": "eu", "limit": 3, "ratio": 2, "full": False})
    assert out == {"region": "eu", "limit": 3, "ratio": 2.0, "full": False}


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"region": "eu", "limit": "seven"},
        {"region": "eu", "limit": True},
        {"region": "eu", "ratio": "x"},
        {"region": "eu", "full": "maybe"},
        {"region": "eu", "day": "2025-13-01"},
        {"region": ["eu"]},
        {"region": "eu", "typo": 1},
    ],
)
def test_bad_parameters_are_dli_204(given):
    with pytest.raises(ParameterInvalidError) as exc:
        coerce_parameters(params_spec(), given)
    assert exc.value.code.value == "DLI-204"


@pytest.mark.parametrize("ratio", ["nan", "NaN", "inf", "-inf", "1e400", float("nan"), float("inf")])
def test_float_parameters_refuse_nan_and_infinity(ratio):
    with pytest.raises(ParameterInvalidError) as exc:
        coerce_parameters(params_spec(), {"region": "eu", "ratio": ratio})
    assert exc.value.code.value == "DLI-204" and "ratio" in exc.value.message


def test_execution_date_is_always_allowed_and_checked():
    spec = make_spec()
    assert coerce_parameters(spec, {"execution_date": "2025-01-01"}) == {"execution_date": "2025-01-01"}
    with pytest.raises(ParameterInvalidError):
        coerce_parameters(spec, {"execution_date": "yesterday"})


def test_backfill_dates_are_inclusive_and_ordered():
    assert backfill_dates("2024-02-28", "2024-03-01") == [
        dt.date(2024, 2, 28),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 1),
    ]
    assert backfill_dates("2025-01-01", "2025-01-01") == [dt.date(2025, 1, 1)]


@pytest.mark.parametrize(
    ("start", "end"), [("2025-01-02", "2025-01-01"), ("2025-1-1", "2025-01-02"), ("x", "y"), ("2025-01-01", None)]
)
def test_bad_backfill_ranges_are_dli_204(start, end):
    with pytest.raises(ParameterInvalidError):
        backfill_dates(start, end)


def test_backfill_range_is_capped():
    start = dt.date(2020, 1, 1)
    backfill_dates(start, start + dt.timedelta(days=MAX_BACKFILL_DAYS - 1))
    with pytest.raises(ParameterInvalidError) as exc:
        backfill_dates(start, start + dt.timedelta(days=MAX_BACKFILL_DAYS))
    assert "maximum" in exc.value.message


def test_parse_date_accepts_date_objects():
    assert parse_date(dt.date(2025, 5, 1)) == dt.date(2025, 5, 1)
    with pytest.raises(ParameterInvalidError):
        parse_date(dt.datetime(2025, 5, 1))


def test_a_required_parameter_without_default_must_be_given_and_an_optional_one_with_default_need_not():
    # The shape of the upstream corpus's parameters: execution_date required, lookback_days optional with a default.
    from dli.domain.model.spec import Parameter

    spec = make_spec(
        parameters=(
            Parameter(name="execution_date", type="date", required=True),
            Parameter(name="lookback_days", type="integer", required=False, default=7),
        )
    )
    with pytest.raises(ParameterInvalidError) as exc:
        coerce_parameters(spec, {})
    assert exc.value.message.startswith("Missing required parameter 'execution_date'")
    assert exc.value.hints == ("Pass it with -p execution_date=<date>.",)
    assert coerce_parameters(spec, {"execution_date": "2025-01-01"}) == {"execution_date": "2025-01-01"}
