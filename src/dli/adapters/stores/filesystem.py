"""Filesystem spec store (``file:///path``): ``<root>/code/<name>.yaml`` and ``<root>/manual/<name>.yaml``.

The embedded default of the local stack, with the same layout and bytes as the S3 store. Every write
goes to a temporary file in the target directory, is fsynced, and then appears under its final name
in one step (``os.link`` for a create, ``os.replace`` for a replace), so a reader never sees half a
document. Mutations of one source directory are serialized across threads and processes by an
``flock`` on ``<root>/<source>/.lock``; the create additionally relies on ``os.link`` refusing an
existing target, which keeps "exactly one creator wins" even where advisory locks are ignored.

A process killed during a write leaves its temporary file (``.tmp-*.part``); listing ignores it, and
the store removes those older than any write can take when it opens.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dli.adapters.codecs.specs import document_from_bytes, document_to_bytes
from dli.adapters.files import fsync_dir, write_temp
from dli.adapters.stores._shared import already_exists, changed_since_read, etag_of
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ConfigurationError, SpecInvalidError, StoreUnavailableError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.spec import SpecDocument
from dli.ports.spec_store import VersionedDocument

try:  # POSIX; elsewhere the in-process lock and os.link still hold within one process
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FilesystemSpecStore"]

_SUFFIX = ".yaml"
_LOCK_NAME = ".lock"
_TMP_PREFIX = ".tmp-"
_TMP_SUFFIX = ".part"
ABANDONED_AFTER_SECONDS = 900.0
"""A temporary file this old was left by a writer that died: a write (one small file, fsynced) takes
milliseconds, and even a writer stopped for minutes by an overloaded host is long done by then."""


class FilesystemSpecStore:
    """The SpecStore port over a local directory."""

    def __init__(self, root: Path | str, *, abandoned_after_seconds: float | None = ABANDONED_AFTER_SECONDS) -> None:
        """``abandoned_after_seconds``: age from which a temporary file left in the store is removed
        as it opens; ``None`` for a reader that opens it at every turn (the DAG factory: one scan of
        10,000 names per DAG file parsed) and never writes."""
        root = Path(root)
        if not root.is_absolute():
            raise ConfigurationError(
                f"Filesystem store path must be absolute, got {str(root)!r}",
                hints=("Use file:///absolute/path.",),
            )
        self._root = root
        self._url = root.as_uri()
        # flock excludes separate open file descriptions, threads included; this lock only avoids
        # piling up blocked threads on the same file.
        self._thread_lock = threading.Lock()
        # The etag of each file at its last listing, by (inode, size, mtime): a listing reads only
        # the files that changed since (a store of 10,000 specs is listed every few seconds).
        self._listed: dict[Path, tuple[tuple[int, int, int], str]] = {}
        self._listed_lock = threading.Lock()
        if abandoned_after_seconds is not None:
            self._remove_abandoned_temp_files(abandoned_after_seconds)

    @classmethod
    def from_url(
        cls, url: str, *, abandoned_after_seconds: float | None = ABANDONED_AFTER_SECONDS
    ) -> FilesystemSpecStore:
        """The store for ``file:///absolute/path`` (DLI-001 for anything else)."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigurationError(
                f"Invalid filesystem store URL {url!r}",
                hints=("Use file:///absolute/path (three slashes).",),
            )
        if parts.query or parts.fragment:
            raise ConfigurationError(f"Filesystem store URL {url!r} must not have a query or fragment")
        root = Path(unquote(parts.path))
        if root.exists() and not root.is_dir():
            raise ConfigurationError(f"Filesystem store {url!r} is not a directory")
        return cls(root, abandoned_after_seconds=abandoned_after_seconds)

    @property
    def url(self) -> str:
        return self._url

    @property
    def root(self) -> Path:
        """The store's root directory."""
        return self._root

    # -- reads ---------------------------------------------------------------------------------

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        folder = self._folder(source)
        etags: dict[str, str] = {}
        try:
            entries = sorted(os.listdir(folder))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._unavailable("list", exc) from None
        seen: dict[Path, tuple[tuple[int, int, int], str]] = {}
        for entry in entries:
            if entry.startswith(".") or not entry.endswith(_SUFFIX):
                continue
            path = folder / entry
            try:
                stat = path.stat()
            except FileNotFoundError:  # deleted between listing and reading
                continue
            except OSError as exc:
                raise self._unavailable("read", exc) from None
            # Writes replace the file (a new inode), and an edit in place moves the mtime: a file
            # with the same inode, size and mtime holds the bytes it held, so it is not read again.
            key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            known = self._listed.get(path)
            if known is not None and known[0] == key:
                etag = known[1]
            else:
                raw = self._read_bytes(path)
                if raw is None:
                    continue
                etag = etag_of(raw)
            seen[path] = (key, etag)
            etags[entry[: -len(_SUFFIX)]] = etag
        with self._listed_lock:
            self._listed = {p: v for p, v in self._listed.items() if p.parent != folder} | seen
        return etags

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        path = self._path(source, name)
        if path is None:
            return None
        raw = self._read_bytes(path)
        if raw is None:
            return None
        document = document_from_bytes(raw, where=f"{self._url}/{source.value}/{name}{_SUFFIX}", source=source)
        return VersionedDocument(document=document, etag=etag_of(raw))

    # -- writes --------------------------------------------------------------------------------

    def create(self, source: SourceType, document: SpecDocument) -> str:
        raw = document_to_bytes(document)
        target = self._target(source, document.name)
        with self._locked(source):
            tmp = self._write_temp(target.parent, raw)
            try:
                self._link_new(tmp, target, source, document.name)
            finally:
                _unlink_quietly(tmp)
            fsync_dir(target.parent)
        return etag_of(raw)

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        raw = document_to_bytes(document)
        target = self._target(source, document.name)
        with self._locked(source):
            current = self._read_bytes(target)
            if current is None or etag_of(current) != etag:
                raise changed_since_read(source, document.name)
            tmp = self._write_temp(target.parent, raw)
            try:
                os.replace(tmp, target)
            except OSError as exc:
                _unlink_quietly(tmp)
                raise self._unavailable("write", exc) from None
            fsync_dir(target.parent)
        return etag_of(raw)

    def delete(self, source: SourceType, name: str) -> bool:
        path = self._path(source, name)
        if path is None:
            return False
        with self._locked(source):
            try:
                os.unlink(path)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise self._unavailable("delete", exc) from None
            fsync_dir(path.parent)
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _remove_abandoned_temp_files(self, older_than_seconds: float) -> None:
        """Remove the temporary files of writes that never finished (a writer killed mid-write).

        Best effort: a store opened by a reader without write access (the DAG factory inside
        Airflow) leaves them, and nothing else depends on it (listing ignores them).
        """
        cutoff = time.time() - older_than_seconds
        removed = 0
        for source in SourceType:
            try:
                entries = list(os.scandir(self._folder(source)))
            except OSError:  # missing (nothing written yet) or unreadable: reads will say so
                continue
            for entry in entries:
                if not (entry.name.startswith(_TMP_PREFIX) and entry.name.endswith(_TMP_SUFFIX)):
                    continue
                try:
                    if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except OSError:
                    continue
        if removed:
            import structlog

            structlog.get_logger("dli.filesystem_store").info(
                "abandoned_temp_files_removed", store=self._url, count=removed
            )

    def _folder(self, source: SourceType) -> Path:
        return self._root / source.value

    def _path(self, source: SourceType, name: str) -> Path | None:
        """The file of ``name``, or None for a name that cannot be stored (so it is never there)."""
        try:
            validate_dataset_name(name)
        except SpecInvalidError:
            return None
        return self._folder(source) / f"{name}{_SUFFIX}"

    def _target(self, source: SourceType, name: str) -> Path:
        # A document's name was validated when its spec was built; re-check since it becomes a path.
        return self._folder(source) / f"{validate_dataset_name(name)}{_SUFFIX}"

    def _read_bytes(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unavailable("read", exc) from None

    @contextlib.contextmanager
    def _locked(self, source: SourceType) -> Iterator[None]:
        folder = self._folder(source)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._unavailable("open", exc) from None
        try:
            with self._thread_lock:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if fcntl is not None:
                        fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _write_temp(self, folder: Path, raw: bytes) -> Path:
        try:
            return write_temp(folder, raw, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, mode=0o644)
        except OSError as exc:
            raise self._unavailable("write", exc) from None

    def _link_new(self, tmp: Path, target: Path, source: SourceType, name: str) -> None:
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise already_exists(source, name) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise self._unavailable("write", exc) from None
            # No hard links here (some network or FUSE filesystems): the flock held by the
            # caller is then what keeps the check and the rename together.
            if target.exists():
                raise already_exists(source, name) from None
            try:
                os.replace(tmp, target)
            except OSError as exc2:
                raise self._unavailable("write", exc2) from None

    def _unavailable(self, action: str, exc: OSError) -> StoreUnavailableError:
        reason = exc.strerror or type(exc).__name__
        return StoreUnavailableError(
            f"Spec store {self._url} cannot {action}: {reason}",
            hints=("Check that the directory exists and is readable and writable by this process.",),
            details={"store": self._url},
        )


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
