"""The policy file is dli's own format: read strictly, every mistake DLI-001 naming the place."""

from __future__ import annotations

import pytest

from dli.adapters.policy_file import parse_policy, read_policy
from dli.domain.model.access import Policy, TeamRoles
from dli.domain.model.errors import ConfigurationError

ISSUE_EXAMPLE = """
admins: ["group:platform"]            # everything, every team
teams:
  "@data-engineering":
    editors: ["group:de"]
    operators: ["group:de-oncall", "bob"]
    viewers: ["*"]
  "@marketing":
    editors: ["group:mkt"]
    viewers: ["group:mkt"]
default: {viewers: ["*"]}
"""


def test_the_issues_example_reads_as_written():
    policy = parse_policy(ISSUE_EXAMPLE, where="policy.yaml")
    assert policy == Policy(
        admins={"group:platform"},
        teams={
            "@data-engineering": TeamRoles(editors={"group:de"}, operators={"group:de-oncall", "bob"}, viewers={"*"}),
            "@marketing": TeamRoles(editors={"group:mkt"}, viewers={"group:mkt"}),
        },
        default=TeamRoles(viewers={"*"}),
    )
    assert policy.enforced


def test_an_empty_policy_grants_nothing():
    policy = parse_policy("", where="p")
    assert policy.enforced and policy.admins == frozenset() and policy.default == TeamRoles()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("admin: [x]", "did you mean 'admins'"),
        ("teams: {'@a': {editor: [x]}}", "did you mean 'editors'"),
        ("teams: {'@a': {owners: [x]}}", "unknown key 'owners' in teams.@a"),
        ("default: {viewers: '*'}", "default.viewers must be a list"),
        ("admins: [1]", "admins: every principal is a non-empty string"),
        ("admins: ['']", "non-empty string"),
        ("admins: [' bob']", "without spaces"),
        ("admins: ['group:']", "'group:' needs a group name"),
        ("admins: ['team-*']", "'*' stands alone"),
        ("teams: [a, b]", "teams must be a mapping"),
        ("teams: {'@a': [x]}", "teams.@a must be a mapping"),
        ("- just a list", "the document must be a mapping"),
        ("admins: [a]\nadmins: [b]", "admins"),  # a key twice: the loader refuses it
        ("admins: [a", "Invalid policy file"),
    ],
)
def test_a_policy_mistake_is_dli_001_naming_the_place(text, says):
    with pytest.raises(ConfigurationError) as refused:
        parse_policy(text, where="policy.yaml")
    assert refused.value.code.value == "DLI-001"
    assert says in str(refused.value)


def test_a_missing_policy_file_is_dli_001(tmp_path):
    with pytest.raises(ConfigurationError, match="Cannot read policy file"):
        read_policy(tmp_path / "nope.yaml")
