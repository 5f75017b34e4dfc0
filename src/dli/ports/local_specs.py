"""Local project port: the dataset specs of the user's project on disk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dli.domain.model.spec import DatasetSpec

__all__ = ["LocalSpecs"]


class LocalSpecs(Protocol):
    """Finds dataset specs in a project (``dli.yaml`` at the root, ``dataset.<name>.yaml`` below)."""

    def find(self, name: str) -> DatasetSpec | None:
        """The spec of dataset ``name``, its ``query_file`` already read into ``query_statement``.

        Raises:
            SpecInvalidError: The spec file exists but is invalid, or two files define the dataset.
            InvalidCronError: The spec's only problem is its cron expression or timezone (DLI-805).
        """
        ...

    def all(self) -> Sequence[DatasetSpec]:
        """Every spec of the project, sorted by name.

        Raises:
            SpecInvalidError: Some spec file is invalid (the message names each one).
        """
        ...

    def location(self, name: str) -> str | None:
        """The file a spec read so far came from (for messages naming it); ``None`` when not known."""
        ...

    def warnings(self) -> tuple[str, ...]:
        """What reading the project so far found worth telling (each once): keys of ``dli.yaml``
        and fields of the specs read that look like misspellings of ones dli uses (they are ignored
        or kept as unknown fields, never refused)."""
        ...
