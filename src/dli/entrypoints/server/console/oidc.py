"""What the console asks of an OpenID Connect issuer for a browser's sign-in (authorization code + PKCE).

The composition root builds it (``dli.adapters.oidc_login.WebSignIn``) when the server has an issuer; the
console only redirects to ``start``'s URL and hands the callback's code to ``finish``.
"""

from __future__ import annotations

from typing import Protocol

from dli.domain.model.access import Identity

__all__ = ["ConsoleOIDC"]


class ConsoleOIDC(Protocol):
    """A browser's sign-in at the issuer."""

    def start(self, redirect_uri: str) -> tuple[str, dict[str, str]]:
        """The issuer's authorization URL, and what the callback needs (state, PKCE verifier, redirect URI)."""
        ...

    def finish(self, code: str, kept: dict[str, str]) -> Identity:
        """The signed-in identity: the code exchanged, the ID token verified (DLI-502 otherwise)."""
        ...
