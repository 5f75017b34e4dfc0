"""``-p key=value`` parsing."""

import pytest

from dli.domain.model.errors import ParameterInvalidError
from dli.entrypoints.cli.options import parse_params


def test_pairs_become_a_dict_of_strings():
    assert parse_params(["a=1", "b_2=x=y", "c="]) == {"a": "1", "b_2": "x=y", "c": ""}


@pytest.mark.parametrize("item", ["novalue", "=1", "1a=2", "a-b=1", " =1"])
def test_malformed_items_are_dli_204(item):
    with pytest.raises(ParameterInvalidError) as info:
        parse_params([item])
    assert info.value.code.value == "DLI-204"


def test_duplicate_key_is_dli_204():
    with pytest.raises(ParameterInvalidError, match="given twice"):
        parse_params(["a=1", "a=2"])
