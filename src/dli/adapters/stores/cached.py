"""A disk-cached spec store: a SpecStore decorator for readers far from their store (the DAG factory).

Each ``list_etags`` asks the store (one listing per source) and remembers the etags; ``read`` then
serves a document from ``<cache>/<source>/<name>.<etag>.yaml`` when that version is on disk, and
downloads it (once) when it is not. A parse of 1,000 unchanged specs therefore makes no per-spec
network call. When the store cannot be reached, the last listed versions on disk are served, so a
short S3 outage does not take every DAG of the store out of Airflow; with nothing on disk the
error is raised. Writes go through to the store. Changes made by others are seen at the next ``list_etags``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from dli.adapters.codecs.specs import document_from_bytes, document_to_bytes
from dli.adapters.files import write_atomic
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import StoreUnavailableError
from dli.domain.model.spec import SpecDocument
from dli.ports.spec_store import SpecStore, VersionedDocument

__all__ = ["DiskCachedSpecStore", "default_cache_dir"]

_SUFFIX = ".yaml"


def default_cache_dir(store_url: str) -> Path:
    """``$DLI_CACHE_DIR`` or ``$AIRFLOW_HOME/dli_cache`` (else the temp dir), one folder per store."""
    base = os.environ.get("DLI_CACHE_DIR")
    if not base:
        home = os.environ.get("AIRFLOW_HOME")
        base = str(Path(home) / "dli_cache") if home else str(Path(tempfile.gettempdir()) / f"dli_cache_{os.getuid()}")
    return Path(base) / hashlib.sha256(store_url.encode()).hexdigest()[:16]


def _safe(etag: str) -> str:
    return "".join(c for c in etag if c.isalnum())


class DiskCachedSpecStore:
    """Reads through a per-version disk cache; serves the cache while the store is unreachable."""

    def __init__(
        self, inner: SpecStore, *, cache_dir: Path, listed: Mapping[SourceType, Mapping[str, str]] | None = None
    ) -> None:
        """``listed``: etags already known from a listing made elsewhere (the DAG bundle's index), so
        that ``read`` serves those versions from the cache without listing the store again."""
        self._inner = inner
        self._dir = Path(cache_dir)
        self._etags: dict[SourceType, dict[str, str]] = {source: dict(etags) for source, etags in (listed or {}).items()}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._inner.url

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
        try:
            etags = dict(self._inner.list_etags(source))
        except StoreUnavailableError:
            cached = {name: etag for name, etag, _ in self._cached(source)}
            if not cached and not any(True for s in SourceType for _ in self._cached(s)):
                raise
            with self._lock:
                self._etags[source] = cached
            return cached
        with self._lock:
            self._etags[source] = etags
        # Versions no longer listed will not be read again.
        for name, etag, path in self._cached(source):
            if _safe(etags.get(name, "")) != etag:
                with contextlib.suppress(OSError):
                    path.unlink()
        return etags

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
                    document=document_from_bytes(raw, where=f"{self.url}/{source.value}/{name}{_SUFFIX}", source=source),
                    etag=etag,
                )
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
