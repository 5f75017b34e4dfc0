"""The indexed store with a hung store behind it: callers share the answer of the check they waited for."""

from __future__ import annotations

import threading

import pytest

from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import StoreUnavailableError


class _HungStore(InMemorySpecStore):
    """Lists only when told to, then fails as a timed-out S3 endpoint does; counts the listings."""

    def __init__(self) -> None:
        super().__init__(url="s3://hung/specs")
        self.listings = 0
        self.listing = threading.Event()
        self.release = threading.Event()

    def list_etags(self, source):
        self.listings += 1
        self.listing.set()
        self.release.wait(10)
        raise StoreUnavailableError("Spec store s3://hung/specs did not answer in 10 s", details={"store": self.url})


@pytest.mark.timeout(30)
def test_callers_waiting_for_a_failing_check_get_its_error_without_listing_again() -> None:
    inner = _HungStore()
    store = IndexedSpecStore(inner)
    outcomes: list[str] = []

    def periodic_check() -> None:
        try:
            store.check()
        except StoreUnavailableError as exc:
            outcomes.append(f"check: {exc.message}")

    def request() -> None:
        try:
            store.read(SourceType.MANUAL, "shop.a")
        except StoreUnavailableError as exc:
            outcomes.append(f"read: {exc.message}")

    checker = threading.Thread(target=periodic_check)
    checker.start()
    assert inner.listing.wait(10)
    readers = [threading.Thread(target=request) for _ in range(3)]
    for thread in readers:
        thread.start()
    threading.Event().wait(0.3)  # let them queue behind the check under way
    inner.release.set()
    for thread in (checker, *readers):
        thread.join(20)
    assert inner.listings == 1
    assert (
        sorted(outcomes)
        == ["check: Spec store s3://hung/specs did not answer in 10 s"]
        + ["read: Spec store s3://hung/specs did not answer in 10 s"] * 3
    )
    # A caller arriving after that check asks the store itself.
    with pytest.raises(StoreUnavailableError):
        store.list_etags(SourceType.CODE)
    assert inner.listings == 2
