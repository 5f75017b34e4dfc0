"""S3 spec store (``s3://bucket/prefix``): ``<prefix>/code/<name>.yaml`` and ``<prefix>/manual/<name>.yaml``.

boto3 is imported here only. Credentials come from boto3's standard chain (environment, profile,
instance role...) and ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` select an S3-compatible service.

Conditional writes: a create sends ``If-None-Match: *`` and a replace ``If-Match: <etag>``. Not every
S3-compatible service enforces them (``rclone serve s3`` ignores both), so the store probes the service
once, on its first write, under ``<prefix>/.dli/``; where they are not enforced it falls back to a best
effort (check before writing, read back after creating) that narrows the race but cannot close it.
docs/stores.md describes exactly what can happen then.

Timeouts are short (connect 3 s, read 10 s by default) and botocore's own retries are off: the shared
rule of ``dli.adapters.http_retry`` decides instead, so that a conditional put is never sent twice
(botocore would repeat one after a read timeout, and the second put, refused by the first one's
success, would report a conflict that did not happen). A hung endpoint is a DLI-503 naming the store
within about ten seconds.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3
import botocore.session
import tenacity
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dli.adapters.codecs.specs import document_from_bytes, document_to_bytes
from dli.adapters.http_retry import DEFAULT_POLICY, RetryPolicy
from dli.adapters.stores._s3_calls import (
    CONFLICT,
    MISSING_KEY,
    PRECONDITION,
    SUFFIX,
    error_code,
    response_etag,
    status,
    valid_name,
    without_userinfo,
)
from dli.adapters.stores._s3_feed import S3ChangeFeed, _PendingChanges
from dli.adapters.stores._s3_published import S3PublishedIndex
from dli.adapters.stores._s3_snapshot import S3Snapshot
from dli.adapters.stores._shared import already_exists, changed_since_read, etag_of
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ConfigurationError, DLIError, SpecInvalidError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.spec import SpecDocument
from dli.ports.spec_store import NOT_STARTED, VersionedDocument

__all__ = ["ConditionalWrites", "S3SpecStore"]

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_T = TypeVar("_T")
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 32
"""S3 requests a bulk read or write keeps in flight (and the client's connection pool size)."""


class ConditionalWrites:
    """What the service was found to enforce (``None`` until the first write probes it)."""

    def __init__(self, *, if_none_match: bool, if_match: bool) -> None:
        self.if_none_match = if_none_match
        """Whether a put with ``If-None-Match: *`` is refused when the key exists."""
        self.if_match = if_match
        """Whether a put with ``If-Match: <etag>`` is refused when the etag differs."""

    def __repr__(self) -> str:
        return f"ConditionalWrites(if_none_match={self.if_none_match}, if_match={self.if_match})"


class _ConcurrentWrite(Exception):
    """S3 refused a create with 409 Conflict (another write to the key in flight) and the key is free."""


class S3SpecStore(S3ChangeFeed, S3PublishedIndex, S3Snapshot):
    """The SpecStore port over an S3 bucket (or any S3-compatible service)."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        client: Any,
        conditional_writes: ConditionalWrites | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._bucket = bucket
        self._concurrency = max(1, concurrency)
        # The published-spec index as last read, by source: (name -> (etag, digest)).
        self._published = {}
        self._pending = threading.local()
        self._batches = {}
        self._prefix = prefix.strip("/")
        self._client = client
        self._conditional = conditional_writes
        self._policy = retry_policy
        self._sleep = sleep
        self._probe_lock = threading.Lock()
        endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
        self._endpoint = without_userinfo(endpoint) if endpoint else None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
    ) -> S3SpecStore:
        """The store for ``s3://bucket[/prefix]``, with boto3's standard configuration.

        ``endpoint_url`` overrides ``AWS_ENDPOINT_URL``; the timeouts (seconds) and ``retry_policy``
        keep an unreachable or hung endpoint from hanging a command.
        """
        parts = urlsplit(url)
        bucket = parts.netloc
        if parts.scheme != "s3" or not bucket:
            raise ConfigurationError(f"Invalid S3 store URL {url!r}", hints=("Use s3://bucket/prefix.",))
        if "@" in bucket or not _BUCKET.fullmatch(bucket):
            raise ConfigurationError(
                f"Invalid S3 bucket name in store URL {without_userinfo(url)!r}",
                hints=(
                    "Bucket names are 3-63 lowercase letters, digits, '.' and '-'; put credentials in "
                    "the environment or an AWS profile, never in the URL.",
                ),
            )
        if parts.query or parts.fragment:
            raise ConfigurationError(f"S3 store URL {url!r} must not have a query or fragment")
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},  # the store retries (module docstring)
            # S3-compatible services often reject the newer default CRC checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"} if endpoint_url else None,
            # Bulk reads and writes keep DEFAULT_CONCURRENCY requests in flight (botocore's pool: 10).
            max_pool_connections=DEFAULT_CONCURRENCY,
        )
        core = botocore.session.get_session()
        # dli reads no date of a response, and botocore's date parsing is most of the CPU a listing
        # costs (about 0.25 ms a key: 2.5 s of the override check's 10,000 keys).
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
        try:
            client = boto3.session.Session(botocore_session=core).client("s3", endpoint_url=endpoint_url, config=config)
        except (BotoCoreError, ValueError) as exc:
            raise ConfigurationError(f"Cannot configure the S3 client for {url!r}: {type(exc).__name__}") from None
        return cls(bucket=bucket, prefix=parts.path, client=client, retry_policy=retry_policy)

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}" if self._prefix else f"s3://{self._bucket}"

    @property
    def conditional_writes(self) -> ConditionalWrites | None:
        """What the service enforces, once probed (or as given)."""
        return self._conditional

    # -- reads ---------------------------------------------------------------------------------

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        folder = self._folder(source)

        def run() -> dict[str, str]:
            etags: dict[str, str] = {}
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=folder, Delimiter="/"):
                for item in page.get("Contents", ()):
                    name = item["Key"][len(folder) :]
                    if name.endswith(SUFFIX) and valid_name(name[: -len(SUFFIX)]):
                        etags[name[: -len(SUFFIX)]] = response_etag(item)
            return dict(sorted(etags.items()))

        return self._call("list", run)

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        if not valid_name(name):
            return None
        fetched = self._get(self._key(source, name))
        if fetched is None:
            return None
        raw, etag = fetched
        document = document_from_bytes(raw, where=f"{self.url}/{source.value}/{name}{SUFFIX}", source=source)
        return VersionedDocument(document=document, etag=etag)

    # -- writes --------------------------------------------------------------------------------

    def create(self, source: SourceType, document: SpecDocument) -> str:
        raw = document_to_bytes(document)
        key = self._key(source, validate_dataset_name(document.name))
        enforced = self._enforced().if_none_match
        if not enforced and self._head(key) is not None:
            raise already_exists(source, document.name)

        def attempt() -> str:
            try:
                extra = {"IfNoneMatch": "*"} if enforced else {}
                response = self._call("write", lambda: self._put(key, raw, **extra), passthrough=True)
            except ClientError as exc:
                code = error_code(exc)
                if code in PRECONDITION or status(exc) == 412:
                    raise already_exists(source, document.name) from None
                if code in CONFLICT or status(exc) == 409:
                    if self._head(key) is not None:
                        raise already_exists(source, document.name) from None
                    raise _ConcurrentWrite from None
                raise self._unavailable("write", exc) from None
            etag = response_etag(response) or etag_of(raw)
            if not enforced:
                # Read back: if a concurrent creator's bytes are there now, it won and we did not.
                fetched = self._get(key)
                if fetched is None or fetched[0] != raw:
                    raise already_exists(source, document.name)
                etag = fetched[1]
            self._record(source, document.name)
            return etag

        def gave_up(_state: tenacity.RetryCallState) -> str:
            raise already_exists(source, document.name)

        # A conflict with a write still in flight while the key stays free: try again at once, a few
        # times; a key that stays contended is as good as taken.
        conflicts = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_ConcurrentWrite),
            stop=tenacity.stop_after_attempt(3),
            retry_error_callback=gave_up,
        )
        return conflicts(attempt)

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        raw = document_to_bytes(document)
        key = self._key(source, validate_dataset_name(document.name))
        enforced = self._enforced().if_match
        if not enforced and self._head(key) != etag:
            raise changed_since_read(source, document.name)
        try:
            extra = {"IfMatch": etag} if enforced else {}
            response = self._call("write", lambda: self._put(key, raw, **extra), passthrough=True)
        except ClientError as exc:
            code = error_code(exc)
            lost_race = code in PRECONDITION | CONFLICT | MISSING_KEY or status(exc) in (404, 409, 412)
            if lost_race and code != "NoSuchBucket":
                raise changed_since_read(source, document.name) from None
            raise self._unavailable("write", exc) from None
        self._record(source, document.name)
        return response_etag(response) or etag_of(raw)

    def delete(self, source: SourceType, name: str) -> bool:
        if not valid_name(name):
            return False
        key = self._key(source, name)
        if self._head(key) is None:  # S3 deletes are idempotent and do not say whether the key existed
            return False
        self._call("delete", lambda: self._client.delete_object(Bucket=self._bucket, Key=key))
        self._record(source, name)
        return True

    # -- many at once (BulkSpecStore) ----------------------------------------------------------

    def read_many(
        self, source: SourceType, names: Iterable[str]
    ) -> Mapping[str, VersionedDocument | None | SpecInvalidError]:
        """``read`` of each name, ``concurrency`` GETs in flight; an unreadable document is its error."""
        wanted = list(names)

        def one(name: str) -> VersionedDocument | None | SpecInvalidError:
            try:
                return self.read(source, name)
            except SpecInvalidError as exc:
                return exc

        outcomes = self.run_all([lambda name=name: one(name) for name in wanted])  # type: ignore[misc]
        for outcome in outcomes:
            if isinstance(outcome, DLIError) and not isinstance(outcome, SpecInvalidError):
                raise outcome  # the store is unavailable: as ``read`` would
        return {name: outcome for name, outcome in zip(wanted, outcomes, strict=True)}

    def run_all(self, calls: Sequence[Callable[[], _T]]) -> list[Any]:
        """Run ``calls`` (this store's calls) on up to ``concurrency`` threads.

        After the first failure no further call starts (``NOT_STARTED``); those in flight finish, so
        each outcome says exactly what happened to its call. A DLIError is an outcome; any other
        exception is raised once every call in flight is done.

        The writes the calls make are recorded in the change feed together (a batch record every
        ``BATCH_SIZE`` writes, and one for the rest when the calls are done), each only once it persisted.
        """
        outcomes: list[Any] = [NOT_STARTED] * len(calls)
        failed = threading.Event()
        pending = _PendingChanges()

        def run(index: int) -> None:
            if failed.is_set():
                return
            try:
                with self._recording_together(pending):
                    outcomes[index] = calls[index]()
            except DLIError as exc:
                outcomes[index] = exc
                failed.set()
            except BaseException:
                failed.set()
                raise

        try:
            if len(calls) <= 1 or self._concurrency == 1:
                for index in range(len(calls)):
                    run(index)
                return outcomes
            workers = min(self._concurrency, len(calls))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dli-s3") as pool:
                for future in [pool.submit(run, index) for index in range(len(calls))]:
                    future.result()
            return outcomes
        finally:
            self._record_batch(pending.take())  # whatever happened to the others, these writes persisted

    # -- conditional-write probe ---------------------------------------------------------------

    def _enforced(self) -> ConditionalWrites:
        if self._conditional is None:
            with self._probe_lock:
                if self._conditional is None:
                    self._conditional = self._probe()
        return self._conditional

    def _probe(self) -> ConditionalWrites:
        """Find out, with a throwaway key, whether the service honours If-None-Match and If-Match."""
        key = f"{self._base()}.dli/probe-{uuid.uuid4().hex}"
        self._call("write", lambda: self._put(key, b"1"))
        try:
            if_none_match = self._refused(lambda: self._put(key, b"2", IfNoneMatch="*"))
            if_match = self._refused(lambda: self._put(key, b"3", IfMatch=etag_of(b"no such version")))
        finally:
            self._call("delete", lambda: self._client.delete_object(Bucket=self._bucket, Key=key))
        return ConditionalWrites(if_none_match=if_none_match, if_match=if_match)

    def _refused(self, put: Callable[[], Any]) -> bool:
        try:
            self._call("write", put, passthrough=True)
        except ClientError as exc:
            if error_code(exc) in PRECONDITION or status(exc) == 412:
                return True
            if status(exc) in (400, 501):  # header not understood: not enforced, do not send it
                return False
            raise self._unavailable("write", exc) from None
        return False
