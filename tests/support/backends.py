"""Backends the control-plane contract runs against, and helpers to write local projects."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import yaml

from dli.adapters.codecs.specs import spec_to_dict
from dli.domain.model.spec import DatasetSpec
from dli.entrypoints.api import WorkflowAPI


def write_spec(project: Path, spec: DatasetSpec, *, subdir: str = "models") -> Path:
    """Write ``spec`` as ``<project>/<subdir>/dataset.<name>.yaml`` (creating ``dli.yaml``)."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "dli.yaml").touch()
    folder = project / subdir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"dataset.{spec.name}.yaml"
    path.write_text(yaml.safe_dump(spec_to_dict(spec), sort_keys=False))
    return path


class Backend(Protocol):
    """What the control-plane contract needs from a backend under test."""

    api: WorkflowAPI
    """The facade, wired to the backend; its project is ``project``."""
    project: Path
    """Local project directory the facade reads specs from."""
    generates_missing_specs: bool
    """MOCK mode registers a generated spec when the project has none."""

    def publish_code(self, spec: DatasetSpec) -> None:
        """Put ``spec`` under code/ as CI/CD would, and make the backend see it."""

    def remove_code(self, name: str) -> None:
        """Delete the code spec, and make the backend see it."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of (real or simulated) time pass."""
