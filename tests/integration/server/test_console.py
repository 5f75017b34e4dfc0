"""The web console at /ui/, in process (Litestar's test client): pages, sign-in, cookies, CSRF, permissions.

The browser itself (JavaScript, accessibility, a real ``basecamp serve``) is tested in
``test_console_browser.py``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from litestar.testing import TestClient

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import Parameter, Statement
from dli.entrypoints.bootstrap import build_server, read_policy_file
from dli.entrypoints.server.app import create_app
from dli.entrypoints.server.console.session import COOKIE
from tests.support.specs import make_document

POLICY = """
admins: ["group:platform"]
teams:
  "@de":
    operators: ["bob"]
    viewers: ["*"]
default: {viewers: ["*"]}
"""

BASE = "https://basecamp.example"


@attrs.define
class Console:
    client: TestClient[Any]
    tokens: dict[str, str]
    settings: Any

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str | None = "bob", **kwargs: Any) -> Any:
        headers = self.as_(who) if who else {}
        return self.client.get(path, headers=headers, follow_redirects=False, **kwargs)

    def sign_in(self, who: str) -> str:
        """Sign in through the form; the CSRF token of the session's pages."""
        page = self.client.get("/ui/signin")
        csrf = _csrf(page.text)
        done = self.client.post(
            "/ui/signin",
            data={"csrf": csrf, "token": self.tokens[who], "next": "/ui/workflows"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        return _csrf(self.client.get("/ui/workflows").text)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    store = FilesystemSpecStore(tmp_path / "store")
    store.create(
        SourceType.MANUAL,
        make_document(
            "de.sales.daily",
            team="@de",
            timezone="Europe/Berlin",
            description="Daily sales",
            query_statement="SELECT * FROM raw.sales WHERE day = '{{ day }}'",
            pre_statements=(Statement(sql="DELETE FROM sales WHERE day = '{{ day }}'", name="clear"),),
            parameters=(Parameter(name="day", type="date", required=False), Parameter(name="limit", type="integer")),
        ),
    )
    store.create(SourceType.MANUAL, make_document("de.sales.weekly", team="@de", depends_on=("de.sales.daily",)))
    store.create(SourceType.CODE, make_document("mkt.leads.daily", source=SourceType.CODE, team="@mkt"))
    for index in range(12):
        store.create(SourceType.MANUAL, make_document(f"zz.bulk.n{index:02d}", team="@de"))
    (tmp_path / "policy.yaml").write_text(POLICY)
    settings = build_server(
        store=FilesystemSpecStore(tmp_path / "store"),
        orchestrator_url="memory://?queue_seconds=0&run_seconds=0.2",
        tokens_file=tmp_path / "tokens.json",
        check_interval_seconds=3600,
        policy=read_policy_file(tmp_path / "policy.yaml"),
    )
    tokens = {"bob": settings.tokens.add("bob"), "eve": settings.tokens.add("eve")}
    settings.store.check()
    with TestClient(create_app(settings), base_url=BASE, raise_server_exceptions=False) as client:
        yield Console(client=client, tokens=tokens, settings=settings)


# -- sign-in ------------------------------------------------------------------------------------


def test_a_browser_without_a_session_is_sent_to_the_sign_in_page_with_where_it_was_going(console):
    answer = console.get("/ui/workflows/de.sales.daily?x=1", who=None)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/signin?next=%2Fui%2Fworkflows%2Fde.sales.daily%3Fx%3D1"


def test_the_api_still_wants_a_bearer_token_while_the_console_is_open(console):
    assert console.client.get("/api/v1/workflows").status_code == 401
    assert console.client.get("/ui/signin").status_code == 200


def test_a_bearer_header_signs_a_console_request_in(console):
    page = console.get("/ui/workflows", who="eve")
    assert page.status_code == 200
    assert 'id="whoami">eve<' in page.text


def test_signing_in_with_a_token_sets_a_secure_httponly_samesite_cookie_that_does_not_hold_the_token(console):
    page = console.client.get("/ui/signin")
    csrf = _csrf(page.text)
    done = console.client.post(
        "/ui/signin",
        data={"csrf": csrf, "token": console.tokens["bob"], "next": "/ui/workflows/de.sales.daily"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/ui/workflows/de.sales.daily"
    cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE + "="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert console.tokens["bob"] not in cookie
    secret_part = console.tokens["bob"].rsplit("_", 1)[-1]
    assert secret_part not in cookie
    after = console.client.get("/ui/workflows")
    assert 'id="whoami">bob<' in after.text
    assert console.tokens["bob"] not in after.text


def test_a_token_the_server_does_not_accept_shows_the_sign_in_page_again_with_dli_502(console):
    csrf = _csrf(console.client.get("/ui/signin").text)
    refused = console.client.post("/ui/signin", data={"csrf": csrf, "token": "bc_nope_nope"}, follow_redirects=False)
    assert refused.status_code == 401
    assert "DLI-502" in refused.text
    assert "bc_nope_nope" not in refused.text
    assert COOKIE + "=" not in refused.headers.get("set-cookie", "").split(";")[
        0
    ] or "Max-Age=0" in refused.headers.get("set-cookie", "")


def test_a_sign_in_post_without_the_forms_csrf_token_is_refused(console):
    console.client.get("/ui/signin")
    refused = console.client.post("/ui/signin", data={"csrf": "forged", "token": console.tokens["bob"]})
    assert refused.status_code == 403
    assert console.client.get("/ui/workflows", follow_redirects=False).status_code == 303  # still signed out


def test_a_forged_or_altered_session_cookie_is_no_session(console):
    console.sign_in("eve")
    value = console.client.cookies.get(COOKIE)
    body, mac = value.split(".")
    console.client.cookies.set(
        COOKIE, body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac, domain="basecamp.example", path="/ui"
    )
    assert console.client.get("/ui/workflows", follow_redirects=False).status_code == 303


def test_after_sign_out_the_cookie_is_gone_and_pages_ask_to_sign_in(console):
    csrf = console.sign_in("bob")
    out = console.client.post("/ui/signout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert console.client.get("/ui/workflows", follow_redirects=False).status_code == 303


# -- pages --------------------------------------------------------------------------------------


def _names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/ui/workflows/([^"]+)">', html)


def test_the_list_filters_by_source_status_team_and_name_like_dli_workflow_list(console):
    everything = _names(console.get("/ui/workflows").text)
    assert "de.sales.daily" in everything and "mkt.leads.daily" in everything
    assert _names(console.get("/ui/workflows?source=code").text) == ["mkt.leads.daily"]
    assert _names(console.get("/ui/workflows?q=sales").text) == ["de.sales.daily", "de.sales.weekly"]
    assert _names(console.get("/ui/workflows?status=paused").text) == []
    assert _names(console.get("/ui/workflows?team=@mkt").text) == ["mkt.leads.daily"]
    de = console.get("/ui/workflows?team=%40de&q=sales")
    assert _names(de.text) == ["de.sales.daily", "de.sales.weekly"]
    assert 'id="team" name="team" type="search" value="@de"' in de.text  # the filter is kept in the form


def test_the_list_pages_with_the_apis_cursor(console):
    first = console.get("/ui/workflows?limit=10")
    names = _names(first.text)
    assert len(names) == 10
    following = re.search(r'href="/ui/workflows(\?[^"]+)" rel="next"', first.text)
    assert following
    second = _names(console.get("/ui/workflows" + following.group(1).replace("&amp;", "&")).text)
    assert second and not set(second) & set(names)
    assert sorted(names + second) == names + second


def test_the_workflow_page_shows_spec_sql_parameters_schedule_in_its_timezone_and_lineage(console):
    page = console.get("/ui/workflows/de.sales.daily").text
    assert "Daily sales" in page
    assert "SELECT * FROM raw.sales WHERE day = &#39;{{ day }}&#39;" in page  # escaped, not evaluated
    assert "DELETE FROM sales" in page and "Before: clear" in page
    assert "<code>day</code>" in page and "<code>limit</code>" in page
    assert "In Europe/Berlin" in page and "CET" in page
    assert 'href="/ui/workflows/de.sales.weekly"' in page  # its downstream, in the lineage graph


def test_bad_input_is_a_page_with_its_dli_code_not_a_traceback(console):
    bad = console.get("/ui/workflows?status=sleeping")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")
    assert 'id="error-code">DLI-204<' in bad.text and "Traceback" not in bad.text
    missing = console.get("/ui/workflows/no.such.thing")
    assert missing.status_code == 404
    assert 'id="error-code">DLI-800<' in missing.text
    nothing = console.get("/ui/nothing/here")
    assert nothing.status_code == 404 and "DLI-" in nothing.text


# -- actions ------------------------------------------------------------------------------------


def test_the_run_form_is_built_from_the_declared_parameters(console):
    form = console.get("/ui/workflows/de.sales.daily/run").text
    assert 'name="param.day" type="date"' in form
    assert 'name="param.limit" type="number" step="1"' in form
    assert 'name="csrf"' in form


def test_a_confirmed_run_starts_a_run_with_the_parameter_and_its_page_shows_it_complete(console):
    csrf = console.sign_in("bob")
    started = console.client.post(
        "/ui/workflows/de.sales.daily/run",
        data={"csrf": csrf, "param.day": "2026-12-01", "param.limit": ""},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    run_page = started.headers["location"]
    assert run_page.startswith("/ui/runs/de.sales.daily@")
    deadline = time.monotonic() + 10
    while "COMPLETED" not in (page := console.client.get(run_page).text):
        assert time.monotonic() < deadline, page
        time.sleep(0.1)
    assert "day=2026-12-01" in page
    assert "limit=" not in page  # an empty field is left to the spec's default


def _last_run(html: str, name: str) -> str:
    row = re.search(rf'<a href="/ui/workflows/{re.escape(name)}">.*?</tr>', html, re.S)
    assert row, html
    cell = re.search(r'class="last-run">(?:<span[^>]*>)?([^<]*)<', row.group(0))
    assert cell, row.group(0)
    return cell.group(1)


def test_each_list_row_shows_its_last_run_s_state(console):
    assert _last_run(console.get("/ui/workflows?q=sales").text, "de.sales.weekly") == "-"
    started = console.client.post(
        "/api/v1/workflows/de.sales.weekly/run", json={"parameters": {}}, headers=console.as_("bob")
    )
    assert started.status_code in (200, 201), started.text
    listed = _last_run(console.get("/ui/workflows?q=sales").text, "de.sales.weekly")
    assert listed in ("PENDING", "RUNNING", "COMPLETED")  # a trigger forgets the cached state at once
    deadline = time.monotonic() + 15  # the run ends in 0.2 s; a list may show state a few seconds old
    while (listed := _last_run(console.get("/ui/workflows?q=sales").text, "de.sales.weekly")) != "COMPLETED":
        assert time.monotonic() < deadline, listed
        time.sleep(0.2)
    assert _last_run(console.get("/ui/workflows?q=sales").text, "de.sales.daily") == "-"
    api = console.client.get("/api/v1/workflows", params={"dataset_filter": "weekly"}, headers=console.as_("bob"))
    assert api.json()["workflows"][0]["last_run_status"] == "COMPLETED"


def test_a_post_without_the_sessions_csrf_token_is_refused_and_nothing_runs(console):
    console.sign_in("bob")
    refused = console.client.post("/ui/workflows/de.sales.daily/run", data={"csrf": "guess"})
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    history = console.client.get(
        "/api/v1/history", params={"dataset_name": "de.sales.daily"}, headers=console.as_("bob")
    ).json()
    assert history["runs"] == []


def test_pause_then_unpause_from_the_console(console):
    csrf = console.sign_in("bob")
    paused = console.client.post("/ui/workflows/de.sales.daily/pause", data={"csrf": csrf}, follow_redirects=True)
    assert 'id="wf-status">paused<' in paused.text
    assert "/ui/workflows/de.sales.daily/unpause" in paused.text
    resumed = console.client.post("/ui/workflows/de.sales.daily/unpause", data={"csrf": csrf}, follow_redirects=True)
    assert 'id="wf-status">active<' in resumed.text


def test_a_viewer_is_not_offered_actions_and_posting_one_anyway_is_refused_by_the_policy(console):
    page = console.get("/ui/workflows/de.sales.daily", who="eve").text
    for action in ("run", "backfill", "pause"):
        assert f"/ui/workflows/de.sales.daily/{action}" not in page
    assert 'id="no-actions"' in page
    assert console.get("/ui/workflows/de.sales.daily/run", who="eve").status_code == 403
    forced = console.client.post("/ui/workflows/de.sales.daily/run", headers=console.as_("eve"), data={})
    assert forced.status_code == 403
    assert "DLI-803" in forced.text


def test_an_operator_is_offered_run_backfill_and_pause(console):
    page = console.get("/ui/workflows/de.sales.daily", who="bob").text
    for action in ("run", "backfill", "pause"):
        assert f"/ui/workflows/de.sales.daily/{action}" in page


def test_a_backfill_runs_each_date_of_the_range(console):
    csrf = console.sign_in("bob")
    done = console.client.post(
        "/ui/workflows/de.sales.daily/backfill",
        data={"csrf": csrf, "start_date": "2026-11-01", "end_date": "2026-11-03"},
    )
    assert done.status_code == 200, done.text
    assert "2026-11-01, 2026-11-02, 2026-11-03" in done.text


def test_pages_carry_a_content_security_policy_and_are_not_cached(console):
    page = console.get("/ui/workflows")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"


# -- OIDC sign-in -------------------------------------------------------------------------------


def test_a_browser_signs_in_at_the_oidc_issuer_with_pkce_and_gets_a_session_of_that_user(tmp_path, monkeypatch):
    import urllib.parse

    import httpx

    from tests.support.oidc import CLIENT_ID, running_provider

    monkeypatch.setenv("BASECAMP_OIDC_CLIENT_SECRET", "any")  # the server is a confidential client of the issuer
    with running_provider() as provider:
        provider.set_user("dee@example.com", groups=["de"])
        settings = build_server(
            tokens_file=tmp_path / "tokens.json",
            check_interval_seconds=3600,
            oidc_issuer=provider.issuer,
            oidc_audience=CLIENT_ID,
        )
        with TestClient(create_app(settings), base_url=BASE, raise_server_exceptions=False) as client:
            assert 'id="oidc-signin"' in client.get("/ui/signin").text
            start = client.get("/ui/oidc/start?next=/ui/workflows?q=de", follow_redirects=False)
            assert start.status_code == 303
            authorize = urllib.parse.urlsplit(start.headers["location"])
            query = urllib.parse.parse_qs(authorize.query)
            assert query["code_challenge_method"] == ["S256"] and query["client_id"] == [CLIENT_ID]
            assert query["redirect_uri"] == [BASE + "/ui/oidc/callback"]
            approved = httpx.post(start.headers["location"], data={"sub": "dee@example.com"}, timeout=10)
            assert approved.status_code == 302
            callback = urllib.parse.urlsplit(approved.headers["location"])
            # A callback carrying another state (a forged link) is refused and signs nobody in.
            forged = client.get("/ui/oidc/callback?code=x&state=forged", follow_redirects=False)
            assert forged.status_code == 401 and 'id="error-code">DLI-502<' in forged.text
            done = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
            assert done.status_code == 303, done.text
            assert done.headers["location"] == "/ui/workflows?q=de"
            page = client.get("/ui/workflows")
            assert 'id="whoami">dee@example.com<' in page.text
            body = (client.cookies.get(COOKIE) or "").split(".")[0]
            kept = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            assert set(kept) == {"u", "g", "m", "exp", "csrf"}  # who, not the ID token
            assert kept["u"] == "dee@example.com" and kept["g"] == ["de"] and kept["m"] == "oidc"


def test_a_session_secret_too_short_to_sign_cookies_stops_the_server_with_dli_001(tmp_path, monkeypatch):
    from dli.domain.model.errors import ConfigurationError

    monkeypatch.setenv("BASECAMP_SESSION_SECRET", "short")
    settings = build_server(tokens_file=tmp_path / "tokens.json", check_interval_seconds=3600)
    with pytest.raises(ConfigurationError, match="BASECAMP_SESSION_SECRET"):
        create_app(settings)


def test_replicas_sharing_the_session_secret_share_sessions(tmp_path, monkeypatch):
    monkeypatch.setenv("BASECAMP_SESSION_SECRET", "0123456789abcdef0123456789abcdef")
    tokens_file = tmp_path / "tokens.json"
    first = build_server(tokens_file=tokens_file, check_interval_seconds=3600)
    second = build_server(tokens_file=tokens_file, check_interval_seconds=3600)
    token = first.tokens.add("ann")
    with TestClient(create_app(first), base_url=BASE) as a, TestClient(create_app(second), base_url=BASE) as b:
        csrf = _csrf(a.get("/ui/signin").text)
        a.post("/ui/signin", data={"csrf": csrf, "token": token}, follow_redirects=False)
        b.cookies.set(COOKIE, a.cookies.get(COOKIE), domain="basecamp.example", path="/ui")
        assert 'id="whoami">ann<' in b.get("/ui/workflows").text


def test_a_running_run_is_offered_stop_and_stopping_it_is_confirmed_and_kills_it(tmp_path):
    store = FilesystemSpecStore(tmp_path / "store")
    store.create(SourceType.MANUAL, make_document("de.slow.daily", team="@de"))
    settings = build_server(
        store=FilesystemSpecStore(tmp_path / "store"),
        orchestrator_url="memory://?queue_seconds=0&run_seconds=60",
        tokens_file=tmp_path / "tokens.json",
        check_interval_seconds=3600,
    )
    token = settings.tokens.add("ops")
    settings.store.check()
    with TestClient(create_app(settings), base_url=BASE, raise_server_exceptions=False) as client:
        csrf = _csrf(client.get("/ui/signin").text)
        client.post("/ui/signin", data={"csrf": csrf, "token": token}, follow_redirects=False)
        csrf = _csrf(client.get("/ui/workflows").text)
        run_page = client.post("/ui/workflows/de.slow.daily/run", data={"csrf": csrf}, follow_redirects=False)
        location = run_page.headers["location"]
        page = client.get(location).text
        assert f'href="{location}/stop"' in page and 'data-refresh="1000"' in page
        confirm = client.get(location + "/stop")
        assert confirm.status_code == 200 and "Confirm: stop" in confirm.text
        stopped = client.post(location + "/stop", data={"csrf": csrf}, follow_redirects=True)
        assert 'id="run-status">KILLED<' in stopped.text
        assert "data-refresh" not in stopped.text  # a finished run's panel no longer refreshes


def test_a_pause_from_the_console_is_seen_at_once_by_the_apis_reused_list_answer(console):
    api = console.as_("bob")
    before = console.client.get("/api/v1/workflows", params={"dataset_filter": "de.sales.daily"}, headers=api).json()
    assert before["workflows"][0]["status"] == "active"
    csrf = console.sign_in("bob")
    console.client.post("/ui/workflows/de.sales.daily/pause", data={"csrf": csrf})
    after = console.client.get("/api/v1/workflows", params={"dataset_filter": "de.sales.daily"}, headers=api).json()
    assert after["workflows"][0]["status"] == "paused"  # not the answer kept from before the pause
