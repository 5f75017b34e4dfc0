"""The message classes are built on first use: the bus names them, the package resolves every name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import dli
from dli.domain.usecases import messages
from dli.domain.usecases.bus import HANDLERS, RESULTS

MESSAGE_NAMES = sorted(set(messages.__all__) - {"MAX_DEPENDENCY_DEPTH", "Message", "SCHEMA"})


def test_the_bus_names_every_message_and_nothing_else():
    assert set(HANDLERS) == set(RESULTS) == set(MESSAGE_NAMES)


@pytest.mark.parametrize("name", MESSAGE_NAMES)
def test_every_message_named_resolves_to_its_class(name):
    cls = getattr(messages, name)
    assert cls.__name__ == name
    assert issubclass(cls, messages.Message)
    assert name in dir(messages)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NoSuchMessage"):
        messages.NoSuchMessage  # noqa: B018
    with pytest.raises(ImportError):
        from dli.domain.usecases.messages import NoSuchMessage  # noqa: F401


def _loaded_after(code: str) -> set[str]:
    """The message submodules a fresh interpreter has imported after running ``code``."""
    src = str(Path(dli.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    probe = code + "\nimport sys\nprint(' '.join(m for m in sys.modules if m.startswith('dli.domain.usecases.messages.')))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_importing_the_package_and_the_bus_builds_no_message_class():
    assert _loaded_after("import dli.domain.usecases.messages, dli.domain.usecases.bus") == set()


def test_a_listing_builds_only_its_own_message_class():
    code = (
        "from dli.domain.usecases.messages import ListWorkflows\nimport dli.domain.usecases.listing\n"
        "ListWorkflows(limit=5)"
    )
    assert _loaded_after(code) == {"dli.domain.usecases.messages._listing"}
