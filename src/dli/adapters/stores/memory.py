"""In-memory spec store: the fake of the SpecStore port; helpers shared by the stores."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import WorkflowAlreadyExistsError, WorkflowRegistrationError
from dli.domain.model.spec import SpecDocument
from dli.ports.spec_store import VersionedDocument

__all__ = ["InMemorySpecStore", "already_exists", "changed_since_read", "etag_of"]


def etag_of(raw: bytes) -> str:
    """Content hash, as S3 computes it for single-part uploads."""
    import hashlib  # not needed by the in-memory store itself (start-up time)

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
    """Documents in a dict, with an etag per write.

    It keeps the documents themselves rather than YAML bytes: MOCK-mode commands then never load a
    YAML library. Serialization is the business of the filesystem and S3 stores, which run the same
    contract suite.
    """

    def __init__(self, *, url: str = "memory://") -> None:
        self._url = url
        self._data: dict[tuple[SourceType, str], tuple[SpecDocument, str]] = {}
        self._writes = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._url

    def _stored(self, source: SourceType, document: SpecDocument) -> tuple[SpecDocument, str]:
        # The key prefix is authoritative for the source, as in the other stores.
        if document.source_type is not source:
            document = attrs.evolve(document, source_type=source)
        return document, f"m{next(self._writes)}"

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        with self._lock:
            return {name: etag for (src, name), (_, etag) in sorted(self._data.items()) if src is source}

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        with self._lock:
            entry = self._data.get((source, name))
        return None if entry is None else VersionedDocument(document=entry[0], etag=entry[1])

    def create(self, source: SourceType, document: SpecDocument) -> str:
        with self._lock:
            if (source, document.name) in self._data:
                raise already_exists(source, document.name)
            self._data[(source, document.name)] = entry = self._stored(source, document)
        return entry[1]

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        with self._lock:
            current = self._data.get((source, document.name))
            if current is None or current[1] != etag:
                raise changed_since_read(source, document.name)
            self._data[(source, document.name)] = entry = self._stored(source, document)
        return entry[1]

    def delete(self, source: SourceType, name: str) -> bool:
        with self._lock:
            return self._data.pop((source, name), None) is not None
