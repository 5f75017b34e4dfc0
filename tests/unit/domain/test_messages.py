"""A message class is the one registration point of an operation: its result type, its handler, its
route; the command line imports only the use-case module of the operation it runs."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import dli
from dli.domain.usecases.message import Message, handler_of, handles, message_types, result_type

KINDS = message_types()


def test_every_use_case_module_defines_the_twenty_operations():
    assert len(KINDS) == len({k.__name__ for k in KINDS}) == 20


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_every_message_names_its_result_class_and_has_a_handler_taking_the_message(kind):
    assert isinstance(result_type(kind), type)
    handler = handler_of(kind)
    assert next(iter(inspect.signature(handler).parameters)) == "message"
    assert handler.__module__ == kind.__module__  # defined together: importing the class registers it


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_every_message_is_frozen_and_carries_its_actor(kind):
    assert attrs.has(kind) and "actor" in attrs.fields_dict(kind)
    assert kind.__attrs_attrs__ is not None and kind.__setattr__ is not object.__setattr__


def test_a_second_handler_for_a_message_is_refused():
    kind = KINDS[0]
    with pytest.raises(TypeError, match="already has a handler"):
        handles(kind)(lambda message: None)
    assert handler_of(kind) is not None


def test_a_message_without_a_handler_is_a_type_error():
    @attrs.frozen(kw_only=True, repr=False)
    class Orphan(Message[int]):
        pass

    with pytest.raises(TypeError, match="No handler for Orphan"):
        handler_of(Orphan)


def test_a_message_that_names_no_result_type_is_a_type_error():
    @attrs.frozen(kw_only=True, repr=False)
    class Untyped(Message):  # type: ignore[type-arg]
        pass

    with pytest.raises(TypeError, match="does not name its result type"):
        result_type(Untyped)


def _loaded_after(code: str) -> set[str]:
    """The use-case modules a fresh interpreter has imported after running ``code``."""
    src = str(Path(dli.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    probe = code + "\nimport sys\nprint(' '.join(m for m in sys.modules if m.startswith('dli.domain.usecases.')))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_a_listing_imports_only_the_listing_module_of_the_use_cases():
    code = "from dli.domain.usecases.listing import ListWorkflows\nListWorkflows(limit=5)"
    assert _loaded_after(code) == {
        "dli.domain.usecases.listing",
        "dli.domain.usecases.message",
        "dli.domain.usecases._workflows",
    }
