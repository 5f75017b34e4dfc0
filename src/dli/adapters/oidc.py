"""Bearer JWTs signed by an OpenID Connect issuer (``basecamp serve --oidc-issuer``), verified with joserfc.

The issuer's discovery document names its JWKS; both are fetched once and cached. A token whose
``kid`` the cached keys do not have makes the verifier fetch the JWKS again (at most once per
``refresh_seconds``, so that a flood of made-up kids cannot turn into a flood of requests to the
issuer), which is how a key rotation is picked up.

A token is accepted only when its signature verifies with one of the issuer's keys under an
asymmetric algorithm (never ``none``, never an HMAC: a "HS256" token keyed with the issuer's public
key is refused before any key is tried), ``iss`` is the issuer, ``aud`` holds the audience, ``exp``
is in the future and ``nbf`` (if any) in the past, both with a clock-skew leeway of at most 60 s. The
user is the ``user_claim`` (default ``email``), the groups the ``groups_claim`` (default ``groups``).

Nothing about a token (nor any part of it) is logged or put in an error: a bad token is simply not an
identity (``None``), which the server answers 401 DLI-502.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from dli.adapters.http_json import get_json
from dli.domain.model.access import AuthMethod, Identity
from dli.domain.model.errors import ConfigurationError, ServerError

__all__ = ["ASYMMETRIC_ALGORITHMS", "MAX_LEEWAY_SECONDS", "OIDCVerifier"]

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_LEEWAY_SECONDS = 60
MAX_TOKEN_BYTES = 16 * 1024


def _segment(text: str) -> Any:
    padded = text + "=" * (-len(text) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def _cannot_read(url: str, why: str) -> ServerError:
    """A document of the issuer could not be fetched (``why``: the failure's class name)."""
    return ServerError(
        f"Cannot read {url} of the OIDC issuer ({why})", hints=("Check that the issuer is reachable from the server.",)
    )


class OIDCVerifier:
    """Turns a JWT of one issuer and audience into an ``Identity`` (``None`` for anything else)."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        user_claim: str = "email",
        groups_claim: str = "groups",
        leeway_seconds: int = MAX_LEEWAY_SECONDS,
        refresh_seconds: float = 30.0,
        timeout_seconds: float = 5.0,
        http: httpx.Client | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not issuer.startswith(("https://", "http://")):
            raise ConfigurationError(f"--oidc-issuer must be an http(s) URL, got {issuer[:100]!r}")
        if not audience:
            raise ConfigurationError("--oidc-audience must not be empty")
        if not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ConfigurationError(f"The clock-skew leeway must be between 0 and {MAX_LEEWAY_SECONDS} s")
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self._user_claim = user_claim
        self._groups_claim = groups_claim
        self._leeway = leeway_seconds
        self._refresh_seconds = refresh_seconds
        self._http = http or httpx.Client(timeout=timeout_seconds, follow_redirects=False)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._jwks_uri: str | None = None
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._fetched_at: float | None = None

    def __repr__(self) -> str:
        return f"OIDCVerifier(issuer={self.issuer!r}, audience={self.audience!r})"

    # -- the Authenticator protocol ----------------------------------------------------------------

    def identity(self, token: str) -> Identity | None:
        """Who ``token`` authenticates, or ``None`` when it is not a valid token of this issuer.

        Raises ``ServerError`` (DLI-503) only when the issuer cannot be asked for its keys."""
        header = self._header(token)
        if header is None:
            return None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ASYMMETRIC_ALGORITHMS:  # none, HS256 (with the public key as secret), junk
            return None
        keys = self._keys_for(kid if isinstance(kid, str) else None)
        if keys is None:
            return None
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ASYMMETRIC_ALGORITHMS))
            claims = decoded.claims
            jwt.JWTClaimsRegistry(
                leeway=self._leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError, TypeError, KeyError):
            return None
        return self._identity_of(claims)

    # -- internals -----------------------------------------------------------------------------------

    @staticmethod
    def _header(token: str) -> dict[str, Any] | None:
        if not token or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            return None
        try:
            header = _segment(token.split(".", 1)[0])
        except (ValueError, UnicodeError):
            return None
        return header if isinstance(header, dict) else None

    def _identity_of(self, claims: dict[str, Any]) -> Identity | None:
        name = claims.get(self._user_claim)
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            return None
        groups = claims.get(self._groups_claim, ())
        if isinstance(groups, str):
            groups = (groups,)
        if not isinstance(groups, (list, tuple)):
            groups = ()
        return Identity(
            name=name, groups=frozenset(g for g in groups if isinstance(g, str) and g), method=AuthMethod.OIDC
        )

    def _keys_for(self, kid: str | None) -> KeySet | None:
        """The issuer's keys, fetched again when they lack ``kid`` (rate-limited); ``None``: no such key."""
        with self._lock:
            if self._keys is None or (kid is not None and kid not in self._kids and self._may_refresh()):
                self._fetch()
            if kid is None:
                return self._keys if len(self._kids) <= 1 else None
            return self._keys if kid in self._kids else None

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or self._monotonic() - self._fetched_at >= self._refresh_seconds

    def _fetch(self) -> None:
        self._fetched_at = self._monotonic()
        if self._jwks_uri is None:
            discovery = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if discovery.get("issuer", "").rstrip("/") != self.issuer:
                raise ServerError(
                    f"The OIDC issuer's discovery document names another issuer than {self.issuer}",
                    hints=("Give --oidc-issuer exactly as the issuer names itself (its 'issuer').",),
                )
            uri = discovery.get("jwks_uri")
            if not isinstance(uri, str):
                raise ServerError(f"The OIDC issuer {self.issuer} publishes no jwks_uri")
            self._jwks_uri = uri
        data = self._get_json(self._jwks_uri)
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise ServerError(f"The OIDC issuer {self.issuer} publishes keys that cannot be read") from None
        self._keys = keys
        self._kids = frozenset(k.kid for k in keys.keys if k.kid)

    def _get_json(self, url: str) -> dict[str, Any]:
        data = get_json(self._http, url, unreadable=functools.partial(_cannot_read, url))
        if not isinstance(data, dict):
            raise ServerError(f"{url} of the OIDC issuer is not a JSON object")
        return data

    def close(self) -> None:
        self._http.close()
