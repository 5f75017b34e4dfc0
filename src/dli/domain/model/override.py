"""ResolveOverride: which spec is active when a name exists in code/, manual/ or both.

Code wins; the manual spec is kept, reported as ``overridden``, and is active again once the code
spec is gone.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import attrs

from dli.domain.model.enums import SourceType

__all__ = ["Resolution", "Transition", "TransitionKind", "diff_resolutions", "resolve_override"]


@attrs.frozen
class Resolution:
    """The decision for one dataset name."""

    name: str
    """Dataset name."""
    active: SourceType
    """The source whose spec runs."""
    manual_overridden: bool
    """Whether a manual spec exists but is overridden by code (and is kept)."""

    @property
    def has_manual(self) -> bool:
        """Whether a manual spec exists."""
        return self.active is SourceType.MANUAL or self.manual_overridden


def resolve_override(*, code: Iterable[str], manual: Iterable[str]) -> dict[str, Resolution]:
    """Code wins; the manual spec is kept and reported as overridden; alone, each source is active."""
    code_set, manual_set = set(code), set(manual)
    return {
        name: Resolution(
            name=name,
            active=SourceType.CODE if name in code_set else SourceType.MANUAL,
            manual_overridden=name in code_set and name in manual_set,
        )
        for name in sorted(code_set | manual_set)
    }


class TransitionKind(str, enum.Enum):
    """A change in the resolution of one name between two checks."""

    APPEARED = "appeared"
    REMOVED = "removed"
    OVERRIDDEN = "manual_overridden_by_code"
    FALLBACK = "manual_active_again"
    SOURCE_CHANGED = "source_changed"


@attrs.frozen
class Transition:
    """What changed for one name."""

    name: str
    """Dataset name."""
    kind: TransitionKind
    """The change."""
    before: Resolution | None
    """Resolution at the previous check."""
    after: Resolution | None
    """Resolution now."""


def diff_resolutions(before: Mapping[str, Resolution], after: Mapping[str, Resolution]) -> list[Transition]:
    """The transitions from one resolution map to the next, sorted by name."""
    out: list[Transition] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            kind = TransitionKind.OVERRIDDEN if new and new.manual_overridden else TransitionKind.APPEARED
        elif new is None:
            kind = TransitionKind.REMOVED
        elif new.manual_overridden and not old.manual_overridden:
            kind = TransitionKind.OVERRIDDEN
        elif old.manual_overridden and new.active is SourceType.MANUAL:
            kind = TransitionKind.FALLBACK
        else:
            kind = TransitionKind.SOURCE_CHANGED
        out.append(Transition(name=name, kind=kind, before=old, after=new))
    return out
