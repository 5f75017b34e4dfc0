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

import datetime as dt
import hashlib
import json
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
import structlog
import tenacity
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
)

from dli.adapters.codecs.specs import document_from_bytes, document_to_bytes, spec_to_dict
from dli.adapters.http_retry import DEFAULT_POLICY, RETRY_STATUSES, RetryPolicy
from dli.adapters.stores._shared import already_exists, changed_since_read, etag_of
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ConfigurationError, DLIError, SpecInvalidError, StoreUnavailableError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.ports.change_feed import SpecChange
from dli.ports.spec_store import NOT_STARTED, VersionedDocument

__all__ = ["ConditionalWrites", "S3SpecStore"]

_SUFFIX = ".yaml"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
_PRECONDITION = {"PreconditionFailed", "412"}
# 409: S3 saw a concurrent conditional write on the same key; the caller should look again.
_CONFLICT = {"ConditionalRequestConflict", "409"}
_T = TypeVar("_T")
_SOURCE_VALUES = frozenset(s.value for s in SourceType)
_READS = frozenset({"read", "list"})
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 32
"""S3 requests a bulk read or write keeps in flight (and the client's connection pool size)."""
# The digest scheme of the published-spec index (``.dli/published-<source>.json``): a new scheme
# makes every entry a miss, never a wrong hit.
_DIGEST_SCHEME = "sha256:spec_to_dict:json-sorted:1"


def _retryable(action: str, error: BaseException) -> bool:
    """``dli.adapters.http_retry``'s rule, for botocore's errors (reads are the idempotent requests)."""
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError)):
        return True  # the connection was never made: nothing was sent
    if action not in _READS or isinstance(error, ReadTimeoutError):
        return False
    if isinstance(error, ClientError):
        return _status(error) in RETRY_STATUSES
    return isinstance(error, HTTPClientError)


class ConditionalWrites:
    """What the service was found to enforce (``None`` until the first write probes it)."""

    def __init__(self, *, if_none_match: bool, if_match: bool) -> None:
        self.if_none_match = if_none_match
        """Whether a put with ``If-None-Match: *`` is refused when the key exists."""
        self.if_match = if_match
        """Whether a put with ``If-Match: <etag>`` is refused when the etag differs."""

    def __repr__(self) -> str:
        return f"ConditionalWrites(if_none_match={self.if_none_match}, if_match={self.if_match})"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _etag(response: Mapping[str, Any]) -> str:
    return str(response.get("ETag", "")).strip('"')


class _ConcurrentWrite(Exception):
    """S3 refused a create with 409 Conflict (another write to the key in flight) and the key is free."""


