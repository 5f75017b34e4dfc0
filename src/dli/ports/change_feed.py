"""Change feed port: a spec store that records each write dli makes to it.

Apart from ``spec_store`` so that a command that never reads a feed (a MOCK-mode listing) does not
build these classes at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from dli.domain.model.enums import SourceType

__all__ = ["ChangeFeed", "SpecChange"]


@attrs.frozen
class SpecChange:
    """A write a store recorded: which key changed (read the key to learn how)."""

    marker: str
    """Unique per write; markers order as the writers' clocks do."""
    source: SourceType
    """The source written."""
    name: str
    """The dataset name written."""


@runtime_checkable
class ChangeFeed(Protocol):
    """A store that records each write made through dli, so that a reader learns what changed
    without listing every key (the server's override check, at 10,000 specs on S3).

    A write is recorded after it persisted, so reading the key then sees it. A write whose record
    failed, or one made around dli (``aws s3 cp``), is seen only by listing the store: readers
    still list it now and then.
    """

    def recent_changes(self, *, seconds: float) -> Sequence[SpecChange]:
        """The writes recorded in about the last ``seconds`` (by the writers' clocks), oldest first.

        The same change is answered again by later calls whose window still covers it: callers
        skip the markers they have seen.

        Raises:
            StoreUnavailableError: The store cannot be reached or read.
        """
        ...
