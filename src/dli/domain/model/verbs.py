"""Roles and what operations do, as far as access is concerned (plain enums: every message names its verb,
and a command that builds one should not pay for the policy's classes)."""

from __future__ import annotations

import enum

__all__ = ["SPEC_CHANGES", "Role", "Verb"]


class Role(enum.IntEnum):
    """A role in a team; a higher one includes the lower ones."""

    VIEWER = 1
    OPERATOR = 2
    EDITOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Verb(str, enum.Enum):
    """What an operation does to a workflow, as far as access is concerned."""

    VIEW = "view"
    RUN = "run"
    BACKFILL = "backfill"
    STOP = "stop"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    REGISTER = "register"
    UNREGISTER = "unregister"

    @property
    def role(self) -> Role:
        """The least role that grants it."""
        return _NEEDED[self]

    @property
    def writes(self) -> bool:
        """Whether it changes something (and is recorded in the audit trail)."""
        return self is not Verb.VIEW


_NEEDED = {
    Verb.VIEW: Role.VIEWER,
    Verb.RUN: Role.OPERATOR,
    Verb.BACKFILL: Role.OPERATOR,
    Verb.STOP: Role.OPERATOR,
    Verb.PAUSE: Role.OPERATOR,
    Verb.UNPAUSE: Role.OPERATOR,
    Verb.REGISTER: Role.EDITOR,
    Verb.UNREGISTER: Role.EDITOR,
}

SPEC_CHANGES = frozenset({Verb.REGISTER, Verb.UNREGISTER})
"""What a CODE workflow refuses whoever asks: its spec lives in Git."""
