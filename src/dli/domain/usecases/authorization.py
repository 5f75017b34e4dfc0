"""The policy applied to messages: which workflow(s) a message is about, the refusal, the audit record.

The bus calls ``authorize`` before a handler runs: it resolves the team and source of the workflow the
message names (its active spec's; for a registration, the new spec's team and, when it replaces
another team's workflow, that one's too) and asks the pure ``decide``. A refusal is DLI-803 naming
the team, the role needed and the caller, raised before anything is written or triggered.

Handlers of listings take ``visible`` (a ``Visibility``), so that a list, the history, the deps and
the audit trail leave out, and do not count, what the caller may not view.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from dli.domain.model.access import Decision, Identity, Policy, Target, Verb, decide_all, role_of
from dli.domain.model.audit import AuditOutcome, AuditRecord
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, SpecInvalidError, WorkflowPermissionError
from dli.domain.model.permissions import Action, check_allowed
from dli.domain.model.spec import DatasetSpec

if TYPE_CHECKING:
    from dli.domain.usecases.message import Message
    from dli.ports.spec_store import SpecStore

__all__ = ["EVERYTHING", "Visibility", "audit_record", "authorize", "refusal", "targets_of", "visible_names"]


class Visibility:
    """Which teams' workflows one caller may view (every team without a policy)."""

    __slots__ = ("_cache", "identity", "policy")

    def __init__(self, policy: Policy, identity: Identity | None) -> None:
        self.policy = policy
        self.identity = identity
        self._cache: dict[str | None, bool] = {}

    @property
    def everything(self) -> bool:
        """Whether nothing is hidden (no policy, or an admin)."""
        return (
            self.identity is None or not self.policy.enforced or bool(self.policy.admins & self.identity.principals())
        )

    def __call__(self, team: str | None) -> bool:
        """Whether workflows of ``team`` may be viewed."""
        if self.identity is None:
            return True
        seen = self._cache.get(team)
        if seen is None:
            seen = self._cache[team] = role_of(self.policy, self.identity, team) is not None
        return seen


EVERYTHING = Visibility(Policy.open(), None)


def _active(store: SpecStore, name: str) -> tuple[str | None, SourceType] | None:
    """Team and source of the active spec of ``name``; ``None`` when there is none (or it cannot be read)."""
    for source in (SourceType.CODE, SourceType.MANUAL):
        try:
            versioned = store.read(source, name)
        except SpecInvalidError:
            continue  # a broken document: the handler says what is wrong with it
        if versioned is not None:
            return versioned.document.spec.team, source
    return None


def visible_names(store: SpecStore, visible: Visibility) -> set[str]:
    """The stored workflows whose active spec's team ``visible`` lets the caller view."""
    names = set(store.list_etags(SourceType.CODE)) | set(store.list_etags(SourceType.MANUAL))
    kept = set()
    for name in names:
        active = _active(store, name)
        if visible(active[0] if active else None):
            kept.add(name)
    return kept


def targets_of(message: Message[Any], store: SpecStore) -> list[Target]:
    """The workflows the policy decides on for ``message`` (none: it names no workflow, e.g. a listing)."""
    name = message.subject()
    if name is None:
        return []
    active = _active(store, name)
    spec = getattr(message, "spec", None)  # a register's (not imported: register.py reaches this module)
    if message.verb is Verb.REGISTER and isinstance(spec, DatasetSpec):
        team = spec.team
        targets = [Target(team=team, source=active[1] if active else None, dataset=name)]
        if active is not None and getattr(message, "force", False) is True and active[0] != team:
            targets.append(Target(team=active[0], source=active[1], dataset=name))
        return targets
    if active is None:  # no spec (any more): the default roles decide, e.g. for the runs of a deleted workflow
        return [Target(team=None, source=None, dataset=name)]
    return [Target(team=active[0], source=active[1], dataset=name)]


def refusal(decision: Decision, identity: Identity, verb: Verb, target: Target) -> WorkflowPermissionError:
    """DLI-803 for a refused decision: the team, the role needed, the caller."""
    name = target.dataset or "?"
    if decision.source_rule:
        try:
            check_allowed(
                Action.MODIFY if verb is Verb.REGISTER else Action.DELETE, source=SourceType.CODE, dataset_name=name
            )
        except WorkflowPermissionError as exc:
            return exc
    needed = decision.needed.label if decision.needed else "?"
    team = decision.team or "(no team)"
    return WorkflowPermissionError(
        f"Permission denied for workflow '{name}': {verb.value} needs the {needed} role in team {team}, "
        f"which {identity.describe()} does not have",
        hints=(
            f"Ask an admin of Basecamp's policy to make you (or a group of yours) {needed} of {team}.",
            "'dli workflow audit' shows who changed the workflow lately.",
        ),
        details={"dataset_name": name, "team": decision.team, "role_needed": needed, "caller": identity.name},
    )


def authorize(
    message: Message[Any], identity: Identity, policy: Policy, store: SpecStore
) -> tuple[list[Target], WorkflowPermissionError | None]:
    """The workflows ``message`` is about, and the refusal when ``identity`` may not do it."""
    if not policy.enforced:
        return targets_of(message, store) if message.verb.writes else [], None
    targets = targets_of(message, store)
    decision, refused = decide_all(policy, identity, message.verb, targets)
    if refused is None:
        return targets, None
    return targets, refusal(decision, identity, message.verb, refused)


def audit_record(
    message: Message[Any],
    identity: Identity,
    targets: list[Target],
    *,
    now: dt.datetime,
    outcome: AuditOutcome,
    error: DLIError | None = None,
    detail: str | None = None,
    request_id: str | None = None,
    replica: str | None = None,
) -> AuditRecord:
    """What the audit trail keeps of ``message``."""
    target = targets[0] if targets else None
    team = target.team if target else getattr(getattr(message, "spec", None), "team", None)
    if error is not None and outcome is AuditOutcome.DENIED and isinstance(error.details, dict):
        needed = error.details.get("role_needed")
        detail = detail or (f"needs {needed} of {error.details.get('team')}" if needed and needed != "?" else None)
    elif error is not None:
        detail = detail or error.message[:300]
    run_id = getattr(message, "run_id", None)
    if detail is None and isinstance(run_id, str):
        detail = f"run {run_id}"
    return AuditRecord(
        time=now,
        actor=identity.name,
        auth=identity.method.value,
        action=message.verb.value,
        outcome=outcome,
        dataset=message.subject() if _safe_subject(message) else None,
        team=team,
        # A new registration has no source yet: it writes a MANUAL one.
        source_type=(target.source if target else None)
        or (SourceType.MANUAL if message.verb is Verb.REGISTER else None),
        code=error.code.value if error is not None else None,
        detail=detail,
        request_id=request_id,
        replica=replica,
    )


def _safe_subject(message: Message[Any]) -> bool:
    try:
        message.subject()
    except DLIError:
        return False
    return True
