"""A slow shard parse the test controls (on the ``PYTHONPATH`` of the DAG processor of
test_parse_race.py only; Python imports ``sitecustomize`` at start-up).

When ``$DLI_TEST_PARSE_GATE/hold`` exists, the parse of the shard file named in
``$DLI_TEST_PARSE_GATE/target`` builds its DAGs from the content it read, writes the names it built
to ``entered``, and waits until the test removes ``hold``: it is the 10 s parse of issue 23, made
deterministic. Every other parse runs as usual.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

_FACTORY = "dli.entrypoints.airflow.dag_factory"


def _gated(module: ModuleType, gate: Path) -> None:
    real = module.load_shard

    def load_shard(namespace: Any, shard_path: str, **kwargs: Any) -> Any:
        dags = real(namespace, shard_path, **kwargs)
        hold, target = gate / "hold", gate / "target"
        if hold.exists() and target.exists() and Path(shard_path).name == target.read_text().strip():
            (gate / "entered").write_text(json.dumps(sorted(dags)))
            deadline = time.monotonic() + 120
            while hold.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return dags

    module.load_shard = load_shard


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, gate: Path) -> None:
        self.gate = gate

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != _FACTORY:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            _gated(module, self.gate)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get("DLI_TEST_PARSE_GATE"):
    sys.meta_path.insert(0, _Finder(Path(os.environ["DLI_TEST_PARSE_GATE"])))
