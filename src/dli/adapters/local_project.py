"""Local project discovery: ``dli.yaml`` at the root, ``dataset.<name>.yaml`` anywhere below.

A spec is read whole: its ``query_file`` inlined, the project's defaults filled in, every field
checked, and every statement parsed as the Jinja template Airflow will render (DLI-203 otherwise).
Where the specs are and what each one gets by default come from ``dli.yaml``
(``dli.adapters.project_config``). Fields of a spec dli does not use are kept; one that looks like
a misspelling of a field dli uses is reported in ``warnings()``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from dli.adapters.project_config import PROJECT_FILE, ProjectConfig, read_project_config
from dli.domain.model.errors import DLIError, SpecInvalidError
from dli.domain.model.near_misses import spec_warnings
from dli.domain.model.spec import DatasetSpec

__all__ = ["MAX_QUERY_FILE_BYTES", "FilesystemProject"]

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", "target", "build", "dist"}
MAX_QUERY_FILE_BYTES = 1024 * 1024
"""Largest ``query_file`` read (its SQL goes into the stored document, which is bounded too)."""
# A file named dataset.<name>.yaml carries its dataset's name; any other (dataset.yaml) holds it inside.
_NAMED_FILE = re.compile(r"dataset\.(.+)\.ya?ml")
# Never a dataset spec, whatever the patterns say: the project file, and the specs of the other dli
# tools (metric.<name>.yaml, quality.<name>.yaml) that live in the same projects.
_NOT_SPECS = re.compile(rf"{re.escape(PROJECT_FILE)}|(metric|quality)(\..+)?\.ya?ml")


def _name_in_file_name(path: Path) -> str | None:
    match = _NAMED_FILE.fullmatch(path.name)
    return match.group(1) if match else None


@attrs.frozen
class _Scan:
    config: ProjectConfig
    named: Mapping[str, tuple[Path, ...]]
    """Files named ``dataset.<name>.yaml``, by that name."""
    unnamed: tuple[Path, ...]
    """Files whose dataset name is inside (``dataset.yaml``)."""


class FilesystemProject:
    """The LocalSpecs port over a project directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._index: _Scan | None = None
        self._warnings: dict[str, None] = {}  # in the order found, each once
        self._locations: dict[str, str] = {}

    def warnings(self) -> tuple[str, ...]:
        return tuple(self._warnings)

    def location(self, name: str) -> str | None:
        return self._locations.get(name)

    def _scan(self) -> _Scan:
        if self._index is None:
            named: dict[str, list[Path]] = {}
            unnamed: list[Path] = []
            config = ProjectConfig(root=self.root, datasets_dir=self.root)
            if self.root.is_dir():
                config = read_project_config(self.root)
                self._warnings.update(dict.fromkeys(config.warnings))
                for dirpath, dirnames, filenames in os.walk(config.datasets_dir):
                    dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
                    for filename in sorted(filenames):
                        if _NOT_SPECS.fullmatch(filename) or not any(
                            fnmatch.fnmatchcase(filename, pattern) for pattern in config.dataset_patterns
                        ):
                            continue
                        path = Path(dirpath) / filename
                        name = _name_in_file_name(path)
                        if name is None:
                            unnamed.append(path)
                        else:
                            named.setdefault(name, []).append(path)
            self._index = _Scan(config=config, named={k: tuple(v) for k, v in named.items()}, unnamed=tuple(unnamed))
        return self._index

    def find(self, name: str) -> DatasetSpec | None:
        paths = self._paths_of(name)
        if not paths:
            # The project may have gained files since the last scan (a long-lived API object).
            self._index = None
            paths = self._paths_of(name)
        if not paths:
            # A dataset.<other>.yaml holding 'name: <name>' is refused (name mismatch): say so
            # rather than "not found".
            scan = self._scan()
            paths = [p for paths_ in scan.named.values() for p in paths_ if _declared_name(p) == name]
            return self._load(paths[0]) if paths else None
        if len(paths) > 1:
            raise _defined_twice(name, paths)
        return self._load(paths[0])

    def _paths_of(self, name: str) -> list[Path]:
        scan = self._scan()
        return [*scan.named.get(name, ()), *(p for p in scan.unnamed if _declared_name(p) == name)]

    def all(self) -> Sequence[DatasetSpec]:
        scan = self._scan()
        files = sorted({p for paths in scan.named.values() for p in paths} | set(scan.unnamed))
        specs: dict[str, DatasetSpec] = {}
        where: dict[str, list[Path]] = {}
        errors: list[str] = []
        for path in files:
            try:
                spec = self._load(path)
            except DLIError as exc:
                errors.append(exc.message)
                continue
            specs.setdefault(spec.name, spec)
            where.setdefault(spec.name, []).append(path)
        errors += [_defined_twice(name, paths).message for name, paths in sorted(where.items()) if len(paths) > 1]
        if errors:
            raise SpecInvalidError(
                f"{len(errors)} invalid dataset spec(s) in {self.root}", hints=tuple(errors), details={"errors": errors}
            )
        return [specs[name] for name in sorted(specs)]

    def _load(self, path: Path) -> DatasetSpec:
        # YAML and cattrs load only when a spec is read: most commands never read one.
        from dli.adapters.codecs.specs import spec_from_dict
        from dli.adapters.codecs.sql_templates import check_templates
        from dli.adapters.codecs.yaml_documents import load_yaml

        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SpecInvalidError(f"{path}: cannot read: {exc.strerror}") from None
        data = load_yaml(raw, where=str(path))
        file_name = _name_in_file_name(path)
        if isinstance(data, dict):
            if file_name is not None and "name" not in data:
                data = {"name": file_name, **data}
            elif file_name is not None and data["name"] != file_name:
                raise SpecInvalidError(
                    f"{path}: the file name says dataset '{file_name}' but its 'name' is {data['name']!r}",
                    hints=(
                        f"Rename the file to dataset.{data['name']}.yaml, or set 'name: {file_name}' "
                        "(or leave 'name' out: the file name gives it).",
                    ),
                )
            data = self._with_defaults(data)
        spec = spec_from_dict(data, where=str(path))
        self._locations.setdefault(spec.name, str(path))
        self._warnings.update(dict.fromkeys(spec_warnings(data, where=str(path))))
        query_label = None
        if spec.query_statement is None and spec.query_file is not None:
            spec = attrs.evolve(spec, query_statement=self._read_query(path, spec.query_file))
            query_label = f"query_file {spec.query_file}"
        # Register and publish both read specs here: a statement Airflow could not render is
        # refused now rather than failing every run.
        check_templates(spec, where=str(path), query_label=query_label)
        return spec

    def _with_defaults(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with the project's defaults in ``execution`` for the keys it does not set.

        The stored spec then holds every setting it runs with, whatever project it came from.
        """
        defaults = self._scan().config.defaults
        execution = data.get("execution")
        if not defaults or not (execution is None or isinstance(execution, Mapping)):
            return data  # a malformed execution block is reported as it is
        return {**data, "execution": {**defaults, **(execution or {})}}

    def _read_query(self, spec_path: Path, query_file: str) -> str:
        target = (spec_path.parent / query_file).resolve()
        root = self.root.resolve()
        if root not in target.parents:
            raise SpecInvalidError(f"{spec_path}: query_file {query_file!r} points outside the project")
        hint = "query_file is relative to the spec file."
        try:
            with target.open("rb") as handle:
                raw = handle.read(MAX_QUERY_FILE_BYTES + 1)
        except OSError as exc:
            raise SpecInvalidError(
                f"{spec_path}: cannot read query_file {query_file!r}: {exc.strerror}", hints=(hint,)
            ) from None
        if len(raw) > MAX_QUERY_FILE_BYTES:
            raise SpecInvalidError(
                f"{spec_path}: query_file {query_file!r} ({target}) is larger than {MAX_QUERY_FILE_BYTES // 1024} KiB",
                hints=("Keep one statement per dataset; load data with a pre_statement, not inline SQL.",),
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecInvalidError(
                f"{spec_path}: query_file {query_file!r} ({target}) is not UTF-8 text (byte {exc.start}: {exc.reason})",
                hints=("Save the SQL file as UTF-8.",),
            ) from None


def _declared_name(path: Path) -> str | None:
    """The ``name`` a spec file declares, or None (no name, or a file that cannot be read: loading
    it reports why)."""
    from dli.adapters.codecs.yaml_documents import load_yaml

    try:
        data = load_yaml(path.read_bytes(), where=str(path))
    except (OSError, DLIError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def _defined_twice(name: str, paths: Sequence[Path]) -> SpecInvalidError:
    return SpecInvalidError(
        f"dataset '{name}' is defined in {len(paths)} files: {', '.join(str(p) for p in paths)}",
        hints=("Keep one spec file per dataset: remove or rename the others.",),
        details={"dataset_name": name, "paths": [str(p) for p in paths]},
    )
