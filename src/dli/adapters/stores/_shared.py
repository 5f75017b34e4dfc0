"""What the spec stores share: the etag of stored bytes, the errors of conditional writes, and the
base of the stores that stand in front of another one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import WorkflowAlreadyExistsError, WorkflowRegistrationError, already_registered

if TYPE_CHECKING:
    from dli.ports import SpecStore

__all__ = ["StoreDecorator", "already_exists", "changed_since_read", "etag_of"]


class StoreDecorator:
    """A spec store in front of another, ``inner`` (an index, a disk cache): it has the inner store's URL."""

    _inner: SpecStore

    @property
    def inner(self) -> SpecStore:
        """The decorated store."""
        return self._inner

    @property
    def url(self) -> str:
        return self._inner.url


def etag_of(raw: bytes) -> str:
    """Content hash, as S3 computes it for single-part uploads."""
    import hashlib  # not needed by the in-memory store itself (start-up time)

    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def already_exists(source: SourceType, name: str) -> WorkflowAlreadyExistsError:
    """DLI-804 for a create that found a document in place."""
    return already_registered(name, source.value)


def changed_since_read(source: SourceType, name: str) -> WorkflowRegistrationError:
    """DLI-801 for a conditional replace that lost a race."""
    return WorkflowRegistrationError(
        f"Workflow '{name}' ({source.value}) changed while it was being updated; nothing was written",
        hints=("Someone else updated it at the same time. Check 'dli workflow list' and retry.",),
        details={"dataset_name": name},
    )
