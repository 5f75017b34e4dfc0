"""A disk-cached spec store: a SpecStore decorator for readers far from their store (the DAG factory).

``list_etags`` lists the store (both sources at once) and remembers the etags; ``read`` then
serves a document from ``<cache>/<source>/<name>.<etag>.yaml`` when that version is on disk, and
downloads it (once) when it is not. A parse of 1,000 unchanged specs therefore makes no per-spec
network call. When the store cannot be reached, the last listed versions on disk are served, so a
short S3 outage does not take every DAG of the store out of Airflow; with nothing on disk the
error is raised. Writes go through to the store. Changes made by others are seen at the next ``list_etags``.

Over a store that records its writes (``ChangeFeed``: S3), a ``list_etags`` after the first one
reads the changes recorded since the previous one and downloads only the keys they name, and lists
the store again at least every ``full_listing_interval_seconds``: the DAG bundle, which keeps one
instance and lists at every refresh, then pays for the changes, not for 10,000 keys.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dli.adapters.codecs.specs import document_from_bytes, document_to_bytes
from dli.adapters.files import write_atomic
from dli.adapters.stores._feed import FeedFollower
from dli.adapters.stores._shared import StoreDecorator
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, ServerError, StoreUnavailableError
from dli.domain.model.spec import SpecDocument
from dli.ports.change_feed import ChangeFeed
from dli.ports.spec_store import SpecStore, VersionedDocument

__all__ = ["DiskCachedSpecStore", "default_cache_dir"]

_SUFFIX = ".yaml"
DOWNLOADS = 16
"""Changed specs a read of the change feed downloads at once."""


def default_cache_dir(store_url: str) -> Path:
    """``$DLI_CACHE_DIR`` or ``$AIRFLOW_HOME/dli_cache`` (else the temp dir), one folder per store."""
    base = os.environ.get("DLI_CACHE_DIR")
    if not base:
        home = os.environ.get("AIRFLOW_HOME")
        base = str(Path(home) / "dli_cache") if home else str(Path(tempfile.gettempdir()) / f"dli_cache_{os.getuid()}")
    return Path(base) / hashlib.sha256(store_url.encode()).hexdigest()[:16]


def _safe(etag: str) -> str:
    return "".join(c for c in etag if c.isalnum())


class DiskCachedSpecStore(StoreDecorator):
    """Reads through a per-version disk cache; serves the cache while the store is unreachable."""

    def __init__(
        self,
        inner: SpecStore,
        *,
        cache_dir: Path,
        listed: Mapping[SourceType, Mapping[str, str]] | None = None,
        full_listing_interval_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``listed``: etags already known from a listing made elsewhere (the DAG bundle's index), so
        that ``read`` serves those versions from the cache without listing the store again."""
        self._inner = inner
        self._dir = Path(cache_dir)
        self._etags: dict[SourceType, dict[str, str]] = {
            source: dict(etags) for source, etags in (listed or {}).items()
        }
        self._lock = threading.Lock()
        self._feed = (
            FeedFollower(inner, full_interval_seconds=full_listing_interval_seconds, monotonic=monotonic)
            if isinstance(inner, ChangeFeed)
            else None
        )

    def __repr__(self) -> str:
        return f"DiskCachedSpecStore({self._inner.url!r}, cache_dir={str(self._dir)!r})"

    def _cached(self, source: SourceType) -> Iterator[tuple[str, str, Path]]:
        """``(name, etag, path)`` of the cache files of ``source``."""
        folder = self._dir / source.value
        try:
            entries = os.listdir(folder)
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.endswith(_SUFFIX) and not entry.startswith("."):
                name, _, etag = entry[: -len(_SUFFIX)].rpartition(".")
                if name:
                    yield name, etag, folder / entry

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        if self._feed is not None and not self._feed.listing_due() and self._follow_feed():
            with self._lock:
                return dict(sorted(self._etags.get(source, {}).items()))
        return self._list(source)

    def _follow_feed(self) -> bool:
        """Apply the changes recorded since the last listing; ``False`` when the store must be listed."""
        assert self._feed is not None
        try:
            read = self._feed.read()
            for (source, name), versioned in zip(read.keys, self._download_all(read.keys), strict=True):
                with self._lock:
                    if versioned is None:
                        self._etags.setdefault(source, {}).pop(name, None)
                    else:
                        self._etags.setdefault(source, {})[name] = versioned.etag
                self._prune(source, name)
        except ServerError:
            return False  # a listing says whether the store is down, and serves the cache if it is
        except DLIError:
            return False  # a document that cannot be read: only a listing tells its version
        self._feed.applied(read)
        return True

    def _list(self, source: SourceType) -> Mapping[str, str]:
        read = None
        if self._feed is not None:
            # Read before listing: the listing sees every write recorded here.
            with contextlib.suppress(ServerError):
                read = self._feed.read()
        # With a feed, both sources at once: the feed's next read then starts from one moment for both.
        sources = tuple(SourceType) if self._feed is not None else (source,)
        try:
            listings = {s: dict(self._inner.list_etags(s)) for s in sources}
        except StoreUnavailableError:
            cached = {name: etag for name, etag, _ in self._cached(source)}
            if not cached and not any(True for s in SourceType for _ in self._cached(s)):
                raise
            with self._lock:
                self._etags[source] = cached
            return cached
        with self._lock:
            self._etags.update(listings)
        # Versions no longer listed will not be read again.
        for listed in sources:
            for name, etag, path in self._cached(listed):
                if _safe(listings[listed].get(name, "")) != etag:
                    with contextlib.suppress(OSError):
                        path.unlink()
        if read is not None:
            assert self._feed is not None
            self._feed.applied(read, listed=True)
        return listings[source]

    def _prune(self, source: SourceType, name: str) -> None:
        """Remove the cached versions of ``name`` that are no longer its current one."""
        with self._lock:
            current = self._etags.get(source, {}).get(name)
        for path in (self._dir / source.value).glob(f"{glob.escape(name)}.*{_SUFFIX}"):
            version = path.name[len(name) + 1 : -len(_SUFFIX)]
            if "." not in version and version != _safe(current or ""):  # with a dot: another dataset's file
                with contextlib.suppress(OSError):
                    path.unlink()

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        with self._lock:
            etag = self._etags.get(source, {}).get(name)
        if etag is not None:
            path = self._dir / source.value / f"{name}.{_safe(etag)}{_SUFFIX}"
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                pass
            else:
                return VersionedDocument(
                    document=document_from_bytes(
                        raw, where=f"{self.url}/{source.value}/{name}{_SUFFIX}", source=source
                    ),
                    etag=etag,
                )
        return self._download(source, name)

    def _download_all(self, keys: Sequence[tuple[SourceType, str]]) -> list[VersionedDocument | None]:
        """``_download`` of each key, ``DOWNLOADS`` at a time (the first error raised): after a
        publish of 1,000 specs, one at a time kept the DAG bundle's refresh, and with it the DAG
        processor's loop, waiting for a minute on a busy store."""
        if len(keys) <= 1:
            return [self._download(source, name) for source, name in keys]
        with ThreadPoolExecutor(min(DOWNLOADS, len(keys)), thread_name_prefix="dli-cache-read") as pool:
            return list(pool.map(lambda key: self._download(*key), keys))

    def _download(self, source: SourceType, name: str) -> VersionedDocument | None:
        versioned = self._inner.read(source, name)
        if versioned is not None:
            path = self._dir / source.value / f"{name}.{_safe(versioned.etag)}{_SUFFIX}"
            write_atomic(path, document_to_bytes(versioned.document), mode=0o644)
        return versioned

    # Writes go through; the version this instance reads next is the one it just wrote.

    def _forget(self, source: SourceType, name: str) -> None:
        with self._lock:
            self._etags.get(source, {}).pop(name, None)

    def create(self, source: SourceType, document: SpecDocument) -> str:
        self._forget(source, document.spec.name)
        return self._inner.create(source, document)

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        self._forget(source, document.spec.name)
        return self._inner.replace(source, document, etag=etag)

    def delete(self, source: SourceType, name: str) -> bool:
        self._forget(source, name)
        return self._inner.delete(source, name)
