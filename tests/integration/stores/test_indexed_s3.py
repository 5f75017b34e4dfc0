"""The server's index over real S3-protocol servers: a check costs the changes, not the store.

Two stores on one bucket play two Basecamp replicas (or CI's publish and a replica): the writer's
changes are recorded under ``.dli/changes/`` and the reader's next check reads exactly those keys.
"""

from __future__ import annotations

import pytest

from dli.adapters.stores.indexed import IndexedSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.override import TransitionKind
from dli.entrypoints.bootstrap import build_store
from tests.support.s3_servers import S3Server, client_for
from tests.support.specs import make_document

MANUAL, CODE = SourceType.MANUAL, SourceType.CODE


@pytest.fixture(params=["moto", "rclone"])
def server(request, monkeypatch) -> S3Server:
    server = request.getfixturevalue(f"{request.param}_server")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return server


def _counted(store) -> list[str]:
    """The requests ``store`` sends from now on: LIST <prefix listed>, GET, HEAD, PUT..."""
    sent: list[str] = []

    def count(request, **_):
        if "list-type=2" in request.url:
            sent.append("LIST " + request.url.split("prefix=", 1)[1].split("&", 1)[0].replace("%2F", "/"))
        else:
            sent.append(request.method)

    store._client.meta.events.register("before-send.s3", count)  # noqa: SLF001 - counting what reaches S3
    return sent


def test_a_check_reads_the_writes_another_writer_recorded_and_lists_no_spec_folder(server):
    bucket = server.new_bucket()
    writer = build_store(f"s3://{bucket}/specs")  # CI's publish, or another replica
    for i in range(30):
        writer.create(MANUAL, make_document(f"shop.many.t{i:02d}"))
    index = IndexedSpecStore(build_store(f"s3://{bucket}/specs"))
    assert index.check().full is True
    sent = _counted(index.inner)

    versioned = writer.read(MANUAL, "shop.many.t03")
    writer.replace(MANUAL, make_document("shop.many.t03", cron="0 3 * * *"), etag=versioned.etag)
    writer.create(CODE, make_document("shop.many.t04", source=CODE))
    writer.delete(MANUAL, "shop.many.t05")
    report = index.check()

    assert (report.full, report.reread, report.removed) == (False, 3, 1)
    assert sorted(sent) == ["GET", "GET", "GET", "LIST specs/.dli/changes/"]
    assert [(t.name, t.kind) for t in report.transitions] == [
        ("shop.many.t04", TransitionKind.OVERRIDDEN),
        ("shop.many.t05", TransitionKind.REMOVED),
    ]
    assert index.read(MANUAL, "shop.many.t03").document.schedule.cron == "0 3 * * *"
    sent.clear()
    assert index.check().reread == 0
    assert sent == ["LIST specs/.dli/changes/"]


def test_a_spec_copied_in_around_dli_is_seen_by_the_next_full_check(server):
    bucket = server.new_bucket()
    index = IndexedSpecStore(build_store(f"s3://{bucket}/specs"))
    index.check()
    client_for(server).put_object(  # `aws s3 cp`: no change record
        Bucket=bucket,
        Key="specs/code/shop.by.hand.yaml",
        Body=b"name: shop.by.hand\nquery_statement: SELECT 1\nschedule:\n  cron: '0 4 * * *'\n",
    )
    assert index.check().reread == 0
    report = index.check(full=True)
    assert (report.full, report.reread) == (True, 1)
    assert index.read(CODE, "shop.by.hand").document.schedule.cron == "0 4 * * *"


def test_the_dag_bundle_refresh_downloads_the_recorded_changes_and_lists_no_spec_folder(server, tmp_path):
    from dli.entrypoints.airflow.shards import sync_bundle
    from dli.entrypoints.bootstrap import build_factory_store

    bucket = server.new_bucket()
    url = f"s3://{bucket}/specs"
    writer = build_store(url)  # CI's publish, or Basecamp
    for i in range(30):
        writer.create(MANUAL, make_document(f"shop.many.t{i:02d}"))
    store = build_factory_store(url, cache_dir=tmp_path / "cache")  # the bundle keeps one across refreshes
    first = sync_bundle(tmp_path / "dags", store, store_url=url, shards=8)
    assert first.datasets == 30
    sent = _counted(store.inner)

    versioned = writer.read(MANUAL, "shop.many.t03")
    writer.replace(MANUAL, make_document("shop.many.t03", cron="0 3 * * *"), etag=versioned.etag)
    again = sync_bundle(tmp_path / "dags", store, store_url=url, shards=8, last=first.index)

    assert (
        len(again.written) == 1 and again.index.specs["shop.many.t03"].etag != first.index.specs["shop.many.t03"].etag
    )
    assert sorted(sent) == ["GET", "LIST specs/.dli/changes/", "LIST specs/.dli/changes/"]  # one per source listed
