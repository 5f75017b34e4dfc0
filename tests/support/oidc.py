"""A real OpenID Connect provider on a loopback port (PyPI ``oidc-provider-mock``), for tests.

It runs the authorization-code flow (its authorize page is a form; posting ``sub`` approves), issues
RS256 ID tokens (``aud``: the client id) and refresh tokens, and serves its discovery document and
JWKS. Users and their claims (e.g. ``groups``) are set with ``PUT /users/<sub>``.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import flask
import httpx
import werkzeug.serving
from joserfc.jwk import RSAKey

__all__ = ["OIDCProvider", "running_provider"]

CLIENT_ID = "dli-cli"


@attrs.define
class OIDCProvider:
    """A running provider."""

    issuer: str
    app: Any

    def set_user(self, sub: str, **claims: Any) -> None:
        """Create or replace a user and the claims its tokens carry."""
        claims.setdefault("email", sub)
        httpx.put(f"{self.issuer}/users/{urllib.parse.quote(sub)}", json=claims, timeout=10).raise_for_status()

    def tokens_for(self, sub: str, *, client_id: str = CLIENT_ID, scope: str = "openid email") -> dict[str, Any]:
        """The token response (``id_token``, ``refresh_token`` ...) of an approved authorization-code flow."""
        redirect = "http://127.0.0.1:9/callback"
        params = {
            "client_id": client_id,
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": scope,
            "state": "s",
        }
        with httpx.Client(timeout=10) as client:
            approved = client.post(f"{self.issuer}/oauth2/authorize", params=params, data={"sub": sub})
            assert approved.status_code == 302, approved.text[:500]
            code = urllib.parse.parse_qs(urllib.parse.urlsplit(approved.headers["location"]).query)["code"][0]
            answer = client.post(
                f"{self.issuer}/oauth2/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect,
                    "client_id": client_id,
                    "client_secret": "any",
                },
            )
            answer.raise_for_status()
            return answer.json()

    def id_token(self, sub: str, **kwargs: Any) -> str:
        return str(self.tokens_for(sub, **kwargs)["id_token"])

    def signing_key(self) -> RSAKey:
        """The provider's private signing key (to sign tokens the provider itself would not issue)."""
        with self.app.test_request_context("/"):
            self.app.preprocess_request()
            key = flask.g.oidc_provider_mock_storage.jwk.as_dict(is_private=True)
        return RSAKey.import_key(key)


@contextmanager
def running_provider(**options: Any) -> Iterator[OIDCProvider]:
    """Start the provider on ``127.0.0.1:<free port>`` in a thread; stop it at the end."""
    import oidc_provider_mock

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = oidc_provider_mock.app(**options)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield OIDCProvider(issuer=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
