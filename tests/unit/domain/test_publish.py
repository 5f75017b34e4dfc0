"""PlanPublish: what publishing a project changes in code/ (pure; no store)."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.publish import PublishAction, PublishedSpec, plan_publish
from dli.domain.model.schedule import ScheduleConfig
from tests.support.specs import make_spec

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
A = PublishAction


def plan(specs, published=None, *, prune=False):
    return plan_publish(specs=specs, published=published or {}, prune=prune, publisher="ci-bot", now=NOW)


def stored(spec, etag="e1"):
    return PublishedSpec(etag=etag, spec=spec)


def actions(result):
    return {item.dataset_name: item.action for item in result.items}


def test_new_scheduled_specs_are_created_as_code_documents_by_the_publisher():
    result = plan([make_spec("shop.a", cron="0 9 * * *")])
    (item,) = result.items
    assert item.action is A.CREATE and item.cron == "0 9 * * *"
    assert item.document.source_type is SourceType.CODE
    assert item.document.registered_by == "ci-bot" and item.document.registered_at == NOW
    assert item.document.spec == make_spec("shop.a", cron="0 9 * * *")


def test_specs_without_schedule_are_skipped_not_published():
    result = plan([make_spec("shop.a"), make_spec("shop.plain", cron=None)])
    assert actions(result) == {"shop.a": A.CREATE}
    assert result.skipped == ("shop.plain",)


def test_an_identical_stored_spec_is_unchanged_whatever_its_registration_metadata():
    spec = make_spec("shop.a")
    result = plan([spec], {"shop.a": stored(spec)})
    assert actions(result) == {"shop.a": A.UNCHANGED}
    assert result.changes == ()


@pytest.mark.parametrize(
    "change",
    [
        {"query_statement": "SELECT 2"},
        {"owner": "other@example.com"},
        {"schedule": ScheduleConfig(cron="0 10 * * *")},
        {"extra": {"x_new_field": 1}},
    ],
)
def test_any_content_change_is_an_update_conditional_on_the_stored_etag(change):
    spec = make_spec("shop.a")
    result = plan([attrs.evolve(spec, **change)], {"shop.a": stored(spec, etag="v7")})
    (item,) = result.items
    assert item.action is A.UPDATE and item.etag == "v7"
    assert item.document.spec == attrs.evolve(spec, **change)


def test_an_unreadable_stored_spec_is_rewritten():
    result = plan([make_spec("shop.a")], {"shop.a": PublishedSpec(etag="bad", spec=None)})
    assert actions(result) == {"shop.a": A.UPDATE}


def test_code_specs_that_left_the_project_are_kept_without_prune_and_deleted_with_it():
    published = {"shop.gone": stored(make_spec("shop.gone"), etag="g1")}
    assert actions(plan([], published)) == {"shop.gone": A.KEEP}
    assert plan([], published).changes == ()
    pruned = plan([], published, prune=True)
    assert actions(pruned) == {"shop.gone": A.DELETE}
    assert pruned.changes[0].etag == "g1"


def test_a_dataset_that_lost_its_schedule_counts_as_having_left():
    published = {"shop.a": stored(make_spec("shop.a"))}
    assert actions(plan([make_spec("shop.a", cron=None)], published, prune=True)) == {"shop.a": A.DELETE}


def test_a_dataset_defined_twice_is_invalid():
    with pytest.raises(SpecInvalidError) as info:
        plan([make_spec("shop.a"), make_spec("shop.a", cron="0 1 * * *")])
    assert info.value.code.value == "DLI-203"
    assert "shop.a" in info.value.message


def test_items_are_sorted_and_counted():
    published = {"shop.b": stored(make_spec("shop.b")), "shop.z": stored(make_spec("shop.z"))}
    result = plan(
        [make_spec("shop.c"), make_spec("shop.b"), make_spec("shop.a", query_statement="SELECT 9")],
        published,
        prune=True,
    )
    assert [i.dataset_name for i in result.items] == ["shop.a", "shop.b", "shop.c", "shop.z"]
    assert (result.count(A.CREATE), result.count(A.UNCHANGED), result.count(A.DELETE)) == (2, 1, 1)


names = st.sampled_from(["shop.a", "shop.b", "shop.c", "shop.d"])
crons = st.sampled_from(["0 9 * * *", "0 1 * * *", None])


@given(project=st.dictionaries(names, crons), store=st.dictionaries(names, crons.filter(bool)), prune=st.booleans())
def test_applying_a_plan_then_planning_again_changes_nothing(project, store, prune):
    specs = [make_spec(n, cron=c) for n, c in project.items()]
    published = {n: stored(make_spec(n, cron=c)) for n, c in store.items()}
    first = plan(specs, published, prune=prune)
    # Apply it to the model of code/.
    after = dict(published)
    for item in first.changes:
        if item.action is A.DELETE:
            del after[item.dataset_name]
        else:
            after[item.dataset_name] = stored(item.document.spec, etag="new")
    second = plan(specs, after, prune=prune)
    assert second.changes == ()
    scheduled = {n for n, c in project.items() if c}
    assert scheduled <= set(after)
    if prune:
        assert set(after) == scheduled
