"""Files written whole or not at all: the one routine the file-backed adapters share.

A reader of a file written here never sees half of it: the bytes go to a temporary file in the
same folder, are fsynced, and the file appears under its name in one step (``os.replace``, or the
caller's ``os.link`` for a create that must not overwrite).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["fsync_dir", "write_atomic", "write_temp"]


def write_temp(folder: Path, data: bytes, *, prefix: str = ".tmp-", suffix: str = ".part", mode: int = 0o600) -> Path:
    """A new fsynced file in ``folder`` holding ``data``, with ``mode``; removed again if writing fails.

    Raises:
        OSError: The folder cannot be written.
    """
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return path


def fsync_dir(folder: Path) -> None:
    """Make new directory entries in ``folder`` durable (best effort where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` in one step (creating its folder).

    Raises:
        OSError: The file cannot be written; ``path`` is then unchanged.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = write_temp(path.parent, data, prefix=f".{path.name}-", mode=mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
