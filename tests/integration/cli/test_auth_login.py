"""``dli auth login | status | logout`` against a real OIDC provider on loopback and a real Basecamp:
the authorization-code flow with PKCE through the loopback redirect (the provider's sign-in form
driven with httpx, as a browser would), the tokens kept with mode 0600 and sent by later commands,
refreshed when expired; ``DLI_API_TOKEN`` still wins; no token is ever printed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from tests.support.basecamp import BasecampProcess, start_basecamp
from tests.support.oidc import CLIENT_ID, OIDCProvider, running_provider
from tests.support.specs import make_document

SRC = str(Path(__file__).resolve().parents[3] / "src")


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with running_provider() as running:
        running.set_user("dee@example.com", groups=["de"])
        yield running


@pytest.fixture(scope="module")
def basecamp(provider: OIDCProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BasecampProcess]:
    root = tmp_path_factory.mktemp("login")
    FilesystemSpecStore(root / "store").create(SourceType.MANUAL, make_document("de.sales.daily", team="@de"))
    server = start_basecamp(
        root / "server",
        store_url=(root / "store").as_uri(),
        extra_args=["--oidc-issuer", provider.issuer, "--oidc-audience", CLIENT_ID],
    )
    yield server
    server.stop()


def _env(tmp_path: Path, provider: OIDCProvider, basecamp: BasecampProcess, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    env.update(
        PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        DLI_CONFIG=os.devnull,
        DLI_CREDENTIALS=str(tmp_path / "creds" / "credentials.json"),
        DLI_OIDC_ISSUER=provider.issuer,
        DLI_OIDC_CLIENT_ID=CLIENT_ID,
        DLI_SERVER_URL=basecamp.url,
        DLI_OIDC_CLIENT_SECRET="native-app",  # the mock authenticates every client at its token endpoint
        PYTHONWARNINGS="ignore",
        **extra,
    )
    return env


def _dli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dli", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _login(env: dict[str, str], user: str) -> tuple[int, str]:
    """``dli auth login --no-browser``; the printed URL is opened and approved as ``user`` (the browser's part)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dli", "auth", "login", "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    driven = threading.Event()

    def browser(url: str) -> None:
        with httpx.Client(timeout=10, follow_redirects=True) as client:
            form = client.get(url)
            assert form.status_code == 200 and "<form" in form.text  # the provider's sign-in page
            done = client.post(url, data={"sub": user})  # approve; redirected to dli's loopback callback
            assert done.status_code == 200 and "Signed in" in done.text
        driven.set()

    assert process.stderr is not None
    for line in process.stderr:
        seen.append(line)
        if line.startswith("http"):
            threading.Thread(target=browser, args=(line.strip(),), daemon=True).start()
            break
    _out, err = process.communicate(timeout=60)
    assert driven.wait(10)
    return process.returncode, "".join(seen) + err


def test_login_with_pkce_keeps_the_tokens_privately_and_later_commands_use_them(tmp_path, provider, basecamp):
    env = _env(tmp_path, provider, basecamp)
    code, err = _login(env, "dee@example.com")
    assert code == 0, err
    assert (
        "code_challenge_method=S256" in err
        and "code_challenge=" in err
        and "redirect_uri=http%3A%2F%2F127.0.0.1" in err
    )
    path = tmp_path / "creds" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = json.loads(path.read_text())
    assert kept["user"] == "dee@example.com" and kept["refresh_token"] and kept["groups"] == ["de"]
    for secret in (kept["id_token"], kept["refresh_token"]):
        assert secret not in err

    status = _dli(env, "auth", "status")
    assert status.returncode == 0 and "Signed in as dee@example.com (groups: de)" in status.stdout
    assert kept["id_token"] not in status.stdout + status.stderr

    paused = _dli(env, "workflow", "pause", "de.sales.daily")
    assert paused.returncode == 0, paused.stderr
    records = httpx.get(basecamp.url + "/api/v1/audit", headers={"Authorization": f"Bearer {basecamp.token}"}).json()
    assert (records["records"][0]["actor"], records["records"][0]["auth"]) == ("dee@example.com", "oidc")

    # Expired: the next command uses the refresh token. This provider answers a refresh without a new
    # ID token (OIDC Core 12.2 allows it) and with an opaque access token: dli asks to sign in again
    # (tests/unit/adapters/test_oidc_login.py covers an issuer that renews the ID token).
    kept["expires_at"] = 0
    path.write_text(json.dumps(kept))
    listed = _dli(env, "workflow", "list")
    assert listed.returncode != 0 and "renewed the sign-in without a new ID token" in listed.stderr
    assert "dli auth login" in listed.stderr and kept["refresh_token"] not in listed.stderr
    assert _login(env, "dee@example.com")[0] == 0

    # DLI_API_TOKEN wins over the sign-in.
    with_token = _env(tmp_path, provider, basecamp, DLI_API_TOKEN=basecamp.token)
    assert _dli(with_token, "workflow", "unpause", "de.sales.daily").returncode == 0
    records = httpx.get(basecamp.url + "/api/v1/audit", headers={"Authorization": f"Bearer {basecamp.token}"}).json()
    assert (records["records"][0]["actor"], records["records"][0]["auth"]) == (basecamp.user, "token")

    out = _dli(env, "auth", "logout")
    assert out.returncode == 0 and not path.exists()
    assert _dli(env, "auth", "status").returncode == 1
    refused = _dli(env, "workflow", "list")
    assert refused.returncode != 0 and "DLI-502" in refused.stderr


def test_a_refresh_the_issuer_refuses_asks_to_sign_in_again(tmp_path, provider, basecamp):
    env = _env(tmp_path, provider, basecamp)
    assert _login(env, "dee@example.com")[0] == 0
    path = tmp_path / "creds" / "credentials.json"
    kept = json.loads(path.read_text())
    kept.update(expires_at=0, refresh_token="not-a-refresh-token")
    path.write_text(json.dumps(kept))
    listed = _dli(env, "workflow", "list")
    assert listed.returncode != 0
    assert "DLI-502" in listed.stderr and "dli auth login" in listed.stderr and "Traceback" not in listed.stderr
