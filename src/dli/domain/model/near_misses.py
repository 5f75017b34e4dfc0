"""Keys that look like misspellings of the keys dli uses (a did-you-mean, never a refusal).

``dli.yaml`` and dataset specs are shared with other tools of the dli family: a key dli does not
use belongs to one of them and is ignored. Only a key close to one dli uses is worth a warning:
``dataset_pattern`` for ``dataset_patterns`` is most likely a typo whose setting is being lost.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping

import attrs

from dli.domain.model.spec import EXECUTION_KEYS, DatasetSpec

__all__ = ["SIMILARITY", "SPEC_FIELDS", "closest_key", "near_miss_warnings", "spec_warnings"]

SPEC_FIELDS = frozenset(a.name for a in attrs.fields(DatasetSpec)) - {"extra"}
"""The top-level fields of a dataset spec dli reads; any other is kept as it is (``extra``)."""

SIMILARITY = 0.8
"""How alike (difflib's ratio) a key must be to one dli uses to be taken for its misspelling.

Chosen so that the keys other tools put next to dli's are not flagged: ``metric_patterns`` is
0.71 like ``dataset_patterns``, ``query_type`` 0.7 like ``query_file``; typos score 0.85 and more.
"""


def closest_key(key: str, known: Collection[str]) -> str | None:
    """The key of ``known`` that ``key`` looks like a misspelling of, or ``None`` (``key`` is known,
    or like none of them)."""
    if key in known:
        return None
    by_lower = {k.lower(): k for k in known}
    matches = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=SIMILARITY)
    return by_lower[matches[0]] if matches else None


def near_miss_warnings(keys: Iterable[object], known: Collection[str], *, where: str) -> tuple[str, ...]:
    """One warning per key of ``keys`` that looks like a misspelling of a key of ``known``.

    ``where`` names the mapping for the message (``dli.yaml: discovery``); keys that are not text,
    known keys and keys like none of ``known`` say nothing.
    """
    warnings = []
    for key in keys:
        if not isinstance(key, str):
            continue
        suggestion = closest_key(key, known)
        if suggestion is not None:
            warnings.append(f"{where}: '{key}' is not a key dli uses and is ignored; did you mean '{suggestion}'?")
    return tuple(warnings)


def spec_warnings(data: Mapping[object, object], *, where: str) -> tuple[str, ...]:
    """Warnings for the fields of a dataset spec (top level and ``execution``) that look like
    misspellings of fields dli uses: ``depend_on`` is kept as an unknown field, so the dataset
    silently has no upstream."""
    warnings = near_miss_warnings(data, SPEC_FIELDS, where=where)
    execution = data.get("execution")
    if isinstance(execution, Mapping):
        warnings += near_miss_warnings(execution, EXECUTION_KEYS, where=f"{where}: execution")
    return warnings
