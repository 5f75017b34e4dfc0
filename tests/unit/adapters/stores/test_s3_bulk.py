"""The S3 store's bulk calls: bounded concurrency, and after a failure no new call starts while
every outcome says exactly what happened to its call."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from dli.adapters.stores.s3 import S3SpecStore
from dli.domain.model.errors import StoreUnavailableError
from dli.ports.spec_store import NOT_STARTED, BulkSpecStore, PublishedSpecIndex


def store(concurrency: int) -> S3SpecStore:
    client = SimpleNamespace(meta=SimpleNamespace(endpoint_url="http://s3.test", config=None))
    return S3SpecStore(bucket="b", client=client, concurrency=concurrency)


def test_the_s3_store_offers_bulk_calls_and_a_published_spec_index():
    assert isinstance(store(4), BulkSpecStore) and isinstance(store(4), PublishedSpecIndex)


def test_run_all_keeps_at_most_its_concurrency_in_flight():
    lock, in_flight, peak = threading.Lock(), [0], [0]

    def call() -> int:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.01)
        with lock:
            in_flight[0] -= 1
        return 1

    assert store(4).run_all([call] * 40) == [1] * 40
    assert 1 < peak[0] <= 4


def test_after_a_failure_no_call_starts_and_each_outcome_is_what_happened():
    ran: set[int] = set()
    failure = StoreUnavailableError("store down")

    def make(index: int):
        def call() -> int:
            ran.add(index)
            time.sleep(0.005)
            if index == 5:
                raise failure
            return index

        return call

    outcomes = store(3).run_all([make(i) for i in range(60)])

    assert outcomes[5] is failure
    for index, outcome in enumerate(outcomes):
        if outcome is NOT_STARTED:
            assert index not in ran
        elif index != 5:
            assert outcome == index and index in ran
    assert len(ran) < 60  # the batch stopped


def test_sequential_run_all_stops_right_after_the_failure():
    failure = StoreUnavailableError("store down")

    def fail() -> int:
        raise failure

    outcomes = store(1).run_all([lambda: 1, fail, lambda: 3])
    assert outcomes == [1, failure, NOT_STARTED]
