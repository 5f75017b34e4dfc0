"""Spec store port: ``<prefix>/code/<name>.yaml`` and ``<prefix>/manual/<name>.yaml``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, SpecInvalidError
from dli.domain.model.spec import DatasetSpec, SpecDocument

if TYPE_CHECKING:
    from dli.domain.model.catalog import Catalog

__all__ = [
    "NOT_STARTED",
    "BulkSpecStore",
    "ListedReads",
    "NotStarted",
    "PublishedSpecIndex",
    "SpecCatalog",
    "SpecStore",
    "VersionedDocument",
]

_T = TypeVar("_T")


@attrs.frozen
class VersionedDocument:
    """A stored document with the version tag it was read at."""

    document: SpecDocument
    """The document."""
    etag: str
    """Opaque version tag; changes whenever the stored bytes change."""


class SpecStore(Protocol):
    """Keeps spec documents under two sources, with conditional writes.

    Implementations must make every write atomic (a reader never sees half a document) and must
    never overwrite a document that changed since it was read.
    """

    @property
    def url(self) -> str:
        """The store's URL without credentials, for messages (e.g. ``s3://bucket/prefix``)."""
        ...

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        """Names stored under ``source`` and their etags.

        Raises:
            StoreUnavailableError: The store cannot be reached or read.
        """
        ...

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        """The document for ``name`` under ``source``, or ``None``.

        Raises:
            StoreUnavailableError: The store cannot be reached or read.
        """
        ...

    def create(self, source: SourceType, document: SpecDocument) -> str:
        """Store a new document; return its etag.

        Raises:
            WorkflowAlreadyExistsError: A document of that name already exists under ``source``.
            StoreUnavailableError: The store cannot be written.
        """
        ...

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        """Replace the document read at ``etag``; return the new etag.

        Raises:
            WorkflowRegistrationError: The stored document changed (or vanished) since it was read.
            StoreUnavailableError: The store cannot be written.
        """
        ...

    def delete(self, source: SourceType, name: str) -> bool:
        """Delete the document; return whether it existed.

        Raises:
            StoreUnavailableError: The store cannot be written.
        """
        ...


@runtime_checkable
class SpecCatalog(Protocol):
    """A spec store that keeps a catalog of itself up to date (the Basecamp server's index).

    ``list`` slices the catalog instead of reading every document; a store without one is read in
    full for each listing (MOCK and LOCAL modes, where the store is small or local).
    """

    def catalog(self) -> Catalog:
        """The current catalog: readable documents in list order and the unreadable ones.

        Raises:
            StoreUnavailableError: The store could not be read the first time.
        """
        ...


class NotStarted:
    """The outcome of a call ``BulkSpecStore.run_all`` did not start (an earlier one failed)."""

    def __repr__(self) -> str:
        return "NOT_STARTED"


NOT_STARTED = NotStarted()


@runtime_checkable
class BulkSpecStore(Protocol):
    """A store whose requests are best sent many at once (S3: a round trip each), a bounded number at a time.

    Each call keeps the store's own guarantees (atomic, conditional, retried where that is safe).
    """

    def read_many(
        self, source: SourceType, names: Iterable[str]
    ) -> Mapping[str, VersionedDocument | None | SpecInvalidError]:
        """``read`` of each name: the document, ``None`` (not there) or the error that makes it unreadable.

        Raises:
            StoreUnavailableError: The store cannot be reached or read.
        """
        ...

    def run_all(self, calls: Sequence[Callable[[], _T]]) -> list[_T | DLIError | NotStarted]:
        """Run the store calls concurrently; each outcome is the call's result, its ``DLIError``, or
        ``NOT_STARTED`` when an earlier failure stopped the batch before it started (calls already
        in flight are waited for, so every outcome is final)."""
        ...


@runtime_checkable
class ListedReads(Protocol):
    """A store that reads many keys it just listed for less than one request each (S3: from a
    snapshot of the documents, each checked against its listed etag)."""

    def read_listed(self, keys: Sequence[tuple[SourceType, str, str]]) -> list[VersionedDocument | None | DLIError]:
        """For each ``(source, name, listed etag)``: the document (at that etag, or a newer one read
        since), ``None`` (deleted since), or the ``DLIError`` that makes it unreadable. Never a
        document under an etag it was not stored with.

        Raises:
            StoreUnavailableError: The store cannot be reached or read.
        """
        ...


@runtime_checkable
class PublishedSpecIndex(Protocol):
    """A store that remembers which spec each published document holds, so that a publish that
    changes nothing need not read the documents back."""

    def known_specs(
        self, source: SourceType, listed: Mapping[str, str], candidates: Mapping[str, DatasetSpec]
    ) -> set[str]:
        """The names of ``candidates`` whose document, at its ``listed`` etag, is known to hold
        exactly that spec (a name missing is simply read)."""
        ...

    def remember_specs(self, source: SourceType, specs: Mapping[str, tuple[str, DatasetSpec]]) -> None:
        """Record that the document of each name, at the etag given, holds the spec given
        (best effort: a failure is logged, never raised)."""
        ...
