"""Dataset names: the key of a workflow everywhere (store key, dag_id, URL path)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.rules import Matching

__all__ = ["DATASET_NAME", "DATASET_NAME_PATTERN", "MAX_NAME_LENGTH", "closest_name", "validate_dataset_name"]

# Airflow caps dag_id at 250 characters; the store key adds a prefix, S3 allows 1024 bytes.
MAX_NAME_LENGTH = 250

# Dot-separated lowercase identifiers. No '/', '..', spaces or leading dots: nothing that could
# escape a key prefix, a file path or a URL segment, and always a valid Airflow dag_id.
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
DATASET_NAME = Matching(
    pattern=_NAME.pattern,
    max_length=MAX_NAME_LENGTH,
    what="a dataset name",
    description="Dot-separated lowercase identifiers, e.g. 'iceberg.analytics.daily_clicks'.",
)
"""The rule: ``validate_dataset_name`` enforces it, the API document shows it."""
DATASET_NAME_PATTERN: str = DATASET_NAME.keywords()["pattern"]
"""The rule as a JSON Schema ``pattern``."""


def validate_dataset_name(name: object) -> str:
    """Return ``name`` if it is a valid dataset name, else raise SpecInvalidError (DLI-203)."""
    if not isinstance(name, str) or not name:
        raise SpecInvalidError(
            "Dataset name must be a non-empty string",
            hints=("Use dot-separated lowercase identifiers, e.g. 'iceberg.analytics.daily_clicks'.",),
        )
    if DATASET_NAME.problem(name) is not None:
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise SpecInvalidError(
            f"Invalid dataset name: {shown!r}",
            hints=(
                "Use dot-separated lowercase identifiers (letters, digits, '_'), each starting with a letter,",
                f"e.g. 'iceberg.analytics.daily_clicks'; at most {MAX_NAME_LENGTH} characters.",
            ),
            details={"dataset_name": shown},
        )
    return name


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` most likely misspells, or ``None`` when none is close.

    The cutoff is high: dataset names share long prefixes (``iceberg.analytics.``), and a
    suggestion of an unrelated dataset of the same schema would mislead more than it helps.
    """
    matches = difflib.get_close_matches(name, sorted(set(known) - {name}), n=1, cutoff=0.8)
    return matches[0] if matches else None
