"""The audit trail kept in the spec store, under ``<root or prefix>/.dli/audit/``: one object per record.

One object per record makes appending a plain create, never a rewrite: replicas never contend, and
nothing once written is touched again. Keys start with the record's time (``20260131T120000.123456Z-
<random>.json``), so a listing returns them in time order and a read ``since`` a time starts there
(S3 ``StartAfter``). Spec listings read ``code/`` and ``manual/`` only, so they never see ``.dli/``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dli.domain.model.audit import AuditOutcome, AuditRecord
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import StoreUnavailableError
from dli.ports.audit_log import AuditLog

__all__ = ["FileAuditLog", "MemoryAuditLog", "S3AuditLog", "audit_log_of", "decode_record", "encode_record"]

AUDIT_FOLDER = ".dli/audit/"
_STAMP = "%Y%m%dT%H%M%S.%fZ"


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(_STAMP)


def _key_name(record: AuditRecord) -> str:
    return f"{_stamp(record.time)}-{os.urandom(6).hex()}.json"


def encode_record(record: AuditRecord) -> bytes:
    """The JSON object a record is kept as."""
    data: dict[str, Any] = {
        "time": record.time.astimezone(dt.UTC).isoformat(),
        "actor": record.actor,
        "auth": record.auth,
        "action": record.action,
        "outcome": record.outcome.value,
        "dataset": record.dataset,
        "team": record.team,
        "source_type": record.source_type.value if record.source_type else None,
        "code": record.code,
        "detail": record.detail,
        "request_id": record.request_id,
        "replica": record.replica,
    }
    return json.dumps({k: v for k, v in data.items() if v is not None}, sort_keys=True).encode()


def decode_record(raw: bytes) -> AuditRecord | None:
    """The record of a kept object; ``None`` for one that is not a record (never fails a read)."""
    try:
        data = json.loads(raw)
        source = data.get("source_type")
        return AuditRecord(
            time=dt.datetime.fromisoformat(data["time"]),
            actor=str(data["actor"]),
            auth=str(data["auth"]),
            action=str(data["action"]),
            outcome=AuditOutcome(data["outcome"]),
            dataset=data.get("dataset"),
            team=data.get("team"),
            source_type=SourceType(source) if source else None,
            code=data.get("code"),
            detail=data.get("detail"),
            request_id=data.get("request_id"),
            replica=data.get("replica"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class MemoryAuditLog:
    """In process (MOCK mode, ``memory://`` stores, tests)."""

    def __init__(self) -> None:
        self._records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def append(self, record: AuditRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self, *, since: dt.datetime | None = None) -> Iterator[AuditRecord]:
        with self._lock:
            kept = sorted(self._records, key=lambda r: r.time)
        return iter([r for r in kept if since is None or r.time >= since])


class FileAuditLog:
    """Under ``<root>/.dli/audit/`` of a filesystem store: each record a new file, created exclusively."""

    def __init__(self, root: Path) -> None:
        self._folder = root / ".dli" / "audit"

    def append(self, record: AuditRecord) -> None:
        path = self._folder / _key_name(record)
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                os.write(fd, encode_record(record))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot write the audit record under {self._folder}: {exc.strerror}",
                hints=("Check that the store's folder is writable by the server.",),
            ) from None

    def records(self, *, since: dt.datetime | None = None) -> Iterator[AuditRecord]:
        try:
            names = sorted(p for p in os.listdir(self._folder) if p.endswith(".json"))
        except FileNotFoundError:
            return iter(())
        except OSError as exc:
            raise StoreUnavailableError(f"Cannot read the audit trail under {self._folder}: {exc.strerror}") from None
        start = _stamp(since) if since is not None else ""
        return self._read(n for n in names if n >= start)

    def _read(self, names: Iterator[str]) -> Iterator[AuditRecord]:
        for name in names:
            try:
                raw = (self._folder / name).read_bytes()
            except OSError:
                continue
            record = decode_record(raw)
            if record is not None:
                yield record


class S3AuditLog:
    """Under ``<prefix>/.dli/audit/`` of an S3 store, with the store's client, retries and errors."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._folder = f"{store._base()}{AUDIT_FOLDER}"

    def append(self, record: AuditRecord) -> None:
        store = self._store
        key = self._folder + _key_name(record)
        body = encode_record(record)
        store._call(
            "write the audit record",
            lambda: store._client.put_object(Bucket=store._bucket, Key=key, Body=body, ContentType="application/json"),
        )

    def records(self, *, since: dt.datetime | None = None) -> Iterator[AuditRecord]:
        store = self._store
        start = self._folder + _stamp(since) if since is not None else ""

        def keys() -> list[str]:
            found: list[str] = []
            paginator = store._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=store._bucket, Prefix=self._folder, StartAfter=start):
                found.extend(item["Key"] for item in page.get("Contents", ()))
            return found

        listed = store._call("read the audit trail", keys)
        return self._read(listed)

    def _read(self, keys: list[str]) -> Iterator[AuditRecord]:
        store = self._store
        for key in keys:
            got = store._get(key)
            if got is None:
                continue
            record = decode_record(got[0])
            if record is not None:
                yield record


def audit_log_of(store: object) -> AuditLog:
    """The audit trail kept in ``store`` (unwrapping the indexed and cached decorators)."""
    inner = store
    while hasattr(inner, "inner"):
        inner = inner.inner
    # A store of a kind whose module was never imported cannot be that kind: a MOCK bus (in-memory
    # store) imports neither the filesystem nor the S3 store (nor YAML) just to keep its trail.
    filesystem = sys.modules.get("dli.adapters.stores.filesystem")
    if filesystem is not None and isinstance(inner, filesystem.FilesystemSpecStore):
        return FileAuditLog(inner.root)
    s3 = sys.modules.get("dli.adapters.stores.s3")
    if s3 is not None and isinstance(inner, s3.S3SpecStore):
        return S3AuditLog(inner)
    return MemoryAuditLog()