class S3SpecStore:
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
        self._published: dict[SourceType, dict[str, tuple[str, str]]] = {}
        self._prefix = prefix.strip("/")
        self._client = client
        self._conditional = conditional_writes
        self._policy = retry_policy
        self._sleep = sleep
        self._probe_lock = threading.Lock()
        endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
        self._endpoint = _without_userinfo(endpoint) if endpoint else None

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
                f"Invalid S3 bucket name in store URL {_without_userinfo(url)!r}",
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
                    if name.endswith(_SUFFIX) and _valid_name(name[: -len(_SUFFIX)]):
                        etags[name[: -len(_SUFFIX)]] = _etag(item)
            return dict(sorted(etags.items()))

        return self._call("list", run)

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        if not _valid_name(name):
            return None
        fetched = self._get(self._key(source, name))
        if fetched is None:
            return None
        raw, etag = fetched
        document = document_from_bytes(raw, where=f"{self.url}/{source.value}/{name}{_SUFFIX}", source=source)
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
                code = _error_code(exc)
                if code in _PRECONDITION or _status(exc) == 412:
                    raise already_exists(source, document.name) from None
                if code in _CONFLICT or _status(exc) == 409:
                    if self._head(key) is not None:
                        raise already_exists(source, document.name) from None
                    raise _ConcurrentWrite from None
                raise self._unavailable("write", exc) from None
            etag = _etag(response) or etag_of(raw)
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
            code = _error_code(exc)
            lost_race = code in _PRECONDITION | _CONFLICT | _MISSING_KEY or _status(exc) in (404, 409, 412)
            if lost_race and code != "NoSuchBucket":
                raise changed_since_read(source, document.name) from None
            raise self._unavailable("write", exc) from None
        self._record(source, document.name)
        return _etag(response) or etag_of(raw)

    def delete(self, source: SourceType, name: str) -> bool:
        if not _valid_name(name):
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
        """
        outcomes: list[Any] = [NOT_STARTED] * len(calls)
        failed = threading.Event()

        def run(index: int) -> None:
            if failed.is_set():
                return
            try:
                outcomes[index] = calls[index]()
            except DLIError as exc:
                outcomes[index] = exc
                failed.set()
            except BaseException:
                failed.set()
                raise

        if len(calls) <= 1 or self._concurrency == 1:
            for index in range(len(calls)):
                run(index)
            return outcomes
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(calls)), thread_name_prefix="dli-s3") as pool:
            for future in [pool.submit(run, index) for index in range(len(calls))]:
                future.result()
        return outcomes

    # -- the published-spec index (PublishedSpecIndex) -----------------------------------------

    def known_specs(
        self, source: SourceType, listed: Mapping[str, str], candidates: Mapping[str, DatasetSpec]
    ) -> set[str]:
        """Names whose document at its listed etag holds the candidate spec, by the index under
        ``<prefix>/.dli/published-<source>.json`` (one GET; an etag that moved is a miss).

        The index is only a shortcut: an entry names the etag it was true at, and S3 changes a key's
        etag with its bytes, so a stale or foreign entry can only make the caller read."""
        index = self._published[source] = self._read_published_index(source)
        known: set[str] = set()
        for name, spec in candidates.items():
            entry = index.get(name)
            if entry is not None and name in listed and entry[0] == listed[name] and entry[1] == _spec_digest(spec):
                known.add(name)
        return known

    def remember_specs(self, source: SourceType, specs: Mapping[str, tuple[str, DatasetSpec]]) -> None:
        entries = {name: (etag, _spec_digest(spec)) for name, (etag, spec) in sorted(specs.items())}
        if entries == self._published.get(source):
            return  # nothing new: a publish that changed nothing writes nothing
        body = json.dumps(
            {"scheme": _DIGEST_SCHEME, "specs": {n: list(e) for n, e in entries.items()}}, separators=(",", ":")
        ).encode()
        key = self._published_index_key(source)
        try:
            self._call("write", lambda: self._client.put_object(Bucket=self._bucket, Key=key, Body=body))
        except DLIError as exc:
            structlog.get_logger("dli.s3_store").warning(
                "published_index_not_written", store=self.url, source=source.value, error=exc.message
            )
            return
        self._published[source] = entries

    def _read_published_index(self, source: SourceType) -> dict[str, tuple[str, str]]:
        try:
            fetched = self._get(self._published_index_key(source))
        except DLIError:
            return {}  # a shortcut only: without it, the documents are read
        if fetched is None:
            return {}
        try:
            data = json.loads(fetched[0])
            if data.get("scheme") != _DIGEST_SCHEME:
                return {}
            return {str(n): (str(e[0]), str(e[1])) for n, e in data["specs"].items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return {}

    def _published_index_key(self, source: SourceType) -> str:
        return f"{self._base()}.dli/published-{source.value}.json"

    # -- the change feed (ChangeFeed) ----------------------------------------------------------

    def recent_changes(self, *, seconds: float) -> Sequence[SpecChange]:
        """The writes recorded under ``<prefix>/.dli/changes/`` in about the last ``seconds``.

        One listing that starts after the window's first key: on S3 it costs the changes, not the store.
        """
        folder = self._changes_folder()
        since = f"{folder}{_stamp(time.time() - max(seconds, 0.0))}"

        def run() -> list[SpecChange]:
            changes: list[SpecChange] = []
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=folder, StartAfter=since):
                for item in page.get("Contents", ()):
                    change = _change_of(item["Key"][len(folder) :])
                    if change is not None:
                        changes.append(change)
            return changes

        return self._call("list", run)

    def _record(self, source: SourceType, name: str) -> None:
        """Record a write that persisted; a failure to record it is logged, never reported as the write's.

        Readers that miss the record see the write at their next full listing.
        """
        key = f"{self._changes_folder()}{_stamp(time.time())}-{uuid.uuid4().hex[:8]}-{source.value}-{name}"
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=b"")
        except (ClientError, BotoCoreError) as exc:
            structlog.get_logger("dli.s3_store").warning(
                "spec_change_not_recorded",
                store=self.url,
                source=source.value,
                dataset_name=name,
                error=type(exc).__name__,
            )

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
            if _error_code(exc) in _PRECONDITION or _status(exc) == 412:
                return True
            if _status(exc) in (400, 501):  # header not understood: not enforced, do not send it
                return False
            raise self._unavailable("write", exc) from None
        return False

    # -- S3 calls ------------------------------------------------------------------------------

    def _put(self, key: str, raw: bytes, **conditions: str) -> Mapping[str, Any]:
        return self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=raw,
            ContentType="application/yaml",
            ContentMD5=_content_md5(raw),
            **conditions,
        )

    def _get(self, key: str) -> tuple[bytes, str] | None:
        def run() -> tuple[bytes, str] | None:
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if _error_code(exc) in _MISSING_KEY:
                    return None
                raise
            return response["Body"].read(), _etag(response)

        return self._call("read", run)

    def _head(self, key: str) -> str | None:
        """The key's etag, or None when it does not exist."""

        def run() -> str | None:
            try:
                response = self._client.head_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if _status(exc) == 404 or _error_code(exc) in _MISSING_KEY:
                    return None
                raise
            return _etag(response)

        return self._call("read", run)

    def _call(self, action: str, run: Callable[[], _T], *, passthrough: bool = False) -> _T:
        """Run an S3 call, repeated where that is safe, turning failures into DLI-503 naming the store."""
        try:
            return self._policy.call(run, retry_error=lambda error: _retryable(action, error), sleep=self._sleep)
        except ClientError as exc:
            if passthrough:
                raise
            raise self._unavailable(action, exc) from None
        except (NoCredentialsError, PartialCredentialsError):
            raise StoreUnavailableError(
                f"Spec store {self.url} cannot {action}: no AWS credentials found",
                hints=("Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or use an instance role.",),
                details={"store": self.url},
            ) from None
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise self._timed_out(exc) from None
        except BotoCoreError as exc:
            where = f" at {self._endpoint}" if self._endpoint else ""
            raise StoreUnavailableError(
                f"Spec store {self.url} cannot {action}: the S3 endpoint{where} is unreachable ({type(exc).__name__})",
                hints=("Check AWS_ENDPOINT_URL, the network, and that the S3 service is running.",),
                details={"store": self.url},
            ) from None

    def _timed_out(self, exc: ConnectTimeoutError | ReadTimeoutError) -> StoreUnavailableError:
        config = getattr(getattr(self._client, "meta", None), "config", None)
        setting = "connect_timeout" if isinstance(exc, ConnectTimeoutError) else "read_timeout"
        waited = getattr(config, setting, None)
        after = f" in {waited:g} s" if isinstance(waited, (int, float)) else " in time"
        where = f"the S3 endpoint at {self._endpoint}" if self._endpoint else "the S3 endpoint"
        return StoreUnavailableError(
            f"Spec store {self.url} did not answer{after}",
            hints=(f"Check that {where} is up and not overloaded.",),
            details={"store": self.url},
        )

    def _unavailable(self, action: str, exc: ClientError) -> StoreUnavailableError:
        code = _error_code(exc) or str(_status(exc))
        if code == "NoSuchBucket":
            reason, hint = f"bucket '{self._bucket}' does not exist", "Create the bucket or fix the store URL."
        elif code in (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
            "AuthorizationHeaderMalformed",
            "InvalidClientTokenId",
        ):
            reason, hint = f"the S3 credentials were rejected ({code})", "Check the AWS credentials in use."
        elif code in ("AccessDenied", "403", "AllAccessDisabled"):
            reason, hint = "access denied", "Grant s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject."
        else:
            reason, hint = f"S3 error {code}", "Retry; if it persists, check the S3 service."
        return StoreUnavailableError(
            f"Spec store {self.url} cannot {action}: {reason}",
            hints=(hint,),
            details={"store": self.url, "s3_error": code},
        )

    # -- keys ----------------------------------------------------------------------------------

    def _base(self) -> str:
        return f"{self._prefix}/" if self._prefix else ""

    def _folder(self, source: SourceType) -> str:
        return f"{self._base()}{source.value}/"

    def _key(self, source: SourceType, name: str) -> str:
        return f"{self._folder(source)}{name}{_SUFFIX}"

    def _changes_folder(self) -> str:
        return f"{self._base()}.dli/changes/"


def _stamp(seconds: float) -> str:
    """A fixed-width UTC time that sorts as it reads (change keys start with it)."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y%m%dT%H%M%S%fZ")


def _change_of(marker: str) -> SpecChange | None:
    """The change a key under ``.dli/changes/`` records (``<stamp>-<random>-<source>-<name>``), if well formed."""
    parts = marker.split("-", 3)
    if len(parts) != 4 or parts[2] not in _SOURCE_VALUES or not _valid_name(parts[3]):
        return None
    return SpecChange(marker=marker, source=SourceType(parts[2]), name=parts[3])


def _valid_name(name: str) -> bool:
    try:
        validate_dataset_name(name)
    except SpecInvalidError:
        return False
    return True


def _spec_digest(spec: DatasetSpec) -> str:
    """A hash of everything a spec says (not who stored it or when): equal specs, equal digests."""
    canonical = json.dumps(spec_to_dict(spec), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _content_md5(raw: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(raw, usedforsecurity=False).digest()).decode()


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
