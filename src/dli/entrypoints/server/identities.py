"""Who is calling: the authenticators the server accepts bearer tokens from (tokens file, OIDC issuer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dli.domain.model.access import Identity

__all__ = ["Authenticator", "FirstOf"]


class Authenticator(Protocol):
    """Turns a bearer token into an identity; ``None``: not a token it accepts (never raises for a bad
    token; raises ``DLIError`` only when it cannot decide, e.g. its tokens file is unreadable)."""

    def identity(self, token: str) -> Identity | None:
        """Who ``token`` authenticates, if anyone."""
        ...


class FirstOf:
    """Several authenticators at once (tokens file and OIDC): the first that accepts the token wins."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._all = tuple(authenticators)

    def identity(self, token: str) -> Identity | None:
        for authenticator in self._all:
            found = authenticator.identity(token)
            if found is not None:
                return found
        return None
