"""The project's ``dli.yaml``, read once where it enters: what dli workflow uses of it, checked.

``dli.yaml`` is shared by the whole dli toolchain (metrics, quality rules, environments, server
settings ...); dli workflow reads only::

    discovery:
      datasets_dir: datasets                            # default: the whole project
      dataset_patterns: ["dataset.*.yaml", "dataset.yaml"]  # default: dataset.*.yaml, dataset.*.yml
    defaults:                                           # copied into each spec's execution block
      dialect: trino                                    # for the keys the spec does not set
      timeout_seconds: 3600
    server:
      url: http://localhost:8081                        # the CLI's Basecamp URL (a token is ignored)

Those keys are checked for their type (DLI-203 naming the key; ``server`` DLI-001, as the CLI's
configuration). Every other key, at any level, belongs to another tool and is ignored; one that
looks like a misspelling of a key dli reads gets a warning naming that key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from dli.domain.model.errors import ConfigurationError, SpecInvalidError, describe
from dli.domain.model.near_misses import near_miss_warnings
from dli.domain.model.spec import EXECUTION_KEYS, check_execution

__all__ = ["DEFAULT_PATTERNS", "PROJECT_FILE", "ProjectConfig", "read_project_config"]

PROJECT_FILE = "dli.yaml"
DEFAULT_PATTERNS = ("dataset.*.yaml", "dataset.*.yml")
"""File names of dataset specs when ``dli.yaml`` does not say (``discovery.dataset_patterns``)."""
# The keys dli reads, per section; a section's other keys belong to other tools.
_PROJECT_KEYS = ("discovery", "defaults")
_DISCOVERY_KEYS = ("datasets_dir", "dataset_patterns")
_SERVER_KEYS = ("url", "token")


@attrs.frozen(kw_only=True)
class ProjectConfig:
    """What dli workflow takes from a project's ``dli.yaml`` (the defaults when there is none)."""

    root: Path
    """The project folder (holding ``dli.yaml``)."""
    datasets_dir: Path
    """The folder searched, recursively, for spec files."""
    dataset_patterns: tuple[str, ...] = DEFAULT_PATTERNS
    """Glob patterns of spec file names (``fnmatch``, matched against the file name only)."""
    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    """Execution settings copied into each spec's ``execution`` block where the spec does not set them."""
    server_url: str | None = None
    """``server.url``: the Basecamp server the CLI talks to."""
    warnings: tuple[str, ...] = ()
    """Keys of ``discovery``, ``defaults`` (and the top level) that look like misspellings of keys dli reads."""
    server_warnings: tuple[str, ...] = ()
    """The same for ``server``, and a committed token that is ignored: told by the CLI's settings,
    which read that section, while ``warnings`` are told by the commands that read the specs."""


def _error(path: Path, field: str, problem: str, hint: str) -> SpecInvalidError:
    return SpecInvalidError(f"{path}: {field}: {problem}", hints=(hint,))


