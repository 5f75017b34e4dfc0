"""``dli auth login``: the OAuth 2.0 authorization-code flow with PKCE and a loopback redirect (RFC 8252,
as ``gh`` and ``gcloud`` do), and the tokens it gets, kept in the user's config folder (mode 0600).

The browser (or the user, with ``--no-browser``) opens the issuer's authorize URL; the issuer
redirects to ``http://127.0.0.1:<free port>/callback`` where a one-request server takes the code (its
``state`` checked), which is exchanged, with the PKCE verifier, for an ID token (the bearer the CLI
sends: a JWT whose ``aud`` is dli's client id) and, when the issuer gives one, a refresh token, used
when the ID token has expired. No token is ever printed or logged.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import httpx

from dli.adapters.files import write_atomic
from dli.adapters.http_json import get_json
from dli.domain.model.access import Identity
from dli.domain.model.errors import AuthenticationError, ConfigurationError

__all__ = ["LoginStore", "OIDCLogin", "StoredLogin", "WebSignIn"]

_EXPIRY_MARGIN_SECONDS = 30


@attrs.frozen(kw_only=True)
class StoredLogin:
    """What ``dli auth login`` keeps."""

    issuer: str
    client_id: str
    id_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_at: float = 0.0
    """Epoch seconds after which the ID token is no longer accepted."""
    user: str | None = None
    """The user it names (email, else subject), for ``dli auth status``."""
    groups: tuple[str, ...] = ()
    client_secret: str | None = attrs.field(default=None, repr=False)
    """The "secret" some issuers give native apps (RFC 8252 8.5: not a secret; sent for refreshes too)."""

    def expired(self, now: float) -> bool:
        return now >= self.expires_at - _EXPIRY_MARGIN_SECONDS


def _claims(jwt_text: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: the CLI only reads its own token's expiry and user."""
    try:
        payload = jwt_text.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeError):
        return {}
    return data if isinstance(data, dict) else {}


