"""What every part of the S3 spec store shares: the S3 calls (retried by the shared rule, failures as
DLI-503 naming the store), the keys, and the helpers of botocore's errors.

A base of ``S3SpecStore`` (``s3.py``), apart so that each concern of the store (documents, the change
feed, the published-spec index) is a module of its own.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

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

from dli.adapters.http_retry import RETRY_STATUSES, RetryPolicy
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError, StoreUnavailableError
from dli.domain.model.names import validate_dataset_name

SUFFIX = ".yaml"
MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
PRECONDITION = {"PreconditionFailed", "412"}
# 409: S3 saw a concurrent conditional write on the same key; the caller should look again.
CONFLICT = {"ConditionalRequestConflict", "409"}
_T = TypeVar("_T")
_READS = frozenset({"read", "list"})


def retryable(action: str, error: BaseException) -> bool:
    """``dli.adapters.http_retry``'s rule, for botocore's errors (reads are the idempotent requests)."""
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError)):
        return True  # the connection was never made: nothing was sent
    if action not in _READS or isinstance(error, ReadTimeoutError):
        return False
    if isinstance(error, ClientError):
        return status(error) in RETRY_STATUSES
    return isinstance(error, HTTPClientError)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def response_etag(response: Mapping[str, Any]) -> str:
    return str(response.get("ETag", "")).strip('"')


class S3Calls:
    """The S3 calls and keys of one store (``bucket``, ``prefix``, a boto3 ``client``)."""

    _bucket: str
    _prefix: str
    _client: Any
    _policy: RetryPolicy
    _sleep: Callable[[float], None]
    _endpoint: str | None

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}" if self._prefix else f"s3://{self._bucket}"

    def _put(self, key: str, raw: bytes, **conditions: str) -> Mapping[str, Any]:
        return self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=raw,
            ContentType="application/yaml",
            ContentMD5=content_md5(raw),
            **conditions,
        )

    def _get(self, key: str) -> tuple[bytes, str] | None:
        def run() -> tuple[bytes, str] | None:
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if error_code(exc) in MISSING_KEY:
                    return None
                raise
            return response["Body"].read(), response_etag(response)

        return self._call("read", run)

    def _head(self, key: str) -> str | None:
        """The key's etag, or None when it does not exist."""

        def run() -> str | None:
            try:
                response = self._client.head_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if status(exc) == 404 or error_code(exc) in MISSING_KEY:
                    return None
                raise
            return response_etag(response)

        return self._call("read", run)

    def _call(self, action: str, run: Callable[[], _T], *, passthrough: bool = False) -> _T:
        """Run an S3 call, repeated where that is safe, turning failures into DLI-503 naming the store."""
        try:
            return self._policy.call(run, retry_error=lambda error: retryable(action, error), sleep=self._sleep)
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
        code = error_code(exc) or str(status(exc))
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
        return f"{self._folder(source)}{name}{SUFFIX}"

    def _changes_folder(self) -> str:
        return f"{self._base()}.dli/changes/"


def valid_name(name: str) -> bool:
    try:
        validate_dataset_name(name)
    except SpecInvalidError:
        return False
    return True


def content_md5(raw: bytes) -> str:
    return base64.b64encode(hashlib.md5(raw, usedforsecurity=False).digest()).decode()


def without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
