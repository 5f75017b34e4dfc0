"""Broken documents in the store (issue #11), against a real ``basecamp serve`` over a file store: no
route answers 500, every healthy spec is listed, and the broken ones are named (list and /health)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import attrs
import httpx
import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from tests.support.basecamp import BasecampProcess, running_basecamp
from tests.support.specs import make_document

CHECK_INTERVAL = 0.2

GOOD = """name: {name}
owner: owner@example.com
query_statement: SELECT 1
schedule:
  cron: 0 9 * * *
  timezone: UTC
  enabled: true
"""

# key -> (file content, what the reason must say)
BROKEN = {
    "manual/shop.broken.yaml_syntax": ("name: [unclosed\n", "shop.broken.yaml_syntax"),
    "manual/shop.broken.field_type": (GOOD.replace("enabled: true", 'enabled: "false"'), "schedule.enabled"),
    "code/shop.broken.never_fires": (GOOD.replace("0 9 * * *", "0 6 31 2 *"), "never fires"),
    "manual/shop.broken.misnamed": (GOOD.format(name="shop.healthy.h00"), "named 'shop.healthy.h00'"),
}
HEALTHY = [f"shop.healthy.h{i:02d}" for i in range(12)]


@attrs.define
class World:
    process: BasecampProcess
    store_dir: Path

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.process.token}"}
        return httpx.request(method, self.process.url + path, headers=headers, timeout=10.0, **kwargs)

    def write(self, key: str, text: str) -> None:
        path = self.store_dir / f"{key}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(name=key.split("/")[1]) if "{name}" in text else text)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("broken")
    store_dir = root / "store"
    store = FilesystemSpecStore(store_dir)
    for name in HEALTHY:
        store.create(SourceType.MANUAL, make_document(name))
    store.create(SourceType.CODE, make_document("shop.broken.never_fires", source=SourceType.CODE))
    store.create(SourceType.MANUAL, make_document("shop.broken.never_fires"))  # overridden by the broken code spec
    for key, (text, _) in BROKEN.items():
        (store_dir / f"{key}.yaml").write_text(text)
    for process in running_basecamp(root / "server", store_url=store_dir.as_uri(), check_interval=CHECK_INTERVAL):
        yield World(process=process, store_dir=store_dir)


def _broken_of(body: dict) -> dict[str, str]:
    return {b["key"]: b["reason"] for b in body["broken"]}


def test_list_shows_every_healthy_spec_and_names_every_broken_one(world: World):
    response = world.call("GET", "/api/v1/workflows", params={"limit": 1000})
    assert response.status_code == 200
    body = response.json()
    listed = [(w["dataset_name"], w["source_type"], w["status"]) for w in body["workflows"]]
    assert listed == [("shop.broken.never_fires", "manual", "overridden"), *[(n, "manual", "active") for n in HEALTHY]]
    broken = _broken_of(body)
    assert set(broken) == {f"{key}.yaml" for key in BROKEN}
    for key, (_, says) in BROKEN.items():
        assert says in broken[f"{key}.yaml"]
    assert body["broken_count"] == 4
    assert {b["dataset_name"]: b["source_type"] for b in body["broken"]}["shop.broken.never_fires"] == "code"


def test_filters_and_pages_keep_naming_the_matching_broken_specs(world: World):
    body = world.call("GET", "/api/v1/workflows", params={"dataset_filter": "yaml_syntax"}).json()
    assert body["workflows"] == [] and set(_broken_of(body)) == {"manual/shop.broken.yaml_syntax.yaml"}
    body = world.call("GET", "/api/v1/workflows", params={"source_type": "code"}).json()
    assert body["workflows"] == [] and set(_broken_of(body)) == {"code/shop.broken.never_fires.yaml"}
    first = world.call("GET", "/api/v1/workflows", params={"limit": 5}).json()
    second = world.call("GET", "/api/v1/workflows", params={"limit": 5, "after": first["next_cursor"]}).json()
    assert first["total_count"] == second["total_count"] == 13
    assert [w["dataset_name"] for w in second["workflows"]] == HEALTHY[4:9]
    assert second["broken_count"] == 4


def test_health_names_the_broken_specs_and_stays_ok(world: World):
    response = httpx.get(world.process.url + "/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["broken_count"] == 4
    assert set(_broken_of(body)) == {f"{key}.yaml" for key in BROKEN}
    assert body["load"]["in_flight"] >= 0


@pytest.mark.parametrize("key", sorted(BROKEN))
def test_no_route_answers_500_for_a_broken_spec(world: World, key: str):
    name = key.split("/")[1]
    seg = quote(name, safe="")
    calls = [
        ("GET", f"/api/v1/workflows/{seg}", {}),
        ("GET", f"/api/v1/workflows/{seg}/live", {}),
        ("POST", f"/api/v1/workflows/{seg}/run", {"json": {"dry_run": True}}),
        (
            "POST",
            f"/api/v1/workflows/{seg}/backfill",
            {"json": {"start_date": "2025-01-01", "end_date": "2025-01-02", "dry_run": True}},
        ),
        ("POST", f"/api/v1/workflows/{seg}/pause", {}),
        ("POST", f"/api/v1/workflows/{seg}/unpause", {}),
        ("GET", "/api/v1/history", {"params": {"dataset_name": name}}),
        ("GET", "/api/v1/workflows", {"params": {"dataset_filter": name}}),
    ]
    for method, path, kwargs in calls:
        response = world.call(method, path, **kwargs)
        assert response.status_code < 500, (method, path, response.status_code, response.text)
    reading = world.call("GET", f"/api/v1/workflows/{seg}")
    if reading.status_code == 422:  # the broken document is the active one: its reason, not a traceback
        error = reading.json()["error"]
        assert error["code"] in ("DLI-203", "DLI-805") and BROKEN[key][1] in error["message"]
    assert not [line for line in world.process.log_lines() if line.get("event") == "unhandled_error"]


def test_a_document_broken_behind_the_servers_back_is_named_within_a_check_and_healed_by_a_fix(world: World):
    key = "manual/shop.healthy.h11"
    world.write(key, "name: shop.healthy.h11\nschedule: 7\n")
    deadline_ok = _wait(
        lambda: "manual/shop.healthy.h11.yaml" in _broken_of(world.call("GET", "/api/v1/workflows").json())
    )
    assert deadline_ok
    names = [
        w["dataset_name"] for w in world.call("GET", "/api/v1/workflows", params={"limit": 1000}).json()["workflows"]
    ]
    assert "shop.healthy.h11" not in names and "shop.healthy.h10" in names
    world.write(key, GOOD)
    assert _wait(
        lambda: "manual/shop.healthy.h11.yaml" not in _broken_of(world.call("GET", "/api/v1/workflows").json())
    )
    assert world.call("GET", "/api/v1/workflows/shop.healthy.h11").status_code == 200


def _wait(done, timeout: float = 50 * CHECK_INTERVAL) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(CHECK_INTERVAL / 2)
    return False
