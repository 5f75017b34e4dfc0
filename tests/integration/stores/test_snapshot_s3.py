"""The S3 store's document snapshot (``ListedReads``) over real S3-protocol servers.

A replica's first index load reads one snapshot object instead of a GET per document; the snapshot
is checked key by key against the fresh listing (the MD5 of its bytes must be the listed ETag), so
nothing it holds is ever served under an etag it was not stored with, whoever wrote it and when:
another replica, one racing a publish, a foreign tool, or nobody.
"""

from __future__ import annotations

import gzip
import json
import threading

import pytest

from dli.adapters.codecs.specs import document_to_bytes
from dli.adapters.stores._shared import etag_of
from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.stores.s3 import S3SpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError
from dli.ports.spec_store import ListedReads, VersionedDocument
from tests.support.s3_servers import S3Server, client_for
from tests.support.specs import make_document

MANUAL, CODE = SourceType.MANUAL, SourceType.CODE
NAMES = [f"shop.snap.d{i:03d}" for i in range(80)]  # over the 64 GETs from which a reader writes a snapshot
SNAPSHOT = "specs/.dli/snapshot-v1.json.gz"


@pytest.fixture(params=["moto", "rclone"])
def server(request, monkeypatch) -> S3Server:
    server = request.getfixturevalue(f"{request.param}_server")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return server


def _store(bucket: str) -> S3SpecStore:
    return S3SpecStore.from_url(f"s3://{bucket}/specs")


def _filled(server: S3Server) -> str:
    bucket = server.new_bucket()
    writer = _store(bucket)
    writer.run_all(
        [lambda n=n: writer.create(MANUAL, make_document(n, cron=f"{NAMES.index(n) % 60} 9 * * *")) for n in NAMES]
    )
    return bucket


def _counted(store: S3SpecStore) -> list[str]:
    sent: list[str] = []
    store._client.meta.events.register(  # noqa: SLF001 - counting what reaches S3
        "before-send.s3",
        lambda request, **_: sent.append(
            "LIST" if "list-type=2" in request.url else f"{request.method} {request.url.rsplit('/', 1)[1]}"
        ),
    )
    return sent


def _listed_keys(store: S3SpecStore) -> list[tuple[SourceType, str, str]]:
    return [(source, name, etag) for source in (CODE, MANUAL) for name, etag in store.list_etags(source).items()]


def _assert_true_to_its_etag(outcomes: list, keys: list) -> None:
    """Every document is exactly the bytes stored under the etag it comes with."""
    for (_source, name, _listed), outcome in zip(keys, outcomes, strict=True):
        assert isinstance(outcome, VersionedDocument), (name, outcome)
        assert outcome.document.name == name
        assert etag_of(document_to_bytes(outcome.document)) == outcome.etag


def test_the_first_reader_writes_a_snapshot_and_the_next_one_loads_from_it_with_one_get(server):
    bucket = _filled(server)
    first = _store(bucket)
    assert isinstance(first, ListedReads)
    keys = _listed_keys(first)
    sent = _counted(first)
    loaded = first.read_listed(keys)
    _assert_true_to_its_etag(loaded, keys)
    assert sent.count("PUT snapshot-v1.json.gz") == 1 and len([s for s in sent if s.startswith("GET")]) == 81

    second = _store(bucket)  # another replica starting
    sent = _counted(second)
    again = second.read_listed(_listed_keys(second))
    assert again == loaded
    if server.kind == "moto":  # rclone's listing may not give every key's MD5 yet: those cost a GET
        assert sent == ["LIST", "LIST", "GET snapshot-v1.json.gz"]


def test_a_document_written_after_the_snapshot_is_read_by_get_never_served_stale(server):
    bucket = _filled(server)
    _store(bucket).read_listed(_listed_keys(_store(bucket)))  # writes the snapshot
    writer = _store(bucket)
    changed = NAMES[7]
    writer.replace(
        MANUAL, make_document(changed, description="after the snapshot"), etag=writer.read(MANUAL, changed).etag
    )
    # ... and one rewritten around dli, keeping nothing of the old bytes
    client_for(server).put_object(
        Bucket=bucket,
        Key=f"specs/manual/{NAMES[9]}.yaml",
        Body=document_to_bytes(make_document(NAMES[9], description="by hand")),
    )
    writer.delete(MANUAL, NAMES[11])

    reader = _store(bucket)
    keys = _listed_keys(reader)
    sent = _counted(reader)
    loaded = dict(zip([k[1] for k in keys], reader.read_listed(keys), strict=True))

    gets = {s for s in sent if s.startswith("GET")}
    assert {"GET snapshot-v1.json.gz", f"GET {changed}.yaml", f"GET {NAMES[9]}.yaml"} <= gets
    if server.kind == "moto":  # rclone's listing may not give every key's MD5 yet: those cost a GET
        assert len(gets) == 3
    assert loaded[changed].document.spec.description == "after the snapshot"
    assert loaded[NAMES[9]].document.spec.description == "by hand"
    assert NAMES[11] not in loaded
    _assert_true_to_its_etag(list(loaded.values()), keys)


