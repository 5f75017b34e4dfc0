"""Local project discovery: ``dli.yaml`` at the root, ``dataset.<name>.yaml`` anywhere below."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from dli.domain.model.errors import DLIError, SpecInvalidError
from dli.domain.model.spec import DatasetSpec

__all__ = ["FilesystemProject", "read_project_config"]

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", "target", "build", "dist"}
_SUFFIXES = (".yaml", ".yml")


def read_project_config(root: Path) -> dict[str, Any]:
    """The project's ``dli.yaml`` as a mapping (empty when there is none)."""
    from dli.adapters.codecs.specs import load_yaml

    path = root / "dli.yaml"
    if not path.is_file():
        return {}
    data = load_yaml(path.read_bytes(), where=str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecInvalidError(f"{path}: expected a mapping at the top level")
    return data


class FilesystemProject:
    """The LocalSpecs port over a project directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._index: dict[str, Path] | None = None

    def _scan(self) -> dict[str, Path]:
        if self._index is None:
            index: dict[str, Path] = {}
            if self.root.is_dir():
                for dirpath, dirnames, filenames in os.walk(self.root):
                    dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
                    for filename in sorted(filenames):
                        if filename.startswith("dataset.") and filename.endswith(_SUFFIXES):
                            stem = filename[len("dataset.") :].rsplit(".", 1)[0]
                            index.setdefault(stem, Path(dirpath) / filename)
            self._index = index
        return self._index

    def find(self, name: str) -> DatasetSpec | None:
        path = self._scan().get(name)
        if path is None:
            # The project may have gained files since the last scan (a long-lived API object).
            self._index = None
            path = self._scan().get(name)
        if path is None:
            # The YAML's own 'name' is authoritative: look inside files whose name differs.
            for spec in self._load_all(strict=False):
                if spec.name == name:
                    return spec
            return None
        return self._load(path)

    def all(self) -> Sequence[DatasetSpec]:
        return self._load_all(strict=True)

    def _load_all(self, *, strict: bool) -> list[DatasetSpec]:
        specs: dict[str, DatasetSpec] = {}
        errors: list[str] = []
        for path in self._scan().values():
            try:
                spec = self._load(path)
            except DLIError as exc:
                errors.append(exc.message)
                continue
            if spec.name in specs:
                errors.append(f"{path}: dataset '{spec.name}' is defined twice")
            specs[spec.name] = spec
        if errors and strict:
            raise SpecInvalidError(
                f"{len(errors)} invalid dataset spec(s) in {self.root}", hints=tuple(errors), details={"errors": errors}
            )
        return [specs[name] for name in sorted(specs)]

    def _load(self, path: Path) -> DatasetSpec:
        # YAML and cattrs load only when a spec is read: most commands never read one.
        from dli.adapters.codecs.specs import load_yaml, spec_from_dict

        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SpecInvalidError(f"{path}: cannot read: {exc.strerror}") from None
        data = load_yaml(raw, where=str(path))
        if isinstance(data, dict) and "name" not in data:
            data = {"name": path.name[len("dataset.") :].rsplit(".", 1)[0], **data}
        spec = spec_from_dict(data, where=str(path))
        if spec.query_statement is None and spec.query_file is not None:
            spec = attrs.evolve(spec, query_statement=self._read_query(path, spec.query_file))
        return spec

    def _read_query(self, spec_path: Path, query_file: str) -> str:
        target = (spec_path.parent / query_file).resolve()
        root = self.root.resolve()
        if root not in target.parents:
            raise SpecInvalidError(f"{spec_path}: query_file {query_file!r} points outside the project")
        try:
            return target.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecInvalidError(
                f"{spec_path}: cannot read query_file {query_file!r}: {exc.strerror}",
                hints=("query_file is relative to the spec file.",),
            ) from None
