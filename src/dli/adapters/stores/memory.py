"""In-memory spec store: the fake of the SpecStore port (and MOCK mode's store)."""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from dli.adapters.stores._shared import already_exists, changed_since_read
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import SpecDocument
from dli.ports.spec_store import VersionedDocument

if TYPE_CHECKING:
    from dli.ports.change_feed import SpecChange

__all__ = ["InMemorySpecStore"]


class InMemorySpecStore:
    """Documents in a dict, with an etag per write.

    It keeps the documents themselves rather than YAML bytes: MOCK-mode commands then never load a
    YAML library. Serialization is the business of the filesystem and S3 stores, which run the same
    contract suite.
    """

    def __init__(self, *, url: str = "memory://", clock: Callable[[], float] = time.time) -> None:
        """``clock`` stamps the recorded changes (seconds since the epoch)."""
        self._url = url
        self._data: dict[tuple[SourceType, str], tuple[SpecDocument, str]] = {}
        self._writes = itertools.count(1)
        self._lock = threading.Lock()
        self._clock = clock
        self._changes: collections.deque[tuple[float, str, SourceType, str]] = collections.deque()

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
            self._record(source, document.name, entry[1])
        return entry[1]

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        with self._lock:
            current = self._data.get((source, document.name))
            if current is None or current[1] != etag:
                raise changed_since_read(source, document.name)
            self._data[(source, document.name)] = entry = self._stored(source, document)
            self._record(source, document.name, entry[1])
        return entry[1]

    def delete(self, source: SourceType, name: str) -> bool:
        with self._lock:
            gone = self._data.pop((source, name), None)
            if gone is not None:
                self._record(source, name, f"{gone[1]}-deleted")
            return gone is not None

    # -- ChangeFeed --------------------------------------------------------------------------------

    def recent_changes(self, *, seconds: float) -> Sequence[SpecChange]:
        from dli.ports.change_feed import SpecChange

        since = self._clock() - max(seconds, 0.0)
        with self._lock:
            recent = [record for record in self._changes if record[0] >= since]
        return [SpecChange(marker=marker, source=source, name=name) for _, marker, source, name in recent]

    def _record(self, source: SourceType, name: str, version: str) -> None:
        # Plain tuples: MOCK mode seeds this store at every start, and builds no change class for it.
        now = self._clock()
        # An hour is more than any reader's window; older records would only cost memory.
        while self._changes and self._changes[0][0] < now - 3600:
            self._changes.popleft()
        self._changes.append((now, f"{now:020.6f}-{version}", source, name))
