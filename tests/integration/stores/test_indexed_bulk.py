"""The server's first index load over S3 (moto) reads with the store's bulk calls: each spec once,
a broken one kept aside, and a store that fails mid-load fails the load (DLI-503) with nothing
half-indexed."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.stores.s3 import S3SpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import StoreUnavailableError
from tests.support.s3_servers import client_for
from tests.support.specs import make_document

MANUAL = SourceType.MANUAL
NAMES = [f"shop.load.t{i:02d}" for i in range(40)]


@pytest.fixture
def store(moto_server, monkeypatch) -> S3SpecStore:
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    store = S3SpecStore.from_url(f"s3://{moto_server.new_bucket()}/specs", endpoint_url=moto_server.endpoint_url)
    for name in NAMES:
        store.create(MANUAL, make_document(name))
    bucket = store.url.removeprefix("s3://").split("/")[0]
    client_for(moto_server).put_object(Bucket=bucket, Key="specs/manual/shop.load.broken.yaml", Body=b"name: [")
    return store


def test_the_first_load_reads_each_spec_once_and_keeps_a_broken_one_aside(store):
    gets: list[str] = []
    store._client.meta.events.register(
        "before-send.s3",
        lambda request, **_: (
            gets.append(request.url) if request.method == "GET" and "list-type" not in request.url else None
        ),
    )
    index = IndexedSpecStore(store)

    report = index.check(full=True)

    assert report.reread == len(NAMES) + 1 and report.broken == 1
    assert sorted(gets) == sorted(set(gets)) and len(gets) == len(NAMES) + 1
    assert sorted(index.list_etags(MANUAL)) == sorted([*NAMES, "shop.load.broken"])
    assert index.read(MANUAL, NAMES[17]).document.name == NAMES[17]


def test_a_store_failing_during_the_first_load_fails_it_with_nothing_indexed(store):
    def unreachable(params: Any, **_: Any) -> None:
        if params["url_path"].endswith(f"{NAMES[21]}.yaml"):
            raise EndpointConnectionError(endpoint_url="http://s3.test")

    store._client.meta.events.register("before-call.s3.GetObject", unreachable)
    index = IndexedSpecStore(store)

    with pytest.raises(StoreUnavailableError):
        index.check(full=True)
    store._client.meta.events.unregister("before-call.s3.GetObject", unreachable)
    assert index.check(full=True).reread == len(NAMES) + 1  # the next load reads everything again
