"""Publish over S3 with concurrent writes and the published-spec index (moto, which enforces
conditional writes, and rclone, which does not).

A publish that changes nothing reads no document; the index is a shortcut only (a document changed
behind it, or an index that is garbage, costs reads, never a wrong ``unchanged``); a write that
fails in a concurrent publish is reported as failed, and every write that persisted as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dli.adapters.clock import SystemClock
from dli.adapters.codecs.specs import document_to_bytes
from dli.adapters.local_project import FilesystemProject
from dli.adapters.stores.s3 import S3SpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import WorkflowAlreadyExistsError
from dli.domain.usecases.bus import MessageBus
from dli.domain.usecases.publish import PublishSpecs
from tests.support.backends import write_spec
from tests.support.s3_servers import S3Server, client_for
from tests.support.specs import make_document, make_spec

CODE = SourceType.CODE
NAMES = [f"shop.bulk.d{i:02d}" for i in range(24)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for i, name in enumerate(NAMES):
        write_spec(root, make_spec(name, cron=f"{i} 9 * * *"))
    return root


@pytest.fixture(params=["moto", "rclone"])
def server(request) -> S3Server:
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def store(server, monkeypatch) -> S3SpecStore:
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    store = S3SpecStore.from_url(f"s3://{server.new_bucket()}/specs", endpoint_url=server.endpoint_url)
    store.requests = []  # type: ignore[attr-defined]

    def count(request: Any, **_: Any) -> None:
        store.requests.append((request.method, request.url))  # type: ignore[attr-defined]

    store._client.meta.events.register("before-send.s3", count)
    return store


def publish(project: Path, store: S3SpecStore):
    bus = MessageBus(store=store, local_specs=FilesystemProject(project), clock=SystemClock())
    return bus.handle(PublishSpecs(actor="ci"))


def spec_reads(store: S3SpecStore) -> list[str]:
    requests = store.requests  # type: ignore[attr-defined]
    return [url for method, url in requests if method == "GET" and ("/code/" in url or "/manual/" in url)]


def test_an_unchanged_publish_reads_no_spec_document(project, store):
    assert publish(project, store).summary["create"] == len(NAMES)
    store.requests.clear()

    result = publish(project, store)

    assert result.summary["unchanged"] == len(NAMES) and not result.changed
    assert spec_reads(store) == []
    assert [m for m, _ in store.requests if m in ("PUT", "DELETE")] == []  # nothing written either


def test_a_document_changed_behind_the_index_is_read_and_republished(project, store, server):
    publish(project, store)
    bucket = store.url.removeprefix("s3://").split("/")[0]
    changed = make_document(NAMES[3], source=CODE, description="edited by hand", cron="3 9 * * *")
    client_for(server).put_object(Bucket=bucket, Key=f"specs/code/{NAMES[3]}.yaml", Body=document_to_bytes(changed))
    store.requests.clear()

    result = publish(project, store)

    assert result.summary["update"] == 1 and result.summary["unchanged"] == len(NAMES) - 1
    assert len(spec_reads(store)) == 1  # only the document whose etag moved
    assert store.read(CODE, NAMES[3]).document.spec == make_spec(NAMES[3], cron="3 9 * * *")


def test_a_garbage_published_index_costs_reads_not_a_wrong_answer(project, store, server):
    publish(project, store)
    bucket = store.url.removeprefix("s3://").split("/")[0]
    client_for(server).put_object(Bucket=bucket, Key="specs/.dli/published-code.json", Body=b"{not json")
    # The project changes one spec: whatever the index says, that one is updated.
    write_spec(project, make_spec(NAMES[5], cron="5 9 * * *", description="new"))
    store.requests.clear()

    result = publish(project, store)

    assert result.summary["update"] == 1 and result.summary["unchanged"] == len(NAMES) - 1
    assert len(spec_reads(store)) == len(NAMES)


def test_a_failed_write_of_a_concurrent_publish_is_reported_and_every_persisted_one_named(project, store, server):
    bucket = store.url.removeprefix("s3://").split("/")[0]
    raw = client_for(server)
    taken = NAMES[7]

    # Someone else creates one of the specs after the publisher listed code/ (at the index read).
    def race(request: Any, **_: Any) -> None:
        if request.method == "GET" and request.url.endswith("/.dli/published-code.json"):
            raw.put_object(
                Bucket=bucket,
                Key=f"specs/code/{taken}.yaml",
                Body=document_to_bytes(make_document(taken, source=CODE, registered_by="other")),
            )

    store._client.meta.events.register("before-send.s3", race)

    with pytest.raises(WorkflowAlreadyExistsError) as caught:
        publish(project, store)

    written, not_written = caught.value.details["written"], caught.value.details["not_written"]
    assert taken in not_written and taken not in written
    assert sorted(written + not_written) == NAMES
    stored = store.list_etags(CODE)
    for name in written:  # reported written: it is there, as this publish wrote it
        assert store.read(CODE, name).document.registered_by == "ci"
    for name in not_written:  # reported not written: this publish did not write it
        assert name not in stored or store.read(CODE, name).document.registered_by == "other"
    # The change feed answers exactly the writes that persisted (the other publisher wrote around dli).
    assert sorted(change.name for change in store.recent_changes(seconds=60)) == sorted(written)


def test_a_publish_records_its_writes_together_and_readers_see_each_once(project, store):
    result = publish(project, store)

    assert result.summary["create"] == len(NAMES)
    records = [url for method, url in store.requests if method == "PUT" and "/.dli/changes/" in url]
    assert len(records) == 1  # one record of the 24 creates, not 24
    changes = store.recent_changes(seconds=60)
    assert sorted(change.name for change in changes) == NAMES
    assert len({change.marker for change in changes}) == len(NAMES)
