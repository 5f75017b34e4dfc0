"""The SpecStore contract, written once and run against every adapter (in-memory, filesystem, S3).

Subclass ``SpecStoreContract`` and provide a ``store`` fixture returning an empty store.
"""

from __future__ import annotations

import pytest

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import WorkflowAlreadyExistsError, WorkflowRegistrationError
from dli.domain.model.spec import Statement
from dli.testing.specs import make_document

MANUAL, CODE = SourceType.MANUAL, SourceType.CODE


class SpecStoreContract:
    """Behaviour every spec store must have."""

    def test_read_of_missing_name_is_none(self, store):
        assert store.read(MANUAL, "no.such.dataset") is None
        assert store.list_etags(MANUAL) == {}

    def test_created_document_reads_back_equal(self, store):
        doc = make_document(
            "shop.sales.daily",
            description="Sales — daily 📈",
            pre_statements=(Statement(sql="DELETE FROM t", continue_on_error=True),),
            extra={"unknown_field": {"nested": [1, 2]}, "x_team_flag": True},
            timezone="Asia/Seoul",
        )
        etag = store.create(MANUAL, doc)
        versioned = store.read(MANUAL, "shop.sales.daily")
        assert versioned is not None
        assert versioned.document == doc
        assert versioned.etag == etag
        assert versioned.document.spec.extra["unknown_field"] == {"nested": [1, 2]}

    def test_create_refuses_an_existing_name(self, store):
        store.create(MANUAL, make_document(cron="0 9 * * *"))
        with pytest.raises(WorkflowAlreadyExistsError):
            store.create(MANUAL, make_document(cron="0 8 * * *"))
        assert store.read(MANUAL, "shop.sales.daily").document.schedule.cron == "0 9 * * *"

    def test_sources_are_independent(self, store):
        store.create(CODE, make_document(source=CODE, cron="0 1 * * *"))
        store.create(MANUAL, make_document(source=MANUAL, cron="0 2 * * *"))
        assert store.read(CODE, "shop.sales.daily").document.schedule.cron == "0 1 * * *"
        assert store.read(MANUAL, "shop.sales.daily").document.schedule.cron == "0 2 * * *"
        assert store.read(CODE, "shop.sales.daily").document.source_type is CODE
        assert store.delete(CODE, "shop.sales.daily") is True
        assert store.read(MANUAL, "shop.sales.daily") is not None

    def test_replace_with_current_etag_changes_document_and_etag(self, store):
        etag = store.create(MANUAL, make_document(cron="0 9 * * *"))
        new_etag = store.replace(MANUAL, make_document(cron="0 8 * * *"), etag=etag)
        assert new_etag != etag
        versioned = store.read(MANUAL, "shop.sales.daily")
        assert versioned.document.schedule.cron == "0 8 * * *"
        assert versioned.etag == new_etag
        assert store.list_etags(MANUAL) == {"shop.sales.daily": new_etag}

    def test_replace_with_stale_etag_writes_nothing(self, store):
        first = store.create(MANUAL, make_document(cron="0 9 * * *"))
        store.replace(MANUAL, make_document(cron="0 8 * * *"), etag=first)
        with pytest.raises(WorkflowRegistrationError):
            store.replace(MANUAL, make_document(cron="0 7 * * *"), etag=first)
        assert store.read(MANUAL, "shop.sales.daily").document.schedule.cron == "0 8 * * *"

    def test_replace_of_a_deleted_document_writes_nothing(self, store):
        etag = store.create(MANUAL, make_document())
        assert store.delete(MANUAL, "shop.sales.daily")
        with pytest.raises(WorkflowRegistrationError):
            store.replace(MANUAL, make_document(cron="0 7 * * *"), etag=etag)
        assert store.read(MANUAL, "shop.sales.daily") is None

    def test_delete_reports_whether_it_existed(self, store):
        assert store.delete(MANUAL, "shop.sales.daily") is False
        store.create(MANUAL, make_document())
        assert store.delete(MANUAL, "shop.sales.daily") is True
        assert store.read(MANUAL, "shop.sales.daily") is None
        assert store.list_etags(MANUAL) == {}

    def test_list_etags_names_every_document_of_the_source(self, store):
        names = [f"shop.sales.t{i:03d}" for i in range(25)]
        for name in names:
            store.create(MANUAL, make_document(name))
        store.create(CODE, make_document("shop.code.only", source=CODE))
        listed = store.list_etags(MANUAL)
        assert sorted(listed) == names
        assert all(isinstance(e, str) and e for e in listed.values())
        assert list(store.list_etags(CODE)) == ["shop.code.only"]

    def test_etag_follows_content(self, store):
        etag = store.create(MANUAL, make_document(cron="0 9 * * *"))
        assert store.list_etags(MANUAL)["shop.sales.daily"] == etag
        store.replace(MANUAL, make_document(cron="0 10 * * *"), etag=etag)
        assert store.list_etags(MANUAL)["shop.sales.daily"] != etag

    def test_url_is_reported_without_secrets(self, store):
        assert isinstance(store.url, str) and "://" in store.url
        assert "secret" not in store.url.lower()
