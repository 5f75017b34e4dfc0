"""Spec store port: ``<prefix>/code/<name>.yaml`` and ``<prefix>/manual/<name>.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.spec import SpecDocument

if TYPE_CHECKING:
    from dli.domain.model.catalog import Catalog

__all__ = ["SpecCatalog", "SpecStore", "VersionedDocument"]


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
