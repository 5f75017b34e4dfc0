import pytest
from hypothesis import given
from hypothesis import strategies as st

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import WorkflowPermissionError
from dli.domain.model.override import TransitionKind, diff_resolutions, resolve_override
from dli.domain.model.permissions import Action, check_allowed

names = st.sets(st.sampled_from(["a", "b", "c", "d", "e"]))


@given(code=names, manual=names)
def test_code_always_wins_and_manual_is_overridden_exactly_when_both_exist(code, manual):
    resolved = resolve_override(code=code, manual=manual)
    assert set(resolved) == code | manual
    for name, r in resolved.items():
        assert r.active is (SourceType.CODE if name in code else SourceType.MANUAL)
        assert r.manual_overridden == (name in code and name in manual)
        assert r.has_manual == (name in manual)


def test_transitions_name_override_and_fallback():
    before = resolve_override(code=[], manual=["x", "y"])
    during = resolve_override(code=["x", "z"], manual=["x", "y"])
    after = resolve_override(code=["z"], manual=["x"])
    kinds = {t.name: t.kind for t in diff_resolutions(before, during)}
    assert kinds == {"x": TransitionKind.OVERRIDDEN, "z": TransitionKind.APPEARED}
    kinds = {t.name: t.kind for t in diff_resolutions(during, after)}
    assert kinds == {"x": TransitionKind.FALLBACK, "y": TransitionKind.REMOVED}
    assert diff_resolutions(after, after) == []


def test_code_only_replaced_by_manual_is_a_source_change():
    kinds = [
        t.kind
        for t in diff_resolutions(resolve_override(code=["x"], manual=[]), resolve_override(code=[], manual=["x"]))
    ]
    assert kinds == [TransitionKind.SOURCE_CHANGED]


def test_new_name_in_both_sources_is_reported_overridden():
    kinds = [t.kind for t in diff_resolutions({}, resolve_override(code=["x"], manual=["x"]))]
    assert kinds == [TransitionKind.OVERRIDDEN]


@pytest.mark.parametrize("action", [Action.MODIFY, Action.DELETE])
def test_code_workflows_refuse_modify_and_delete(action):
    with pytest.raises(WorkflowPermissionError) as exc:
        check_allowed(action, source=SourceType.CODE, dataset_name="a.b")
    assert exc.value.code.value == "DLI-803"
    assert "Code (GitOps)" in " ".join(exc.value.hints)


@pytest.mark.parametrize("action", list(Action))
def test_manual_workflows_allow_everything(action):
    check_allowed(action, source=SourceType.MANUAL, dataset_name="a.b")


@pytest.mark.parametrize("action", [Action.PAUSE, Action.UNPAUSE, Action.RUN])
def test_code_workflows_allow_pause_unpause_and_run(action):
    check_allowed(action, source=SourceType.CODE, dataset_name="a.b")
