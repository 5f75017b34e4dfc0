"""What the spec stores share: the etag of stored bytes and the errors of conditional writes."""

from __future__ import annotations

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import WorkflowAlreadyExistsError, WorkflowRegistrationError, already_registered

__all__ = ["already_exists", "changed_since_read", "etag_of"]


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
