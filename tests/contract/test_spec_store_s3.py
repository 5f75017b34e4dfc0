"""The SpecStore contract over S3, through two real S3-protocol servers on loopback (moto and rclone).

The store is configured the way users configure it: ``AWS_ENDPOINT_URL`` and credentials in the
environment, a ``s3://bucket/prefix`` URL.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import EndpointConnectionError

from dli.adapters.codecs.specs import document_to_bytes
from dli.adapters.stores.s3 import S3SpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import (
    ConfigurationError,
    DLIError,
    StoreUnavailableError,
    WorkflowAlreadyExistsError,
    WorkflowRegistrationError,
)
from dli.entrypoints.bootstrap import build_store
from dli.testing.change_feed import ChangeFeedContract
from dli.testing.spec_store import SpecStoreContract
from tests.support.s3_servers import S3Server, client_for, free_port, moto_auth_enforced
from tests.support.specs import make_document

MANUAL, CODE = SourceType.MANUAL, SourceType.CODE
NAME = "shop.sales.daily"


def _use(server: S3Server, monkeypatch) -> None:
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)


@pytest.fixture(params=["moto", "rclone"])
def server(request, monkeypatch) -> S3Server:
    server = request.getfixturevalue(f"{request.param}_server")
    _use(server, monkeypatch)
    return server


@pytest.fixture
def bucket(server) -> str:
    return server.new_bucket()


class TestS3SpecStore(SpecStoreContract):
    @pytest.fixture
    def store(self, server, bucket):
        return build_store(f"s3://{bucket}/team/specs")


class TestS3ChangeFeed(ChangeFeedContract):
    @pytest.fixture
    def store(self, server, bucket):
        return build_store(f"s3://{bucket}/team/specs")


@pytest.fixture
def store(server, bucket) -> S3SpecStore:
    return S3SpecStore.from_url(f"s3://{bucket}/team/specs")


def _stored(server: S3Server, bucket: str, key: str) -> bytes:
    return client_for(server).get_object(Bucket=bucket, Key=key)["Body"].read()


# -- layout and interoperability ------------------------------------------------------------------


def test_documents_are_stored_under_prefix_code_and_manual_and_each_write_leaves_a_change_record(server, bucket, store):
    manual = make_document()
    store.create(MANUAL, manual)
    store.create(CODE, make_document("shop.code.only", source=CODE))
    keys = sorted(o["Key"] for o in client_for(server).list_objects_v2(Bucket=bucket)["Contents"])
    records = [k.split("/")[-1].split("-", 2)[2] for k in keys if k.startswith("team/specs/.dli/changes/")]
    assert sorted(records) == ["code-shop.code.only", f"manual-{NAME}"]
    assert [k for k in keys if "/.dli/" not in k] == [
        "team/specs/code/shop.code.only.yaml",
        f"team/specs/manual/{NAME}.yaml",
    ]
    assert _stored(server, bucket, f"team/specs/manual/{NAME}.yaml") == document_to_bytes(manual)


def test_a_bulk_call_records_its_writes_every_batch_size_and_at_its_end(moto_server, monkeypatch):
    _use(moto_server, monkeypatch)
    monkeypatch.setattr("dli.adapters.stores._s3_feed.BATCH_SIZE", 4)
    bucket = moto_server.new_bucket()
    store = S3SpecStore.from_url(f"s3://{bucket}/p")
    names = [f"shop.n{i}" for i in range(10)]
    outcomes = store.run_all([lambda name=name: store.create(CODE, make_document(name, source=CODE)) for name in names])
    assert all(isinstance(outcome, str) for outcome in outcomes)
    listed = client_for(moto_server).list_objects_v2(Bucket=bucket, Prefix="p/.dli/changes/")["Contents"]
    assert sorted(int(o["Key"].rsplit("-", 1)[1]) for o in listed) == [2, 4, 4]  # batch-<count>
    # A new reader (another replica) reads each batch record once, and answers each write once.
    reader = S3SpecStore.from_url(f"s3://{bucket}/p")
    assert sorted(change.name for change in reader.recent_changes(seconds=60)) == names
    gets: list[str] = []
    reader._client.meta.events.register("before-send.s3", lambda request, **_: gets.append(request.method))
    assert sorted(change.name for change in reader.recent_changes(seconds=60)) == names
    assert gets == ["GET"]  # the listing only: the records were read before


def test_a_change_record_that_cannot_be_written_never_fails_the_writes_that_persisted(moto_server, monkeypatch):
    _use(moto_server, monkeypatch)
    bucket = moto_server.new_bucket()
    store = S3SpecStore.from_url(f"s3://{bucket}/p")

    def refuse_records(params, **_):
        if "/.dli/changes/" in params["url_path"]:
            raise EndpointConnectionError(endpoint_url=params["url"])

    store._client.meta.events.register("before-call.s3.PutObject", refuse_records)
    names = ["shop.a", "shop.b", "shop.c"]
    outcomes = store.run_all([lambda name=name: store.create(CODE, make_document(name, source=CODE)) for name in names])
    assert all(isinstance(outcome, str) for outcome in outcomes)
    assert sorted(store.list_etags(CODE)) == names
    single = store.create(MANUAL, make_document("shop.d"))
    assert store.read(MANUAL, "shop.d").etag == single
    assert store.recent_changes(seconds=60) == []


def test_a_bucket_without_prefix_uses_top_level_keys(server, bucket):
    store = S3SpecStore.from_url(f"s3://{bucket}")
    store.create(MANUAL, make_document())
    assert store.url == f"s3://{bucket}"
    assert _stored(server, bucket, f"manual/{NAME}.yaml")
    assert list(store.list_etags(MANUAL)) == [NAME]


def test_a_spec_uploaded_by_other_tools_is_read(server, bucket, store):
    client_for(server).put_object(
        Bucket=bucket,
        Key=f"team/specs/code/{NAME}.yaml",
        Body=f"name: {NAME}\nquery_statement: SELECT 1\nschedule:\n  cron: '0 4 * * *'\n".encode(),
    )
    versioned = store.read(CODE, NAME)
    assert versioned.document.schedule.cron == "0 4 * * *"
    assert versioned.document.source_type is CODE
    assert store.list_etags(CODE)[NAME] == versioned.etag


def test_listing_ignores_nested_foreign_and_probe_keys(server, bucket, store):
    store.create(MANUAL, make_document())  # the first write also runs the conditional-write probe
    client = client_for(server)
    for key in (
        "team/specs/manual/archive/old.yaml",
        "team/specs/manual/notes.txt",
        "team/specs/manual/Bad Name.yaml",
        "team/specs/manualx/other.yaml",
    ):
        client.put_object(Bucket=bucket, Key=key, Body=b"name: x\n")
    assert list(store.list_etags(MANUAL)) == [NAME]
    left = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="team/specs/.dli/").get("Contents", [])]
    assert [key for key in left if not key.startswith("team/specs/.dli/changes/")] == []  # the probe cleaned up


def test_listing_pages_through_thousands_of_keys(moto_server, monkeypatch):
    _use(moto_server, monkeypatch)
    bucket = moto_server.new_bucket()
    client = client_for(moto_server)
    names = [f"shop.bulk.t{i:05d}" for i in range(2500)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: client.put_object(Bucket=bucket, Key=f"p/manual/{n}.yaml", Body=n.encode()), names))
    etags = S3SpecStore.from_url(f"s3://{bucket}/p").list_etags(MANUAL)
    assert list(etags) == names  # more than two pages of 1,000
    assert len(set(etags.values())) == len(names)


# -- conditional writes ---------------------------------------------------------------------------


def test_the_probe_finds_what_each_server_enforces(server, store):
    store.create(MANUAL, make_document())
    found = store.conditional_writes
    assert (found.if_none_match, found.if_match) == (server.enforces_conditional_writes,) * 2


def test_twenty_parallel_creates_on_moto_have_one_winner_and_its_exact_bytes(moto_server, monkeypatch):
    _use(moto_server, monkeypatch)
    bucket = moto_server.new_bucket()
    documents = [make_document(registered_by=f"user{i:02d}", cron=f"{i} 9 * * *") for i in range(20)]
    stores = [S3SpecStore.from_url(f"s3://{bucket}/p") for _ in documents]
    barrier = threading.Barrier(len(documents))

    def register(i: int) -> str:
        barrier.wait()
        try:
            stores[i].create(MANUAL, documents[i])
        except WorkflowAlreadyExistsError as exc:
            assert exc.code.value == "DLI-804"
            return "refused"
        return "won"

    with ThreadPoolExecutor(len(documents)) as pool:
        outcomes = list(pool.map(register, range(len(documents))))
    assert outcomes.count("won") == 1
    assert outcomes.count("refused") == len(documents) - 1
    winner = documents[outcomes.index("won")]
    assert _stored(moto_server, bucket, f"p/manual/{NAME}.yaml") == document_to_bytes(winner)


def test_parallel_replaces_of_one_version_on_moto_have_one_winner(moto_server, monkeypatch):
    _use(moto_server, monkeypatch)
    bucket = moto_server.new_bucket()
    etag = S3SpecStore.from_url(f"s3://{bucket}/p").create(MANUAL, make_document())
    documents = [make_document(registered_by=f"user{i:02d}", cron=f"{i} 8 * * *") for i in range(10)]
    stores = [S3SpecStore.from_url(f"s3://{bucket}/p") for _ in documents]
    for s in stores:  # probe first, so that the replaces race each other and not the probes
        s.list_etags(MANUAL)
        s._enforced()
    barrier = threading.Barrier(len(documents))

    def update(i: int) -> str:
        barrier.wait()
        try:
            stores[i].replace(MANUAL, documents[i], etag=etag)
        except WorkflowRegistrationError:
            return "stale"
        return "won"

    with ThreadPoolExecutor(len(documents)) as pool:
        outcomes = list(pool.map(update, range(len(documents))))
    assert outcomes.count("won") == 1
    assert _stored(moto_server, bucket, f"p/manual/{NAME}.yaml") == document_to_bytes(documents[outcomes.index("won")])


def test_without_enforcement_a_create_that_lost_the_race_reports_already_exists(rclone_server, monkeypatch):
    # rclone ignores If-None-Match: a concurrent creator's bytes replace ours between our put and
    # our read-back. We then report DLI-804 instead of a success that did not stick.
    _use(rclone_server, monkeypatch)
    bucket = rclone_server.new_bucket()
    store = S3SpecStore.from_url(f"s3://{bucket}/p")
    store._enforced()
    other = make_document(registered_by="bob")
    real_put = store._put

    def put_then_lose(key, raw, **conditions):
        response = real_put(key, raw, **conditions)
        client_for(rclone_server).put_object(Bucket=bucket, Key=key, Body=document_to_bytes(other))
        return response

    store._put = put_then_lose
    with pytest.raises(WorkflowAlreadyExistsError):
        store.create(MANUAL, make_document(registered_by="alice"))
    assert S3SpecStore.from_url(f"s3://{bucket}/p").read(MANUAL, NAME).document.registered_by == "bob"


# -- errors ---------------------------------------------------------------------------------------


def _assert_names_store_without_secrets(exc: DLIError, url: str, *secrets: str) -> None:
    assert exc.code.value == "DLI-503"
    assert url in exc.message
    text = " ".join([str(exc), repr(exc), *exc.hints, json.dumps(exc.details)])
    for secret in secrets:
        assert secret not in text


def test_missing_bucket_is_store_unavailable_naming_the_store(server):
    store = S3SpecStore.from_url("s3://no-such-bucket-dli/p")
    for action in (
        lambda: store.list_etags(MANUAL),
        lambda: store.read(MANUAL, NAME),
        lambda: store.create(MANUAL, make_document()),
    ):
        with pytest.raises(StoreUnavailableError) as info:
            action()
        _assert_names_store_without_secrets(info.value, "s3://no-such-bucket-dli/p", server.secret_key)
        assert "does not exist" in info.value.message


def test_wrong_secret_is_store_unavailable_without_the_secret(rclone_server, monkeypatch):
    _use(rclone_server, monkeypatch)
    bucket = rclone_server.new_bucket()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    store = S3SpecStore.from_url(f"s3://{bucket}/p")
    with pytest.raises(StoreUnavailableError) as info:
        store.list_etags(MANUAL)
    _assert_names_store_without_secrets(info.value, f"s3://{bucket}/p", "wrong-secret-value", rclone_server.secret_key)
    assert "credentials were rejected" in info.value.message


def test_missing_credentials_are_store_unavailable(rclone_server, monkeypatch):
    _use(rclone_server, monkeypatch)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StoreUnavailableError) as info:
        S3SpecStore.from_url("s3://some-bucket/p").list_etags(MANUAL)
    assert "no AWS credentials" in info.value.message


def test_access_denied_is_store_unavailable_and_nothing_is_written(moto_server, monkeypatch):
    _use(moto_server, monkeypatch)
    bucket = moto_server.new_bucket()
    import boto3

    admin = boto3.session.Session().client("iam", endpoint_url=moto_server.endpoint_url, region_name="us-east-1")
    admin.create_user(UserName="reader")
    admin.put_user_policy(
        UserName="reader",
        PolicyName="read-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    # s3:ListBucket is what AWS checks for a listing; moto 5.2.6 checks the operation's name
                    # (s3:ListObjectsV2) instead. Granting both reads the same on either, and still grants
                    # nothing that writes.
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:ListBucket", "s3:ListObjectsV2"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    key = admin.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    store = S3SpecStore.from_url(f"s3://{bucket}/p")
    with moto_auth_enforced(moto_server):
        assert store.list_etags(MANUAL) == {}
        with pytest.raises(StoreUnavailableError) as info:
            store.create(MANUAL, make_document())
    _assert_names_store_without_secrets(info.value, f"s3://{bucket}/p", key["SecretAccessKey"])
    assert "access denied" in info.value.message
    assert client_for(moto_server).list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_unreachable_endpoint_is_store_unavailable_naming_store_and_endpoint(monkeypatch, moto_server):
    _use(moto_server, monkeypatch)
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    store = S3SpecStore.from_url("s3://some-bucket/p")
    with pytest.raises(StoreUnavailableError) as info:
        store.read(MANUAL, NAME)
    assert "s3://some-bucket/p" in info.value.message and endpoint in info.value.message
    assert "unreachable" in info.value.message


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3:///prefix", "s3://AB/p", "s3://key:secret-in-url@bucket/p", "s3://bucket/p?x=1"],
)
def test_malformed_s3_urls_are_configuration_errors_without_secrets(url):
    with pytest.raises(ConfigurationError) as info:
        S3SpecStore.from_url(url)
    assert info.value.code.value == "DLI-001"
    assert "secret-in-url" not in str(info.value)


def test_unknown_store_scheme_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        build_store("ftp://example.com/specs")
