"""A check builds the new catalog beside the one requests read, and swaps it in whole."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.catalog import Catalog
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import SpecDocument
from tests.support.specs import make_spec


def _doc(name: str, source: SourceType = SourceType.MANUAL, **fields: Any) -> SpecDocument:
    return SpecDocument(spec=make_spec(name, **fields), source_type=source)


@pytest.mark.timeout(60)
def test_requests_are_answered_from_the_previous_catalog_while_a_check_builds_the_next() -> None:
    inner = InMemorySpecStore()
    inner.create(SourceType.MANUAL, _doc("shop.refresh.old"))
    store = IndexedSpecStore(inner)
    store.check()
    before = store.catalog()
    building, release = threading.Event(), threading.Event()
    build = store._build_catalog  # noqa: SLF001 - the slow part of a check, made to wait

    def slow_build(index: Any) -> Catalog:
        building.set()
        release.wait(20)
        return build(index)

    store._build_catalog = slow_build  # type: ignore[method-assign]  # noqa: SLF001
    inner.create(SourceType.MANUAL, _doc("shop.refresh.new"))  # behind the index's back
    with ThreadPoolExecutor(2) as pool:
        check = pool.submit(store.check, full=True)  # a full check rebuilds the catalog
        assert building.wait(20)
        # The check is building: a read, a listing of the catalog and /health's broken list answer.
        reader = pool.submit(
            lambda: (store.read(SourceType.MANUAL, "shop.refresh.old"), store.catalog(), store.broken())
        )
        found, catalog, broken = reader.result(timeout=20)
        assert found is not None and catalog is before and broken == ()
        assert not check.done()
        release.set()
        check.result(timeout=20)
    assert [e.name for e in store.catalog().entries] == ["shop.refresh.new", "shop.refresh.old"]


def test_a_write_made_while_a_check_builds_is_in_the_catalog_the_check_swaps_in() -> None:
    inner = InMemorySpecStore()
    inner.create(SourceType.MANUAL, _doc("shop.refresh.a"))
    store = IndexedSpecStore(inner)
    store.check()
    inner.create(SourceType.MANUAL, _doc("shop.refresh.b"))  # the check will read it
    build = store._build_catalog  # noqa: SLF001

    def build_then_write(index: Any) -> Catalog:
        catalog = build(index)
        store.create(SourceType.CODE, _doc("shop.refresh.a", SourceType.CODE))  # through the server, meanwhile
        return catalog

    store._build_catalog = build_then_write  # type: ignore[method-assign]  # noqa: SLF001
    report = store.check(full=True)
    rows = [(e.name, e.source_type.value, e.overridden) for e in store.catalog().entries]
    assert rows == [
        ("shop.refresh.a", "code", False),
        ("shop.refresh.a", "manual", True),
        ("shop.refresh.b", "manual", False),
    ]
    assert {t.name for t in report.transitions} == {"shop.refresh.a", "shop.refresh.b"}


def test_replacing_several_names_at_once_equals_replacing_them_one_by_one() -> None:
    docs = {n: _doc(n) for n in ("a.b.one", "a.b.two", "a.b.three", "a.b.four")}
    catalog = Catalog.build(code={}, manual={n: (d, "e1") for n, d in docs.items()})
    code = _doc("a.b.two", SourceType.CODE)
    changes: dict[str, Any] = {
        "a.b.one": (None, None, []),
        "a.b.two": ((code, "c1"), (docs["a.b.two"], "e1"), []),
        "a.b.five": (None, (_doc("a.b.five"), "e2"), []),
    }
    one_by_one = catalog
    for name, (c, m, b) in changes.items():
        one_by_one = one_by_one.replace_name(name, code=c, manual=m, broken=b)
    at_once = catalog.replace_names(changes)
    shape = lambda cat: [(e.name, e.source_type, e.etag, e.overridden) for e in cat.entries]  # noqa: E731
    assert shape(at_once) == shape(one_by_one)
    assert ("a.b.two", SourceType.MANUAL, "e1", True) in shape(at_once)
