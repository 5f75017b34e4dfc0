"""In-memory spec store: the fake of the SpecStore port (same bytes and etags as the real ones)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping

from dli.adapters.spec_codec import document_from_bytes, document_to_bytes
from dli.domain.enums import SourceType
from dli.domain.errors import WorkflowAlreadyExistsError, WorkflowRegistrationError
from dli.domain.spec import SpecDocument
from dli.ports.spec_store import VersionedDocument

__all__ = ["InMemorySpecStore", "already_exists", "changed_since_read", "etag_of"]


def etag_of(raw: bytes) -> str:
    """Content hash, as S3 computes it for single-part uploads."""
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def already_exists(source: SourceType, name: str) -> WorkflowAlreadyExistsError:
    """DLI-804 for a create that found a document in place."""
    return WorkflowAlreadyExistsError(
        f"Workflow '{name}' is already registered ({source.value})",
        hints=("Use --force to overwrite the existing MANUAL registration.",),
        details={"dataset_name": name},
    )


def changed_since_read(source: SourceType, name: str) -> WorkflowRegistrationError:
    """DLI-801 for a conditional replace that lost a race."""
    return WorkflowRegistrationError(
        f"Workflow '{name}' ({source.value}) changed while it was being updated; nothing was written",
        hints=("Someone else updated it at the same time. Check 'dli workflow list' and retry.",),
        details={"dataset_name": name},
    )


class InMemorySpecStore:
    """Documents in a dict, serialized exactly as the other stores serialize them."""

    def __init__(self, *, url: str = "memory://") -> None:
        self._url = url
        self._data: dict[tuple[SourceType, str], bytes] = {}
        # The document each stored byte string decodes to, kept from the write: reads skip the
        # decoding (the filesystem and S3 stores run the same contract suite and do decode).
        self._decoded: dict[bytes, SpecDocument] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._url

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        with self._lock:
            return {name: etag_of(raw) for (src, name), raw in sorted(self._data.items()) if src is source}

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        with self._lock:
            raw = self._data.get((source, name))
        if raw is None:
            return None
        document = self._decoded.get(raw)
        if document is None or document.source_type is not source:
            document = document_from_bytes(raw, where=f"{self._url}{source.value}/{name}.yaml", source=source)
        return VersionedDocument(document=document, etag=etag_of(raw))

    def create(self, source: SourceType, document: SpecDocument) -> str:
        raw = document_to_bytes(document)
        with self._lock:
            if (source, document.name) in self._data:
                raise already_exists(source, document.name)
            self._data[(source, document.name)] = raw
            self._remember(raw, document)
        return etag_of(raw)

    def _remember(self, raw: bytes, document: SpecDocument) -> None:
        if len(self._decoded) > 10_000:
            self._decoded.clear()
        self._decoded[raw] = document

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        raw = document_to_bytes(document)
        with self._lock:
            current = self._data.get((source, document.name))
            if current is None or etag_of(current) != etag:
                raise changed_since_read(source, document.name)
            self._data[(source, document.name)] = raw
            self._remember(raw, document)
        return etag_of(raw)

    def delete(self, source: SourceType, name: str) -> bool:
        with self._lock:
            return self._data.pop((source, name), None) is not None
