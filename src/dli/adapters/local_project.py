"""Local project discovery: ``dli.yaml`` at the root, ``dataset.<name>.yaml`` anywhere below.

A spec is read whole: its ``query_file`` inlined, the project's defaults filled in, every field
checked, and every statement parsed as the Jinja template Airflow will render (DLI-203 otherwise).

``dli.yaml`` may say where the specs are and what each one gets by default::

    discovery:
      datasets_dir: datasets                            # default: the whole project
      dataset_patterns: ["dataset.*.yaml", "dataset.yaml"]  # default: dataset.*.yaml, dataset.*.yml
    defaults:                                           # copied into each spec's execution block
      dialect: trino                                    # for the keys the spec does not set
      timeout_seconds: 3600
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from dli.domain.model.errors import DLIError, SpecInvalidError
from dli.domain.model.spec import DatasetSpec, check_execution

__all__ = [
    "DEFAULT_PATTERNS",
    "MAX_QUERY_FILE_BYTES",
    "FilesystemProject",
    "ProjectLayout",
    "read_project_config",
    "read_project_layout",
]

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", "target", "build", "dist"}
DEFAULT_PATTERNS = ("dataset.*.yaml", "dataset.*.yml")
"""File names of dataset specs when ``dli.yaml`` does not say (``discovery.dataset_patterns``)."""
MAX_QUERY_FILE_BYTES = 1024 * 1024
"""Largest ``query_file`` read (its SQL goes into the stored document, which is bounded too)."""
# A file named dataset.<name>.yaml carries its dataset's name; any other (dataset.yaml) holds it inside.
_NAMED_FILE = re.compile(r"dataset\.(.+)\.ya?ml")
_DISCOVERY_KEYS = ("datasets_dir", "dataset_patterns")


def read_project_config(root: Path) -> dict[str, Any]:
    """The project's ``dli.yaml`` as a mapping (empty when there is none)."""
    from dli.adapters.codecs.yaml_documents import load_yaml

    path = root / "dli.yaml"
    if not path.is_file():
        return {}
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecInvalidError(f"{path}: cannot read: {exc.strerror}") from None
    data = load_yaml(raw, where=str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecInvalidError(f"{path}: expected a mapping at the top level")
    return data


@attrs.frozen(kw_only=True)
class ProjectLayout:
    """Where a project's dataset specs are and what every spec gets by default (from ``dli.yaml``)."""

    datasets_dir: Path
    """The folder searched, recursively, for spec files."""
    dataset_patterns: tuple[str, ...] = DEFAULT_PATTERNS
    """Glob patterns of spec file names (``fnmatch``, matched against the file name only)."""
    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    """Execution settings copied into each spec's ``execution`` block where the spec does not set them."""


def _config_error(path: Path, field: str, problem: str, hint: str) -> SpecInvalidError:
    return SpecInvalidError(f"{path}: {field}: {problem}", hints=(hint,))


def _datasets_dir(root: Path, config_path: Path, value: object) -> Path:
    hint = "Name a folder of the project, relative to dli.yaml, e.g. 'datasets'."
    if not isinstance(value, str) or not value.strip():
        raise _config_error(config_path, "discovery.datasets_dir", f"expected a folder name, got {value!r}", hint)
    relative = PurePosixPath(value)
    folder = root / relative
    resolved = folder.resolve()
    if relative.is_absolute() or ".." in relative.parts or root.resolve() not in (resolved, *resolved.parents):
        raise _config_error(config_path, "discovery.datasets_dir", f"{value!r} is not inside the project", hint)
    if not folder.is_dir():
        raise _config_error(config_path, "discovery.datasets_dir", f"{value!r} is not a folder of the project", hint)
    return folder


def _patterns(config_path: Path, value: object) -> tuple[str, ...]:
    hint = "A list of file-name patterns ending in .yaml or .yml, e.g. ['dataset.*.yaml', 'dataset.yaml']."
    if not isinstance(value, list) or not value:
        raise _config_error(config_path, "discovery.dataset_patterns", f"expected a non-empty list, got {value!r}", hint)
    for index, pattern in enumerate(value):
        if (
            not isinstance(pattern, str)
            or "/" in pattern
            or os.sep in pattern
            or not pattern.endswith((".yaml", ".yml"))
        ):
            raise _config_error(config_path, f"discovery.dataset_patterns[{index}]", f"invalid pattern {pattern!r}", hint)
    return tuple(value)


def read_project_layout(root: Path) -> ProjectLayout:
    """The project's layout from ``dli.yaml`` (``discovery:``, ``defaults:``), checked.

    Raises:
        SpecInvalidError: ``dli.yaml`` is invalid, naming the field (DLI-203).
    """
    config = read_project_config(root)
    config_path = root / "dli.yaml"
    discovery = config.get("discovery") or {}
    if not isinstance(discovery, Mapping):
        raise _config_error(config_path, "discovery", f"expected a mapping, got {discovery!r}",
                            "Write discovery: {datasets_dir: <folder>, dataset_patterns: [<pattern>, ...]}.")
    unknown = sorted(str(k) for k in discovery if k not in _DISCOVERY_KEYS)
    if unknown:
        raise _config_error(config_path, "discovery", f"unknown field(s) {', '.join(unknown)}",
                            f"Known fields here: {', '.join(_DISCOVERY_KEYS)}.")
    datasets_dir = root
    if discovery.get("datasets_dir") is not None:
        datasets_dir = _datasets_dir(root, config_path, discovery["datasets_dir"])
    patterns = DEFAULT_PATTERNS
    if discovery.get("dataset_patterns") is not None:
        patterns = _patterns(config_path, discovery["dataset_patterns"])
    defaults = config.get("defaults") or {}
    try:
        check_execution(defaults, field="defaults")
    except SpecInvalidError as exc:
        raise SpecInvalidError(f"{config_path}: {exc.message}", hints=exc.hints or (
            "defaults holds execution settings: dialect, conn_id, timeout_seconds, retry_count, retry_delay_seconds.",
        )) from None
    return ProjectLayout(datasets_dir=datasets_dir, dataset_patterns=patterns, defaults=dict(defaults))


def _name_in_file_name(path: Path) -> str | None:
    match = _NAMED_FILE.fullmatch(path.name)
    return match.group(1) if match else None


@attrs.frozen
class _Scan:
    layout: ProjectLayout
    named: Mapping[str, tuple[Path, ...]]
    """Files named ``dataset.<name>.yaml``, by that name."""
    unnamed: tuple[Path, ...]
    """Files whose dataset name is inside (``dataset.yaml``)."""


class FilesystemProject:
    """The LocalSpecs port over a project directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._index: _Scan | None = None

    def _scan(self) -> _Scan:
        if self._index is None:
            named: dict[str, list[Path]] = {}
            unnamed: list[Path] = []
            layout = ProjectLayout(datasets_dir=self.root)
            if self.root.is_dir():
                layout = read_project_layout(self.root)
                for dirpath, dirnames, filenames in os.walk(layout.datasets_dir):
                    dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
                    for filename in sorted(filenames):
                        if not any(fnmatch.fnmatchcase(filename, pattern) for pattern in layout.dataset_patterns):
                            continue
                        path = Path(dirpath) / filename
                        name = _name_in_file_name(path)
                        if name is None:
                            unnamed.append(path)
                        else:
                            named.setdefault(name, []).append(path)
            self._index = _Scan(
                layout=layout, named={k: tuple(v) for k, v in named.items()}, unnamed=tuple(unnamed)
            )
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
        defaults = self._scan().layout.defaults
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
                f"{spec_path}: query_file {query_file!r} ({target}) is larger than "
                f"{MAX_QUERY_FILE_BYTES // 1024} KiB",
                hints=("Keep one statement per dataset; load data with a pre_statement, not inline SQL.",),
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecInvalidError(
                f"{spec_path}: query_file {query_file!r} ({target}) is not UTF-8 text "
                f"(byte {exc.start}: {exc.reason})",
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
