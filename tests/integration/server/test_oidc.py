"""Sign-in with the company's identity provider: a real OIDC provider on a loopback port issues ID
tokens for several users and groups; a real ``basecamp serve --oidc-issuer ... --policy ...`` accepts
them (and the tokens file's), and refuses every bad token with 401 DLI-502, doing nothing and
logging no part of it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from dli.adapters.oidc import OIDCVerifier
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from tests.support.basecamp import BasecampProcess, start_basecamp
from tests.support.oidc import CLIENT_ID, OIDCProvider, running_provider
from tests.support.specs import make_document

POLICY = """
admins: ["group:platform"]
teams:
  "@de": {editors: ["group:de"], operators: ["bob@example.com"], viewers: ["*"]}
  "@mkt": {editors: ["group:mkt"], viewers: ["group:mkt"]}
default: {}
"""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with running_provider() as running:
        running.set_user("dee@example.com", groups=["de"])
        running.set_user("bob@example.com")
        running.set_user("mia@example.com", groups=["mkt"])
        yield running


@pytest.fixture(scope="module")
def server(provider: OIDCProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BasecampProcess, Path]]:
    root = tmp_path_factory.mktemp("oidc")
    store_dir = root / "store"
    store = FilesystemSpecStore(store_dir)
    store.create(SourceType.MANUAL, make_document("de.sales.daily", team="@de"))
    store.create(SourceType.MANUAL, make_document("mkt.leads.daily", team="@mkt"))
    (root / "policy.yaml").write_text(POLICY)
    process = start_basecamp(
        root / "server",
        store_url=store_dir.as_uri(),
        extra_args=[
            "--policy",
            str(root / "policy.yaml"),
            "--oidc-issuer",
            provider.issuer,
            "--oidc-audience",
            CLIENT_ID,
        ],
    )
    try:
        yield process, store_dir
    finally:
        process.stop()


def _call(server: BasecampProcess, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def test_id_tokens_of_several_users_and_groups_get_their_teams_roles(server, provider):
    process, _ = server
    dee, bob, mia = (provider.id_token(u) for u in ("dee@example.com", "bob@example.com", "mia@example.com"))
    assert _call(process, bob, "POST", "/api/v1/workflows/de.sales.daily/pause").status_code == 200  # operator by name
    assert _call(process, bob, "DELETE", "/api/v1/workflows/de.sales.daily").status_code == 403
    assert _call(process, mia, "POST", "/api/v1/workflows/de.sales.daily/unpause").status_code == 403  # viewer of @de
    assert _call(process, dee, "POST", "/api/v1/workflows/de.sales.daily/unpause").status_code == 200  # group:de
    listed = _call(process, dee, "GET", "/api/v1/workflows").json()
    assert [w["dataset_name"] for w in listed["workflows"]] == ["de.sales.daily"]
    records = _call(process, process.token, "GET", "/api/v1/audit").json()["records"]  # the tokens file still works
    # The tokens file's user is no admin: it views @de (viewers: *) and nothing of @mkt (default: none).
    assert [(r["actor"], r["auth"], r["action"], r["outcome"]) for r in records] == [
        ("dee@example.com", "oidc", "unpause", "ok"),
        ("mia@example.com", "oidc", "unpause", "denied"),
        ("bob@example.com", "oidc", "unregister", "denied"),
        ("bob@example.com", "oidc", "pause", "ok"),
    ]


def _bad_tokens(provider: OIDCProvider) -> dict[str, str]:
    key = provider.signing_key()
    now = int(time.time())
    good = {
        "iss": provider.issuer,
        "aud": CLIENT_ID,
        "sub": "dee@example.com",
        "email": "dee@example.com",
        "groups": ["platform"],
        "iat": now,
        "exp": now + 600,
    }
    header = {"alg": "RS256", "kid": key.kid}

    def signed(claims: dict, with_key: RSAKey = key, kid: str | None = key.kid) -> str:
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, with_key)

    public = json.dumps(key.as_dict(private=False)).encode()
    hs_input = _unsigned({"alg": "HS256", "kid": key.kid}, good)
    hs256 = f"{hs_input}.{_b64(hmac.new(public, hs_input.encode(), hashlib.sha256).digest())}"
    real = provider.id_token("dee@example.com")
    head, _payload, signature = real.split(".")
    tampered_claims = json.loads(base64.urlsafe_b64decode(_payload + "=="))
    tampered_claims["groups"] = ["platform"]
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-the-issuers"})
    return {
        "expired": signed({**good, "iat": now - 3600, "exp": now - 600}),
        "not_yet_valid": signed({**good, "nbf": now + 600}),
        "wrong_issuer": signed({**good, "iss": "http://127.0.0.1:1"}),
        "wrong_audience": signed({**good, "aud": "someone-else"}),
        "alg_none": _unsigned({"alg": "none", "kid": key.kid}, good) + ".",
        "hs256_keyed_with_the_public_key": hs256,
        "unknown_kid": signed(good, with_key=stranger, kid="not-the-issuers"),
        "payload_changed_after_signing": f"{head}.{_b64(json.dumps(tampered_claims).encode())}.{signature}",
        "garbage": "garbage-not-a-token",
        "garbage_three_parts": "aaaa.bbbb.cccc",
        "no_signature": _unsigned(header, good) + ".",
    }


BAD = [
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "alg_none",
    "hs256_keyed_with_the_public_key",
    "unknown_kid",
    "payload_changed_after_signing",
    "garbage",
    "garbage_three_parts",
    "no_signature",
]


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_token_is_refused_with_401_dli_502_nothing_is_done_and_it_is_never_logged(server, provider, kind):
    process, store_dir = server
    token = _bad_tokens(provider)[kind]
    before = sorted(p.name for p in (store_dir / ".dli" / "audit").glob("*")) if (store_dir / ".dli").exists() else []
    answer = _call(process, token, "DELETE", "/api/v1/workflows/mkt.leads.daily")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "DLI-502"
    assert FilesystemSpecStore(store_dir).read(SourceType.MANUAL, "mkt.leads.daily") is not None
    after = sorted(p.name for p in (store_dir / ".dli" / "audit").glob("*")) if (store_dir / ".dli").exists() else []
    assert after == before
    time.sleep(0.1)
    text = process.log_text()
    for part in token.split("."):
        if len(part) >= 8:
            assert part not in text
    assert all(part not in answer.text for part in token.split(".") if len(part) >= 8)


def test_the_good_token_the_bad_ones_are_made_from_is_accepted(provider):
    # The matrix is meaningful only if the same claims, properly signed, pass.
    key = provider.signing_key()
    now = int(time.time())
    token = jwt.encode(
        {"alg": "RS256", "kid": key.kid},
        {"iss": provider.issuer, "aud": CLIENT_ID, "email": "x@example.com", "iat": now, "exp": now + 60},
        key,
    )
    assert OIDCVerifier(provider.issuer, CLIENT_ID).identity(token).name == "x@example.com"


def test_a_small_clock_skew_is_tolerated_up_to_the_leeway(provider):
    key = provider.signing_key()
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": CLIENT_ID, "email": "x@example.com", "iat": now}
    verifier = OIDCVerifier(provider.issuer, CLIENT_ID, leeway_seconds=60)
    assert verifier.identity(jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, "exp": now - 30}, key)) is not None
    assert verifier.identity(jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, "exp": now - 90}, key)) is None
    with pytest.raises(Exception, match="leeway"):
        OIDCVerifier(provider.issuer, CLIENT_ID, leeway_seconds=61)


def test_keys_are_cached_and_fetched_again_on_an_unknown_kid_at_most_once_per_interval(provider):
    fetched: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: fetched.append(request.url.path)]})
    clock = [0.0]
    verifier = OIDCVerifier(provider.issuer, CLIENT_ID, http=http, refresh_seconds=30, monotonic=lambda: clock[0])
    good = provider.id_token("dee@example.com")
    assert verifier.identity(good) is not None and verifier.identity(good) is not None
    assert fetched == ["/.well-known/openid-configuration", "/jwks"]
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rotated-in"})
    claims = {"iss": provider.issuer, "aud": CLIENT_ID, "email": "x@example.com", "exp": int(time.time()) + 60}
    unknown = jwt.encode({"alg": "RS256", "kid": "rotated-in"}, claims, stranger)
    clock[0] = 31.0
    assert verifier.identity(unknown) is None
    assert verifier.identity(unknown) is None  # within the interval: no second fetch
    assert fetched == ["/.well-known/openid-configuration", "/jwks", "/jwks"]
