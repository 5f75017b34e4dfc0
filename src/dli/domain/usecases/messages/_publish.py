"""The message of the code path: publish the project's specs."""

from __future__ import annotations

import attrs

from dli.domain.usecases.messages import Message, _flag, _message


@_message
class PublishSpecs(Message):
    """Publish the project's scheduled specs to the store's ``code/`` (what CI/CD runs)."""

    prune: bool = _flag(default=False)
    """Delete code specs whose dataset left the project."""
    dry_run: bool = _flag(default=False)
    """Only plan."""
