"""What a CLI start must not import: start-up time is a requirement (issue 16, no slower than the
previous release), and each attrs class or module a command does not need costs every start."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dli

# Neither ``dli --help`` nor ``dli workflow list --mode mock`` uses them.
NOT_FOR_A_LISTING = {
    "dli.domain.model.workflow_runs",  # runs, their status, logs and history
    "dli.adapters.local_project",  # a listing never reads the project on disk
    "dli.domain.model.override",
    "dli.ports.change_feed",  # the server's override check reads it, a listing does not
}
NOT_FOR_HELP = {"dli.entrypoints.cli.session", "dli.entrypoints.context"}

_PROBE = """
import contextlib, io, sys
from dli.entrypoints.cli.app import invoke
with contextlib.redirect_stdout(io.StringIO()):
    status = invoke(sys.argv[1:])
print(status, ' '.join(m for m in sys.modules if m.startswith('dli')))
"""


def _loaded_by(*argv: str) -> set[str]:
    """The dli modules a fresh interpreter has imported after running ``dli argv``."""
    src = str(Path(dli.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    env.update(DLI_CONFIG=os.devnull, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], env=env, capture_output=True, text=True, check=True)
    status, _, modules = done.stdout.strip().partition(" ")
    assert status == "0", done.stderr
    return set(modules.split())


def test_a_mock_listing_imports_only_what_it_uses():
    loaded = _loaded_by("workflow", "list", "--mode", "mock")
    assert "dli.domain.usecases.listing" in loaded  # the probe did list
    assert loaded & NOT_FOR_A_LISTING == set()


def test_help_opens_no_session():
    loaded = _loaded_by("--help")
    assert loaded & (NOT_FOR_A_LISTING | NOT_FOR_HELP) == set()


def test_what_the_package_loads_on_first_use_is_exported():
    module = importlib.import_module("dli")
    for export in set(module.__all__) - {"__version__"}:
        assert getattr(module, export).__name__ == export
        assert export in dir(module)
    with pytest.raises(AttributeError, match="NoSuchName"):
        module.NoSuchName  # noqa: B018
