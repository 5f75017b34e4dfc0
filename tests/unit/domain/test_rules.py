"""A field rule is stated once: the check the model runs and the JSON Schema the API document shows."""

from __future__ import annotations

import re

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dli.domain.model.errors import InvalidCronError, SpecInvalidError
from dli.domain.model.names import DATASET_NAME
from dli.domain.model.rules import Choice, Flag, Matching, Text, Whole
from dli.domain.model.schedule import CRON_PATTERN, validate_cron
from dli.domain.model.spec import PARAMETER_NAME, Parameter


@settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.from_regex(CRON_PATTERN, fullmatch=True))
def test_every_cron_the_documented_pattern_allows_is_accepted_unless_it_never_fires(cron: str) -> None:
    try:
        validate_cron(cron)
    except InvalidCronError as exc:
        assert "never fires" in exc.message


@pytest.mark.parametrize("cron", ["0 0 ? * *", "0 6 * * mon#1", "*/0 * * * *", "0 6 * * *\n", "0 6 1-L * *"])
def test_a_cron_outside_the_documented_forms_is_refused(cron: str) -> None:
    assert not re.fullmatch(CRON_PATTERN, cron)
    with pytest.raises(InvalidCronError):
        validate_cron(cron)


RULES = [
    (Text(nullable=True), ["a", "", None], [1, True, ["a"]]),
    (Text(non_empty=True), ["a", " x "], ["", "  \t", None, 3]),
    (Flag(), [True, False], ["true", 0, None]),
    (Whole(low=1, high=5), [1, 5], [0, 6, True, 2.5, "3", None]),
    (Choice(values=("upstream",), nullable=True), ["upstream", None], ["Upstream", "", 1]),
    (DATASET_NAME, ["shop.orders", "a", "x" * 250], ["Shop", "a..b", "a.", "x" * 251, "a\n", 1]),
    (PARAMETER_NAME, ["region", "_x", "If", "x" * 64], ["if", "None", "TRUE", "dag_run", "1a", "x" * 65, "a\n"]),
]


@pytest.mark.parametrize(("rule", "good", "bad"), RULES)
def test_a_rule_and_its_json_schema_accept_the_same_values(rule, good, bad) -> None:
    schema = rule.json_schema()
    for value in good:
        rule.check("field", value)
        jsonschema.validate(value, schema)
    for value in bad:
        with pytest.raises(SpecInvalidError):
            rule.check("field", value)
        assert not jsonschema.Draft202012Validator(schema).is_valid(value), value


def test_a_matching_rule_documents_the_pattern_its_check_uses() -> None:
    rule = Matching(pattern="[a-z]+", what="letters", max_length=3)
    assert rule.json_schema() == {"type": "string", "pattern": r"^(?:[a-z]+)(?![\s\S])", "maxLength": 3}
    with pytest.raises(SpecInvalidError, match="field: must be letters, got str 'abcd'"):
        rule.check("field", "abcd")


def test_the_model_field_carries_the_rule_that_checks_it() -> None:
    import attrs

    from dli.domain.model.rules import rule_of

    assert rule_of(attrs.fields(Parameter).name) is PARAMETER_NAME
    with pytest.raises(SpecInvalidError, match="invalid parameter name 'dag_run'"):
        Parameter(name="dag_run")
