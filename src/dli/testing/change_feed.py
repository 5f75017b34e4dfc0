"""The ChangeFeed contract: a store that records its writes answers them, in order, within a window.

Subclass ``ChangeFeedContract`` and provide a ``store`` fixture returning an empty store that is
also a ``ChangeFeed`` (run the ``SpecStoreContract`` on it too).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import pytest

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, WorkflowAlreadyExistsError, WorkflowRegistrationError
from dli.ports.change_feed import ChangeFeed
from dli.ports.spec_store import BulkSpecStore
from dli.testing.specs import make_document

MANUAL, CODE = SourceType.MANUAL, SourceType.CODE


def _written(store, *, seconds: float = 60.0) -> list[tuple[SourceType, str]]:
    return [(change.source, change.name) for change in store.recent_changes(seconds=seconds)]


class ChangeFeedContract:
    """Behaviour every store with a change feed must have."""

    def test_the_store_is_a_change_feed(self, store):
        assert isinstance(store, ChangeFeed)

    def test_each_write_is_answered_in_order_with_its_source_and_name(self, store):
        etag = store.create(MANUAL, make_document("shop.a", cron="0 9 * * *"))
        store.create(CODE, make_document("shop.b", source=CODE))
        store.replace(MANUAL, make_document("shop.a", cron="0 8 * * *"), etag=etag)
        store.delete(CODE, "shop.b")
        assert _written(store) == [(MANUAL, "shop.a"), (CODE, "shop.b"), (MANUAL, "shop.a"), (CODE, "shop.b")]
        markers = [change.marker for change in store.recent_changes(seconds=60)]
        assert len(set(markers)) == 4
        assert markers == sorted(markers)

    def test_a_refused_write_is_not_recorded(self, store):
        etag = store.create(MANUAL, make_document("shop.a"))
        with pytest.raises(WorkflowAlreadyExistsError):
            store.create(MANUAL, make_document("shop.a"))
        with pytest.raises(WorkflowRegistrationError):
            store.replace(MANUAL, make_document("shop.a"), etag=f"{etag}-stale")
        assert store.delete(CODE, "shop.a") is False
        assert _written(store) == [(MANUAL, "shop.a")]

    def test_writes_made_together_are_each_answered_once_and_only_those_that_persisted(self, store):
        """A bulk call (``BulkSpecStore.run_all``, what publish uses) may record its writes together;
        every write that persisted is answered, once, and no write that failed or did not start."""
        bulk = isinstance(store, BulkSpecStore)  # (a variable: the store stays a store to the type checker)
        taken = make_document("shop.taken", source=CODE)
        store.create(CODE, taken)
        before = store.recent_changes(seconds=60)
        names = [f"shop.n{i:02d}" for i in range(40)]
        documents = [make_document(name, source=CODE) for name in names]
        documents.insert(25, taken)  # refused (DLI-804): later calls may not start
        calls = [functools.partial(store.create, CODE, document) for document in documents]
        # A store without bulk calls makes them one by one, as publish does with it.
        outcomes = store.run_all(calls) if bulk else [_outcome(call) for call in calls]
        persisted = {
            name
            for name, outcome in zip([*names[:25], "shop.taken", *names[25:]], outcomes, strict=True)
            if isinstance(outcome, str)
        }
        assert isinstance(outcomes[25], WorkflowAlreadyExistsError)
        assert persisted  # (which of the others ran depends on the threads)
        changes = store.recent_changes(seconds=60)[len(before) :]
        assert sorted(change.name for change in changes) == sorted(persisted)
        assert {change.source for change in changes} == {CODE}
        markers = [change.marker for change in store.recent_changes(seconds=60)]
        assert len(set(markers)) == len(markers)
        assert store.recent_changes(seconds=60)[len(before) :] == changes

    def test_the_same_change_is_answered_again_while_the_window_covers_it(self, store):
        store.create(MANUAL, make_document("shop.a"))
        first = store.recent_changes(seconds=60)
        assert store.recent_changes(seconds=60) == first

    def test_changes_older_than_the_window_are_left_out(self, store):
        store.create(MANUAL, make_document("shop.old"))
        time.sleep(3)
        store.create(MANUAL, make_document("shop.new"))
        assert _written(store, seconds=2) == [(MANUAL, "shop.new")]
        assert _written(store, seconds=60) == [(MANUAL, "shop.old"), (MANUAL, "shop.new")]


def _outcome(call: Callable[[], str]) -> str | Exception:
    try:
        return call()
    except DLIError as exc:
        return exc
