"""The policy file of ``basecamp serve --policy policy.yaml``: read and checked strictly, once, at start-up.

dli owns this format, so it is strict (unlike ``dli.yaml``): an unknown key, a role that does not
exist, a principal that is not a string, an empty principal — each is DLI-001 naming the place,
and the server does not start. A policy that silently granted less (or more) than its author
meant would be worse than none.

```yaml
admins: ["group:platform"]
teams:
  "@data-engineering":
    editors: ["group:de"]
    operators: ["group:de-oncall", "bob"]
    viewers: ["*"]
default: {viewers: ["*"]}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dli.adapters.codecs.yaml_documents import load_yaml
from dli.domain.model.access import ANYONE, GROUP_PREFIX, Policy, TeamRoles
from dli.domain.model.errors import ConfigurationError, DLIError
from dli.domain.model.names import closest_name

__all__ = ["parse_policy", "read_policy"]

_TOP = ("admins", "teams", "default")
_ROLES = ("editors", "operators", "viewers")
_EXAMPLE = "See docs/security.md (the policy) for an example."


def read_policy(path: Path | str) -> Policy:
    """The policy in ``path``; DLI-001 when it cannot be read or is not a valid policy."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read policy file {path}: {exc.strerror}", hints=("Check --policy.",)
        ) from None
    return parse_policy(raw, where=str(path))


def parse_policy(raw: str | bytes, *, where: str) -> Policy:
    """The policy of a YAML document (``where`` names it in errors)."""
    try:
        data = load_yaml(raw, where=where)
    except DLIError as exc:
        raise ConfigurationError(f"Invalid policy file: {exc.message}", hints=exc.hints) from None
    if data is None:
        data = {}
    _mapping(data, where, "the document")
    _known(data, _TOP, where, "the top level")
    admins = _principals(data.get("admins", []), where, "admins")
    teams_data = data.get("teams", {}) or {}
    _mapping(teams_data, where, "teams")
    teams: dict[str, TeamRoles] = {}
    for team, roles in teams_data.items():
        if not isinstance(team, str) or not team.strip():
            raise _error(where, f"team names must be non-empty strings, got {team!r}")
        teams[team] = _team(roles, where, f"teams.{team}")
    default = _team(data.get("default", {}) or {}, where, "default")
    return Policy(admins=admins, teams=teams, default=default)


def _team(data: Any, where: str, at: str) -> TeamRoles:
    _mapping(data, where, at)
    _known(data, _ROLES, where, at)
    return TeamRoles(**{role: _principals(data.get(role, []), where, f"{at}.{role}") for role in _ROLES})


def _principals(data: Any, where: str, at: str) -> frozenset[str]:
    if data is None:
        return frozenset()
    if not isinstance(data, list):
        raise _error(where, f"{at} must be a list of principals, got {type(data).__name__}")
    out = set()
    for item in data:
        if not isinstance(item, str) or not item.strip() or item != item.strip():
            raise _error(where, f"{at}: every principal is a non-empty string without spaces around it, got {item!r}")
        if item.startswith(GROUP_PREFIX) and not item[len(GROUP_PREFIX) :]:
            raise _error(where, f"{at}: 'group:' needs a group name")
        if "*" in item and item != ANYONE:
            raise _error(where, f"{at}: {item!r}: '*' stands alone (anyone authenticated); no wildcards in names")
        out.add(item)
    return frozenset(out)


def _mapping(data: Any, where: str, at: str) -> None:
    if not isinstance(data, dict):
        raise _error(where, f"{at} must be a mapping, got {type(data).__name__}")


def _known(data: dict[Any, Any], allowed: tuple[str, ...], where: str, at: str) -> None:
    for key in data:
        if key not in allowed:
            close = closest_name(str(key), allowed)
            guess = f"; did you mean '{close}'?" if close else f" (allowed: {', '.join(allowed)})"
            raise _error(where, f"unknown key {key!r} in {at}{guess}")


def _error(where: str, problem: str) -> ConfigurationError:
    return ConfigurationError(
        f"Invalid policy file {where}: {problem}",
        hints=(
            "Principals: '*' (anyone authenticated), 'group:NAME', or a user name.",
            _EXAMPLE,
        ),
    )
