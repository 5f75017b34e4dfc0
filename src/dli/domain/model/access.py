"""Who may do what to which team's workflows: identities, the policy, and the one decision function.

A workflow belongs to the team named in its active spec's ``team:``. The policy gives each team's
roles to principals (``"*"``: anyone authenticated, ``"group:NAME"``: members of a group, anything
else: that user). Roles are nested: an editor is an operator, an operator a viewer. Admins may do
everything to every team. Independently of roles, a CODE workflow changes only through Git: its
spec cannot be replaced or deleted from the API (pause and unpause, run, backfill and stop are
operations, not changes of the spec).

``decide`` is pure: the server's bus resolves the workflow's team and source and asks it, and the
hypothesis test compares it with a plain oracle.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.verbs import SPEC_CHANGES, Role, Verb

__all__ = [
    "ANYONE",
    "AuthMethod",
    "Decision",
    "Identity",
    "Policy",
    "Role",
    "Target",
    "TeamRoles",
    "Verb",
    "decide",
    "decide_all",
    "role_of",
]


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


ANYONE = "*"
GROUP_PREFIX = "group:"


class AuthMethod(str, enum.Enum):
    """How the caller proved who it is."""

    TOKEN = "token"
    """A token of the Basecamp tokens file."""
    OIDC = "oidc"
    """A JWT signed by the configured OpenID Connect issuer."""
    LOCAL = "local"
    """In process (MOCK and LOCAL modes, ``dli workflow publish``): the user of the machine."""


@attrs.frozen(kw_only=True)
class Identity:
    """An authenticated caller."""

    name: str
    """The user (a token's user, or the OIDC user claim)."""
    groups: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    """Groups it belongs to (the token's, or the OIDC groups claim)."""
    method: AuthMethod = AuthMethod.LOCAL
    """How it authenticated."""

    def principals(self) -> frozenset[str]:
        """The policy entries that name it."""
        return frozenset({ANYONE, self.name, *(GROUP_PREFIX + g for g in self.groups)})

    def describe(self) -> str:
        groups = f" (groups: {', '.join(sorted(self.groups))})" if self.groups else ""
        return f"'{self.name}'{groups}"


@attrs.frozen(kw_only=True)
class TeamRoles:
    """Who holds each role in one team (each role's holders also hold the lower ones)."""

    editors: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    operators: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    viewers: frozenset[str] = attrs.field(default=frozenset(), converter=_names)

    def role(self, principals: frozenset[str]) -> Role | None:
        """The highest role ``principals`` hold here, if any."""
        if self.editors & principals:
            return Role.EDITOR
        if self.operators & principals:
            return Role.OPERATOR
        if self.viewers & principals:
            return Role.VIEWER
        return None


@attrs.frozen(kw_only=True)
class Policy:
    """Admins, each listed team's roles, and the roles of every other team."""

    admins: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    teams: Mapping[str, TeamRoles] = attrs.field(factory=dict)
    default: TeamRoles = TeamRoles()
    enforced: bool = True
    """``False``: no policy was given, and every authenticated identity may do everything."""

    @classmethod
    def open(cls) -> Policy:
        """Today's behaviour without ``--policy``: everything allowed (the source rule still holds)."""
        return cls(enforced=False)

    def roles_of(self, team: str | None) -> TeamRoles:
        """The roles of ``team`` (the default ones for a team not listed, or no team)."""
        if team is None:
            return self.default
        return self.teams.get(team, self.default)


@attrs.frozen(kw_only=True)
class Target:
    """The workflow an operation is about, as far as access is concerned."""

    team: str | None
    """Its active spec's ``team:`` (for a registration: the new spec's)."""
    source: SourceType | None = None
    """Its active spec's source; ``None`` when there is none yet (a new registration)."""
    dataset: str | None = None
    """Its name, for messages."""


@attrs.frozen(kw_only=True)
class Decision:
    """The outcome of ``decide``: allowed, or why not."""

    allowed: bool
    team: str | None
    needed: Role | None = None
    """The role it needs; ``None`` when no role would do (the source rule refused it)."""
    source_rule: bool = False
    """Refused because a CODE workflow's spec changes only through Git."""


def role_of(policy: Policy, identity: Identity, team: str | None) -> Role | None:
    """The role ``identity`` holds in ``team`` (admins: editor of every team)."""
    principals = identity.principals()
    if not policy.enforced or policy.admins & principals:
        return Role.EDITOR
    return policy.roles_of(team).role(principals)


def decide(policy: Policy, identity: Identity, verb: Verb, target: Target) -> Decision:
    """Whether ``identity`` may ``verb`` the workflow ``target``: its role in the workflow's team
    grants it (admins: always) and the source rule holds (a CODE spec is never replaced or deleted)."""
    if target.source is SourceType.CODE and verb in SPEC_CHANGES:
        return Decision(allowed=False, team=target.team, source_rule=True)
    role = role_of(policy, identity, target.team)
    if role is not None and role >= verb.role:
        return Decision(allowed=True, team=target.team)
    return Decision(allowed=False, team=target.team, needed=verb.role)


def decide_all(
    policy: Policy, identity: Identity, verb: Verb, targets: Iterable[Target]
) -> tuple[Decision, Target | None]:
    """The first refusal among ``targets`` (with its target), else an allowance."""
    last = Decision(allowed=True, team=None)
    for target in targets:
        decision = decide(policy, identity, verb, target)
        if not decision.allowed:
            return decision, target
        last = decision
    return last, None
