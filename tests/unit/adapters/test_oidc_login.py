"""The sign-in's refresh, against a fake issuer (httpx.MockTransport) that renews the ID token, as most
issuers do (the real provider of the integration tests does not): the refresh token is sent with the
client's credentials, the new tokens are kept (0600), and an old refresh token is kept when none is given."""

from __future__ import annotations

import base64
import json
import stat
import urllib.parse

import httpx
import pytest

from dli.adapters.oidc_login import LoginStore, OIDCLogin, StoredLogin
from dli.domain.model.errors import AuthenticationError

ISSUER = "https://idp.example.com"


def _jwt(claims: dict) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'RS256'})}.{enc(claims)}.sig"


def _issuer(answers: list[dict], seen: list[httpx.Request]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                },
            )
        return httpx.Response(200, json=answers.pop(0))

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_a_refresh_sends_the_refresh_token_and_keeps_the_renewed_id_token(tmp_path):
    seen: list[httpx.Request] = []
    new_id = _jwt({"email": "dee@example.com", "exp": 2_000_000_000, "groups": ["de"]})
    client = OIDCLogin(ISSUER, "dli", client_secret="native", http=_issuer([{"id_token": new_id}], seen))
    old = StoredLogin(
        issuer=ISSUER, client_id="dli", id_token="old", refresh_token="r1", expires_at=0, client_secret="native"
    )
    renewed = client.refresh(old)
    form = dict(urllib.parse.parse_qsl(seen[-1].content.decode()))
    assert form == {"grant_type": "refresh_token", "refresh_token": "r1", "client_id": "dli"}
    assert seen[-1].headers["authorization"] == "Basic " + base64.b64encode(b"dli:native").decode()
    assert renewed.id_token == new_id and renewed.refresh_token == "r1"  # none given: the old one is kept
    assert renewed.expires_at == 2_000_000_000 and renewed.user == "dee@example.com" and renewed.groups == ("de",)
    store = LoginStore(tmp_path / "dli" / "credentials.json")
    store.save(renewed)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600 and store.load() == renewed
    assert "r1" not in repr(renewed) and new_id not in repr(renewed)


def test_without_a_refresh_token_an_expired_sign_in_asks_to_sign_in_again():
    client = OIDCLogin(ISSUER, "dli", http=_issuer([], []))
    with pytest.raises(AuthenticationError, match="expired"):
        client.refresh(StoredLogin(issuer=ISSUER, client_id="dli", id_token="old", expires_at=0))
