"""Options shared by several commands, and the parsing of ``-p key=value``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from cyclopts import Parameter

from dli.domain.model.errors import ParameterInvalidError

__all__ = [
    "DatasetArg",
    "Format",
    "FormatOption",
    "Params",
    "ProjectPathOption",
    "RunIdArg",
    "SourceFilter",
    "StoreUrlOption",
    "parse_params",
]

OutputFormat = Literal["table", "json"]

Format = Annotated[OutputFormat, Parameter(name=["--format", "-f"], help="Output format.")]
"""``--format/-f table|json``."""

FormatOption = Annotated[OutputFormat, Parameter(name="--format", help="Output format.")]
"""``--format table|json`` where ``-f`` means something else (``register --force``)."""

DatasetArg = Annotated[str, Parameter(help="Dataset name, e.g. iceberg.analytics.daily_clicks.")]
RunIdArg = Annotated[str, Parameter(help="Run id (DATASET@RUN), as printed by run, backfill and history.")]

StoreUrlOption = Annotated[
    str,
    Parameter(
        help="Spec store URL: file:///absolute/path or s3://bucket/prefix (credentials from the "
        "AWS environment, never in the URL)."
    ),
]
"""``--store URL`` of the commands that read the project and write a store (``publish``, ``plan``)."""

ProjectPathOption = Annotated[
    Path | None,
    Parameter(metavar="DIR", help=r"Project root. \[default: the global --path, or the current directory]"),
]
"""``--path DIR``: the project root, defaulting to the global ``--path``."""

Params = Annotated[
    tuple[str, ...],
    Parameter(
        name=["--param", "-p"],
        negative="",
        consume_multiple=False,
        show_default=False,
        help="Run parameter as key=value; repeat for several.",
    ),
]

SourceFilter = Literal["all", "code", "manual"]

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_params(values: Sequence[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``; the spec's types are applied by the domain.

    Raises:
        ParameterInvalidError: An item without ``=``, a key that is not an identifier, or a key
            given twice (DLI-204).
    """
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise ParameterInvalidError(
                f"Malformed parameter {item!r}",
                hints=("Use -p key=value, e.g. -p execution_date=2025-01-01 (keys are identifiers).",),
            )
        if key in out:
            raise ParameterInvalidError(f"Parameter '{key}' given twice", hints=("Give each -p key once.",))
        out[key] = value
    return out