class LoginStore:
    """The tokens file of ``dli auth login`` (JSON, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> StoredLogin | None:
        try:
            data = json.loads(self.path.read_bytes())
            return StoredLogin(
                issuer=str(data["issuer"]),
                client_id=str(data["client_id"]),
                id_token=str(data["id_token"]),
                refresh_token=data.get("refresh_token"),
                expires_at=float(data.get("expires_at", 0)),
                user=data.get("user"),
                groups=tuple(data.get("groups", ())),
                client_secret=data.get("client_secret"),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigurationError(
                f"Cannot read the sign-in file {self.path}", hints=("Sign in again: dli auth logout; dli auth login",)
            ) from None

    def save(self, login: StoredLogin) -> None:
        write_atomic(self.path, json.dumps(attrs.asdict(login), indent=2).encode(), mode=0o600)

    def delete(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


class _Callback(http.server.BaseHTTPRequestHandler):
    result: dict[str, str]
    done: threading.Event

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/callback":
            self.send_response(404)
            self.end_headers()
            return
        params = dict(urllib.parse.parse_qsl(url.query))
        type(self).result.update(params)
        ok = "code" in params
        body = (
            b"<html><body>Signed in to dli; you can close this window.</body></html>"
            if ok
            else b"<html><body>Sign-in failed; see the terminal.</body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        type(self).done.set()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the query holds the code: never written anywhere


def _cannot_discover(url: str, why: str) -> AuthenticationError:
    """The issuer's discovery document could not be fetched (``why``: the failure's class name)."""
    return AuthenticationError(
        f"Cannot read the issuer's discovery document {url} ({why})",
        hints=("Check --issuer (DLI_OIDC_ISSUER) and the network.",),
    )


class OIDCLogin:
    """The issuer's endpoints, and the flows against them."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        *,
        client_secret: str | None = None,
        http: httpx.Client | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self._http = http or httpx.Client(timeout=10.0)
        self._now = now
        self._endpoints: dict[str, Any] | None = None

    def _discover(self) -> dict[str, Any]:
        if self._endpoints is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            data = get_json(self._http, url, unreadable=functools.partial(_cannot_discover, url))
            if not isinstance(data, dict) or "authorization_endpoint" not in data or "token_endpoint" not in data:
                raise AuthenticationError(f"{url} is not an OpenID Connect discovery document")
            self._endpoints = data
        return self._endpoints

    def login(
        self,
        *,
        show_url: Callable[[str], None],
        open_browser: Callable[[str], bool] | None,
        timeout_seconds: float = 300.0,
    ) -> StoredLogin:
        """Run the authorization-code flow with PKCE through a loopback redirect; the tokens it got."""
        endpoints = self._discover()
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(24)
        handler: type[_Callback] = type("Callback", (_Callback,), {"result": {}, "done": threading.Event()})
        server = http.server.HTTPServer(("127.0.0.1", 0), handler)
        redirect_uri = f"http://127.0.0.1:{server.server_port}/callback"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            query = urllib.parse.urlencode(
                {
                    "response_type": "code",
                    "client_id": self.client_id,
                    "redirect_uri": redirect_uri,
                    "scope": "openid email profile offline_access",
                    "state": state,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                }
            )
            url = f"{endpoints['authorization_endpoint']}?{query}"
            show_url(url)
            if open_browser is not None:
                open_browser(url)
            if not handler.done.wait(timeout_seconds):
                raise AuthenticationError(
                    f"No answer from the browser within {timeout_seconds:g} s", hints=("Run 'dli auth login' again.",)
                )
        finally:
            server.shutdown()
            server.server_close()
        result = handler.result
        if result.get("state") != state:
            raise AuthenticationError("The sign-in answer does not belong to this login (state mismatch)")
        if "code" not in result:
            raise AuthenticationError(f"The issuer refused the sign-in: {result.get('error', 'no code')[:100]}")
        return self._token(
            {
                "grant_type": "authorization_code",
                "code": result["code"],
                "redirect_uri": redirect_uri,
                "client_id": self.client_id,
                "code_verifier": verifier,
            }
        )

    def refresh(self, login: StoredLogin) -> StoredLogin:
        """New tokens for ``login``'s refresh token (DLI-502 when there is none, or it is refused)."""
        if not login.refresh_token:
            raise AuthenticationError("The sign-in has expired", hints=("Sign in again: dli auth login",))
        refreshed = self._token(
            {"grant_type": "refresh_token", "refresh_token": login.refresh_token, "client_id": self.client_id}
        )
        if refreshed.refresh_token is None:  # the issuer kept the old one valid
            refreshed = attrs.evolve(refreshed, refresh_token=login.refresh_token)
        return refreshed

    def _token(self, form: dict[str, str]) -> StoredLogin:
        endpoint = self._discover()["token_endpoint"]
        # client_secret_basic, the method every token endpoint supports (RFC 6749 2.3.1); a public client sends none.
        auth = httpx.BasicAuth(self.client_id, self.client_secret) if self.client_secret else None
        try:
            response = self._http.post(endpoint, data=form, auth=auth) if auth else self._http.post(endpoint, data=form)
        except httpx.HTTPError as exc:
            raise AuthenticationError(f"Cannot reach the issuer's token endpoint ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise AuthenticationError(
                f"The issuer refused the sign-in (HTTP {response.status_code})",
                hints=("Sign in again: dli auth login",),
            )
        data = response.json()
        id_token = data.get("id_token")
        if not isinstance(id_token, str):
            # OIDC Core 12.2: a refresh may answer without an ID token; a JWT access token then serves.
            access = data.get("access_token")
            if isinstance(access, str) and access.count(".") == 2 and _claims(access):
                id_token = access
            elif form.get("grant_type") == "refresh_token":
                raise AuthenticationError(
                    "The issuer renewed the sign-in without a new ID token",
                    hints=("Sign in again: dli auth login",),
                )
            else:
                raise AuthenticationError(
                    "The issuer gave no ID token", hints=("Is 'openid' among the client's scopes?",)
                )
        claims = _claims(id_token)
        expires = claims.get("exp")
        groups = claims.get("groups", ())
        return StoredLogin(
            issuer=self.issuer,
            client_id=self.client_id,
            id_token=id_token,
            refresh_token=data.get("refresh_token"),
            expires_at=float(expires)
            if isinstance(expires, (int, float))
            else self._now() + float(data.get("expires_in", 300)),
            user=claims.get("email") or claims.get("sub"),
            groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
            client_secret=self.client_secret,
        )

    def close(self) -> None:
        self._http.close()


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class WebSignIn:
    """The web console's sign-in at the issuer: authorization code with PKCE (S256), back to the server.

    The browser is sent to the issuer with a fresh ``state`` and code challenge; the server keeps
    the state and the verifier in a signed short-lived cookie (the console's) and, on the callback,
    exchanges the code with the verifier and verifies the ID token with the server's own bearer-JWT
    verifier (``verify``), so a console session names exactly whom the API would accept.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        *,
        verify: Callable[[str], Identity | None],
        client_secret: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._login = OIDCLogin(issuer, client_id, client_secret=client_secret, http=http)
        self._verify = verify

    def start(self, redirect_uri: str) -> tuple[str, dict[str, str]]:
        """The issuer's authorization URL, and what the callback needs (state, verifier, redirect URI)."""
        endpoints = self._login._discover()
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(24)
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self._login.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid email profile",
                "state": state,
                "code_challenge": _challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoints['authorization_endpoint']}?{query}", {
            "state": state,
            "verifier": verifier,
            "redirect_uri": redirect_uri,
        }

    def finish(self, code: str, kept: dict[str, str]) -> Identity:
        """The identity of the ID token the code is exchanged for (DLI-502 when anything is wrong)."""
        if not code or not kept.get("verifier") or not kept.get("redirect_uri"):
            raise AuthenticationError("The issuer's answer has no authorization code", hints=("Sign in again.",))
        login = self._login._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": kept["redirect_uri"],
                "client_id": self._login.client_id,
                "code_verifier": kept["verifier"],
            }
        )
        identity = self._verify(login.id_token)
        if identity is None:
            raise AuthenticationError(
                "The issuer's ID token is not one this server accepts",
                hints=("Its audience must be the server's --oidc-audience; sign in again.",),
            )
        return identity
