"""The console's session cookie: who signed in, until when, and the CSRF token of their forms.

The cookie is signed (HMAC-SHA256 with the server's session secret), not encrypted: it holds the
identity the sign-in established (user name, groups, how it authenticated), an expiry and a random
CSRF token, never the token or JWT the user signed in with. A cookie whose signature, expiry or
shape is wrong is no session at all. Replicas and ``--workers`` share sessions when they share
the secret (``BASECAMP_SESSION_SECRET``); without one each process draws its own, and a restart
signs everybody out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable

import attrs

from dli.domain.model.access import AuthMethod, Identity

__all__ = [
    "COOKIE",
    "PRE_COOKIE",
    "SESSION_SECONDS",
    "Session",
    "SessionCodec",
    "same_token",
]

COOKIE = "dli_console"
"""The session cookie's name."""
PRE_COOKIE = "dli_console_pre"
"""A signed-out browser's CSRF token (the sign-in form's), and the OIDC flow's state and verifier."""
SESSION_SECONDS = 8 * 3600
"""How long a session lasts: a working day (a revoked token's session ends at the latest then)."""


@attrs.frozen(kw_only=True)
class Session:
    """A signed-in browser."""

    identity: Identity
    expires: int
    """Unix time after which the cookie is refused."""
    csrf: str
    """The token every form of this session posts back."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def same_token(given: str | None, expected: str) -> bool:
    """Whether a form's CSRF token is the expected one (constant time)."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


class SessionCodec:
    """Signs and reads the console's cookies with one secret."""

    def __init__(self, secret: bytes, *, now: Callable[[], float] | None = None) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must have at least 16 bytes")
        self._key = hashlib.sha256(b"dli-console-session\0" + secret).digest()
        self._now: Callable[[], float] = now or time.time

    def _sign(self, payload: dict[str, object]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        mac = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def _read(self, value: str | None) -> dict[str, object] | None:
        if not value or value.count(".") != 1 or len(value) > 4096:
            return None
        body, mac = value.split(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        expires = payload.get("exp")
        if not isinstance(expires, int) or expires <= self._now():
            return None
        return payload

    def new_session(self, identity: Identity, seconds: int = SESSION_SECONDS) -> tuple[Session, str]:
        """A session of ``identity`` and its cookie value."""
        session = Session(
            identity=identity,
            expires=int(self._now()) + seconds,
            csrf=secrets.token_urlsafe(24),
        )
        value = self._sign(
            {
                "u": identity.name,
                "g": sorted(identity.groups),
                "m": identity.method.value,
                "exp": session.expires,
                "csrf": session.csrf,
            }
        )
        return session, value

    def session(self, value: str | None) -> Session | None:
        """The session a cookie value carries, or ``None`` (absent, forged, expired, malformed)."""
        payload = self._read(value)
        if payload is None:
            return None
        name, groups, method, csrf = payload.get("u"), payload.get("g"), payload.get("m"), payload.get("csrf")
        if not isinstance(name, str) or not name or not isinstance(csrf, str) or not isinstance(groups, list):
            return None
        if not all(isinstance(g, str) for g in groups):
            return None
        try:
            how = AuthMethod(method)
        except ValueError:
            return None
        identity = Identity(name=name, groups=frozenset(groups), method=how)
        expires = payload["exp"]
        assert isinstance(expires, int)  # checked by _read
        return Session(identity=identity, expires=expires, csrf=csrf)

    def pre(self, values: dict[str, str], seconds: int = 600) -> str:
        """A signed-out browser's short-lived cookie (CSRF token of the sign-in form, OIDC state)."""
        return self._sign({**values, "exp": int(self._now()) + seconds})

    def read_pre(self, value: str | None) -> dict[str, str]:
        """What ``pre`` signed, or nothing."""
        payload = self._read(value)
        if payload is None:
            return {}
        return {k: v for k, v in payload.items() if isinstance(v, str)}