def _section(data: Mapping[str, Any], key: str, path: Path, hint: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:  # 'discovery:' with nothing under it, as leaving it out
        return {}
    if not isinstance(value, Mapping):
        if key == "server":
            raise ConfigurationError(f"{path}: 'server' must be a mapping", hints=(hint,))
        raise _error(path, key, f"expected a mapping, got {describe(value)}", hint)
    return value


def _datasets_dir(root: Path, path: Path, value: object) -> Path:
    hint = "Name a folder of the project, relative to dli.yaml, e.g. 'datasets'."
    if not isinstance(value, str) or not value.strip():
        raise _error(path, "discovery.datasets_dir", f"expected a folder name, got {value!r}", hint)
    relative = PurePosixPath(value)
    folder = root / relative
    resolved = folder.resolve()
    if relative.is_absolute() or ".." in relative.parts or root.resolve() not in (resolved, *resolved.parents):
        raise _error(path, "discovery.datasets_dir", f"{value!r} is not inside the project", hint)
    if not folder.is_dir():
        raise _error(path, "discovery.datasets_dir", f"{value!r} is not a folder of the project", hint)
    return folder


def _patterns(path: Path, value: object) -> tuple[str, ...]:
    hint = "A list of file-name patterns ending in .yaml or .yml, e.g. ['dataset.*.yaml', 'dataset.yaml']."
    if not isinstance(value, list) or not value:
        raise _error(path, "discovery.dataset_patterns", f"expected a non-empty list, got {value!r}", hint)
    for index, pattern in enumerate(value):
        if (
            not isinstance(pattern, str)
            or "/" in pattern
            or os.sep in pattern
            or not pattern.endswith((".yaml", ".yml"))
        ):
            raise _error(path, f"discovery.dataset_patterns[{index}]", f"invalid pattern {pattern!r}", hint)
    return tuple(value)


def _load(path: Path) -> Mapping[str, Any]:
    from dli.adapters.codecs.yaml_documents import load_yaml

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecInvalidError(f"{path}: cannot read: {exc.strerror}") from None
    data = load_yaml(raw, where=str(path))
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise SpecInvalidError(f"{path}: expected a mapping at the top level, got {describe(data)}")
    return data


def read_project_config(root: Path) -> ProjectConfig:
    """The project's ``dli.yaml`` (defaults when there is none), the keys dli reads checked.

    Raises:
        SpecInvalidError: A key dli reads has the wrong type or value, naming it (DLI-203).
        ConfigurationError: ``server`` is not a mapping or ``server.url`` not text (DLI-001).
    """
    path = root / PROJECT_FILE
    if not path.is_file():
        return ProjectConfig(root=root, datasets_dir=root)
    data = _load(path)
    where = str(path)
    warnings = list(near_miss_warnings(data, _PROJECT_KEYS, where=where))

    discovery = _section(
        data, "discovery", path, "Write discovery: {datasets_dir: <folder>, dataset_patterns: [<pattern>, ...]}."
    )
    warnings += near_miss_warnings(discovery, _DISCOVERY_KEYS, where=f"{where}: discovery")
    datasets_dir = root
    if discovery.get("datasets_dir") is not None:
        datasets_dir = _datasets_dir(root, path, discovery["datasets_dir"])
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    if discovery.get("dataset_patterns") is not None:
        patterns = _patterns(path, discovery["dataset_patterns"])

    defaults_hint = "defaults holds execution settings: " + ", ".join(sorted(EXECUTION_KEYS)) + "."
    defaults = _section(data, "defaults", path, defaults_hint)
    try:
        check_execution(defaults, field="defaults")
    except SpecInvalidError as exc:
        raise SpecInvalidError(f"{path}: {exc.message}", hints=exc.hints or (defaults_hint,)) from None
    warnings += near_miss_warnings(defaults, EXECUTION_KEYS, where=f"{where}: defaults")

    server = _section(data, "server", path, "Write server: {url: http://basecamp:8081}.")
    server_warnings = [
        *near_miss_warnings(data, ("server",), where=where),
        *near_miss_warnings(server, _SERVER_KEYS, where=f"{where}: server"),
    ]
    url = server.get("url")
    if url is not None and (not isinstance(url, str) or not url.strip()):
        raise ConfigurationError(f"{path} [server]: 'url' must be a non-empty string")
    if server.get("token") is not None:
        server_warnings.append(
            f"{path}: 'server.token' is ignored: a project file is shared through Git. "
            "Set DLI_API_TOKEN or put the token in your user config file."
        )
    return ProjectConfig(
        root=root,
        datasets_dir=datasets_dir,
        dataset_patterns=patterns,
        # Only the settings dli runs with: other keys belong to other tools.
        defaults={k: v for k, v in defaults.items() if k in EXECUTION_KEYS},
        server_url=url.strip() if isinstance(url, str) else None,
        warnings=tuple(warnings),
        server_warnings=tuple(server_warnings),
    )
