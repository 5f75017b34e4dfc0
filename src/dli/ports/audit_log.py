"""AuditLog port: where the audit trail is appended and read back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Protocol

from dli.domain.model.audit import AuditRecord

__all__ = ["AuditLog"]


class AuditLog(Protocol):
    """An append-only sequence of audit records, shared by every replica (in the spec store)."""

    def append(self, record: AuditRecord) -> None:
        """Keep ``record`` for good (durably, before returning); never rewrites an older one.

        Raises ``ServerError`` (DLI-503) when it cannot be written."""
        ...

    def records(self, *, since: dt.datetime | None = None) -> Iterator[AuditRecord]:
        """The records from ``since`` on (all by default), oldest first."""
        ...
