"""The one registry of spec store URLs: ``memory://``, ``file:///path``, ``s3://bucket/prefix``.

The server, LOCAL mode, publish and the DAG factory open their store here (through the composition
root). Each store's adapter is imported only when its scheme is used: boto3 costs a command that
never reads S3 nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dli.adapters.urls import display_url
from dli.domain.model.errors import ConfigurationError

if TYPE_CHECKING:
    from dli.domain.model.enums import SourceType
    from dli.domain.model.spec import SpecDocument
    from dli.ports import SpecStore, VersionedDocument

__all__ = ["STORE_SCHEMES", "open_factory_store", "open_store"]


def _memory_store(url: str, **_timeouts: float | None) -> SpecStore:
    from dli.adapters.stores.memory import InMemorySpecStore

    return InMemorySpecStore(url=url)


def _file_store(url: str, **_timeouts: float | None) -> SpecStore:
    from dli.adapters.stores.filesystem import FilesystemSpecStore

    return FilesystemSpecStore.from_url(url)


def _s3_store(
    url: str, *, connect_timeout_seconds: float | None = None, read_timeout_seconds: float | None = None
) -> SpecStore:
    from dli.adapters.stores import s3

    return s3.S3SpecStore.from_url(
        url,
        connect_timeout=s3.DEFAULT_CONNECT_TIMEOUT if connect_timeout_seconds is None else connect_timeout_seconds,
        read_timeout=s3.DEFAULT_READ_TIMEOUT if read_timeout_seconds is None else read_timeout_seconds,
    )


STORE_SCHEMES: Mapping[str, Callable[..., SpecStore]] = {
    "memory": _memory_store,
    "file": _file_store,
    "s3": _s3_store,
}
"""URL scheme -> the spec store it names.

Each factory takes the URL and the keyword arguments ``connect_timeout_seconds`` and
``read_timeout_seconds`` (``None``: the adapter's default); stores that do no network I/O ignore them.
"""


def open_store(
    url: str, *, connect_timeout_seconds: float | None = None, read_timeout_seconds: float | None = None
) -> SpecStore:
    """The spec store ``url`` names (DLI-001 for a scheme no store has)."""
    factory = STORE_SCHEMES.get(urlsplit(url).scheme)
    if factory is None:
        raise ConfigurationError(
            f"Unknown spec store URL {display_url(url)!r}",
            hints=("Use memory://, file:///absolute/path or s3://bucket/prefix.",),
        )
    return factory(url, connect_timeout_seconds=connect_timeout_seconds, read_timeout_seconds=read_timeout_seconds)


def open_factory_store(
    url: str,
    *,
    cache_dir: Path | None = None,
    listed: Mapping[SourceType, Mapping[str, str]] | None = None,
    full_listing_interval_seconds: float = 300.0,
) -> SpecStore:
    """The store as the DAG factory reads it: ``s3://`` through a disk cache refreshed by ETag.

    ``listed``: the etags of a listing made elsewhere (the DAG bundle's index): the cache serves
    those versions without listing S3 again. Between two full listings, at most
    ``full_listing_interval_seconds`` apart, an instance kept across listings (the bundle's) reads
    the store's change feed instead.
    """
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from dli.adapters.stores.filesystem import FilesystemSpecStore

        # Opened for every DAG file parsed, and only read: the writers remove abandoned temp files.
        return FilesystemSpecStore.from_url(url, abandoned_after_seconds=None)
    if scheme != "s3":
        return open_store(url)
    from dli.adapters.stores.cached import DiskCachedSpecStore, default_cache_dir

    # With a listing made elsewhere (a shard file's parse), every version is usually in the disk
    # cache: the S3 client (0.5 s of CPU in each parser process the DAG processor forks, most of a
    # shard's parse) is made only when one is not.
    store = open_store(url) if listed is None else _OpenedOnUse(url)
    return DiskCachedSpecStore(
        store,
        cache_dir=cache_dir or default_cache_dir(url),
        listed=listed,
        full_listing_interval_seconds=full_listing_interval_seconds,
    )


class _OpenedOnUse:
    """The store ``url`` names, opened at its first call."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._store: SpecStore | None = None

    def _open(self) -> SpecStore:
        if self._store is None:
            self._store = open_store(self._url)
        return self._store

    @property
    def url(self) -> str:
        return self._url if self._store is None else self._store.url

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        return self._open().list_etags(source)

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        return self._open().read(source, name)

    def create(self, source: SourceType, document: SpecDocument) -> str:
        return self._open().create(source, document)

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        return self._open().replace(source, document, etag=etag)

    def delete(self, source: SourceType, name: str) -> bool:
        return self._open().delete(source, name)
