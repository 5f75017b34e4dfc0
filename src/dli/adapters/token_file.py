"""The Basecamp tokens file: bearer tokens mapped to user names, only their hashes stored.

A token reads ``bc_<id>_<secret>``. The id (not secret) picks the entry, so a lookup costs one hash
whatever the number of users; the secret is compared as ``sha256(salt + secret)`` in constant
time. Secrets are 256-bit random values, so a fast salted hash is enough (slow password hashes are
for low-entropy passwords).

The file is JSON, written atomically with mode 0600, and re-read when it changes, so that a token
added with ``basecamp token add`` works on a running server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from dli.adapters.files import write_atomic
from dli.domain.model.access import AuthMethod, Identity
from dli.domain.model.errors import ConfigurationError

__all__ = ["TokenEntry", "TokenFile", "validate_group", "validate_user"]

_PREFIX = "bc_"
_TOKEN = re.compile(r"bc_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
_VERSION = 1


def validate_user(user: str) -> str:
    """Return ``user`` if it is a sane user name (it is recorded as ``registered_by``), else DLI-001."""
    if not _USER.fullmatch(user):
        raise ConfigurationError(
            f"Invalid user name {user[:100]!r}",
            hints=("Use letters, digits and . _ @ + - (at most 100 characters), e.g. 'alice@example.com'.",),
        )
    return user


def validate_group(group: str) -> str:
    """Return ``group`` if it is a sane group name (the policy names it as ``group:NAME``), else DLI-001."""
    if not _USER.fullmatch(group):
        raise ConfigurationError(
            f"Invalid group name {group[:100]!r}",
            hints=("Use letters, digits and . _ @ + - (at most 100 characters), e.g. 'data-eng'.",),
        )
    return group


def _groups(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise TypeError("groups")
    return tuple(value)


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


@attrs.frozen(kw_only=True)
class TokenEntry:
    """One token as stored: never the token itself."""

    token_id: str
    """Public part of the token, used to find the entry."""
    user: str
    """The user the token authenticates."""
    salt: str = attrs.field(repr=False)
    """Hex salt of the hash."""
    digest: str = attrs.field(repr=False)
    """Hex ``sha256(salt + secret)``."""
    created_at: str
    """ISO-8601 creation time."""
    groups: tuple[str, ...] = ()
    """Groups the user belongs to, for the policy (``group:NAME``); absent in files written before groups."""


class TokenFile:
    """Reads, checks and adds tokens of one file."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._entries: dict[str, TokenEntry] = {}
        # Compared against when the id is unknown, so a miss costs as much as a wrong secret.
        self._decoy = _digest(b"\0" * 16, "decoy")

    def __repr__(self) -> str:
        return f"TokenFile({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """Where the tokens are kept."""
        return self._path

    def add(self, user: str, *, groups: tuple[str, ...] = (), now: dt.datetime | None = None) -> str:
        """Create a token for ``user`` (a member of ``groups``), store its hash, and return the token (shown once)."""
        validate_user(user)
        groups = tuple(sorted({validate_group(g) for g in groups}))
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        entry = TokenEntry(
            token_id=token_id,
            user=user,
            salt=salt.hex(),
            digest=_digest(salt, secret).hex(),
            created_at=(now or dt.datetime.now(dt.UTC)).isoformat(),
            groups=groups,
        )
        with self._lock:
            entries = dict(self._load_locked())
            entries[token_id] = entry
            self._write_locked(entries)
        return f"{_PREFIX}{token_id}_{secret}"

    def revoke(self, user: str) -> int:
        """Delete every token of ``user``; return how many there were."""
        with self._lock:
            entries = dict(self._load_locked())
            kept = {k: e for k, e in entries.items() if e.user != user}
            if len(kept) != len(entries):
                self._write_locked(kept)
            return len(entries) - len(kept)

    def entries(self) -> list[TokenEntry]:
        """Every stored entry (hashes only), by user."""
        with self._lock:
            return sorted(self._load_locked().values(), key=lambda e: (e.user, e.created_at))

    def users(self) -> list[str]:
        """Users that have at least one token, sorted."""
        with self._lock:
            return sorted({e.user for e in self._load_locked().values()})

    def authenticate(self, token: str) -> str | None:
        """The user of ``token``, or ``None`` when it is not a valid token."""
        entry = self.identify(token)
        return entry.user if entry is not None else None

    def identity(self, token: str) -> Identity | None:
        """Who ``token`` authenticates (its user and groups), or ``None`` when it is not a valid token."""
        entry = self.identify(token)
        if entry is None:
            return None
        return Identity(name=entry.user, groups=frozenset(entry.groups), method=AuthMethod.TOKEN)

    def identify(self, token: str) -> TokenEntry | None:
        """The entry (user, groups) of ``token``, or ``None`` when it is not a valid token."""
        match = _TOKEN.fullmatch(token)
        with self._lock:
            entries = self._load_locked()
        entry = entries.get(match.group(1)) if match else None
        secret = match.group(2) if match else token
        if entry is None:
            hmac.compare_digest(self._decoy, _digest(b"\0" * 16, secret))
            return None
        ok = hmac.compare_digest(bytes.fromhex(entry.digest), _digest(bytes.fromhex(entry.salt), secret))
        return entry if ok else None

    # -- file ------------------------------------------------------------------------------------

    def _load_locked(self) -> Mapping[str, TokenEntry]:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            self._stamp, self._entries = None, {}
            return self._entries
        except OSError as exc:
            raise ConfigurationError(f"Cannot read tokens file {self._path}: {exc.strerror}") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            self._entries = self._parse(self._path.read_bytes())
            self._stamp = stamp
        return self._entries

    def _parse(self, raw: bytes) -> dict[str, TokenEntry]:
        try:
            data: Any = json.loads(raw or b'{"tokens": []}')
            tokens = data["tokens"]
            return {
                t["token_id"]: TokenEntry(
                    token_id=str(t["token_id"]),
                    user=str(t["user"]),
                    salt=str(t["salt"]),
                    digest=str(t["digest"]),
                    created_at=str(t.get("created_at", "")),
                    groups=_groups(t.get("groups", [])),
                )
                for t in tokens
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"Tokens file {self._path} is malformed ({type(exc).__name__})",
                hints=("Recreate it with 'basecamp token add USER --tokens-file FILE'.",),
            ) from None

    def _write_locked(self, entries: Mapping[str, TokenEntry]) -> None:
        data = {"version": _VERSION, "tokens": [attrs.asdict(e) for e in entries.values()]}
        write_atomic(self._path, json.dumps(data, indent=2).encode(), mode=0o600)
        self._stamp = None  # re-read on next use
