"""The document snapshot of the S3 store (``ListedReads``): ``<prefix>/.dli/snapshot-v1.json.gz``.

A replica's first index load reads every document: 10,000 GETs, each about 4 ms of boto3's CPU
before the YAML is even parsed. The snapshot is one compressed object holding the bytes of many
documents, so that load is one GET (plus the listing the load makes anyway) and a GET for each
document the snapshot does not hold as listed.

It is a cache keyed by content, which makes it safe whoever writes it and whenever: a document is
taken from the snapshot only when the MD5 of its bytes there equals the ETag the fresh listing gave
for its key (S3's ETag of a single-part upload, and dli's etag, is that MD5). A stale snapshot, one
written by a replica that raced a publish, a foreign or corrupt one, or none at all, only costs GETs.
Two writers of the snapshot race harmlessly: the last one wins and every entry of either is checked.

A reader that had to GET many documents (``_REWRITE_FROM``) writes a new snapshot of what it now
holds as listed, at the end of its load (one PUT). Objects whose ETag is not the MD5 of
their bytes (multipart uploads, SSE-KMS) never enter it.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from dli.adapters.codecs.specs import document_from_bytes
from dli.adapters.stores._s3_calls import SUFFIX, S3Calls
from dli.adapters.stores._shared import etag_of
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, ServerError
from dli.ports.spec_store import NotStarted, VersionedDocument

_SCHEME = "dli-snapshot-1"
_MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024  # uncompressed: refuse a decompression bomb
_REWRITE_FROM = 64
"""Documents read one by one (not found in the snapshot as listed) from which a reader writes a new
snapshot: below it, the next replica's load costs as many GETs and no PUT is worth it."""

_Outcome = VersionedDocument | None | DLIError


class S3Snapshot(S3Calls):
    """``read_listed`` of ``S3SpecStore``."""

    run_all: Callable[[Sequence[Callable[[], Any]]], list[Any]]

    def read_listed(self, keys: Sequence[tuple[SourceType, str, str]]) -> list[_Outcome]:
        """For each ``(source, name, listed etag)`` the document: from the snapshot when its bytes
        there are the listed version, else read (a GET, ``concurrency`` at once).

        Raises:
            StoreUnavailableError: The store cannot be reached or read.
        """
        snapshot = self._read_snapshot() if keys else {}
        outcomes: list[_Outcome] = [None] * len(keys)
        holds: dict[tuple[str, str], tuple[str, bytes]] = {}  # what the next snapshot may hold
        missing: list[int] = []
        for index, (source, name, etag) in enumerate(keys):
            raw = snapshot.get((source.value, name))
            if raw is not None and etag and etag_of(raw) == etag:
                outcomes[index] = self._parse(source, name, raw, etag)
                holds[(source.value, name)] = (etag, raw)
            else:
                missing.append(index)
        gets = [functools.partial(self._get, self._key(keys[i][0], keys[i][1])) for i in missing]
        fetched = self.run_all(gets)
        failed = next((o for o in fetched if isinstance(o, DLIError)), None)
        if failed is not None:
            raise failed  # the store itself failed (a GET's only DLIError): as ``read`` would
        for index, got in zip(missing, fetched, strict=True):
            if isinstance(got, NotStarted) or got is None:
                continue  # (NOT_STARTED follows only a failure, raised above) deleted since listed
            raw, etag = got
            source, name, _listed = keys[index]
            outcomes[index] = self._parse(source, name, raw, etag)
            if etag_of(raw) == etag:
                holds[(source.value, name)] = (etag, raw)
        if len(missing) >= _REWRITE_FROM and holds:
            self._write_snapshot(holds)
        return outcomes

    def _parse(self, source: SourceType, name: str, raw: bytes, etag: str) -> _Outcome:
        try:
            document = document_from_bytes(raw, where=f"{self.url}/{source.value}/{name}{SUFFIX}", source=source)
        except ServerError:
            raise
        except DLIError as exc:  # unreadable: the caller keeps it as broken, as after ``read``
            return exc
        return VersionedDocument(document=document, etag=etag)

    def _snapshot_key(self) -> str:
        return f"{self._base()}.dli/snapshot-v1.json.gz"

    def _read_snapshot(self) -> dict[tuple[str, str], bytes]:
        """The snapshot's documents by (source, name); empty when there is none or it cannot be used."""
        try:
            fetched = self._get(self._snapshot_key())
        except DLIError:
            return {}  # only a shortcut: the documents are read one by one
        if fetched is None:
            return {}
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(fetched[0])) as unzipped:
                body = unzipped.read(_MAX_SNAPSHOT_BYTES + 1)
            if len(body) > _MAX_SNAPSHOT_BYTES:
                raise ValueError("snapshot too large")
            data = json.loads(body)
            if data.get("scheme") != _SCHEME:
                return {}
            return {
                (str(source), str(name)): str(text).encode()
                for source, by_name in data["documents"].items()
                for name, text in by_name.items()
            }
        except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError):
            structlog.get_logger("dli.s3_store").warning("spec_snapshot_unreadable", store=self.url)
            return {}

    def _write_snapshot(self, holds: dict[tuple[str, str], tuple[str, bytes]]) -> None:
        """Write the snapshot of ``holds`` (best effort: a failure is logged, the load goes on)."""
        documents: dict[str, dict[str, str]] = {}
        for (source, name), (_etag, raw) in sorted(holds.items()):
            try:
                documents.setdefault(source, {})[name] = raw.decode()
            except UnicodeDecodeError:
                continue  # not a document dli could parse: read by GET, as it is now
        body = gzip.compress(json.dumps({"scheme": _SCHEME, "documents": documents}, separators=(",", ":")).encode(), 6)
        key = self._snapshot_key()
        try:
            self._call("write", lambda: self._client.put_object(Bucket=self._bucket, Key=key, Body=body))
        except DLIError as exc:
            structlog.get_logger("dli.s3_store").warning("spec_snapshot_not_written", store=self.url, error=exc.message)
            return
        structlog.get_logger("dli.s3_store").info(
            "spec_snapshot_written", store=self.url, documents=len(holds), bytes=len(body)
        )