@pytest.mark.parametrize("body", [b"not gzip", gzip.compress(b"{not json"), gzip.compress(b'{"scheme": "other"}')])
def test_a_garbage_or_foreign_snapshot_costs_gets_not_a_wrong_answer(server, body):
    bucket = _filled(server)
    client_for(server).put_object(Bucket=bucket, Key=SNAPSHOT, Body=body)
    reader = _store(bucket)
    keys = _listed_keys(reader)
    sent = _counted(reader)
    _assert_true_to_its_etag(reader.read_listed(keys), keys)
    assert len([s for s in sent if s.startswith("GET")]) == 1 + len(NAMES)


def test_a_forged_snapshot_entry_is_not_served_under_the_listed_etag(moto_server, monkeypatch):
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = _filled(moto_server)
    forged = document_to_bytes(make_document(NAMES[0], description="forged")).decode()
    body = {"scheme": "dli-snapshot-1", "documents": {"manual": {NAMES[0]: forged}}}
    client_for(moto_server).put_object(Bucket=bucket, Key=SNAPSHOT, Body=gzip.compress(json.dumps(body).encode()))
    reader = _store(bucket)
    keys = _listed_keys(reader)
    outcomes = reader.read_listed(keys)
    assert outcomes[0].document.spec.description != "forged"
    _assert_true_to_its_etag(outcomes, keys)


def test_replicas_loading_and_writing_snapshots_while_a_publisher_rewrites_never_serve_a_stale_document(
    moto_server, monkeypatch
):
    """Two replicas load (and rewrite the snapshot) over and over while a publisher replaces
    documents: every document each load answers is the one stored under the etag it carries."""
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = _filled(moto_server)
    stop = threading.Event()
    errors: list[BaseException] = []

    def publish() -> None:
        writer = _store(bucket)
        round_ = 0
        while not stop.is_set():
            round_ += 1
            for name in NAMES[::7]:
                current = writer.read(MANUAL, name)
                try:
                    writer.replace(MANUAL, make_document(name, description=f"round {round_}"), etag=current.etag)
                except DLIError:
                    pass

    def replica() -> None:
        try:
            for _ in range(3):
                store = _store(bucket)
                keys = _listed_keys(store)
                outcomes = store.read_listed(keys)
                _assert_true_to_its_etag(
                    [o for o in outcomes if o is not None],
                    [k for k, o in zip(keys, outcomes, strict=True) if o is not None],
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    publisher = threading.Thread(target=publish)
    publisher.start()
    replicas = [threading.Thread(target=replica) for _ in range(2)]
    for thread in replicas:
        thread.start()
    for thread in replicas:
        thread.join()
    stop.set()
    publisher.join()
    assert errors == []


def test_a_replicas_first_index_load_reads_the_snapshot_and_sees_later_writes(moto_server, monkeypatch):
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = _filled(moto_server)
    assert IndexedSpecStore(_store(bucket)).check().reread == len(NAMES)  # the first replica: GETs, then a snapshot
    writer = _store(bucket)
    writer.create(CODE, make_document(NAMES[3], source=CODE, description="code wins"))

    inner = _store(bucket)
    sent = _counted(inner)
    index = IndexedSpecStore(inner)
    report = index.check()

    assert report.reread == len(NAMES) + 1, sent
    assert sorted(s for s in sent if s.startswith("GET") and "-batch-" not in s) == [  # (the feed: a batch record)
        f"GET {NAMES[3]}.yaml",
        "GET snapshot-v1.json.gz",
    ], sent
    assert index.read(CODE, NAMES[3]).document.spec.description == "code wins"
    assert index.read(MANUAL, NAMES[5]).document.spec.name == NAMES[5]
