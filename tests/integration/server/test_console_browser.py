"""The web console in a real browser: Playwright driving Debian's Chromium against a real ``basecamp serve``.

One server (memory orchestrator, a file store, a policy) for the module, one browser; each test its
own browser context (its own cookies). Every page a test visits is checked for JavaScript errors,
and axe-core checks the main pages for serious and critical WCAG 2 A/AA violations.

Chromium missing is a failure, not a skip: ``scripts/test.sh`` installs Debian's ``chromium``.
Set ``DLI_CONSOLE_SCREENSHOTS=docs`` to write the screenshots of docs/console.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import Parameter, Statement
from tests.support.basecamp import BasecampProcess, running_basecamp
from tests.support.specs import make_document

CHROMIUM = Path(os.environ.get("DLI_CHROMIUM", "/usr/bin/chromium"))
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

POLICY = """
teams:
  "@shop":
    operators: ["tester"]
    viewers: ["*"]
default: {viewers: ["*"]}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BasecampProcess]:
    root = tmp_path_factory.mktemp("console")
    store = FilesystemSpecStore(root / "store")
    store.create(
        SourceType.MANUAL,
        make_document(
            "shop.sales.daily",
            team="@shop",
            timezone="Europe/Berlin",
            description="Sales of the day, by store",
            query_statement="SELECT store_id, SUM(amount) FROM raw.sales WHERE day = '{{ day }}' GROUP BY 1",
            pre_statements=(Statement(sql="DELETE FROM sales_daily WHERE day = '{{ day }}'", name="clear the day"),),
            parameters=(Parameter(name="day", type="date", description="The day to load"),),
            depends_on=("raw.sales",),
        ),
    )
    store.create(SourceType.MANUAL, make_document("shop.sales.weekly", team="@shop", depends_on=("shop.sales.daily",)))
    store.create(SourceType.CODE, make_document("shop.stock.daily", source=SourceType.CODE, team="@shop"))
    store.create(SourceType.MANUAL, make_document("mkt.leads.daily", team="@mkt", cron="0 6 * * 1"))
    (root / "policy.yaml").write_text(POLICY)
    yield from running_basecamp(
        root / "server",
        store_url=(root / "store").as_uri(),
        orchestrator_url="memory://?queue_seconds=0.2&run_seconds=0.5",
        extra_args=["--policy", str(root / "policy.yaml")],
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM}: apt-get install chromium (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh context's page; the test fails on any JavaScript error or console error it saw."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    tab.dli_expected_statuses = set()  # type: ignore[attr-defined]
    yield tab
    context.close()
    # Chromium reports a page answered with an error status as a console error: only those the test expects pass.
    expected = {f"the server responded with a status of {status} " for status in tab.dli_expected_statuses}
    assert [e for e in errors if not any(x in e for x in expected)] == []


def expect_status(page: Any, status: int) -> None:
    """The test shows a page answered with ``status`` (a refusal, a wrong token): not a JavaScript error."""
    page.dli_expected_statuses.add(status)


def sign_in(page: Any, server: BasecampProcess, token: str | None = None, start: str = "/ui/") -> None:
    page.goto(server.url + start)
    page.wait_for_url(re.compile(r".*/ui/signin.*"))
    page.get_by_label("API token").fill(token or server.token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/ui/(workflows|runs).*"))


def check_accessibility(page: Any, what: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert bad == [], f"{what}: " + "; ".join(f"{v['id']} ({v['impact']}): {v['help']}" for v in bad)


def screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("DLI_CONSOLE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=True)


def test_sign_in_list_search_and_open_a_workflow_with_no_accessibility_violations(page, server):
    page.goto(server.url + "/ui/signin")
    check_accessibility(page, "sign-in page")
    screenshot(page, "signin")
    sign_in(page, server)
    assert page.locator("#whoami").inner_text() == server.user
    rows = page.locator("#workflows tbody tr")
    assert rows.count() == 4
    check_accessibility(page, "workflows list")
    screenshot(page, "list")
    page.get_by_label("Name").fill("sales")
    page.get_by_label("Name").press("Enter")  # the keyboard submits the filter form
    page.wait_for_url(re.compile(r".*q=sales.*"))
    assert [t.strip() for t in page.locator("#workflows tbody td:first-child").all_inner_texts()] == [
        "shop.sales.daily",
        "shop.sales.weekly",
    ]
    page.get_by_role("link", name="shop.sales.daily").click()
    assert page.get_by_role("heading", level=1).inner_text() == "shop.sales.daily"
    assert "SUM(amount)" in page.locator("pre.sql").last.inner_text()
    external = page.locator("svg.lineage g.external")
    assert external.count() == 1 and "raw.sales" in (external.text_content() or "")  # an upstream dli does not run
    assert (page.locator("svg.lineage g.n-downstream").text_content() or "").strip().startswith("shop.sales.weekly")
    check_accessibility(page, "workflow page")


def test_run_with_a_parameter_and_see_the_run_complete_with_no_accessibility_violations(page, server):
    sign_in(page, server, start="/ui/workflows/shop.sales.daily")
    page.get_by_role("link", name="Run", exact=True).click()
    check_accessibility(page, "run form")
    page.get_by_label("day").fill("2026-12-01")
    page.get_by_role("button", name="Confirm: run").click()
    page.wait_for_url(re.compile(r".*/ui/runs/shop\.sales\.daily@.*"))
    # The run panel refreshes itself (console.js) until the run has finished.
    page.locator("#run-status", has_text="COMPLETED").wait_for(timeout=15_000)
    assert "day=2026-12-01" in page.locator("#run-panel").inner_text()
    check_accessibility(page, "run page")
    screenshot(page, "run")
    page.get_by_role("link", name="shop.sales.daily").click()
    assert page.locator("#runs tbody tr").count() == 1
    assert page.locator("svg.chart rect").count() == 1
    screenshot(page, "workflow")


def test_pause_and_unpause_each_confirmed(page, server):
    sign_in(page, server, start="/ui/workflows/shop.stock.daily")
    page.get_by_role("link", name="Pause", exact=True).click()
    page.get_by_role("button", name="Confirm: pause").click()
    assert page.locator("#wf-status").inner_text() == "paused"
    assert page.get_by_role("link", name="Pause", exact=True).count() == 0
    page.get_by_role("link", name="Unpause").click()
    page.get_by_role("button", name="Confirm: unpause").click()
    assert page.locator("#wf-status").inner_text() == "active"


def test_a_viewer_is_not_offered_what_the_policy_does_not_let_it_do(page, server):
    viewer = server.add_token("vera")
    sign_in(page, server, token=viewer, start="/ui/workflows/shop.sales.daily")
    assert page.locator("#whoami").inner_text() == "vera"
    for action in ("Run", "Backfill", "Pause", "Unpause"):
        assert page.get_by_role("link", name=action, exact=True).count() == 0
    assert page.locator("#no-actions").is_visible()
    expect_status(page, 403)
    page.goto(server.url + "/ui/workflows/shop.sales.daily/run")
    assert "does not let you run it" in page.locator("main").inner_text()


def test_a_wrong_token_shows_its_error_on_the_sign_in_page_and_sign_out_ends_the_session(page, server):
    expect_status(page, 401)
    page.goto(server.url + "/ui/signin")
    page.get_by_label("API token").fill("bc_wrong_token")
    page.get_by_role("button", name="Sign in").click()
    assert "DLI-502" in page.locator("#signin-error").inner_text()
    assert "bc_wrong_token" not in page.content()
    sign_in(page, server)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/ui/signin.*"))
    page.goto(server.url + "/ui/workflows")
    page.wait_for_url(re.compile(r".*/ui/signin.*"))
