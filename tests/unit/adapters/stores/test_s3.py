"""The S3 store's timeouts and retries: a hung endpoint is a DLI-503 naming the store; a write is never sent twice.

The SpecStore contract over real S3 servers is in tests/contract/test_spec_store_s3.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from dli.adapters.stores.s3 import ConditionalWrites, S3SpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import StoreUnavailableError, WorkflowAlreadyExistsError
from tests.support.hanging_server import hanging_server
from tests.support.specs import make_document

ENDPOINT = "http://s3.test:9000"
SECRET = "s3cret-key-value"


class ScriptedS3:
    """Just enough of a boto3 S3 client: each operation fails as scripted, then succeeds."""

    def __init__(self, **failures: list[Exception]) -> None:
        self.meta = SimpleNamespace(endpoint_url=ENDPOINT, config=SimpleNamespace(connect_timeout=3, read_timeout=10))
        self._failures = failures
        self.calls: list[str] = []

    def _next(self, operation: str) -> None:
        self.calls.append(operation)
        pending = self._failures.get(operation) or []
        if pending:
            raise pending.pop(0)

    def put_object(self, **kwargs: Any) -> dict[str, str]:
        # The change record a write leaves under .dli/changes/ (the store's change feed).
        self._next("record_change" if "/.dli/changes/" in kwargs["Key"] else "put_object")
        return {"ETag": '"e1"'}

    def get_object(self, **_: Any) -> dict[str, Any]:
        self._next("get_object")
        raise ClientError({"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetObject")

    def head_object(self, **_: Any) -> dict[str, Any]:
        self._next("head_object")
        raise ClientError({"Error": {"Code": "404"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "HeadObject")


def _store(client: ScriptedS3) -> S3SpecStore:
    return S3SpecStore(
        bucket="bkt",
        prefix="p",
        client=client,
        sleep=lambda _s: None,
        conditional_writes=ConditionalWrites(if_none_match=True, if_match=True),
    )


def _gateway(status: int) -> ClientError:
    return ClientError({"Error": {"Code": str(status)}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize("failure", [ConnectionClosedError(endpoint_url=ENDPOINT), _gateway(503), _gateway(502)])
def test_a_read_is_repeated_after_a_broken_connection_or_a_gateway_answer(failure) -> None:
    client = ScriptedS3(get_object=[failure])
    assert _store(client).read(SourceType.MANUAL, "shop.a") is None
    assert client.calls == ["get_object", "get_object"]


def test_a_write_is_repeated_when_the_connection_was_never_made() -> None:
    client = ScriptedS3(put_object=[EndpointConnectionError(endpoint_url=ENDPOINT)])
    assert _store(client).create(SourceType.MANUAL, make_document("shop.a")) == "e1"
    assert client.calls == ["put_object", "put_object", "record_change"]


@pytest.mark.parametrize("failure", [ReadTimeoutError(endpoint_url=ENDPOINT), _gateway(403)])
def test_a_write_that_persisted_succeeds_when_its_change_record_fails(failure) -> None:
    client = ScriptedS3(record_change=[failure])
    assert _store(client).create(SourceType.MANUAL, make_document("shop.a")) == "e1"
    assert client.calls == ["put_object", "record_change"]


def test_a_refused_write_records_no_change() -> None:
    refused = ClientError(
        {"Error": {"Code": "PreconditionFailed"}, "ResponseMetadata": {"HTTPStatusCode": 412}}, "PutObject"
    )
    client = ScriptedS3(put_object=[refused])
    with pytest.raises(WorkflowAlreadyExistsError):
        _store(client).create(SourceType.MANUAL, make_document("shop.a"))
    assert client.calls == ["put_object"]


def _conflict() -> ClientError:
    error = {"Error": {"Code": "ConditionalRequestConflict"}, "ResponseMetadata": {"HTTPStatusCode": 409}}
    return ClientError(error, "PutObject")


def test_a_create_that_met_a_concurrent_write_to_a_key_still_free_is_sent_again() -> None:
    client = ScriptedS3(put_object=[_conflict()])
    assert _store(client).create(SourceType.MANUAL, make_document("shop.a")) == "e1"
    assert client.calls == ["put_object", "head_object", "put_object", "record_change"]


def test_a_create_that_keeps_meeting_concurrent_writes_is_already_exists_after_three_attempts() -> None:
    client = ScriptedS3(put_object=[_conflict(), _conflict(), _conflict(), _conflict()])
    with pytest.raises(WorkflowAlreadyExistsError):
        _store(client).create(SourceType.MANUAL, make_document("shop.a"))
    assert client.calls == ["put_object", "head_object"] * 3


@pytest.mark.parametrize(
    "failure", [ReadTimeoutError(endpoint_url=ENDPOINT), ConnectionClosedError(endpoint_url=ENDPOINT)]
)
def test_a_write_that_may_have_reached_s3_is_never_sent_twice(failure) -> None:
    client = ScriptedS3(put_object=[failure])
    with pytest.raises(StoreUnavailableError):
        _store(client).create(SourceType.MANUAL, make_document("shop.a"))
    assert client.calls == ["put_object"]


def test_a_read_timeout_is_not_repeated_and_names_the_store_and_the_timeout() -> None:
    client = ScriptedS3(get_object=[ReadTimeoutError(endpoint_url=ENDPOINT)])
    with pytest.raises(StoreUnavailableError) as caught:
        _store(client).read(SourceType.MANUAL, "shop.a")
    assert caught.value.message == "Spec store s3://bkt/p did not answer in 10 s"
    assert ENDPOINT in " ".join(caught.value.hints)
    assert client.calls == ["get_object"]


@pytest.mark.slow
@pytest.mark.timeout(40)
def test_a_hung_s3_endpoint_is_asked_once_and_is_dli_503_naming_the_store(monkeypatch) -> None:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with hanging_server() as server:
        store = S3SpecStore.from_url("s3://hung-bucket/team", endpoint_url=server.url)
        with pytest.raises(StoreUnavailableError) as caught:
            store.read(SourceType.MANUAL, "shop.a")
    assert caught.value.code.value == "DLI-503"
    assert caught.value.message == "Spec store s3://hung-bucket/team did not answer in 10 s"
    assert server.url in " ".join(caught.value.hints)
    assert server.connections == 1
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.details)
