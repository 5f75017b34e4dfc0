"""Following a store's change feed: which recorded writes a reader has not applied yet.

Shared by the readers that keep what they listed (the server's index, the DAG bundle's disk cache):
between two listings of every key, they apply the changes the feed records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from dli.domain.model.enums import SourceType
from dli.ports.change_feed import ChangeFeed, SpecChange

__all__ = ["FeedFollower", "FeedRead"]


class FeedRead(NamedTuple):
    """One read of the feed, to be marked applied once its keys are."""

    began: float
    """When the read began (the reader's monotonic clock)."""
    changes: Sequence[SpecChange]
    """Every change the read answered."""
    keys: list[tuple[SourceType, str]]
    """The keys of the changes not answered by the previous applied read, once each, in order."""


class FeedFollower:
    """The changes of a ``ChangeFeed`` a reader has not applied yet, and when it must list instead.

    A read asks for the window since the previous applied read began, plus ``clock_skew_seconds``
    (a writer's clock may lag this host's), and leaves out the changes that read answered. The
    reader lists every key at least every ``full_interval_seconds``: writes made around dli, or
    whose record was lost, are seen then.
    """

    def __init__(
        self,
        feed: ChangeFeed,
        *,
        full_interval_seconds: float = 300.0,
        clock_skew_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._feed = feed
        self._full_interval = full_interval_seconds
        self._skew = clock_skew_seconds
        self._monotonic = monotonic
        self._since: float | None = None  # when the last applied read began
        self._listed: float | None = None  # when the read applied with the last full listing began
        self._seen: frozenset[str] = frozenset()

    def listing_due(self) -> bool:
        """Whether the reader must list every key now (never listed, or not for the full interval)."""
        return self._listed is None or self._monotonic() - self._listed >= self._full_interval

    def read(self) -> FeedRead:
        """The changes since the last applied read.

        Raises:
            StoreUnavailableError: The store cannot be reached or read.
        """
        began = self._monotonic()
        window = began - (self._since if self._since is not None else began) + self._skew
        changes = self._feed.recent_changes(seconds=window)
        keys = list(dict.fromkeys((c.source, c.name) for c in changes if c.marker not in self._seen))
        return FeedRead(began=began, changes=changes, keys=keys)

    def applied(self, read: FeedRead, *, listed: bool = False) -> None:
        """``read``'s keys are applied (or, read before a full listing, ``listed`` covers them)."""
        self._since = read.began
        self._seen = frozenset(c.marker for c in read.changes)
        if listed:
            self._listed = read.began

    def list_next_time(self) -> None:
        """Make the next read a full listing (a change could not be applied from the feed)."""
        self._listed = None
